package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/internal/push"
)

// Defaults for Service fields left zero.
const (
	// DefaultConcurrency processes a whole batch (10, see stacks/sender.go) at once.
	DefaultConcurrency = 10
	// DefaultMinLease is the shortest claim lease. The queue's visibility timeout (six times
	// the function timeout) is longer, so a redelivery finds an abandoned lease expired.
	DefaultMinLease = 60 * time.Second
	// markTimeout bounds the log writes after a publish; they run even when the invocation's
	// context is done so that a confirmed publish still gets recorded.
	markTimeout = 5 * time.Second
)

// Outcome of one queue message, as logged.
type Outcome string

const (
	OutcomeSent      Outcome = "sent"       // every endpoint sent (or already sent earlier)
	OutcomePartial   Outcome = "partial"    // some sent, some failed permanently
	OutcomeFailed    Outcome = "failed"     // every endpoint failed permanently
	OutcomeDuplicate Outcome = "duplicate"  // every endpoint was already done: a redelivery
	OutcomeNoDevices Outcome = "no_devices" // the user has no registered device
	OutcomeInvalid   Outcome = "invalid"    // bad message: batch item failure, ends in the DLQ
	OutcomeRetry     Outcome = "retry"      // a transient failure: batch item failure
)

// Service is the sender. Registry, Log and Publisher are required.
type Service struct {
	Registry  Registry
	Log       Log
	Publisher Publisher
	Logger    *slog.Logger     // default slog.Default()
	Now       func() time.Time // default time.Now
	// Concurrency bounds the messages processed at once (default DefaultConcurrency).
	Concurrency int
	// MinLease is the shortest claim lease (default DefaultMinLease); the lease is otherwise
	// twice the invocation's remaining time, about twice the function timeout.
	MinLease time.Duration
}

// Result is what happened to one queue message.
type Result struct {
	MessageID  string
	PushID     string
	Outcome    Outcome
	Endpoints  int
	Sent       int
	Failed     int
	Duplicates int
	Retrying   int
	LatenessMs int64
	DueSource  string // which attribute or field gave the due time
	Err        error  // the invalid-input error, or the last transient error
}

// Retry reports whether the message must be returned as a batch item failure.
func (r Result) Retry() bool { return r.Outcome == OutcomeInvalid || r.Outcome == OutcomeRetry }

// Handle processes an SQS batch. Per-message problems become batch item failures, never a
// handler error: an error would make Lambda retry the whole batch, re-sending the successes'
// messages (harmless thanks to the log, but wasteful).
func (s *Service) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	results := s.Process(ctx, ev.Records)
	var resp events.SQSEventResponse
	for _, r := range results {
		if r.Retry() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageID})
		}
	}
	return resp, nil
}

// Process handles the records concurrently and returns one Result per record, in order.
func (s *Service) Process(ctx context.Context, records []events.SQSMessage) []Result {
	lease := s.lease(ctx)
	n := s.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	sem := make(chan struct{}, n)
	results := make([]Result, len(records))
	var wg sync.WaitGroup
	for i := range records {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = s.processSafe(ctx, &records[i], lease)
		}()
	}
	wg.Wait()
	return results
}

// processSafe turns a panic (a bug; no input should cause one) into a retry of that message
// only, so one bad record cannot fail its nine neighbours.
func (s *Service) processSafe(ctx context.Context, m *events.SQSMessage, lease time.Duration) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{MessageID: m.MessageId, Outcome: OutcomeRetry, Err: fmt.Errorf("panic: %v", p)}
			s.logger().ErrorContext(ctx, "sender panic", "messageId", m.MessageId, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	r = s.process(ctx, m, lease)
	s.logResult(ctx, r)
	return r
}

func (s *Service) process(ctx context.Context, m *events.SQSMessage, lease time.Duration) Result {
	now := s.now()
	r := Result{MessageID: m.MessageId}

	p, err := push.Decode([]byte(m.Body))
	r.PushID = pushID(p, m)
	if due, src, ok := dueTime(p, m); ok {
		r.LatenessMs, r.DueSource = now.Sub(due).Milliseconds(), src
	}
	if err != nil {
		r.Outcome, r.Err = OutcomeInvalid, err
		return r
	}
	msg, err := fcm.BuildMessage(p)
	if err != nil {
		r.Outcome, r.Err = OutcomeInvalid, err
		return r
	}

	endpoints := []string{p.EndpointARN}
	if p.UserID != "" {
		endpoints, err = s.Registry.Endpoints(ctx, p.UserID)
		if err != nil {
			r.Outcome, r.Err = OutcomeRetry, fmt.Errorf("device registry: %w", err)
			return r
		}
		if len(endpoints) == 0 {
			// Nothing to retry: the user may register a device later, but this push is for now.
			r.Outcome = OutcomeNoDevices
			return r
		}
	}
	r.Endpoints = len(endpoints)
	for _, ep := range endpoints {
		s.deliver(ctx, &r, Key{PushID: r.PushID, EndpointARN: ep}, p.UserID, msg, lease)
	}
	switch {
	case r.Retrying > 0:
		r.Outcome = OutcomeRetry
	case r.Sent == 0 && r.Failed == 0:
		r.Outcome = OutcomeDuplicate
	case r.Sent == 0 && r.Duplicates == 0:
		r.Outcome = OutcomeFailed
	case r.Failed > 0:
		r.Outcome = OutcomePartial
	default:
		r.Outcome = OutcomeSent
	}
	return r
}

// deliver is claim → publish → mark for one endpoint. Only a publish that returned a message id
// is ever marked sent.
func (s *Service) deliver(ctx context.Context, r *Result, k Key, userID, msg string, lease time.Duration) {
	log := s.logger().With("pushId", k.PushID, "endpointArn", k.EndpointARN)
	if ctx.Err() != nil {
		// Out of time: leave it for the redelivery rather than claim what we cannot finish.
		r.Retrying++
		r.Err = ctx.Err()
		return
	}
	claim, err := s.Log.Claim(ctx, k, userID, s.now(), lease)
	if err != nil {
		r.Retrying++
		r.Err = fmt.Errorf("claim: %w", err)
		log.WarnContext(ctx, "delivery claim failed", "error", err.Error())
		return
	}
	switch claim.Outcome {
	case AlreadyDone:
		r.Duplicates++
		log.InfoContext(ctx, "delivery already done, not publishing again")
		return
	case Busy:
		r.Retrying++
		r.Err = errors.New("delivery in progress in another invocation")
		log.InfoContext(ctx, "delivery claimed by another invocation, retrying later")
		return
	}

	id, pubErr := s.Publisher.Publish(ctx, k.EndpointARN, msg)

	// Marks run on a context that survives the invocation's deadline, briefly, so that the
	// outcome of a publish that did happen is not lost to a timeout.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if pubErr == nil && id == "" {
		pubErr = errors.New("publish returned no message id")
	}
	if pubErr == nil {
		r.Sent++
		if err := s.Log.MarkSent(mctx, k, claim.Lease, id, s.now()); err != nil {
			// The push is out; retrying the message could send it twice, so it stays a
			// success. The record stays "sending" and expires with its TTL.
			log.ErrorContext(ctx, "published but could not record sent", "snsMessageId", id, "error", err.Error())
		}
		return
	}
	class, reason := Classify(pubErr), Reason(pubErr)
	if class == Permanent {
		r.Failed++
		log.WarnContext(ctx, "publish failed permanently", "errorClass", string(class), "reason", reason)
		if err := s.Log.MarkFailed(mctx, k, claim.Lease, reason, s.now()); err != nil {
			log.ErrorContext(ctx, "could not record failed", "error", err.Error())
		}
		return
	}
	r.Retrying++
	r.Err = pubErr
	log.WarnContext(ctx, "publish failed, will retry", "errorClass", string(class), "reason", reason)
	if err := s.Log.MarkRetry(mctx, k, claim.Lease, reason, s.now()); err != nil {
		// The lease expires before the message is visible again, so the retry can reclaim.
		log.ErrorContext(ctx, "could not record retry", "error", err.Error())
	}
}

func (s *Service) logResult(ctx context.Context, r Result) {
	attrs := []any{
		"messageId", r.MessageID, "pushId", r.PushID, "outcome", string(r.Outcome),
		"endpoints", r.Endpoints, "sent", r.Sent, "failed", r.Failed,
		"duplicates", r.Duplicates, "retrying", r.Retrying,
	}
	if r.DueSource != "" {
		attrs = append(attrs, "latenessMs", r.LatenessMs, "dueSource", r.DueSource)
	}
	var ie *push.InvalidError
	var tl *fcm.TooLargeError
	switch {
	case errors.As(r.Err, &ie):
		attrs = append(attrs, "field", ie.Field, "error", ie.Error())
	case errors.As(r.Err, &tl):
		attrs = append(attrs, "field", tl.Field, "error", tl.Error())
	case r.Err != nil:
		attrs = append(attrs, "error", r.Err.Error())
	}
	level := slog.LevelInfo
	switch r.Outcome {
	case OutcomeInvalid:
		level = slog.LevelError
	case OutcomeRetry, OutcomeFailed, OutcomePartial:
		level = slog.LevelWarn
	}
	s.logger().Log(ctx, level, "push processed", attrs...)
}

// lease is twice the invocation's remaining time (about twice the function timeout), at
// least MinLease: a claim outlives any publish this invocation could still be making.
func (s *Service) lease(ctx context.Context) time.Duration {
	minLease := s.MinLease
	if minLease <= 0 {
		minLease = DefaultMinLease
	}
	if dl, ok := ctx.Deadline(); ok {
		if l := 2 * dl.Sub(s.now()); l > minLease {
			return l
		}
	}
	return minLease
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

// pushID: body id, else the executionName attribute, else the SQS message id (stable across
// redeliveries of one message). docs/CONTRACTS.md.
func pushID(p push.Push, m *events.SQSMessage) string {
	if p.ID != "" {
		return p.ID
	}
	if v := attr(m, "executionName"); v != "" {
		return v
	}
	return m.MessageId
}

// dueTime: attribute sendAt, else scheduledAt + delaySeconds, else body dueAt, else the SQS
// SentTimestamp. A malformed source is skipped for the next one: lateness is a metric, not a
// reason to reject a push.
func dueTime(p push.Push, m *events.SQSMessage) (time.Time, string, bool) {
	if t, err := time.Parse(time.RFC3339, attr(m, "sendAt")); err == nil {
		return t, "sendAt", true
	}
	if start, err := time.Parse(time.RFC3339, attr(m, "scheduledAt")); err == nil {
		if d, err := strconv.ParseFloat(attr(m, "delaySeconds"), 64); err == nil && d >= 0 && d <= 1e9 {
			return start.Add(time.Duration(d * float64(time.Second))), "delaySeconds", true
		}
	}
	if t, ok := p.DueTime(); ok {
		return t, "dueAt", true
	}
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
		return time.UnixMilli(ms), "sentTimestamp", true
	}
	return time.Time{}, "", false
}

func attr(m *events.SQSMessage, name string) string {
	if a, ok := m.MessageAttributes[name]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}
