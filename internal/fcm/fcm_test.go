package fcm_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/push"
)

func ttl(n int) *int { return &n }

func TestBuildMessageExact(t *testing.T) {
	cases := []struct {
		name string
		p    push.Push
		gcm  string // the expected value of the "GCM" key
	}{
		{
			name: "full",
			p: push.Push{UserID: "u", Title: "Your order shipped", Body: "Arriving Tuesday",
				Data: map[string]string{"orderId": "1234", "a": "<&>"}, TTLSeconds: ttl(86400),
				CollapseKey: "order-1234", Priority: "high"},
			gcm: `{"fcmV1Message":{"message":{"notification":{"title":"Your order shipped","body":"Arriving Tuesday"},` +
				`"data":{"a":"<&>","orderId":"1234","pushId":"p-1"},"android":{"priority":"HIGH","ttl":"86400s","collapse_key":"order-1234",` +
				`"notification":{"tag":"p-1"}}}}}`,
		},
		{
			name: "title only, no android options",
			p:    push.Push{UserID: "u", Title: "Hi"},
			gcm:  `{"fcmV1Message":{"message":{"notification":{"title":"Hi"},"data":{"pushId":"p-1"},"android":{"notification":{"tag":"p-1"}}}}}`,
		},
		{
			name: "normal priority and zero ttl",
			p:    push.Push{UserID: "u", Body: "b", TTLSeconds: ttl(0), Priority: "normal"},
			gcm:  `{"fcmV1Message":{"message":{"notification":{"body":"b"},"data":{"pushId":"p-1"},"android":{"priority":"NORMAL","ttl":"0s","notification":{"tag":"p-1"}}}}}`,
		},
		{
			// A data-only message: the app shows (or drops) it itself, by its pushId.
			name: "data only",
			p:    push.Push{UserID: "u", Data: map[string]string{"sync": "1"}},
			gcm:  `{"fcmV1Message":{"message":{"data":{"pushId":"p-1","sync":"1"}}}}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := fcm.BuildMessage(tc.p, "p-1")
			require.NoError(t, err)
			var env map[string]string
			require.NoError(t, json.Unmarshal([]byte(out), &env), "SNS message is a JSON object of strings")
			assert.Equal(t, map[string]string{"GCM": tc.gcm}, env)
			again, err := fcm.BuildMessage(tc.p, "p-1")
			require.NoError(t, err)
			assert.Equal(t, out, again, "output is deterministic")
		})
	}
}

func TestBuildMessageOversize(t *testing.T) {
	cases := []struct {
		name  string
		p     push.Push
		field string
	}{
		{"body", push.Push{UserID: "u", Title: "t", Body: strings.Repeat("b", 4100)}, "body"},
		{"title", push.Push{UserID: "u", Title: strings.Repeat("t", 3000), Body: strings.Repeat("b", 1200)}, "title"},
		{"data", push.Push{UserID: "u", Title: "t", Data: map[string]string{"k": strings.Repeat("d", 2100), "l": strings.Repeat("d", 2100)}}, "data"},
		// Escaping counts: 700 control bytes are 4200 bytes once encoded as \u0001.
		{"escaped", push.Push{UserID: "u", Body: strings.Repeat("\x01", 700)}, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fcm.BuildMessage(tc.p, "p-1")
			var tl *fcm.TooLargeError
			require.True(t, errors.As(err, &tl), "want *fcm.TooLargeError, got %v", err)
			assert.Equal(t, tc.field, tl.Field)
			assert.Equal(t, fcm.MaxPayloadBytes, tl.Limit)
			assert.Greater(t, tl.Size, fcm.MaxPayloadBytes)
			assert.Contains(t, err.Error(), "oversize payload")
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestBuildMessageAtLimit(t *testing.T) {
	// {"notification":{"body":"..."},"data":{"pushId":"p"},"android":{"notification":{"tag":"p"}}}
	// is 89 bytes around the body: the push id counts against the limit.
	p := push.Push{UserID: "u", Body: strings.Repeat("b", fcm.MaxPayloadBytes-89)}
	_, err := fcm.BuildMessage(p, "p")
	require.NoError(t, err, "exactly 4096 bytes is allowed")
	p.Body += "b"
	_, err = fcm.BuildMessage(p, "p")
	require.Error(t, err, "4097 bytes is not")
}

func BenchmarkBuildMessage(b *testing.B) {
	p := push.Push{UserID: "u-42", Title: "Your order shipped", Body: "Arriving Tuesday",
		Data: map[string]string{"orderId": "1234", "screen": "orders"}, TTLSeconds: ttl(86400),
		CollapseKey: "order-1234", Priority: "high"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fcm.BuildMessage(p, "order-1234-shipped"); err != nil {
			b.Fatal(err)
		}
	}
}
