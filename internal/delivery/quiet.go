package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// Attributes of a push the recipient's quiet hours hold, on the messages the sender requeues:
// when the hold began and when the quiet hours end. They are read from any message, as the
// requeue counter is: a producer that sets them only changes how its own push's lateness is
// measured.
const (
	attrHeldFrom   = "heldFrom"
	attrQuietUntil = "quietUntil"
)

// hold is the quiet hours' hold of a push: zero when it was never held.
type hold struct {
	from, until time.Time
}

// heldOf reads a message's hold; a malformed one is none.
func heldOf(a func(string) string) hold {
	from, ok1 := jsonfield.ParseTime(a(attrHeldFrom))
	until, ok2 := jsonfield.ParseTime(a(attrQuietUntil))
	if !ok1 || !ok2 || until.Before(from) {
		return hold{}
	}
	return hold{from: from, until: until}
}

// duration is how long the push has been held at now: from the hold's start to the end of the
// quiet hours, or to now when the push goes before that (the recipient changed them).
func (h hold) duration(now time.Time) time.Duration {
	if h.from.IsZero() {
		return 0
	}
	end := h.until
	if now.Before(end) {
		end = now
	}
	return max(end.Sub(h.from), 0)
}

// quietHours applies the recipient's quiet hours to a push of a user that is due now: the
// preference in force now, in the zone in force now (theirs, else the stack's default). A push
// due inside them is held until they end (QuietHold: back on the queue, deferred) or recorded
// quiet and not sent (QuietDrop); QuietIgnore and a user without quiet hours go on. It returns
// false when the push is settled here (held, or left for a retry).
func (s *Service) quietHours(ctx context.Context, inv *invocation, r *Result, j *job) bool {
	p := j.push
	if s.Preferences == nil || p.UserID == "" || j.withheld.status != "" || p.QuietMode() == push.QuietIgnore {
		return true
	}
	if !inv.budget.canStart(time.Now()) {
		r.Pending = 1
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	prefs, found, err := s.Preferences.Get(inv.work, p.UserID)
	if err != nil {
		if inv.interrupted(err) {
			r.Pending = 1
		} else {
			r.Retrying, r.Err = 1, fmt.Errorf("preferences: %w", err)
		}
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	if !found || prefs.Quiet.IsZero() {
		return true
	}
	zone, _, loc, err := prefs.ZoneOr(s.DefaultTimeZone)
	if err != nil {
		// A stored zone this build does not know (the store validates what it writes): the
		// stack's default counts, as for a user without a zone.
		s.logger().WarnContext(ctx, "recipient's time zone not loaded: the default zone counts", "pushId", j.id,
			"timeZone", prefs.TimeZone, "error", err.Error())
		if zone, _, loc, err = (recipient.Preferences{}).ZoneOr(s.DefaultTimeZone); err != nil {
			zone, loc = "UTC", time.UTC
		}
	}
	now := s.now()
	if !prefs.Quiet.Contains(now, loc) {
		return true
	}
	end := prefs.Quiet.End(now, loc)
	window := fmt.Sprintf("the recipient's quiet hours %s in %s", prefs.Quiet, zone)
	if p.QuietMode() == push.QuietDrop {
		j.withheld.status = StatusQuiet
		j.withheld.reason = fmt.Sprintf("due inside %s (until %s): dropped, as the push asks (quietHours %q): not sent",
			window, end.Format(time.RFC3339), push.QuietDrop)
		return true
	}
	s.holdQuiet(ctx, inv, r, j, end, window)
	return false
}

// holdQuiet puts a push due inside quiet hours back on the queue until they end, in hops of at
// most SQS's 15 minutes, as holdUntilDue does: the requeue counter is left as it is and the
// message that comes back is a new one (a hold uses up no receive). The schedules row says
// deferred meanwhile.
func (s *Service) holdQuiet(ctx context.Context, inv *invocation, r *Result, j *job, until time.Time, window string) {
	now := s.now()
	if j.held.from.IsZero() {
		// Quiet hours hold the push from its due time: its lateness is then measured from
		// their end alone, not also from how late it was first taken.
		j.held.from = now
		if j.hasDue && j.due.Before(now) {
			j.held.from = j.due
		}
	}
	j.held.until = until
	delay := min((until.Sub(now)+time.Second-1)/time.Second*time.Second, maxQueueDelay)
	r.Outcome, r.QuietUntil = OutcomeDeferred, until
	r.HeldMs, r.Held = j.held.duration(now).Milliseconds(), true
	r.Reason = fmt.Sprintf("due inside %s: held until %s, back on the queue for %s", window, until.Format(time.RFC3339), delay)
	held := Message{Body: normalizedBody(j), Delay: delay, Attributes: requeueAttributes(j, r.Requeues)}
	if err := s.queueWrite(ctx, inv, func(qctx context.Context) error { return s.Queue.Requeue(qctx, held) }); err != nil {
		r.Action, r.Err, r.Reason = ActionRetry, err, r.Reason+"; requeue failed: "+Reason(err)
		return
	}
	r.Action = ActionRequeued
	if r.revision == 0 {
		return
	}
	if err := s.queueWrite(ctx, inv, func(c context.Context) error { return s.Index.Defer(c, j.id, r.revision, until, now) }); err != nil {
		s.logger().WarnContext(ctx, "could not record the hold in the schedules index", "pushId", j.id,
			"revision", r.revision, "error", err.Error())
	}
}

// admit takes the push's frequency caps, right before it is delivered: a push over a cap is
// recorded capped and not sent; an exempt push ("cap": false) is not counted. A push counted
// before (a retry) is admitted again without being counted twice. When the caps' store fails
// nothing is sent: the message is retried. It returns false when the push is settled here.
func (s *Service) admit(ctx context.Context, inv *invocation, r *Result, j *job) bool {
	p := j.push
	if s.Caps == nil || p.UserID == "" || j.withheld.status != "" {
		return true
	}
	if !inv.budget.canStart(time.Now()) {
		r.Pending = 1
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	d, err := caps.Admit(inv.work, s.Caps, p.UserID, p.Category, j.id, p.Exempt(), s.now())
	if err != nil {
		if inv.interrupted(err) {
			r.Pending = 1
		} else {
			r.Retrying, r.Err = 1, fmt.Errorf("frequency caps: %w", err)
		}
		s.settle(ctx, inv, r, j, time.Time{})
		return false
	}
	if !d.Admitted() {
		r.Cap = d.Cap.String()
		j.withheld.status = StatusCapped
		j.withheld.reason = fmt.Sprintf("over the frequency cap %s: not sent", r.Cap)
	}
	return true
}
