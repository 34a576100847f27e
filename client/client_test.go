package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
)

var ctx = context.Background()

func reminder(user string) push.Push {
	return push.Push{UserID: user, Title: "Your cart", Body: "Still thinking it over?"}
}

// Step Functions' execution names: 1 to 80 characters, none of whitespace, brackets,
// wildcards, special or control characters.
var validName = regexp.MustCompile(`^[^\s<>{}\[\]?*"#%\\^|~` + "`" + `$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$`)

func TestExecutionNamesAreValidDeterministicAndDistinct(t *testing.T) {
	assert.Equal(t, "order-42", client.ExecutionName("order-42", 1), "a plain key is its own name")
	assert.Equal(t, "order-42--2", client.ExecutionName("order-42", 2))
	assert.Equal(t, "order-42--17", client.ExecutionName("order-42", 17))
	keys := []string{"order-42", "a", strings.Repeat("x", 64), strings.Repeat("x", 65), "order 42", "order--42", "user:7/cart",
		"주문-42", "order-42--2", "k--abc", strings.Repeat("é", 256), "ORDER-42"}
	seen := map[string]string{}
	for _, k := range keys {
		for _, rev := range []int{1, 2, 999999} {
			name := client.ExecutionName(k, rev)
			assert.Regexp(t, validName, name, "key %q revision %d", k, rev)
			assert.Equal(t, name, client.ExecutionName(k, rev), "deterministic")
			if other, dup := seen[name]; dup {
				t.Errorf("keys %q and %q map to the same name %s", other, k, name)
			}
			seen[name] = fmt.Sprintf("%s#%d", k, rev)
		}
	}
	assert.True(t, strings.HasPrefix(client.ExecutionName("order 42", 1), "k--"), "a key with a space is mapped")
	assert.True(t, strings.HasPrefix(client.ExecutionName("order--42", 1), "k--"), "a key with -- is mapped: it would read as a revision")
	assert.Len(t, client.ExecutionName(strings.Repeat("x", 65), 1), 55, "k-- and 52 base32 characters")
}

func TestKeysAreCheckedWithTheFieldNamed(t *testing.T) {
	for key, reason := range map[string]string{
		"":                       "is required",
		strings.Repeat("a", 257): "is 257 characters, at most 256",
		"a\nb":                   "has a control character (U+000A)",
		"\xff":                   "is not valid UTF-8",
	} {
		err := client.ValidateKey(key)
		var ie *push.InvalidError
		require.ErrorAs(t, err, &ie, "%q", key)
		assert.Equal(t, "key", ie.Field)
		assert.Equal(t, reason, ie.Reason)
	}
	assert.NoError(t, client.ValidateKey("주문 #42"), "any printable key is fine: it is mapped")
}

func TestScheduleTwiceSchedulesOnce(t *testing.T) {
	w := newWorld()
	req := client.Request{Key: "cart-7", Push: reminder("u-7"), Delay: 2 * time.Hour}
	first, err := w.c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.False(t, first.AlreadyScheduled)
	assert.Equal(t, "cart-7", first.ExecutionName)
	assert.Equal(t, w.now.Add(2*time.Hour), first.DueAt)
	assert.Equal(t, 1, first.Revision)

	w.now = w.now.Add(3 * time.Second) // a retry a little later: the same request
	again, err := w.c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, first.DueAt, again.DueAt, "the first call's due time")
	assert.Equal(t, 1, w.sfn.starts, "one execution")

	// Once the execution has closed, Step Functions answers ExecutionAlreadyExists; the row
	// tells it is the same push.
	p := w.sfn.fire(t, "cart-7")
	assert.Equal(t, delivery.GateSend, w.begin(t, p))
	again, err = w.c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, client.StateSending, again.State)
	assert.Equal(t, 1, w.sfn.starts)
}

func TestSameKeyWithAnotherPushIsAConflict(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "cart-7", Push: reminder("u-7"), Delay: time.Hour})
	require.NoError(t, err)
	other := reminder("u-7")
	other.Title = "Last chance"
	for _, req := range []client.Request{
		{Key: "cart-7", Push: other, Delay: time.Hour},
		{Key: "cart-7", Push: reminder("u-7"), Delay: 2 * time.Hour},
		{Key: "cart-7", Push: reminder("u-7"), At: w.now.Add(time.Hour)},
		{Key: "cart-7", Push: reminder("u-7")},
	} {
		_, err := w.c.Schedule(ctx, req)
		assert.ErrorIs(t, err, client.ErrConflict)
		assert.Contains(t, err.Error(), `key "cart-7"`)
		assert.Contains(t, err.Error(), "use Reschedule")
	}
	assert.Equal(t, 1, w.sfn.starts)
}

// The client rejects what the state machine would, with its words, before any call.
func TestBadPushIsRejectedWithTheStateMachinesWords(t *testing.T) {
	w := newWorld()
	cases := []struct {
		req          client.Request
		field, cause string
	}{
		{client.Request{Key: "k", Push: push.Push{UserID: "u"}, Delay: time.Minute}, "push.title", "title and body are both empty: at least one is required"},
		{client.Request{Key: "k", Push: push.Push{Title: "t"}, Delay: time.Minute}, "push.userId", "missing recipient: exactly one of userId and endpointArn is required"},
		{client.Request{Key: "k", Push: push.Push{UserID: "u", Title: "t", Priority: "urgent"}, Delay: time.Minute}, "push.priority", `must be "high" or "normal", got "urgent"`},
		{client.Request{Key: "k", Push: push.Push{UserID: "u", Title: "t"}, Delay: 1500 * time.Millisecond}, "delaySeconds", "must be whole seconds, got 1.5s"},
		{client.Request{Key: "k", Push: push.Push{UserID: "u", Title: "t"}, At: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)}, "sendAt",
			`"2028-01-01T00:00:00Z" is more than 31532400 seconds (365 days less an hour) after the start`},
		{client.Request{Key: "k", Push: push.Push{UserID: "u", Title: "t", Data: map[string]string{"pushId": "x"}}}, "push.data.pushId", "key is reserved: the sender sets it to the push id"},
		{client.Request{Key: "k", Push: push.Push{ID: "other", UserID: "u", Title: "t"}, Delay: time.Minute}, "push.id", `is "other", not the key "k": leave it empty`},
		// The one rule the state machine cannot check: it is the sender's, and the client's.
		{client.Request{Key: "k", Push: push.Push{UserID: "u", Title: "t", Body: strings.Repeat("b", 5000)}, Delay: time.Minute}, "push.body",
			"makes the FCM message 5101 bytes, over FCM's 4096 (the field is 5002 bytes)"},
	}
	for _, c := range cases {
		_, err := w.c.Schedule(ctx, c.req)
		var ie *push.InvalidError
		require.ErrorAs(t, err, &ie, "%+v", c.req)
		assert.Equal(t, c.field, ie.Field)
		assert.Equal(t, c.cause, ie.Reason)
	}
	assert.Equal(t, 0, w.sfn.starts)
	assert.Zero(t, w.table.Len(), "nothing written")

	// The same input as the state machine sees it gives the same answer from package schedule.
	in := schedule.Schedule{Push: push.Push{ID: "k", Revision: 1, UserID: "u", Priority: "urgent", Title: "t"}}
	d := int64(60)
	in.DelaySeconds = &d
	_, err := schedule.Parse(in.Input(), w.now)
	assert.EqualError(t, err, `invalid push.priority: must be "high" or "normal", got "urgent"`)
}

func TestSendNowQueuesOnceWithItsDueTime(t *testing.T) {
	w := newWorld()
	s, err := w.c.SendNow(ctx, "welcome-u-1", reminder("u-1"))
	require.NoError(t, err)
	assert.Empty(t, s.ExecutionName)
	require.Len(t, w.sqs.bodies, 1)
	p, err := push.Decode([]byte(w.sqs.bodies[0]))
	require.NoError(t, err)
	assert.Equal(t, "welcome-u-1", p.ID)
	assert.Equal(t, 1, p.Revision)
	assert.Equal(t, "2026-12-01T09:00:00Z", p.DueAt)
	assert.Equal(t, 0, w.sfn.starts)

	// A retry while the push is still queued sends the same body again (the sender drops
	// the repeat by its id); once the sender has it, nothing is sent.
	again, err := w.c.SendNow(ctx, "welcome-u-1", reminder("u-1"))
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	require.Len(t, w.sqs.bodies, 2)
	assert.Equal(t, w.sqs.bodies[0], w.sqs.bodies[1])
	assert.Equal(t, delivery.GateSend, w.begin(t, p))
	_, err = w.c.SendNow(ctx, "welcome-u-1", reminder("u-1"))
	require.NoError(t, err)
	assert.Len(t, w.sqs.bodies, 2)
}

func TestRescheduleGoesOutOnceAtTheNewTimeWithTheNewContent(t *testing.T) {
	for _, fired := range []bool{false, true} {
		t.Run(fmt.Sprintf("old execution fired %v", fired), func(t *testing.T) {
			w := newWorld()
			_, err := w.c.Schedule(ctx, client.Request{Key: "cart-7", Push: reminder("u-7"), Delay: time.Hour})
			require.NoError(t, err)
			var oldCopy push.Push
			if fired {
				oldCopy = w.sfn.fire(t, "cart-7") // on the queue, not yet taken by the sender
			}
			newer := reminder("u-7")
			newer.Title = "Prices dropped"
			s, err := w.c.Reschedule(ctx, "cart-7", client.Change{Delay: 3 * time.Hour, Push: &newer})
			require.NoError(t, err)
			assert.Equal(t, 2, s.Revision)
			assert.Equal(t, "cart-7--2", s.ExecutionName)
			assert.Equal(t, w.now.Add(3*time.Hour), s.DueAt)
			assert.Contains(t, w.sfn.stops, "cart-7", "the old execution is stopped")
			if fired {
				assert.Equal(t, delivery.GateSuperseded, w.begin(t, oldCopy), "the old copy is dropped")
			}
			got, err := w.c.Get(ctx, "cart-7")
			require.NoError(t, err)
			assert.Equal(t, client.StateScheduled, got.State)
			assert.Equal(t, "Prices dropped", got.Push.Title)
			assert.Equal(t, 3*time.Hour, got.TimeLeft)

			p := w.sfn.fire(t, "cart-7--2")
			assert.Equal(t, "Prices dropped", p.Title)
			assert.Equal(t, 2, p.Revision)
			assert.Equal(t, delivery.GateSend, w.begin(t, p))

			// Repeating the reschedule changes nothing; changing a push the sender has is too late.
			_, err = w.c.Reschedule(ctx, "cart-7", client.Change{Delay: 3 * time.Hour, Push: &newer})
			assert.NoError(t, err, "the same change again is answered as done")
			_, err = w.c.Reschedule(ctx, "cart-7", client.Change{Delay: 5 * time.Hour})
			assert.ErrorIs(t, err, client.ErrTooLate)
		})
	}
}

func TestRescheduleKeepsWhatItIsNotGiven(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), At: w.now.Add(time.Hour)})
	require.NoError(t, err)
	changed := reminder("u")
	changed.Body = "new body"
	s, err := w.c.Reschedule(ctx, "k", client.Change{Push: &changed})
	require.NoError(t, err)
	assert.Equal(t, w.now.Add(time.Hour), s.DueAt, "the time stays")
	s, err = w.c.Reschedule(ctx, "k", client.Change{At: w.now.Add(2 * time.Hour)})
	require.NoError(t, err)
	got, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "new body", got.Push.Body, "the content stays")
	assert.Equal(t, 3, got.Revision)
	assert.Equal(t, w.now.Add(2*time.Hour), got.DueAt)
	assert.Equal(t, s.ExecutionName, got.ExecutionName)
}

func TestCancelledPushIsNeverSentEvenIfItsExecutionFired(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "cart-7", Push: reminder("u-7"), Delay: time.Hour})
	require.NoError(t, err)
	copyOnQueue := w.sfn.fire(t, "cart-7")
	st, err := w.c.Cancel(ctx, "cart-7")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Equal(t, delivery.GateCancelled, w.begin(t, copyOnQueue))

	st, err = w.c.Cancel(ctx, "cart-7")
	require.NoError(t, err, "cancelling twice is fine")
	assert.Equal(t, client.StateCancelled, st.State)
	_, err = w.c.Reschedule(ctx, "cart-7", client.Change{Delay: time.Hour})
	assert.ErrorIs(t, err, client.ErrCancelled)
	page, err := w.c.List(ctx, client.ListOptions{UserID: "u-7"})
	require.NoError(t, err)
	assert.Empty(t, page.Pushes, "a cancelled push is not pending")
}

// A push held by the recipient's quiet hours is still pending: Cancel stops it, Get says
// until when it was held, and the sender drops it when it comes back.
func TestCancelOfAPushHeldByQuietHours(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.NoError(t, err)
	p := w.sfn.fire(t, "k")
	require.Equal(t, delivery.GateSend, w.begin(t, p))
	until := w.now.Add(9 * time.Hour)
	require.NoError(t, w.sender.Defer(ctx, "k", p.Revision, until, w.now))
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateDeferred, st.State)
	assert.True(t, until.Equal(st.QuietUntil), "held until %v, got %v", until, st.QuietUntil)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"quietUntil":"`+until.UTC().Format(time.RFC3339)+`"`)

	st, err = w.c.Cancel(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Equal(t, delivery.GateCancelled, w.begin(t, p), "the held copy is dropped when it comes back")
}

func TestCancelAfterTheSenderTookItIsTooLate(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "cart-7", Push: reminder("u-7"), Delay: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, delivery.GateSend, w.begin(t, w.sfn.fire(t, "cart-7")))
	_, err = w.c.Cancel(ctx, "cart-7")
	assert.ErrorIs(t, err, client.ErrTooLate)
	assert.Contains(t, err.Error(), "it is sending")
}

// Cancel and the sender race for the row; DynamoDB's conditional writes (atomic here, as in
// AWS) let exactly one of them win, every time.
func TestCancelRacingTheSenderHasOneWinner(t *testing.T) {
	for i := 0; i < 200; i++ {
		w := newWorld()
		_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Minute})
		require.NoError(t, err)
		p := w.sfn.fire(t, "k")
		var wg sync.WaitGroup
		var gate delivery.Gate
		var cancelErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, cancelErr = w.c.Cancel(ctx, "k") }()
		go func() { defer wg.Done(); gate = w.begin(t, p) }()
		wg.Wait()
		sent := gate == delivery.GateSend
		cancelled := cancelErr == nil
		require.True(t, sent != cancelled, "run %d: sent %v, cancel error %v", i, sent, cancelErr)
		if sent {
			require.ErrorIs(t, cancelErr, client.ErrTooLate)
		}
	}
}

func TestGetReportsTimeLeftThenTheOutcome(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: 10 * time.Minute})
	require.NoError(t, err)
	w.now = w.now.Add(4 * time.Minute)
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Equal(t, 6*time.Minute, st.TimeLeft)
	assert.Nil(t, st.Outcome)

	p := w.sfn.fire(t, "k")
	require.Equal(t, delivery.GateSend, w.begin(t, p))
	late := int64(840)
	require.NoError(t, w.sender.Finish(ctx, "k", 1, delivery.Finish{State: index.Sent, Result: delivery.OutcomeSent, Now: w.now,
		LatenessMs: &late, Endpoints: 2, Sent: 2}))
	st, err = w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateSent, st.State)
	assert.Zero(t, st.TimeLeft)
	require.NotNil(t, st.Outcome)
	assert.Equal(t, "sent", st.Outcome.Result)
	assert.Equal(t, &late, st.Outcome.LatenessMs)
	assert.Equal(t, 2, st.Outcome.Sent)
}

func TestUnknownKeyIsNotFound(t *testing.T) {
	w := newWorld()
	_, err := w.c.Get(ctx, "nope")
	assert.ErrorIs(t, err, client.ErrNotFound)
	_, err = w.c.Cancel(ctx, "nope")
	assert.ErrorIs(t, err, client.ErrNotFound)
	_, err = w.c.Reschedule(ctx, "nope", client.Change{Delay: time.Minute})
	assert.ErrorIs(t, err, client.ErrNotFound)
}

// A push scheduled by StartExecution directly (the AWS CLI, another SDK) has no row: Get and
// Cancel find it by its execution.
func TestPushStartedWithoutTheClientIsFoundByItsExecution(t *testing.T) {
	w := newWorld()
	d := int64(300)
	in := schedule.Schedule{DelaySeconds: &d, Push: reminder("u-9")}
	_, err := w.sfn.StartExecution(ctx, startInput("raw-1", string(in.Input())))
	require.NoError(t, err)
	st, err := w.c.Get(ctx, "raw-1")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Equal(t, w.now.Add(5*time.Minute), st.DueAt)
	assert.Equal(t, "u-9", st.Push.UserID)
	st, err = w.c.Cancel(ctx, "raw-1")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Contains(t, w.sfn.stops, "raw-1")
}

func TestAFailedStartFreesTheKeyAndARetryableOneKeepsIt(t *testing.T) {
	w := newWorld()
	req := client.Request{Key: "k", Push: reminder("u"), Delay: time.Minute}
	w.sfn.failErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed", Fault: smithy.FaultClient}
	_, err := w.c.Schedule(ctx, req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AccessDeniedException")
	assert.Zero(t, w.table.Len(), "nothing was scheduled, so the key is free again")

	w.sfn.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
	_, err = w.c.Schedule(ctx, req)
	require.Error(t, err)
	assert.Equal(t, 1, w.table.Len(), "the start may have happened: the row stays for the retry")
	s, err := w.c.Schedule(ctx, req)
	require.NoError(t, err, "the retry completes it")
	assert.True(t, s.AlreadyScheduled)
	assert.Equal(t, 1, w.sfn.starts)
}

func TestListPendingPushesOfAUserByDueTimeAndPaginated(t *testing.T) {
	w := newWorld()
	for i, d := range []time.Duration{30 * time.Minute, 10 * time.Minute, 20 * time.Minute} {
		_, err := w.c.Schedule(ctx, client.Request{Key: fmt.Sprintf("u1-%d", i), Push: reminder("u-1"), Delay: d})
		require.NoError(t, err)
	}
	_, err := w.c.Schedule(ctx, client.Request{Key: "u2-0", Push: reminder("u-2"), Delay: time.Minute})
	require.NoError(t, err)
	_, err = w.c.Schedule(ctx, client.Request{Key: "u1-gone", Push: reminder("u-1"), Delay: time.Minute})
	require.NoError(t, err)
	_, err = w.c.Cancel(ctx, "u1-gone")
	require.NoError(t, err)

	var keys []string
	var left []time.Duration
	opts := client.ListOptions{UserID: "u-1", Limit: 2}
	pages := 0
	for {
		page, err := w.c.List(ctx, opts)
		require.NoError(t, err)
		pages++
		for _, st := range page.Pushes {
			keys = append(keys, st.Key)
			left = append(left, st.TimeLeft)
			assert.Equal(t, client.StateScheduled, st.State)
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	assert.Equal(t, []string{"u1-1", "u1-2", "u1-0"}, keys)
	assert.Equal(t, []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute}, left)
	assert.Equal(t, 2, pages)

	all, err := w.c.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, all.Pushes, 4, "every pending push, of every user")

	_, err = w.c.List(ctx, client.ListOptions{PageToken: "garbage"})
	var ie *push.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "pageToken", ie.Field)
	_, err = w.c.List(ctx, client.ListOptions{Limit: 5000})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "limit", ie.Field)
}

// A Schedule that died between writing its row and starting the execution: Get says so, and
// the same call again completes it.
func TestGetExplainsAPushWhoseScheduleNeverFinished(t *testing.T) {
	w := newWorld()
	req := client.Request{Key: "k", Push: reminder("u"), Delay: time.Minute}
	w.sfn.failErr = &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "try later", Fault: smithy.FaultServer}
	_, err := w.c.Schedule(ctx, req)
	require.Error(t, err)
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State, "the call may still be starting it")
	assert.Equal(t, client.ExecutionNotFound, st.ExecutionStatus)
	assert.Contains(t, st.Warning, "has not started it yet, or did not finish")
	assert.Nil(t, st.Outcome)

	w.now = w.now.Add(time.Hour)
	st, err = w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	require.NotNil(t, st.Outcome)
	assert.Equal(t, "not_started", st.Outcome.Result)
	assert.Contains(t, st.Outcome.Reason, "make the same call again")
	s, err := w.c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, s.AlreadyScheduled)
	assert.Equal(t, 1, w.sfn.starts)
}
