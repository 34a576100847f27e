//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
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

// Redrives of the dead-letter queue (issue #17): a push brought back is the same push, however
// it is brought back, because its identity is in its body; and pushctl redrive ends by itself
// whatever the dead-letter queue holds.

// pushctlRedrive runs pushctl redrive --json with args, bounded in time.
func pushctlRedrive(t *testing.T, args ...string) localrun.RedriveReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pushctlTimeout)
	defer cancel()
	started := time.Now()
	r, err := stack.PushctlRedrive(ctx, args...)
	require.NoError(t, err)
	t.Logf("pushctl redrive %v: %s in %s", args, r, time.Since(started).Round(time.Millisecond))
	return r
}

// times counts the entries of list by key.
func times(list []localrun.Redriven, key func(localrun.Redriven) string) map[string]int {
	out := map[string]int{}
	for _, m := range list {
		out[key(m)]++
	}
	return out
}

func byMessageID(m localrun.Redriven) string { return m.MessageID }
func byPushID(m localrun.Redriven) string    { return m.PushID }

// bodyID is the id in a message's body.
func bodyID(m sqstypes.Message) string { return push.PeekID([]byte(aws.ToString(m.Body))) }

// deadLetters waits for a dead letter for every key (keyOf tells a message's key) and returns
// them by key. They stay hidden for two minutes, so that nobody else takes them meanwhile; the
// caller gives them back or deletes them.
func deadLetters(t *testing.T, keys []string, keyOf func(sqstypes.Message) string, timeout time.Duration) map[string][]sqstypes.Message {
	t.Helper()
	got, err := stack.WaitDeadLetters(context.Background(), keys, keyOf, 2*time.Minute, timeout)
	require.NoError(t, err)
	return got
}

// giveBack makes dead-letter messages visible again at once.
func giveBack(t *testing.T, msgs map[string][]sqstypes.Message) {
	t.Helper()
	for _, list := range msgs {
		require.NoError(t, stack.GiveBack(context.Background(), list...))
	}
}

func maxReceiveCount(t *testing.T) int {
	t.Helper()
	attrs, err := stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(output(t, "PushQueueUrl")), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy},
	})
	require.NoError(t, err)
	var policy struct {
		MaxReceiveCount json.Number `json:"maxReceiveCount"`
	}
	raw := attrs.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)]
	require.NoError(t, json.Unmarshal([]byte(raw), &policy), raw)
	n, err := policy.MaxReceiveCount.Int64()
	require.NoError(t, err, raw)
	return int(n)
}

// waitFaultHits waits until the rule has applied n times.
func waitFaultHits(t *testing.T, id string, n int, timeout time.Duration) {
	t.Helper()
	hits := 0
	err := localrun.Poll(context.Background(), timeout, 100*time.Millisecond, func() (bool, error) {
		rules, err := stack.Faults.Rules(context.Background())
		for _, r := range rules {
			if r.ID == id {
				hits = r.Hits
			}
		}
		return hits >= n, err
	})
	require.NoError(t, err, "fault rule %s applied %d of %d times", id, hits, n)
}

// duplicatesOnly waits for n finished messages of the push and checks each was a copy of a
// push the device had already: reported duplicate, nothing published, under the push's own
// id and due time from its body.
func duplicatesOnly(t *testing.T, pushID string, n int) {
	t.Helper()
	for _, r := range senderFinished(t, pushID, n, 60*time.Second) {
		assert.Equal(t, "duplicate", r.Outcome, "push %s: %+v", pushID, r)
		assert.Equal(t, "done", r.Action, "push %s", pushID)
		assert.Equal(t, 1, r.Duplicates, "push %s", pushID)
		assert.Zero(t, r.Sent, "push %s", pushID)
		assert.Equal(t, "dueAt", r.DueSource, "push %s: measured from the due time in its body", pushID)
	}
}

// The measurement: pushes scheduled with StartExecution and no id of their own were
// delivered (recorded sent), a crash streak of the sender then made the queue move their
// messages to the dead-letter queue (no park by the sender, no reason), and a redrive sent
// every one a second time: the copy came from another sender than the scheduler, so its
// attributes (executionName) were not trusted, and without an id in the body the sender took
// the copy's SQS message id for the push's. Now the state machine writes the execution name
// into the body as the push's id: a copy of the message is the same push, whoever makes it.
func TestRedriveAfterACrashStreakSendsPushesWithoutAnIdOnce(t *testing.T) {
	// Not parallel: the kills take whole invocations down, with whatever else their batch
	// holds, and pushctl redrive moves every message on the dead-letter queue.
	ctx := context.Background()
	receives := maxReceiveCount(t)
	visibility := queueVisibility(t)
	type scheduled struct{ id, ep string }
	var pushes []scheduled
	var ids, rules []string
	for _, s := range []string{"a", "b", "c"} {
		id, user := name("crash-noid-"+s), name("crash-noid-user-"+s)
		ep := device(t, user, "crash-noid-phone-"+s)
		// The push's first delivery-log write, the claim of its first receive, goes through;
		// each later one kills the sender right after it took effect: the "sent" mark of the
		// first receive (SNS has the push, the record says sent, and the sender never
		// answers), then the claim of every receive after it. The queue hands the message
		// out until it moves it to the dead-letter queue itself.
		pass := fault(t, faultproxy.Rule{Service: "dynamodb", Operation: "UpdateItem", Match: `"` + id + `"`, Action: faultproxy.ActionDelay, Delay: "1ms", Times: 1})
		kill := fault(t, faultproxy.Rule{Service: "dynamodb", Operation: "UpdateItem", Match: `"` + id + `"`, Action: faultproxy.ActionKillAfter})
		// No id in the push: the execution name is its id.
		schedule(t, id, `{"delaySeconds":2,"push":{"userId":"`+user+`","title":"Back in stock"}}`)
		// One push at a time: a kill takes its whole batch down, and a push of that batch
		// caught between its publish and its record is sent again by the next receive (at
		// least once: TestFaultSenderKilledBetweenPublishAndRecord), which is not this case.
		waitFaultHits(t, kill.ID, 1, 60*time.Second)
		pushes = append(pushes, scheduled{id, ep})
		ids = append(ids, id)
		rules = append(rules, pass.ID, kill.ID)
	}

	// Every receive crashed: the queue moves the message after the last one it allows.
	parked := deadLetters(t, ids, bodyID, time.Duration(receives+1)*visibility+60*time.Second)
	for _, p := range pushes {
		require.Len(t, parked[p.id], 1, "push %s", p.id)
		m := parked[p.id][0]
		assert.NotContains(t, m.MessageAttributes, "parkReason", "moved by the queue itself, not parked by the sender")
		assert.Equal(t, p.id, aws.ToString(m.MessageAttributes["executionName"].StringValue))
		assert.Equal(t, p.id, bodyID(m), "the execution wrote its name into the body as the push's id")
		reports, err := localrun.SenderReports(logPath, p.id)
		require.NoError(t, err)
		assert.Empty(t, reports, "the sender died on every receive, before its report")
		got, err := stack.Deliveries(ctx, p.ep)
		require.NoError(t, err)
		require.Len(t, got, 1, "the first receive published it")
		rec := record(t, p.id, p.ep)
		assert.Equal(t, "sent", rec["status"])
		assert.Equal(t, "1", rec["publishes"])
	}
	for _, r := range rules {
		require.NoError(t, stack.Faults.Remove(ctx, r), "the crashes are over")
	}

	// 1. What the console's redrive or StartMessageMoveTask sends: the same body and
	// attributes, from another sender than the scheduler. No pushctl involved: the identity
	// is in the body. (Each message also stays on the dead-letter queue for step 2.)
	for _, p := range pushes {
		m := parked[p.id][0]
		_, err := stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(output(t, "PushQueueUrl")), MessageBody: m.Body, MessageAttributes: m.MessageAttributes})
		require.NoError(t, err)
	}
	for _, p := range pushes {
		duplicatesOnly(t, p.id, 1)
	}

	// 2. pushctl redrive moves the same messages once more.
	giveBack(t, parked)
	report := pushctlRedrive(t)
	moved := times(report.Moved, byMessageID)
	for _, p := range pushes {
		id := aws.ToString(parked[p.id][0].MessageId)
		assert.Equal(t, 1, moved[id], "push %s moved once", p.id)
		assert.Zero(t, times(report.Skipped, byMessageID)[id]+times(report.Left, byMessageID)[id], "push %s", p.id)
	}
	assert.False(t, strings.HasPrefix(report.Stopped, "--max"), report.Stopped)
	for _, p := range pushes {
		duplicatesOnly(t, p.id, 2)
	}

	// Both copies came and went; each device has the push once, recorded sent.
	for _, p := range pushes {
		got, err := stack.Deliveries(ctx, p.ep)
		require.NoError(t, err)
		assert.Len(t, got, 1, "push %s reached its device once", p.id)
		rec := record(t, p.id, p.ep)
		assert.Equal(t, "sent", rec["status"])
		assert.Equal(t, "1", rec["publishes"], "one publish, ever")
		assert.Equal(t, "1", rec["attempts"], "the copies claimed nothing")
	}
}

// Pushes parked as invalid cannot be fixed by a redrive: pushctl leaves them where they are
// and says why, moves the valid ones once, and ends by itself. With --include-invalid it moves
// each once; the sender parks them again, and the run does not take them a second time.
func TestRedriveOfInvalidPushesEndsAndLeavesThemParked(t *testing.T) {
	// Not parallel: pushctl redrive moves every message on the dead-letter queue.
	ctx := context.Background()
	user := name("redrive-invalid-user")
	ep := device(t, user, "redrive-invalid-phone")
	cases := []struct{ id, body, field string }{
		{name("redrive-invalid-colour"), `,"title":"t","colour":"red"`, "colour"},
		{name("redrive-invalid-priority"), `,"title":"t","priority":"urgent"`, "priority"},
		{name("redrive-invalid-ttl"), `,"title":"t","ttlSeconds":-1`, "ttlSeconds"},
		{name("redrive-invalid-empty"), ``, "title"},
		{name("redrive-invalid-data"), `,"title":"t","data":{"from":"x"}`, "data.from"},
	}
	var invalid []string
	field := map[string]string{}
	for _, c := range cases {
		sendNow(t, `{"id":"`+c.id+`","userId":"`+user+`"`+c.body+`}`)
		invalid = append(invalid, c.id)
		field[c.id] = c.field
	}
	// Two valid pushes parked after a throttling that is over now.
	valid := []string{name("redrive-valid-1"), name("redrive-valid-2")}
	for _, id := range valid {
		_, err := stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:    aws.String(output(t, "DeadLetterQueueUrl")),
			MessageBody: aws.String(`{"id":"` + id + `","userId":"` + user + `","title":"Back from the DLQ"}`),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"parkReason": {DataType: aws.String("String"), StringValue: aws.String("gave up after 2 attempts: Throttling: Rate exceeded")},
				"parkedAt":   {DataType: aws.String("String"), StringValue: aws.String(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano))},
				"pushId":     {DataType: aws.String("String"), StringValue: aws.String(id)},
			},
		})
		require.NoError(t, err)
	}
	for _, id := range invalid {
		reports := senderFinished(t, id, 1, 60*time.Second)
		assert.Equal(t, "invalid", reports[0].Outcome)
		assert.Equal(t, "parked", reports[0].Action)
	}
	// Every one is on the dead-letter queue (the sender parks before it reports).
	giveBack(t, deadLetters(t, append(append([]string{}, invalid...), valid...), localrun.ParkedID, 60*time.Second))

	report := pushctlRedrive(t)
	assert.False(t, strings.HasPrefix(report.Stopped, "--max"), "ended by itself: %s", report.Stopped)
	moved, skipped := times(report.Moved, byPushID), times(report.Skipped, byPushID)
	for _, id := range valid {
		assert.Equal(t, 1, moved[id], "valid push %s moved once", id)
	}
	for _, m := range report.Skipped {
		if f, ours := field[m.PushID]; ours {
			assert.Equal(t, f, m.InvalidField, "push %s", m.PushID)
			assert.True(t, strings.HasPrefix(m.ParkReason, "invalid push: invalid "+f), "push %s skipped with its reason: %q", m.PushID, m.ParkReason)
		}
	}
	for _, id := range invalid {
		assert.Zero(t, moved[id], "invalid push %s not moved", id)
		assert.Equal(t, 1, skipped[id], "invalid push %s skipped once", id)
	}
	_, _, err := stack.WaitForDeliveries(ctx, ep, 2, 60*time.Second)
	require.NoError(t, err)
	for _, id := range valid {
		reports := senderFinished(t, id, 1, 60*time.Second)
		assert.Equal(t, "sent", reports[0].Outcome)
	}
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	var delivered []string
	for _, d := range got {
		delivered = append(delivered, d.PushID())
	}
	assert.ElementsMatch(t, valid, delivered, "each valid push delivered once, no invalid one")
	// The invalid ones are still there, given back by the run.
	giveBack(t, deadLetters(t, invalid, localrun.ParkedID, 30*time.Second))

	// After a sender fix that would accept them, the operator moves them too. This sender
	// parks each again at once, and the run, which never takes what was parked after it
	// started, ends.
	report = pushctlRedrive(t, "--include-invalid")
	assert.False(t, strings.HasPrefix(report.Stopped, "--max"), "ended by itself: %s", report.Stopped)
	moved = times(report.Moved, byPushID)
	for _, id := range invalid {
		assert.Equal(t, 1, moved[id], "invalid push %s moved exactly once", id)
	}
	assert.Empty(t, report.Skipped)
	for _, id := range invalid {
		reports := senderFinished(t, id, 2, 60*time.Second)
		assert.Len(t, reports, 2, "push %s handled twice: once per move", id)
		assert.Equal(t, "parked", reports[len(reports)-1].Action)
	}
	// Parked again, with its reason; this test leaves nothing behind.
	again := deadLetters(t, invalid, localrun.ParkedID, 60*time.Second)
	for _, id := range invalid {
		require.Len(t, again[id], 1, "push %s parked once more", id)
		m := again[id][0]
		assert.Equal(t, field[id], aws.ToString(m.MessageAttributes["invalidField"].StringValue))
		_, err := stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(output(t, "DeadLetterQueueUrl")), ReceiptHandle: m.ReceiptHandle})
		require.NoError(t, err)
	}
	got, err = stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Len(t, got, 2, "no invalid push was ever published")
}
