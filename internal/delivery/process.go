package delivery

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/push"
)

// job is one valid push being delivered.
type job struct {
	push       push.Push
	id         string
	message    string // the SNS message
	due        time.Time
	hasDue     bool
	engine     string // the engine that held it; "" until its schedules row is read
	atMostOnce bool
	// withheld is why the push is recorded and not sent (StatusExpired, StatusQuiet or
	// StatusCapped); its status is "" when it is to be sent.
	withheld struct{ status, reason string }
	// held is the hold of quiet hours, as the requeued message carries it (see quiet.go).
	held hold
}

// processSafe processes one message, records what became of it in the schedules index and
// logs it. A panic (a bug; no input should cause one) becomes a retry of that message only,
// so one bad record cannot fail its nine neighbours.
func (s *Service) processSafe(ctx context.Context, inv *invocation, m *events.SQSMessage) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{MessageID: m.MessageId, PushID: push.PeekID([]byte(m.Body)), Outcome: OutcomeIncomplete,
				Action: ActionRetry, Err: fmt.Errorf("panic: %v", p)}
			s.logger().ErrorContext(ctx, "sender panic", "messageId", m.MessageId, "pushId", r.PushID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	r = s.process(ctx, inv, m)
	s.finishIndex(ctx, inv, &r)
	s.logResult(ctx, r)
	return r
}

// process takes one message through its steps, in order. A step that settles the message
// (parks it, holds it, finds it needs nothing sent, or leaves it for later) returns false,
// and the steps after it do not run.
func (s *Service) process(ctx context.Context, inv *invocation, m *events.SQSMessage) Result {
	r := Result{MessageID: m.MessageId, ReceiveCount: receiveCount(m), Requeues: requeues(m)}
	j, ok := s.decode(ctx, inv, m, &r)
	if !ok {
		return r
	}
	if j.hasDue && s.now().Before(j.due) {
		s.holdUntilDue(ctx, inv, &r, j)
		return r
	}
	if !s.beginRevision(ctx, inv, &r, j) || !s.prepare(ctx, inv, m, &r, j) || !s.quietHours(ctx, inv, &r, j) {
		return r
	}
	endpoints, ok := s.resolveDevices(ctx, inv, &r, j)
	if !ok || !s.admit(ctx, inv, &r, j) {
		return r
	}
	busyUntil := r.tally(j, s.deliverAll(ctx, inv, m, j, endpoints))
	s.settle(ctx, inv, &r, j, busyUntil)
	return r
}

// decode reads the push and resolves its id and due time. An invalid push is parked.
func (s *Service) decode(ctx context.Context, inv *invocation, m *events.SQSMessage, r *Result) (*job, bool) {
	trusted := s.fromScheduler(m)
	p, err := push.Decode([]byte(m.Body))
	if err != nil {
		r.PushID = push.PeekID([]byte(m.Body))
		if r.PushID == "" {
			r.PushID = m.MessageId
		}
		r.Outcome, r.Err = OutcomeInvalid, err
		s.park(ctx, inv, r, invalidMessage(m, err))
		return nil, false
	}
	j := &job{push: p, id: pushID(p, m, trusted), engine: sourceEngine(m, trusted)}
	if j.engine == "" && (s.Index == nil || p.Revision <= 0) {
		j.engine = EngineQueue // no row will say otherwise
	}
	r.PushID, r.Engine = j.id, j.engine
	j.due, r.DueSource, j.hasDue = dueTime(p, m, trusted)
	j.held = heldOf(func(name string) string { return attr(m, name) })
	return j, true
}

// beginRevision, for a revision of a key (with the schedules index on), marks the key's row
// sending; a key cancelled or rescheduled meanwhile is done, not sent. A push without a
// revision goes on as it is.
func (s *Service) beginRevision(ctx context.Context, inv *invocation, r *Result, j *job) bool {
	p := j.push
	if s.Index == nil || p.Revision <= 0 {
		return true
	}
	if !inv.budget.canStart(time.Now()) {
		r.Pending = 1
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	b, err := s.Index.BeginSend(inv.work, j.id, p.Revision, s.now())
	gate, current := b.Gate, b.Current
	if err == nil {
		// The row names the engine; a push without one is a producer's own.
		j.engine = cmp.Or(b.Engine, j.engine, EngineQueue)
		r.Engine = j.engine
	}
	switch {
	case err != nil && inv.interrupted(err):
		r.Pending = 1
	case err != nil:
		r.Retrying, r.Err = 1, fmt.Errorf("schedules index: %w", err)
	case gate == GateCancelled:
		r.Outcome, r.Action, r.Reason = OutcomeCancelled, ActionDone, "the key was cancelled through the client: not sent"
		return false
	case gate == GateSuperseded:
		r.Outcome, r.Action = OutcomeSuperseded, ActionDone
		r.Reason = fmt.Sprintf("the key was rescheduled: revision %d is current, this is %d: not sent", current, p.Revision)
		return false
	}
	if r.Pending+r.Retrying > 0 {
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	r.revision = p.Revision
	return true
}

// prepare decides how the push is delivered: expired (later than its lateness limit, leaving out
// the time quiet hours held it: recorded, not sent), at most or at least once, and the SNS message. A push whose message cannot be
// built is parked.
func (s *Service) prepare(ctx context.Context, inv *invocation, m *events.SQSMessage, r *Result, j *job) bool {
	p := j.push
	if held := j.held.duration(s.now()); held > 0 {
		r.HeldMs, r.Held = held.Milliseconds(), true
	}
	// The time quiet hours held the push is not lateness: it is measured from their end.
	if limit := s.lateness(p); j.hasDue && limit > 0 {
		if late := s.now().Sub(j.due) - j.held.duration(s.now()); late > limit {
			j.withheld.status = StatusExpired
			j.withheld.reason = fmt.Sprintf("due %s, %s late: over the lateness limit of %s: not sent",
				j.due.UTC().Format(time.RFC3339), late.Round(time.Second), limit)
		}
	}
	j.atMostOnce = p.Delivery == push.DeliveryAtMostOnce ||
		(p.Delivery == "" && s.Guarantee == push.DeliveryAtMostOnce)
	var err error
	if j.message, err = fcm.BuildMessage(p, j.id); err != nil {
		r.Outcome, r.Err = OutcomeInvalid, err
		s.park(ctx, inv, r, invalidMessage(m, err))
		return false
	}
	return true
}

// lateness is the lateness limit of p: its own, else the service's.
func (s *Service) lateness(p push.Push) time.Duration {
	if p.MaxLatenessSeconds > 0 {
		return time.Duration(p.MaxLatenessSeconds) * time.Second
	}
	return s.MaxLateness
}

// resolveDevices is the push's endpoints: its endpointArn, or its user's devices in the
// registry. A user without a device is done.
func (s *Service) resolveDevices(ctx context.Context, inv *invocation, r *Result, j *job) ([]Endpoint, bool) {
	p := j.push
	endpoints := []Endpoint{{ARN: p.EndpointARN}}
	if p.UserID != "" {
		if !inv.budget.canStart(time.Now()) {
			r.Pending = 1
			s.settle(ctx, inv, r, j, time.Time{})
			return nil, false
		}
		var err error
		endpoints, err = s.Registry.Endpoints(inv.work, p.UserID)
		if err != nil {
			if inv.interrupted(err) {
				r.Pending = 1
			} else {
				r.Retrying, r.Err = 1, fmt.Errorf("device registry: %w", err)
			}
			s.settle(ctx, inv, r, j, time.Time{})
			return nil, false
		}
		if len(endpoints) == 0 {
			// Nothing to retry: the user may register a device later, but this push is for now.
			r.Outcome, r.Action, r.Reason = OutcomeNoDevices, ActionDone, "the user has no registered device"
			return nil, false
		}
	}
	r.Endpoints = len(endpoints)
	return endpoints, true
}

// deliverAll delivers the push to its endpoints concurrently, at most FanOut deliveries of the
// invocation in flight. A panic in one delivery is a retry of that endpoint only.
func (s *Service) deliverAll(ctx context.Context, inv *invocation, m *events.SQSMessage, j *job, endpoints []Endpoint) []endpointResult {
	results := make([]endpointResult, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv.sem <- struct{}{}
			defer func() { <-inv.sem }()
			defer func() {
				if p := recover(); p != nil {
					results[i] = endpointResult{kind: epRetry, err: fmt.Errorf("panic: %v", p)}
					s.logger().ErrorContext(ctx, "sender panic", "messageId", m.MessageId, "pushId", j.id,
						"endpointArn", ep, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			results[i] = s.deliver(ctx, inv, j, ep)
		}()
	}
	wg.Wait()
	return results
}

// settle decides what happens to the message once its endpoints are through, or once a step
// before them leaves it unfinished: done, retried, requeued or parked.
func (s *Service) settle(ctx context.Context, inv *invocation, r *Result, j *job, busyUntil time.Time) {
	if r.finished() {
		r.Action, r.Outcome = ActionDone, r.finalOutcome()
		return
	}
	r.Outcome = OutcomeIncomplete
	if r.Retrying == 0 && r.Requeues >= MaxRequeuesWithoutProgress && !r.progressed() {
		// Time keeps running out before anything is done: that is a failure now.
		r.Retrying, r.Err = 1, fmt.Errorf("no endpoint done in %d attempts cut short by the time budget", r.Requeues+1)
	}
	switch {
	case r.Retrying > 0 && s.MaxReceiveCount > 0 && r.ReceiveCount >= s.MaxReceiveCount:
		// The last receive the queue allows: park it ourselves, with the reason.
		r.Reason = fmt.Sprintf("gave up after %d attempts: %s", r.ReceiveCount, Reason(r.Err))
		s.park(ctx, inv, r, Message{Body: normalizedBody(j), Attributes: map[string]Attribute{}})
	case r.Retrying > 0:
		// Transient failures: the visibility timeout is the back-off.
		r.Action, r.Reason = ActionRetry, Reason(r.Err)
	default:
		// Only time ran out, or a duplicate is being handled elsewhere right now: neither is
		// this push's fault, so it goes back on the queue without using up a receive.
		s.requeueRest(ctx, inv, r, j, busyUntil)
	}
}

// finishIndex records what became of a push on its key's row, once the sender is done with
// it (sent, failed, expired, or parked). A failure is logged: the row stays "sending", which
// Get reports, and nothing is sent twice for it.
func (s *Service) finishIndex(ctx context.Context, inv *invocation, r *Result) {
	if r.revision == 0 || (r.Action != ActionDone && r.Action != ActionParked) {
		return
	}
	f := Finish{State: index.Failed, Result: r.Outcome, Now: s.now(), Endpoints: r.Endpoints,
		Sent: r.Sent, Failed: r.Failed + r.Uncertain, Reason: r.Reason}
	switch {
	case r.Action == ActionParked:
	case r.Outcome == OutcomeSent || r.Outcome == OutcomePartial || r.Outcome == OutcomeDuplicate:
		f.State = index.Sent
	case r.Outcome == OutcomeExpired:
		f.State = index.Expired
	case r.Outcome == OutcomeQuiet:
		f.State = index.Quiet
	case r.Outcome == OutcomeCapped:
		f.State, f.Cap = index.Capped, r.Cap
	}
	if r.Lateness {
		f.LatenessMs = &r.LatenessMs
	}
	if r.Held {
		f.HeldMs = &r.HeldMs
	}
	if err := s.queueWrite(ctx, inv, func(c context.Context) error { return s.Index.Finish(c, r.PushID, r.revision, f) }); err != nil {
		s.logger().WarnContext(ctx, "could not record the outcome in the schedules index", "pushId", r.PushID,
			"revision", r.revision, "error", err.Error())
	}
}
