package schedulerrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAtReadsTheExpressionInItsZone(t *testing.T) {
	got, err := ParseAt("at(2026-12-06T10:15:00)", "UTC")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC), got)

	got, err = ParseAt("at(2026-12-06T10:15:00)", "") // Scheduler's default zone
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)))

	got, err = ParseAt("at(2026-07-01T09:00:30)", "Europe/Berlin") // CEST, UTC+2
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 7, 1, 7, 0, 30, 0, time.UTC)), got.UTC())

	got, err = ParseAt("at(2026-12-06T10:15:00)", "Asia/Kolkata") // UTC+5:30
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 12, 6, 4, 45, 0, 0, time.UTC)), got.UTC())
}

func TestParseAtRefusesWhatIsNotAOneTimeSchedule(t *testing.T) {
	for _, expr := range []string{"rate(5 minutes)", "cron(0 12 * * ? *)", "at(2026-12-06 10:15:00)", "at(2026-12-06T10:15)", "at(garbage)", ""} {
		_, err := ParseAt(expr, "UTC")
		assert.Error(t, err, expr)
	}
	_, err := ParseAt("at(2026-12-06T10:15:00)", "Mars/Olympus_Mons")
	assert.ErrorContains(t, err, "Mars/Olympus_Mons")
}

func TestWindowIsTheMinuteTheExpressionNames(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	start, end := Window(at, 0)
	assert.Equal(t, at, start)
	assert.Equal(t, at.Add(time.Minute), end)

	// Seconds give no finer precision: never before them, never past the minute.
	start, end = Window(at.Add(20*time.Second), 0)
	assert.Equal(t, at.Add(20*time.Second), start)
	assert.Equal(t, at.Add(time.Minute), end)

	// A flexible window adds its minutes after.
	_, end = Window(at, 15)
	assert.Equal(t, at.Add(16*time.Minute), end)

	// In a zone with a half-hour offset too.
	kolkata, err := ParseAt("at(2026-12-06T10:15:00)", "Asia/Kolkata")
	require.NoError(t, err)
	start, end = Window(kolkata, 0)
	assert.Equal(t, time.Minute, end.Sub(start))
	assert.Equal(t, 0, end.Second())
}

func TestBackoffDoublesUpToAMinute(t *testing.T) {
	assert.Equal(t, time.Second, Backoff(1))
	assert.Equal(t, 2*time.Second, Backoff(2))
	assert.Equal(t, 32*time.Second, Backoff(6))
	assert.Equal(t, time.Minute, Backoff(7))
	assert.Equal(t, time.Minute, Backoff(100))
}

// --- the runner, with a fake clock, a fake Scheduler and fake SQS -------------------------

const (
	group    = "delayed-push-schedules"
	queueArn = "arn:aws:sqs:us-east-1:123456789012:push-queue"
	dlqArn   = "arn:aws:sqs:us-east-1:123456789012:scheduler-dlq"
	roleArn  = "arn:aws:iam::123456789012:role/scheduler"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type fakeScheduler struct {
	mu        sync.Mutex
	schedules map[string]*scheduler.GetScheduleOutput
	gets      int
	deleted   []string
}

func (f *fakeScheduler) add(name, expr string, after schedulertypes.ActionAfterCompletion, retry *schedulertypes.RetryPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.schedules == nil {
		f.schedules = map[string]*scheduler.GetScheduleOutput{}
	}
	f.schedules[name] = &scheduler.GetScheduleOutput{
		Arn: aws.String("arn:aws:scheduler:us-east-1:123456789012:schedule/" + group + "/" + name), Name: aws.String(name), GroupName: aws.String(group),
		ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:    &schedulertypes.FlexibleTimeWindow{Mode: schedulertypes.FlexibleTimeWindowModeOff},
		ActionAfterCompletion: after, State: schedulertypes.ScheduleStateEnabled,
		LastModificationDate: aws.Time(time.Unix(1, 0)),
		Target: &schedulertypes.Target{Arn: aws.String(queueArn), RoleArn: aws.String(roleArn), Input: aws.String(`{"push":"` + name + `"}`),
			DeadLetterConfig: &schedulertypes.DeadLetterConfig{Arn: aws.String(dlqArn)}, RetryPolicy: retry},
	}
}

func (f *fakeScheduler) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.schedules, name)
}

func (f *fakeScheduler) ListSchedules(_ context.Context, in *scheduler.ListSchedulesInput, _ ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.schedules {
		names = append(names, n)
	}
	sort.Strings(names)
	// Pages of two, so that the runner must follow NextToken.
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	out := &scheduler.ListSchedulesOutput{}
	for i := start; i < len(names) && i < start+2; i++ {
		s := f.schedules[names[i]]
		out.Schedules = append(out.Schedules, schedulertypes.ScheduleSummary{Name: s.Name, GroupName: s.GroupName, State: s.State,
			LastModificationDate: s.LastModificationDate, Target: &schedulertypes.TargetSummary{Arn: s.Target.Arn}})
	}
	if start+2 < len(names) {
		out.NextToken = aws.String(fmt.Sprint(start + 2))
	}
	return out, nil
}

func (f *fakeScheduler) GetSchedule(_ context.Context, in *scheduler.GetScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	s, ok := f.schedules[aws.ToString(in.Name)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}
	}
	return s, nil
}

func (f *fakeScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.schedules[aws.ToString(in.Name)]; !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}
	}
	delete(f.schedules, aws.ToString(in.Name))
	f.deleted = append(f.deleted, aws.ToString(in.Name))
	return &scheduler.DeleteScheduleOutput{}, nil
}

type sent struct {
	role, queue, body string
	at                time.Time
	attrs             map[string]string
}

type fakeSQS struct {
	mu    sync.Mutex
	clock *clock
	sent  []sent
	fail  map[string]error // queue URL -> error of every send to it
}

type roleSQS struct {
	f    *fakeSQS
	role string
}

func (q roleSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.local/" + aws.ToString(in.QueueOwnerAWSAccountId) + "/" + aws.ToString(in.QueueName))}, nil
}

func (q roleSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.f.mu.Lock()
	defer q.f.mu.Unlock()
	url := aws.ToString(in.QueueUrl)
	if err := q.f.fail[url]; err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	for k, v := range in.MessageAttributes {
		attrs[k] = aws.ToString(v.StringValue)
	}
	q.f.sent = append(q.f.sent, sent{role: q.role, queue: url, body: aws.ToString(in.MessageBody), at: q.f.clock.Now(), attrs: attrs})
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprint("m-", len(q.f.sent)))}, nil
}

func (q *fakeSQS) all() []sent {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]sent(nil), q.sent...)
}

const pushQueueURL = "https://sqs.local/123456789012/push-queue"
const dlqURL = "https://sqs.local/123456789012/scheduler-dlq"

func newRunner(start time.Time, u float64) (*Runner, *clock, *fakeScheduler, *fakeSQS, *bytes.Buffer) {
	c := &clock{t: start}
	sch := &fakeScheduler{}
	q := &fakeSQS{clock: c, fail: map[string]error{}}
	log := &bytes.Buffer{}
	r := &Runner{Groups: []string{group}, Scheduler: sch, Log: log, Now: c.Now, Rand: func() float64 { return u },
		SQSAs: func(_ context.Context, role string) (SQS, error) { return roleSQS{q, role}, nil }}
	return r, c, sch, q, log
}

// run ticks every second from the clock's time until end.
func run(t *testing.T, r *Runner, c *clock, end time.Time) {
	t.Helper()
	for now := c.Now(); !now.After(end); now = now.Add(time.Second) {
		c.Set(now)
		require.NoError(t, r.Tick(context.Background()))
	}
}

func TestRunnerFiresOnceAtTheChosenMomentOfTheMinuteAsTheRoleThenDeletes(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	for _, u := range []float64{0, 0.25, 0.999} {
		r, c, sch, q, log := newRunner(minute.Add(-30*time.Second), u)
		sch.add("a", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete, nil)
		want := minute.Add(time.Duration(u * float64(time.Minute)))

		run(t, r, c, want.Add(-time.Second))
		assert.Empty(t, q.all(), "u=%v: fired before its moment", u)

		run(t, r, c, minute.Add(3*time.Minute))
		got := q.all()
		require.Len(t, got, 1, "u=%v: fired once", u)
		assert.Equal(t, roleArn, got[0].role)
		assert.Equal(t, pushQueueURL, got[0].queue)
		assert.Equal(t, `{"push":"a"}`, got[0].body)
		assert.False(t, got[0].at.Before(want), "u=%v: fired at %v, before %v", u, got[0].at, want)
		assert.Less(t, got[0].at.Sub(want), time.Second, "u=%v: within a tick of its moment", u)
		assert.Less(t, got[0].at, minute.Add(time.Minute+time.Second), "within the minute (and a tick)")
		assert.Equal(t, []string{"a"}, sch.deleted)
		assert.Contains(t, log.String(), `"msg":"schedule fired"`)
		assert.Contains(t, log.String(), `"deleted":true`)
	}
}

func TestRunnerSpreadsSchedulesOfOneMinuteOverIt(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, _ := newRunner(minute.Add(-5*time.Second), 0)
	i := 0
	r.Rand = func() float64 { i++; return float64(i%6) / 6 } // a different moment per schedule
	for n := range 6 {
		sch.add(fmt.Sprint("s", n), "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete, nil)
	}
	run(t, r, c, minute.Add(2*time.Minute))
	seconds := map[int]bool{}
	for _, s := range q.all() {
		require.False(t, s.at.Before(minute))
		require.True(t, s.at.Before(minute.Add(time.Minute)))
		seconds[int(s.at.Sub(minute).Seconds())] = true
	}
	assert.Len(t, q.all(), 6)
	assert.Len(t, seconds, 6, "each at its own moment: %v", seconds)
	assert.Equal(t, 6, sch.gets, "each schedule read once, not at every tick")
}

func TestRunnerNeverFiresADeletedSchedule(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, _ := newRunner(minute.Add(-10*time.Second), 0.5)
	sch.add("cancelled", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete, nil)
	run(t, r, c, minute.Add(10*time.Second)) // read and planned
	sch.remove("cancelled")
	run(t, r, c, minute.Add(3*time.Minute))
	assert.Empty(t, q.all())
}

func TestRunnerKeepsAScheduleWithoutDeleteButRunsItOnce(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, _ := newRunner(minute, 0)
	sch.add("kept", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionNone, nil)
	run(t, r, c, minute.Add(3*time.Minute))
	assert.Len(t, q.all(), 1)
	assert.Empty(t, sch.deleted)
}

func TestRunnerRetriesWithBackoffThenDeadLetters(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, log := newRunner(minute, 0)
	q.fail[pushQueueURL] = &smithy.GenericAPIError{Code: "ServiceUnavailable", Message: "throttled"}
	sch.add("failing", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete,
		&schedulertypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(3), MaximumEventAgeInSeconds: aws.Int32(3600)})
	run(t, r, c, minute.Add(5*time.Second))
	assert.Empty(t, q.all())
	assert.Equal(t, 3, strings.Count(log.String(), "retrying"), "attempts at 0, 1 and 3 s: %s", log)
	run(t, r, c, minute.Add(time.Minute))
	got := q.all()
	require.Len(t, got, 1, "on the dead-letter queue once after 1 + 3 attempts")
	assert.Equal(t, dlqURL, got[0].queue)
	assert.Equal(t, roleArn, got[0].role)
	assert.Equal(t, `{"push":"failing"}`, got[0].body)
	assert.Equal(t, "ServiceUnavailable", got[0].attrs["ERROR_CODE"])
	assert.Equal(t, "4", got[0].attrs["X-Amz-Scheduler-Attempt"])
	assert.Equal(t, minute.Add(7*time.Second), got[0].at, "backoff 1 s, 2 s, 4 s")
	assert.Equal(t, []string{"failing"}, sch.deleted)
}

func TestRunnerDeadLettersAtOnceWhatARetryCannotFix(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, _ := newRunner(minute, 0)
	q.fail[pushQueueURL] = &smithy.GenericAPIError{Code: "AccessDenied"}
	sch.add("denied", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete, nil)
	run(t, r, c, minute)
	got := q.all()
	require.Len(t, got, 1)
	assert.Equal(t, dlqURL, got[0].queue)
	assert.Equal(t, "AccessDenied", got[0].attrs["ERROR_CODE"])
}

func TestRunnerStopsRetryingWhenTheEventIsTooOld(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, _ := newRunner(minute, 0)
	q.fail[pushQueueURL] = errors.New("connection refused")
	sch.add("old", "at(2026-12-06T10:15:00)", schedulertypes.ActionAfterCompletionDelete,
		&schedulertypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(185), MaximumEventAgeInSeconds: aws.Int32(60)})
	run(t, r, c, minute.Add(3*time.Minute))
	got := q.all()
	require.Len(t, got, 1)
	assert.Equal(t, dlqURL, got[0].queue)
	assert.False(t, got[0].at.Before(minute.Add(time.Minute)), "not before the event is a minute old")
	assert.Less(t, got[0].at, minute.Add(2*time.Minute), "retried at most a minute apart")
}

func TestRunnerSkipsWhatItCannotRunAndSaysSo(t *testing.T) {
	minute := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	r, c, sch, q, log := newRunner(minute, 0)
	sch.add("recurring", "rate(1 minute)", schedulertypes.ActionAfterCompletionNone, nil)
	run(t, r, c, minute.Add(2*time.Minute))
	assert.Empty(t, q.all())
	assert.Equal(t, 1, strings.Count(log.String(), "schedule not run locally"), log.String())
}
