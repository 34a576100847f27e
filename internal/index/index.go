// Package index names the schedules table's attributes and states, shared by the client
// (which writes a row per key) and the sender (which claims the row before it sends and
// records the outcome on it). docs/CONTRACTS.md, "Keys and revisions", describes the rules.
package index

import "time"

// Attributes of a row. The partition key is Key.
const (
	Key           = "key"
	Revision      = "revision"      // N: the current revision; a push of another is not sent
	State         = "state"         // S: one of the states below
	Hash          = "hash"          // S: SHA-256 of what the caller asked for
	Input         = "input"         // S: the execution input, or the queue body of a push sent now
	Push          = "push"          // S: the push as JSON
	DueAt         = "dueAt"         // S: TimeFormat
	ExecutionName = "executionName" // S: empty for a push sent now
	Recipient     = "recipient"     // S: userId or endpointArn
	CreatedAt     = "createdAt"     // S: RFC 3339
	UpdatedAt     = "updatedAt"     // S: RFC 3339
	// PendingRecipient is set to Recipient only while the push is scheduled: the sparse
	// PendingIndex holds scheduled pushes and nothing else.
	PendingRecipient = "pendingRecipient"
	ExpiresAt        = "expiresAt" // N: unix seconds, the table's TTL; set once the push is done
	// Engine is the engine that holds the push until its due time: EngineStepFunctions or
	// EngineEconomy. Rows written before the economy engine existed have none: read
	// EngineStepFunctions.
	Engine = "engine"
	// EconomyPath is the path an economy revision took, chosen when its row was written:
	// "queue" (one delayed message) or its schedule's name. Rows written before it have none:
	// the client derives the path from the row's times.
	EconomyPath = "economyPath"

	// Outcome, written by the sender when it is done.
	Result      = "result"
	FinishedAt  = "finishedAt"
	LatenessMs  = "latenessMs"
	Endpoints   = "endpoints"
	SentCount   = "sentCount"
	FailedCount = "failedCount"
	Reason      = "reason"
	// QuietUntil (S, TimeFormat): while Deferred, when the recipient's quiet hours end.
	QuietUntil = "quietUntil"
	// HeldMs (N): how long quiet hours held the push; its lateness leaves that out.
	HeldMs = "heldMs"
	// Cap (S): the frequency cap that refused a Capped push, e.g. "3/24h" or "promo:1/1h".
	Cap = "cap"
)

// PendingIndex is the sparse global secondary index: partition key PendingRecipient, sort
// key DueAt, all attributes projected.
const PendingIndex = "pending"

// States.
const (
	Scheduled = "scheduled"
	Sending   = "sending"
	Sent      = "sent"
	Failed    = "failed"
	Expired   = "expired"
	Cancelled = "cancelled"
	// Deferred: due inside the recipient's quiet hours, held until QuietUntil; then sending
	// again. Not final.
	Deferred = "deferred"
	// Quiet: due inside the recipient's quiet hours and the push asked to be dropped: not sent.
	Quiet = "quiet"
	// Capped: over a frequency cap (Cap): not sent.
	Capped = "capped"
)

// Engines, as Engine holds them.
const (
	EngineStepFunctions = "stepfunctions" // an execution of the state machine waits
	EngineEconomy       = "economy"       // SQS DelaySeconds, or an EventBridge Scheduler one-time schedule
)

// TimeFormat is how DueAt is written: fixed width in UTC, so that it sorts as text.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
