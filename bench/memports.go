package bench

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

// Memory holds the delivery ports in memory, without the AWS SDK and without latency: what is
// left of a push's cost is the sender's own CPU (decoding, validation, the FCM payload, the
// claim and record bookkeeping, the log line and the metrics).
type Memory struct {
	Devices []delivery.Endpoint // every user has these

	mu   sync.Mutex
	log  map[delivery.Key]string // status
	seq  atomic.Int64
	sent atomic.Int64
}

// NewMemory returns ports where every user has n devices.
func NewMemory(n int) *Memory {
	m := &Memory{log: map[delivery.Key]string{}}
	for i := range n {
		m.Devices = append(m.Devices, delivery.Endpoint{ARN: EndpointARN("user", i)})
	}
	return m
}

func (m *Memory) Endpoints(context.Context, string) ([]delivery.Endpoint, error) {
	return m.Devices, nil
}

func (m *Memory) Disable(context.Context, string, string, string, time.Time) error { return nil }

func (m *Memory) Claim(_ context.Context, k delivery.Key, _ delivery.ClaimRequest) (delivery.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.log[k]; ok && delivery.Final(st) {
		return delivery.Claim{Outcome: delivery.AlreadyDone, Status: st}, nil
	}
	m.log[k] = delivery.StatusSending
	return delivery.Claim{Outcome: delivery.Claimed}, nil
}

func (m *Memory) Mark(_ context.Context, k delivery.Key, _ delivery.Lease, mk delivery.Mark) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log[k] = mk.Status
	return nil
}

// Reset forgets the delivery log, so that the same pushes are sent again.
func (m *Memory) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.log)
}

func (m *Memory) Publish(context.Context, string, string) (string, error) {
	m.sent.Add(1)
	return "msg-" + strconv.FormatInt(m.seq.Add(1), 10), nil
}

// Sent is the number of publishes so far.
func (m *Memory) Sent() int64 { return m.sent.Load() }

func (m *Memory) Park(context.Context, delivery.Message) error    { return nil }
func (m *Memory) Requeue(context.Context, delivery.Message) error { return nil }

// Service is the sender on these ports, logging and emitting metrics as in production (JSON
// lines), into io.Discard.
func (m *Memory) Service() *delivery.Service {
	return &delivery.Service{
		Registry: m, Log: m, Publisher: m, Queue: m,
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:     &metrics.Emitter{W: io.Discard, Function: "sender"},
		Guarantee:   "at-least-once",
		MaxLateness: 24 * time.Hour,
	}
}
