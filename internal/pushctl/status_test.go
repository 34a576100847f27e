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

func TestGetPrintsTheEngine(t *testing.T) {
	f := &fakePushes{status: client.Status{Key: "k", State: client.StateScheduled, Revision: 1, Engine: client.EngineEconomy, DueAt: t0.Add(time.Hour),
		TimeLeft: time.Hour, Push: push.Push{UserID: "u", Title: "T"}}}
	out, errOut, code := run(t, &Backend{Pushes: f}, "get", "k")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "key:       k\nstate:     scheduled\nrevision:  1\nengine:    economy\ndue:       2026-12-01T10:00:00Z\n"+
		"time left: 1h0m0s\nto:        user u\ntitle:     T\nbody:      \n", out, "no execution on the economy engine")
}

// A push whose execution was stopped outside the client: get shows the execution's status,
// pending the state and any warning.
func TestGetAndPendingShowTheExecutionsWord(t *testing.T) {
	f := &fakePushes{status: client.Status{Key: "k", State: client.StateCancelled, DueAt: t0, ExecutionName: "k",
		ExecutionStatus: "ABORTED", Push: push.Push{UserID: "u"},
		Outcome: &client.Outcome{Result: "execution_aborted", Reason: "its execution k ended ABORTED outside the client:"}}}
	out, errOut, code := run(t, &Backend{Pushes: f}, "get", "k")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "state:     cancelled\n")
	assert.Contains(t, out, "execution: k (ABORTED)\n")
	assert.Contains(t, out, "outcome:   execution_aborted\n")

	f = &fakePushes{pages: []client.Page{{Pushes: []client.Status{
		{Key: "a", State: client.StateCancelled, DueAt: t0, ExecutionStatus: "ABORTED", Push: push.Push{UserID: "u", Title: "A"}},
		{Key: "b", State: client.StateScheduled, DueAt: t0, TimeLeft: time.Hour, ExecutionStatus: client.ExecutionUnknown,
			Warning: "its execution b could not be described", Push: push.Push{UserID: "u", Title: "B"}},
	}}}}
	out, errOut, code = run(t, &Backend{Pushes: f}, "pending", "--user", "u")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^a +u +2026-12-01 09:00:00 +cancelled +0s +A$`, out)
	assert.Regexp(t, `(?m)^b +u +2026-12-01 09:00:00 +scheduled +1h0m0s +B$`, out)
	assert.Contains(t, out, "warning: b: its execution b could not be described\n")
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
