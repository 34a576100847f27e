package delivery

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// epKind is what became of one endpoint's delivery; Result.tally counts them.
type epKind int

const (
	epSent epKind = iota
	epFailed
	epDuplicate
	epUncertain
	epRetry
	epBusy
	epPending
	epExpired
	epSkipped
	epQuiet
	epCapped
)

// endpointResult is what deliver returns for one endpoint.
type endpointResult struct {
	kind       epKind
	disabled   bool // the device was marked disabled in the registry
	latenessMs int64
	busyUntil  time.Time
	err        error
}

// deliver is claim → publish → record for one endpoint. Only a publish SNS confirmed with a
// message id is recorded sent; what a failure means depends on its class and the guarantee.
func (s *Service) deliver(ctx context.Context, inv *invocation, j *job, dev Endpoint) endpointResult {
	started := time.Now()
	if !inv.budget.canStart(started) {
		return endpointResult{kind: epPending}
	}
	d, res, claimed := s.claim(ctx, inv, j, dev)
	if !claimed {
		return res
	}
	if !d.publish {
		return s.recordUnpublished(ctx, inv, j, dev, d)
	}
	id, err := s.publish(ctx, inv, j, d)
	inv.budget.observe(time.Since(started))
	if err == nil {
		return s.recordSent(ctx, inv, j, d, id)
	}
	return s.recordFailure(ctx, inv, j, d, err)
}

// endpointDelivery is one endpoint's delivery, once claimed.
type endpointDelivery struct {
	key   Key
	lease Lease
	log   *slog.Logger // with the push id and the endpoint
	// publish: the endpoint is to get the push (its device is enabled, the push not
	// expired). The claim counted that publish.
	publish bool
}

// claim takes the endpoint's delivery record for this attempt. When the attempt must go no
// further (the delivery is done or held elsewhere, an earlier attempt may have published it
// under at-most-once, the claim failed or was cut short), claimed is false and res says why.
func (s *Service) claim(ctx context.Context, inv *invocation, j *job, dev Endpoint) (d *endpointDelivery, res endpointResult, claimed bool) {
	d = &endpointDelivery{log: s.logger().With("pushId", j.id, "endpointArn", dev.ARN), key: Key{PushID: j.id, EndpointARN: dev.ARN}}
	now := s.now()
	d.lease = inv.newLease(now)
	// The claim counts the publish that follows it, if one does: counted after the fact, a
	// publish SNS took just before the sender died would be missing from the record.
	d.publish = dev.Disabled == "" && j.withheld.status == ""
	claim, err := s.Log.Claim(inv.work, d.key, ClaimRequest{UserID: j.push.UserID, DueAt: j.due, Now: now, Lease: d.lease,
		Publish: d.publish, Engine: j.engine})
	if err != nil && inv.interrupted(err) {
		// Time ran out with the claim in flight. Had it been written, the record would stay
		// "sending" until the lease ends and then look like a publish that may have happened;
		// release it instead (a no-op if it was not written): nothing was published.
		mctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), inv.budget.marks)
		defer cancel()
		_ = s.Log.Mark(mctx, d.key, d.lease, Mark{Status: StatusRetry, Error: "claim interrupted: time budget used up", Now: s.now(),
			Publishes: uncounted(d.publish)})
		return d, endpointResult{kind: epPending}, false
	}
	if err != nil {
		if ClassifyStore(err) == Permanent {
			// Nothing can be recorded, so nothing may be sent: the delivery fails for good.
			d.log.WarnContext(ctx, "delivery log refused the delivery", "errorClass", string(Permanent), "reason", Reason(err))
			return d, endpointResult{kind: epFailed}, false
		}
		d.log.WarnContext(ctx, "delivery claim failed, will retry", "reason", Reason(err))
		return d, endpointResult{kind: epRetry, err: err}, false
	}
	switch claim.Outcome {
	case AlreadyDone:
		d.log.InfoContext(ctx, "delivery already done, not publishing again", "status", claim.Status)
		return d, endpointResult{kind: epDuplicate}, false
	case Busy:
		d.log.InfoContext(ctx, "another invocation holds the delivery", "leaseUntil", claim.BusyUntil.UTC().Format(time.RFC3339Nano))
		return d, endpointResult{kind: epBusy, busyUntil: claim.BusyUntil}, false
	case Resumed:
		if j.atMostOnce {
			d.log.WarnContext(ctx, "an earlier attempt may have published it: not sent again (at-most-once)")
			s.mark(ctx, inv, d.key, d.lease, Mark{Status: StatusUncertain, Now: s.now(), Publishes: uncounted(d.publish),
				Error: "an earlier attempt ended without recording whether SNS accepted it; not sent again (at-most-once)"})
			return d, endpointResult{kind: epUncertain}, false
		}
		if j.withheld.status == "" {
			d.log.WarnContext(ctx, "an earlier attempt ended without recording an outcome: sending again (at-least-once)")
		}
	}
	return d, endpointResult{}, true
}

// recordUnpublished records the outcome of an endpoint that gets nothing: its device is
// disabled, or the push is withheld (expired, dropped in quiet hours or capped).
func (s *Service) recordUnpublished(ctx context.Context, inv *invocation, j *job, dev Endpoint, d *endpointDelivery) endpointResult {
	if dev.Disabled != "" {
		// Recorded like any outcome, so the delivery log says why this device got nothing.
		reason := "device disabled: " + dev.Disabled
		d.log.InfoContext(ctx, "device disabled: skipped without a publish", "reason", dev.Disabled)
		s.mark(ctx, inv, d.key, d.lease, Mark{Status: StatusSkipped, Error: reason, Now: s.now()})
		return endpointResult{kind: epSkipped}
	}
	w := j.withheld
	d.log.WarnContext(ctx, "push "+w.status+": not sent", "reason", w.reason)
	s.mark(ctx, inv, d.key, d.lease, Mark{Status: w.status, Error: w.reason, Now: s.now()})
	return endpointResult{kind: map[string]epKind{StatusExpired: epExpired, StatusQuiet: epQuiet, StatusCapped: epCapped}[w.status]}
}

// publish publishes the push to the endpoint. Under at-least-once a publish whose outcome is
// unknown is made again, up to PublishAttempts, while time allows; each publish after the
// first is counted on the record before it is made.
func (s *Service) publish(ctx context.Context, inv *invocation, j *job, d *endpointDelivery) (id string, err error) {
	attempts := s.PublishAttempts
	if attempts <= 0 {
		attempts = DefaultPublishAttempts
	}
	for attempt := 1; ; attempt++ {
		// The claim counted the first publish; each further one is counted before it is made,
		// and not made when it cannot be counted (the next attempt publishes again).
		if attempt > 1 {
			if err := s.countPublish(inv, d.key, d.lease); err != nil {
				d.log.WarnContext(ctx, "could not count another publish: not publishing again now", "error", err.Error())
				break
			}
		}
		id, err = s.Publisher.Publish(inv.work, d.key.EndpointARN, j.message)
		if err == nil && id == "" {
			err = errors.New("publish returned no message id")
		}
		if err == nil || ClassifyPublish(err) != Ambiguous || j.atMostOnce ||
			attempt >= attempts || !inv.budget.canStart(time.Now()) {
			break
		}
		d.log.InfoContext(ctx, "publish outcome unknown, publishing again (at-least-once)", "reason", Reason(err))
	}
	return id, err
}

// recordSent records a publish SNS confirmed, with the push's lateness.
func (s *Service) recordSent(ctx context.Context, inv *invocation, j *job, d *endpointDelivery, id string) endpointResult {
	confirmed := s.now()
	res := endpointResult{kind: epSent}
	m := Mark{Status: StatusSent, SNSMessageID: id, Now: confirmed}
	held := j.held.duration(confirmed)
	if j.hasDue {
		res.latenessMs = (confirmed.Sub(j.due) - held).Milliseconds()
		m.LatenessMs = &res.latenessMs
	}
	if held > 0 {
		ms := held.Milliseconds()
		m.HeldMs = &ms
	}
	if err := s.mark(ctx, inv, d.key, d.lease, m); err != nil {
		// The push is out. The record stays "sending"; should the message come back, the
		// guarantee decides (at least once: sent again, with the same push id).
		d.log.ErrorContext(ctx, "published but could not record it", "snsMessageId", id, "error", err.Error())
	}
	return res
}

// recordFailure records a failed publish by its class: failed for good (and the device marked
// disabled when SNS says its endpoint is dead), uncertain under at-most-once when the outcome
// is unknown, else to be retried.
func (s *Service) recordFailure(ctx context.Context, inv *invocation, j *job, d *endpointDelivery, pubErr error) endpointResult {
	class, reason := ClassifyPublish(pubErr), Reason(pubErr)
	switch {
	case class == Permanent:
		d.log.WarnContext(ctx, "publish failed permanently", "errorClass", string(class), "reason", reason)
		s.mark(ctx, inv, d.key, d.lease, Mark{Status: StatusFailed, Error: reason, Now: s.now()})
		res := endpointResult{kind: epFailed}
		if j.push.UserID != "" && EndpointGone(pubErr) {
			res.disabled = s.disable(ctx, inv, j.id, j.push.UserID, d.key.EndpointARN, reason)
		}
		return res
	case class == Ambiguous && j.atMostOnce:
		d.log.WarnContext(ctx, "publish outcome unknown: not sent again (at-most-once)", "errorClass", string(class), "reason", reason)
		s.mark(ctx, inv, d.key, d.lease, Mark{Status: StatusUncertain, Error: "publish outcome unknown: " + reason, Now: s.now()})
		return endpointResult{kind: epUncertain}
	}
	d.log.WarnContext(ctx, "publish failed, will retry", "errorClass", string(class), "reason", reason)
	s.mark(ctx, inv, d.key, d.lease, Mark{Status: StatusRetry, Error: reason, Now: s.now()})
	return endpointResult{kind: epRetry, err: pubErr}
}

// uncounted is the Mark.Publishes of an attempt that made no publish: it takes back the one
// its claim counted, if it counted one.
func uncounted(counted bool) int {
	if counted {
		return -1
	}
	return 0
}

// countPublish counts one more publish of this attempt on its record, before it is made (a
// StatusSending mark). It fails when the record no longer holds the claim, or cannot be
// written: then that publish must not be made.
func (s *Service) countPublish(inv *invocation, k Key, l Lease) error {
	return s.Log.Mark(inv.work, k, l, Mark{Status: StatusSending, Now: s.now(), Publishes: 1})
}

// mark records an outcome, trying a few times until the marks deadline: a recorded outcome is
// what keeps a redelivery from publishing again. A failure is logged; the caller decides
// whether it matters.
func (s *Service) mark(ctx context.Context, inv *invocation, k Key, l Lease, m Mark) error {
	mctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), inv.budget.marks)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-mctx.Done():
				return err
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		err = s.Log.Mark(mctx, k, l, m)
		if err == nil || errors.Is(err, ErrLostClaim) || ClassifyStore(err) == Permanent {
			break
		}
	}
	if err != nil && m.Status != StatusSent {
		// Not fatal: the lease expires and the next attempt claims the delivery again.
		s.logger().WarnContext(ctx, "could not record the delivery outcome", "pushId", k.PushID,
			"endpointArn", k.EndpointARN, "status", m.Status, "error", err.Error())
	}
	return err
}

// disable marks a device SNS reported dead, so that later pushes skip it without a publish
// until it registers again. A failure is only logged: the next push tries it and fails again.
func (s *Service) disable(ctx context.Context, inv *invocation, pushID, userID, ep, reason string) bool {
	mctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), inv.budget.marks)
	defer cancel()
	if err := s.Registry.Disable(mctx, userID, ep, reason, s.now()); err != nil {
		s.logger().WarnContext(ctx, "could not mark the device disabled", "pushId", pushID, "userId", userID, "endpointArn", ep, "error", err.Error())
		return false
	}
	s.logger().InfoContext(ctx, "device disabled in the registry", "pushId", pushID, "userId", userID, "endpointArn", ep, "reason", reason)
	return true
}
