package delivery_test

import (
	"context"
	"sync"
	"time"

	"github.com/delayed-push/delayed-push/internal/delivery"
)

type fakeRegistry struct {
	devices map[string][]string
	err     error
}

func (f *fakeRegistry) Endpoints(_ context.Context, userID string) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.devices[userID], nil
}

type record struct {
	status     string
	leaseUntil int64
	attempts   int
	snsID      string
	err        string
	userID     string
}

// fakeLog applies the conditional-write rules of docs/CONTRACTS.md in memory.
type fakeLog struct {
	mu       sync.Mutex
	recs     map[delivery.Key]*record
	claimErr error
	markErr  error
}

func newFakeLog() *fakeLog { return &fakeLog{recs: map[delivery.Key]*record{}} }

func (f *fakeLog) Claim(_ context.Context, k delivery.Key, userID string, now time.Time, lease time.Duration) (delivery.Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimErr != nil {
		return delivery.Claim{}, f.claimErr
	}
	r := f.recs[k]
	if r != nil {
		switch {
		case r.status == "sent" || r.status == "failed":
			return delivery.Claim{Outcome: delivery.AlreadyDone}, nil
		case r.status == "sending" && r.leaseUntil >= now.UnixMilli():
			return delivery.Claim{Outcome: delivery.Busy}, nil
		}
	} else {
		r = &record{}
		f.recs[k] = r
	}
	r.status, r.leaseUntil, r.userID = "sending", now.Add(lease).UnixMilli(), userID
	r.attempts++
	return delivery.Claim{Outcome: delivery.Claimed, Lease: delivery.Lease{UntilMs: r.leaseUntil}}, nil
}

func (f *fakeLog) mark(k delivery.Key, l delivery.Lease, status, snsID, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markErr != nil {
		return f.markErr
	}
	r := f.recs[k]
	if r == nil || r.status != "sending" || r.leaseUntil != l.UntilMs {
		return delivery.ErrLostClaim
	}
	r.status, r.snsID, r.err = status, snsID, reason
	return nil
}

func (f *fakeLog) MarkSent(_ context.Context, k delivery.Key, l delivery.Lease, id string, _ time.Time) error {
	return f.mark(k, l, "sent", id, "")
}

func (f *fakeLog) MarkFailed(_ context.Context, k delivery.Key, l delivery.Lease, reason string, _ time.Time) error {
	return f.mark(k, l, "failed", "", reason)
}

func (f *fakeLog) MarkRetry(_ context.Context, k delivery.Key, l delivery.Lease, reason string, _ time.Time) error {
	return f.mark(k, l, "retry", "", reason)
}

func (f *fakeLog) get(pushID, ep string) record {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.recs[delivery.Key{PushID: pushID, EndpointARN: ep}]; r != nil {
		return *r
	}
	return record{}
}

type publishCall struct{ endpoint, message string }

// fakePublisher fails the endpoints in errs (once each when once is set) and records calls.
type fakePublisher struct {
	mu    sync.Mutex
	calls []publishCall
	errs  map[string]error
	once  bool
}

func (f *fakePublisher) Publish(_ context.Context, ep, msg string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, publishCall{ep, msg})
	if err := f.errs[ep]; err != nil {
		if f.once {
			delete(f.errs, ep)
		}
		return "", err
	}
	return "msg-" + ep, nil
}

func (f *fakePublisher) count(ep string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.endpoint == ep {
			n++
		}
	}
	return n
}
