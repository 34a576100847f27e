// Package delivery is the sender: it drains a batch of the push queue, fans each push out to
// its endpoints through SNS and keeps the delivery log that makes a redelivered message safe.
package delivery

import (
	"context"
	"errors"
	"time"
)

// Registry lists the SNS platform endpoints registered for a user.
type Registry interface {
	Endpoints(ctx context.Context, userID string) ([]string, error)
}

// Key identifies one delivery: one push to one endpoint.
type Key struct {
	PushID      string
	EndpointARN string
}

// ClaimOutcome is the result of trying to claim a delivery.
type ClaimOutcome int

const (
	// Claimed: the delivery is ours to publish (new, retry, or an expired lease).
	Claimed ClaimOutcome = iota
	// AlreadyDone: the record is sent or failed; a redelivered message must not publish again.
	AlreadyDone
	// Busy: another invocation holds a live lease; try again after the visibility timeout.
	Busy
)

func (o ClaimOutcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case AlreadyDone:
		return "already_done"
	case Busy:
		return "busy"
	}
	return "unknown"
}

// Lease is the proof of a claim: marks succeed only while the record still carries it, so a
// slow invocation whose lease expired and was taken over cannot overwrite the new owner.
type Lease struct {
	UntilMs int64 // the record's leaseUntil (unix ms) written by the claim
}

// ErrLostClaim is returned by marks when the record no longer carries our lease.
var ErrLostClaim = errors.New("delivery claim lost: record no longer holds our lease")

// Claim is what a successful claim returns.
type Claim struct {
	Outcome ClaimOutcome
	Lease   Lease
}

// Log is the delivery log (docs/CONTRACTS.md, DELIVERIES_TABLE).
type Log interface {
	// Claim marks the delivery as sending with a lease ending at now+lease. userID may be "".
	Claim(ctx context.Context, k Key, userID string, now time.Time, lease time.Duration) (Claim, error)
	MarkSent(ctx context.Context, k Key, l Lease, snsMessageID string, now time.Time) error
	MarkFailed(ctx context.Context, k Key, l Lease, reason string, now time.Time) error
	MarkRetry(ctx context.Context, k Key, l Lease, reason string, now time.Time) error
}

// Publisher publishes one SNS message (MessageStructure=json) to one platform endpoint.
type Publisher interface {
	Publish(ctx context.Context, endpointARN, message string) (messageID string, err error)
}
