package pushctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// fakePushes records what pushctl asked and answers like the client.
type fakePushes struct {
	requests []client.Request
	changes  []client.Change
	sendNow  []push.Push
	status   client.Status
	pages    []client.Page
	lists    []client.ListOptions
	err      error
}

func (f *fakePushes) Schedule(_ context.Context, r client.Request) (client.Scheduled, error) {
	f.requests = append(f.requests, r)
	if f.err != nil {
		return client.Scheduled{}, f.err
	}
	due := t0.Add(r.Delay)
	if !r.At.IsZero() {
		due = r.At
	}
	return client.Scheduled{Key: r.Key, Revision: 1, ExecutionName: r.Key, DueAt: due, State: client.StateScheduled}, nil
}

func (f *fakePushes) SendNow(_ context.Context, key string, p push.Push) (client.Scheduled, error) {
	f.sendNow = append(f.sendNow, p)
	return client.Scheduled{Key: key, Revision: 1, DueAt: t0, State: client.StateScheduled}, f.err
}

func (f *fakePushes) Get(context.Context, string) (client.Status, error) { return f.status, f.err }

func (f *fakePushes) Cancel(context.Context, string) (client.Status, error) {
	st := f.status
	st.State = client.StateCancelled
	return st, f.err
}

func (f *fakePushes) Reschedule(_ context.Context, key string, ch client.Change) (client.Scheduled, error) {
	f.changes = append(f.changes, ch)
	return client.Scheduled{Key: key, Revision: 2, ExecutionName: key + "--2", DueAt: t0.Add(ch.Delay), State: client.StateScheduled}, f.err
}

func (f *fakePushes) List(_ context.Context, o client.ListOptions) (client.Page, error) {
	f.lists = append(f.lists, o)
	if len(f.pages) == 0 {
		return client.Page{}, f.err
	}
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, f.err
}

func run(t *testing.T, b *Backend, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errOut, Connect: func(context.Context, Target) (*Backend, error) {
		if b == nil {
			return nil, errors.New("stack DelayedPush: not found")
		}
		return b, nil
	}}
	code = app.Run(context.Background(), args)
	return out.String(), errOut.String(), code
}

func TestScheduleBuildsThePushFromFlags(t *testing.T) {
	f := &fakePushes{}
	out, errOut, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "order-42", "--delay", "5m", "--user", "u-42",
		"--title", "Shipped", "--body", "Tuesday", "--data", "orderId=42", "--data", "kind=ship", "--ttl", "3600",
		"--priority", "high", "--max-lateness", "1h")
	require.Equal(t, 0, code, errOut)
	require.Len(t, f.requests, 1)
	r := f.requests[0]
	assert.Equal(t, "order-42", r.Key)
	assert.Equal(t, 5*time.Minute, r.Delay)
	ttl := 3600
	assert.Equal(t, push.Push{UserID: "u-42", Title: "Shipped", Body: "Tuesday", Data: map[string]string{"orderId": "42", "kind": "ship"},
		TTLSeconds: &ttl, Priority: "high", MaxLatenessSeconds: 3600}, r.Push)
	assert.Equal(t, "scheduled: order-42 (revision 1), due 2026-12-01T09:05:00Z, execution order-42, state scheduled\n", out)
}

func TestScheduleTimesAndJSONOutput(t *testing.T) {
	f := &fakePushes{}
	out, _, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "k", "--at", "2026-12-24T18:00:00+01:00",
		"--push-json", `{"userId":"u","title":"Merry"}`, "--json")
	require.Equal(t, 0, code)
	assert.Equal(t, time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC), f.requests[0].At.UTC())
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, map[string]any{"key": "k", "revision": 1.0, "state": "scheduled", "dueAt": "2026-12-24T17:00:00Z",
		"executionName": "k", "alreadyScheduled": false}, got)

	_, _, code = run(t, &Backend{Pushes: f}, "schedule", "--key", "k2", "--now", "--user", "u", "--title", "t")
	require.Equal(t, 0, code)
	assert.Zero(t, f.requests[1].Delay)
	assert.True(t, f.requests[1].At.IsZero(), "now: neither a delay nor a time")
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	cases := map[string][]string{
		"pushctl schedule: --key is required":                                        {"schedule", "--delay", "5m", "--user", "u", "--title", "t"},
		"pushctl schedule: give --delay, --at or --now":                              {"schedule", "--key", "k", "--user", "u", "--title", "t"},
		"pushctl schedule: give one of --delay, --at and --now":                      {"schedule", "--key", "k", "--delay", "5m", "--now", "--user", "u"},
		"pushctl schedule: --delay wants a duration":                                 {"schedule", "--key", "k", "--delay", "soon", "--user", "u"},
		"pushctl schedule: --at wants an RFC 3339 time":                              {"schedule", "--key", "k", "--at", "tomorrow", "--user", "u"},
		`pushctl schedule: invalid value "x" for flag -data: --data wants key=value`: {"schedule", "--key", "k", "--data", "x"},
		"pushctl get: takes one argument, the key, got 0":                            {"get"},
		"pushctl: unknown command \"frobnicate\"":                                    {"frobnicate"},
		"pushctl reschedule: give a new time":                                        {"reschedule", "k"},
	}
	for want, args := range cases {
		t.Run(want, func(t *testing.T) {
			out, errOut, code := run(t, &Backend{Pushes: &fakePushes{}}, args...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.True(t, strings.HasPrefix(errOut, want), errOut)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func TestCallErrorsExitOneWithTheClientsWords(t *testing.T) {
	f := &fakePushes{err: &push.InvalidError{Field: "push.title", Reason: "title and body are both empty: at least one is required"}}
	_, errOut, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "k", "--delay", "60", "--user", "u")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl schedule: invalid push.title: title and body are both empty: at least one is required\n", errOut)

	_, errOut, code = run(t, nil, "get", "k")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl get: stack DelayedPush: not found\n", errOut)

	f = &fakePushes{err: fmt.Errorf("key \"k\": %w: it is\nsent", client.ErrTooLate)}
	_, errOut, code = run(t, &Backend{Pushes: f}, "cancel", "k")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl cancel: key \"k\": the push is no longer scheduled: it is sent\n", errOut, "always one line")
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		out, errOut, code := run(t, nil, c.name, "--help")
		assert.Equal(t, 0, code, c.name)
		assert.Empty(t, errOut)
		assert.Contains(t, out, "Usage: pushctl "+c.name)
		assert.Contains(t, out, "-json")
		assert.Contains(t, out, "-local")
	}
	out, _, code := run(t, nil, "--help")
	assert.Equal(t, 0, code)
	for _, c := range commands {
		assert.Contains(t, out, c.name)
	}
}

func TestGetPrintsStateTimeLeftAndOutcome(t *testing.T) {
	late := int64(840)
	f := &fakePushes{status: client.Status{Key: "k", State: client.StateSent, Revision: 2, DueAt: t0,
		Push: push.Push{UserID: "u-1", Title: "Hi"}, ExecutionName: "k--2",
		Outcome: &client.Outcome{Result: "partial", Endpoints: 3, Sent: 2, Failed: 1, LatenessMs: &late, Reason: "one endpoint disabled"}}}
	out, _, code := run(t, &Backend{Pushes: f}, "get", "k")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "state:     sent\n")
	assert.Contains(t, out, "outcome:   partial, 2 of 3 devices sent, 1 failed, 840 ms after the due time\n")
	assert.Contains(t, out, "reason:    one endpoint disabled\n")

	out, _, code = run(t, &Backend{Pushes: f}, "get", "k", "--json")
	require.Equal(t, 0, code)
	var got struct {
		State   string          `json:"state"`
		Push    json.RawMessage `json:"push"`
		Outcome struct {
			Sent int `json:"sent"`
		} `json:"outcome"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "sent", got.State)
	assert.Equal(t, 2, got.Outcome.Sent)
	assert.JSONEq(t, `{"userId":"u-1","title":"Hi"}`, string(got.Push))
}

func TestRescheduleChangesOnlyWhatIsGiven(t *testing.T) {
	f := &fakePushes{status: client.Status{Key: "k", State: client.StateScheduled, Push: push.Push{ID: "k", Revision: 1, UserID: "u", Title: "Old", Body: "b"}}}
	_, errOut, code := run(t, &Backend{Pushes: f}, "reschedule", "k", "--title", "New")
	require.Equal(t, 0, code, errOut)
	require.NotNil(t, f.changes[0].Push)
	assert.Equal(t, push.Push{UserID: "u", Title: "New", Body: "b"}, *f.changes[0].Push, "the body and recipient stay")
	assert.Zero(t, f.changes[0].Delay, "the time stays")

	_, _, code = run(t, &Backend{Pushes: f}, "reschedule", "k", "--delay", "2h")
	require.Equal(t, 0, code)
	assert.Nil(t, f.changes[1].Push, "the content stays")
	assert.Equal(t, 2*time.Hour, f.changes[1].Delay)
}

func TestPendingFollowsPagesWithAll(t *testing.T) {
	f := &fakePushes{pages: []client.Page{
		{Pushes: []client.Status{{Key: "a", State: "scheduled", DueAt: t0, TimeLeft: time.Hour, Push: push.Push{UserID: "u", Title: "A"}}}, NextPageToken: "tok"},
		{Pushes: []client.Status{{Key: "b", State: "scheduled", DueAt: t0, TimeLeft: 2 * time.Hour, Push: push.Push{UserID: "u", Title: "B"}}}},
	}}
	out, _, code := run(t, &Backend{Pushes: f}, "pending", "--user", "u", "--limit", "1", "--all")
	require.Equal(t, 0, code)
	assert.Equal(t, []client.ListOptions{{UserID: "u", Limit: 1}, {UserID: "u", Limit: 1, PageToken: "tok"}}, f.lists)
	assert.Contains(t, out, "a ")
	assert.Contains(t, out, "b ")
	assert.NotContains(t, out, "more:")
}

func TestSummariseUsesNearestRank(t *testing.T) {
	var ms []int64
	for i := int64(100); i >= 1; i-- {
		ms = append(ms, i*10)
	}
	s := Summarise(ms)
	assert.Equal(t, Stats{Count: 100, Mean: 505, P50: 500, P99: 990, Max: 1000, Min: 10}, s)
	assert.Equal(t, Stats{Count: 1, Mean: 7, P50: 7, P99: 7, Max: 7, Min: 7}, Summarise([]int64{7}))
	assert.Equal(t, Stats{}, Summarise(nil))
}

type fakeScanner struct{ pages []*dynamodb.ScanOutput }

func (f *fakeScanner) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, nil
}

func TestAccuracyReadsEveryPage(t *testing.T) {
	n := func(v string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"latenessMs": &ddbtypes.AttributeValueMemberN{Value: v}}
	}
	sc := &fakeScanner{pages: []*dynamodb.ScanOutput{
		{Items: []map[string]ddbtypes.AttributeValue{n("100"), n("300")}, LastEvaluatedKey: map[string]ddbtypes.AttributeValue{"pushId": &ddbtypes.AttributeValueMemberS{Value: "x"}}},
		{Items: []map[string]ddbtypes.AttributeValue{n("200")}},
	}}
	out, _, code := run(t, &Backend{Scanner: sc, Outputs: map[string]string{"DeliveriesTableName": "d"}}, "accuracy", "--json")
	require.Equal(t, 0, code)
	var got Stats
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, Stats{Count: 3, Mean: 200, P50: 200, P99: 300, Max: 300, Min: 100}, got)
}

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
