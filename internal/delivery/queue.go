package delivery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/push"
)

// holdUntilDue puts a push taken before its due time back on the queue until then: never
// early, to the millisecond, whatever a Wait or a schedule rounded. The delay is rounded up to
// SQS's whole seconds and is at most its 15 minutes (a later due time takes more hops); the
// requeue counter is left as it is, since waiting is not a failure to make progress.
func (s *Service) holdUntilDue(ctx context.Context, inv *invocation, r *Result, j *job) {
	early := j.due.Sub(s.now())
	delay := min((early+time.Second-1)/time.Second*time.Second, maxQueueDelay)
	r.Outcome = OutcomeEarly
	r.Reason = fmt.Sprintf("taken %s before its due time %s: back on the queue for %s", early.Round(time.Millisecond),
		j.due.UTC().Format(time.RFC3339Nano), delay)
	held := Message{Body: normalizedBody(j), Delay: delay, Attributes: requeueAttributes(j, r.Requeues)}
	if err := s.queueWrite(ctx, inv, func(qctx context.Context) error { return s.Queue.Requeue(qctx, held) }); err != nil {
		r.Action, r.Err, r.Reason = ActionRetry, err, r.Reason+"; requeue failed: "+Reason(err)
		return
	}
	r.Action = ActionRequeued
}

// requeueRest puts a push back on the queue for the endpoints not done yet: time ran out, or
// another invocation holds some of them (then it comes back when their lease ends). The
// requeue counter counts requeues without progress; progress made now resets it.
func (s *Service) requeueRest(ctx context.Context, inv *invocation, r *Result, j *job, busyUntil time.Time) {
	var delay time.Duration
	if r.Busy > 0 {
		r.Reason = "another invocation is delivering it now"
		delay = min(max(time.Until(busyUntil), time.Second), maxQueueDelay)
	} else {
		r.Reason = "time budget of the invocation used up"
	}
	n := 0
	if !r.progressed() {
		n = r.Requeues + 1
	}
	requeue := Message{Body: normalizedBody(j), Delay: delay, Attributes: requeueAttributes(j, n)}
	if err := s.queueWrite(ctx, inv, func(qctx context.Context) error {
		return s.Queue.Requeue(qctx, requeue)
	}); err != nil {
		r.Action, r.Err, r.Reason = ActionRetry, err, r.Reason+"; requeue failed: "+Reason(err)
		return
	}
	r.Action = ActionRequeued
}

// requeueAttributes are the attributes of a push the sender puts back on the push queue: the
// requeue counter, the hold of quiet hours when there was one, and the engine when it is known (the message that comes back is the
// sender's, no longer the scheduler's).
func requeueAttributes(j *job, requeues int) map[string]Attribute {
	a := map[string]Attribute{attrRequeues: {DataType: "Number", Value: strconv.Itoa(requeues)}}
	if j.engine != "" {
		a[attrEngine] = Attribute{DataType: "String", Value: j.engine}
	}
	if !j.held.from.IsZero() {
		a[attrHeldFrom] = Attribute{DataType: "String", Value: j.held.from.UTC().Format(time.RFC3339Nano)}
		a[attrQuietUntil] = Attribute{DataType: "String", Value: j.held.until.UTC().Format(time.RFC3339Nano)}
	}
	return a
}

// park puts m on the dead-letter queue; if that fails the message is retried instead.
func (s *Service) park(ctx context.Context, inv *invocation, r *Result, m Message) {
	if r.Reason == "" {
		r.Reason = "invalid push: " + r.Err.Error()
	}
	m.Attributes["parkReason"] = Attribute{DataType: "String", Value: truncate(r.Reason, 1000)}
	m.Attributes["parkedAt"] = Attribute{DataType: "String", Value: s.now().UTC().Format(time.RFC3339Nano)}
	m.Attributes["pushId"] = Attribute{DataType: "String", Value: r.PushID}
	m.Attributes["receiveCount"] = Attribute{DataType: "Number", Value: strconv.Itoa(r.ReceiveCount)}
	if err := s.queueWrite(ctx, inv, func(qctx context.Context) error { return s.Queue.Park(qctx, m) }); err != nil {
		r.Action, r.Reason = ActionRetry, r.Reason+"; parking failed: "+Reason(err)
		return
	}
	r.Action = ActionParked
}

// queueWrite runs a queue write on a context that survives the work deadline until the final
// one: what is decided must still be written.
func (s *Service) queueWrite(ctx context.Context, inv *invocation, write func(context.Context) error) error {
	qctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), inv.budget.final)
	defer cancel()
	return write(qctx)
}

// invalidMessage is a rejected message as it is parked: as received, with its attributes
// (up to SQS's limit of 10 with the four parking adds).
func invalidMessage(m *events.SQSMessage, err error) Message {
	out := Message{Body: m.Body, Attributes: map[string]Attribute{}}
	for name, a := range m.MessageAttributes {
		if len(out.Attributes) == 5 { // 10 per message: 5 kept, invalidField and 4 parking attributes
			break
		}
		if a.StringValue != nil && (a.DataType == "String" || a.DataType == "Number") {
			out.Attributes[name] = Attribute{DataType: a.DataType, Value: *a.StringValue}
		}
	}
	if field := invalidField(err); field != "" {
		out.Attributes["invalidField"] = Attribute{DataType: "String", Value: truncate(field, 256)}
	}
	return out
}

// invalidField is the field an invalid-push error names.
func invalidField(err error) string {
	var ie *push.InvalidError
	var tl *fcm.TooLargeError
	switch {
	case errors.As(err, &ie):
		return ie.Field
	case errors.As(err, &tl):
		return tl.Field
	}
	return ""
}

// normalizedBody is the push with its resolved id and due time written in: a requeued or
// parked push is self-contained, so it is sent under the same id (never again to an endpoint
// done before) and measured against the same due time, whoever sends it back.
func normalizedBody(j *job) string {
	p := j.push
	p.ID = j.id
	if j.hasDue {
		p.DueAt = j.due.UTC().Format(time.RFC3339Nano)
	}
	return string(push.Encode(p))
}
