package push_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/push"
)

func TestDecodeValid(t *testing.T) {
	p, err := push.Decode([]byte(`{"v":1,"id":"order-1234-shipped","userId":"u-42",
		"title":"Your order shipped","body":"Arriving Tuesday","data":{"orderId":"1234"},
		"ttlSeconds":86400,"collapseKey":"order-1234","priority":"high","dueAt":"2026-12-01T09:00:00Z"}`))
	require.NoError(t, err)
	ttl := 86400
	assert.Equal(t, push.Push{
		V: 1, ID: "order-1234-shipped", UserID: "u-42", Title: "Your order shipped",
		Body: "Arriving Tuesday", Data: map[string]string{"orderId": "1234"}, TTLSeconds: &ttl,
		CollapseKey: "order-1234", Priority: "high", DueAt: "2026-12-01T09:00:00Z",
	}, p)
	due, ok := p.DueTime()
	assert.True(t, ok)
	assert.Equal(t, "2026-12-01T09:00:00Z", due.UTC().Format("2006-01-02T15:04:05Z07:00"))
}

func TestDecodeMinimal(t *testing.T) {
	p, err := push.Decode([]byte(`{"endpointArn":"arn:aws:sns:eu-west-1:1:endpoint/GCM/app/1","body":"hi"}`))
	require.NoError(t, err)
	assert.Nil(t, p.TTLSeconds, "absent ttlSeconds stays distinguishable from 0")
	assert.Equal(t, "hi", p.Body)
}

func TestDecodeInvalid(t *testing.T) {
	long := strings.Repeat("x", push.MaxIDLen+1)
	cases := []struct {
		name, body, field, reason string
	}{
		{"malformed JSON", `{"userId":"u","title":`, "$", "malformed JSON"},
		{"syntax error", `{"userId" "u"}`, "$", "malformed JSON"},
		{"empty", ``, "$", "empty"},
		{"not an object", `["userId"]`, "$", "must be"},
		{"trailing data", `{"userId":"u","title":"t"} {"x":1}`, "$", "trailing data"},
		{"trailing garbage", `{"userId":"u","title":"t"}x`, "$", "trailing data"},
		{"unknown field", `{"userId":"u","title":"t","sound":"ping"}`, "sound", "unknown field"},
		{"missing recipient", `{"title":"t"}`, "userId", "missing recipient"},
		{"both recipients", `{"userId":"u","endpointArn":"arn:aws:sns:x","title":"t"}`, "endpointArn", "both"},
		{"endpoint not an ARN", `{"endpointArn":"token","title":"t"}`, "endpointArn", "not an ARN"},
		{"empty title and body", `{"userId":"u","title":"","body":""}`, "title", "both empty"},
		{"no title nor body", `{"userId":"u","data":{"a":"b"}}`, "title", "both empty"},
		{"bad priority", `{"userId":"u","title":"t","priority":"urgent"}`, "priority", `"urgent"`},
		{"uppercase priority", `{"userId":"u","title":"t","priority":"HIGH"}`, "priority", "must be"},
		{"negative ttl", `{"userId":"u","title":"t","ttlSeconds":-1}`, "ttlSeconds", "0..2419200"},
		{"ttl over 28 days", `{"userId":"u","title":"t","ttlSeconds":2419201}`, "ttlSeconds", "0..2419200"},
		{"fractional ttl", `{"userId":"u","title":"t","ttlSeconds":1.5}`, "ttlSeconds", "must be"},
		{"string ttl", `{"userId":"u","title":"t","ttlSeconds":"60"}`, "ttlSeconds", "must be"},
		{"bad v", `{"v":2,"userId":"u","title":"t"}`, "v", "unsupported version 2"},
		{"id too long", `{"id":"` + long + `","userId":"u","title":"t"}`, "id", "at most 256"},
		{"bad dueAt", `{"userId":"u","title":"t","dueAt":"tomorrow"}`, "dueAt", "RFC 3339"},
		{"dueAt without zone", `{"userId":"u","title":"t","dueAt":"2026-12-01T09:00:00"}`, "dueAt", "RFC 3339"},
		{"non-string data value", `{"userId":"u","title":"t","data":{"n":1}}`, "data", "must be"},
		{"reserved data key", `{"userId":"u","title":"t","data":{"from":"x"}}`, "data.from", "reserved"},
		{"reserved data prefix", `{"userId":"u","title":"t","data":{"google.x":"x"}}`, "data.google.x", "reserved"},
		{"empty data key", `{"userId":"u","title":"t","data":{"":"x"}}`, "data", "has an empty key"},
		{"title wrong type", `{"userId":"u","title":5}`, "title", "must be a string"},
		{"null title", `{"userId":"u","title":null,"body":"b"}`, "title", "must be a string"},
		{"null ttl", `{"userId":"u","title":"t","ttlSeconds":null}`, "ttlSeconds", "must be an integer"},
		{"huge integer", `{"userId":"u","title":"t","revision":1e300}`, "revision", "must be an integer"},
		{"zero lateness", `{"userId":"u","title":"t","maxLatenessSeconds":0}`, "maxLatenessSeconds", "must be 1..31532400, got 0"},
		{"zero revision", `{"userId":"u","title":"t","revision":0}`, "revision", "must be 1 or more"},
		{"pushId is the sender's", `{"userId":"u","title":"t","data":{"pushId":"x"}}`, "data.pushId", "reserved"},
		{"unknown guarantee", `{"userId":"u","title":"t","delivery":"exactly-once"}`, "delivery", `"at-least-once" or "at-most-once"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := push.Decode([]byte(tc.body))
			var ie *push.InvalidError
			require.True(t, errors.As(err, &ie), "want *push.InvalidError, got %v", err)
			assert.True(t, strings.HasPrefix(ie.Field, tc.field), "field %q, want prefix %q", ie.Field, tc.field)
			assert.Contains(t, ie.Error(), tc.reason)
		})
	}
}

func TestNullDocumentIsNotAPush(t *testing.T) {
	_, err := push.Decode([]byte(`null`))
	assert.EqualError(t, err, "invalid $: must be a JSON object")
}

func TestIntegralNumbersAreIntegers(t *testing.T) {
	for _, ttl := range []string{"300", "300.0", "3e2", "3.0E2"} {
		p, err := push.Decode([]byte(`{"userId":"u","title":"t","ttlSeconds":` + ttl + `}`))
		require.NoError(t, err, ttl)
		assert.Equal(t, 300, *p.TTLSeconds, ttl)
	}
}

func TestValidateBuiltPush(t *testing.T) {
	p := push.Push{UserID: "u", Title: "t", Data: map[string]string{"z": "1", "gcm.x": "2", "from": "3"}}
	assert.EqualError(t, p.Validate(), "invalid data.from: key is reserved by FCM", "data keys in sorted order: the same error every time")
	p = push.Push{UserID: "u", Title: "t", Revision: -1}
	assert.EqualError(t, p.Validate(), "invalid revision: must be 1 or more, got -1")
	p = push.Push{UserID: "u", Title: "t", MaxLatenessSeconds: push.MaxLatenessSeconds + 1}
	assert.EqualError(t, p.Validate(), "invalid maxLatenessSeconds: must be 1..31532400, got 31532401")
	p = push.Push{UserID: "u", Title: "t", MaxLatenessSeconds: 60, Revision: 3}
	assert.NoError(t, p.Validate())
}

// FuzzDecode: no input panics, and whatever is accepted is valid and survives a round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"userId":"u","title":"t"}`,
		`{"v":1,"id":"a","endpointArn":"arn:x","body":"b","data":{"k":"v"},"ttlSeconds":0,"priority":"normal","dueAt":"2026-01-01T00:00:00Z"}`,
		`{"userId":"u","title":"t","quietHours":"ignore","cap":false,"category":"a"}`, `{"userId":"u","title":"t"} x`, `[]`, `null`, `{"ttlSeconds":1e309}`, `{"data":{"from":""}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := push.Decode(b)
		if err != nil {
			var ie *push.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not *push.InvalidError: %T %v", err, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted push fails Validate: %v", err)
		}
		again := push.Encode(p)
		if back, err := push.Decode(again); err != nil {
			t.Fatalf("re-encoded push rejected: %v (%s)", err, again)
		} else if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the push: %+v != %+v", back, p)
		}
		if id := push.PeekID(b); id != p.ID {
			t.Fatalf("PeekID %q, decoded id %q", id, p.ID)
		}
	})
}

func TestPeekIDFindsTheIDOfAnInvalidPush(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"order-1","title":"t"}`:               "order-1", // no recipient
		`{"id":"order-2","userId":"u","colour":"x"}`: "order-2", // unknown field
		`{"id":5}`:            "",
		`{"id":"a"`:           "", // truncated: nothing can be trusted
		`not json`:            "",
		`{"id":"\ud800"}`:     "\ufffd", // encoding/json replaces a lone surrogate
		`{"userId":"u"}`:      "",
		`{"id":"x","id":"y"}`: "y",
	} {
		assert.Equal(t, want, push.PeekID([]byte(body)), body)
	}
}

func TestEncodeIsDecodable(t *testing.T) {
	ttl := 0
	p := push.Push{ID: "a<&>b", UserID: "u", Title: "t", TTLSeconds: &ttl, Delivery: push.DeliveryAtMostOnce,
		DueAt: "2026-12-01T09:00:00.123456789Z"}
	assert.JSONEq(t, `{"id":"a<&>b","userId":"u","title":"t","ttlSeconds":0,"delivery":"at-most-once","dueAt":"2026-12-01T09:00:00.123456789Z"}`, string(push.Encode(p)))
	assert.Contains(t, string(push.Encode(p)), "a<&>b", "no HTML escaping")
	back, err := push.Decode(push.Encode(p))
	require.NoError(t, err)
	assert.Equal(t, p, back)
}

// quietHours, cap and category: their values, their defaults, and the round trip of cap's
// false (exempt), which differs from absent.
func TestQuietHoursCapAndCategory(t *testing.T) {
	p, err := push.Decode([]byte(`{"userId":"u","title":"t","quietHours":"drop","cap":false,"category":"promo_2-x"}`))
	require.NoError(t, err)
	assert.Equal(t, push.QuietDrop, p.QuietMode())
	assert.True(t, p.Exempt())
	assert.Equal(t, "promo_2-x", p.Category)
	assert.JSONEq(t, `{"userId":"u","title":"t","quietHours":"drop","cap":false,"category":"promo_2-x"}`, string(push.Encode(p)))

	p, err = push.Decode([]byte(`{"userId":"u","title":"t","cap":true}`))
	require.NoError(t, err)
	assert.False(t, p.Exempt())
	assert.Equal(t, push.QuietHold, p.QuietMode(), "absent quietHours holds")
	assert.Contains(t, string(push.Encode(p)), `"cap":true`)
	p, err = push.Decode([]byte(`{"userId":"u","title":"t"}`))
	require.NoError(t, err)
	assert.Nil(t, p.Cap)
	assert.False(t, p.Exempt(), "absent cap counts")

	for body, want := range map[string]string{
		`{"userId":"u","title":"t","quietHours":"snooze"}`:                        `invalid quietHours: must be "hold", "drop" or "ignore", got "snooze"`,
		`{"userId":"u","title":"t","quietHours":""}`:                              `invalid quietHours: must be "hold", "drop" or "ignore", got ""`,
		`{"userId":"u","title":"t","quietHours":["hold"]}`:                        `invalid quietHours: must be a string`,
		`{"userId":"u","title":"t","cap":"false"}`:                                `invalid cap: must be a boolean (false: exempt from frequency caps)`,
		`{"userId":"u","title":"t","cap":1}`:                                      `invalid cap: must be a boolean (false: exempt from frequency caps)`,
		`{"userId":"u","title":"t","cap":null}`:                                   `invalid cap: must be a boolean (false: exempt from frequency caps)`,
		`{"userId":"u","title":"t","category":""}`:                                `invalid category: must be 1..32 characters of a-z, 0-9, "-" and "_", got ""`,
		`{"userId":"u","title":"t","category":"../etc"}`:                          `invalid category: must be 1..32 characters of a-z, 0-9, "-" and "_", got "../etc"`,
		`{"userId":"u","title":"t","category":"promo\u0000"}`:                     `invalid category: holds a character SQS refuses (allowed: tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF)`,
		`{"userId":"u","title":"t","category":"` + strings.Repeat("a", 33) + `"}`: `invalid category: must be 1..32 characters of a-z, 0-9, "-" and "_", got "` + strings.Repeat("a", 33) + `"`,
	} {
		_, err := push.Decode([]byte(body))
		assert.EqualError(t, err, want, body)
	}

	bad := push.Push{UserID: "u", Title: "t", QuietHours: "Hold"}
	assert.EqualError(t, bad.Validate(), `invalid quietHours: must be "hold", "drop" or "ignore", got "Hold"`)
	bad = push.Push{UserID: "u", Title: "t", Category: "PROMO"}
	assert.EqualError(t, bad.Validate(), `invalid category: must be 1..32 characters of a-z, 0-9, "-" and "_", got "PROMO"`)
	bad = push.Push{UserID: "u", Title: "t", Category: "promo\xff"}
	assert.Error(t, bad.Validate())
	exempt := false
	ok := push.Push{UserID: "u", Title: "t", QuietHours: push.QuietIgnore, Cap: &exempt, Category: "security"}
	assert.NoError(t, ok.Validate())
}
