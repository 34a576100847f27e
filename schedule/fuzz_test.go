package schedule_test

import (
	"errors"
	"testing"
	"time"

	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
)

// Parse never panics; an accepted schedule's Input parses to the same schedule.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"delaySeconds":5,"push":{"userId":"u","title":"t"}}`, `{"sendAt":"2026-12-01T10:00:00+09:00","push":{"endpointArn":"arn:x","body":"b"}}`,
		`{"delaySeconds":1.5,"push":{}}`, `{"sendAt":"x"}`, `{`, "\x00"} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := schedule.Parse(b, now)
		if err != nil {
			var ie *push.InvalidError
			if !errors.As(err, &ie) || ie.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		again, err := schedule.Parse(s.Input(), now)
		if err != nil {
			t.Fatalf("Input %s does not parse: %v", s.Input(), err)
		}
		if string(again.Input()) != string(s.Input()) {
			t.Fatalf("round trip changed %s into %s", s.Input(), again.Input())
		}
	})
}
