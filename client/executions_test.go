package client_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

// A push whose execution ended outside the client (StopExecution, the console, a send that
// gave up) never reaches the sender, and its row stays scheduled: Get and List say what
// became of it as soon as it happens, from its execution.
func TestGetAndListReportWhatTheExecutionSays(t *testing.T) {
	cases := []struct {
		status  sfntypes.ExecutionStatus
		state   string
		outcome string // "": none
	}{
		{sfntypes.ExecutionStatusAborted, client.StateCancelled, "execution_aborted"},
		{sfntypes.ExecutionStatusFailed, client.StateFailed, "execution_failed"},
		{sfntypes.ExecutionStatusTimedOut, client.StateFailed, "execution_timed_out"},
		{sfntypes.ExecutionStatusRunning, client.StateScheduled, ""},
		// On the push queue, not yet taken by the sender: as before, scheduled.
		{sfntypes.ExecutionStatusSucceeded, client.StateScheduled, ""},
		// A failed execution being redriven runs again.
		{sfntypes.ExecutionStatusPendingRedrive, client.StateScheduled, ""},
	}
	for _, c := range cases {
		t.Run(string(c.status), func(t *testing.T) {
			w := newWorld()
			s, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
			require.NoError(t, err)
			w.sfn.end(t, s.ExecutionName, c.status)
			w.now = w.now.Add(time.Minute) // long before the push is due

			st, err := w.c.Get(ctx, "k")
			require.NoError(t, err)
			page, err := w.c.List(ctx, client.ListOptions{UserID: "u"})
			require.NoError(t, err)
			require.Len(t, page.Pushes, 1, "still in the pending index: nothing was written")
			for _, got := range []client.Status{st, page.Pushes[0]} {
				assert.Equal(t, c.state, got.State)
				assert.Equal(t, string(c.status), got.ExecutionStatus)
				assert.Empty(t, got.Warning)
				if c.outcome == "" {
					assert.Nil(t, got.Outcome)
					assert.Equal(t, 59*time.Minute, got.TimeLeft)
					continue
				}
				require.NotNil(t, got.Outcome)
				assert.Equal(t, c.outcome, got.Outcome.Result)
				assert.Equal(t, "its execution k ended "+string(c.status)+" outside the client:", got.Outcome.Reason)
				assert.Zero(t, got.TimeLeft)
			}
		})
	}
}

// The row stays the client's: a push stopped outside the client can still be cancelled or
// rescheduled through it, and then the row says what it is.
func TestAPushStoppedElsewhereCanBeCancelledOrRescheduled(t *testing.T) {
	w := newWorld()
	for _, k := range []string{"a", "b"} {
		s, err := w.c.Schedule(ctx, client.Request{Key: k, Push: reminder("u"), Delay: time.Hour})
		require.NoError(t, err)
		_, err = w.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(s.ExecutionArn)})
		require.NoError(t, err)
	}
	st, err := w.c.Cancel(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	s, err := w.c.Reschedule(ctx, "b", client.Change{Delay: 2 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, 2, s.Revision)

	before := w.sfn.describeCount()
	st, err = w.c.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Nil(t, st.Outcome, "cancelled by the client, as its row says")
	assert.Empty(t, st.ExecutionStatus)
	assert.Equal(t, before, w.sfn.describeCount(), "a row that is not scheduled is not looked into")

	page, err := w.c.List(ctx, client.ListOptions{UserID: "u"})
	require.NoError(t, err)
	require.Len(t, page.Pushes, 1)
	assert.Equal(t, "b", page.Pushes[0].Key)
	assert.Equal(t, client.StateScheduled, page.Pushes[0].State)
	assert.Equal(t, "RUNNING", page.Pushes[0].ExecutionStatus, "revision 2's execution")
}

// A Reschedule stops the old execution after moving the row on: a Get that read the row just
// before must not report the push cancelled.
func TestARescheduleRacingGetIsNotReportedCancelled(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.NoError(t, err)
	w.sfn.beforeDescribe = func(name string) {
		require.Equal(t, "k", name)
		_, err := w.c.Reschedule(ctx, "k", client.Change{Delay: 2 * time.Hour})
		require.NoError(t, err)
	}
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Equal(t, 2, st.Revision, "the row as it is now")
	assert.Equal(t, 2*time.Hour, st.TimeLeft)
	assert.Nil(t, st.Outcome)
	assert.Equal(t, []string{"k"}, w.sfn.stops, "revision 1 was stopped, by the client")
}

// A DescribeExecution that fails (throttled, denied) leaves the push as its row has it and
// says so; it fails neither Get nor the List page.
func TestAnExecutionThatCannotBeDescribedKeepsTheRowsState(t *testing.T) {
	w := newWorld()
	for _, k := range []string{"a", "b"} {
		_, err := w.c.Schedule(ctx, client.Request{Key: k, Push: reminder("u"), Delay: time.Hour})
		require.NoError(t, err)
	}
	w.sfn.end(t, "b", sfntypes.ExecutionStatusAborted)
	w.sfn.describeErr = map[string]error{"a": &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}}

	st, err := w.c.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Equal(t, client.ExecutionUnknown, st.ExecutionStatus)
	assert.Contains(t, st.Warning, "the state is the schedules table's only: its execution a could not be described")
	assert.Contains(t, st.Warning, "ThrottlingException")

	page, err := w.c.List(ctx, client.ListOptions{UserID: "u"})
	require.NoError(t, err)
	require.Len(t, page.Pushes, 2)
	assert.Equal(t, client.StateScheduled, page.Pushes[0].State)
	assert.Equal(t, client.ExecutionUnknown, page.Pushes[0].ExecutionStatus)
	assert.Equal(t, client.StateCancelled, page.Pushes[1].State, "the others are still looked into")

	b, err := json.Marshal(page.Pushes[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"executionStatus":"UNKNOWN","warning":"the state is the schedules table's only`)
}

// A page of many pushes looks at their executions a few at a time, in the page's order, and
// only at those of scheduled pushes with an execution.
func TestListLooksAtManyExecutionsAFewAtATime(t *testing.T) {
	w := newWorld()
	const n = 60
	want := map[string]string{}
	for i := range n {
		k := fmt.Sprintf("k%02d", i)
		s, err := w.c.Schedule(ctx, client.Request{Key: k, Push: reminder("u"), Delay: time.Duration(i+1) * time.Minute})
		require.NoError(t, err)
		switch {
		case i%5 == 0:
			w.sfn.end(t, s.ExecutionName, sfntypes.ExecutionStatusFailed)
			want[k] = client.StateFailed
		case i%3 == 0:
			w.sfn.end(t, s.ExecutionName, sfntypes.ExecutionStatusAborted)
			want[k] = client.StateCancelled
		default:
			want[k] = client.StateScheduled
		}
	}
	_, err := w.c.SendNow(ctx, "now", reminder("u")) // pending, queued, no execution
	require.NoError(t, err)
	w.sfn.describeDelay = 2 * time.Millisecond

	before := w.sfn.describeCount()
	page, err := w.c.List(ctx, client.ListOptions{UserID: "u", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, page.Pushes, n+1)
	assert.Equal(t, "now", page.Pushes[0].Key, "due first")
	assert.Equal(t, client.StateScheduled, page.Pushes[0].State)
	assert.Empty(t, page.Pushes[0].ExecutionStatus, "no execution to look at")
	for i, st := range page.Pushes[1:] {
		k := fmt.Sprintf("k%02d", i)
		require.Equal(t, k, st.Key, "in due order")
		assert.Equal(t, want[k], st.State, k)
	}
	assert.Equal(t, n, w.sfn.describeCount()-before, "one DescribeExecution per execution")
	assert.LessOrEqual(t, w.sfn.maxInFlight, 8, "a few at a time")
	assert.Greater(t, w.sfn.maxInFlight, 1, "not one after the other")
}

// Once the sender has the push, its row tells all: its execution is not looked at.
func TestAPushTheSenderHasIsNotLookedInto(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Minute})
	require.NoError(t, err)
	p := w.sfn.fire(t, "k")
	require.Equal(t, delivery.GateSend, w.begin(t, p))
	before := w.sfn.describeCount()
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateSending, st.State)
	assert.Empty(t, st.ExecutionStatus)
	assert.Equal(t, before, w.sfn.describeCount())
}
