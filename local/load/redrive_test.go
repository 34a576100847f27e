//go:build load

package load

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/local/faultproxy"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/push"
)

// Redrives of the dead-letter queue at scale (issue #17): a redriven push is the same push,
// whoever copies it back (its identity is in its body), and pushctl redrive ends by itself
// whatever the dead-letter queue holds. Run alone with -run TestRedrives.

func TestRedrives(t *testing.T) {
	n := faultPushes()
	t.Run("crash streak, pushes without an id, redriven", func(t *testing.T) { crashStreakRedrive(t, n/2) })
	t.Run("invalid pushes parked, redriven", func(t *testing.T) { invalidRedrive(t, n/2) })
}

// redriveRun is what one pushctl redrive --json run reported, and how long it took.
type redriveRun struct {
	localrun.RedriveReport
	took time.Duration
}

func (r redriveRun) String() string {
	return fmt.Sprintf("%s, in %.1f s", r.RedriveReport, r.took.Seconds())
}

// pushctlRedrive runs the real pushctl (built from cmd/pushctl) against the local stack, as an
// operator would, bounded in time: a run that does not end by itself fails the scenario.
func pushctlRedrive(t *testing.T, args ...string) redriveRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started := time.Now()
	report, err := stack.PushctlRedrive(ctx, append([]string{"--max", "100000"}, args...)...)
	require.NoError(t, err)
	r := redriveRun{report, time.Since(started)}
	t.Logf("pushctl redrive %v: %s", args, r)
	return r
}

// giveBackParked makes dead-letter messages received by drainParked visible again at once.
func giveBackParked(t *testing.T, msgs []sqstypes.Message) {
	t.Helper()
	require.NoError(t, stack.GiveBack(context.Background(), msgs...))
}

func endpointsOf(users map[string][]string) map[string]bool {
	out := map[string]bool{}
	for _, eps := range users {
		for _, ep := range eps {
			out[ep] = true
		}
	}
	return out
}

func deliveriesOf(got map[string][]string) map[[2]string]int {
	out := map[[2]string]int{}
	for ep, ids := range got {
		for _, id := range ids {
			out[[2]string{id, ep}]++
		}
	}
	return out
}

// crashStreakRedrive is the measurement at scale: pushes scheduled with StartExecution
// and no id of their own, a sender that crashes after publishing a quarter of them, on every
// receive, until the queue moves their messages to the dead-letter queue itself (no reason);
// then half of the dead letters are copied back with SQS (body and attributes: what the
// console's redrive or StartMessageMoveTask sends), half with pushctl redrive. Before the
// state machine wrote the push's id into the body, every redriven push that had been sent
// was sent again.
func crashStreakRedrive(t *testing.T, n int) {
	ctx := context.Background()
	const scenario = "crash-redrive"
	users := registerUsers(t, scenario, 100, 1)
	specs := plan(scenario+"-s", users, n, 0, true)
	for i := range specs {
		specs[i].NoID = true
	}
	endpoints := endpointsOf(users)
	// Every 4th push: its first delivery-log write (the claim) goes through, every later one
	// (the "sent" mark after its publish, the claims of the receives after) kills the sender
	// right after it took effect, with the rest of its batch: a crash streak. The others of
	// those batches are collateral, as they would be in Lambda: at least once applies to them.
	var rules []faultproxy.Rule
	crashing := 0
	for i := 0; i < len(specs); i += 4 {
		crashing++
		match := `"` + specs[i].ID + `"`
		for _, r := range []faultproxy.Rule{
			{Service: "dynamodb", Operation: "UpdateItem", Match: match, Action: faultproxy.ActionDelay, Delay: "1ms", Times: 1},
			{Service: "dynamodb", Operation: "UpdateItem", Match: match, Action: faultproxy.ActionKillAfter},
		} {
			added, err := stack.Faults.Add(ctx, r)
			require.NoError(t, err)
			t.Cleanup(func() { _ = stack.Faults.Remove(ctx, added.ID) })
			rules = append(rules, added)
		}
	}
	sendStart := time.Now()
	due := sendStart.Add(time.Duration(len(specs))*100*time.Millisecond + 20*time.Second)
	schedule(t, specs, due)
	t.Logf("%s: %d scheduled pushes without an id (due %s), %d of them crash the sender", scenario, len(specs), due.Format(time.TimeOnly), crashing)
	require.NoError(t, stack.Faults.ResetStats(ctx))
	u := startUsage()
	want := 0
	for _, p := range specs {
		want += len(p.Endpoints)
	}
	// Settled: every execution ended and the push queue is empty, the crash streaks over.
	waitSettled(t, endpoints, want, func() int { return runningExecutions(t) }, 5*time.Minute)

	hits, err := stack.Faults.Rules(ctx)
	require.NoError(t, err)
	kills := 0
	for _, h := range hits {
		for _, r := range rules {
			if h.ID == r.ID && r.Action == faultproxy.ActionKillAfter {
				kills += h.Hits
			}
		}
	}
	before := deliveriesOf(collect(t, endpoints))
	statusBefore := map[[2]string]string{}
	for _, p := range specs {
		for _, ep := range p.Endpoints {
			statusBefore[[2]string{p.ID, ep}] = status(t, p.ID, ep)
		}
	}
	parked := drainParked(t)
	withReason := 0
	for _, m := range parked {
		if _, ok := m.MessageAttributes["parkReason"]; ok {
			withReason++
		}
	}
	t.Logf("%s: %d kills, %d messages on the dead-letter queue (%d parked by the sender with a reason)", scenario, kills, len(parked), withReason)
	assert.NotZero(t, len(parked)-withReason, "the crash streaks made the queue move messages itself")

	// The crashes are over; the operator redrives, half one way, half the other.
	for _, r := range rules {
		require.NoError(t, stack.Faults.Remove(ctx, r.ID))
	}
	var copied, viaPushctl []sqstypes.Message
	for i, m := range parked {
		if i%2 == 0 {
			copied = append(copied, m)
		} else {
			viaPushctl = append(viaPushctl, m)
		}
	}
	for _, m := range copied {
		require.NoError(t, stack.Redrive(ctx, m)) // SendMessage of body and attributes, then delete
	}
	giveBackParked(t, viaPushctl)
	run := pushctlRedrive(t)
	moved := map[string]int{}
	for _, m := range run.Moved {
		moved[m.MessageID]++
	}
	notMoved := 0
	for _, m := range viaPushctl {
		if moved[aws.ToString(m.MessageId)] != 1 {
			notMoved++
		}
	}
	assert.Zero(t, notMoved, "every dead letter given back was moved once by pushctl")
	assert.False(t, strings.HasPrefix(run.Stopped, "--max"), "pushctl ended by itself: %s", run.Stopped)

	_, last := waitSettled(t, endpoints, want, nil, 5*time.Minute)
	u.stop()
	got := collect(t, endpoints)
	o := verify(t, specs, got)
	after := deliveriesOf(got)
	// What the issue measured: a push the device had, recorded sent, reached it again after
	// the redrive. It must not.
	var resent []string
	sentBefore := 0
	for k, st := range statusBefore {
		if st != "sent" {
			continue
		}
		sentBefore++
		if after[k] > before[k] {
			resent = append(resent, fmt.Sprintf("%s on %s: %d copies before the redrive, %d after", k[0], k[1], before[k], after[k]))
		}
	}
	redriven := map[string]bool{}
	for _, m := range parked {
		redriven[push.PeekID([]byte(aws.ToString(m.Body)))] = true
	}
	reports, err := localrun.AllSenderReports(stack.LogPath())
	require.NoError(t, err)
	duplicates, noID := 0, 0
	for id := range redriven {
		if id == "" {
			noID++
		}
		for _, r := range reports[id] {
			if r.Outcome == "duplicate" {
				duplicates++
			}
		}
	}
	assert.Zero(t, noID, "every dead letter carries its push's id in its body")
	stats, err := stack.Faults.Stats(ctx)
	require.NoError(t, err)
	note := fmt.Sprintf("crash streak: %d pushes killed the sender on every receive after their first publish (%d kills, whole batches); "+
		"%d messages moved to the dead-letter queue by the queue itself (%d parked by the sender with a reason)\n"+
		"redriven: %d by SQS copy (SendMessage of body and attributes, as StartMessageMoveTask), %d by pushctl redrive (%s)\n"+
		"(push, device) pairs recorded sent before the redrive: %d; reached again after it: %d (must be 0); redriven copies the sender reported duplicate: %d",
		crashing, kills, len(parked)-withReason, withReason, len(copied), len(viaPushctl), run, sentBefore, len(resent), duplicates)
	o.broken = append(o.broken, resent...)
	report(t, "crash streak, pushes without an id, redriven", specs, o, "the first send", sendStart, last, u, stats, nil, note)
	assert.Zero(t, len(o.missing), "lost pushes")
	assert.Zero(t, len(o.unexpected), "copies of pushes nobody sent")
	assert.Zero(t, len(o.broken), "deliveries against the guarantee, or sent again by a redrive")
}

// invalidPush is the body of a push the sender parks as invalid, and the field it names.
func invalidPush(i int, id, user string) (string, string) {
	bad := []struct{ extra, field string }{
		{`,"title":"t","colour":"red"`, "colour"},
		{`,"title":"t","priority":"urgent"`, "priority"},
		{`,"title":"t","ttlSeconds":-1`, "ttlSeconds"},
		{``, "title"},
		{`,"title":"t","data":{"from":"x"}`, "data.from"},
	}[i%5]
	return `{"id":"` + id + `","userId":"` + user + `"` + bad.extra + `}`, bad.field
}

// invalidRedrive: pushes parked as invalid, beside valid ones parked after a fault that is
// over. pushctl redrive moves each valid one once, skips the invalid ones with their reasons and
// ends by itself; with --include-invalid it moves each invalid one once, the sender parks each
// again, and the run still ends by itself, without taking any of them twice.
func invalidRedrive(t *testing.T, n int) {
	ctx := context.Background()
	const scenario = "invalid-redrive"
	users := registerUsers(t, scenario, 50, 1)
	endpoints := endpointsOf(users)
	valid := plan(scenario+"-v", users, n/2, 0, false)
	invalidIDs := map[string]string{} // push id: the field it names
	var bodies []string
	for i, p := range plan(scenario+"-i", users, n, 0, false) {
		body, field := invalidPush(i, p.ID, p.User)
		invalidIDs[p.ID] = field
		bodies = append(bodies, body)
	}
	queue, err := stack.Output("PushQueueUrl")
	require.NoError(t, err)
	dlq, err := stack.Output("DeadLetterQueueUrl")
	require.NoError(t, err)
	sendStart := time.Now()
	require.NoError(t, parallel(8, (len(bodies)+9)/10, func(b int) error {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i := b * 10; i < min(len(bodies), b*10+10); i++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i])})
		}
		_, err := stack.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
		return err
	}))
	// The valid ones as the sender parks a push it gave up on (a throttling, now over).
	parkedAt := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	require.NoError(t, parallel(8, len(valid), func(i int) error {
		_, err := stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(valid[i].body()),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"parkReason": {DataType: aws.String("String"), StringValue: aws.String("gave up after 2 attempts: Throttling: Rate exceeded")},
				"parkedAt":   {DataType: aws.String("String"), StringValue: aws.String(parkedAt)},
				"pushId":     {DataType: aws.String("String"), StringValue: aws.String(valid[i].ID)},
			}})
		return err
	}))
	// Every invalid push parked by the sender (it parks before it reports).
	parkedTimes := func() (map[string]int, error) {
		reports, err := localrun.AllSenderReports(stack.LogPath())
		out := map[string]int{}
		for id := range invalidIDs {
			for _, r := range reports[id] {
				if r.Action == "parked" {
					out[id]++
				}
			}
		}
		return out, err
	}
	waitParkedTimes := func(times int) {
		t.Helper()
		var parked map[string]int
		err := localrun.Poll(ctx, 5*time.Minute, 2*time.Second, func() (bool, error) {
			var err error
			parked, err = parkedTimes()
			done := 0
			for _, c := range parked {
				if c >= times {
					done++
				}
			}
			return done == len(invalidIDs), err
		})
		require.NoError(t, err, "%d of %d invalid pushes parked %d times", len(parked), len(invalidIDs), times)
	}
	waitParkedTimes(1)
	require.NoError(t, stack.Faults.ResetStats(ctx))
	u := startUsage()
	started := time.Now()

	first := pushctlRedrive(t)
	moved, skipped := map[string]int{}, map[string]int{}
	for _, m := range first.Moved {
		moved[m.PushID]++
	}
	wrongReason := 0
	for _, m := range first.Skipped {
		skipped[m.PushID]++
		if f, ours := invalidIDs[m.PushID]; ours && (m.InvalidField != f || !strings.HasPrefix(m.ParkReason, "invalid push: invalid "+f)) {
			wrongReason++
		}
	}
	var problems []string
	for _, p := range valid {
		if moved[p.ID] != 1 {
			problems = append(problems, fmt.Sprintf("valid %s moved %d times", p.ID, moved[p.ID]))
		}
	}
	for id := range invalidIDs {
		if moved[id] != 0 || skipped[id] != 1 {
			problems = append(problems, fmt.Sprintf("invalid %s moved %d, skipped %d times", id, moved[id], skipped[id]))
		}
	}
	assert.Zero(t, wrongReason, "skipped with their field and reason")
	assert.False(t, strings.HasPrefix(first.Stopped, "--max"), "ended by itself: %s", first.Stopped)
	want := 0
	for _, p := range valid {
		want += len(p.Endpoints)
	}
	_, last := waitSettled(t, endpoints, want, nil, 5*time.Minute)

	// The invalid ones are still on the dead-letter queue, each once.
	stillThere := map[string]int{}
	held := drainParked(t)
	for _, m := range held {
		stillThere[aws.ToString(m.MessageAttributes["pushId"].StringValue)]++
	}
	giveBackParked(t, held)
	for id := range invalidIDs {
		if stillThere[id] != 1 {
			problems = append(problems, fmt.Sprintf("invalid %s on the dead-letter queue %d times after the first run", id, stillThere[id]))
		}
	}

	second := pushctlRedrive(t, "--include-invalid")
	movedAgain := map[string]int{}
	for _, m := range second.Moved {
		movedAgain[m.PushID]++
	}
	for id := range invalidIDs {
		if movedAgain[id] != 1 {
			problems = append(problems, fmt.Sprintf("invalid %s moved %d times by --include-invalid", id, movedAgain[id]))
		}
	}
	assert.False(t, strings.HasPrefix(second.Stopped, "--max"), "ended by itself: %s", second.Stopped)
	waitParkedTimes(2)
	// Parked again, each once: taken off the dead-letter queue for good.
	again := map[string]int{}
	var others []sqstypes.Message
	for _, m := range drainParked(t) {
		id := aws.ToString(m.MessageAttributes["pushId"].StringValue)
		if invalidIDs[id] == "" {
			others = append(others, m)
			continue
		}
		again[id]++
		_, err := stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle})
		require.NoError(t, err)
	}
	giveBackParked(t, others)
	for id := range invalidIDs {
		if again[id] != 1 {
			problems = append(problems, fmt.Sprintf("invalid %s parked %d times after --include-invalid", id, again[id]))
		}
	}
	u.stop()

	o := verify(t, valid, collect(t, endpoints)) // an invalid push published would be "unexpected"
	o.broken = append(o.broken, problems...)
	stats, err := stack.Faults.Stats(ctx)
	require.NoError(t, err)
	note := fmt.Sprintf("dead-letter queue: %d pushes parked by the sender as invalid (5 kinds), %d valid ones parked after a fault now over\n"+
		"pushctl redrive: %s\npushctl redrive --include-invalid: %s; the sender parked each again, %d back on the dead-letter queue once each",
		len(invalidIDs), len(valid), first, second, len(again))
	report(t, "invalid pushes parked, redriven", valid, o, "the first redrive", started, last, u, stats, nil, note)
	t.Logf("%s: %d invalid pushes sent and parked in %.1f s", scenario, len(invalidIDs), started.Sub(sendStart).Seconds())
	assert.Zero(t, len(o.missing), "lost pushes")
	assert.Zero(t, len(o.unexpected), "copies of pushes nobody sent (or an invalid one published)")
	assert.Zero(t, len(o.broken), "against the guarantee, or moved other than once: %v", problems)
}
