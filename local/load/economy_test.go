//go:build load

package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/push"
)

// pendingSchedules counts the schedules left in the stack's group (every page).
func pendingSchedules(t *testing.T, group string) int {
	t.Helper()
	n := 0
	in := &scheduler.ListSchedulesInput{GroupName: aws.String(group), MaxResults: aws.Int32(100)}
	for {
		out, err := stack.Scheduler.ListSchedules(context.Background(), in)
		require.NoError(t, err)
		n += len(out.Schedules)
		if aws.ToString(out.NextToken) == "" {
			return n
		}
		in.NextToken = out.NextToken
	}
}

// TestEconomyBurst: 1,000 pushes on the economy engine scheduled at once through the Go
// client, due 60 to 300 s later, so that most go as one SQS message with DelaySeconds and
// about a quarter (due past the local stack's threshold of 180 s, and far enough that the
// schedule's at() is a minute ahead of the clock: from about 240 s) as an EventBridge
// Scheduler schedule that the local runner fires 60 to 180 s early and the sender holds. Each
// must be delivered once, none early, and the 99th percentile of lateness within 1 s of the
// due time plus the emulator's share: its whole second (moto's delayed messages wake no long
// poll: the next one-second slice takes them) and the 99th percentile of control pushes put
// on the queue due at once, every two seconds through the same minutes (what the local
// pipeline itself takes under this load).
//
// LOAD_ECONOMY sets the number of economy pushes; LOAD_STEPFUNCTIONS (default none) adds that
// many on the state machine to the same burst, interleaved, due over the same minutes, held to
// the same checks: make bench compares the engines' lateness on one workload.
func TestEconomyBurst(t *testing.T) {
	ctx := context.Background()
	n := envInt("LOAD_ECONOMY", 1000)
	nSFN := 0
	if v := os.Getenv("LOAD_STEPFUNCTIONS"); v != "" {
		nSFN = envInt("LOAD_STEPFUNCTIONS", 0)
	}
	res, err := stack.ClientResources(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, res.ScheduleGroupName, "the local stack has the economy engine's outputs")
	c := client.NewWith(res, stack.SFN, stack.SQS, stack.Scheduler, stack.DynamoDB, nil)

	users := registerUsers(t, "economy", 500, 1)
	specs := plan("economy", users, n+nSFN, 0, true)
	engineOf := func(i int) string { // nSFN of the n+nSFN pushes, spread through the burst
		if nSFN > 0 && i*nSFN/(n+nSFN) != (i+1)*nSFN/(n+nSFN) {
			return client.EngineStepFunctions
		}
		return client.EngineEconomy
	}
	engine := map[string]string{}
	for i, p := range specs {
		engine[p.ID] = engineOf(i)
	}
	ctlUsers := registerUsers(t, "economy-ctl", 20, 1)
	endpoints := map[string]bool{}
	for _, m := range []map[string][]string{users, ctlUsers} {
		for _, eps := range m {
			for _, ep := range eps {
				endpoints[ep] = true
			}
		}
	}

	require.NoError(t, stack.Faults.ResetStats(ctx))
	u := startUsage()
	sendStart := time.Now()
	const minAhead, maxAhead = 60 * time.Second, 300 * time.Second
	var mu sync.Mutex
	viaSchedule := map[string]string{} // push id -> schedule name
	due := map[string]time.Time{}
	err = parallel(8, len(specs), func(i int) error {
		p := specs[i]
		at := sendStart.Add(minAhead + time.Duration(rand.Int64N(int64(maxAhead-minAhead))))
		s, err := c.Schedule(ctx, client.Request{Key: p.ID, Push: push.Push{UserID: p.User, Title: "Load test", Body: p.ID}, At: at, Engine: engine[p.ID]})
		if err != nil {
			return err
		}
		mu.Lock()
		due[p.ID] = s.DueAt
		if s.ScheduleName != "" {
			viaSchedule[p.ID] = s.ScheduleName
		}
		mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	sent := time.Since(sendStart)
	t.Logf("economy: %d pushes scheduled in %.1f s: %d through a schedule, %d as a delayed SQS message; and %d on the state machine",
		n, sent.Seconds(), len(viaSchedule), n-len(viaSchedule), nSFN)
	assert.Less(t, sent, minAhead, "all scheduled before the first falls due")

	// Control pushes through the same minutes: due when they are put on the queue.
	queue, err := stack.Output("PushQueueUrl")
	require.NoError(t, err)
	ctlList := slices.Sorted(mapsKeys(ctlUsers))
	var controls []pushSpec
	for at := sendStart.Add(minAhead); at.Before(sendStart.Add(maxAhead + 10*time.Second)); at = at.Add(2 * time.Second) {
		time.Sleep(time.Until(at))
		user := ctlList[len(controls)%len(ctlList)]
		p := pushSpec{ID: fmt.Sprintf("economy-ctl-%s-%04d", runID, len(controls)), User: user, Endpoints: ctlUsers[user], Scheduled: true}
		body := `{"id":"` + p.ID + `","userId":"` + user + `","title":"control","dueAt":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `"}`
		_, err := stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)})
		require.NoError(t, err)
		controls = append(controls, p)
	}

	want := len(specs) + len(controls)
	pending := func() int {
		p := pendingSchedules(t, res.ScheduleGroupName)
		if nSFN > 0 {
			p += runningExecutions(t)
		}
		return p
	}
	_, last := waitSettled(t, endpoints, want, pending, 10*time.Minute)
	u.stop()
	stats, err := stack.Faults.Stats(ctx)
	require.NoError(t, err)

	all := append(append([]pushSpec(nil), specs...), controls...)
	o := verify(t, all, collect(t, endpoints))
	title := fmt.Sprintf("economy burst (%d economy pushes due over 1-5 minutes, with control pushes)", n)
	if nSFN > 0 {
		title = fmt.Sprintf("engines burst (%d economy and %d Step Functions pushes, interleaved, due over 1-5 minutes, with control pushes)", n, nSFN)
	}
	report(t, title, all, o, "the first Schedule call", sendStart, last, u, stats, nil, "")

	// Lateness by path, from the sender's report on the copy it sent; the early copies it held.
	reports, err := localrun.AllSenderReports(stack.LogPath())
	require.NoError(t, err)
	latenessOf := func(ids []string) (ms []int64, early, held, notSent int) {
		for _, id := range ids {
			var sentReport *localrun.SenderReport
			for i, r := range reports[id] {
				switch {
				case r.Outcome == "early":
					held++
				case r.Sent > 0:
					sentReport = &reports[id][i]
				}
			}
			if sentReport == nil {
				notSent++
				continue
			}
			if sentReport.LatenessMs < 0 {
				early++
			}
			ms = append(ms, int64(sentReport.LatenessMs))
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
		return ms, early, held, notSent
	}
	var bySchedule, byDelay, ctlIDs, economyIDs, sfnIDs []string
	for _, p := range specs {
		if engine[p.ID] == client.EngineStepFunctions {
			sfnIDs = append(sfnIDs, p.ID)
			continue
		}
		economyIDs = append(economyIDs, p.ID)
		if viaSchedule[p.ID] != "" {
			bySchedule = append(bySchedule, p.ID)
		} else {
			byDelay = append(byDelay, p.ID)
		}
	}
	for _, p := range controls {
		ctlIDs = append(ctlIDs, p.ID)
	}
	ctlMs, _, _, ctlNotSent := latenessOf(ctlIDs)
	require.Zero(t, ctlNotSent, "every control push sent")
	share := time.Duration(percentile(ctlMs, 0.99))*time.Millisecond + time.Second
	bound := time.Second + share

	var b strings.Builder
	line := func(name string, ids []string) (p99 time.Duration) {
		ms, early, held, notSent := latenessOf(ids)
		if len(ms) == 0 {
			fmt.Fprintf(&b, "%s: none\n", name)
			return 0
		}
		fmt.Fprintf(&b, "%s: n %d, lateness p50 %d ms, p99 %d ms, max %d ms; published early %d; copies held by the sender until due %d; not sent %d\n",
			name, len(ms), percentile(ms, 0.5), percentile(ms, 0.99), ms[len(ms)-1], early, held, notSent)
		assert.Zero(t, early, "%s: none published before its due time", name)
		assert.Zero(t, notSent, "%s: every push sent", name)
		return time.Duration(percentile(ms, 0.99)) * time.Millisecond
	}
	p99 := line("economy, all", economyIDs)
	line("  through a schedule (due 180-300 s ahead, at() a minute ahead)", bySchedule)
	line("  as a delayed SQS message (due 60-240 s ahead)", byDelay)
	if nSFN > 0 {
		sfnP99 := line("stepfunctions, all", sfnIDs)
		assert.LessOrEqual(t, sfnP99, bound, "Step Functions lateness p99 within the same bound")
	}
	line("control pushes (due when queued)", ctlIDs)
	fmt.Fprintf(&b, "bound on the economy p99: 1 s + the emulator's share (its whole second 1000 ms + the control p99 %d ms) = %d ms; measured p99 %d ms\n",
		percentile(ctlMs, 0.99), bound.Milliseconds(), p99.Milliseconds())

	// The schedules: each fired once within its minute, as its role, and deleted.
	fired, deadLettered := schedulerLog(t, viaSchedule)
	fmt.Fprintf(&b, "schedules: %d created, %d fired (within their minute: %d), %d dead-lettered, %d left in the group\n",
		len(viaSchedule), len(fired), countTrue(fired), deadLettered, pendingSchedules(t, res.ScheduleGroupName))
	fmt.Print(b.String())
	appendReport(b.String())

	assert.LessOrEqual(t, p99, bound, "economy lateness p99 within 1 s of the due time plus the emulator's share")
	assert.Equal(t, len(viaSchedule), len(fired), "every schedule fired")
	assert.Equal(t, len(fired), countTrue(fired), "every schedule fired within the minute its at() names")
	assert.Zero(t, deadLettered)
	assert.Zero(t, pendingSchedules(t, res.ScheduleGroupName), "every schedule deleted after it ran")
	assert.Zero(t, queueMessages(t, res.SchedulerDeadLetterQueueArn), "nothing on the scheduler's dead-letter queue")
	assert.Zero(t, len(o.missing))
	assert.Zero(t, len(o.unexpected))
	assert.Zero(t, len(o.broken))
	assert.Zero(t, o.duplicates, "no fault, no repeat")
	assert.Equal(t, o.expected, o.once, "each delivered once")
}

// schedulerLog reads the runner's firings of the schedules (by name): whether each fired
// within the minute its at() names, and how many were dead-lettered.
func schedulerLog(t *testing.T, schedules map[string]string) (withinMinute map[string]bool, deadLettered int) {
	t.Helper()
	ours := map[string]bool{}
	for _, name := range schedules {
		ours[name] = true
	}
	raw, err := os.ReadFile(stack.LogPath())
	require.NoError(t, err)
	withinMinute = map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(l, "[scheduler] ")
		if !ok {
			continue
		}
		var v struct {
			Msg      string `json:"msg"`
			Schedule string `json:"schedule"`
			At       string `json:"at"`
			FiredAt  string `json:"firedAt"`
		}
		if json.Unmarshal([]byte(rest), &v) != nil || !ours[v.Schedule] {
			continue
		}
		switch v.Msg {
		case "schedule fired":
			at, _ := time.Parse(time.RFC3339, v.At)
			firedAt, _ := time.Parse(time.RFC3339Nano, v.FiredAt)
			withinMinute[v.Schedule] = !firedAt.Before(at) && firedAt.Sub(at) < 61*time.Second
		case "schedule dead-lettered":
			deadLettered++
		}
	}
	return withinMinute, deadLettered
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// queueMessages is every message on the queue with the ARN: visible, in flight, delayed.
func queueMessages(t *testing.T, arn string) int {
	t.Helper()
	parts := strings.Split(arn, ":")
	require.Len(t, parts, 6, arn)
	url, err := stack.SQS.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])})
	require.NoError(t, err)
	out, err := stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	require.NoError(t, err)
	total := 0
	for _, v := range out.Attributes {
		var c int
		fmt.Sscan(v, &c)
		total += c
	}
	return total
}

func appendReport(s string) {
	f, err := os.OpenFile(filepath.Join(stack.StateDir, "load-report.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, _ = f.WriteString(s)
		_ = f.Close()
	}
}
