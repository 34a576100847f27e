// Package client is the Go way in to Delayed Push: schedule a push for later or now, look it
// up, move it, cancel it and list what is pending. The HTTP API and pushctl are built on it.
//
// Every call takes a key of the caller's choosing (an order id, "reminder-42"): it is the
// push's id, the de-duplication key of the sender, and what makes every call idempotent. A
// retried Schedule never schedules twice, and the same key with a different push is
// ErrConflict. Each key has one row in the stack's schedules table, the index that Get and
// List read and that the sender consults before it sends, so a cancelled or rescheduled push
// is never sent under its old content or time (docs/CONTRACTS.md, "Keys and revisions").
//
// A scheduled push waits on one of two engines, the stack's unless the request names one
// (Request.Engine): a Step Functions execution (EngineStepFunctions), or the cheaper
// EngineEconomy, an SQS delayed message or an EventBridge Scheduler one-time schedule. Every
// call behaves the same on both.
package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
	"github.com/delayed-push/delayed-push/schedule"
)

// Errors a call may return, to test with errors.Is. The error's text names the key and what
// was found.
var (
	// ErrNotFound: no push has this key.
	ErrNotFound = errors.New("no push with this key")
	// ErrConflict: the key holds a different push (another content or time), or it was
	// changed by another call at the same moment.
	ErrConflict = errors.New("the key holds a different push")
	// ErrTooLate: the push is being sent or was sent, failed or expired; it can no longer
	// be changed or cancelled.
	ErrTooLate = errors.New("the push is no longer scheduled")
	// ErrCancelled: the push was cancelled; it cannot be rescheduled.
	ErrCancelled = errors.New("the push was cancelled")
)

// States of a push, as Get and List report them: the schedules table's (a test keeps them
// equal).
const (
	StateScheduled = "scheduled" // waiting for its due time
	StateSending   = "sending"   // the sender has it
	StateSent      = "sent"      // sent to at least one device (see Outcome)
	StateFailed    = "failed"    // not sent: every device failed, or the user has none
	StateExpired   = "expired"   // not sent: later than its lateness limit
	StateCancelled = "cancelled" // never sent
	StateDeferred  = "deferred"  // due inside the recipient's quiet hours: held until they end (QuietUntil)
	StateQuiet     = "quiet"     // not sent: due inside quiet hours, and the push asked to be dropped
	StateCapped    = "capped"    // not sent: over a frequency cap (Outcome.Cap names it)
)

// Resources are the stack's resources a client uses: the stack outputs StateMachineArn,
// PushQueueUrl and SchedulesTableName (ResourcesFromStack reads them).
type Resources struct {
	StateMachineArn string
	PushQueueURL    string
	SchedulesTable  string
	// Engine is the engine of a push that names none: EngineStepFunctions (also when empty)
	// or EngineEconomy (the output Engine).
	Engine string
	// For the economy engine: the outputs ScheduleGroupName, SchedulerRoleArn,
	// SchedulerDeadLetterQueueArn, PushQueueArn, EconomyScheduleAfterSeconds (from
	// MinEconomyScheduleAfter to MaxEconomyScheduleAfter) and, under a customer managed key,
	// SchedulerKmsKeyArn. Without them, a push on the economy engine is refused.
	ScheduleGroupName           string
	SchedulerRoleArn            string
	SchedulerDeadLetterQueueArn string
	PushQueueArn                string
	EconomyScheduleAfter        time.Duration
	SchedulerKmsKeyArn          string
	// For the device calls: the outputs PlatformApplicationArn, DevicesTableName and
	// DeviceOwnersTableName.
	PlatformApplicationArn string
	DevicesTable           string
	DeviceOwnersTable      string
	// For preferences and local times: the outputs PreferencesTableName and DefaultTimeZone.
	// Without the table, the preference calls say so and a local time is read in the
	// default zone; without a default zone, "UTC" (stacks before the setting).
	PreferencesTable string
	DefaultTimeZone  string
}

// SFN is the part of the Step Functions client used here.
type SFN interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// SQS is the part of the SQS client used here.
type SQS interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// DynamoDB is the part of the DynamoDB client used here.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Client schedules and manages pushes. Its zero value is not usable: use New or NewWith.
type Client struct {
	res Resources
	sfn SFN
	sqs SQS
	ddb DynamoDB
	now func() time.Time

	scheduler Scheduler

	devices *devices.Registry
	prefs   *awsadapters.Preferences // nil without Resources.PreferencesTable
}

// New returns a client for the stack's resources, with AWS clients made from cfg.
func New(cfg aws.Config, res Resources) *Client {
	ddb := dynamodb.NewFromConfig(cfg)
	return NewWith(res, sfn.NewFromConfig(cfg), sqs.NewFromConfig(cfg), scheduler.NewFromConfig(cfg), ddb, nil).WithDevices(sns.NewFromConfig(cfg), ddb)
}

// NewWith returns a client on the given AWS clients; now is the clock (nil: time.Now). sch
// is used by the economy engine only.
func NewWith(res Resources, s SFN, q SQS, sch Scheduler, d DynamoDB, now func() time.Time) *Client {
	if now == nil {
		now = time.Now
	}
	c := &Client{res: res, sfn: s, sqs: q, scheduler: sch, ddb: d, now: now}
	if res.PreferencesTable != "" && d != nil {
		c.prefs = &awsadapters.Preferences{Client: d, Table: res.PreferencesTable, Now: now}
	}
	return c
}

// Request is a push to schedule under a key. Set at most one of Delay, At and LocalTime; with
// none, the push is sent now (straight to the push queue, as SendNow does).
type Request struct {
	Key   string
	Push  push.Push // its ID must be empty or equal to Key; Revision must be 0
	Delay time.Duration
	At    time.Time
	// LocalTime is a wall-clock time with no offset, "2026-12-24T09:00" (seconds optional),
	// read on the clock of the push's user (Push.UserID is required): in their time zone (their
	// preferences), else the stack's (Resources.DefaultTimeZone). It is resolved now, with
	// recipient's rules (a time the clocks skip goes at the first instant after it; one they
	// repeat, at its first occurrence), and the push is due at that instant; Scheduled says
	// which zone and how. A retry with the same LocalTime is the same request, whatever the
	// user's zone has become meanwhile.
	LocalTime string
	// Engine is EngineStepFunctions or EngineEconomy; empty is the stack's (Resources.Engine).
	// A push sent now goes straight to the queue on either.
	Engine string
}

// Scheduled is the answer to Schedule, SendNow and Reschedule.
type Scheduled struct {
	Key      string
	Revision int
	// Engine is the push's engine: EngineStepFunctions or EngineEconomy.
	Engine string
	// ExecutionName is the Step Functions execution (empty for a push sent now, and on the
	// economy engine).
	ExecutionName string
	ExecutionArn  string
	// ScheduleName is the EventBridge Scheduler schedule an economy push was given when it is
	// due later than Resources.EconomyScheduleAfter (empty otherwise, and when Schedule
	// answers AlreadyScheduled for a push the sender has).
	ScheduleName string
	DueAt        time.Time
	// For a push scheduled for a local time: the time asked (LocalTime), the zone it was read
	// in (TimeZone), where that zone came from (TimeZoneSource: recipient.SourceUser,
	// SourceDevice, or SourceDefault, the stack's) and how it became DueAt (Resolution:
	// exact, gap-shifted or ambiguous-first). Empty otherwise.
	LocalTime      string
	TimeZone       string
	TimeZoneSource string
	Resolution     string
	// AlreadyScheduled: the same call was made before and nothing new was scheduled.
	AlreadyScheduled bool
	// State is the push's state now: scheduled, or, for an AlreadyScheduled push, whatever
	// became of it.
	State string
}

// Schedule schedules r.Push under r.Key: after r.Delay, at r.At, or now. Calling it again
// with the same request is safe and answers AlreadyScheduled; the same key with a different
// push, time or engine is ErrConflict. An invalid push is a *push.InvalidError naming the
// field, with the words the state machine would use.
func (c *Client) Schedule(ctx context.Context, r Request) (Scheduled, error) {
	at, lt := r.At, local{}
	if r.LocalTime != "" {
		if err := ValidateKey(r.Key); err != nil {
			return Scheduled{}, err
		}
		var err error
		if lt, at, err = c.resolveLocal(ctx, r.Push, r.LocalTime, r.Delay, r.At); err != nil {
			return Scheduled{}, err
		}
	}
	in, err := c.prepare(r.Key, r.Push, 1, r.Delay, at, r.Engine, lt)
	if err != nil {
		return Scheduled{}, err
	}
	return c.create(ctx, in)
}

// SendNow puts p on the push queue under key, to be sent at once. Like Schedule, it is
// idempotent.
func (c *Client) SendNow(ctx context.Context, key string, p push.Push) (Scheduled, error) {
	return c.Schedule(ctx, Request{Key: key, Push: p})
}

// Change is what Reschedule changes: a new time (Delay from now, At, or LocalTime as in
// Request; none keeps the due time, and a local time, unless Now is set), new content (Push;
// nil keeps it) and/or another engine (Engine; empty keeps the push's).
type Change struct {
	Delay     time.Duration
	At        time.Time
	LocalTime string
	Now       bool
	Push      *push.Push
	Engine    string
}

// Reschedule moves the pending push under key to a new time and/or gives it new content. It
// goes out once, at the new time, with the new content: the old execution is stopped (or the
// old schedule deleted), and should it already have put the push on the queue, the sender
// drops that copy. Repeating the
// same Reschedule is safe (AlreadyScheduled). A push being sent or sent is ErrTooLate, a
// cancelled one ErrCancelled.
func (c *Client) Reschedule(ctx context.Context, key string, ch Change) (Scheduled, error) {
	if err := ValidateKey(key); err != nil {
		return Scheduled{}, err
	}
	engine := ch.Engine
	if engine != "" {
		if err := ValidateEngine(engine); err != nil {
			return Scheduled{}, err
		}
	}
	row, err := c.getRow(ctx, key)
	if err != nil {
		return Scheduled{}, err
	}
	if engine == "" {
		engine = row.Engine
	}
	p := row.Push
	if ch.Push != nil {
		p = *ch.Push
	}
	p.Revision, p.DueAt = 0, ""
	delay, at, lt := ch.Delay, ch.At, local{}
	switch {
	case ch.LocalTime != "":
		if ch.Now {
			return Scheduled{}, &push.InvalidError{Field: recipient.FieldLocalTime, Reason: "given with now: exactly one is allowed"}
		}
		if lt, at, err = c.resolveLocal(ctx, p, ch.LocalTime, delay, at); err != nil {
			return Scheduled{}, err
		}
	case ch.Now:
		delay, at = 0, time.Time{}
	case delay == 0 && at.IsZero():
		at, lt = row.DueAt, row.Local // the time stays; the content changes
	}
	in, err := c.prepare(key, p, row.Revision+1, delay, at, engine, lt)
	if err != nil {
		return Scheduled{}, err
	}
	if in.hash == row.Hash && row.State != StateCancelled {
		// The same change again (or no change): make sure the current revision runs, or
		// report what became of it.
		return c.ensure(ctx, row)
	}
	if err := changeable(row); err != nil {
		return Scheduled{}, err
	}
	in.path = c.economyPath(in, in.written)
	if err := c.bumpRow(ctx, row, in); err != nil {
		return Scheduled{}, err
	}
	// The new revision is started before the old one is retired. A start that fails for good
	// (a quota, a refused role) puts the row back on the old revision, which still runs.
	s, err := c.start(ctx, in)
	if err != nil && !retryable(err) {
		if uerr := c.unbumpRow(ctx, row, in); uerr != nil {
			return s, fmt.Errorf("%w (and the schedules table could not be put back on revision %d: %v; Get tells what the push is now)",
				err, row.Revision, uerr)
		}
		return Scheduled{}, fmt.Errorf("%w (the push is unchanged: revision %d is still pending)", err, row.Revision)
	}
	// Stop the old execution or delete the old schedule; should it have fired already, the
	// sender drops its copy. After a failure a retry may fix, the row is on the new revision
	// already, and the same Reschedule again completes it.
	c.retire(ctx, row, "rescheduled")
	return s, err
}

// Cancel cancels the pending push under key: it is never sent, even if its execution (or
// schedule, or delayed message) has already put it on the queue. Cancelling a cancelled push is a no-op; a push being sent or
// sent is ErrTooLate.
func (c *Client) Cancel(ctx context.Context, key string) (Status, error) {
	if err := ValidateKey(key); err != nil {
		return Status{}, err
	}
	row, err := c.cancelRow(ctx, key)
	if errors.Is(err, ErrNotFound) {
		// Scheduled by StartExecution directly (the AWS CLI, an SDK): stop its execution.
		return c.cancelExecution(ctx, key)
	}
	if err != nil {
		return Status{}, err
	}
	c.retire(ctx, row, "cancelled")
	return c.status(row), nil
}

// Status is what Get and List report about a push.
type Status struct {
	Key      string
	State    string
	Revision int
	// Engine is the push's engine: EngineStepFunctions or EngineEconomy.
	Engine string
	DueAt  time.Time
	// TimeLeft is the time until DueAt (0 once it is due, and for a push that is not
	// scheduled).
	TimeLeft      time.Duration
	Push          push.Push
	ExecutionName string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// LocalTime, TimeZone, TimeZoneSource and Resolution: as in Scheduled.
	LocalTime      string
	TimeZone       string
	TimeZoneSource string
	Resolution     string
	// QuietUntil is when the recipient's quiet hours end, while the push is deferred.
	QuietUntil time.Time
	// Outcome is set once the sender is done with the push, or when its execution ended
	// outside the client (result execution_aborted, execution_failed, execution_timed_out).
	Outcome *Outcome
	// ExecutionStatus is what Step Functions said of the execution of a push the schedules
	// table has as scheduled, when Get or List looked: RUNNING (waiting), SUCCEEDED (on the
	// push queue, for the sender), ABORTED or FAILED and TIMED_OUT (stopped or failed outside
	// the client: State is then cancelled or failed), ExecutionNotFound or ExecutionUnknown
	// (State is the table's; Warning says why). For a push started directly (no row), its
	// execution's status. Empty when the table tells all: the push is not scheduled, was
	// sent now, or is on the economy engine (which has no execution).
	ExecutionStatus string
	// Warning says why State may not be the whole story: the execution could not be looked at.
	Warning string
}

// Outcome is what the sender did with a push.
type Outcome struct {
	Result     string // the sender's outcome: sent, partial, failed, no_devices, expired, duplicate
	FinishedAt time.Time
	// LatenessMs is the time from the due time to the last device's confirmation.
	LatenessMs *int64
	Endpoints  int
	Sent       int
	Failed     int
	Reason     string
	// Cap is the frequency cap that stopped a capped push ("3/1d", "promo:1/1h").
	Cap string
	// HeldMs is how long the recipient's quiet hours held the push; LatenessMs leaves it out.
	HeldMs *int64
}

// Get returns the push under key. A scheduled push's execution (on the Step Functions
// engine) is looked at too (one
// DescribeExecution): one stopped or failed outside the client (StopExecution, the console)
// is reported cancelled or failed at once. A push scheduled by StartExecution directly (not
// through this package) is found by its execution, with what the execution tells.
func (c *Client) Get(ctx context.Context, key string) (Status, error) {
	if err := ValidateKey(key); err != nil {
		return Status{}, err
	}
	row, err := c.getRow(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return c.fromExecution(ctx, key)
	}
	if err != nil {
		return Status{}, err
	}
	return c.observe(ctx, row), nil
}

// ListOptions selects pending pushes.
type ListOptions struct {
	// UserID lists one user's pending pushes (or one endpoint's: its ARN), by due time. Empty
	// lists every pending push, in no particular order.
	UserID string
	// Limit is the page size, 1 to 1000. Default 100.
	Limit int
	// PageToken continues a listing: the NextPageToken of the page before.
	PageToken string
}

// Page is one page of List.
type Page struct {
	Pushes []Status
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// List returns the pending (scheduled) pushes, one page at a time. It reads the schedules
// table's sparse "pending" index, which holds only scheduled pushes: a page costs what it
// returns, however many pushes were ever sent (docs/CONTRACTS.md, "Listing"). As Get does,
// it looks at each listed push's execution (a few at a time), so one stopped or failed
// outside the client is listed cancelled or failed; an execution it cannot look at leaves
// that push as the table has it, with a Warning, and never fails the page.
func (c *Client) List(ctx context.Context, o ListOptions) (Page, error) {
	return c.list(ctx, o)
}

// prepared is a validated request: the input to start or the body to queue, and its hash.
type prepared struct {
	key      string
	revision int
	engine   string
	push     push.Push // with ID, Revision (and DueAt when sent now)
	input    string    // execution input, or the queue body when now or on the economy engine
	now      bool
	dueAt    time.Time
	hash     string
	written  time.Time // when the revision was asked for: the economy engine's path depends on it
	local    local     // when at came from a local time
	path     string    // economy: pathQueue or the schedule's name, chosen once and recorded on the row
}

// prepare validates a request as the state machine and the sender would. engine "" is the
// stack's.
// lt is set when at is the resolution of a local time: what the caller asked is then lt.Time.
func (c *Client) prepare(key string, p push.Push, rev int, delay time.Duration, at time.Time, engine string, lt local) (prepared, error) {
	if err := ValidateKey(key); err != nil {
		return prepared{}, err
	}
	engine, err := c.engineOf(engine)
	if err != nil {
		return prepared{}, err
	}
	switch {
	case p.ID != "" && p.ID != key:
		return prepared{}, &push.InvalidError{Field: "push.id", Reason: fmt.Sprintf("is %s, not the key %s: leave it empty", jsonfield.Quote(p.ID), jsonfield.Quote(key))}
	case p.Revision != 0 && p.Revision != rev:
		return prepared{}, &push.InvalidError{Field: "push.revision", Reason: "is set by the client: leave it 0"}
	case delay != 0 && !at.IsZero():
		return prepared{}, &push.InvalidError{Field: "sendAt", Reason: "both a delay and a time given: exactly one is allowed"}
	case delay < 0:
		return prepared{}, &push.InvalidError{Field: "delaySeconds", Reason: fmt.Sprintf("must be 0..%d (365 days less an hour), got %d", schedule.MaxDelaySeconds, int64(delay/time.Second))}
	case delay%time.Second != 0:
		return prepared{}, &push.InvalidError{Field: "delaySeconds", Reason: fmt.Sprintf("must be whole seconds, got %v", delay)}
	}
	p.ID, p.Revision = key, rev
	now := c.now()
	pr := prepared{key: key, revision: rev, engine: engine, written: now, local: lt}
	// The hash is of what the caller asked for: the push and the delay or time, without
	// the revision, so that the same request made again is recognised.
	canon := map[string]any{"push": json.RawMessage(push.Encode(withoutRevision(p)))}
	if delay == 0 && at.IsZero() {
		pr.now, pr.dueAt = true, now
		p.DueAt = now.UTC().Format(time.RFC3339Nano)
		if err := p.Validate(); err != nil {
			return prepared{}, schedule.InPush(err)
		}
		pr.push, pr.input = p, string(push.Encode(p))
		canon["now"] = true
	} else {
		var in schedule.Schedule
		in.Push = p
		if delay != 0 {
			d := int64(delay / time.Second)
			in.DelaySeconds = &d
			canon["delaySeconds"] = d
		} else {
			t := at.UTC()
			in.SendAt = &t
			if lt.Time != "" {
				canon["localTime"] = lt.Time
			} else {
				canon["sendAt"] = t.Format(time.RFC3339Nano)
			}
		}
		raw := in.Input()
		parsed, err := schedule.Parse(raw, now) // the state machine's rules, in its words
		if err != nil {
			return prepared{}, err
		}
		pr.push, pr.input, pr.dueAt = parsed.Push, string(raw), parsed.DueAt(now)
		if engine == EngineEconomy {
			if err := c.res.economyReady(); err != nil {
				return prepared{}, err
			}
			// What goes on the queue, as the state machine would put it there; the engine
			// is part of what was asked for.
			pr.input = queueBody(pr.push, pr.dueAt)
			canon["engine"] = engine
		}
	}
	// What the state machine cannot check: the size of the FCM message the sender will build.
	if err := schedule.FitsFCM(pr.push, key); err != nil {
		return prepared{}, err
	}
	b, _ := json.Marshal(canon) // maps of strings, numbers and valid JSON always encode
	sum := sha256.Sum256(b)
	pr.hash = hex.EncodeToString(sum[:])
	return pr, nil
}

func withoutRevision(p push.Push) push.Push {
	p.Revision, p.DueAt = 0, ""
	return p
}

// create writes the row of a new key and starts the push; an existing row is the same
// request made again (AlreadyScheduled) or a conflict.
func (c *Client) create(ctx context.Context, in prepared) (Scheduled, error) {
	in.path = c.economyPath(in, in.written)
	created, row, err := c.putRow(ctx, in)
	if err != nil {
		return Scheduled{}, err
	}
	if !created {
		if row.Hash != in.hash {
			return Scheduled{}, fmt.Errorf("key %s: %w (state %s, revision %d): use Reschedule to change it", jsonfield.Quote(in.key), ErrConflict, row.State, row.Revision)
		}
		return c.ensure(ctx, row)
	}
	s, err := c.start(ctx, in)
	if err != nil && !retryable(err) {
		// Nothing was scheduled: free the key for a corrected call.
		c.deleteRow(ctx, in)
	}
	return s, err
}

// ensure makes sure the row's current revision was started (a call that wrote the row and
// then failed or died is completed by its retry) and answers AlreadyScheduled. An economy
// row's push is sent or scheduled again as the first call did (a second copy on the queue
// is dropped by the sender; a schedule made before is recognised).
func (c *Client) ensure(ctx context.Context, row *record) (Scheduled, error) {
	in := prepared{key: row.Key, revision: row.Revision, engine: row.Engine, input: row.Input, dueAt: row.DueAt, hash: row.Hash,
		// A push sent now has neither an execution nor the economy engine's queue body; on
		// the economy engine, one sent now is a delay of 0, which is the same.
		now: row.ExecutionName == "" && row.Engine != EngineEconomy, written: row.UpdatedAt, local: row.Local, path: row.Path}
	if row.State != StateScheduled {
		// The sender has it or it ended: nothing to start again.
		return row.Local.of(Scheduled{Key: row.Key, Revision: row.Revision, Engine: row.Engine, ExecutionName: row.ExecutionName, ExecutionArn: c.executionArn(row.ExecutionName),
			DueAt: row.DueAt, AlreadyScheduled: true, State: row.State}), nil
	}
	s, err := c.start(ctx, in)
	s.AlreadyScheduled = true
	return s, err
}

// start starts the execution of in, or queues it when it is for now, or hands it to the
// economy engine. A running execution with the same name and input counts as started; one
// with another input is a conflict.
func (c *Client) start(ctx context.Context, in prepared) (Scheduled, error) {
	s, err := c.startOn(ctx, in)
	return in.local.of(s), err
}

func (c *Client) startOn(ctx context.Context, in prepared) (Scheduled, error) {
	s := Scheduled{Key: in.key, Revision: in.revision, Engine: in.engine, DueAt: in.dueAt, State: StateScheduled}
	if !in.now && in.engine == EngineEconomy {
		return c.startEconomy(ctx, in)
	}
	if in.now {
		_, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(c.res.PushQueueURL), MessageBody: aws.String(in.input)})
		if err != nil {
			return s, fmt.Errorf("key %s: queue the push: %w", jsonfield.Quote(in.key), err)
		}
		return s, nil
	}
	s.ExecutionName = ExecutionName(in.key, in.revision)
	s.ExecutionArn = c.executionArn(s.ExecutionName)
	_, err := c.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.res.StateMachineArn), Name: aws.String(s.ExecutionName), Input: aws.String(in.input),
	})
	if isCode(err, "ExecutionAlreadyExists") {
		// Closed already (or another input): it is ours if its input is ours.
		out, derr := c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.ExecutionArn)})
		if derr != nil {
			return s, fmt.Errorf("key %s: execution %s exists and cannot be read: %w", jsonfield.Quote(in.key), s.ExecutionName, derr)
		}
		if !sameJSON(aws.ToString(out.Input), in.input) {
			return s, fmt.Errorf("key %s: %w: execution %s was started with another input", jsonfield.Quote(in.key), ErrConflict, s.ExecutionName)
		}
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("key %s: start execution %s: %w", jsonfield.Quote(in.key), s.ExecutionName, err)
	}
	return s, nil
}

// retire stops the execution or deletes the schedule of the row's revision, which the row
// now says is cancelled or superseded.
func (c *Client) retire(ctx context.Context, row *record, why string) {
	if row.ExecutionName != "" {
		c.stop(ctx, row.ExecutionName, why)
	}
	if row.Engine == EngineEconomy && row.Path != pathQueue {
		c.deleteSchedule(ctx, row.Key, row.Revision)
	}
}

// stop stops an execution, best effort: a row already says the push is cancelled or
// superseded, and the sender reads the row.
func (c *Client) stop(ctx context.Context, name, why string) {
	_, _ = c.sfn.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(c.executionArn(name)), Error: aws.String("DelayedPush." + why), Cause: aws.String("the push was " + why + " through the client"),
	})
}

// executionArn is the ARN of the named execution of the state machine.
func (c *Client) executionArn(name string) string {
	if name == "" {
		return ""
	}
	return executionArn(c.res.StateMachineArn, name)
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func changeable(row *record) error {
	switch row.State {
	case StateScheduled:
		return nil
	case StateCancelled:
		return fmt.Errorf("key %s: %w", jsonfield.Quote(row.Key), ErrCancelled)
	}
	return fmt.Errorf("key %s: %w: it is %s", jsonfield.Quote(row.Key), ErrTooLate, row.State)
}
