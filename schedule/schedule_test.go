package schedule_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const okPush = `{"userId":"u-42","title":"t"}`

// vectors are the shared cases of schedule/testdata/vectors.json: the end-to-end tests start
// executions with the same inputs and expect the state machine's cause to be the same text.
type vectors struct {
	Invalid []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
	} `json:"invalid"`
	// RefusedAtOnce: refused by Go with these words; the state machine fails them at once
	// with JSONata's evaluation error (numbers beyond a double).
	RefusedAtOnce []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
	} `json:"refusedAtOnce"`
	Valid []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"valid"`
}

func loadVectors(t *testing.T) vectors {
	b, err := os.ReadFile("testdata/vectors.json")
	require.NoError(t, err)
	var v vectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Invalid)
	require.NotEmpty(t, v.Valid)
	return v
}

func TestParseSharedVectors(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.RefusedAtOnce)
	for _, tc := range append(v.Invalid, v.RefusedAtOnce...) {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := schedule.Parse(tc.Input, now)
			var ie *push.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tc.Error, ie.Error())
		})
	}
	for _, tc := range v.Valid {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := schedule.Parse(tc.Input, now)
			assert.NoError(t, err)
		})
	}
}

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

	s, err = schedule.Parse([]byte(`{"delaySeconds":3e2,"push":`+okPush+`}`), now)
	require.NoError(t, err)
	assert.Equal(t, int64(300), *s.DelaySeconds, "an integral number in any notation is an integer")
}

func TestSendAtLimits(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"sendAt":"2026-11-23T12:00:00Z","push":` + okPush + `}`:      true, // exactly now
		`{"sendAt":"2026-11-23T11:59:55Z","push":` + okPush + `}`:      true, // a clock 5 s ahead: due at once
		`{"sendAt":"2020-01-01T00:00:00Z","push":` + okPush + `}`:      true, // long past: due at once, the lateness limit decides
		`{"sendAt":"2027-11-23T11:00:00Z","push":` + okPush + `}`:      true, // 365 days less an hour ahead
		`{"sendAt":"2027-11-23T11:00:00.9Z","push":` + okPush + `}`:    true, // whole seconds count
		`{"sendAt":"2027-11-23T11:00:01Z","push":` + okPush + `}`:      false,
		`{"sendAt":"2027-11-23T12:00:01+01:00","push":` + okPush + `}`: false, // the same instant, in another zone
		`{"sendAt":"2026-11-23T13:00:00+01:00","push":` + okPush + `}`: true,
	} {
		_, err := schedule.Parse([]byte(in), now)
		if ok {
			assert.NoError(t, err, in)
		} else {
			assert.ErrorContains(t, err, "more than 31532400 seconds", in)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for in, reason := range map[string]string{
		`{"delaySeconds":`: "malformed JSON",
		``:                 "empty",
		`{"delaySeconds":5,"push":` + okPush + `} {}`: "trailing data",
	} {
		_, err := schedule.Parse([]byte(in), now)
		var ie *push.InvalidError
		require.True(t, errors.As(err, &ie), "want *push.InvalidError, got %v", err)
		assert.Equal(t, "$", ie.Field)
		assert.Contains(t, ie.Reason, reason)
	}
}

func TestInputRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"delaySeconds":300,"push":{"id":"a","userId":"u","title":"t","ttlSeconds":0}}`,
		`{"sendAt":"2026-12-01T09:00:00.5Z","push":{"endpointArn":"arn:x","body":"b"}}`,
	} {
		s, err := schedule.Parse([]byte(in), now)
		require.NoError(t, err)
		assert.JSONEq(t, in, string(s.Input()))
		back, err := schedule.Parse(s.Input(), now)
		require.NoError(t, err)
		assert.Equal(t, s, back)
	}
}

func TestInPush(t *testing.T) {
	for field, want := range map[string]string{"title": "push.title", "data.k": "push.data.k", "$": "push"} {
		err := schedule.InPush(&push.InvalidError{Field: field, Reason: "r"})
		var ie *push.InvalidError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, &push.InvalidError{Field: want, Reason: "r"}, ie)
	}
	other := errors.New("other")
	assert.Same(t, other, schedule.InPush(other))
	assert.NoError(t, schedule.InPush(nil))
}
