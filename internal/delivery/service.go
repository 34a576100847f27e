package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/metrics"
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
	// Preferences is the recipients' preferences store, read when a push of a user is due for
	// their quiet hours; nil: no quiet hours.
	Preferences Preferences
	// DefaultTimeZone is the zone of quiet hours of a user who has set none (the stack's
	// default zone); "" is UTC.
	DefaultTimeZone string
	// Caps counts pushes against the stack's frequency caps; nil: no caps.
	Caps caps.Store
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

// invocation is the state shared by the messages of one batch.
type invocation struct {
	budget *budget
	work   context.Context // claims, lookups and publishes: ends at budget.cut
	sem    chan struct{}   // endpoint deliveries in flight
	lease  time.Duration   // from the claim to the lease's end
	token  string          // random per invocation; claims add a sequence number
	seq    atomic.Uint64
}

// interrupted reports whether err is the invocation's own work deadline cutting a call short:
// time ran out for the batch, the dependency did not fail.
func (inv *invocation) interrupted(err error) bool {
	return inv.work.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled))
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
