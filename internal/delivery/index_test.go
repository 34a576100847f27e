package delivery_test

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
)

type indexRow struct {
	rev    int
	state  string
	engine string // "" as on a row written before the economy engine
	finish *delivery.Finish
	until  time.Time // while deferred
}

// fakeIndex follows the schedules index's rules (awsadapters.Schedules against DynamoDB).
type fakeIndex struct {
	mu     sync.Mutex
	rows   map[string]*indexRow
	err    error
	begins int
}

func (f *fakeIndex) BeginSend(_ context.Context, key string, rev int, _ time.Time) (delivery.Begun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begins++
	if f.err != nil {
		return delivery.Begun{}, f.err
	}
	r := f.rows[key]
	if r == nil {
		return delivery.Begun{Gate: delivery.GateSend}, nil
	}
	b := delivery.Begun{Gate: delivery.GateSend, Current: r.rev, Engine: cmp.Or(r.engine, index.EngineStepFunctions)}
	switch {
	case r.rev == rev && (r.state == index.Scheduled || r.state == index.Sending || r.state == index.Deferred):
		r.state = index.Sending
	case r.state == index.Cancelled:
		b.Gate = delivery.GateCancelled
	case r.rev > rev:
		b.Gate = delivery.GateSuperseded
	}
	return b, nil
}

func (f *fakeIndex) Finish(_ context.Context, key string, rev int, fin delivery.Finish) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.rows[key]; r != nil && r.rev == rev && r.state == index.Sending {
		r.state, r.finish = fin.State, &fin
	}
	return nil
}

func (f *fakeIndex) Defer(_ context.Context, key string, rev int, until, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.rows[key]; r != nil && r.rev == rev && (r.state == index.Sending || r.state == index.Deferred) {
		r.state, r.until = index.Deferred, until
	}
	return nil
}

func (f *fakeIndex) row(key string) indexRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.rows[key]
}

func withIndex(h *harness, rows map[string]*indexRow) *fakeIndex {
	ix := &fakeIndex{rows: rows}
	h.svc.Index = ix
	return ix
}

func TestCancelledKeyIsNotSent(t *testing.T) {
	h := newHarness()
	withIndex(h, map[string]*indexRow{"cart-7": {rev: 1, state: index.Cancelled}})
	resp := h.handle(t, msg("m1", `{"id":"cart-7","revision":1,"userId":"u-42","title":"t"}`))
	assert.Empty(t, resp.BatchItemFailures, "done with: not retried")
	assert.Zero(t, h.pub.total())
	line := h.report(t, "m1")
	assert.Equal(t, "cancelled", line["outcome"])
	assert.Equal(t, "done", line["action"])
	assert.Contains(t, line["reason"], "cancelled through the client")
}

func TestOldRevisionOfARescheduledKeyIsNotSent(t *testing.T) {
	h := newHarness()
	ix := withIndex(h, map[string]*indexRow{"cart-7": {rev: 2, state: index.Scheduled}})
	resp := h.handle(t, msg("m1", `{"id":"cart-7","revision":1,"userId":"u-42","title":"old"}`))
	assert.Empty(t, resp.BatchItemFailures)
	assert.Zero(t, h.pub.total())
	line := h.report(t, "m1")
	assert.Equal(t, "superseded", line["outcome"])
	assert.Equal(t, "the key was rescheduled: revision 2 is current, this is 1: not sent", line["reason"])
	assert.Equal(t, index.Scheduled, ix.row("cart-7").state, "revision 2 is still to come")
}

func TestCurrentRevisionIsSentAndItsOutcomeRecorded(t *testing.T) {
	h := newHarness()
	ix := withIndex(h, map[string]*indexRow{"cart-7": {rev: 2, state: index.Scheduled}})
	resp := h.handle(t, msg("m1", `{"id":"cart-7","revision":2,"userId":"u-42","title":"new","dueAt":"2026-12-01T09:00:00Z"}`))
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 3, h.pub.total())
	row := ix.row("cart-7")
	assert.Equal(t, index.Sent, row.state)
	require.NotNil(t, row.finish)
	assert.Equal(t, delivery.OutcomeSent, row.finish.Result)
	assert.Equal(t, 3, row.finish.Endpoints)
	assert.Equal(t, 3, row.finish.Sent)
	require.NotNil(t, row.finish.LatenessMs)
	assert.EqualValues(t, 2500, *row.finish.LatenessMs)

	// A redelivery of the same message finds the deliveries done and sends nothing.
	h.handle(t, msg("m1", `{"id":"cart-7","revision":2,"userId":"u-42","title":"new","dueAt":"2026-12-01T09:00:00Z"}`))
	assert.Equal(t, 3, h.pub.total())
}

func TestUserWithoutDevicesIsRecordedFailedInTheIndex(t *testing.T) {
	h := newHarness()
	ix := withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled}})
	h.handle(t, msg("m1", `{"id":"k","revision":1,"userId":"nobody","title":"t"}`))
	row := ix.row("k")
	assert.Equal(t, index.Failed, row.state)
	assert.Equal(t, delivery.OutcomeNoDevices, row.finish.Result)
	assert.Equal(t, "the user has no registered device", row.finish.Reason)
}

func TestIndexUnavailableIsRetriedWithoutSending(t *testing.T) {
	h := newHarness()
	ix := withIndex(h, nil)
	ix.err = errors.New("ProvisionedThroughputExceededException: slow down")
	resp := h.handle(t, msg("m1", `{"id":"k","revision":1,"userId":"u-42","title":"t"}`))
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Zero(t, h.pub.total(), "nothing is sent before the index says it may be")
}

func TestPushWithoutRevisionDoesNotConsultTheIndex(t *testing.T) {
	h := newHarness()
	ix := withIndex(h, nil)
	h.handle(t, msg("m1", `{"id":"k","userId":"u-42","title":"t"}`))
	assert.Equal(t, 3, h.pub.total())
	assert.Zero(t, ix.begins)
}

func TestPushLaterThanItsLimitIsRecordedExpiredNotSent(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		limit   time.Duration
		expired bool
		reason  string
	}{
		{"stack default", `{"id":"p","userId":"u-1","title":"t","dueAt":"2026-11-29T09:00:00Z"}`, 24 * time.Hour, true,
			"due 2026-11-29T09:00:00Z, 48h0m3s late: over the lateness limit of 24h0m0s: not sent"},
		{"the push's own limit wins", `{"id":"p","userId":"u-1","title":"t","dueAt":"2026-12-01T08:58:00Z","maxLatenessSeconds":60}`, 24 * time.Hour, true,
			"due 2026-12-01T08:58:00Z, 2m3s late: over the lateness limit of 1m0s: not sent"},
		{"within the push's limit", `{"id":"p","userId":"u-1","title":"t","dueAt":"2026-12-01T08:59:30Z","maxLatenessSeconds":60}`, 24 * time.Hour, false, ""},
		{"no limit", `{"id":"p","userId":"u-1","title":"t","dueAt":"2025-12-01T09:00:00Z"}`, 0, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness()
			h.svc.MaxLateness = c.limit
			ix := withIndex(h, map[string]*indexRow{})
			resp := h.handle(t, msg("m1", c.body))
			assert.Empty(t, resp.BatchItemFailures)
			line := h.report(t, "m1")
			rec := h.log.get("p", ep1)
			if !c.expired {
				assert.Equal(t, 1, h.pub.total())
				assert.Equal(t, "sent", line["outcome"])
				return
			}
			assert.Zero(t, h.pub.total())
			assert.Equal(t, "expired", line["outcome"])
			assert.Equal(t, "WARN", line["level"])
			assert.Equal(t, c.reason, line["reason"])
			assert.Equal(t, delivery.StatusExpired, rec.status, "the delivery log says so")
			assert.Equal(t, c.reason, rec.err)
			assert.Empty(t, ix.rows)

			// Expired is final: a redelivery does not send it either.
			h.handle(t, msg("m1", c.body))
			assert.Zero(t, h.pub.total())
			assert.Equal(t, "duplicate", h.report(t, "m1")["outcome"])
		})
	}
}

func TestExpiredScheduledPushIsRecordedExpiredInTheIndex(t *testing.T) {
	h := newHarness()
	h.svc.MaxLateness = time.Hour
	ix := withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled}})
	h.handle(t, msg("m1", `{"id":"k","revision":1,"userId":"u-42","title":"t","dueAt":"2026-12-01T07:00:00Z"}`))
	assert.Zero(t, h.pub.total())
	row := ix.row("k")
	assert.Equal(t, index.Expired, row.state)
	assert.Equal(t, delivery.OutcomeExpired, row.finish.Result)
	assert.Contains(t, row.finish.Reason, "over the lateness limit of 1h0m0s")
}
