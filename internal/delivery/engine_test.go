package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

// The economy engine puts a push on the queue either at once with DelaySeconds (from the API's
// or a producer's role) or through an EventBridge Scheduler one-time schedule (from the
// scheduler's role), up to a couple of minutes before its due time. Neither role is the state
// machine's: the push's id, revision and due time come from its body, and the sender holds
// it until then.

const (
	schedulerExecRole = "AROASCHEDULEREXECROLE:a1b2c3" // EventBridge Scheduler's execution role
	senderRole        = "AROASENDERROLE:sender"        // the sender's own requeues
)

// economyMessage is a push as the economy engine delivers it: the body as the client writes it
// (id, revision, dueAt), sent by a role that is not the state machine's.
func economyMessage(id, key string, due time.Time, extra string) events.SQSMessage {
	m := msg(id, `{"id":"`+key+`","revision":1,"userId":"u-1","title":"t","dueAt":"`+due.UTC().Format(time.RFC3339Nano)+`"`+extra+`}`)
	m.Attributes["SenderId"] = schedulerExecRole
	m.Attributes["SentTimestamp"] = strconv.FormatInt(now.UnixMilli(), 10)
	return m
}

// clock is a settable clock for the sender.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// untilSent takes m through the sender as SQS would: each message the sender requeues comes
// back, as a new message from the sender's role, once its delay has passed on the clock. It
// returns the results of every pass.
func (h *harness) untilSent(t *testing.T, c *clock, m events.SQSMessage) []delivery.Result {
	t.Helper()
	var results []delivery.Result
	for hop := 0; hop < 100; hop++ {
		res := h.svc.Process(context.Background(), []events.SQSMessage{m})
		require.Len(t, res, 1)
		results = append(results, res[0])
		if res[0].Action != delivery.ActionRequeued {
			return results
		}
		require.False(t, res[0].Retry(), "a hold is never a batch item failure: no receive is used up")
		back := h.queue.requeued[len(h.queue.requeued)-1]
		require.LessOrEqual(t, back.Delay, 15*time.Minute, "SQS's longest delay")
		c.advance(back.Delay)
		m = msg(fmt.Sprint("hop-", hop), back.Body)
		m.Attributes["SenderId"] = senderRole
		m.MessageAttributes = map[string]events.SQSMessageAttribute{}
		for name, a := range back.Attributes {
			v := a.Value
			m.MessageAttributes[name] = events.SQSMessageAttribute{DataType: a.DataType, StringValue: &v}
		}
	}
	t.Fatal("never sent")
	return nil
}

// A schedule fires somewhere in the minute it names, two minutes before the due time at the
// latest, the due time itself never on a whole second; a push sent with DelaySeconds arrives
// about on time; a producer's may be due hours ahead. Each is held on the queue, with the
// remaining delay rounded up to the second (at most 15 minutes a hop, no receive counted, the
// requeue counter kept), and published within a second after its due time.
func TestEconomyPushIsHeldUntilItsDueTimeAndSentWithinASecondAfter(t *testing.T) {
	cases := []struct {
		name  string
		early time.Duration
		hops  int
	}{
		{"schedule fired at the start of its minute", 179*time.Second + 999*time.Millisecond, 1},
		{"schedule fired at the end of its minute", 120*time.Second + 1*time.Millisecond, 1},
		{"a DelaySeconds rounded down", 300 * time.Millisecond, 1},
		{"a whole number of seconds ahead", 42 * time.Second, 1},
		{"a producer's push 40 minutes ahead: three hops", 40*time.Minute + 250*time.Millisecond, 3},
		{"15 minutes and a fraction: a second hop of one second", 15*time.Minute + 400*time.Millisecond, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			c := &clock{t: now}
			h.svc.Now = c.now
			ix := withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled, engine: index.EngineEconomy}})
			due := now.Add(tc.early)
			m := economyMessage("m1", "k", due, "")
			m.MessageAttributes = map[string]events.SQSMessageAttribute{"requeues": num("2")}
			results := h.untilSent(t, c, m)

			require.Len(t, results, tc.hops+1)
			for _, r := range results[:tc.hops] {
				assert.Equal(t, delivery.OutcomeEarly, r.Outcome)
				assert.Equal(t, 2, r.Requeues, "waiting is not a requeue without progress")
			}
			for _, back := range h.queue.requeued {
				assert.Equal(t, "2", back.Attributes["requeues"].Value)
			}
			sent := results[len(results)-1]
			assert.Equal(t, delivery.OutcomeSent, sent.Outcome)
			assert.Equal(t, 1, h.pub.total(), "published once, never before its due time")
			assert.False(t, c.now().Before(due))
			assert.GreaterOrEqual(t, sent.LatenessMs, int64(0))
			assert.Less(t, sent.LatenessMs, int64(1000), "within a second after its due time")
			line := h.report(t, sent.MessageID)
			assert.EqualValues(t, sent.LatenessMs, line["latenessMs"], "the log line says how late")
			assert.Equal(t, "dueAt", line["dueSource"])
			assert.Equal(t, "economy", line["engine"])
			assert.Equal(t, 1, ix.begins, "the row is taken once, when the push is due: until then Cancel still works")
			assert.Equal(t, index.Sent, ix.row("k").state)
			assert.Equal(t, "economy", h.log.get("k", ep1).engine, "the delivery record says which engine")
		})
	}
}

// The hold's arithmetic: the delay is the time left rounded up to a whole second, so the push
// comes back at most a second after its due time, never before it.
func TestHoldDelayIsTheTimeLeftRoundedUpToASecond(t *testing.T) {
	for _, ms := range []int64{1, 999, 1000, 1001, 59_500, 899_999, 900_000, 900_001, 3_600_000} {
		h := newHarness()
		h.handle(t, economyMessage("m1", "k", now.Add(time.Duration(ms)*time.Millisecond), ""))
		require.Len(t, h.queue.requeued, 1, "%d ms early", ms)
		delay := h.queue.requeued[0].Delay
		want := min((ms+999)/1000, 900)
		assert.Equal(t, time.Duration(want)*time.Second, delay, "%d ms early", ms)
		if ms <= 900_000 {
			assert.Less(t, delay-time.Duration(ms)*time.Millisecond, time.Second, "%d ms early", ms)
		}
		line := h.report(t, "m1")
		assert.Equal(t, "early", line["outcome"])
		assert.Contains(t, line["reason"], fmt.Sprintf("back on the queue for %s", delay))
	}
}

// A copy the client cancelled or rescheduled (its schedule could not be deleted in time, or
// fired anyway) is dropped when it is due and recorded, whichever engine fired it.
func TestCancelledOrSupersededCopyIsDroppedOnBothEngines(t *testing.T) {
	for _, engine := range []string{index.EngineEconomy, index.EngineStepFunctions} {
		for _, tc := range []struct {
			row     indexRow
			outcome string
		}{
			{indexRow{rev: 1, state: index.Cancelled}, "cancelled"},
			{indexRow{rev: 2, state: index.Scheduled}, "superseded"},
		} {
			t.Run(engine+" "+tc.outcome, func(t *testing.T) {
				h := newHarness()
				c := &clock{t: now}
				h.svc.Now = c.now
				row := tc.row
				row.engine = engine
				ix := withIndex(h, map[string]*indexRow{"k": &row})
				m := economyMessage("m1", "k", now.Add(90*time.Second), "")
				if engine == index.EngineStepFunctions {
					m = msg("m1", `{"id":"k","revision":1,"userId":"u-1","title":"t"}`)
					m.Attributes["SenderId"] = schedulerRoleID + ":states"
					m.MessageAttributes = map[string]events.SQSMessageAttribute{"sendAt": str(now.Format(time.RFC3339))}
				}
				results := h.untilSent(t, c, m)
				last := results[len(results)-1]
				assert.Equal(t, tc.outcome, string(last.Outcome))
				assert.Equal(t, delivery.ActionDone, last.Action, "recorded and deleted, not retried")
				assert.Zero(t, h.pub.total())
				line := h.report(t, last.MessageID)
				assert.Equal(t, tc.outcome, line["outcome"])
				assert.Equal(t, engine, line["engine"])
				assert.Equal(t, tc.row.state, ix.row("k").state, "the row is left as the client wrote it")
			})
		}
	}
}

// The lateness limit counts from the due time in the body on the economy engine, as from the
// state machine's sendAt on the other; not from when the message was sent to the queue.
func TestLatenessLimitCountsFromDueAtOnTheEconomyEngine(t *testing.T) {
	h := newHarness()
	h.svc.MaxLateness = time.Hour
	ix := withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled, engine: index.EngineEconomy}})
	m := economyMessage("m1", "k", now.Add(-90*time.Second), `,"maxLatenessSeconds":60`)
	m.Attributes["SentTimestamp"] = strconv.FormatInt(now.Add(-time.Second).UnixMilli(), 10)
	h.handle(t, m)
	assert.Zero(t, h.pub.total())
	line := h.report(t, "m1")
	assert.Equal(t, "expired", line["outcome"])
	assert.Equal(t, "economy", line["engine"])
	assert.Contains(t, line["reason"], "1m30s late: over the lateness limit of 1m0s")
	assert.Equal(t, index.Expired, ix.row("k").state)

	// Within the limit, counted the same way: sent.
	h = newHarness()
	h.svc.MaxLateness = time.Minute
	withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled, engine: index.EngineEconomy}})
	m = economyMessage("m1", "k", now.Add(-59*time.Second), "")
	m.Attributes["SentTimestamp"] = strconv.FormatInt(now.Add(-10*time.Minute).UnixMilli(), 10)
	h.handle(t, m)
	assert.Equal(t, 1, h.pub.total())
}

// The same economy push can reach the queue twice: the client's ensure path retries a
// CreateSchedule or SendMessage whose answer it lost, EventBridge Scheduler delivers at least
// once. The delivery log's claim sends it once per device; the other copy is a duplicate.
func TestEconomyPushArrivingTwiceIsSentOncePerDevice(t *testing.T) {
	body := func(h *harness) {
		withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled, engine: index.EngineEconomy}})
		h.reg.devices["u-1"] = []string{ep1, ep2}
	}
	t.Run("one after the other", func(t *testing.T) {
		h := newHarness()
		body(h)
		first := economyMessage("from-schedule", "k", now.Add(-time.Second), "")
		second := economyMessage("from-retried-send", "k", now.Add(-time.Second), "")
		second.Attributes["SenderId"] = "AROAAPIROLE:api"
		h.handle(t, first)
		h.handle(t, second)
		assert.Equal(t, 1, h.pub.count(ep1))
		assert.Equal(t, 1, h.pub.count(ep2))
		assert.Equal(t, "sent", h.report(t, "from-schedule")["outcome"])
		assert.Equal(t, "duplicate", h.report(t, "from-retried-send")["outcome"])
	})
	t.Run("in one batch", func(t *testing.T) {
		h := newHarness()
		body(h)
		h.svc.Now = time.Now
		h.pub.delay = 20 * time.Millisecond
		due := time.Now().Add(-time.Second)
		resp := h.handle(t, economyMessage("a", "k", due, ""), economyMessage("b", "k", due, ""))
		assert.Empty(t, resp.BatchItemFailures, "the copy that lost the race is requeued, not failed")
		assert.Equal(t, 1, h.pub.count(ep1))
		assert.Equal(t, 1, h.pub.count(ep2))
	})
}

// The engine a push came through is on its log line, its delivery records and a lateness
// metric of its own: the schedules row says it; without a row, the state machine's role says
// stepfunctions and anyone else's queue.
func TestEngineIsObservable(t *testing.T) {
	sm := schedulerRoleID + ":states"
	cases := []struct {
		name     string
		body     string
		senderID string
		attrs    map[string]events.SQSMessageAttribute
		row      *indexRow
		engine   string
	}{
		{name: "economy row", body: `{"id":"k","revision":1,"userId":"u-1","title":"t"}`, senderID: schedulerExecRole,
			row: &indexRow{rev: 1, state: index.Scheduled, engine: index.EngineEconomy}, engine: "economy"},
		{name: "row written before the economy engine", body: `{"id":"k","revision":1,"userId":"u-1","title":"t"}`, senderID: sm,
			row: &indexRow{rev: 1, state: index.Scheduled}, engine: "stepfunctions"},
		{name: "the row wins over the sender id", body: `{"id":"k","revision":1,"userId":"u-1","title":"t"}`, senderID: sm,
			row: &indexRow{rev: 1, state: index.Scheduled, engine: index.EngineEconomy}, engine: "economy"},
		{name: "raw StartExecution", body: `{"userId":"u-1","title":"t"}`, senderID: sm, engine: "stepfunctions"},
		{name: "a revision without a row", body: `{"id":"k","revision":1,"userId":"u-1","title":"t"}`, senderID: "AROAOTHER:x", engine: "queue"},
		{name: "a producer's push", body: `{"userId":"u-1","title":"t"}`, senderID: "AROAOTHER:x", engine: "queue"},
		{name: "the sender's requeue of a state machine push", body: `{"id":"p","userId":"u-1","title":"t"}`, senderID: senderRole,
			attrs: map[string]events.SQSMessageAttribute{"engine": str("stepfunctions")}, engine: "stepfunctions"},
		{name: "an engine no one has", body: `{"userId":"u-1","title":"t"}`, senderID: "AROAOTHER:x",
			attrs: map[string]events.SQSMessageAttribute{"engine": str("carrier-pigeon")}, engine: "queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness()
			var emf bytes.Buffer
			h.svc.Metrics = &metrics.Emitter{W: &emf, Function: "sender"}
			rows := map[string]*indexRow{}
			if tc.row != nil {
				rows["k"] = tc.row
			}
			withIndex(h, rows)
			m := msg("m1", tc.body)
			m.Attributes["SenderId"] = tc.senderID
			m.Attributes["SentTimestamp"] = strconv.FormatInt(now.Add(-time.Second).UnixMilli(), 10)
			m.MessageAttributes = tc.attrs
			res := h.svc.Process(context.Background(), []events.SQSMessage{m})
			require.Equal(t, delivery.OutcomeSent, res[0].Outcome)
			assert.Equal(t, tc.engine, res[0].Engine)
			assert.Equal(t, tc.engine, h.report(t, "m1")["engine"])
			assert.Equal(t, tc.engine, h.log.get(res[0].PushID, ep1).engine)

			h.log = newFakeLog()
			h.svc.Log = h.log
			emf.Reset()
			h.handle(t, m)
			var byEngine map[string]any
			lines := strings.Split(strings.TrimSpace(emf.String()), "\n")
			require.Len(t, lines, 2)
			require.NoError(t, json.Unmarshal([]byte(lines[1]), &byEngine))
			assert.Equal(t, tc.engine, byEngine["Engine"])
			assert.Equal(t, []any{1000.0}, byEngine["LatenessMs"])
		})
	}
}

// A push is held before its row is read: its log line then names no engine, unless the
// message tells it (the state machine's role, or the sender's own requeue, which writes down
// what it knew so the push keeps its engine when it comes back from another role).
func TestHeldPushCarriesItsEngineBackOnTheQueue(t *testing.T) {
	h := newHarness()
	m := msg("m1", `{"userId":"u-1","title":"t"}`)
	m.Attributes["SenderId"] = schedulerRoleID + ":states"
	m.MessageAttributes = map[string]events.SQSMessageAttribute{"sendAt": str(now.Add(300 * time.Millisecond).Format(time.RFC3339Nano))}
	h.handle(t, m)
	require.Len(t, h.queue.requeued, 1)
	assert.Equal(t, delivery.Attribute{DataType: "String", Value: "stepfunctions"}, h.queue.requeued[0].Attributes["engine"])
	assert.Equal(t, "stepfunctions", h.report(t, "m1")["engine"])

	h = newHarness()
	withIndex(h, map[string]*indexRow{"k": {rev: 1, state: index.Scheduled, engine: index.EngineEconomy}})
	h.handle(t, economyMessage("m1", "k", now.Add(100*time.Second), ""))
	require.Len(t, h.queue.requeued, 1)
	assert.NotContains(t, h.queue.requeued[0].Attributes, "engine", "not known before the row is read")
	assert.NotContains(t, h.report(t, "m1"), "engine")
}
