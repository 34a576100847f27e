package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/push"
)

// EventBridge Scheduler's schedule names: 1 to 64 of these characters.
var validScheduleName = regexp.MustCompile(`^[0-9a-zA-Z\-_.]{1,64}$`)

func TestScheduleNamesAreValidDeterministicAndDistinct(t *testing.T) {
	keys := []string{"order-42", "a", strings.Repeat("x", 64), strings.Repeat("x", 256), "order 42", "order.42", "order_42",
		"user:7/cart", "주문-42", "주문", "k", "K", strings.Repeat("é", 256), "ORDER-42", "order-42.2", ".", "-"}
	seen := map[string]string{}
	for _, k := range keys {
		for _, rev := range []int{1, 2, 12, 999999, 1<<31 - 1} {
			name := client.ScheduleName(k, rev)
			assert.Regexp(t, validScheduleName, name, "key %q revision %d", k, rev)
			assert.Equal(t, name, client.ScheduleName(k, rev), "deterministic")
			if other, dup := seen[name]; dup {
				t.Errorf("%q#%d and %q#%d have the same name %s", other, rev, k, rev, name)
			}
			seen[name] = k
		}
	}
	assert.True(t, strings.HasPrefix(client.ScheduleName("order-42", 1), "order-42."), "a readable prefix: %s", client.ScheduleName("order-42", 1))
	assert.True(t, strings.HasSuffix(client.ScheduleName("order-42", 3), ".3"), "the revision last")
	assert.True(t, strings.HasPrefix(client.ScheduleName("user:7/cart", 1), "user7cart."), "only the allowed characters of the key")
	assert.True(t, strings.HasPrefix(client.ScheduleName("주문", 1), "k."), "a key with none of them")
	assert.Len(t, client.ScheduleName(strings.Repeat("x", 256), 1), 24+1+26+2, "a long key's prefix is cut to 24")
}

func economy(key string, p push.Push) client.Request {
	return client.Request{Key: key, Push: p, Engine: client.EngineEconomy}
}

// queued is the push of the i-th message the client put on the queue, as the sender reads it.
func (w *world) queued(t *testing.T, i int) push.Push {
	t.Helper()
	require.Greater(t, len(w.sqs.bodies), i, "message %d was sent", i)
	p, err := push.Decode([]byte(w.sqs.bodies[i]))
	require.NoError(t, err)
	return p
}

func TestEconomyWithinTheThresholdIsOneDelayedMessage(t *testing.T) {
	w := newWorld()
	r := economy("cart-7", reminder("u-7"))
	r.Delay = 10 * time.Minute
	s, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, client.EngineEconomy, s.Engine)
	assert.Empty(t, s.ExecutionName, "no execution")
	assert.Empty(t, s.ScheduleName, "no schedule")
	assert.Equal(t, w.now.Add(10*time.Minute), s.DueAt)
	assert.Zero(t, w.sfn.starts)
	assert.Zero(t, w.sched.creates)
	require.Equal(t, []int32{600}, w.sqs.delays)

	// The body is what the state machine would put on the queue.
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(w.sqs.bodies[0]), &body))
	assert.Equal(t, map[string]any{"id": "cart-7", "revision": 1.0, "dueAt": "2026-12-01T09:10:00.000Z", "userId": "u-7",
		"title": "Your cart", "body": "Still thinking it over?"}, body)

	st, err := w.c.Get(ctx, "cart-7")
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assert.Equal(t, client.EngineEconomy, st.Engine)
	assert.Equal(t, 10*time.Minute, st.TimeLeft)
	assert.Empty(t, st.ExecutionStatus, "no execution to look at: the row's state stands")
	assert.Empty(t, st.Push.DueAt, "the push as on the Step Functions engine")
	assert.Zero(t, w.sfn.describeCount())
	page, err := w.c.List(ctx, client.ListOptions{UserID: "u-7"})
	require.NoError(t, err)
	require.Len(t, page.Pushes, 1)
	assert.Equal(t, client.EngineEconomy, page.Pushes[0].Engine)

	p := w.queued(t, 0)
	assert.Equal(t, delivery.GateSend, w.begin(t, p))
}

func TestEconomyDelaysAreRoundedUp(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.At = w.now.Add(90*time.Second + 300*time.Millisecond)
	_, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, []int32{91}, w.sqs.delays, "never early by SQS: the sender holds the rest")
	assert.Equal(t, "2026-12-01T09:01:30.300Z", w.queued(t, 0).DueAt)
}

// At exactly EconomyScheduleAfter the push is a delayed message; a second later, a schedule.
func TestEconomyThresholdEdge(t *testing.T) {
	for _, after := range []time.Duration{900 * time.Second, 180 * time.Second} {
		t.Run(after.String(), func(t *testing.T) {
			res := resources()
			res.EconomyScheduleAfter = after
			w := newWorldWith(res)
			r := economy("at-edge", reminder("u"))
			r.Delay = after
			s, err := w.c.Schedule(ctx, r)
			require.NoError(t, err)
			assert.Equal(t, []int32{int32(after / time.Second)}, w.sqs.delays)
			assert.Empty(t, s.ScheduleName)

			r = economy("past-edge", reminder("u"))
			r.Delay = after + time.Second
			s, err = w.c.Schedule(ctx, r)
			require.NoError(t, err)
			assert.Len(t, w.sqs.delays, 1, "no message")
			assert.Equal(t, client.ScheduleName("past-edge", 1), s.ScheduleName)
			require.NotNil(t, w.sched.get(s.ScheduleName))
		})
	}
}

func TestEconomyLaterIsAOneTimeScheduleAFewMinutesAhead(t *testing.T) {
	for _, cmk := range []bool{false, true} {
		t.Run(fmt.Sprintf("customer managed key %v", cmk), func(t *testing.T) {
			res := resources()
			if cmk {
				res.SchedulerKmsKeyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234"
			}
			w := newWorldWith(res)
			r := economy("order-42", reminder("u-42"))
			r.At = time.Date(2026, 12, 1, 10, 17, 42, 500e6, time.UTC)
			s, err := w.c.Schedule(ctx, r)
			require.NoError(t, err)
			assert.Equal(t, client.EngineEconomy, s.Engine)
			assert.Equal(t, client.ScheduleName("order-42", 1), s.ScheduleName)
			assert.Empty(t, s.ExecutionName)
			assert.Empty(t, w.sqs.bodies, "nothing on the queue yet")
			assert.Zero(t, w.sfn.starts)

			sc := w.sched.get(s.ScheduleName)
			require.NotNil(t, sc)
			assert.Equal(t, groupName, aws.ToString(sc.GroupName))
			assert.Equal(t, "at(2026-12-01T10:15:00)", aws.ToString(sc.ScheduleExpression), "the minute of due-2m")
			assert.Equal(t, "UTC", aws.ToString(sc.ScheduleExpressionTimezone))
			assert.Equal(t, schedulertypes.FlexibleTimeWindowModeOff, sc.FlexibleTimeWindow.Mode)
			assert.Equal(t, schedulertypes.ActionAfterCompletionDelete, sc.ActionAfterCompletion)
			assert.Equal(t, queueArn, aws.ToString(sc.Target.Arn))
			assert.Equal(t, roleArn, aws.ToString(sc.Target.RoleArn))
			assert.Equal(t, dlqArn, aws.ToString(sc.Target.DeadLetterConfig.Arn))
			assert.Equal(t, int32(185), aws.ToInt32(sc.Target.RetryPolicy.MaximumRetryAttempts))
			assert.Equal(t, int32(86400), aws.ToInt32(sc.Target.RetryPolicy.MaximumEventAgeInSeconds))
			assert.Nil(t, sc.Target.SqsParameters)
			if cmk {
				assert.Equal(t, res.SchedulerKmsKeyArn, aws.ToString(sc.KmsKeyArn))
			} else {
				assert.Nil(t, sc.KmsKeyArn)
			}
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(sc.Target.Input)), &body))
			assert.Equal(t, map[string]any{"id": "order-42", "revision": 1.0, "dueAt": "2026-12-01T10:17:42.500Z", "userId": "u-42",
				"title": "Your cart", "body": "Still thinking it over?"}, body, "the body the state machine would write")

			st, err := w.c.Get(ctx, "order-42")
			require.NoError(t, err)
			assert.Equal(t, client.StateScheduled, st.State)
			assert.Equal(t, r.At, st.DueAt)
			assert.Equal(t, client.EngineEconomy, st.Engine)
			assert.Empty(t, st.ExecutionStatus)

			// It fires: the push reaches the sender, which sends it (holding it to its due time).
			assert.Equal(t, delivery.GateSend, w.begin(t, w.sched.fire(t, s.ScheduleName)))
		})
	}
}

// Whatever the due time beyond the threshold, a schedule's minute starts at least a minute
// after the call and ends before the due time: the push is on the queue early, never late by
// Scheduler. Where that minute would be nearer, the push is one delayed message instead.
func TestEconomyScheduleIsNeverInThePast(t *testing.T) {
	for _, after := range []time.Duration{180 * time.Second, 900 * time.Second} {
		res := resources()
		res.EconomyScheduleAfter = after
		w := newWorldWith(res)
		for i, ahead := 0, after+time.Millisecond; ahead < after+5*time.Minute; ahead += 7*time.Second + 13*time.Millisecond {
			for _, start := range []time.Duration{0, 17 * time.Second, 59*time.Second + 999*time.Millisecond} {
				w.now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Add(start)
				r := economy(fmt.Sprintf("k-%d", i), reminder("u"))
				i++
				r.At = w.now.Add(ahead)
				sent := len(w.sqs.delays)
				s, err := w.c.Schedule(ctx, r)
				require.NoError(t, err)
				if s.ScheduleName == "" {
					require.Len(t, w.sqs.delays, sent+1, "%v ahead: a delayed message", ahead)
					assert.LessOrEqual(t, ahead, 240*time.Second, "only when the minute would be less than a minute ahead")
					continue
				}
				require.Greater(t, ahead, after, "schedule only past the threshold")
				at, err := time.Parse("at(2006-01-02T15:04:05)", aws.ToString(w.sched.get(s.ScheduleName).ScheduleExpression))
				require.NoError(t, err)
				assert.GreaterOrEqual(t, at.Sub(w.now), time.Minute, "%v ahead from %v: at %v is not a minute ahead", ahead, w.now, at)
				assert.True(t, !at.Add(time.Minute).After(r.At.Add(-time.Minute)), "%v ahead: its minute %v ends a minute before the due time", ahead, at)
				assert.True(t, at.After(r.At.Add(-3*time.Minute)), "%v ahead: at %v is at most 3 minutes early", ahead, at)
			}
		}
	}
}

func TestEconomyRetryIsIdempotent(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	first, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	again, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, first.ScheduleName, again.ScheduleName)
	assert.Equal(t, first.DueAt, again.DueAt)
	assert.Equal(t, 1, w.sched.creates, "one schedule")
	assert.Empty(t, w.sqs.bodies)

	// Later, within the threshold of the due time, a retry still finds the schedule it made.
	w.now = w.now.Add(50 * time.Minute)
	again, err = w.c.Schedule(ctx, r)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, 1, w.sched.creates)
	assert.Empty(t, w.sqs.bodies, "no second copy on the queue")

	// The same key on the other engine is another request.
	r.Engine = client.EngineStepFunctions
	_, err = w.c.Schedule(ctx, r)
	assert.ErrorIs(t, err, client.ErrConflict)
}

func TestEconomyRetryCompletesAHalfDoneCall(t *testing.T) {
	t.Run("the schedule was made, its answer lost", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		w.sched.failAfter = &smithy.GenericAPIError{Code: "InternalServerException", Message: "oops", Fault: smithy.FaultServer}
		_, err := w.c.Schedule(ctx, r)
		require.Error(t, err)
		s, err := w.c.Schedule(ctx, r)
		require.NoError(t, err, "the schedule found is ours")
		assert.True(t, s.AlreadyScheduled)
		assert.Equal(t, 1, w.sched.creates)
	})
	t.Run("the schedule was not made", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		w.sched.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
		_, err := w.c.Schedule(ctx, r)
		require.Error(t, err)
		assert.Equal(t, 1, w.table.Len(), "the row stays for the retry")
		s, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.True(t, s.AlreadyScheduled)
		assert.NotNil(t, w.sched.get(client.ScheduleName("k", 1)))
	})
	t.Run("the retry comes too late for a schedule", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		w.sched.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
		_, err := w.c.Schedule(ctx, r)
		require.Error(t, err)
		w.now = w.now.Add(time.Hour - 100*time.Second)
		_, err = w.c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.Zero(t, w.sched.creates, "a schedule would be in the past")
		assert.Equal(t, []int32{100}, w.sqs.delays, "sent with the time left")
	})
	t.Run("refused: the key is free again", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		w.sched.failErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed", Fault: smithy.FaultClient}
		_, err := w.c.Schedule(ctx, r)
		require.ErrorContains(t, err, "AccessDeniedException")
		assert.Zero(t, w.table.Len())
	})
}

func TestEconomyScheduleOfAnotherPushIsAConflict(t *testing.T) {
	w := newWorld()
	name := client.ScheduleName("k", 1)
	w.sched.schedules[groupName+"/"+name] = &scheduler.CreateScheduleInput{Name: aws.String(name), GroupName: aws.String(groupName),
		Target: &schedulertypes.Target{Input: aws.String(`{"id":"k","revision":1,"title":"someone else's"}`)}}
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	_, err := w.c.Schedule(ctx, r)
	require.ErrorIs(t, err, client.ErrConflict)
	assert.Contains(t, err.Error(), "schedule "+name+" was created with another input")
}

func TestEconomyCancelDeletesTheScheduleAndACopyThatFiresIsDropped(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	s, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	sc := w.sched.get(s.ScheduleName)
	require.NotNil(t, sc)
	copyOnQueue, err := push.Decode([]byte(aws.ToString(sc.Target.Input))) // as if it fired just before the delete
	require.NoError(t, err)
	st, err := w.c.Cancel(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Equal(t, client.EngineEconomy, st.Engine)
	assert.Nil(t, w.sched.get(s.ScheduleName), "deleted")
	assert.Empty(t, w.sfn.stops)
	assert.Equal(t, delivery.GateCancelled, w.begin(t, copyOnQueue))

	st, err = w.c.Cancel(ctx, "k")
	require.NoError(t, err, "cancelling twice is fine (the schedule is gone already)")
	assert.Equal(t, client.StateCancelled, st.State)
	_, err = w.c.Reschedule(ctx, "k", client.Change{Delay: time.Hour})
	assert.ErrorIs(t, err, client.ErrCancelled)
}

func TestEconomyCancelOfADelayedMessage(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.Delay = 5 * time.Minute
	_, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	st, err := w.c.Cancel(ctx, "k")
	require.NoError(t, err, "no schedule to delete: fine")
	assert.Equal(t, client.StateCancelled, st.State)
	assert.Equal(t, delivery.GateCancelled, w.begin(t, w.queued(t, 0)), "the message still arrives, and is dropped")
}

func TestEconomyRescheduleDeletesTheOldScheduleAndKeepsTheEngine(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	first, err := w.c.Schedule(ctx, r)
	require.NoError(t, err)
	oldCopy := w.sched.fire(t, first.ScheduleName) // fired already: on the queue

	newer := reminder("u")
	newer.Title = "Prices dropped"
	s, err := w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour, Push: &newer})
	require.NoError(t, err)
	assert.Equal(t, 2, s.Revision)
	assert.Equal(t, client.EngineEconomy, s.Engine, "the push's engine stays")
	assert.Equal(t, client.ScheduleName("k", 2), s.ScheduleName)
	assert.Contains(t, w.sched.deletes, first.ScheduleName)
	assert.Equal(t, delivery.GateSuperseded, w.begin(t, oldCopy), "the old copy is dropped")

	p := w.sched.fire(t, s.ScheduleName)
	assert.Equal(t, "Prices dropped", p.Title)
	assert.Equal(t, 2, p.Revision)

	again, err := w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour, Push: &newer})
	require.NoError(t, err, "the same change again is answered as done")
	assert.Equal(t, 2, again.Revision)

	// Nearer: a delayed message; the schedule of revision 2 is deleted.
	s, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 2 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 3, s.Revision)
	assert.Empty(t, s.ScheduleName)
	assert.Contains(t, w.sched.deletes, client.ScheduleName("k", 2))
	assert.Equal(t, []int32{120}, w.sqs.delays)
	assert.Equal(t, delivery.GateSend, w.begin(t, w.queued(t, 0)))
}

func TestRescheduleMovesAPushToTheOtherEngine(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.NoError(t, err)
	s, err := w.c.Reschedule(ctx, "k", client.Change{Engine: client.EngineEconomy})
	require.NoError(t, err, "only the engine changes")
	assert.Equal(t, 2, s.Revision)
	assert.Equal(t, client.EngineEconomy, s.Engine)
	assert.Equal(t, w.now.Add(time.Hour), s.DueAt, "the time stays")
	assert.Contains(t, w.sfn.stops, "k", "the execution is stopped")
	assert.NotNil(t, w.sched.get(client.ScheduleName("k", 2)))
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, client.EngineEconomy, st.Engine)
	assert.Empty(t, st.ExecutionName)

	s, err = w.c.Reschedule(ctx, "k", client.Change{Engine: client.EngineStepFunctions})
	require.NoError(t, err)
	assert.Equal(t, "k--3", s.ExecutionName)
	assert.Nil(t, w.sched.get(client.ScheduleName("k", 2)), "the schedule is deleted")
}

func TestTheStacksEngineIsTheDefault(t *testing.T) {
	res := resources()
	res.Engine = client.EngineEconomy
	w := newWorldWith(res)
	s, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, client.EngineEconomy, s.Engine)
	s, err = w.c.Schedule(ctx, client.Request{Key: "k2", Push: reminder("u"), Delay: time.Hour, Engine: client.EngineStepFunctions})
	require.NoError(t, err, "a push may name the other")
	assert.Equal(t, "k2", s.ExecutionName)

	// Now is the same on both: straight to the queue.
	s, err = w.c.SendNow(ctx, "now", reminder("u"))
	require.NoError(t, err)
	assert.Equal(t, client.EngineEconomy, s.Engine)
	assert.Equal(t, []int32{0}, w.sqs.delays)
	assert.Equal(t, delivery.GateSend, w.begin(t, w.queued(t, 0)))
}

func TestAnInvalidEngineIsRefusedAtOnce(t *testing.T) {
	w := newWorld()
	_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour, Engine: "fast"})
	var ie *push.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "engine", ie.Field)
	assert.Equal(t, `must be "stepfunctions" or "economy", got "fast"`, ie.Reason)
	assert.Zero(t, w.table.Len(), "nothing written")

	_, err = w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.NoError(t, err)
	_, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 2 * time.Hour, Engine: "Economy"})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "engine", ie.Field)
	assert.Equal(t, `must be "stepfunctions" or "economy", got "Economy"`, ie.Reason)

	res := resources()
	res.Engine = "cheap"
	_, err = newWorldWith(res).c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
	require.ErrorAs(t, err, &ie, "nor is a stack default the client does not know")
	assert.Equal(t, "engine", ie.Field)
	assert.ErrorAs(t, client.ValidateEngine(""), &ie, "empty is not a name")
	assert.NoError(t, client.ValidateEngine(client.EngineEconomy))
}

func TestAStackWithoutTheEconomyOutputsSaysSo(t *testing.T) {
	w := newWorldWith(client.Resources{StateMachineArn: machineArn, PushQueueURL: "https://sqs/q", SchedulesTable: "schedules"})
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	_, err := w.c.Schedule(ctx, r)
	require.Error(t, err)
	assert.Equal(t, "engine economy: this stack has no economy engine outputs (ScheduleGroupName, SchedulerRoleArn, "+
		"SchedulerDeadLetterQueueArn, PushQueueArn, EconomyScheduleAfterSeconds): redeploy it", err.Error())
	assert.Zero(t, w.table.Len())

	res := resources()
	res.EconomyScheduleAfter = time.Minute
	_, err = newWorldWith(res).c.Schedule(ctx, r)
	require.ErrorContains(t, err, "EconomyScheduleAfter must be whole seconds from 3m0s to 15m0s, got 1m0s")
}

type stackOutputs map[string]string

func (o stackOutputs) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	st := cftypes.Stack{StackName: in.StackName}
	for k, v := range o {
		st.Outputs = append(st.Outputs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{st}}, nil
}

func TestResourcesFromStackReadTheEngineOutputs(t *testing.T) {
	base := stackOutputs{client.OutputStateMachineArn: machineArn, client.OutputPushQueueURL: "https://sqs/q", client.OutputSchedulesTable: "schedules"}
	res, _, err := client.ResourcesFromStack(ctx, base, "DelayedPush")
	require.NoError(t, err, "a stack from before the economy engine")
	assert.Empty(t, res.Engine)
	assert.Zero(t, res.EconomyScheduleAfter)

	full := stackOutputs{client.OutputEngine: "economy", client.OutputScheduleGroupName: groupName, client.OutputSchedulerRoleArn: roleArn,
		client.OutputSchedulerDeadLetterQueueArn: dlqArn, client.OutputPushQueueArn: queueArn, client.OutputEconomyScheduleAfterSeconds: "180",
		client.OutputSchedulerKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1"}
	for k, v := range base {
		full[k] = v
	}
	res, _, err = client.ResourcesFromStack(ctx, full, "DelayedPush")
	require.NoError(t, err)
	want := resources()
	want.Engine, want.EconomyScheduleAfter, want.SchedulerKmsKeyArn = "economy", 180*time.Second, "arn:aws:kms:eu-west-1:123456789012:key/1"
	assert.Equal(t, want, res)

	full[client.OutputEconomyScheduleAfterSeconds] = "3m"
	_, _, err = client.ResourcesFromStack(ctx, full, "DelayedPush")
	assert.ErrorContains(t, err, `output EconomyScheduleAfterSeconds is not a whole number of seconds: "3m"`)
}

// clientWith is w's client on another scheduler and/or clock (nil: w's).
func (w *world) clientWith(res client.Resources, sch client.Scheduler, clock func() time.Time) *client.Client {
	if sch == nil {
		sch = w.sched
	}
	if clock == nil {
		clock = func() time.Time { return w.now }
	}
	return client.NewWith(res, w.sfn, w.sqs, sch, w.table, clock)
}

// The schedule path is taken only when its at() is a minute or more ahead of the client's
// clock (Scheduler may refuse a time in the past, or never run it); nearer, the push is one
// delayed message, held by the sender to its second.
func TestEconomyScheduleIsAMinuteAheadOrAMessage(t *testing.T) {
	t.Run("first call on a 180 s stack", func(t *testing.T) {
		res := resources()
		res.EconomyScheduleAfter = 180 * time.Second
		w := newWorldWith(res)
		w.now = time.Date(2026, 12, 1, 9, 0, 59, 300e6, time.UTC)
		r := economy("k", reminder("u"))
		r.At = w.now.Add(180*time.Second + 500*time.Millisecond) // at() would be 09:01:00, 0.7 s ahead
		s, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.Empty(t, s.ScheduleName)
		assert.Zero(t, w.sched.creates)
		assert.Equal(t, []int32{181}, w.sqs.delays)
	})
	t.Run("a retry at due-181s on a 900 s stack", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.At = time.Date(2026, 12, 1, 10, 0, 30, 500e6, time.UTC)
		w.sched.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
		_, err := w.c.Schedule(ctx, r)
		require.Error(t, err)
		w.now = r.At.Add(-181 * time.Second) // at() would be 09:58:00, 30.5 s ahead
		s, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.True(t, s.AlreadyScheduled)
		assert.Zero(t, w.sched.creates)
		assert.Equal(t, []int32{181}, w.sqs.delays)
	})
	t.Run("a reschedule to 181 s ahead on a 180 s stack", func(t *testing.T) {
		res := resources()
		res.EconomyScheduleAfter = 180 * time.Second
		w := newWorldWith(res)
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		_, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		w.now = time.Date(2026, 12, 1, 9, 10, 58, 900e6, time.UTC)
		s, err := w.c.Reschedule(ctx, "k", client.Change{At: w.now.Add(181 * time.Second)}) // at() would be 09:11:00, 1.1 s ahead
		require.NoError(t, err)
		assert.Empty(t, s.ScheduleName)
		assert.Equal(t, 1, w.sched.creates, "only the first revision's")
		assert.Equal(t, []int32{181}, w.sqs.delays)
	})
}

// A Reschedule whose new revision cannot be started (a quota, a refused role) leaves the push
// as it was: the old revision still pending, the row back on it, and the error says so.
func TestRescheduleThatCannotStartLeavesThePushUnchanged(t *testing.T) {
	t.Run("economy", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		first, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		w.sched.failErr = &smithy.GenericAPIError{Code: "ServiceQuotaExceededException", Message: "too many schedules", Fault: smithy.FaultClient}
		_, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour})
		require.ErrorContains(t, err, "ServiceQuotaExceededException")
		assert.ErrorContains(t, err, "unchanged: revision 1 is still pending")
		assert.NotNil(t, w.sched.get(first.ScheduleName), "the old schedule stands")
		assert.Empty(t, w.sched.deletes)
		st, err := w.c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, 1, st.Revision)
		assert.Equal(t, first.DueAt, st.DueAt)
		assert.Equal(t, client.StateScheduled, st.State)
		assert.Equal(t, delivery.GateSend, w.begin(t, w.sched.fire(t, first.ScheduleName)), "the old revision is sent")
	})
	t.Run("stepfunctions", func(t *testing.T) {
		w := newWorld()
		_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
		require.NoError(t, err)
		w.sfn.failErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no", Fault: smithy.FaultClient}
		_, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour})
		require.ErrorContains(t, err, "unchanged: revision 1 is still pending")
		assert.Empty(t, w.sfn.stops, "the old execution runs on")
		st, err := w.c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, 1, st.Revision)
		assert.Equal(t, "k", st.ExecutionName)
		assert.Equal(t, "RUNNING", st.ExecutionStatus)
		assert.Equal(t, delivery.GateSend, w.begin(t, w.sfn.fire(t, "k")))
	})
	t.Run("moving engines", func(t *testing.T) {
		w := newWorld()
		_, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), Delay: time.Hour})
		require.NoError(t, err)
		w.sched.failErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no PassRole", Fault: smithy.FaultClient}
		_, err = w.c.Reschedule(ctx, "k", client.Change{Engine: client.EngineEconomy})
		require.ErrorContains(t, err, "unchanged")
		st, err := w.c.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, client.EngineStepFunctions, st.Engine)
		assert.Equal(t, "k", st.ExecutionName)
		assert.Empty(t, w.sfn.stops)
	})
	t.Run("a failure a retry may fix keeps the new revision", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		_, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		w.sched.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
		_, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour})
		require.Error(t, err)
		s, err := w.c.Reschedule(ctx, "k", client.Change{Delay: 3 * time.Hour})
		require.NoError(t, err, "the same Reschedule again completes it")
		assert.Equal(t, 2, s.Revision)
		assert.NotNil(t, w.sched.get(client.ScheduleName("k", 2)))
	})
}

// recordingScheduler notes the order of creates and deletes.
type recordingScheduler struct {
	*fakeScheduler
	calls []string
}

func (f *recordingScheduler) CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, o ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	f.calls = append(f.calls, "create "+aws.ToString(in.Name))
	return f.fakeScheduler.CreateSchedule(ctx, in, o...)
}

func (f *recordingScheduler) DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, o ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.calls = append(f.calls, "delete "+aws.ToString(in.Name))
	return f.fakeScheduler.DeleteSchedule(ctx, in, o...)
}

func TestRescheduleStartsTheNewRevisionBeforeRetiringTheOld(t *testing.T) {
	w := newWorld()
	rec := &recordingScheduler{fakeScheduler: w.sched}
	c := w.clientWith(resources(), rec, nil)
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	_, err := c.Schedule(ctx, r)
	require.NoError(t, err)
	_, err = c.Reschedule(ctx, "k", client.Change{Delay: 2 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, []string{"create " + client.ScheduleName("k", 1), "create " + client.ScheduleName("k", 2), "delete " + client.ScheduleName("k", 1)}, rec.calls)
}

// An economy push the sender has not taken well after its due time (its call died between the
// row and the schedule or message, or its schedule gave up) is reported not_started, as a
// never-started execution is; the same call again completes it.
func TestAnEconomyPushNeverStartedIsReported(t *testing.T) {
	w := newWorld()
	r := economy("k", reminder("u"))
	r.Delay = time.Hour
	w.sched.failErr = &smithy.GenericAPIError{Code: "InternalServerException", Message: "oops", Fault: smithy.FaultServer}
	_, err := w.c.Schedule(ctx, r)
	require.Error(t, err, "the row is written, the schedule is not")

	w.now = w.now.Add(time.Hour + 14*time.Minute)
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Nil(t, st.Outcome, "not yet overdue")
	assert.Empty(t, st.Warning)

	w.now = w.now.Add(2 * time.Minute)
	st, err = w.c.Get(ctx, "k")
	require.NoError(t, err)
	page, err := w.c.List(ctx, client.ListOptions{UserID: "u"})
	require.NoError(t, err)
	require.Len(t, page.Pushes, 1)
	for _, got := range []client.Status{st, page.Pushes[0]} {
		assert.Equal(t, client.StateScheduled, got.State, "the table's state stands")
		require.NotNil(t, got.Outcome)
		assert.Equal(t, "not_started", got.Outcome.Result)
		assert.Contains(t, got.Outcome.Reason, "make the same call again")
		assert.Contains(t, got.Warning, "not taken by the sender 16m0s after its due time")
	}
	assert.Zero(t, w.sched.creates, "a read makes no call")

	s, err := w.c.Schedule(ctx, r)
	require.NoError(t, err, "the same call completes it")
	assert.True(t, s.AlreadyScheduled)
	assert.Equal(t, []int32{0}, w.sqs.delays, "on the queue at once, for the sender's lateness rules")
	assert.Equal(t, delivery.GateSend, w.begin(t, w.queued(t, 0)))
}

// firesBeforeGet is a scheduler whose existing schedule fires (and, DELETE, is gone) between
// a CreateSchedule's ConflictException and the GetSchedule that follows.
type firesBeforeGet struct {
	*fakeScheduler
	t     *testing.T
	fired []push.Push
}

func (f *firesBeforeGet) GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, o ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	if f.get(aws.ToString(in.Name)) != nil {
		f.fired = append(f.fired, f.fire(f.t, aws.ToString(in.Name)))
	}
	return f.fakeScheduler.GetSchedule(ctx, in, o...)
}

// A schedule that exists, then is gone (it fired): the push is on its way. The row is kept,
// no second schedule is made, and one delayed message is sent in case it was deleted
// unfired; a second copy is a duplicate for the sender.
func TestEconomyScheduleGoneAfterAConflictIsNeverLost(t *testing.T) {
	t.Run("a retry", func(t *testing.T) {
		w := newWorld()
		sch := &firesBeforeGet{fakeScheduler: w.sched, t: t}
		c := w.clientWith(resources(), sch, nil)
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		w.sched.failAfter = &smithy.GenericAPIError{Code: "InternalServerException", Message: "oops", Fault: smithy.FaultServer}
		_, err := c.Schedule(ctx, r)
		require.Error(t, err)
		w.now = w.now.Add(50 * time.Minute)
		s, err := c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.True(t, s.AlreadyScheduled)
		assert.Equal(t, 1, w.sched.creates, "no second schedule")
		require.Len(t, sch.fired, 1)
		assert.Equal(t, []int32{600}, w.sqs.delays, "a delayed message with the time left")
		assert.Equal(t, 1, w.table.Len())
		w.now = w.now.Add(10 * time.Minute)
		assert.Equal(t, delivery.GateSend, w.begin(t, sch.fired[0]))
	})
	t.Run("a first call", func(t *testing.T) {
		w := newWorld()
		sch := &firesBeforeGet{fakeScheduler: w.sched, t: t}
		c := w.clientWith(resources(), sch, nil)
		name := client.ScheduleName("k", 1)
		w.sched.schedules[groupName+"/"+name] = &scheduler.CreateScheduleInput{Name: aws.String(name), GroupName: aws.String(groupName),
			Target: &schedulertypes.Target{Input: aws.String(`{"id":"k","revision":1,"userId":"u","title":"an earlier row's","dueAt":"2026-12-01T10:00:00.000Z"}`)}}
		r := economy("k", reminder("u"))
		r.Delay = time.Hour
		_, err := c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, 1, w.table.Len(), "the row is kept")
		assert.Zero(t, w.sched.creates)
		assert.Equal(t, []int32{900}, w.sqs.delays, "SQS's longest delay; the sender holds the rest")
	})
}

// The path a revision takes (a schedule or the queue) is chosen once, when its row is
// written, and recorded there: a retry takes the same one, and a Cancel deletes no schedule
// of a push that has none.
func TestEconomyPathIsRecordedOnTheRow(t *testing.T) {
	t.Run("a retry takes the first call's path", func(t *testing.T) {
		w := newWorld()
		ticking := func() time.Time { w.now = w.now.Add(time.Millisecond); return w.now }
		c := w.clientWith(resources(), nil, ticking)
		r := economy("k", reminder("u"))
		r.At = w.now.Add(900*time.Second + 1500*time.Microsecond) // just past the threshold when asked
		w.sched.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down", Fault: smithy.FaultClient}
		_, err := c.Schedule(ctx, r)
		require.Error(t, err)
		s, err := c.Schedule(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, client.ScheduleName("k", 1), s.ScheduleName)
		assert.Equal(t, 1, w.sched.creates)
		assert.Empty(t, w.sqs.bodies, "one copy")
	})
	t.Run("a cancelled delayed message deletes no schedule", func(t *testing.T) {
		w := newWorld()
		r := economy("k", reminder("u"))
		r.Delay = 5 * time.Minute
		_, err := w.c.Schedule(ctx, r)
		require.NoError(t, err)
		_, err = w.c.Cancel(ctx, "k")
		require.NoError(t, err)
		assert.Empty(t, w.sched.deletes)
	})
}
