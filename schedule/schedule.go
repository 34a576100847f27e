// Package schedule validates the Step Functions execution input of a scheduled push
// (docs/CONTRACTS.md). Go producers call it before StartExecution; the state machine's Choice
// states apply the same rules to inputs from everyone else.
package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/delayed-push/delayed-push/push"
)

const (
	// MaxDelaySeconds is how far ahead a push may be scheduled: a year (365 days, the
	// longest a Standard execution may run) less an hour for the send and its retries after
	// the wait. A push scheduled to the last second of the year would time out unsent.
	// The state machine checks delaySeconds against it; test/stack_test.go keeps them equal.
	MaxDelaySeconds = 365*24*3600 - 3600
	// MaxAhead is how far ahead sendAt may be.
	// The state machine cannot check it for sendAt (its language has no date arithmetic):
	// clients check it before StartExecution; a later sendAt would fail when the year ends.
	MaxAhead = MaxDelaySeconds * time.Second
)

// Schedule is a validated schedule input: exactly one of DelaySeconds and SendAt is set.
type Schedule struct {
	DelaySeconds *int64
	SendAt       *time.Time
	Push         push.Push
}

// input is the wire form. delaySeconds stays raw so that "300" (a string), 1.5 and 1e3 can be
// told from integers; push stays raw so push.Decode applies its own strict rules.
type input struct {
	DelaySeconds json.RawMessage `json:"delaySeconds"`
	SendAt       *string         `json:"sendAt"`
	Push         json.RawMessage `json:"push"`
}

// Parse decodes and validates a schedule input against now (the execution start). Errors are
// *push.InvalidError; fields of the push are prefixed "push.".
func Parse(b []byte, now time.Time) (Schedule, error) {
	var in input
	if err := push.DecodeStrict(b, &in); err != nil {
		return Schedule{}, err
	}
	var s Schedule
	switch {
	case in.DelaySeconds == nil && in.SendAt == nil:
		return Schedule{}, bad("delaySeconds", "one of delaySeconds and sendAt is required")
	case in.DelaySeconds != nil && in.SendAt != nil:
		return Schedule{}, bad("sendAt", "both delaySeconds and sendAt given: exactly one is allowed")
	case in.DelaySeconds != nil:
		d, err := strconv.ParseInt(string(in.DelaySeconds), 10, 64)
		if err != nil {
			return Schedule{}, bad("delaySeconds", "must be an integer, got %s", in.DelaySeconds)
		}
		if d < 0 || d > MaxDelaySeconds {
			return Schedule{}, bad("delaySeconds", "must be 0..%d (365 days less an hour), got %d", MaxDelaySeconds, d)
		}
		s.DelaySeconds = &d
	default:
		t, err := time.Parse(time.RFC3339, *in.SendAt)
		if err != nil {
			return Schedule{}, bad("sendAt", "is not an RFC 3339 time: %q", *in.SendAt)
		}
		if t.Before(now) {
			return Schedule{}, bad("sendAt", "%s is in the past (now %s)", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if t.Sub(now) > MaxAhead {
			return Schedule{}, bad("sendAt", "%s is more than 365 days less an hour ahead", t.Format(time.RFC3339))
		}
		s.SendAt = &t
	}
	if len(in.Push) == 0 || string(in.Push) == "null" {
		return Schedule{}, bad("push", "is required")
	}
	p, err := push.Decode(in.Push)
	if err != nil {
		var ie *push.InvalidError
		if errors.As(err, &ie) {
			field := "push"
			if ie.Field != "$" {
				field += "." + ie.Field
			}
			return Schedule{}, &push.InvalidError{Field: field, Reason: ie.Reason}
		}
		return Schedule{}, err
	}
	s.Push = p
	return s, nil
}

// DueAt is when the push should be sent for an execution started at start.
func (s Schedule) DueAt(start time.Time) time.Time {
	if s.SendAt != nil {
		return *s.SendAt
	}
	if s.DelaySeconds != nil {
		return start.Add(time.Duration(*s.DelaySeconds) * time.Second)
	}
	return start
}

func bad(field, format string, args ...any) *push.InvalidError {
	return &push.InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
