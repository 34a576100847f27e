package delivery

import "time"

// Outcome of one queue message, as logged.
type Outcome string

const (
	OutcomeSent       Outcome = "sent"       // every endpoint is sent now or was before; some now
	OutcomePartial    Outcome = "partial"    // some sent, some failed permanently or uncertain
	OutcomeFailed     Outcome = "failed"     // none sent: every endpoint failed or is uncertain
	OutcomeDuplicate  Outcome = "duplicate"  // every endpoint was done by an earlier attempt
	OutcomeNoDevices  Outcome = "no_devices" // the user has no registered device
	OutcomeInvalid    Outcome = "invalid"    // the message is not a valid push
	OutcomeIncomplete Outcome = "incomplete" // some endpoints are not done yet: see the Action
	OutcomeExpired    Outcome = "expired"    // due longer ago than its lateness limit: not sent
	OutcomeCancelled  Outcome = "cancelled"  // cancelled through the client: not sent
	OutcomeSuperseded Outcome = "superseded" // an old revision of a rescheduled key: not sent
	OutcomeEarly      Outcome = "early"      // taken before its due time: back on the queue until then
	OutcomeDeferred   Outcome = "deferred"   // due inside the recipient's quiet hours: back on the queue until they end
	OutcomeQuiet      Outcome = "quiet"      // due inside the recipient's quiet hours, and it asked to be dropped: not sent
	OutcomeCapped     Outcome = "capped"     // over a frequency cap (Result.Cap): not sent
)

// Action is what happens to the queue message.
type Action string

const (
	ActionDone     Action = "done"     // deleted from the queue
	ActionRetry    Action = "retry"    // a batch item failure: redelivered after the visibility timeout
	ActionRequeued Action = "requeued" // the rest is back on the push queue; this message is deleted
	ActionParked   Action = "parked"   // on the dead-letter queue with its reason; deleted here
)

// Result is what happened to one queue message.
type Result struct {
	MessageID    string
	PushID       string
	Outcome      Outcome
	Action       Action
	ReceiveCount int
	Endpoints    int
	Sent         int
	Failed       int // failed for good, skipped devices included
	Skipped      int // disabled devices: recorded skipped, nothing published
	Disabled     int // devices this attempt marked disabled (SNS said their endpoint is dead)
	Duplicates   int
	Uncertain    int
	Retrying     int // transient failures
	Busy         int // held by another invocation right now
	Pending      int // not started, or interrupted before any effect: the time budget ran out
	Expired      int // recorded expired: later than the lateness limit
	Quiet        int // recorded quiet: dropped in the recipient's quiet hours
	Capped       int // recorded capped: over a frequency cap
	Requeues     int // how often the message was requeued before, without progress
	// LatenessMs is the time from the due time to the last SNS confirmation of this attempt;
	// Lateness tells whether it was measured (something was sent).
	LatenessMs int64
	Lateness   bool
	// HeldMs is how long the recipient's quiet hours held the push (left out of LatenessMs);
	// Held tells whether they did.
	HeldMs int64
	Held   bool
	// QuietUntil is when the quiet hours holding a deferred push end.
	QuietUntil time.Time
	// Cap is the frequency cap that refused a capped push ("3/24h", "promo:1/1h").
	Cap       string
	DueSource string // which attribute or field gave the due time
	// Engine is the engine that held the push until its due time: "stepfunctions" or
	// "economy" as its schedules row says, else "stepfunctions" when the state machine sent it
	// and "queue" when a producer did. "" while a push with a revision has not had its row
	// read (held before its due time).
	Engine string
	Reason string // why the message was parked, requeued or retried
	Err    error  // the invalid-input error, or the last transient error

	revision int // the push's revision when the schedules index has a row to finish
}

// Retry reports whether the message must be returned as a batch item failure.
func (r Result) Retry() bool { return r.Action == ActionRetry }

// tally adds up the endpoints' results of job j. It returns the latest time a busy endpoint is
// held until.
func (r *Result) tally(j *job, results []endpointResult) (busyUntil time.Time) {
	for _, er := range results {
		if er.disabled {
			r.Disabled++
		}
		switch er.kind {
		case epSent:
			r.Sent++
			if j.hasDue && (!r.Lateness || er.latenessMs > r.LatenessMs) {
				r.LatenessMs, r.Lateness = er.latenessMs, true
			}
		case epFailed:
			r.Failed++
		case epSkipped:
			r.Failed++
			r.Skipped++
		case epDuplicate:
			r.Duplicates++
		case epUncertain:
			r.Uncertain++
		case epRetry:
			r.Retrying++
			r.Err = er.err
		case epBusy:
			r.Busy++
			if er.busyUntil.After(busyUntil) {
				busyUntil = er.busyUntil
			}
		case epPending:
			r.Pending++
		case epExpired:
			r.Expired++
		case epQuiet:
			r.Quiet++
		case epCapped:
			r.Capped++
		}
	}
	if r.Expired+r.Quiet+r.Capped > 0 {
		r.Reason = j.withheld.reason
	}
	return busyUntil
}

// finished reports whether every endpoint is through: nothing to retry, held elsewhere or
// left for lack of time.
func (r *Result) finished() bool { return r.Retrying == 0 && r.Busy == 0 && r.Pending == 0 }

// finalOutcome is the outcome of a message whose endpoints are all through.
func (r *Result) finalOutcome() Outcome {
	switch {
	case r.Expired > 0 && r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
		return OutcomeExpired
	case r.Quiet > 0 && r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
		return OutcomeQuiet
	case r.Capped > 0 && r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
		return OutcomeCapped
	case r.Sent == 0 && r.Failed == 0 && r.Uncertain == 0:
		return OutcomeDuplicate
	case r.Sent == 0 && r.Duplicates == 0:
		return OutcomeFailed
	case r.Failed > 0 || r.Uncertain > 0:
		return OutcomePartial
	}
	return OutcomeSent
}

// progressed reports whether some endpoint was done by this attempt (sent, failed for good or
// left uncertain).
func (r *Result) progressed() bool { return r.Sent+r.Failed+r.Uncertain > 0 }
