//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/push"
)

// The Go client against the local stack: every call, and the races the schedules index
// exists for, replayed deterministically (the old execution's copy is put on the queue by the
// test, as the execution would have).

func newClient(t *testing.T) *client.Client {
	t.Helper()
	return client.NewWith(resources(t), stack.SFN, stack.SQS, stack.Scheduler, stack.DynamoDB, nil)
}

// resources reads the client's Resources from the local stack's outputs as from AWS
// (client.ResourcesFromStack), the economy engine's included.
func resources(t *testing.T) client.Resources {
	t.Helper()
	res, err := stack.ClientResources(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, res.ScheduleGroupName, "the local stack has the economy engine's outputs")
	return res
}

func shipped(user string) push.Push {
	return push.Push{UserID: user, Title: "Your order shipped", Body: "Arriving Tuesday"}
}

// waitState polls Get until the push reaches state.
func waitState(t *testing.T, c *client.Client, key, state string, timeout time.Duration) client.Status {
	t.Helper()
	var st client.Status
	err := localrun.Poll(context.Background(), timeout, 200*time.Millisecond, func() (bool, error) {
		var err error
		st, err = c.Get(context.Background(), key)
		return err == nil && st.State == state, err
	})
	require.NoError(t, err, "key %s: last state %s", key, st.State)
	return st
}

// queueRevision puts revision rev of the key's push on the queue, as its execution does when
// its wait ends.
func queueRevision(t *testing.T, key string, p push.Push, rev int) {
	t.Helper()
	p.ID, p.Revision = key, rev
	sendNow(t, string(push.Encode(p)))
}

func TestClientSchedulesOnceAndSaysSoWhenAskedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("client-user")
	ep := device(t, user, "client-phone")
	key := name("client-order-42")
	// Due in 10 s: still scheduled when Get asks, however slow the machine.
	req := client.Request{Key: key, Push: shipped(user), Delay: 10 * time.Second}
	first, err := c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.False(t, first.AlreadyScheduled)
	again, err := c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)

	other := shipped(user)
	other.Title = "Something else"
	_, err = c.Schedule(ctx, client.Request{Key: key, Push: other, Delay: 10 * time.Second})
	assert.ErrorIs(t, err, client.ErrConflict)

	st, err := c.Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Greater(t, st.TimeLeft, time.Duration(0))

	deliveredOnce(t, ep, key, 60*time.Second)
	st = waitState(t, c, key, client.StateSent, 30*time.Second)
	require.NotNil(t, st.Outcome)
	assert.Equal(t, "sent", st.Outcome.Result)
	assert.Equal(t, 1, st.Outcome.Sent)
	require.NotNil(t, st.Outcome.LatenessMs)
	assert.GreaterOrEqual(t, *st.Outcome.LatenessMs, int64(0))

	// After the execution closed: still "already scheduled", nothing new.
	again, err = c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, client.StateSent, again.State)
	_, err = c.Cancel(ctx, key)
	assert.ErrorIs(t, err, client.ErrTooLate)
}

func TestClientRescheduledPushGoesOutOnceAtTheNewTimeWithTheNewContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("resched-user")
	ep := device(t, user, "resched-phone")
	key := name("resched")
	old := shipped(user)
	first, err := c.Schedule(ctx, client.Request{Key: key, Push: old, Delay: time.Hour})
	require.NoError(t, err)

	newer := shipped(user)
	newer.Title = "Arrives Monday instead"
	moved, err := c.Reschedule(ctx, key, client.Change{Delay: 3 * time.Second, Push: &newer})
	require.NoError(t, err)
	assert.Equal(t, 2, moved.Revision)
	waitStopped(t, first.ExecutionArn, "the old execution is stopped")

	// The race: the old execution had already put revision 1 on the queue.
	queueRevision(t, key, old, 1)

	got, seen, err := stack.WaitForDeliveries(ctx, ep, 1, 60*time.Second)
	require.NoError(t, err)
	assert.False(t, seen.Before(moved.DueAt), "not before the new time")
	assert.Equal(t, "Arrives Monday instead", fcmMessage(t, got[0])["notification"].(map[string]any)["title"])
	// Both revisions reached the sender, in either order: the old one is not sent.
	var outcomes []string
	for _, r := range senderFinished(t, key, 2, 60*time.Second) {
		outcomes = append(outcomes, r.Outcome)
	}
	assert.ElementsMatch(t, []string{"superseded", "sent"}, outcomes)
	deliveredOnce(t, ep, key, 60*time.Second)
	waitState(t, c, key, client.StateSent, 30*time.Second)
}

func TestClientCancelledPushIsNeverSentEvenWhenItsExecutionFired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("cancel-user")
	ep := device(t, user, "cancel-phone")
	key := name("cancel")
	p := shipped(user)
	s, err := c.Schedule(ctx, client.Request{Key: key, Push: p, Delay: time.Hour})
	require.NoError(t, err)
	st, err := c.Cancel(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	waitStopped(t, s.ExecutionArn)

	queueRevision(t, key, p, 1) // the copy the execution queued just before it was stopped
	// Done with it: deleted from the queue, nothing published.
	reports := senderFinished(t, key, 1, 60*time.Second)
	require.Len(t, reports, 1)
	assert.Equal(t, "cancelled", reports[0].Outcome)
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Empty(t, got, "never sent")
	_, err = c.Reschedule(ctx, key, client.Change{Delay: time.Second})
	assert.ErrorIs(t, err, client.ErrCancelled)
}

// A bad push gets the same answer from the client (before any call) as from the state
// machine (at StartExecution, without waiting).
func TestClientRejectsABadPushWithTheStateMachinesCause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	bad := push.Push{UserID: "u", Title: "t", TTLSeconds: aws.Int(-1)}
	_, err := c.Schedule(ctx, client.Request{Key: name("bad"), Push: bad, Delay: time.Hour})
	require.Error(t, err)

	input, _ := json.Marshal(map[string]any{"delaySeconds": 3600, "push": bad})
	out := schedule(t, name("bad-raw"), string(input))
	desc := waitStatus(t, out.ExecutionArn, 60*time.Second)
	assert.Equal(t, sfntypes.ExecutionStatusFailed, desc.Status)
	assert.Equal(t, err.Error(), aws.ToString(desc.Cause))
}

func TestClientSendNowAndAPastSendAtGoOutAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("client-now-user")
	ep := device(t, user, "client-now-phone")
	_, err := c.SendNow(ctx, name("now-1"), shipped(user))
	require.NoError(t, err)
	deliveredOnce(t, ep, name("now-1"), 60*time.Second)

	// A producer whose clock runs 5 s ahead: sent now, not rejected.
	s, err := c.Schedule(ctx, client.Request{Key: name("now-2"), Push: shipped(user), At: time.Now().Add(-5 * time.Second)})
	require.NoError(t, err)
	st := waitState(t, c, s.Key, client.StateSent, 60*time.Second)
	assert.Equal(t, 1, st.Outcome.Sent)
}

func TestClientPushLaterThanItsLimitIsExpiredNotSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("late-user")
	ep := device(t, user, "late-phone")
	p := shipped(user)
	p.MaxLatenessSeconds = 1
	s, err := c.Schedule(ctx, client.Request{Key: name("late"), Push: p, At: time.Now().Add(-10 * time.Second)})
	require.NoError(t, err)
	st := waitState(t, c, s.Key, client.StateExpired, 60*time.Second)
	assert.Equal(t, "expired", st.Outcome.Result)
	assert.Contains(t, st.Outcome.Reason, "over the lateness limit of 1s")
	rec := waitRecord(t, s.Key, ep, "expired")
	assert.Contains(t, rec["error"], "over the lateness limit of 1s", "the delivery log says why")

	// A direct push a redrive brought back two days late: the stack's default limit (a day).
	direct := name("late-direct")
	sendNow(t, `{"id":"`+direct+`","userId":"`+user+`","title":"t","dueAt":"`+time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339)+`"}`)
	// Done with it: deleted from the queue, nothing published.
	reports := senderFinished(t, direct, 1, 60*time.Second)
	require.Len(t, reports, 1)
	assert.Equal(t, "expired", reports[0].Outcome)
	assert.Contains(t, reports[0].Reason, "over the lateness limit of 24h0m0s")
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestClientListsAUsersPendingPushesByDueTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("list-user")
	var keys []string
	for i, d := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
		k := name("list-" + string(rune('a'+i)))
		keys = append(keys, k)
		_, err := c.Schedule(ctx, client.Request{Key: k, Push: shipped(user), Delay: d})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, k := range keys {
			_, _ = c.Cancel(ctx, k)
		}
	})
	var listed []string
	opts := client.ListOptions{UserID: user, Limit: 2}
	for {
		page, err := c.List(ctx, opts)
		require.NoError(t, err)
		for _, st := range page.Pushes {
			listed = append(listed, st.Key)
			assert.Greater(t, st.TimeLeft, 50*time.Minute)
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	assert.Equal(t, []string{keys[1], keys[2], keys[0]}, listed)

	// Every pending push, of every user: a scan of the sparse index, page by page.
	all := map[string]bool{}
	opts = client.ListOptions{Limit: 5}
	for {
		page, err := c.List(ctx, opts)
		require.NoError(t, err)
		for _, st := range page.Pushes {
			assert.Equal(t, client.StateScheduled, st.State)
			all[st.Key] = true
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	for _, k := range keys {
		assert.True(t, all[k], "%s among all pending pushes", k)
	}

	_, err := c.Cancel(ctx, keys[1])
	require.NoError(t, err)
	page, err := c.List(ctx, client.ListOptions{UserID: user})
	require.NoError(t, err)
	assert.Len(t, page.Pushes, 2, "a cancelled push is no longer pending")
}
