package lambdahost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSQS is an in-memory queue: ReceiveMessage hands out pending messages (blocking briefly
// when there are none, like a long poll), DeleteMessageBatch records receipt handles.
type fakeSQS struct {
	mu       sync.Mutex
	pending  []types.Message
	deleted  []string
	receives []*sqs.ReceiveMessageInput
	failNext error
}

func (f *fakeSQS) add(bodies ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bodies {
		id := fmt.Sprintf("id-%s-%d", b, len(f.pending)+len(f.deleted))
		f.pending = append(f.pending, types.Message{
			MessageId:     aws.String(id),
			ReceiptHandle: aws.String("rh-" + id),
			Body:          aws.String(b),
			Attributes:    map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receives = append(f.receives, in)
	if err := f.failNext; err != nil {
		f.failNext = nil
		f.mu.Unlock()
		return nil, err
	}
	n := min(int(in.MaxNumberOfMessages), len(f.pending))
	msgs := f.pending[:n:n]
	f.pending = f.pending[n:]
	f.mu.Unlock()
	if n == 0 {
		select { // a (shortened) long poll
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Entries) > 10 {
		return nil, errors.New("TooManyEntriesInBatchRequest")
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		f.deleted = append(f.deleted, aws.ToString(e.ReceiptHandle))
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) deletedHandles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

// invokerFunc adapts a function to Invoker.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, p []byte) ([]byte, error) { return f(ctx, p) }

// runPoll runs Poll until stop is called; stop waits for Poll to return.
func runPoll(t *testing.T, client SQSClient, src EventSource, fn Invoker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Poll(ctx, client, src, fn) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Error("Poll did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func decodeEvent(t *testing.T, payload []byte) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	require.NoError(t, json.Unmarshal(payload, &ev))
	return ev
}

func testSource(log *bytes.Buffer) EventSource {
	return EventSource{
		QueueURL:       "http://localhost:5000/000000000000/push-queue",
		QueueARN:       "arn:aws:sqs:eu-west-1:000000000000:push-queue",
		BatchSize:      10,
		MaxConcurrency: 1,
		Log:            log,
	}
}

func TestPollDeletesProcessedBatch(t *testing.T) {
	q := &fakeSQS{}
	q.add("a", "b", "c")
	var calls atomic.Int32
	var got []string
	var mu sync.Mutex
	fn := invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
		ev := decodeEvent(t, p)
		mu.Lock()
		for _, r := range ev.Records {
			got = append(got, r.Body)
			assert.Equal(t, "aws:sqs", r.EventSource)
			assert.Equal(t, "arn:aws:sqs:eu-west-1:000000000000:push-queue", r.EventSourceARN)
			assert.Equal(t, "eu-west-1", r.AWSRegion)
		}
		mu.Unlock()
		calls.Add(1)
		return nil, nil // a function without ReportBatchItemFailures returns nothing
	})
	stop := runPoll(t, q, testSource(&bytes.Buffer{}), fn)
	require.Eventually(t, func() bool { return len(q.deletedHandles()) == 3 }, 5*time.Second, 10*time.Millisecond)
	stop()

	assert.Equal(t, int32(1), calls.Load(), "window 0 and all messages available: one batch")
	assert.Equal(t, []string{"a", "b", "c"}, got)
	assert.ElementsMatch(t, []string{"rh-id-a-0", "rh-id-b-1", "rh-id-c-2"}, q.deletedHandles())

	in := q.receives[0]
	assert.Equal(t, "http://localhost:5000/000000000000/push-queue", aws.ToString(in.QueueUrl))
	assert.Equal(t, int32(10), in.MaxNumberOfMessages)
	assert.Equal(t, int32(20), in.WaitTimeSeconds)
	assert.Equal(t, []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}, in.MessageSystemAttributeNames)
	assert.Equal(t, []string{"All"}, in.MessageAttributeNames)
}

func TestPollReportBatchItemFailures(t *testing.T) {
	q := &fakeSQS{}
	q.add("ok1", "fail", "ok2")
	src := testSource(&bytes.Buffer{})
	src.ReportBatchItemFailures = true
	fn := invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
		var resp events.SQSEventResponse
		for _, r := range decodeEvent(t, p).Records {
			if r.Body == "fail" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return json.Marshal(resp)
	})
	stop := runPoll(t, q, src, fn)
	require.Eventually(t, func() bool { return len(q.deletedHandles()) == 2 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	stop()
	assert.ElementsMatch(t, []string{"rh-id-ok1-0", "rh-id-ok2-2"}, q.deletedHandles(), "the failed message stays for redrive")
}

func TestPollFunctionErrorDeletesNothing(t *testing.T) {
	q := &fakeSQS{}
	q.add("a", "b")
	log := &bytes.Buffer{}
	src := testSource(log)
	src.ReportBatchItemFailures = true
	var calls atomic.Int32
	fn := invokerFunc(func(context.Context, []byte) ([]byte, error) {
		calls.Add(1)
		return nil, &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 3.00 seconds"}
	})
	stop := runPoll(t, q, src, fn)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	stop()
	assert.Empty(t, q.deletedHandles())
	assert.Contains(t, log.String(), "[esm push-queue] invocation failed, 2 message(s) left on the queue for retry: Sandbox.Timedout")
}

func TestPollInvalidBatchResponseFailsWholeBatch(t *testing.T) {
	q := &fakeSQS{}
	q.add("a", "b")
	src := testSource(&bytes.Buffer{})
	src.ReportBatchItemFailures = true
	var calls atomic.Int32
	fn := invokerFunc(func(context.Context, []byte) ([]byte, error) {
		calls.Add(1)
		return []byte(`{"batchItemFailures":[{"itemIdentifier":"not-in-batch"}]}`), nil
	})
	stop := runPoll(t, q, src, fn)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	stop()
	assert.Empty(t, q.deletedHandles())
}

func TestBatchItemFailures(t *testing.T) {
	batch := []types.Message{{MessageId: aws.String("m1")}, {MessageId: aws.String("m2")}}
	tests := []struct {
		name    string
		resp    string
		failed  map[string]bool
		wantErr bool
	}{
		{name: "empty response", resp: ``},
		{name: "null response", resp: `null`},
		{name: "empty object", resp: `{}`},
		{name: "null list", resp: `{"batchItemFailures":null}`},
		{name: "empty list", resp: `{"batchItemFailures":[]}`},
		{name: "one failure", resp: `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, failed: map[string]bool{"m2": true}},
		{name: "invalid JSON", resp: `{"batchItemFailures":`, wantErr: true},
		{name: "not an object", resp: `"ok"`, wantErr: true},
		{name: "empty identifier", resp: `{"batchItemFailures":[{"itemIdentifier":""}]}`, wantErr: true},
		{name: "null identifier", resp: `{"batchItemFailures":[{"itemIdentifier":null}]}`, wantErr: true},
		{name: "bad key name", resp: `{"batchItemFailures":[{"id":"m1"}]}`, wantErr: true},
		{name: "unknown message", resp: `{"batchItemFailures":[{"itemIdentifier":"m3"}]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed, err := batchItemFailures([]byte(tt.resp), batch)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tt.failed), len(failed))
			for id := range tt.failed {
				assert.True(t, failed[id], id)
			}
		})
	}
}

func TestPollBatchingWindowCollectsUntilFull(t *testing.T) {
	q := &fakeSQS{}
	q.add("m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11")
	src := testSource(&bytes.Buffer{})
	src.BatchSize = 25
	src.Window = 300 * time.Millisecond
	sizes := make(chan int, 10)
	fn := invokerFunc(func(_ context.Context, p []byte) ([]byte, error) {
		sizes <- len(decodeEvent(t, p).Records)
		return nil, nil
	})
	stop := runPoll(t, q, src, fn)
	go func() { // more messages arrive inside the window
		time.Sleep(100 * time.Millisecond)
		q.add("m12", "m13", "m14", "m15", "m16", "m17", "m18", "m19", "m20", "m21", "m22", "m23", "m24", "m25")
	}()
	select {
	case n := <-sizes:
		assert.Equal(t, 25, n, "one full batch across several ReceiveMessage calls")
	case <-time.After(5 * time.Second):
		t.Fatal("no invocation")
	}
	require.Eventually(t, func() bool { return len(q.deletedHandles()) == 26 }, 5*time.Second, 10*time.Millisecond)
	stop()
	for _, in := range q.receives {
		assert.LessOrEqual(t, in.MaxNumberOfMessages, int32(10))
	}
}

func TestPollRespectsMaxConcurrency(t *testing.T) {
	q := &fakeSQS{}
	for i := range 30 {
		q.add(fmt.Sprint(i))
	}
	src := testSource(&bytes.Buffer{})
	src.BatchSize = 1
	src.MaxConcurrency = 3
	var inFlight, peak atomic.Int32
	fn := invokerFunc(func(context.Context, []byte) ([]byte, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		return nil, nil
	})
	stop := runPoll(t, q, src, fn)
	require.Eventually(t, func() bool { return len(q.deletedHandles()) == 30 }, 10*time.Second, 10*time.Millisecond)
	stop()
	assert.Equal(t, int32(3), peak.Load())
}

func TestPollRetriesAfterReceiveError(t *testing.T) {
	q := &fakeSQS{failNext: errors.New("connection refused")}
	q.add("a")
	log := &bytes.Buffer{}
	stop := runPoll(t, q, testSource(log), invokerFunc(func(context.Context, []byte) ([]byte, error) { return nil, nil }))
	require.Eventually(t, func() bool { return len(q.deletedHandles()) == 1 }, 5*time.Second, 10*time.Millisecond)
	stop()
	assert.Contains(t, log.String(), "ReceiveMessage failed (retrying in 1s): connection refused")
}

func TestPollRequiresQueueURL(t *testing.T) {
	err := Poll(context.Background(), &fakeSQS{}, EventSource{}, invokerFunc(nil))
	assert.Error(t, err)
}
