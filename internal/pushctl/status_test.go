package pushctl

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

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
