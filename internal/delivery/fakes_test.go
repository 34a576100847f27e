package delivery_test

import (
	"context"
	"sync"
	"time"

	"github.com/delayed-push/delayed-push/internal/delivery"
)

type fakeRegistry struct {
	devices  map[string][]string
	disabled map[string]string // endpoint → reason
	err      error
	hang     bool // answer only when the context ends
	mu       sync.Mutex
}

func (f *fakeRegistry) Endpoints(ctx context.Context, userID string) ([]delivery.Endpoint, error) {
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []delivery.Endpoint
	for _, arn := range f.devices[userID] {
		out = append(out, delivery.Endpoint{ARN: arn, Disabled: f.disabled[arn]})
	}
	return out, nil
}

func (f *fakeRegistry) Disable(_ context.Context, userID, arn, reason string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disabled == nil {
		f.disabled = map[string]string{}
	}
	f.disabled[arn] = reason
	return nil
}

type record struct {
	status     string
	leaseUntil int64
	token      string
	attempts   int
	snsID      string
	err        string
	userID     string
	lateness   *int64
	held       *int64
	publishes  int
	engine     string
}

// fakeLog applies the conditional-write rules of docs/CONTRACTS.md atomically, in memory, as
// DynamoDB does (the emulator does not: see local/RESEARCH.md).
type fakeLog struct {
	mu       sync.Mutex
	recs     map[delivery.Key]*record
	claimErr func(delivery.Key) error
	markErr  error
	claims   int
	// hangAfterClaim writes the claim, then answers only when the context ends: a claim
	// that took effect but whose answer the time budget cut off.
	hangAfterClaim bool
}

func newFakeLog() *fakeLog { return &fakeLog{recs: map[delivery.Key]*record{}} }

func (f *fakeLog) Claim(ctx context.Context, k delivery.Key, req delivery.ClaimRequest) (delivery.Claim, error) {
	c, err := f.claim(k, req)
	if f.hangAfterClaim {
		<-ctx.Done()
		return delivery.Claim{}, ctx.Err()
	}
	return c, err
}

func (f *fakeLog) claim(k delivery.Key, req delivery.ClaimRequest) (delivery.Claim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims++
	if f.claimErr != nil {
		if err := f.claimErr(k); err != nil {
			return delivery.Claim{}, err
		}
	}
	r := f.recs[k]
	previous := ""
	if r != nil {
		switch {
		case delivery.Final(r.status):
			return delivery.Claim{Outcome: delivery.AlreadyDone, Status: r.status}, nil
		case r.status == delivery.StatusSending && r.leaseUntil >= req.Now.UnixMilli():
			return delivery.Claim{Outcome: delivery.Busy, BusyUntil: time.UnixMilli(r.leaseUntil)}, nil
		}
		previous = r.status
	} else {
		r = &record{}
		f.recs[k] = r
	}
	r.status, r.leaseUntil, r.token, r.userID, r.engine = delivery.StatusSending, req.Lease.UntilMs, req.Lease.Token, req.UserID, req.Engine
	r.attempts++
	if req.Publish {
		r.publishes++
	}
	if previous == delivery.StatusSending {
		return delivery.Claim{Outcome: delivery.Resumed}, nil
	}
	return delivery.Claim{Outcome: delivery.Claimed}, nil
}

func (f *fakeLog) Mark(_ context.Context, k delivery.Key, l delivery.Lease, m delivery.Mark) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markErr != nil {
		return f.markErr
	}
	r := f.recs[k]
	if r == nil || r.status != delivery.StatusSending || r.token != l.Token {
		return delivery.ErrLostClaim
	}
	r.status, r.snsID, r.err, r.lateness, r.held = m.Status, m.SNSMessageID, m.Error, m.LatenessMs, m.HeldMs
	r.publishes += m.Publishes
	return nil
}

func (f *fakeLog) get(pushID, ep string) record {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.recs[delivery.Key{PushID: pushID, EndpointARN: ep}]; r != nil {
		return *r
	}
	return record{}
}

func (f *fakeLog) set(pushID, ep string, r record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs[delivery.Key{PushID: pushID, EndpointARN: ep}] = &r
}

type publishCall struct{ endpoint, message string }

// fakePublisher fails the endpoints in errs (once each when once is set), waits delay before
// answering, and records calls and the most publishes it saw in flight at once.
type fakePublisher struct {
	mu          sync.Mutex
	calls       []publishCall
	errs        map[string]error
	once        bool
	delay       time.Duration
	inFlight    int
	maxInFlight int
}

func (f *fakePublisher) Publish(ctx context.Context, ep, msg string) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, publishCall{ep, msg})
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	err := f.errs[ep]
	if err != nil && f.once {
		delete(f.errs, ep)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if err != nil {
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

func (f *fakePublisher) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type fakeQueue struct {
	mu       sync.Mutex
	parked   []delivery.Message
	requeued []delivery.Message
	err      error
}

func (f *fakeQueue) Park(ctx context.Context, m delivery.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.parked = append(f.parked, m)
	return nil
}

func (f *fakeQueue) Requeue(ctx context.Context, m delivery.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.requeued = append(f.requeued, m)
	return nil
}
