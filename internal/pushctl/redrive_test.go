package pushctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQueues is the dead-letter queue as SQS keeps it: a received message is hidden until it
// is deleted or given back (unless stayVisible: a run outlasting the visibility timeout), and
// each receive of it has a new receipt handle.
type fakeQueues struct {
	dlq      []sqstypes.Message
	sent     []*sqs.SendMessageInput
	deleted  []string
	released []string
	receives []*sqs.ReceiveMessageInput
	sendErr  error

	stayVisible bool
	// sender, if set, plays the sender on each push sent to the push queue: what it returns
	// is parked on the dead-letter queue at once.
	sender func(in *sqs.SendMessageInput) *sqstypes.Message
	// ghosts: message ids SQS delivers once more after they were deleted (at-least-once).
	ghosts map[string]bool

	hidden  map[string]bool   // by message id
	handles map[string]string // the current receipt handle, by message id
	count   map[string]int    // receives, by message id
}

func (f *fakeQueues) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if f.hidden == nil {
		f.hidden, f.handles, f.count = map[string]bool{}, map[string]string{}, map[string]int{}
	}
	f.receives = append(f.receives, in)
	if len(f.receives) > 5000 {
		return nil, errors.New("fake: 5000 receives, the run does not end")
	}
	var out []sqstypes.Message
	for _, m := range f.dlq {
		id := aws.ToString(m.MessageId)
		if len(out) == int(in.MaxNumberOfMessages) || f.hidden[id] {
			continue
		}
		f.count[id]++
		f.handles[id] = aws.ToString(m.ReceiptHandle)
		if n := f.count[id]; n > 1 {
			f.handles[id] = fmt.Sprintf("%s#%d", aws.ToString(m.ReceiptHandle), n)
		}
		f.hidden[id] = !f.stayVisible
		m.ReceiptHandle = aws.String(f.handles[id])
		out = append(out, m)
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *fakeQueues) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	if f.sender != nil {
		if m := f.sender(in); m != nil {
			f.dlq = append(f.dlq, *m)
		}
	}
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeQueues) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	h := aws.ToString(in.ReceiptHandle)
	f.deleted = append(f.deleted, h)
	i := f.find(h)
	if i < 0 {
		return nil, fmt.Errorf("fake: receipt handle %s is not current", h)
	}
	if id := aws.ToString(f.dlq[i].MessageId); f.ghosts[id] {
		delete(f.ghosts, id)
		f.hidden[id] = false // deleted, and yet delivered again
		return &sqs.DeleteMessageOutput{}, nil
	}
	f.dlq = append(f.dlq[:i], f.dlq[i+1:]...)
	return &sqs.DeleteMessageOutput{}, nil
}

func (f *fakeQueues) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	h := aws.ToString(in.ReceiptHandle)
	f.released = append(f.released, h)
	i := f.find(h)
	if i < 0 {
		return nil, fmt.Errorf("fake: receipt handle %s is not current", h)
	}
	f.hidden[aws.ToString(f.dlq[i].MessageId)] = in.VisibilityTimeout > 0
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// find is the index in the dead-letter queue of the message whose current handle is h, or -1.
func (f *fakeQueues) find(h string) int {
	for i, m := range f.dlq {
		if f.handles[aws.ToString(m.MessageId)] == h {
			return i
		}
	}
	return -1
}

// visible is how many messages on the dead-letter queue are visible.
func (f *fakeQueues) visible() int {
	n := 0
	for _, m := range f.dlq {
		if !f.hidden[aws.ToString(m.MessageId)] {
			n++
		}
	}
	return n
}

func str(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func parked(id string) sqstypes.Message {
	return sqstypes.Message{MessageId: aws.String("m-" + id), ReceiptHandle: aws.String("r-" + id), Body: aws.String(`{"id":"` + id + `"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"parkReason": str("gave up after 5 attempts"), "parkedAt": str("2026-12-01T09:00:00Z"), "pushId": str(id),
			"receiveCount": {DataType: aws.String("Number"), StringValue: aws.String("5")}, "requeues": {DataType: aws.String("Number"), StringValue: aws.String("3")},
		}}
}

func TestRedriveMovesBodiesWithoutParkingAttributes(t *testing.T) {
	q := &fakeQueues{dlq: []sqstypes.Message{parked("p1"), parked("p2")}}
	b := &Backend{Queues: q, Outputs: map[string]string{"DeadLetterQueueUrl": "dlq", "PushQueueUrl": "pq"}}
	out, _, code := run(t, b, "redrive")
	require.Equal(t, 0, code)
	require.Len(t, q.sent, 2)
	assert.Equal(t, "pq", aws.ToString(q.sent[0].QueueUrl))
	assert.Equal(t, `{"id":"p1"}`, aws.ToString(q.sent[0].MessageBody))
	assert.Equal(t, []string{"pushId"}, keysOf(q.sent[0].MessageAttributes))
	assert.Equal(t, []string{"r-p1", "r-p2"}, q.deleted)
	assert.Contains(t, out, "2 moved to the push queue")
}

func TestRedriveDryRunMovesNothingAndGivesMessagesBack(t *testing.T) {
	q := &fakeQueues{dlq: []sqstypes.Message{parked("p1")}}
	b := &Backend{Queues: q, Outputs: map[string]string{"DeadLetterQueueUrl": "dlq", "PushQueueUrl": "pq"}}
	out, _, code := run(t, b, "redrive", "--dry-run")
	require.Equal(t, 0, code)
	assert.Empty(t, q.sent)
	assert.Empty(t, q.deleted)
	assert.Equal(t, []string{"r-p1"}, q.released)
	assert.Contains(t, out, "1 would move (dry run)\n  m-p1 push p1: gave up after 5 attempts\n")
}

func TestRedriveKeepsWhatItCouldNotSend(t *testing.T) {
	q := &fakeQueues{dlq: []sqstypes.Message{parked("p1")}, sendErr: errors.New("AccessDenied")}
	b := &Backend{Queues: q, Outputs: map[string]string{"DeadLetterQueueUrl": "dlq", "PushQueueUrl": "pq"}}
	_, errOut, code := run(t, b, "redrive")
	assert.Equal(t, ExitError, code)
	assert.Contains(t, errOut, "it stays on the dead-letter queue")
	assert.Empty(t, q.deleted)
	assert.Equal(t, []string{"r-p1"}, q.released, "visible again at once")
}

func keysOf(m map[string]sqstypes.MessageAttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// setClock fixes the clock a redrive starts by.
func setClock(t *testing.T, at time.Time) {
	t.Helper()
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

// invalidParked is a push the sender parked as invalid (delivery.invalidMessage): the body as
// received, the field named and the reason "invalid push: ...".
func invalidParked(id string) sqstypes.Message {
	m := parked(id)
	m.MessageAttributes["parkReason"] = str("invalid push: invalid push.title: title and body are both empty")
	m.MessageAttributes["invalidField"] = str("push.title")
	return m
}

func redriveBackend(q *fakeQueues) *Backend {
	return &Backend{Queues: q, Outputs: map[string]string{"DeadLetterQueueUrl": "dlq", "PushQueueUrl": "pq"}}
}

// bodiesSent counts the bodies sent to the push queue.
func bodiesSent(q *fakeQueues) map[string]int {
	n := map[string]int{}
	for _, in := range q.sent {
		n[aws.ToString(in.MessageBody)]++
	}
	return n
}

// The measured failure (issue #17): the sender parks each moved invalid push again at once,
// and the redrive took it again until --max. Each message must be moved once, whatever tells
// the run that what comes back is its own output.
func TestRedriveNeverMovesWhatTheSenderParksBackDuringTheRun(t *testing.T) {
	start := t0.Add(time.Hour)
	cases := map[string]struct {
		stayVisible bool
		park        func(n int, in *sqs.SendMessageInput) *sqstypes.Message
	}{
		"parked again at once, parkedAt after the start": {park: func(n int, in *sqs.SendMessageInput) *sqstypes.Message {
			m := invalidParked(fmt.Sprint("again-", n))
			m.Body, m.MessageAttributes["pushId"] = in.MessageBody, in.MessageAttributes["pushId"]
			m.MessageAttributes["parkedAt"] = str(start.Add(time.Second).Format(time.RFC3339Nano))
			return &m
		}},
		"moved back by the queue itself, only its SentTimestamp": {park: func(n int, in *sqs.SendMessageInput) *sqstypes.Message {
			id := fmt.Sprint("again-", n)
			return &sqstypes.Message{MessageId: aws.String("m-" + id), ReceiptHandle: aws.String("r-" + id), Body: in.MessageBody,
				MessageAttributes: in.MessageAttributes, Attributes: map[string]string{"SentTimestamp": fmt.Sprint(start.UnixMilli())}}
		}},
		// The sender's clock behind pushctl's, a push without an id (parked under the push
		// queue's new message id), and a run outlasting the visibility timeout: only the body
		// tells.
		"parkedAt before the start, a new push id, messages visible again": {stayVisible: true, park: func(n int, in *sqs.SendMessageInput) *sqstypes.Message {
			m := invalidParked(fmt.Sprint("again-", n))
			m.Body = in.MessageBody
			m.MessageAttributes["pushId"] = str(fmt.Sprint("m-push-", n))
			m.MessageAttributes["parkedAt"] = str(start.Add(-time.Minute).Format(time.RFC3339Nano))
			return &m
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			setClock(t, start)
			q := &fakeQueues{stayVisible: tc.stayVisible}
			for i := range 26 {
				q.dlq = append(q.dlq, invalidParked(fmt.Sprint("p", i)))
			}
			n := 0
			q.sender = func(in *sqs.SendMessageInput) *sqstypes.Message { n++; return tc.park(n, in) }
			out, errOut, code := run(t, redriveBackend(q), "redrive", "--include-invalid")
			require.Equal(t, 0, code, errOut)
			assert.Len(t, q.sent, 26, "each parked push moved once")
			for body, times := range bodiesSent(q) {
				assert.Equal(t, 1, times, body)
			}
			assert.Len(t, q.dlq, 26, "what the sender parked again stays")
			for _, m := range q.dlq {
				assert.Contains(t, aws.ToString(m.MessageId), "again-", "every message parked before the run was moved")
			}
			assert.Less(t, len(q.receives), 10, "a handful of receives, not one per move")
			assert.Contains(t, out, "26 moved to the push queue\n")
			assert.Contains(t, out, "\nstopped: ")
			if !tc.stayVisible {
				assert.Equal(t, len(q.dlq), q.visible(), "what the run received and left is given back at its end")
			}
		})
	}
}

func TestRedriveSkipsInvalidPushesAndSaysWhy(t *testing.T) {
	setClock(t, t0.Add(time.Hour))
	notJSON := parked("i2")
	notJSON.Body = aws.String("not json")
	notJSON.MessageAttributes["parkReason"] = str("invalid push: not JSON: invalid character 'o' in literal null")
	dlq := func() []sqstypes.Message {
		return []sqstypes.Message{parked("p1"), invalidParked("i1"), notJSON, parked("p2")}
	}

	// Skipped messages visible again during the run (it outlasted the visibility timeout) are
	// not taken twice, and are given back under their latest receipt handle.
	q := &fakeQueues{dlq: dlq(), stayVisible: true}
	out, errOut, code := run(t, redriveBackend(q), "redrive")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, map[string]int{`{"id":"p1"}`: 1, `{"id":"p2"}`: 1}, bodiesSent(q))
	assert.Equal(t, []string{"r-p1", "r-p2"}, q.deleted)
	assert.Equal(t, []string{"r-i1#2", "r-i2#2"}, q.released)
	assert.Equal(t, "2 moved to the push queue\n"+
		"  m-p1 push p1: gave up after 5 attempts\n"+
		"  m-p2 push p2: gave up after 5 attempts\n"+
		"2 skipped, parked as invalid: they stay on the dead-letter queue (the sender would park them again; --include-invalid moves them)\n"+
		"  m-i1 push i1: invalid push: invalid push.title: title and body are both empty\n"+
		"  m-i2 push i2: invalid push: not JSON: invalid character 'o' in literal null\n"+
		"stopped: a receive brought only messages this run had handled or left already\n", out)

	q = &fakeQueues{dlq: dlq()}
	out, _, code = run(t, redriveBackend(q), "redrive", "--json", "--dry-run")
	require.Equal(t, 0, code)
	var got struct {
		DryRun  bool                `json:"dryRun"`
		Moved   []map[string]string `json:"moved"`
		Skipped []map[string]string `json:"skipped"`
		Left    []map[string]string `json:"left"`
		Stopped string              `json:"stopped"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.True(t, got.DryRun)
	assert.Len(t, got.Moved, 2)
	assert.Equal(t, []map[string]string{
		{"messageId": "m-i1", "pushId": "i1", "parkReason": "invalid push: invalid push.title: title and body are both empty", "invalidField": "push.title"},
		{"messageId": "m-i2", "pushId": "i2", "parkReason": "invalid push: not JSON: invalid character 'o' in literal null"},
	}, got.Skipped)
	assert.NotNil(t, got.Left)
	assert.Empty(t, got.Left)
	assert.Equal(t, "no more messages to receive on the dead-letter queue", got.Stopped)
	assert.Empty(t, q.sent)
	assert.Equal(t, 4, q.visible(), "a dry run gives everything back")

	q = &fakeQueues{dlq: dlq()}
	_, _, code = run(t, redriveBackend(q), "redrive", "--include-invalid")
	require.Equal(t, 0, code)
	assert.Equal(t, map[string]int{`{"id":"p1"}`: 1, `{"id":"p2"}`: 1, `{"id":"i1"}`: 1, "not json": 1}, bodiesSent(q), "--include-invalid: each once")
	assert.Empty(t, q.dlq)
}

func TestRedriveMovesMoreThanOneBatchOnce(t *testing.T) {
	setClock(t, t0.Add(time.Hour))
	q := &fakeQueues{ghosts: map[string]bool{"m-p3": true}}
	for i := range 23 {
		q.dlq = append(q.dlq, parked(fmt.Sprint("p", i)))
	}
	out, errOut, code := run(t, redriveBackend(q), "redrive")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, q.sent, 23)
	for body, times := range bodiesSent(q) {
		assert.Equal(t, 1, times, body)
	}
	assert.Empty(t, q.dlq)
	assert.Contains(t, q.deleted, "r-p3#2", "SQS delivered a deleted message again: deleted again, not sent again")
	assert.Contains(t, out, "23 moved to the push queue\n")
	assert.True(t, strings.HasSuffix(out, "stopped: no more messages to receive on the dead-letter queue\n"), out)
	in := q.receives[0]
	assert.Equal(t, []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp}, in.MessageSystemAttributeNames)
	assert.Equal(t, []string{"All"}, in.MessageAttributeNames)
	assert.GreaterOrEqual(t, in.VisibilityTimeout, int32(120), "hidden for longer than a run of 1000 takes")
}

func TestRedriveStopsAtMax(t *testing.T) {
	setClock(t, t0.Add(time.Hour))
	q := &fakeQueues{}
	for i := range 15 {
		q.dlq = append(q.dlq, parked(fmt.Sprint("p", i)))
	}
	out, _, code := run(t, redriveBackend(q), "redrive", "--max", "12")
	require.Equal(t, 0, code)
	assert.Len(t, q.sent, 12)
	var sizes []int32
	for _, in := range q.receives {
		sizes = append(sizes, in.MaxNumberOfMessages)
	}
	assert.Equal(t, []int32{10, 2}, sizes, "never receives more than it may move")
	assert.Len(t, q.dlq, 3)
	assert.Equal(t, 3, q.visible())
	assert.Contains(t, out, "stopped: --max 12 reached; more may be waiting\n")
}

func TestRedriveLeavesASecondParkOfAPushItMoved(t *testing.T) {
	setClock(t, t0.Add(time.Hour))
	twice := parked("p1")
	twice.MessageId, twice.ReceiptHandle, twice.Body = aws.String("m-p1-b"), aws.String("r-p1-b"), aws.String(`{"id":"p1","title":"again"}`)
	q := &fakeQueues{dlq: []sqstypes.Message{parked("p1"), twice}}
	out, _, code := run(t, redriveBackend(q), "redrive")
	require.Equal(t, 0, code)
	assert.Len(t, q.sent, 1)
	assert.Equal(t, []string{"r-p1-b"}, q.released)
	assert.Contains(t, out, "1 received and left on the dead-letter queue\n  m-p1-b push p1: push p1 was moved earlier in this run\n")
}

// deadLettered is a push an economy schedule could not put on the push queue, as EventBridge
// Scheduler dead-letters it: the body is the schedule's input (the push with id, revision and
// dueAt), the attributes say why.
func deadLettered(id string, body string) sqstypes.Message {
	return sqstypes.Message{MessageId: aws.String("m-" + id), ReceiptHandle: aws.String("r-" + id), Body: aws.String(body),
		Attributes: map[string]string{"SentTimestamp": "1796115600000"}, // 2026-12-01T09:00:00Z
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"ERROR_CODE": str("AccessDenied"), "ERROR_MESSAGE": str("not authorized to perform sqs:SendMessage"),
			"EXECUTION_ID": str("e-" + id), "EXHAUSTED_RETRY_CONDITION": str("MaximumEventAgeInSeconds"), "IS_PAYLOAD_TRUNCATED": str("false"),
			"RETRY_ATTEMPTS": str("185"), "SCHEDULED_TIME": str("2026-12-01T08:58:00Z"),
			"SCHEDULE_ARN": str("arn:aws:scheduler:eu-west-1:123456789012:schedule/DelayedPush/" + id + ".x.1"),
			"TARGET_ARN":   str("arn:aws:sqs:eu-west-1:123456789012:DelayedPush-Pushes"),
		}}
}

func TestRedriveFromTheSchedulersDeadLetterQueue(t *testing.T) {
	setClock(t, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	body := func(id string) string {
		return `{"id":"` + id + `","revision":1,"userId":"u","title":"t","dueAt":"2026-12-01T09:00:00.000Z"}`
	}
	truncated := deadLettered("cut", `{"id":"cut","revision":1,"userId":"u","ti`)
	truncated.MessageAttributes["IS_PAYLOAD_TRUNCATED"] = str("true")
	q := &fakeQueues{dlq: []sqstypes.Message{deadLettered("e1", body("e1")), truncated, deadLettered("nodue", `{"id":"nodue","title":"t"}`),
		deadLettered("e2", body("e2"))}}
	b := &Backend{Queues: q, Outputs: map[string]string{"DeadLetterQueueUrl": "dlq", "SchedulerDeadLetterQueueUrl": "edlq", "PushQueueUrl": "pq"}}
	out, errOut, code := run(t, b, "redrive", "--source", "economy")
	require.Equal(t, 0, code, errOut)
	for _, in := range q.receives {
		assert.Equal(t, "edlq", aws.ToString(in.QueueUrl), "the scheduler's dead-letter queue")
	}
	require.Len(t, q.sent, 2)
	assert.Equal(t, body("e1"), aws.ToString(q.sent[0].MessageBody), "the body as the schedule would have sent it")
	assert.Empty(t, q.sent[0].MessageAttributes, "Scheduler's attributes describe the failure, not the push")
	assert.Equal(t, "pq", aws.ToString(q.sent[1].QueueUrl))
	assert.ElementsMatch(t, []string{"r-e1", "r-e2"}, q.deleted)
	assert.ElementsMatch(t, []string{"r-cut", "r-nodue"}, q.released, "what is skipped is given back")
	assert.Contains(t, out, "2 moved to the push queue\n  m-e1 push e1: AccessDenied: not authorized to perform sqs:SendMessage\n")
	assert.Contains(t, out, "2 skipped: they stay on the scheduler's dead-letter queue\n")
	assert.Contains(t, out, "m-cut: the body was cut short (IS_PAYLOAD_TRUNCATED)")
	assert.Contains(t, out, "m-nodue push nodue: the body is not a push with an id and a dueAt")
}

func TestRedriveSourceIsCheckedAndNeedsItsOutput(t *testing.T) {
	q := &fakeQueues{}
	_, errOut, code := run(t, redriveBackend(q), "redrive", "--source", "scheduler")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `--source must be "sender" or "economy", got "scheduler"`)
	_, errOut, code = run(t, redriveBackend(q), "redrive", "--source", "economy")
	assert.Equal(t, ExitError, code)
	assert.Contains(t, errOut, "has no SchedulerDeadLetterQueueUrl output: redeploy it")
	assert.Empty(t, q.receives)
}
