package schedule_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const okPush = `{"userId":"u-42","title":"t"}`

func TestParseValid(t *testing.T) {
	s, err := schedule.Parse([]byte(`{"delaySeconds":300,"push":`+okPush+`}`), now)
	require.NoError(t, err)
	require.NotNil(t, s.DelaySeconds)
	assert.Equal(t, int64(300), *s.DelaySeconds)
	assert.Nil(t, s.SendAt)
	assert.Equal(t, "u-42", s.Push.UserID)
	assert.Equal(t, now.Add(5*time.Minute), s.DueAt(now))

	s, err = schedule.Parse([]byte(`{"sendAt":"2026-12-01T09:00:00Z","push":`+okPush+`}`), now)
	require.NoError(t, err)
	require.NotNil(t, s.SendAt)
	assert.Equal(t, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), s.DueAt(now).UTC())

	for _, in := range []string{
		`{"delaySeconds":0,"push":` + okPush + `}`,
		`{"delaySeconds":31532400,"push":` + okPush + `}`,
		`{"sendAt":"2026-11-23T12:00:00Z","push":` + okPush + `}`,      // exactly now
		`{"sendAt":"2027-11-23T11:00:00Z","push":` + okPush + `}`,      // exactly 365 days less an hour ahead
		`{"sendAt":"2026-11-23T13:00:00+01:00","push":` + okPush + `}`, // now, in another zone
	} {
		_, err := schedule.Parse([]byte(in), now)
		assert.NoError(t, err, in)
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name, in, field, reason string
	}{
		{"negative delay", `{"delaySeconds":-1,"push":` + okPush + `}`, "delaySeconds", "0..31532400"},
		{"delay over the limit", `{"delaySeconds":31532401,"push":` + okPush + `}`, "delaySeconds", "0..31532400"},
		{"string delay", `{"delaySeconds":"300","push":` + okPush + `}`, "delaySeconds", "integer"},
		{"null delay", `{"delaySeconds":null,"push":` + okPush + `}`, "delaySeconds", "integer"},
		{"fractional delay", `{"delaySeconds":1.5,"push":` + okPush + `}`, "delaySeconds", "integer"},
		{"sendAt in the past", `{"sendAt":"2026-11-23T11:59:59Z","push":` + okPush + `}`, "sendAt", "in the past"},
		{"sendAt too far", `{"sendAt":"2027-11-23T11:00:01Z","push":` + okPush + `}`, "sendAt", "365 days less an hour"},
		{"unparsable sendAt", `{"sendAt":"next tuesday","push":` + okPush + `}`, "sendAt", "RFC 3339"},
		{"both", `{"delaySeconds":5,"sendAt":"2026-12-01T09:00:00Z","push":` + okPush + `}`, "sendAt", "both"},
		{"neither", `{"push":` + okPush + `}`, "delaySeconds", "one of"},
		{"missing push", `{"delaySeconds":5}`, "push", "required"},
		{"null push", `{"delaySeconds":5,"push":null}`, "push", "required"},
		{"invalid push", `{"delaySeconds":5,"push":{"title":"t"}}`, "push.userId", "missing recipient"},
		{"unknown push field", `{"delaySeconds":5,"push":{"userId":"u","title":"t","x":1}}`, "push.x", "unknown field"},
		{"unknown field", `{"delaySeconds":5,"push":` + okPush + `,"delay":1}`, "delay", "unknown field"},
		{"malformed", `{"delaySeconds":`, "$", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schedule.Parse([]byte(tc.in), now)
			var ie *push.InvalidError
			require.True(t, errors.As(err, &ie), "want *push.InvalidError, got %v", err)
			assert.Equal(t, tc.field, ie.Field)
			assert.Contains(t, ie.Reason, tc.reason)
		})
	}
}
