package client

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
)

// Engines: how a scheduled push waits for its due time. Both keep the same promises: the
// schedules row decides, a cancelled or superseded copy is dropped by the sender, and the
// sender never publishes before the due time.
const (
	// EngineStepFunctions: a Standard execution waits, then puts the push on the push queue.
	// Every pending push is an execution you can describe and stop.
	EngineStepFunctions = "stepfunctions"
	// EngineEconomy: a push due within Resources.EconomyScheduleAfter is one SQS SendMessage
	// with DelaySeconds; a later one is an EventBridge Scheduler one-time schedule that puts it
	// on the push queue a little early, and the sender holds it to the second.
	EngineEconomy = "economy"
)

// ScheduleLead is how long before its due time an economy push's schedule runs, at the
// latest: EventBridge Scheduler fires anywhere within the minute at() names, so the schedule
// names the minute of due−ScheduleLead, which starts 120 to 180 s before the due time, and the
// push reaches the queue 60 to 180 s early.
const ScheduleLead = 2 * time.Minute

// scheduleMargin is how far ahead of the client's clock a schedule's at() must be when it is
// created. Scheduler may refuse a time in the past or never run it, and what counts is AWS's
// clock, after the call's round trip. A push whose at() would be nearer is one delayed
// message instead: it is then due within 60+120+60 = 240 s, well within SQS's 900.
const scheduleMargin = time.Minute

// pathQueue is the recorded path (the row's economyPath) of an economy revision sent as one
// delayed message; a revision given a schedule records the schedule's name.
const pathQueue = "queue"

// The bounds of Resources.EconomyScheduleAfter. The lower one is the lead plus Scheduler's
// 60 s precision (nearer pushes could never get a schedule); the upper one is SQS's longest
// DelaySeconds.
const (
	MinEconomyScheduleAfter = ScheduleLead + time.Minute
	MaxEconomyScheduleAfter = 15 * time.Minute
)

// A schedule that cannot put its push on the queue is retried for up to a day, then goes to
// the scheduler's dead-letter queue (the most EventBridge Scheduler allows of both).
const (
	scheduleRetryAttempts = 185
	scheduleMaxEventAge   = 86400
)

// Scheduler is the part of the EventBridge Scheduler client used here.
type Scheduler interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// ValidateEngine checks an engine's name: EngineStepFunctions or EngineEconomy. Empty is not
// a name: Request.Engine's "" means the stack's default.
func ValidateEngine(engine string) error {
	switch engine {
	case EngineStepFunctions, EngineEconomy:
		return nil
	}
	return &push.InvalidError{Field: "engine", Reason: fmt.Sprintf(`must be "stepfunctions" or "economy", got %s`, jsonfield.Quote(engine))}
}

// engineOf is the engine a request names, else the stack's default, else Step Functions.
func (c *Client) engineOf(requested string) (string, error) {
	e := requested
	if e == "" {
		e = c.res.Engine
	}
	if e == "" {
		e = EngineStepFunctions
	}
	return e, ValidateEngine(e)
}

// economyReady says what the economy engine lacks in the Resources: a stack deployed before
// it existed has none of its outputs.
func (r Resources) economyReady() error {
	var missing []string
	for _, f := range []struct{ output, value string }{
		{OutputScheduleGroupName, r.ScheduleGroupName}, {OutputSchedulerRoleArn, r.SchedulerRoleArn},
		{OutputSchedulerDeadLetterQueueArn, r.SchedulerDeadLetterQueueArn}, {OutputPushQueueArn, r.PushQueueArn},
	} {
		if f.value == "" {
			missing = append(missing, f.output)
		}
	}
	if r.EconomyScheduleAfter == 0 {
		missing = append(missing, OutputEconomyScheduleAfterSeconds)
	}
	if len(missing) > 0 {
		return fmt.Errorf("engine economy: this stack has no economy engine outputs (%s): redeploy it", strings.Join(missing, ", "))
	}
	if a := r.EconomyScheduleAfter; a < MinEconomyScheduleAfter || a > MaxEconomyScheduleAfter || a%time.Second != 0 {
		return fmt.Errorf("engine economy: EconomyScheduleAfter must be whole seconds from %v to %v, got %v", MinEconomyScheduleAfter, MaxEconomyScheduleAfter, a)
	}
	return nil
}

// ScheduleName is the EventBridge Scheduler schedule name of revision rev of the push with
// key, on the economy engine: up to 24 of the key's letters, digits, "-", "_" and "." (a
// readable prefix; "k" when it has none), then "." and the first 26 characters of the
// lower-case base32 of the key's SHA-256 (130 bits), then "." and the revision:
// "order-42.mfrggzdfmztwq2lknnwg23tpob.2". At most 64 characters of [0-9A-Za-z-_.], as
// Scheduler requires; the hash and the revision, not the prefix, tell names apart.
func ScheduleName(key string, rev int) string {
	sum := sha256.Sum256([]byte(key))
	suffix := "." + strings.ToLower(nameEncoding.EncodeToString(sum[:]))[:26] + "." + strconv.Itoa(rev)
	var prefix strings.Builder
	for _, r := range key {
		if prefix.Len() == min(24, 64-len(suffix)) {
			break
		}
		if r < 128 && (r == '-' || r == '_' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			prefix.WriteRune(r)
		}
	}
	if prefix.Len() == 0 {
		prefix.WriteString("k")
	}
	return prefix.String() + suffix
}

// scheduleAt is the minute an economy push's schedule names: that of due−ScheduleLead, in
// UTC. Scheduler runs it within that minute, so the push is on the queue before its due time.
func scheduleAt(due time.Time) time.Time {
	return due.Add(-ScheduleLead).UTC().Truncate(time.Minute)
}

// atExpression is Scheduler's one-time expression for t, read in UTC (whole minutes: the
// seconds would add no precision).
func atExpression(t time.Time) string {
	return "at(" + t.UTC().Format("2006-01-02T15:04:05") + ")"
}

// queueBody is the push as the state machine puts it on the push queue: with its id,
// revision and due time (in milliseconds, as the state machine writes it).
func queueBody(p push.Push, due time.Time) string {
	p.DueAt = due.UTC().Format("2006-01-02T15:04:05.000Z")
	return string(push.Encode(p))
}

// economyPath chooses the path of an economy revision written at written, recorded on its
// row so that a retry takes the same one: pathQueue when it is due within
// EconomyScheduleAfter of then, or when its schedule's at() would be less than scheduleMargin
// ahead of the client's clock; else its schedule's name. "" for a push sent now or on the
// other engine.
func (c *Client) economyPath(in prepared, written time.Time) string {
	if in.now || in.engine != EngineEconomy {
		return ""
	}
	if in.dueAt.Sub(written) <= c.res.EconomyScheduleAfter || scheduleAt(in.dueAt).Sub(c.now()) < scheduleMargin {
		return pathQueue
	}
	return ScheduleName(in.key, in.revision)
}

// startEconomy puts an economy push on its way, by the path recorded on its row (in.path;
// a row written before paths were recorded: the path its times give). The queue: one
// SendMessage with the delay rounded up (the sender holds what is early). A schedule: a
// one-time schedule that puts the same body on the queue a little before the due time,
// unless its at() is now less than scheduleMargin ahead (a retry that comes late), when the
// push is sent as a delayed message instead (should the schedule exist after all, the sender
// drops the second copy).
func (c *Client) startEconomy(ctx context.Context, in prepared) (Scheduled, error) {
	s := Scheduled{Key: in.key, Revision: in.revision, DueAt: in.dueAt, State: StateScheduled, Engine: EngineEconomy}
	path := in.path
	if path == "" {
		path = c.economyPath(in, in.written)
	}
	if path == pathQueue || scheduleAt(in.dueAt).Sub(c.now()) < scheduleMargin {
		return s, c.sendDelayed(ctx, in)
	}
	if c.scheduler == nil {
		return s, fmt.Errorf("key %s: engine economy: the client has no EventBridge Scheduler client (NewWith was given nil)", jsonfield.Quote(in.key))
	}
	s.ScheduleName = ScheduleName(in.key, in.revision)
	target := &schedulertypes.Target{
		Arn: aws.String(c.res.PushQueueArn), RoleArn: aws.String(c.res.SchedulerRoleArn), Input: aws.String(in.input),
		DeadLetterConfig: &schedulertypes.DeadLetterConfig{Arn: aws.String(c.res.SchedulerDeadLetterQueueArn)},
		RetryPolicy:      &schedulertypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(scheduleRetryAttempts), MaximumEventAgeInSeconds: aws.Int32(scheduleMaxEventAge)},
	}
	create := &scheduler.CreateScheduleInput{
		Name: aws.String(s.ScheduleName), GroupName: aws.String(c.res.ScheduleGroupName),
		ScheduleExpression: aws.String(atExpression(scheduleAt(in.dueAt))), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:    &schedulertypes.FlexibleTimeWindow{Mode: schedulertypes.FlexibleTimeWindowModeOff},
		ActionAfterCompletion: schedulertypes.ActionAfterCompletionDelete,
		Target:                target,
	}
	if c.res.SchedulerKmsKeyArn != "" {
		create.KmsKeyArn = aws.String(c.res.SchedulerKmsKeyArn)
	}
	_, err := c.scheduler.CreateSchedule(ctx, create)
	if isCode(err, "ConflictException") {
		// Created before (a retry), or another push's: it is ours if its input is ours.
		out, gerr := c.scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.ScheduleName), GroupName: aws.String(c.res.ScheduleGroupName)})
		if isCode(gerr, "ResourceNotFoundException") {
			// It existed and is gone: it fired (and was deleted, ActionAfterCompletion), or was
			// deleted unfired (a Reschedule or Cancel since, whose row then drops any copy, or
			// a person). Its input cannot be read, and a second schedule of the same name would
			// be a guess: send one delayed message instead. Never lost; if the schedule fired,
			// the sender's claim makes this copy a duplicate.
			return s, c.sendDelayed(ctx, in)
		}
		if gerr != nil {
			return s, fmt.Errorf("key %s: schedule %s exists and cannot be read: %w", jsonfield.Quote(in.key), s.ScheduleName, gerr)
		}
		if out.Target == nil || !sameJSON(aws.ToString(out.Target.Input), in.input) {
			return s, fmt.Errorf("key %s: %w: schedule %s was created with another input", jsonfield.Quote(in.key), ErrConflict, s.ScheduleName)
		}
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("key %s: create schedule %s: %w", jsonfield.Quote(in.key), s.ScheduleName, err)
	}
	return s, nil
}

// sendDelayed puts an economy push on the queue with the time left, rounded up and at most
// SQS's 900 s (the sender holds what is early, in hops, to the second).
func (c *Client) sendDelayed(ctx context.Context, in prepared) error {
	delay := min(max((in.dueAt.Sub(c.now())+time.Second-1)/time.Second, 0), MaxEconomyScheduleAfter/time.Second)
	_, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(c.res.PushQueueURL), MessageBody: aws.String(in.input),
		DelaySeconds: int32(delay)})
	if err != nil {
		return fmt.Errorf("key %s: queue the push with a delay of %d s: %w", jsonfield.Quote(in.key), delay, err)
	}
	return nil
}

// deleteSchedule deletes the schedule of an economy push's revision, best effort: the row
// already says the push is cancelled or superseded, and the sender reads the row; deleting
// only saves the schedule's run. A revision with no schedule (an older row's delayed
// message) answers ResourceNotFoundException, ignored like any failure.
func (c *Client) deleteSchedule(ctx context.Context, key string, rev int) {
	if c.scheduler == nil {
		return
	}
	_, _ = c.scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{
		Name: aws.String(ScheduleName(key, rev)), GroupName: aws.String(c.res.ScheduleGroupName),
	})
}
