// Package schedulerrun runs the emulator's EventBridge Scheduler schedules as AWS would. The
// emulator (moto) stores schedules but never runs them (local/RESEARCH.md, patch 17): a Runner
// lists a stack's schedule groups every second, and puts each enabled one-time schedule's
// input on its SQS target queue once, at a random moment within the minute its at() names
// (AWS documents 60-second precision: "set to run at 1:00, it will invoke the target between
// 1:00:00 and 1:00:59"), signed as the schedule's role; it retries a failed send with backoff
// per the schedule's RetryPolicy, then sends it to the schedule's dead-letter queue, and
// deletes the schedule after it ran when ActionAfterCompletion is DELETE.
package schedulerrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // ScheduleExpressionTimezone names any IANA zone, whatever the host has

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Scheduler is the part of the EventBridge Scheduler API the runner reads and deletes with.
type Scheduler interface {
	ListSchedules(ctx context.Context, in *scheduler.ListSchedulesInput, optFns ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error)
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// SQS is the part of the SQS API a schedule's target is reached with.
type SQS interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Runner fires the schedules of Groups. Set the fields, then call Run (or Tick, in tests).
type Runner struct {
	Groups    []string
	Scheduler Scheduler
	// SQSAs returns an SQS client signed with credentials of the role (Target.RoleArn), as
	// Scheduler calls a target: the message's SenderId is then the role's.
	SQSAs func(ctx context.Context, roleArn string) (SQS, error)
	// Log gets one JSON line per firing, retry, dead letter and error, prefixed "[scheduler] ".
	Log io.Writer
	// Now is the clock (nil: time.Now); Rand gives a number in [0, 1) that places a schedule's
	// firing within its window (nil: math/rand/v2).
	Now  func() time.Time
	Rand func() float64
	// Every is how often the groups are listed (0: a second).
	Every time.Duration
	// Parallel is how many schedules are read or fired at once (0: 8).
	Parallel int

	mu      sync.Mutex
	planned map[string]*plan // by group/name
	queues  map[string]string
}

// plan is what the runner knows of one schedule: read once per modification.
type plan struct {
	group, name string
	modified    time.Time
	out         *scheduler.GetScheduleOutput
	at          time.Time // the time at() names
	fireAt      time.Time // chosen once, within the window
	attempt     int       // sends tried so far
	next        time.Time // the next attempt, after a failure
	busy, done  bool
	skipped     string
}

// Run lists the groups every Every and fires what is due every tenth of a second (so that a
// schedule fires within its minute, not a listing later), until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = time.Second
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.FireDue(ctx)
			}
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.List(ctx); err != nil && ctx.Err() == nil {
			r.logf(map[string]any{"msg": "listing schedules failed", "error": err.Error()})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick lists (List), then fires what is due (FireDue): one step of Run, for tests.
func (r *Runner) Tick(ctx context.Context) error {
	if err := r.List(ctx); err != nil {
		return err
	}
	r.FireDue(ctx)
	return nil
}

// List lists the groups' enabled schedules and reads those new or modified since the last
// listing; a schedule no longer listed is forgotten, and never fired.
func (r *Runner) List(ctx context.Context) error {
	r.mu.Lock()
	if r.planned == nil {
		r.planned, r.queues = map[string]*plan{}, map[string]string{}
	}
	listed := map[string]bool{}
	r.mu.Unlock()

	var toRead []*plan
	for _, group := range r.Groups {
		in := &scheduler.ListSchedulesInput{GroupName: aws.String(group), State: schedulertypes.ScheduleStateEnabled, MaxResults: aws.Int32(100)}
		for {
			out, err := r.Scheduler.ListSchedules(ctx, in)
			if err != nil {
				return fmt.Errorf("ListSchedules %s: %w", group, err)
			}
			r.mu.Lock()
			for _, s := range out.Schedules {
				key := group + "/" + aws.ToString(s.Name)
				modified := aws.ToTime(s.LastModificationDate)
				p := r.planned[key]
				if p == nil || !p.modified.Equal(modified) && !p.busy {
					p = &plan{group: group, name: aws.ToString(s.Name), modified: modified}
					r.planned[key] = p
					toRead = append(toRead, p)
				}
				listed[key] = true
			}
			r.mu.Unlock()
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	r.mu.Lock()
	for key, p := range r.planned {
		if !listed[key] && !p.busy {
			delete(r.planned, key) // deleted (or disabled) before it fired
		}
	}
	r.mu.Unlock()
	r.each(toRead, func(p *plan) { r.read(ctx, p) })
	return nil
}

// FireDue fires, and waits for, every listed schedule whose moment has come.
func (r *Runner) FireDue(ctx context.Context) {
	now := r.now()
	var due []*plan
	r.mu.Lock()
	for _, p := range r.planned {
		if p.out != nil && !p.busy && !p.done && p.skipped == "" && !now.Before(p.fireAt) && !now.Before(p.next) {
			p.busy = true
			due = append(due, p)
		}
	}
	r.mu.Unlock()
	r.each(due, func(p *plan) {
		r.fire(ctx, p)
		r.mu.Lock()
		p.busy = false
		r.mu.Unlock()
	})
}

func (r *Runner) each(ps []*plan, f func(*plan)) {
	n := r.Parallel
	if n <= 0 {
		n = 8
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, p := range ps {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(p)
		}()
	}
	wg.Wait()
}

// read gets a schedule's details and chooses the moment it fires.
func (r *Runner) read(ctx context.Context, p *plan) {
	out, err := r.Scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{GroupName: aws.String(p.group), Name: aws.String(p.name)})
	if isCode(err, "ResourceNotFoundException") {
		return // deleted since the listing
	}
	if err != nil {
		r.logf(map[string]any{"msg": "GetSchedule failed", "group": p.group, "schedule": p.name, "error": err.Error()})
		r.mu.Lock()
		delete(r.planned, p.group+"/"+p.name) // read again at the next tick
		r.mu.Unlock()
		return
	}
	at, err := ParseAt(aws.ToString(out.ScheduleExpression), aws.ToString(out.ScheduleExpressionTimezone))
	flex := 0
	if w := out.FlexibleTimeWindow; w != nil && w.Mode == schedulertypes.FlexibleTimeWindowModeFlexible {
		flex = int(aws.ToInt32(w.MaximumWindowInMinutes))
	}
	start, end := Window(at, flex)
	r.mu.Lock()
	defer r.mu.Unlock()
	p.out = out
	if err != nil {
		p.skipped = err.Error()
		r.logf(map[string]any{"msg": "schedule not run locally", "group": p.group, "schedule": p.name, "reason": p.skipped})
		return
	}
	p.at = at
	p.fireAt = start.Add(time.Duration(r.rand() * float64(end.Sub(start))))
}

// fire sends the schedule's input to its target, retrying a failure per its RetryPolicy, then
// to its dead-letter queue; after the last of these it deletes a DELETE schedule.
func (r *Runner) fire(ctx context.Context, p *plan) {
	t := p.out.Target
	base := map[string]any{"group": p.group, "schedule": p.name, "at": p.at.UTC().Format(time.RFC3339), "fireAt": p.fireAt.UTC().Format(time.RFC3339Nano)}
	if t == nil {
		r.complete(ctx, p, with(base, map[string]any{"msg": "schedule has no target"}))
		return
	}
	p.attempt++
	msgID, err := r.send(ctx, aws.ToString(t.RoleArn), aws.ToString(t.Arn), aws.ToString(t.Input), t.SqsParameters, nil)
	now := r.now()
	if err == nil {
		r.complete(ctx, p, with(base, map[string]any{"msg": "schedule fired", "target": aws.ToString(t.Arn), "attempt": p.attempt,
			"messageId": msgID, "firedAt": now.UTC().Format(time.RFC3339Nano), "lateMs": now.Sub(p.fireAt).Milliseconds()}))
		return
	}
	maxAttempts, maxAge := 185, 86400
	if rp := t.RetryPolicy; rp != nil {
		maxAttempts, maxAge = int(aws.ToInt32(rp.MaximumRetryAttempts)), int(aws.ToInt32(rp.MaximumEventAgeInSeconds))
	}
	retries := p.attempt - 1
	if retryable(err) && retries < maxAttempts && now.Sub(p.at) < time.Duration(maxAge)*time.Second {
		r.mu.Lock()
		p.next = now.Add(Backoff(p.attempt))
		r.mu.Unlock()
		r.logf(with(base, map[string]any{"msg": "schedule target failed, retrying", "attempt": p.attempt, "retryAt": p.next.UTC().Format(time.RFC3339Nano), "error": err.Error()}))
		return
	}
	line := with(base, map[string]any{"attempt": p.attempt, "error": err.Error()})
	if t.DeadLetterConfig == nil || aws.ToString(t.DeadLetterConfig.Arn) == "" {
		r.complete(ctx, p, with(line, map[string]any{"msg": "schedule target failed, no dead-letter queue: dropped"}))
		return
	}
	code := errorCode(err)
	dlqID, dlqErr := r.send(ctx, aws.ToString(t.RoleArn), aws.ToString(t.DeadLetterConfig.Arn), aws.ToString(t.Input), nil, map[string]string{
		// What Scheduler puts on what it dead-letters.
		"ERROR_CODE": code, "ERROR_MESSAGE": err.Error(), "SCHEDULE_ARN": aws.ToString(p.out.Arn), "GROUP": p.group,
		"TARGET_ARN": aws.ToString(t.Arn), "X-Amz-Scheduler-Attempt": strconv.Itoa(p.attempt),
	})
	if dlqErr != nil {
		r.complete(ctx, p, with(line, map[string]any{"msg": "schedule target failed, dead-letter queue failed too: dropped", "dlqError": dlqErr.Error()}))
		return
	}
	r.complete(ctx, p, with(line, map[string]any{"msg": "schedule dead-lettered", "deadLetterQueue": aws.ToString(t.DeadLetterConfig.Arn), "messageId": dlqID}))
}

// complete logs the outcome and deletes the schedule when its ActionAfterCompletion says so.
func (r *Runner) complete(ctx context.Context, p *plan, line map[string]any) {
	r.mu.Lock()
	p.done = true
	r.mu.Unlock()
	if p.out.ActionAfterCompletion == schedulertypes.ActionAfterCompletionDelete {
		_, err := r.Scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{GroupName: aws.String(p.group), Name: aws.String(p.name)})
		switch {
		case err == nil:
			line["deleted"] = true
		case isCode(err, "ResourceNotFoundException"):
			line["deleted"] = "already gone"
		default:
			line["deleteError"] = err.Error()
		}
	}
	r.logf(line)
}

// send puts body on the queue with the ARN, signed as the role.
func (r *Runner) send(ctx context.Context, roleArn, queueArn, body string, params *schedulertypes.SqsParameters, attrs map[string]string) (string, error) {
	client, err := r.SQSAs(ctx, roleArn)
	if err != nil {
		return "", &permanent{fmt.Errorf("assume %s: %w", roleArn, err)}
	}
	url, err := r.queueURL(ctx, client, queueArn)
	if err != nil {
		return "", err
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}
	if params != nil && params.MessageGroupId != nil {
		in.MessageGroupId = params.MessageGroupId
	}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
		for k, v := range attrs {
			in.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	out, err := client.SendMessage(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

// queueURL finds the URL of the queue with the ARN (arn:aws:sqs:region:account:name).
func (r *Runner) queueURL(ctx context.Context, client SQS, arn string) (string, error) {
	r.mu.Lock()
	url, ok := r.queues[arn]
	r.mu.Unlock()
	if ok {
		return url, nil
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", &permanent{fmt.Errorf("target %s: only SQS queue targets are run locally", arn)}
	}
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		if isCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
			return "", &permanent{err}
		}
		return "", err
	}
	r.mu.Lock()
	r.queues[arn] = aws.ToString(out.QueueUrl)
	r.mu.Unlock()
	return aws.ToString(out.QueueUrl), nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) rand() float64 {
	if r.Rand != nil {
		return r.Rand()
	}
	return rand.Float64()
}

func (r *Runner) logf(line map[string]any) {
	if r.Log == nil {
		return
	}
	line["time"] = r.now().UTC().Format(time.RFC3339Nano)
	raw, _ := json.Marshal(line)
	_, _ = r.Log.Write(append(append([]byte("[scheduler] "), raw...), '\n'))
}

func with(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

var atPattern = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)

// ParseAt reads a one-time schedule's expression, at(yyyy-mm-ddThh:mm:ss), as a time in the
// zone (an IANA name; empty is UTC, Scheduler's default). rate() and cron() schedules are not
// run locally: an error says so.
func ParseAt(expr, zone string) (time.Time, error) {
	m := atPattern.FindStringSubmatch(expr)
	if m == nil {
		return time.Time{}, fmt.Errorf("expression %q: only one-time at(yyyy-mm-ddThh:mm:ss) schedules are run locally", expr)
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("time zone %q: %w", zone, err)
	}
	return time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
}

// Window is when Scheduler may invoke a one-time schedule whose at() names t: from t to the end
// of t's minute (60-second precision; for an at() on the minute, the whole minute), plus a
// flexible time window of flexMinutes.
func Window(t time.Time, flexMinutes int) (start, end time.Time) {
	minute := t.Truncate(time.Minute) // a zone's offset is whole minutes
	return t, minute.Add(time.Minute + time.Duration(flexMinutes)*time.Minute)
}

// Backoff is the wait after the attempt-th failed send: exponential from one second, at most
// a minute (AWS does not publish its own).
func Backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 6)
	return min(d, time.Minute)
}

// permanent is a failure a retry cannot fix (no such queue, no role): dead-lettered at once.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

func retryable(err error) bool {
	var p *permanent
	if errors.As(err, &p) {
		return false
	}
	return !isCode(err, "AccessDenied", "AccessDeniedException", "InvalidParameterValue", "InvalidMessageContents",
		"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "KMS.AccessDeniedException")
}

func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return "InternalError"
}

func isCode(err error, codes ...string) bool {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) {
		return false
	}
	for _, c := range codes {
		if api.ErrorCode() == c {
			return true
		}
	}
	return false
}
