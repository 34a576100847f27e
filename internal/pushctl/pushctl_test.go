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

type fakeQueues struct {
	dlq      []sqstypes.Message
	sent     []*sqs.SendMessageInput
	deleted  []string
	released []string
	sendErr  error
}

func (f *fakeQueues) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	n := min(int(in.MaxNumberOfMessages), len(f.dlq))
	out := f.dlq[:n]
	f.dlq = f.dlq[n:]
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *fakeQueues) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeQueues) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.deleted = append(f.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func (f *fakeQueues) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.released = append(f.released, aws.ToString(in.ReceiptHandle))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func parked(id string) sqstypes.Message {
	str := func(v string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
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
