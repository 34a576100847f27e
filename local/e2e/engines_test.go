//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/push"
)

// Both engines, side by side, through the Go client: a push 20 s ahead (economy: one SQS
// SendMessage with DelaySeconds) and one past the economy engine's schedule threshold (250 s:
// the local stack's economyScheduleAfterSeconds is 180, the shortened time: economy: an
// EventBridge Scheduler schedule, run by local/schedulerrun at a random moment of the minute
// it names, 60 to 180 s early; then the queue; then the sender's hold until the due time),
// cancel and reschedule of each.

var engines = []string{client.EngineStepFunctions, client.EngineEconomy}

// The lateness bound the tests assert: published no later than
//
//	onTime (1 s: the engines' promise, SQS's whole-second DelaySeconds)
//	+ wholeSecond (1 s: the emulator's own rounding: moto's Wait ends on whole seconds, and a
//	  delayed message that becomes visible wakes no long poll, the next one-second slice of
//	  the receive takes it, local/scripts/moto_server.py patch 9)
//	+ the lateness of a control push put on the queue at the due time, due then, for another
//	  user: what the local pipeline itself takes at that moment (the poller, the sender under
//	  qemu, the emulator's calls), measured beside the push.
const (
	onTime      = time.Second
	wholeSecond = time.Second
)

// farDelay is how far ahead a push is scheduled to take the economy engine's schedule path
// on the local stack: past its threshold (economyScheduleAfterSeconds, 180 s locally), and far
// enough that the schedule's at(), the minute of due-2m, is still a minute ahead of the clock
// when it is created (the client sends a nearer one as a delayed message): due-2m-60 s of
// flooring >= now+60 s, so 240 s and some slack for the call.
func farDelay(t *testing.T) time.Duration {
	t.Helper()
	a := resources(t).EconomyScheduleAfter
	require.Equal(t, 180*time.Second, a, "the local stack is synthesized with economyScheduleAfterSeconds 180 (Makefile LOCAL_CONFIG)")
	return 250 * time.Second
}

// control puts a control push on the queue when due comes and returns a function that waits
// for the sender's report on it and returns its lateness.
func control(t *testing.T, tag string, due time.Time) func() time.Duration {
	t.Helper()
	user := name("ctl-" + tag)
	device(t, user, "ctl-phone-"+tag)
	id := name("ctl-push-" + tag)
	queue := output(t, "PushQueueUrl")
	sent := make(chan error, 1)
	go func() {
		time.Sleep(time.Until(due))
		body := `{"id":"` + id + `","userId":"` + user + `","title":"control","dueAt":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `"}`
		_, err := stack.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)})
		sent <- err
	}()
	return func() time.Duration {
		t.Helper()
		require.NoError(t, <-sent)
		reports := senderFinished(t, id, 1, 2*time.Minute)
		r := reports[len(reports)-1]
		require.Equal(t, "sent", r.Outcome, "control push %s", id)
		return time.Duration(r.LatenessMs) * time.Millisecond
	}
}

// assertOnTime checks one push of the engine was delivered once to ep, never before due, and
// no later than the bound above, and says what it measured. It returns the sender's reports.
func assertOnTime(t *testing.T, engine, key string, due time.Time, ep, title string, ctl func() time.Duration, copies int) []localrun.SenderReport {
	t.Helper()
	got, seen, err := stack.WaitForDeliveries(context.Background(), ep, 1, time.Until(due)+2*time.Minute)
	require.NoError(t, err)
	assert.False(t, seen.Before(due), "seen %s, due %s: never early", seen, due)
	assert.Equal(t, key, got[0].PushID())
	assert.Equal(t, title, fcmMessage(t, got[0])["notification"].(map[string]any)["title"])
	reports := senderFinished(t, key, copies, 2*time.Minute)
	var sent *localrun.SenderReport
	for i, r := range reports {
		if r.Outcome == "sent" {
			require.Nil(t, sent, "sent once: %+v", reports)
			sent = &reports[i]
		}
	}
	require.NotNil(t, sent, "%+v", reports)
	assert.Equal(t, engine, sent.Engine)
	lateness := time.Duration(sent.LatenessMs) * time.Millisecond
	share := ctl()
	bound := onTime + wholeSecond + share
	assert.GreaterOrEqual(t, lateness, time.Duration(0), "the sender published after the due time")
	assert.LessOrEqual(t, lateness, bound, "lateness %s > 1 s + 1 s (emulator's whole second) + %s (control push beside it)", lateness, share)
	t.Logf("%s push %s: lateness %d ms; control push at its due time %d ms; bound %d ms", engine, key, lateness.Milliseconds(), share.Milliseconds(), bound.Milliseconds())
	all, err := stack.Deliveries(context.Background(), ep)
	require.NoError(t, err)
	assert.Len(t, all, 1, "once: the sender is done with every copy")
	return reports
}

// scheduleFired reads the runner's log line about the schedule's firing.
func scheduleFired(t *testing.T, scheduleName string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(logPath)
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(line, "[scheduler] ")
		if !ok || !strings.Contains(rest, `"schedule":"`+scheduleName+`"`) || !strings.Contains(rest, `"msg":"schedule fired"`) {
			continue
		}
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(rest), &v))
		return v
	}
	t.Fatalf("the scheduler never fired %s (%s)", scheduleName, logPath)
	return nil
}

func scheduleGone(t *testing.T, scheduleName string) bool {
	t.Helper()
	_, err := stack.Scheduler.GetSchedule(context.Background(), &scheduler.GetScheduleInput{
		GroupName: aws.String(output(t, client.OutputScheduleGroupName)), Name: aws.String(scheduleName)})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ResourceNotFoundException" {
		return true
	}
	require.NoError(t, err)
	return false
}

// assertScheduleRan checks an economy push's schedule fired within the minute its at() names,
// before the due time (so the sender held it), as its role, and was deleted.
func assertScheduleRan(t *testing.T, s client.Scheduled, reports []localrun.SenderReport) {
	t.Helper()
	require.NotEmpty(t, s.ScheduleName)
	fired := scheduleFired(t, s.ScheduleName)
	at, err := time.Parse(time.RFC3339, fired["at"].(string))
	require.NoError(t, err)
	firedAt, err := time.Parse(time.RFC3339Nano, fired["firedAt"].(string))
	require.NoError(t, err)
	assert.Equal(t, s.DueAt.Add(-client.ScheduleLead).UTC().Truncate(time.Minute), at, "at() names the minute of due-2m")
	assert.False(t, firedAt.Before(at), "fired %s, not before the minute %s", firedAt, at)
	assert.Less(t, firedAt.Sub(at), 61*time.Second, "fired within the minute it names (fired %s)", firedAt)
	assert.True(t, firedAt.Before(s.DueAt), "on the queue before the due time")
	assert.Equal(t, true, fired["deleted"], "ActionAfterCompletion DELETE")
	assert.True(t, scheduleGone(t, s.ScheduleName))
	var held bool
	for _, r := range reports {
		held = held || r.Outcome == "early"
	}
	assert.True(t, held, "the sender held the early copy until its due time: %+v", reports)
	t.Logf("schedule %s: at(%s), fired %s, %s before the due time", s.ScheduleName, at.Format(time.TimeOnly), firedAt.Format(time.TimeOnly+".000"), s.DueAt.Sub(firedAt).Round(time.Millisecond))
}

func TestEnginesDeliverAPush20sAheadOnceOnTime(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newClient(t)
			user := name("near-" + engine)
			ep := device(t, user, "near-phone-"+engine)
			key := name("near-push-" + engine)
			s, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), Delay: 20 * time.Second, Engine: engine})
			require.NoError(t, err)
			assert.Equal(t, engine, s.Engine)
			assert.Empty(t, s.ScheduleName, "within the threshold: no schedule")
			ctl := control(t, "near-"+engine, s.DueAt)
			assertOnTime(t, engine, key, s.DueAt, ep, "Your order shipped", ctl, 1)
			st := waitState(t, c, key, client.StateSent, 30*time.Second)
			assert.Equal(t, engine, st.Engine)
		})
	}
}

func TestEnginesDeliverAPushPastTheScheduleThresholdOnceOnTime(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newClient(t)
			user := name("far-" + engine)
			ep := device(t, user, "far-phone-"+engine)
			key := name("far-push-" + engine)
			s, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), Delay: farDelay(t), Engine: engine})
			require.NoError(t, err)
			assert.Equal(t, engine, s.Engine)
			if engine == client.EngineEconomy {
				require.NotEmpty(t, s.ScheduleName, "past the threshold: a schedule")
			}
			ctl := control(t, "far-"+engine, s.DueAt)
			reports := assertOnTime(t, engine, key, s.DueAt, ep, "Your order shipped", ctl, 1)
			if engine == client.EngineEconomy {
				assertScheduleRan(t, s, reports)
			} else {
				assert.Empty(t, s.ScheduleName)
				assert.NotEmpty(t, s.ExecutionArn)
			}
			st := waitState(t, c, key, client.StateSent, 30*time.Second)
			assert.Equal(t, engine, st.Engine)
			require.NotNil(t, st.Outcome)
			assert.Equal(t, 1, st.Outcome.Sent)
		})
	}
}

// A cancelled push is never sent, on either path of either engine. What still reaches the
// sender (the economy engine's SQS copy, which nothing can take back; a copy an execution or a
// schedule put on the queue just before the cancel, replayed here) is dropped and recorded.
func TestEnginesCancelledPushIsNeverSent(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		for _, far := range []bool{false, true} {
			tag := engine + map[bool]string{false: "-near", true: "-far"}[far]
			t.Run(tag, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				c := newClient(t)
				user := name("cancel-" + tag)
				ep := device(t, user, "cancel-phone-"+tag)
				key := name("cancel-push-" + tag)
				delay := 20 * time.Second
				if far {
					delay = farDelay(t)
				}
				p := shipped(user)
				s, err := c.Schedule(ctx, client.Request{Key: key, Push: p, Delay: delay, Engine: engine})
				require.NoError(t, err)
				require.Equal(t, far && engine == client.EngineEconomy, s.ScheduleName != "", "a schedule only for the far economy push")
				st, err := c.Cancel(ctx, key)
				require.NoError(t, err)
				assert.Equal(t, client.StateCancelled, st.State)
				assert.Equal(t, engine, st.Engine)
				switch {
				case engine == client.EngineStepFunctions:
					waitStopped(t, s.ExecutionArn)
					queueRevision(t, key, p, 1)
				case far:
					assert.True(t, scheduleGone(t, s.ScheduleName), "Cancel deletes the schedule")
					queueRevision(t, key, p, 1)
				default:
					// The SQS copy is on its way and arrives at the due time.
				}
				reports := senderFinished(t, key, 1, delay+2*time.Minute)
				for _, r := range reports {
					if r.Action == "done" {
						assert.Equal(t, "cancelled", r.Outcome, "%+v", reports)
					}
				}
				got, err := stack.Deliveries(ctx, ep)
				require.NoError(t, err)
				assert.Empty(t, got, "never sent")
				_, err = c.Reschedule(ctx, key, client.Change{Delay: time.Second})
				assert.ErrorIs(t, err, client.ErrCancelled)
			})
		}
	}
}

// A push due in 20 s is moved past the threshold with new content: the old copy (on the
// economy engine the real SQS message; on Step Functions the one its stopped execution had
// already queued, replayed) is dropped as superseded, and the new revision is delivered once
// at the new time (on the economy engine through a schedule).
func TestEnginesRescheduledPushGoesOutOnceAtTheNewTime(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newClient(t)
			user := name("move-" + engine)
			ep := device(t, user, "move-phone-"+engine)
			key := name("move-push-" + engine)
			old := shipped(user)
			first, err := c.Schedule(ctx, client.Request{Key: key, Push: old, Delay: 20 * time.Second, Engine: engine})
			require.NoError(t, err)
			newer := shipped(user)
			newer.Title = "Arrives Monday instead"
			moved, err := c.Reschedule(ctx, key, client.Change{Delay: farDelay(t), Push: &newer})
			require.NoError(t, err)
			assert.Equal(t, 2, moved.Revision)
			assert.Equal(t, engine, moved.Engine, "the push keeps its engine")
			require.Equal(t, engine == client.EngineEconomy, moved.ScheduleName != "", "moved past the threshold: a schedule on the economy engine")
			if engine == client.EngineStepFunctions {
				waitStopped(t, first.ExecutionArn, "the old execution is stopped")
				queueRevision(t, key, old, 1)
			}
			ctl := control(t, "move-"+engine, moved.DueAt)
			reports := assertOnTime(t, engine, key, moved.DueAt, ep, "Arrives Monday instead", ctl, 2)
			var done []string
			for _, r := range reports {
				if r.Action == "done" {
					done = append(done, r.Outcome)
				}
			}
			assert.ElementsMatch(t, []string{"superseded", "sent"}, done)
			if engine == client.EngineEconomy {
				assertScheduleRan(t, moved, reports)
			}
			waitState(t, c, key, client.StateSent, 30*time.Second)
		})
	}
}

// An engine that does not exist is refused at once, with the field named, by the client, the
// HTTP API and pushctl alike, and nothing is scheduled.
func TestAnInvalidEngineIsRefusedAtOnceWithTheFieldNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	key := name("bad-engine")
	_, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped("u"), Delay: time.Hour, Engine: "cheap"})
	var invalid *push.InvalidError
	require.ErrorAs(t, err, &invalid)
	assert.Equal(t, "engine", invalid.Field)
	assert.Contains(t, err.Error(), `must be "stepfunctions" or "economy", got "cheap"`)

	status, out := call(t, "POST", "/pushes", `{"key":"`+key+`","delaySeconds":3600,"engine":"cheap","push":{"userId":"u","title":"t"}}`)
	assert.Equal(t, 400, status, "%v", out)
	_, field, message := apiError(t, out)
	assert.Equal(t, "engine", field)
	assert.Contains(t, message, `must be "stepfunctions" or "economy", got "cheap"`)

	_, stderr, code := pushctl(t, "schedule", "--key", key, "--delay", "1h", "--user", "u", "--title", "t", "--engine", "cheap")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "engine")
	assert.Contains(t, stderr, `got "cheap"`)

	_, err = c.Get(ctx, key)
	assert.ErrorIs(t, err, client.ErrNotFound, "nothing was scheduled")
}
