package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/fcm"
	"github.com/delayed-push/delayed-push/push"
)

// The sender's CPU per push, network left out (BENCHMARKS.md, "Sender overhead"): cmd/benchmd
// runs them with -benchmem, and the Sender benchmarks again with GOMAXPROCS=1.

var body = []byte(PushBody("order-1234-shipped", "user-42", 1))

// BenchmarkDecode is push.Decode: strict JSON decoding with every rule of the contract.
func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := push.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate is Push.Validate alone, on a decoded push (Decode applies the same rules
// as it reads).
func BenchmarkValidate(b *testing.B) {
	p, err := push.Decode(body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildMessage is the SNS message with its FCM HTTP v1 payload.
func BenchmarkBuildMessage(b *testing.B) {
	p, err := push.Decode(body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fcm.BuildMessage(p, p.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// batch10 is a batch of 10 pushes to user-42, due now.
func batch10() events.SQSEvent {
	bodies := make([]string, 10)
	for i := range bodies {
		bodies[i] = PushBody(fmt.Sprintf("push-%d", i), "user-42", 0)
	}
	return Batch(bodies...)
}

// BenchmarkSenderBatch is one batch of 10 pushes, each to a user with one device, through
// delivery.Service.Handle on in-memory ports: decoding, validation, payload, claim, publish and
// record bookkeeping, the log lines and the metrics. One op is a batch: per push is a tenth.
func BenchmarkSenderBatch(b *testing.B) {
	m := NewMemory(1)
	// Every delivery is claimed and published again, not skipped as done.
	handleBatches(b, m.Service(), m.Reset)
	if m.Sent() == 0 {
		b.Fatal("nothing published")
	}
}

// BenchmarkSenderBatchSDK is BenchmarkSenderBatch with the real AWS adapters and SDK clients
// against a loopback stub that answers at once: the sender's CPU including the SDK's
// serializing, signing and HTTP (the stub's own work is on the same machine and counted too).
func BenchmarkSenderBatchSDK(b *testing.B) {
	st := NewStub()
	defer st.Close()
	handleBatches(b, st.Service(), nil)
	b.ReportMetric(float64(st.Calls.Load())/float64(b.N), "calls/op")
}

// BenchmarkSenderBatchSDKInProcess is BenchmarkSenderBatchSDK with the stub called in process,
// without HTTP: the SDK's serializing, signing and deserializing and the sender, nothing else.
func BenchmarkSenderBatchSDKInProcess(b *testing.B) {
	st := NewStub()
	defer st.Close()
	handleBatches(b, st.InProcessService(), nil)
	b.ReportMetric(float64(st.Calls.Load())/float64(b.N), "calls/op")
}

// handleBatches hands batch10 to svc once an op, after reset when there is one, and reports
// the CPU time per op.
func handleBatches(b *testing.B, svc *delivery.Service, reset func()) {
	ev := batch10()
	ctx := context.Background()
	b.ReportAllocs()
	cpu := CPUTime()
	for b.Loop() {
		if reset != nil {
			reset()
		}
		resp, err := svc.Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			b.Fatal(err, resp.BatchItemFailures)
		}
	}
	reportCPU(b, cpu)
}

// reportCPU reports the process's CPU time (user and system, every thread) per op since cpu
// was read: with spare cores the wall time per op hides work done in parallel.
func reportCPU(b *testing.B, cpu time.Duration) {
	if used := CPUTime() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
