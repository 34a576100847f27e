//go:build load

// Package load is the load and fault suite (make load): a burst of pushes, direct and
// scheduled, through the whole local stack, then the same pipeline under each fault the
// delivery guarantee is about. Every scenario checks every push against the guarantee
// (docs/guarantees.md, "Delivery guarantees") and prints throughput, lateness percentiles and where the
// time went. Bounded: each scenario has a deadline and the suite stops by itself.
//
// Sizes: LOAD_DIRECT and LOAD_SCHEDULED (default 9000 and 1000) for the burst,
// LOAD_FAULT_PUSHES (default 400) for each fault scenario.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/local/faultproxy"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/local/motoapi"
)

var (
	stack *localrun.Stack
	runID = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
)

func TestMain(m *testing.M) {
	stack = localrun.ConnectOrExit("load")
	os.Exit(m.Run())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// pushSpec is one push the suite sends and what it expects of it.
type pushSpec struct {
	ID         string
	User       string
	Endpoints  []string
	AtMostOnce bool
	Scheduled  bool
	Disabled   map[string]bool // endpoints disabled before the push is sent: expect "failed"
	// NoID: the push has no id of its own (scheduled: the execution name, ID, is its id).
	NoID bool
}

func (p pushSpec) body() string {
	extra := ""
	if p.AtMostOnce {
		extra = `,"delivery":"at-most-once"`
	}
	id := `"id":"` + p.ID + `",`
	if p.NoID {
		id = ""
	}
	return `{` + id + `"userId":"` + p.User + `","title":"Load test","body":"` + p.ID + `"` + extra + `}`
}

// parallel runs f for each index with n workers.
func parallel(n, count int, f func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// registerUsers creates users with `devices` devices each: SNS endpoints and registry rows.
func registerUsers(t *testing.T, prefix string, users, devices int) map[string][]string {
	t.Helper()
	ctx := context.Background()
	app, err := stack.SNS.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{
		Name: aws.String(localrun.PlatformApplicationName), Platform: aws.String("GCM"),
		Attributes: map[string]string{"PlatformCredential": "local-emulator-has-no-fcm-credential"},
	})
	require.NoError(t, err)
	table, err := stack.Output("DevicesTableName")
	require.NoError(t, err)
	out := make(map[string][]string, users)
	var mu sync.Mutex
	err = parallel(16, users*devices, func(i int) error {
		user := fmt.Sprintf("%s-%s-u%05d", prefix, runID, i/devices)
		ep, err := stack.SNS.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
			PlatformApplicationArn: app.PlatformApplicationArn, Token: aws.String(fmt.Sprintf("%s-token-%d", user, i%devices)),
		})
		if err != nil {
			return err
		}
		_, err = stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
			"userId": &ddbtypes.AttributeValueMemberS{Value: user}, "endpointArn": &ddbtypes.AttributeValueMemberS{Value: aws.ToString(ep.EndpointArn)},
			"platform": &ddbtypes.AttributeValueMemberS{Value: "FCM"},
		}})
		mu.Lock()
		out[user] = append(out[user], aws.ToString(ep.EndpointArn))
		mu.Unlock()
		return err
	})
	require.NoError(t, err)
	return out
}

// plan makes n pushes to random users of the set; atMostOnce of them ask for at most once.
func plan(prefix string, users map[string][]string, n int, atMostOnce float64, scheduled bool) []pushSpec {
	names := slices.Sorted(mapsKeys(users))
	specs := make([]pushSpec, n)
	for i := range specs {
		u := names[rand.IntN(len(names))]
		specs[i] = pushSpec{ID: fmt.Sprintf("%s-%s-%06d", prefix, runID, i), User: u, Endpoints: users[u],
			AtMostOnce: rand.Float64() < atMostOnce, Scheduled: scheduled}
	}
	return specs
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sendDirect puts pushes on the push queue, 10 per SendMessageBatch, copies times each.
func sendDirect(t *testing.T, specs []pushSpec, copies int) {
	t.Helper()
	queue, err := stack.Output("PushQueueUrl")
	require.NoError(t, err)
	var bodies []string
	for _, p := range specs {
		for range copies {
			bodies = append(bodies, p.body())
		}
	}
	rand.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	err = parallel(8, (len(bodies)+9)/10, func(b int) error {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i := b * 10; i < min(len(bodies), b*10+10); i++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i])})
		}
		out, err := stack.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("SendMessageBatch: %d failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		return err
	})
	require.NoError(t, err)
}

// schedule starts one execution per push, all due at `at`.
func schedule(t *testing.T, specs []pushSpec, at time.Time) {
	t.Helper()
	sm, err := stack.Output("StateMachineArn")
	require.NoError(t, err)
	sendAt := at.UTC().Format(time.RFC3339)
	err = parallel(8, len(specs), func(i int) error {
		p := specs[i]
		_, err := stack.SFN.StartExecution(context.Background(), &sfn.StartExecutionInput{
			StateMachineArn: aws.String(sm), Name: aws.String(p.ID),
			Input: aws.String(`{"sendAt":"` + sendAt + `","push":` + p.body() + `}`),
		})
		return err
	})
	require.NoError(t, err)
}

// runningExecutions counts the scheduler's executions still running (waiting or sending), up
// to 1,000: one page, because moto's page tokens break when executions end in between.
func runningExecutions(t *testing.T) int {
	t.Helper()
	sm, err := stack.Output("StateMachineArn")
	require.NoError(t, err)
	out, err := stack.SFN.ListExecutions(context.Background(), &sfn.ListExecutionsInput{
		StateMachineArn: aws.String(sm), StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 1000})
	require.NoError(t, err)
	return len(out.Executions)
}

// queueDepth is every message the push queue still holds: visible, in flight, delayed.
func queueDepth(t *testing.T) int {
	t.Helper()
	queue, err := stack.Output("PushQueueUrl")
	require.NoError(t, err)
	out, err := stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queue), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	require.NoError(t, err)
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n
}

// waitSettled polls the message counts of the endpoints (a cost independent of the pushes
// sent before) until `want` deliveries arrived and the queue is empty, or nothing changed for
// a while with an empty queue, or the deadline. It returns when the last delivery was seen.
func waitSettled(t *testing.T, endpoints map[string]bool, want int, pendingExecutions func() int, timeout time.Duration) (int, time.Time) {
	t.Helper()
	last, lastChange, stable, depth, running := -1, time.Now(), 0, 0, 0
	err := localrun.Poll(context.Background(), timeout, 2*time.Second, func() (bool, error) {
		_, counts, err := motoapi.MessageCounts(context.Background(), stack.Endpoint)
		if err != nil {
			return false, err
		}
		got := 0
		for ep := range endpoints {
			got += counts[ep]
		}
		if got != last {
			last, lastChange, stable = got, time.Now(), 0
		}
		depth, running = queueDepth(t), 0
		if pendingExecutions != nil {
			running = pendingExecutions()
		}
		if depth == 0 && running == 0 {
			stable++
		} else {
			stable = 0
		}
		return (got >= want && depth == 0 && running == 0) || stable >= 5, nil
	})
	if errors.Is(err, localrun.ErrTimeout) {
		t.Errorf("not settled within %s: %d of %d deliveries, queue depth %d, executions running %d", timeout, last, want, depth, running)
	} else {
		require.NoError(t, err)
	}
	return last, lastChange
}

// collect reads what each endpoint received: push ids, in order.
func collect(t *testing.T, endpoints map[string]bool) map[string][]string {
	t.Helper()
	out := make(map[string][]string, len(endpoints))
	var mu sync.Mutex
	eps := slices.Collect(mapsKeys(endpoints))
	err := parallel(8, len(eps), func(i int) error {
		_, got, err := motoapi.EndpointMessages(context.Background(), stack.Endpoint, eps[i], 0)
		if err != nil {
			return err
		}
		ids := make([]string, len(got))
		for j, d := range got {
			ids[j] = d.PushID()
		}
		mu.Lock()
		out[eps[i]] = ids
		mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	return out
}

// outcome of one scenario against the guarantee.
type outcome struct {
	expected, deliveries, once, duplicates, uncertain, failedAsExpected int
	missing, unexpected, broken                                         []string
}

// verify checks every (push, endpoint) against the guarantee: at least once: one copy or
// more, more only when the record shows publishes whose outcome was unknown; at most once:
// at most one copy, none only when recorded uncertain; a disabled endpoint: none, recorded
// failed (the publish SNS refused) or skipped (the registry had marked the device disabled
// after an earlier push's failure: no publish at all). And no copy of anything else.
func verify(t *testing.T, specs []pushSpec, got map[string][]string) outcome {
	t.Helper()
	var o outcome
	want := map[string]map[string]bool{} // endpoint -> push ids
	for _, p := range specs {
		for _, ep := range p.Endpoints {
			if want[ep] == nil {
				want[ep] = map[string]bool{}
			}
			want[ep][p.ID] = true
		}
	}
	counts := map[[2]string]int{}
	for ep, ids := range got {
		for _, id := range ids {
			o.deliveries++
			if !want[ep][id] {
				o.unexpected = append(o.unexpected, id+" on "+ep)
				continue
			}
			counts[[2]string{id, ep}]++
		}
	}
	for _, p := range specs {
		for _, ep := range p.Endpoints {
			o.expected++
			n := counts[[2]string{p.ID, ep}]
			switch {
			case p.Disabled[ep]:
				if st := status(t, p.ID, ep); n != 0 || (st != "failed" && st != "skipped") {
					o.broken = append(o.broken, fmt.Sprintf("%s on disabled %s: %d copies, status %s", p.ID, ep, n, status(t, p.ID, ep)))
				} else {
					o.failedAsExpected++
				}
			case n == 1:
				o.once++
			case n == 0 && p.AtMostOnce && status(t, p.ID, ep) == "uncertain":
				o.uncertain++
			case n == 0:
				o.missing = append(o.missing, fmt.Sprintf("%s on %s (status %q)", p.ID, ep, status(t, p.ID, ep)))
			case p.AtMostOnce:
				o.broken = append(o.broken, fmt.Sprintf("%s (at most once) reached %s %d times", p.ID, ep, n))
			default:
				// Each copy must be a publish SNS may have taken: one recorded per publish call,
				// plus one per attempt that died before recording its calls.
				o.duplicates += n - 1
				rec := record(t, p.ID, ep)
				attempts, _ := strconv.Atoi(rec["attempts"])
				publishes, _ := strconv.Atoi(rec["publishes"])
				if rec["status"] != "sent" || n > publishes+attempts-1 {
					o.broken = append(o.broken, fmt.Sprintf("%s reached %s %d times, more than the publishes that may have happened: %v", p.ID, ep, n, rec))
				}
			}
		}
	}
	return o
}

func record(t *testing.T, pushID, ep string) map[string]string {
	t.Helper()
	rec, err := stack.DeliveryRecord(context.Background(), pushID, ep)
	require.NoError(t, err)
	return rec
}

func status(t *testing.T, pushID, ep string) string { return record(t, pushID, ep)["status"] }

// drainParked takes every message off the dead-letter queue, returning them.
func drainParked(t *testing.T) []sqstypes.Message {
	t.Helper()
	ctx := context.Background()
	dlq, err := stack.Output("DeadLetterQueueUrl")
	require.NoError(t, err)
	var out []sqstypes.Message
	for empty := 0; empty < 2; {
		res, err := stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		require.NoError(t, err)
		if len(res.Messages) == 0 {
			empty++
		}
		out = append(out, res.Messages...)
	}
	return out
}

// percentile of sorted values (nearest rank).
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// cpuSeconds is the user+system CPU time of a process and its children so far.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	total := 0.0
	for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
		v, _ := strconv.ParseFloat(f[i], 64)
		total += v
	}
	return total / 100 // USER_HZ
}

// processTree is pid and its descendants.
func processTree(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func pidOf(name string) int {
	raw, _ := os.ReadFile(filepath.Join(stack.StateDir, name))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// usage samples the CPU time of the emulator and of the functions (the runner and its
// bootstraps) between start and stop.
type usage struct {
	start      time.Time
	moto, fns  float64
	motoPID    int
	runnerPID  int
	wall       time.Duration
	motoS, fnS float64
}

func startUsage() *usage {
	u := &usage{start: time.Now(), motoPID: pidOf("moto.pid"), runnerPID: pidOf("runner.pid")}
	u.moto = cpuSeconds(u.motoPID)
	for _, pid := range processTree(u.runnerPID) {
		u.fns += cpuSeconds(pid)
	}
	return u
}

func (u *usage) stop() {
	u.wall = time.Since(u.start)
	u.motoS = cpuSeconds(u.motoPID) - u.moto
	fns := 0.0
	for _, pid := range processTree(u.runnerPID) {
		fns += cpuSeconds(pid)
	}
	u.fnS = fns - u.fns
}

// report prints what a scenario did and measured.
func report(t *testing.T, name string, specs []pushSpec, o outcome, startedAt string, started, lastDelivery time.Time, u *usage, stats map[string]faultproxy.OpStats, rules []faultproxy.Rule, parkedNote string) {
	t.Helper()
	reports, err := localrun.AllSenderReports(stack.LogPath())
	require.NoError(t, err)
	var direct, scheduled []int64
	actions := map[string]int{}
	for _, p := range specs {
		rs := reports[p.ID]
		for _, r := range rs {
			actions[r.Action]++
		}
		// Lateness of the attempt that sent it (the last one that did).
		for i := len(rs) - 1; i >= 0; i-- {
			if rs[i].Sent > 0 {
				if p.Scheduled {
					scheduled = append(scheduled, int64(rs[i].LatenessMs))
				} else {
					direct = append(direct, int64(rs[i].LatenessMs))
				}
				break
			}
		}
	}
	var b strings.Builder
	span := lastDelivery.Sub(started)
	fmt.Fprintf(&b, "\n### %s\n", name)
	fmt.Fprintf(&b, "pushes %d, expected deliveries %d, delivered %d: once %d, extra copies %d (at least once, after an ambiguous attempt), uncertain %d (at most once), disabled endpoints failed or skipped as expected %d\n",
		len(specs), o.expected, o.deliveries, o.once, o.duplicates, o.uncertain, o.failedAsExpected)
	fmt.Fprintf(&b, "missing %d, unexpected %d, against the guarantee %d\n", len(o.missing), len(o.unexpected), len(o.broken))
	if span > 0 {
		fmt.Fprintf(&b, "throughput: %d deliveries in %.1f s, from %s to the last delivery = %.0f/s\n",
			o.deliveries, span.Seconds(), startedAt, float64(o.deliveries)/span.Seconds())
	}
	for _, l := range []struct {
		name string
		v    []int64
	}{{"direct (from enqueue)", direct}, {"scheduled (from due time)", scheduled}} {
		if len(l.v) == 0 {
			continue
		}
		sort.Slice(l.v, func(i, j int) bool { return l.v[i] < l.v[j] })
		fmt.Fprintf(&b, "lateness %s, to SNS's confirmation: n %d, p50 %d ms, p99 %d ms, max %d ms\n",
			l.name, len(l.v), percentile(l.v, 0.5), percentile(l.v, 0.99), l.v[len(l.v)-1])
	}
	fmt.Fprintf(&b, "sender actions: %v\n", actions)
	if parkedNote != "" {
		fmt.Fprintf(&b, "%s\n", parkedNote)
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "fault %s %s.%s match %q: applied %d times\n", r.Action, r.Service, r.Operation, r.Match, r.Hits)
	}
	if u != nil {
		fmt.Fprintf(&b, "CPU over %.1f s: emulator (moto, one Python process) %.1f s = %.0f%% of a core; functions (runner, qemu bootstraps) %.1f s = %.0f%% of a core; this machine has 2 cores\n",
			u.wall.Seconds(), u.motoS, 100*u.motoS/u.wall.Seconds(), u.fnS, 100*u.fnS/u.wall.Seconds())
		if u.motoS/u.wall.Seconds() > 0.75 {
			fmt.Fprintf(&b, "=> the emulator limits the rate: it is one Python process, busy %.0f%% of the time on one core, and every call of the functions waits for it (mean times below; in AWS these calls take milliseconds)\n",
				100*u.motoS/u.wall.Seconds())
		}
	}
	ops := slices.Sorted(mapsKeys(stats))
	fmt.Fprintf(&b, "emulator time per call seen by the functions:\n")
	for _, op := range ops {
		s := stats[op]
		fmt.Fprintf(&b, "  %-28s %7d calls, mean %6.1f ms, max %7.1f ms, injected %d, errors %d\n",
			op, s.Calls, s.TotalMs/float64(max(s.Calls, 1)), s.MaxMs, s.Injected, s.Errors)
	}
	for _, list := range [][]string{o.missing, o.unexpected, o.broken} {
		for i, s := range list {
			if i == 10 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(list)-10)
				break
			}
			fmt.Fprintf(&b, "  ! %s\n", s)
		}
	}
	fmt.Print(b.String())
	f, err := os.OpenFile(filepath.Join(stack.StateDir, "load-report.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, _ = f.WriteString(b.String())
		_ = f.Close()
	}
}

// scenario is one run of the pipeline: pushes, faults, checks.
type scenario struct {
	name       string
	users      int
	devices    int
	direct     int
	scheduled  int
	atMostOnce float64
	copies     int // each direct push is sent this many times at once (conflicts)
	rules      func(users map[string][]string) []faultproxy.Rule
	// afterSend runs once the pushes are sent (scheduled ones fall due 20 s later).
	afterSend func(t *testing.T, specs []pushSpec)
	timeout   time.Duration
	// redrive: pushes parked on the way (each with its reason on the message) are redriven
	// and must then meet the guarantee.
	redrive bool
	// crashes: a push may also be parked by the queue itself, without a reason, when its
	// sender crashed on every receive.
	crashes bool
	// prefill: the consumer is paused while the pushes are sent, then released: the burst is
	// on the queue at once, and sending does not compete with delivering for the emulator.
	prefill bool
}

func run(t *testing.T, sc scenario) outcome {
	ctx := context.Background()
	users := registerUsers(t, sc.name, sc.users, sc.devices)
	specs := append(plan(sc.name+"-d", users, sc.direct, sc.atMostOnce, false), plan(sc.name+"-s", users, sc.scheduled, sc.atMostOnce, true)...)
	endpoints := map[string]bool{}
	for _, eps := range users {
		for _, ep := range eps {
			endpoints[ep] = true
		}
	}
	var rules []faultproxy.Rule
	if sc.rules != nil {
		for _, r := range sc.rules(users) {
			added, err := stack.Faults.Add(ctx, r)
			require.NoError(t, err)
			t.Cleanup(func() { _ = stack.Faults.Remove(ctx, added.ID) })
			rules = append(rules, added)
		}
	}
	var hold faultproxy.Rule
	if sc.prefill {
		var err error
		hold, err = stack.Faults.Add(ctx, faultproxy.Rule{Service: "sqs", Operation: "ReceiveMessage", Action: faultproxy.ActionHold})
		require.NoError(t, err)
	}
	copies := max(sc.copies, 1)
	var directSpecs, schedSpecs []pushSpec
	for _, p := range specs {
		if p.Scheduled {
			schedSpecs = append(schedSpecs, p)
		} else {
			directSpecs = append(directSpecs, p)
		}
	}
	sendStart := time.Now()
	// All scheduled pushes fall due at the same second, once everything is sent and what the
	// scenario does after sending is done. The emulator starts an execution in about 60 ms and
	// then runs its Wait, whose timestamp holds the whole input check (about 30 ms of Python
	// per execution, on the same core): 400 executions took 93.5 s, and a due time at 100 ms
	// each had pushes sent before the "disabled" scenario had disabled their endpoints.
	due := sendStart.Add(time.Duration(len(schedSpecs))*250*time.Millisecond + time.Duration(len(directSpecs))*5*time.Millisecond + 30*time.Second)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); schedule(t, schedSpecs, due) }()
	go func() { defer wg.Done(); sendDirect(t, directSpecs, copies) }()
	wg.Wait()
	t.Logf("%s: %d direct (x%d) and %d scheduled pushes (due %s) sent in %.1f s", sc.name, len(directSpecs), copies, len(schedSpecs),
		due.Format(time.TimeOnly), time.Since(sendStart).Seconds())
	require.NoError(t, stack.Faults.ResetStats(ctx))
	u := startUsage()
	started := time.Now()
	if sc.prefill {
		require.NoError(t, stack.Faults.Remove(ctx, hold.ID))
		t.Logf("%s: consumer released with %d messages on the queue", sc.name, queueDepth(t))
	} else {
		started = sendStart
	}
	if sc.afterSend != nil {
		sc.afterSend(t, specs)
	}

	want := 0
	for _, p := range specs {
		want += len(p.Endpoints) - len(p.Disabled)
	}
	pending := func() int { return runningExecutions(t) }
	_, last := waitSettled(t, endpoints, want, pending, sc.timeout)
	u.stop()

	stats, err := stack.Faults.Stats(ctx)
	require.NoError(t, err)
	hits, err := stack.Faults.Rules(ctx)
	require.NoError(t, err)
	for i := range rules {
		for _, h := range hits {
			if h.ID == rules[i].ID {
				rules[i].Hits = h.Hits
			}
		}
	}
	parked := drainParked(t)
	var parkedNote string
	if len(parked) > 0 {
		reasons := map[string]int{}
		for _, m := range parked {
			r := "(moved by the queue after crashes: no reason)"
			if a, ok := m.MessageAttributes["parkReason"]; ok {
				r = aws.ToString(a.StringValue)
				if i := strings.Index(r, ": "); i > 0 && strings.HasPrefix(r, "gave up") {
					r = r[:i] + ": " + strings.SplitN(r[i+2:], ":", 2)[0]
				}
			} else if !sc.crashes {
				t.Errorf("%s: a push was parked without its reason: %s", sc.name, aws.ToString(m.Body))
			}
			reasons[r]++
		}
		parkedNote = fmt.Sprintf("parked %d, then redriven: %v", len(parked), reasons)
		t.Logf("%s: %s", sc.name, parkedNote)
		if !sc.redrive {
			t.Errorf("%s: %d pushes parked (none may be): %v", sc.name, len(parked), reasons)
		}
		// The fault is over; the operator redrives.
		for _, r := range rules {
			_ = stack.Faults.Remove(ctx, r.ID)
		}
		for _, m := range parked {
			require.NoError(t, stack.Redrive(ctx, m))
		}
		_, last = waitSettled(t, endpoints, want, nil, sc.timeout)
	}
	o := verify(t, specs, collect(t, endpoints))
	from := "the first send"
	if sc.prefill {
		from = "the consumer's release"
	}
	report(t, sc.name, specs, o, from, started, last, u, stats, rules, parkedNote)
	// The report above lists the first of each; the assertions only count.
	assert.Zero(t, len(o.missing), "lost pushes")
	assert.Zero(t, len(o.unexpected), "copies of pushes nobody sent")
	assert.Zero(t, len(o.broken), "deliveries against the guarantee")
	return o
}

// TestBurst: at least 10,000 pushes, direct and scheduled, no faults: every one delivered
// exactly once, nothing parked.
func TestBurst(t *testing.T) {
	o := run(t, scenario{
		name: "burst", users: 1000, devices: 1, prefill: true,
		direct: envInt("LOAD_DIRECT", 9000), scheduled: envInt("LOAD_SCHEDULED", 1000),
		timeout: 20 * time.Minute,
	})
	assert.Zero(t, o.duplicates, "no fault, no repeat")
	assert.Equal(t, o.expected, o.once)
}

func faultPushes() int { return envInt("LOAD_FAULT_PUSHES", 400) }

func TestFaults(t *testing.T) {
	n := faultPushes()
	t.Run("sns throttling", func(t *testing.T) {
		// Throttled three times in a row (the SDK's own tries) on two receives in a row: parked
		// with the reason, as it should be; the redrive then delivers it.
		run(t, scenario{name: "throttling", users: 100, devices: 2, direct: n, timeout: 5 * time.Minute, redrive: true,
			rules: func(map[string][]string) []faultproxy.Rule {
				return []faultproxy.Rule{{Service: "sns", Operation: "Publish", Action: faultproxy.ActionError,
					Status: 400, Code: "Throttling", Message: "Rate exceeded", Probability: 0.3}}
			}})
	})
	t.Run("sns 5xx, before and after publishing", func(t *testing.T) {
		run(t, scenario{name: "5xx", users: 100, devices: 2, direct: n, atMostOnce: 0.5, timeout: 5 * time.Minute, redrive: true,
			rules: func(map[string][]string) []faultproxy.Rule {
				return []faultproxy.Rule{
					{Service: "sns", Operation: "Publish", Action: faultproxy.ActionError, Status: 500, Code: "InternalError", Probability: 0.1},
					{Service: "sns", Operation: "Publish", Action: faultproxy.ActionErrorAfter, Status: 500, Code: "InternalError", Probability: 0.05},
				}
			}})
	})
	t.Run("delivery log conflicts", func(t *testing.T) {
		run(t, scenario{name: "conflicts", users: 100, devices: 2, direct: n / 2, copies: 3, timeout: 5 * time.Minute,
			rules: func(map[string][]string) []faultproxy.Rule {
				return []faultproxy.Rule{{Service: "dynamodb", Operation: "UpdateItem", Match: "attribute_not_exists(pushId)",
					Action: faultproxy.ActionError, Status: 400, Code: "ConditionalCheckFailedException", Probability: 0.1}}
			}})
	})
	t.Run("sender killed mid-batch", func(t *testing.T) {
		run(t, scenario{name: "kills", users: 100, devices: 2, direct: n, atMostOnce: 0.5, timeout: 5 * time.Minute, redrive: true, crashes: true,
			rules: func(map[string][]string) []faultproxy.Rule {
				return []faultproxy.Rule{{Service: "sns", Operation: "Publish", Action: faultproxy.ActionKillAfter, Probability: 0.01, Times: 6}}
			}})
	})
	t.Run("function timeout shorter than a batch needs", func(t *testing.T) {
		run(t, scenario{name: "slow", users: 20, devices: 20, direct: n / 10, timeout: 5 * time.Minute,
			rules: func(map[string][]string) []faultproxy.Rule {
				return []faultproxy.Rule{{Service: "sns", Operation: "Publish", Action: faultproxy.ActionDelay, Delay: "800ms", Probability: 0.5}}
			}})
	})
	t.Run("endpoints disabled between scheduling and sending", func(t *testing.T) {
		run(t, scenario{name: "disabled", users: 100, devices: 2, scheduled: n, timeout: 5 * time.Minute,
			afterSend: func(t *testing.T, specs []pushSpec) {
				// Half the users lose a device: disabled at SNS before the pushes fall due.
				disabled := map[string]bool{}
				for _, p := range specs {
					if p.User[len(p.User)-1]%2 == 0 {
						disabled[p.Endpoints[0]] = true
					}
				}
				for ep := range disabled {
					_, err := stack.SNS.SetEndpointAttributes(context.Background(), &sns.SetEndpointAttributesInput{
						EndpointArn: aws.String(ep), Attributes: map[string]string{"Enabled": "false"}})
					require.NoError(t, err)
				}
				for i := range specs {
					if disabled[specs[i].Endpoints[0]] {
						specs[i].Disabled = map[string]bool{specs[i].Endpoints[0]: true}
					}
				}
			}})
	})
}
