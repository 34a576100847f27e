package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
)

// Defaults for Service fields left zero.
const (
	// DefaultFanOut bounds the endpoint deliveries in flight in one invocation.
	DefaultFanOut = 32
	// DefaultLeaseSkew is added to the invocation's deadline to make a claim's lease: it
	// allows for clock differences between invocations. The lease must end before the
	// queue can redeliver the message (visibility timeout > function timeout + skew).
	DefaultLeaseSkew = 2 * time.Second
	// DefaultTimeout is the budget of an invocation whose context has no deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultPublishAttempts is how often a publish whose outcome is unknown (5xx, timeout)
	// is tried within one invocation under at-least-once.
	DefaultPublishAttempts = 2
	// maxQueueDelay is SQS's longest DelaySeconds.
	maxQueueDelay = 15 * time.Minute
	// MaxRequeuesWithoutProgress bounds how often a push goes back on the queue because time
	// ran out, without any endpoint done meanwhile: a dependency that is always slower than
	// the function's timeout must end up counted as a failure (and parked with its reason),
	// not loop. The count travels in the requeued message's "requeues" attribute.
	MaxRequeuesWithoutProgress = 10
)

// Outcome of one queue message, as logged.
type Outcome string

const (
	OutcomeSent       Outcome = "sent"       // every endpoint is sent now or was before; some now
	OutcomePartial    Outcome = "partial"    // some sent, some failed permanently or uncertain
	OutcomeFailed     Outcome = "failed"     // none sent: every endpoint failed or is uncertain
	OutcomeDuplicate  Outcome = "duplicate"  // every endpoint was done by an earlier attempt
	OutcomeNoDevices  Outcome = "no_devices" // the user has no registered device
	OutcomeInvalid    Outcome = "invalid"    // the message is not a valid push
	OutcomeIncomplete Outcome = "incomplete" // some endpoints are not done yet: see the Action
	OutcomeExpired    Outcome = "expired"    // due longer ago than its lateness limit: not sent
	OutcomeCancelled  Outcome = "cancelled"  // cancelled through the client: not sent
	OutcomeSuperseded Outcome = "superseded" // an old revision of a rescheduled key: not sent
	OutcomeEarly      Outcome = "early"      // taken before its due time: back on the queue until then
)

// Action is what happens to the queue message.
type Action string

const (
	ActionDone     Action = "done"     // deleted from the queue
	ActionRetry    Action = "retry"    // a batch item failure: redelivered after the visibility timeout
	ActionRequeued Action = "requeued" // the rest is back on the push queue; this message is deleted
	ActionParked   Action = "parked"   // on the dead-letter queue with its reason; deleted here
)

// Service is the sender. Registry, Log, Publisher and Queue are required.
type Service struct {
	Registry  Registry
	Log       Log
	Publisher Publisher
	Queue     Queue
	Logger    *slog.Logger // default slog.Default()
	// Metrics receives the batch's metrics (EMF); nil writes none.
	Metrics *metrics.Emitter
	Now     func() time.Time // the time recorded in the log; default time.Now

	// Guarantee is used for pushes without "delivery": push.DeliveryAtLeastOnce (the
	// default) or push.DeliveryAtMostOnce.
	Guarantee string
	// MaxReceiveCount is the queue's maxReceiveCount: on that receive a message that still
	// fails is parked with its reason, instead of being moved there silently by the queue.
	// 0 leaves it to the queue.
	MaxReceiveCount int
	// SchedulerSenderID is the unique id (AROA...) of the scheduler's role. The scheduler's
	// message attributes (push id, due time) are read only from messages whose SenderId is
	// that role's; any other producer could set them.
	SchedulerSenderID string
	// Index is the schedules index; nil skips it (a push with a revision is then sent as
	// any other).
	Index Index
	// MaxLateness is the lateness limit of pushes without their own maxLatenessSeconds: a
	// push due longer ago is recorded expired and not sent. 0: no limit.
	MaxLateness     time.Duration
	FanOut          int           // default DefaultFanOut
	LeaseSkew       time.Duration // default DefaultLeaseSkew
	PublishAttempts int           // default DefaultPublishAttempts

	// recentSlowest is the slowest delivery of the last invocation of this (warm) process:
	// under a slow dependency the next invocation does not start what it cannot finish.
	recentSlowest atomic.Int64
}

// Result is what happened to one queue message.
type Result struct {
	MessageID    string
	PushID       string
	Outcome      Outcome
	Action       Action
	ReceiveCount int
	Endpoints    int
	Sent         int
	Failed       int // failed for good, skipped devices included
	Skipped      int // disabled devices: recorded skipped, nothing published
	Disabled     int // devices this attempt marked disabled (SNS said their endpoint is dead)
	Duplicates   int
	Uncertain    int
	Retrying     int // transient failures
	Busy         int // held by another invocation right now
	Pending      int // not started, or interrupted before any effect: the time budget ran out
	Expired      int // recorded expired: later than the lateness limit
	Requeues     int // how often the message was requeued before, without progress
	// LatenessMs is the time from the due time to the last SNS confirmation of this attempt;
	// Lateness tells whether it was measured (something was sent).
	LatenessMs int64
	Lateness   bool
	DueSource  string // which attribute or field gave the due time
	Reason     string // why the message was parked, requeued or retried
	Err        error  // the invalid-input error, or the last transient error

	revision int // the push's revision when the schedules index has a row to finish
}

// Retry reports whether the message must be returned as a batch item failure.
func (r Result) Retry() bool { return r.Action == ActionRetry }

// Handle processes an SQS batch. Per-message problems become batch item failures, never a
// handler error: an error would make the whole batch come back.
func (s *Service) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	results := s.Process(ctx, ev.Records)
	for _, r := range results {
		if r.Retry() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageID})
		}
	}
	s.emitMetrics(results)
	return resp, nil
}

// emitMetrics writes the batch's metrics (EMF): deliveries sent, failed for good or to be
// retried, devices disabled, pushes expired or parked, and each sent push's lateness.
func (s *Service) emitMetrics(results []Result) {
	if s.Metrics == nil {
		return
	}
	counts := map[string]float64{metrics.Sent: 0, metrics.PermanentFailures: 0, metrics.TransientFailures: 0,
		metrics.EndpointsDisabled: 0, metrics.Expired: 0, metrics.Parked: 0}
	var lateness []float64
	for _, r := range results {
		counts[metrics.Sent] += float64(r.Sent)
		counts[metrics.PermanentFailures] += float64(r.Failed)
		counts[metrics.TransientFailures] += float64(r.Retrying)
		counts[metrics.EndpointsDisabled] += float64(r.Disabled)
		if r.Outcome == OutcomeExpired {
			counts[metrics.Expired]++
		}
		if r.Action == ActionParked {
			counts[metrics.Parked]++
		}
		if r.Lateness && r.Sent > 0 {
			lateness = append(lateness, float64(r.LatenessMs))
		}
	}
	if err := s.Metrics.Emit(counts, map[string][]float64{metrics.LatenessMs: lateness}); err != nil {
		s.logger().Warn("metrics not written", "error", err.Error())
	}
}

// interrupted reports whether err is the invocation's own work deadline cutting a call short:
// time ran out for the batch, the dependency did not fail.
func (inv *invocation) interrupted(err error) bool {
	return inv.work.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
}

// invocation is the state shared by the messages of one batch.
type invocation struct {
	budget *budget
	work   context.Context // claims, lookups and publishes: ends at budget.cut
	sem    chan struct{}   // endpoint deliveries in flight
	lease  time.Duration   // from the claim to the lease's end
	token  string          // random per invocation; claims add a sequence number
	seq    atomic.Uint64
}

func (inv *invocation) newLease(now time.Time) Lease {
	return Lease{
		Token:   inv.token + "-" + strconv.FormatUint(inv.seq.Add(1), 10),
		UntilMs: now.Add(inv.lease).UnixMilli(),
	}
}

// Process handles the records concurrently and returns one Result per record, in order. It
// returns before the context's deadline with every record accounted for.
func (s *Service) Process(ctx context.Context, records []events.SQSMessage) []Result {
	wall := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = wall.Add(DefaultTimeout)
	}
	// Half the last invocation's slowest: what it remembers fades when things improve.
	b := newBudget(wall, deadline, time.Duration(s.recentSlowest.Load()/2))
	defer func() { s.recentSlowest.Store(b.slowest.Load()) }()
	work, cancel := context.WithDeadline(ctx, b.cut)
	defer cancel()
	fanOut := s.FanOut
	if fanOut <= 0 {
		fanOut = DefaultFanOut
	}
	skew := s.LeaseSkew
	if skew <= 0 {
		skew = DefaultLeaseSkew
	}
	inv := &invocation{
		budget: b, work: work, sem: make(chan struct{}, fanOut),
		// The lease outlives every call this invocation can still make: Lambda stops it
		// at the deadline.
		lease: deadline.Sub(wall) + skew,
		token: randomToken(),
	}
	results := make([]Result, len(records))
	var wg sync.WaitGroup
	for i := range records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.processSafe(ctx, inv, &records[i])
		}()
	}
	wg.Wait()
	return results
}

// processSafe turns a panic (a bug; no input should cause one) into a retry of that message
// only, so one bad record cannot fail its nine neighbours.
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

// job is one valid push being delivered.
type job struct {
	push       push.Push
	id         string
	message    string // the SNS message
	due        time.Time
	hasDue     bool
	atMostOnce bool
	expired    string // why the push is expired; "" when it is not
}

func (s *Service) process(ctx context.Context, inv *invocation, m *events.SQSMessage) Result {
	r := Result{MessageID: m.MessageId, ReceiveCount: receiveCount(m), Requeues: requeues(m)}
	trusted := s.fromScheduler(m)
	p, err := push.Decode([]byte(m.Body))
	if err != nil {
		r.PushID = push.PeekID([]byte(m.Body))
		if r.PushID == "" {
			r.PushID = m.MessageId
		}
		r.Outcome, r.Err = OutcomeInvalid, err
		s.park(ctx, inv, &r, invalidMessage(m, err))
		return r
	}
	j := &job{push: p, id: pushID(p, m, trusted)}
	r.PushID = j.id
	j.due, r.DueSource, j.hasDue = dueTime(p, m, trusted)
	if j.hasDue && s.now().Before(j.due) {
		s.holdUntilDue(ctx, inv, &r, j)
		return r
	}
	if s.Index != nil && p.Revision > 0 {
		if !inv.budget.canStart(time.Now()) {
			r.Pending = 1
			s.settle(ctx, inv, &r, j, time.Time{})
			return r
		}
		gate, current, err := s.Index.Begin(inv.work, j.id, p.Revision, s.now())
		switch {
		case err != nil && inv.interrupted(err):
			r.Pending = 1
		case err != nil:
			r.Retrying, r.Err = 1, fmt.Errorf("schedules index: %w", err)
		case gate == GateCancelled:
			r.Outcome, r.Action, r.Reason = OutcomeCancelled, ActionDone, "the key was cancelled through the client: not sent"
			return r
		case gate == GateSuperseded:
			r.Outcome, r.Action = OutcomeSuperseded, ActionDone
			r.Reason = fmt.Sprintf("the key was rescheduled: revision %d is current, this is %d: not sent", current, p.Revision)
			return r
		}
		if r.Pending+r.Retrying > 0 {
			s.settle(ctx, inv, &r, j, time.Time{})
			return r
		}
		r.revision = p.Revision
	}
	if limit := s.lateness(p); j.hasDue && limit > 0 {
		if late := s.now().Sub(j.due); late > limit {
			j.expired = fmt.Sprintf("due %s, %s late: over the lateness limit of %s: not sent",
				j.due.UTC().Format(time.RFC3339), late.Round(time.Second), limit)
		}
	}
	j.atMostOnce = p.Delivery == push.DeliveryAtMostOnce ||
		(p.Delivery == "" && s.Guarantee == push.DeliveryAtMostOnce)
	if j.message, err = fcm.BuildMessage(p, j.id); err != nil {
		r.Outcome, r.Err = OutcomeInvalid, err
		s.park(ctx, inv, &r, invalidMessage(m, err))
		return r
	}

	endpoints := []Endpoint{{ARN: p.EndpointARN}}
	if p.UserID != "" {
		if !inv.budget.canStart(time.Now()) {
			r.Pending = 1
			s.settle(ctx, inv, &r, j, time.Time{})
			return r
		}
		endpoints, err = s.Registry.Endpoints(inv.work, p.UserID)
		if err != nil {
			if inv.interrupted(err) {
				r.Pending = 1
			} else {
				r.Retrying, r.Err = 1, fmt.Errorf("device registry: %w", err)
			}
			s.settle(ctx, inv, &r, j, time.Time{})
			return r
		}
		if len(endpoints) == 0 {
			// Nothing to retry: the user may register a device later, but this push is for now.
			r.Outcome, r.Action, r.Reason = OutcomeNoDevices, ActionDone, "the user has no registered device"
			return r
		}
	}
	r.Endpoints = len(endpoints)

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

	var busyUntil time.Time
	for _, er := range results {
		if er.disabled {
			r.Disabled++
		}
		switch er.kind {
		case epSent:
			r.Sent++
			if j.hasDue && (!r.Lateness || er.latenessMs > r.LatenessMs) {
				r.LatenessMs, r.Lateness = er.latenessMs, true
			}
		case epFailed:
			r.Failed++
		case epSkipped:
			r.Failed++
			r.Skipped++
		case epDuplicate:
			r.Duplicates++
		case epUncertain:
			r.Uncertain++
		case epRetry:
			r.Retrying++
			r.Err = er.err
		case epBusy:
			r.Busy++
			if er.busyUntil.After(busyUntil) {
				busyUntil = er.busyUntil
			}
		case epPending:
			r.Pending++
		case epExpired:
			r.Expired++
		}
	}
	if r.Expired > 0 {
		r.Reason = j.expired
	}
	s.settle(ctx, inv, &r, j, busyUntil)
	return r
}

// settle decides what happens to the message once its endpoints are through.
func (s *Service) settle(ctx context.Context, inv *invocation, r *Result, j *job, busyUntil time.Time) {
	if r.Retrying == 0 && r.Busy == 0 && r.Pending == 0 {
		r.Action = ActionDone
		switch {
		case r.Expired > 0 && r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
			r.Outcome = OutcomeExpired
		case r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
			r.Outcome = OutcomeDuplicate
		case r.Sent == 0 && r.Duplicates == 0:
			r.Outcome = OutcomeFailed
		case r.Failed > 0 || r.Uncertain > 0:
			r.Outcome = OutcomePartial
		default:
			r.Outcome = OutcomeSent
		}
		return
	}
	r.Outcome = OutcomeIncomplete
	if r.Retrying == 0 && r.Requeues >= MaxRequeuesWithoutProgress && r.Sent+r.Failed+r.Uncertain == 0 {
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
		var delay time.Duration
		if r.Busy > 0 {
			r.Reason = "another invocation is delivering it now"
			delay = min(max(time.Until(busyUntil), time.Second), maxQueueDelay)
		} else {
			r.Reason = "time budget of the invocation used up"
		}
		n := 0 // requeues without progress so far, the progress made now resets it
		if r.Sent+r.Failed+r.Uncertain == 0 {
			n = r.Requeues + 1
		}
		requeue := Message{Body: normalizedBody(j), Delay: delay,
			Attributes: map[string]Attribute{attrRequeues: {DataType: "Number", Value: strconv.Itoa(n)}}}
		if err := s.queueWrite(ctx, inv, func(qctx context.Context) error {
			return s.Queue.Requeue(qctx, requeue)
		}); err != nil {
			r.Action, r.Err, r.Reason = ActionRetry, err, r.Reason+"; requeue failed: "+Reason(err)
			return
		}
		r.Action = ActionRequeued
	}
}

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
	held := Message{Body: normalizedBody(j), Delay: delay,
		Attributes: map[string]Attribute{attrRequeues: {DataType: "Number", Value: strconv.Itoa(r.Requeues)}}}
	if err := s.queueWrite(ctx, inv, func(qctx context.Context) error { return s.Queue.Requeue(qctx, held) }); err != nil {
		r.Action, r.Err, r.Reason = ActionRetry, err, r.Reason+"; requeue failed: "+Reason(err)
		return
	}
	r.Action = ActionRequeued
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

func (s *Service) logResult(ctx context.Context, r Result) {
	attrs := []any{
		"messageId", r.MessageID, "pushId", r.PushID, "outcome", string(r.Outcome), "action", string(r.Action),
		"receiveCount", r.ReceiveCount, "endpoints", r.Endpoints, "sent", r.Sent, "failed", r.Failed,
		"duplicates", r.Duplicates,
	}
	for _, kv := range []struct {
		k string
		v int
	}{{"skipped", r.Skipped}, {"uncertain", r.Uncertain}, {"expired", r.Expired}, {"retrying", r.Retrying}, {"busy", r.Busy}, {"pending", r.Pending}, {"requeues", r.Requeues}} {
		if kv.v > 0 {
			attrs = append(attrs, kv.k, kv.v)
		}
	}
	if r.Lateness {
		attrs = append(attrs, "latenessMs", r.LatenessMs)
	}
	if r.DueSource != "" {
		attrs = append(attrs, "dueSource", r.DueSource)
	}
	if r.Reason != "" {
		attrs = append(attrs, "reason", r.Reason)
	}
	if field := invalidField(r.Err); field != "" {
		attrs = append(attrs, "field", field)
	}
	if r.Err != nil {
		attrs = append(attrs, "error", r.Err.Error())
	}
	level := slog.LevelInfo
	switch {
	case r.Outcome == OutcomeInvalid || r.Action == ActionParked:
		level = slog.LevelError
	case r.Action == ActionRetry || r.Outcome == OutcomeFailed || r.Outcome == OutcomePartial || r.Outcome == OutcomeExpired:
		level = slog.LevelWarn
	}
	s.logger().Log(ctx, level, "push processed", attrs...)
}

// lateness is the lateness limit of p: its own, else the service's.
func (s *Service) lateness(p push.Push) time.Duration {
	if p.MaxLatenessSeconds > 0 {
		return time.Duration(p.MaxLatenessSeconds) * time.Second
	}
	return s.MaxLateness
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
	}
	if r.Lateness {
		f.LatenessMs = &r.LatenessMs
	}
	if err := s.queueWrite(ctx, inv, func(c context.Context) error { return s.Index.Finish(c, r.PushID, r.revision, f) }); err != nil {
		s.logger().WarnContext(ctx, "could not record the outcome in the schedules index", "pushId", r.PushID,
			"revision", r.revision, "error", err.Error())
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
