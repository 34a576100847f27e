// Package delivery is the sender: it drains a batch of the push queue, fans each push out to
// its endpoints through SNS and keeps the delivery log that makes a redelivered message safe.
// The rules it follows are written down in docs/CONTRACTS.md ("Delivery log rules").
package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/delayed-push/delayed-push/recipient"
)

// Endpoint is a device of a user, as the registry holds it.
type Endpoint struct {
	ARN string
	// Disabled is why pushes no longer go to it (SNS reported it dead); empty when enabled.
	Disabled string
}

// Registry is the device registry (docs/CONTRACTS.md, "Devices").
type Registry interface {
	// Endpoints lists the devices registered for a user, enabled or not.
	Endpoints(ctx context.Context, userID string) ([]Endpoint, error)
	// Disable marks a user's device disabled: SNS refused a publish to it for good.
	Disable(ctx context.Context, userID, endpointARN, reason string, at time.Time) error
}

// Key identifies one delivery: one push to one endpoint.
type Key struct {
	PushID      string
	EndpointARN string
}

// Delivery statuses, as stored in the delivery log.
const (
	StatusSending = "sending" // claimed; the outcome is not recorded yet
	StatusSent    = "sent"    // SNS confirmed the publish with a message id
	StatusFailed  = "failed"  // permanent: endpoint disabled or gone, payload rejected
	StatusRetry   = "retry"   // transient failure, nothing was published; the next attempt claims it
	// StatusUncertain: at most once was asked for and an attempt may or may not have reached
	// SNS (it died after publishing, or the publish timed out); it is not sent again.
	StatusUncertain = "uncertain"
	// StatusExpired: the push was due longer ago than its lateness limit; not sent.
	StatusExpired = "expired"
	// StatusSkipped: the device is disabled in the registry; nothing was published.
	StatusSkipped = "skipped"
	// StatusQuiet: due inside the recipient's quiet hours, and the push asked to be dropped.
	StatusQuiet = "quiet"
	// StatusCapped: over a frequency cap (the cap is in the record's error); not sent.
	StatusCapped = "capped"
)

// Final reports whether a status ends the delivery: a later attempt must not publish again.
func Final(status string) bool {
	return status == StatusSent || status == StatusFailed || status == StatusUncertain || status == StatusExpired ||
		status == StatusSkipped || status == StatusQuiet || status == StatusCapped
}

// ClaimOutcome is the result of trying to claim a delivery.
type ClaimOutcome int

const (
	// Claimed: the delivery is ours to publish (new, or after a recorded transient failure).
	Claimed ClaimOutcome = iota
	// Resumed: ours to publish, but an earlier attempt claimed it and never recorded an
	// outcome (it died or timed out), so it may have reached SNS. The guarantee decides.
	Resumed
	// AlreadyDone: the record is final; a redelivered message must not publish again.
	AlreadyDone
	// Busy: another invocation holds a live lease (a duplicate message is being handled now).
	Busy
)

func (o ClaimOutcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Resumed:
		return "resumed"
	case AlreadyDone:
		return "already_done"
	case Busy:
		return "busy"
	}
	return "unknown"
}

// Lease is the proof of a claim. Token is unique to one claim; marks succeed only while the
// record still carries it. UntilMs (unix ms) is when another attempt may take the delivery
// over: the end of the claiming invocation plus a clock skew allowance, which is always
// before the queue makes the message visible again (see Service.LeaseSkew).
type Lease struct {
	Token   string
	UntilMs int64
}

// Claim is what a claim attempt returns.
type Claim struct {
	Outcome ClaimOutcome
	// Status is the final status found, when Outcome is AlreadyDone.
	Status string
	// BusyUntil is when the other invocation's lease ends, when Outcome is Busy.
	BusyUntil time.Time
}

// ClaimRequest is a claim: the record becomes "sending" under Lease.
type ClaimRequest struct {
	UserID string // may be ""
	DueAt  time.Time
	Now    time.Time
	Lease  Lease
	// Publish: a publish follows (the device is enabled and the push not expired). The claim
	// counts it in the record's publishes before it is made, so that an attempt that dies
	// after SNS took it and before its outcome is recorded still leaves it counted.
	Publish bool
	// Engine is the engine that held the push until its due time (Result.Engine); may be "".
	Engine string
}

// Mark is the outcome recorded for a claimed delivery. A mark with StatusSending records no
// outcome: it counts one more publish of the same attempt, before it is made (Publishes 1).
type Mark struct {
	Status       string // StatusSent, StatusFailed, StatusRetry, StatusUncertain, StatusExpired, StatusSkipped or StatusSending
	SNSMessageID string // StatusSent
	Error        string // why, for every other status
	Now          time.Time
	// LatenessMs is the time from the due time to SNS's confirmation (StatusSent), less
	// HeldMs.
	LatenessMs *int64
	// HeldMs is how long the recipient's quiet hours held the push (StatusSent); nil when
	// they did not.
	HeldMs *int64
	// Publishes is added to the record's count of publish calls (each one SNS may have
	// taken). The count is kept ahead of the calls, never after them: the claim counts an
	// attempt's first publish (ClaimRequest.Publish) and a StatusSending mark each further
	// one, so a crash between a publish and its outcome loses nothing. An outcome mark is 0,
	// or -1 when the claim counted a publish the attempt then did not make.
	Publishes int
}

// ErrLostClaim is returned by Mark when the record no longer carries the lease.
var ErrLostClaim = errors.New("delivery claim lost: record no longer holds our lease")

// Log is the delivery log (docs/CONTRACTS.md, DELIVERIES_TABLE).
type Log interface {
	Claim(ctx context.Context, k Key, req ClaimRequest) (Claim, error)
	Mark(ctx context.Context, k Key, l Lease, m Mark) error
}

// Publisher publishes one SNS message (MessageStructure=json) to one platform endpoint.
type Publisher interface {
	Publish(ctx context.Context, endpointARN, message string) (messageID string, err error)
}

// Attribute is an SQS message attribute of type String or Number.
type Attribute struct {
	DataType string
	Value    string
}

// Message is a message the sender sends itself.
type Message struct {
	Body       string
	Attributes map[string]Attribute
	Delay      time.Duration // at most 15 minutes (SQS)
}

// Queue is where the sender puts messages it cannot finish now.
type Queue interface {
	// Park puts a message on the dead-letter queue, with the reason in its attributes.
	Park(ctx context.Context, m Message) error
	// Requeue puts a push back on the push queue: the rest of a fan-out cut short by the time
	// budget, or a push another invocation is handling right now.
	Requeue(ctx context.Context, m Message) error
}

// Preferences is the recipients' preferences store (package recipient describes them): the
// sender reads the preference in force when a push is due.
type Preferences interface {
	// Get returns the user's preferences and whether the user has any.
	Get(ctx context.Context, userID string) (recipient.Preferences, bool, error)
}

// Gate is what the schedules index says about a push the client scheduled.
type Gate int

const (
	// GateSend: the push is the key's current revision (or the key has no row): send it.
	GateSend Gate = iota
	// GateCancelled: the key was cancelled; the push must not be sent.
	GateCancelled
	// GateSuperseded: the key was rescheduled; this is an old revision, not to be sent.
	GateSuperseded
)

// Finish is the outcome recorded on a key's row when the sender is done with the push.
type Finish struct {
	State      string // index.Sent, index.Failed, index.Expired, index.Quiet or index.Capped
	Result     Outcome
	Now        time.Time
	LatenessMs *int64
	HeldMs     *int64 // how long quiet hours held the push; nil when they did not
	Cap        string // the cap that refused a capped push
	Endpoints  int
	Sent       int
	Failed     int
	Reason     string
}

// Begun is what the schedules index answers when the sender is about to send a push.
type Begun struct {
	Gate    Gate
	Current int // the row's revision; 0 when the key has no row
	// Engine is the engine the row names (index.EngineStepFunctions when a row written before
	// the economy engine names none); "" when the key has no row.
	Engine string
}

// Index is the schedules index (docs/CONTRACTS.md, "Keys and revisions"): one row per key the
// client scheduled. Claiming the row is what makes Cancel and Reschedule race-free: the
// client changes a row only while it is "scheduled", the sender only takes one that is.
type Index interface {
	// BeginSend moves the row of key from scheduled to sending for revision rev, or reports
	// why this push must not be sent; either way it says which engine the row names.
	BeginSend(ctx context.Context, key string, rev int, now time.Time) (Begun, error)
	// Finish records the outcome on the row, if it still holds revision rev and is sending.
	Finish(ctx context.Context, key string, rev int, f Finish) error
	// Defer records that the push is held by its recipient's quiet hours until until: the row,
	// if it still holds revision rev and is sending (or deferred), becomes deferred. The next
	// BeginSend takes a deferred row as it takes a scheduled one.
	Defer(ctx context.Context, key string, rev int, until, now time.Time) error
}
