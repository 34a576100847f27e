// Package schedule validates the Step Functions execution input of a scheduled push
// (docs/CONTRACTS.md). Go producers call it before StartExecution; the state machine's Choice
// states apply the same rules to inputs from everyone else.
package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
)

const (
	// MaxDelaySeconds is how far ahead a push may be scheduled: a year (365 days, the
	// longest a Standard execution may run) less an hour for the send and its retries after
	// the wait. A push scheduled to the last second of the year would time out unsent.
	// The state machine checks delaySeconds and sendAt against it; test/stack_test.go keeps
	// them equal.
	MaxDelaySeconds = 365*24*3600 - 3600
	// MaxAhead is how far after the execution start sendAt may be.
	MaxAhead = MaxDelaySeconds * time.Second
)

// Schedule is a validated schedule input: exactly one of DelaySeconds and SendAt is set.
type Schedule struct {
	DelaySeconds *int64
	SendAt       *time.Time
	Push         push.Push
}

// Fields of the input, in the order they are checked.
var fields = []string{"delaySeconds", "sendAt", "push"}

// Parse decodes and validates a schedule input against now (the execution start), with the
// rules and the order of the state machine's CheckSchedule state, so both give the same
// error. Errors are *push.InvalidError; fields of the push are prefixed "push.".
//
// A sendAt before now is valid: the push is due at once (a producer's clock a few seconds
// ahead must not lose it). How late it may still go out is the push's lateness limit.
func Parse(b []byte, now time.Time) (Schedule, error) {
	obj, err := jsonfield.DecodeObject(b)
	if err != nil {
		return Schedule{}, bad("$", "%v", err)
	}
	if k := obj.Unknown(fields); k != "" {
		return Schedule{}, bad(k, "unknown field")
	}
	rawDelay, hasDelay := obj.Members["delaySeconds"]
	rawSendAt, hasSendAt := obj.Members["sendAt"]
	var s Schedule
	switch {
	case !hasDelay && !hasSendAt:
		return Schedule{}, bad("delaySeconds", "one of delaySeconds and sendAt is required")
	case hasDelay && hasSendAt:
		return Schedule{}, bad("sendAt", "both delaySeconds and sendAt given: exactly one is allowed")
	case hasDelay:
		d, ok := jsonfield.Integer(rawDelay)
		if !ok {
			return Schedule{}, bad("delaySeconds", "must be an integer")
		}
		if d < 0 || d > MaxDelaySeconds {
			return Schedule{}, bad("delaySeconds", "must be 0..%d (365 days less an hour), got %d", MaxDelaySeconds, d)
		}
		s.DelaySeconds = &d
	default:
		raw, err := jsonfield.String(rawSendAt)
		if err != nil {
			return Schedule{}, bad("sendAt", "%v", err)
		}
		t, ok := jsonfield.ParseTime(raw)
		if !ok {
			return Schedule{}, bad("sendAt", "is not an RFC 3339 time: %s", jsonfield.Quote(raw))
		}
		// Whole seconds, as the state machine compares them.
		if t.Truncate(time.Second).Sub(now.Truncate(time.Millisecond)) > MaxAhead {
			return Schedule{}, bad("sendAt", "%s is more than %d seconds (365 days less an hour) after the start", jsonfield.Quote(raw), MaxDelaySeconds)
		}
		s.SendAt = &t
	}
	rawPush, ok := obj.Members["push"]
	if !ok || string(rawPush) == "null" {
		return Schedule{}, bad("push", "is required")
	}
	p, err := push.Decode(rawPush)
	if err != nil {
		return Schedule{}, InPush(err)
	}
	// The one rule the state machine cannot check: the FCM message must fit 4096 bytes. The
	// push id is the execution name when absent, at most 80 characters.
	id := p.ID
	if id == "" {
		id = strings.Repeat("x", 80)
	}
	if err := FitsFCM(p, id); err != nil {
		return Schedule{}, err
	}
	s.Push = p
	return s, nil
}

// InPush returns err with an *push.InvalidError's field named as a field of the schedule
// input's push object: "title" is "push.title", "$" (the push as a whole) is "push". Other
// errors are returned unchanged.
func InPush(err error) error {
	var ie *push.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	field := "push"
	if ie.Field != "$" {
		field += "." + ie.Field
	}
	return &push.InvalidError{Field: field, Reason: ie.Reason}
}

// Input is the execution input of s, as Parse reads it.
func (s Schedule) Input() []byte {
	in := map[string]any{"push": json.RawMessage(push.Encode(s.Push))}
	if s.DelaySeconds != nil {
		in["delaySeconds"] = *s.DelaySeconds
	}
	if s.SendAt != nil {
		in["sendAt"] = s.SendAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(in) // a map of a number, a string and valid JSON always encodes
	return b
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

// FitsFCM checks the one rule the state machine cannot: the FCM message the sender will build
// for p under id must fit FCM's limit. The error names the largest field as a push field
// ("push.body"), in the words the schedule input's errors use.
func FitsFCM(p push.Push, id string) error {
	if _, err := fcm.BuildMessage(p, id); err != nil {
		var tl *fcm.TooLargeError
		if errors.As(err, &tl) {
			return InPush(bad(tl.Field, "makes the FCM message %d bytes, over FCM's %d (the field is %d bytes)", tl.Size, tl.Limit, tl.FieldSize))
		}
		return bad("push", "%v", err)
	}
	return nil
}
