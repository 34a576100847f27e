package pushctl

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

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
	assert.Equal(t, "scheduled: order-42 (revision 1), due 2026-12-01T09:05:00Z, engine stepfunctions, execution order-42, state scheduled\n", out)
	assert.Empty(t, r.Engine, "the stack's engine")
}

func TestScheduleTimesAndJSONOutput(t *testing.T) {
	f := &fakePushes{}
	out, _, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "k", "--at", "2026-12-24T18:00:00+01:00",
		"--push-json", `{"userId":"u","title":"Merry"}`, "--json")
	require.Equal(t, 0, code)
	assert.Equal(t, time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC), f.requests[0].At.UTC())
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, map[string]any{"key": "k", "revision": 1.0, "state": "scheduled", "engine": "stepfunctions", "dueAt": "2026-12-24T17:00:00Z",
		"executionName": "k", "alreadyScheduled": false}, got)

	_, _, code = run(t, &Backend{Pushes: f}, "schedule", "--key", "k2", "--now", "--user", "u", "--title", "t")
	require.Equal(t, 0, code)
	assert.Zero(t, f.requests[1].Delay)
	assert.True(t, f.requests[1].At.IsZero(), "now: neither a delay nor a time")
}

// send is schedule --now: the request has neither a delay nor a time, as the client's SendNow.
func TestSendSchedulesNow(t *testing.T) {
	f := &fakePushes{}
	out, errOut, code := run(t, &Backend{Pushes: f}, "send", "--key", "k", "--endpoint", "arn:e", "--body", "Now")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []client.Request{{Key: "k", Push: push.Push{EndpointARN: "arn:e", Body: "Now"}}}, f.requests)
	assert.Equal(t, "scheduled: k (revision 1), due 2026-12-01T09:00:00Z, engine stepfunctions, execution k, state scheduled\n", out)

	_, errOut, code = run(t, &Backend{Pushes: f}, "send", "--user", "u", "--body", "Now")
	assert.Equal(t, ExitUsage, code)
	assert.Equal(t, "pushctl send: --key is required: it names the push and makes a retry safe (pushctl send --help)\n", errOut)
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

func TestEngineOnScheduleAndReschedule(t *testing.T) {
	f := &fakePushes{}
	out, errOut, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "k", "--delay", "1h", "--engine", "economy", "--user", "u", "--title", "t")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, client.EngineEconomy, f.requests[0].Engine)
	assert.Equal(t, "scheduled: k (revision 1), due 2026-12-01T10:00:00Z, engine economy, schedule k.hash.1, state scheduled\n", out)

	_, errOut, code = run(t, &Backend{Pushes: f}, "reschedule", "k", "--engine", "stepfunctions")
	require.Equal(t, 0, code, errOut, "the engine alone is a change")
	assert.Equal(t, client.Change{Engine: client.EngineStepFunctions}, f.changes[0])
	_, errOut, code = run(t, &Backend{Pushes: f}, "reschedule", "k", "--delay", "2h")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, f.changes[1].Engine, "the push keeps its engine")

	// An unknown engine calls nothing.
	_, _, code = run(t, nil, "schedule", "--key", "k", "--delay", "1h", "--engine", "sqs", "--user", "u", "--title", "t")
	assert.Equal(t, ExitUsage, code)
}
