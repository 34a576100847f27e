package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// fakePrefs is the preferences store: what each user has set, changeable between hops.
type fakePrefs struct {
	mu    sync.Mutex
	users map[string]recipient.Preferences
	err   error
	gets  int
}

func (f *fakePrefs) Get(_ context.Context, userID string) (recipient.Preferences, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return recipient.Preferences{}, false, f.err
	}
	p, ok := f.users[userID]
	return p, ok, nil
}

func (f *fakePrefs) set(userID string, p recipient.Preferences) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[userID] = p
}

func quiet(t *testing.T, start, end string) recipient.QuietHours {
	t.Helper()
	q, err := recipient.ParseQuietHours(start, end)
	require.NoError(t, err)
	return q
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

// clockHarness is a harness whose clock the test moves, with a preferences store.
type clockHarness struct {
	*harness
	prefs *fakePrefs
	mu    sync.Mutex
	clock time.Time
}

func newClockHarness(start time.Time) *clockHarness {
	h := &clockHarness{harness: newHarness(), prefs: &fakePrefs{users: map[string]recipient.Preferences{}}, clock: start}
	h.svc.Now = func() time.Time {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.clock
	}
	h.svc.Preferences = h.prefs
	return h
}

func (h *clockHarness) set(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = t
}

// back is the message the queue delivers when a requeued one's delay is over, as SQS does.
func back(id string, m delivery.Message) events.SQSMessage {
	out := msg(id, m.Body)
	out.MessageAttributes = map[string]events.SQSMessageAttribute{}
	for k, a := range m.Attributes {
		v := a.Value
		out.MessageAttributes[k] = events.SQSMessageAttribute{DataType: a.DataType, StringValue: &v}
	}
	return out
}

// runHeld hands the push to the sender, and every requeue back when its delay is over, until
// the push is done; it returns the delays of the holds.
func (h *clockHarness) runHeld(t *testing.T, first events.SQSMessage) []time.Duration {
	t.Helper()
	var delays []time.Duration
	m := first
	for i := 0; ; i++ {
		require.Less(t, i, 200, "still held after 200 hops")
		before := len(h.queue.requeued)
		h.handle(t, m)
		if len(h.queue.requeued) == before {
			return delays
		}
		next := h.queue.requeued[before]
		delays = append(delays, next.Delay)
		h.set(h.svc.Now().Add(next.Delay))
		m = back(fmt.Sprintf("hop-%d", i+1), next)
	}
}

// A push due at 23:30 in Berlin, inside quiet hours 22:00-07:00 that span midnight, is held
// on the queue in hops of at most 15 minutes, never sent before 07:00, and sent at 07:00;
// every hop is deferred, and the row says deferred until it is sent. Its lateness leaves the
// hold out; the hold is reported apart.
func TestQuietHoursAcrossMidnightHoldThenSendAtTheirEnd(t *testing.T) {
	due := at(t, "2026-12-01T22:30:00Z") // 23:30 CET
	h := newClockHarness(due.Add(200 * time.Millisecond))
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser, Quiet: quiet(t, "22:00", "07:00")})
	ix := withIndex(h.harness, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled}})
	h.svc.Metrics = &metrics.Emitter{W: h.logs, Function: "sender"}

	first := msg("m1", `{"id":"k","revision":1,"userId":"u-1","title":"t","dueAt":"`+due.Format(time.RFC3339)+`"}`)
	h.handle(t, first)
	line := h.report(t, "m1")
	assert.Equal(t, "deferred", line["outcome"])
	assert.Equal(t, "requeued", line["action"])
	assert.Equal(t, "2026-12-02T06:00:00Z", line["quietUntil"])
	assert.Contains(t, line["reason"], "22:00-07:00 in Europe/Berlin")
	assert.Equal(t, index.Deferred, ix.row("k").state, "Get shows the push deferred")
	assert.Equal(t, at(t, "2026-12-02T06:00:00Z"), ix.row("k").until)
	assert.Zero(t, h.pub.total())
	assert.Equal(t, "0", h.queue.requeued[0].Attributes["requeues"].Value, "a hold is not a requeue without progress")

	delays := h.runHeld(t, back("hop-1", h.queue.requeued[0]))
	for _, d := range delays {
		assert.LessOrEqual(t, d, 15*time.Minute)
	}
	require.Equal(t, 1, h.pub.total(), "sent once, at the end")
	sentAt := h.svc.Now()
	assert.False(t, sentAt.Before(at(t, "2026-12-02T06:00:00Z")), "never inside quiet hours: sent at %s", sentAt)
	assert.Less(t, sentAt.Sub(at(t, "2026-12-02T06:00:00Z")), time.Second)

	rec := h.log.get("k", ep1)
	assert.Equal(t, delivery.StatusSent, rec.status)
	require.NotNil(t, rec.held)
	require.NotNil(t, rec.lateness)
	held := at(t, "2026-12-02T06:00:00Z").Sub(due)
	assert.Equal(t, held.Milliseconds(), *rec.held, "the hold, from the due time to the end of quiet hours")
	// Sent 200 ms after the end (the last hop is whole seconds from a clock that started 200 ms
	// past a second): the lateness is that alone, measured from the end of quiet hours; the
	// 200 ms it was late when first taken are inside the hold.
	assert.Equal(t, int64(200), *rec.lateness, "the lateness leaves the hold out")
	row := ix.row("k")
	assert.Equal(t, index.Sent, row.state)
	require.NotNil(t, row.finish.HeldMs)
	assert.Equal(t, held.Milliseconds(), *row.finish.HeldMs)
	assert.Equal(t, int64(200), *row.finish.LatenessMs)
	lines := h.logLines(t, "push processed")
	last := lines[len(lines)-1]
	assert.Equal(t, "sent", last["outcome"])
	assert.EqualValues(t, held.Milliseconds(), last["heldMs"])
	assert.Contains(t, h.logs.String(), `"Deferred":1`, "each hop counted deferred in EMF")
}

// A push may be held far longer than its lateness limit: the hold is not lateness, so it is
// sent at the end of quiet hours, not expired.
func TestAHeldPushIsNotExpiredByItsHold(t *testing.T) {
	due := at(t, "2026-07-01T20:00:00Z") // 22:00 CEST
	h := newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser, Quiet: quiet(t, "22:00", "07:00")})
	h.runHeld(t, msg("m1", `{"id":"p","userId":"u-1","title":"t","maxLatenessSeconds":60,"dueAt":"`+due.Format(time.RFC3339)+`"}`))
	assert.Equal(t, 1, h.pub.total(), "sent after 9 hours held, with a lateness limit of a minute")
	assert.Equal(t, delivery.StatusSent, h.log.get("p", ep1).status)

	// Held, then late for its own reasons after the end: that lateness counts.
	h = newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser, Quiet: quiet(t, "22:00", "07:00")})
	h.handle(t, msg("m1", `{"id":"p","userId":"u-1","title":"t","maxLatenessSeconds":60,"dueAt":"`+due.Format(time.RFC3339)+`"}`))
	h.set(at(t, "2026-07-02T05:02:00Z")) // two minutes after the end
	m := h.queue.requeued[0]
	m.Attributes["quietUntil"] = delivery.Attribute{DataType: "String", Value: "2026-07-02T05:00:00Z"}
	h.handle(t, back("late", m))
	assert.Zero(t, h.pub.total())
	assert.Equal(t, "expired", h.report(t, "late")["outcome"])
}

// The preference in force at due time counts: a user who moved from New York to Tokyo after the
// push was scheduled gets it held by Tokyo's night; one who cleared their quiet hours gets it.
func TestTheZoneAndQuietHoursInForceAtDueTimeCount(t *testing.T) {
	due := at(t, "2026-12-01T14:00:00Z") // 09:00 in New York, 23:00 in Tokyo
	body := `{"id":"p","userId":"u-1","title":"t","dueAt":"` + due.Format(time.RFC3339) + `"}`
	h := newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "America/New_York", TimeZoneSource: recipient.SourceUser, Quiet: quiet(t, "22:00", "07:00")})
	h.set(due.Add(-time.Hour)) // early: back on the queue until due
	h.handle(t, msg("m0", body))
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Asia/Tokyo", TimeZoneSource: recipient.SourceDevice, Quiet: quiet(t, "22:00", "07:00")})
	h.set(due)
	h.handle(t, back("m1", h.queue.requeued[0]))
	line := h.report(t, "m1")
	assert.Equal(t, "deferred", line["outcome"], "Tokyo's night now")
	assert.Equal(t, "2026-12-01T22:00:00Z", line["quietUntil"], "07:00 in Tokyo")

	// The user clears their quiet hours during the hold: sent on the next hop, the hold ends then.
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Asia/Tokyo", TimeZoneSource: recipient.SourceDevice})
	h.set(due.Add(15 * time.Minute))
	h.handle(t, back("m2", h.queue.requeued[1]))
	assert.Equal(t, 1, h.pub.total())
	assert.Equal(t, int64(15*60*1000), *h.log.get("p", ep1).held, "held from due until it went")
}

// Across the spring-forward night in New York (2027-03-14, 02:00 → 03:00), quiet hours 01:00 to
// 02:30 end at 03:00 EDT (02:30 does not exist): the push is held until recipient's exact End.
func TestHoldAcrossDaylightSavingEndsAtTheExactEnd(t *testing.T) {
	loc, err := recipient.Zone("America/New_York")
	require.NoError(t, err)
	q := quiet(t, "01:00", "02:30")
	due := at(t, "2027-03-14T06:30:00Z") // 01:30 EST
	h := newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "America/New_York", TimeZoneSource: recipient.SourceUser, Quiet: q})
	h.runHeld(t, msg("m1", `{"id":"p","userId":"u-1","title":"t","dueAt":"`+due.Format(time.RFC3339)+`"}`))
	require.Equal(t, 1, h.pub.total())
	want := q.End(due, loc)
	assert.Equal(t, at(t, "2027-03-14T07:00:00Z"), want, "03:00 EDT")
	assert.Equal(t, want, h.svc.Now(), "sent at the end, to the second")

	// Fall back in Berlin (2026-10-25, 03:00 CEST → 02:00 CET): quiet hours 22:00-02:30 end at
	// the first 02:30, CEST.
	berlin, _ := recipient.Zone("Europe/Berlin")
	q = quiet(t, "22:00", "02:30")
	due = at(t, "2026-10-24T21:00:00Z") // 23:00 CEST
	h = newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser, Quiet: q})
	h.runHeld(t, msg("m1", `{"id":"p","userId":"u-1","title":"t","dueAt":"`+due.Format(time.RFC3339)+`"}`))
	assert.Equal(t, q.End(due, berlin), h.svc.Now())
	assert.Equal(t, at(t, "2026-10-25T00:30:00Z"), h.svc.Now())
}

// "quietHours": "drop" is recorded quiet and never sent; "ignore" is sent inside quiet hours;
// a user without preferences, or without quiet hours, gets the push at once; a user without a
// zone has quiet hours in the stack's default zone.
func TestDropIgnoreAndNoPreferences(t *testing.T) {
	due := at(t, "2026-12-01T23:00:00Z")
	body := func(id, extra string) string {
		return `{"id":"` + id + `","userId":"u-1","title":"t","dueAt":"` + due.Format(time.RFC3339) + `"` + extra + `}`
	}
	h := newClockHarness(due)
	h.prefs.set("u-1", recipient.Preferences{Quiet: quiet(t, "22:00", "07:00")}) // no zone: the default, UTC
	ix := withIndex(h.harness, map[string]*indexRow{"drop": {rev: 1, state: index.Scheduled}})
	h.handle(t, msg("m1", body("drop", `,"revision":1,"quietHours":"drop"`)))
	line := h.report(t, "m1")
	assert.Equal(t, "quiet", line["outcome"])
	assert.Equal(t, "done", line["action"])
	assert.EqualValues(t, 1, line["quiet"])
	assert.Zero(t, h.pub.total(), "dropped: never sent")
	assert.Equal(t, delivery.StatusQuiet, h.log.get("drop", ep1).status, "recorded in the delivery log")
	assert.Equal(t, index.Quiet, ix.row("drop").state)
	h.handle(t, msg("m1", body("drop", `,"revision":1,"quietHours":"drop"`)))
	assert.Zero(t, h.pub.total(), "a redelivery does not send it either")

	h.handle(t, msg("m2", body("ignore", `,"quietHours":"ignore"`)))
	assert.Equal(t, "sent", h.report(t, "m2")["outcome"])
	assert.Equal(t, 1, h.pub.total())

	h.svc.DefaultTimeZone = "Asia/Kolkata" // 04:30 there: quiet as well
	h.handle(t, msg("m3", body("kolkata", "")))
	assert.Equal(t, "deferred", h.report(t, "m3")["outcome"])
	assert.Equal(t, "2026-12-02T01:30:00Z", h.report(t, "m3")["quietUntil"], "07:00 in Kolkata")
	h.svc.DefaultTimeZone = "Pacific/Kiritimati" // 13:00 there: not quiet
	h.handle(t, msg("m4", body("kiritimati", "")))
	assert.Equal(t, "sent", h.report(t, "m4")["outcome"])

	for _, u := range []string{"u-42", "u-1"} {
		h := newClockHarness(due)
		if u == "u-1" {
			h.prefs.set(u, recipient.Preferences{TimeZone: "UTC", TimeZoneSource: recipient.SourceUser}) // a zone, no quiet hours
		}
		h.handle(t, msg("m", `{"id":"p","userId":"`+u+`","title":"t"}`))
		assert.Equal(t, "sent", h.report(t, "m")["outcome"], u)
		assert.Equal(t, 1, h.prefs.gets, "one read of the preferences")
	}

	// A push to an endpoint has no user: no preferences read, no caps.
	h = newClockHarness(due)
	h.prefs.err = errors.New("must not be read")
	h.handle(t, msg("m", `{"id":"p","endpointArn":"`+ep2+`","title":"t"}`))
	assert.Equal(t, "sent", h.report(t, "m")["outcome"])
}

// A store that fails is a retry, never a push sent regardless of quiet hours.
func TestPreferencesErrorRetriesAndSendsNothing(t *testing.T) {
	h := newClockHarness(now)
	h.prefs.err = errors.New("ProvisionedThroughputExceededException")
	resp := h.handle(t, msg("m1", `{"id":"p","userId":"u-1","title":"t"}`))
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Zero(t, h.pub.total())
	assert.Contains(t, h.report(t, "m1")["reason"], "preferences")
}

func capStore(t *testing.T, config string) (*awsadapters.CapStore, *ddbfake.Table) {
	t.Helper()
	c, err := caps.ParseConfig(config)
	require.NoError(t, err)
	tb := ddbfake.New(awsadapters.CapsUserID)
	return &awsadapters.CapStore{Client: tb, Table: "caps", Config: c}, tb
}

// The fourth push of a day to a user capped at three is recorded capped, with the cap, and
// never published; an exempt push goes through and is not counted; a category has its own cap.
func TestTheFourthOfThreeIsCapped(t *testing.T) {
	h := newHarness()
	store, _ := capStore(t, "3/24h; promo=1/1h")
	h.svc.Caps = store
	ix := withIndex(h, map[string]*indexRow{"p4": {rev: 1, state: index.Scheduled}})
	h.svc.Metrics = &metrics.Emitter{W: h.logs, Function: "sender"}
	for i := 1; i <= 3; i++ {
		h.handle(t, msg(fmt.Sprint("m", i), fmt.Sprintf(`{"id":"p%d","userId":"u-1","title":"t"}`, i)))
	}
	require.Equal(t, 3, h.pub.total())
	h.handle(t, msg("m4", `{"id":"p4","revision":1,"userId":"u-1","title":"t"}`))
	line := h.report(t, "m4")
	assert.Equal(t, "capped", line["outcome"])
	assert.Equal(t, "done", line["action"])
	assert.Equal(t, "3/1d", line["cap"])
	assert.Equal(t, 3, h.pub.total(), "never published")
	rec := h.log.get("p4", ep1)
	assert.Equal(t, delivery.StatusCapped, rec.status)
	assert.Contains(t, rec.err, "over the frequency cap 3/1d")
	row := ix.row("p4")
	assert.Equal(t, index.Capped, row.state)
	assert.Equal(t, "3/1d", row.finish.Cap)
	assert.Contains(t, h.logs.String(), `"Capped":1`)

	h.handle(t, msg("m5", `{"id":"p5","userId":"u-1","title":"t","cap":false}`))
	assert.Equal(t, "sent", h.report(t, "m5")["outcome"], "exempt")
	assert.Equal(t, 4, h.pub.total())

	h = newHarness()
	store, _ = capStore(t, "3/24h; promo=1/1h")
	h.svc.Caps = store
	h.handle(t, msg("a", `{"id":"a","userId":"u-1","title":"t","category":"promo"}`))
	h.handle(t, msg("b", `{"id":"b","userId":"u-1","title":"t","category":"promo"}`))
	assert.Equal(t, "promo:1/1h", h.report(t, "b")["cap"])
	h.handle(t, msg("c", `{"id":"c","userId":"u-1","title":"t"}`))
	assert.Equal(t, "sent", h.report(t, "c")["outcome"], "the stack's cap has room: categories count apart")
}

// A push retried after it was counted (its publish failed for a moment) is not counted twice
// and is sent once: the cap of 2 still admits another push.
func TestARetriedPushIsCountedOnce(t *testing.T) {
	h := newHarness()
	store, _ := capStore(t, "2/24h")
	h.svc.Caps = store
	h.pub.errs[ep1] = errors.New("connection reset")
	m := msg("m1", `{"id":"p1","userId":"u-1","title":"t"}`)
	resp := h.handle(t, m)
	require.Equal(t, []string{"m1"}, failedIDs(resp))
	delete(h.pub.errs, ep1)
	m.Attributes["ApproximateReceiveCount"] = "2"
	h.handle(t, m)
	assert.Equal(t, "sent", h.report(t, "m1")["outcome"])
	h.handle(t, msg("m2", `{"id":"p2","userId":"u-1","title":"t"}`))
	assert.Equal(t, "sent", h.report(t, "m2")["outcome"], "p1 counted once: room for p2")
	h.handle(t, msg("m3", `{"id":"p3","userId":"u-1","title":"t"}`))
	assert.Equal(t, "capped", h.report(t, "m3")["outcome"])
	assert.Equal(t, delivery.StatusSent, h.log.get("p1", ep1).status)
	assert.Equal(t, delivery.StatusSent, h.log.get("p2", ep1).status)
	assert.Equal(t, delivery.StatusCapped, h.log.get("p3", ep1).status)
}

// A caps store that fails sends nothing and retries the message.
func TestCapsStoreErrorRetriesAndSendsNothing(t *testing.T) {
	h := newHarness()
	store, tb := capStore(t, "3/24h")
	tb.Hook = func(string) error { return errors.New("InternalServerError") }
	h.svc.Caps = store
	resp := h.handle(t, msg("m1", `{"id":"p1","userId":"u-1","title":"t"}`))
	assert.Equal(t, []string{"m1"}, failedIDs(resp))
	assert.Zero(t, h.pub.total())
	assert.Contains(t, h.report(t, "m1")["reason"], "frequency caps")
}

// 50 pushes for one user, handled at once by 5 sender instances (each its own Service with its
// own batches, as Lambda runs them) on one caps table, send exactly the cap.
func TestFiftyConcurrentPushesSendExactlyTheCap(t *testing.T) {
	store, _ := capStore(t, "3/24h,1/10m")
	pub := &fakePublisher{errs: map[string]error{}}
	log := newFakeLog()
	var wg sync.WaitGroup
	for inst := 0; inst < 5; inst++ {
		h := newHarness()
		h.svc.Caps, h.svc.Publisher, h.svc.Log = store, pub, log
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []events.SQSMessage
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("p-%d-%d", inst, i)
				batch = append(batch, msg(id, `{"id":"`+id+`","userId":"u-1","title":"t"}`))
			}
			_, err := h.svc.Handle(context.Background(), event(batch...))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, pub.total(), "1 in 10 minutes: exactly one sent")
	capped := 0
	log.mu.Lock()
	for _, r := range log.recs {
		if r.status == delivery.StatusCapped {
			capped++
		}
	}
	log.mu.Unlock()
	assert.Equal(t, 49, capped, "every other push recorded capped")
}

// Hostile values of the new fields are refused at once, parked as invalid with the field.
func TestHostileNewFieldsAreParkedAsInvalid(t *testing.T) {
	for body, field := range map[string]string{
		`{"userId":"u-1","title":"t","quietHours":"HOLD"}`:                            "quietHours",
		`{"userId":"u-1","title":"t","quietHours":"hold\u0000"}`:                      "quietHours",
		`{"userId":"u-1","title":"t","cap":"false"}`:                                  "cap",
		`{"userId":"u-1","title":"t","cap":null}`:                                     "cap",
		`{"userId":"u-1","title":"t","category":"../../etc"}`:                         "category",
		`{"userId":"u-1","title":"t","category":"` + strings.Repeat("a", 5000) + `"}`: "category",
		`{"userId":"u-1","title":"t","category":"promo\u200b"}`:                       "category",
	} {
		h := newClockHarness(now)
		h.prefs.err = errors.New("not read for an invalid push")
		h.handle(t, msg("m1", body))
		require.Len(t, h.queue.parked, 1, body)
		assert.Equal(t, field, h.queue.parked[0].Attributes["invalidField"].Value, body)
		assert.Zero(t, h.pub.total())
	}
	_, err := push.Decode([]byte(`{"userId":"u-1","title":"t","cap":true,"category":"ok","quietHours":"ignore"}`))
	assert.NoError(t, err)
}
