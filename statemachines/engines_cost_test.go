package statemachines_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/statemachines"
)

// Prices, us-east-1 list prices read 2026-12-06: docs/cost.md's table of prices gives each with
// its source, and TestCostDocumentListsTheModelsPrices keeps the two equal.
const (
	perTransition     = 0.025 / 1000 // Step Functions Standard, a state transition
	perInvocation     = 1.00 / 1e6   // EventBridge Scheduler, a scheduled invocation (free tier left out)
	perSQSRequest     = 0.40 / 1e6   // SQS standard queue, a request of up to 64 KB
	perLambdaRequest  = 0.20 / 1e6   // Lambda, an invocation
	perLambdaGBSecond = 0.0000133334 // Lambda arm64, a GB-second
	perLogGB          = 0.50         // CloudWatch Logs, a GB ingested (standard class)
	perTrace          = 5.00 / 1e6   // X-Ray, a trace recorded
)

// What the model assumes beyond the prices: docs/cost.md says each.
const (
	// batch is the sender's event source batch size (stacks/delayedpush/sender.go): the event
	// source receives and deletes in batches of 10 when the queue is busy, and invokes the sender
	// once per batch.
	batch = 10
	// senderMemoryGB is the default senderMemoryMiB (256).
	senderMemoryGB = 256.0 / 1024
	// hopSeconds is a sender invocation whose batch of 10 is all early: it decodes them and sends
	// the 10 back on the queue at once (about one SDK call's latency and CPU, rounded up).
	hopSeconds = 0.050
	// hopLogBytes is the sender's "push processed" line for an early push (outcome early, action
	// requeued, the engine, the reason with both times): about 450 bytes of JSON.
	hopLogBytes = 450.0
	// invocationLogBytes is what one invocation logs besides its pushes' lines: the platform's
	// start and report records (JSON format) and the batch's metrics (EMF).
	invocationLogBytes = 1500.0
	// executionEventBytes is one execution history event as the state machine logs it (level
	// ALL, without execution data): type, ids, timestamp and the execution's ARN, about 350
	// bytes of JSON.
	executionEventBytes = 350.0
	// sampled is the share of requests X-Ray records under its default rule beyond the first
	// each second (that first one a second is a fixed monthly amount, left out like the event
	// source's empty polls). The state machine and every function are traced.
	sampled = 0.05
	// scheduleLead is how far before the due time the economy engine's schedule names its
	// minute: at(floorToMinute(due - lead)).
	scheduleLead = client.ScheduleLead
	// schedulerPrecision is EventBridge Scheduler's: a schedule fires within the minute it names.
	schedulerPrecision = 60 * time.Second
	// scheduleAfter is the default economyScheduleAfterSeconds, the most it may be: SQS's
	// longest DelaySeconds. A push due further ahead goes through a schedule.
	scheduleAfter = client.MaxEconomyScheduleAfter
)

// part is one thing a push uses on its way to the sender, and what it costs.
type part struct {
	row   string  // the first column of its row in docs/cost.md
	count float64 // units per push
	price float64 // dollars a unit
}

func (p part) perMillion() float64 { return p.count * p.price * 1e6 }

// received is the event source's ReceiveMessage and DeleteMessage for a message, per push.
func received(row string, b float64) part { return part{row, 2 / b, perSQSRequest} }

// redelay is the sender's hop for a push taken before its due time: received, sent back on the
// queue with the time left (holdUntilDue), by an invocation that does nothing else.
func redelay(b float64) []part {
	return []part{
		received("SQS: the early arrival received and deleted", b),
		{"SQS: the sender's `SendMessage` with the time left", 1, perSQSRequest},
		{"Lambda: the re-delay's invocation", 1 / b, perLambdaRequest},
		{"Lambda: the re-delay's duration", hopSeconds * senderMemoryGB / b, perLambdaGBSecond},
		{"CloudWatch Logs: the re-delay's log lines", (hopLogBytes + invocationLogBytes/b) / 1e9, perLogGB},
		{"X-Ray: the re-delay's invocation, sampled", sampled / b, perTrace},
	}
}

// stepFunctionsPath is what a push uses on the state machine, whatever its delay: Standard
// executions are charged per transition, not per second waited.
func stepFunctionsPath(t *testing.T, b float64) []part {
	return []part{
		{"Step Functions: state transitions", float64(len(walk(t, delaySeconds))), perTransition},
		{"CloudWatch Logs: the execution's history events", float64(historyEvents(t)) * executionEventBytes / 1e9, perLogGB},
		{"X-Ray: the execution, sampled", sampled, perTrace},
		{"SQS: the state machine's `SendMessage`", 1, perSQSRequest},
		received("SQS: received and deleted at its due time", b),
	}
}

// historyEvents is how many execution history events a valid push's execution logs at level
// ALL: its start and its end, each state's entered and exited, and a Task state's scheduled,
// started and succeeded.
func historyEvents(t *testing.T) int {
	var def struct{ States map[string]aslState }
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def))
	n := 2
	for _, name := range walk(t, delaySeconds) {
		n += 2
		if def.States[name].Type == "Task" {
			n += 3
		}
	}
	return n
}

// economyPath is what a push due after delay uses on the economy engine. With maybe, a push
// due within scheduleAfter also counts the re-delay its DelaySeconds may still need (SQS delays
// are whole seconds); a scheduled push always takes it.
func economyPath(delay time.Duration, b float64, maybe bool) []part {
	if delay <= scheduleAfter {
		p := []part{{"SQS: the producer's `SendMessage` with `DelaySeconds`", 1, perSQSRequest}}
		if maybe {
			p = append(p, redelay(b)...)
		}
		return append(p, received("SQS: received and deleted at its due time", b))
	}
	p := []part{
		{"EventBridge Scheduler: `CreateSchedule` (and `DeleteSchedule` on cancel)", 1, 0},
		{"EventBridge Scheduler: the schedule's invocation", 1, perInvocation},
		{"SQS: the scheduler's `SendMessage`", 1, perSQSRequest},
	}
	p = append(p, redelay(b)...)
	return append(p, received("SQS: received and deleted at its due time", b))
}

func total(parts []part) (sum float64) {
	for _, p := range parts {
		sum += p.perMillion()
	}
	return sum
}

// A schedule fires before the push is due, every time: the latest it can fire is the end of the
// minute it names, which the lead puts before the due time. So the re-delay is certain on the
// schedule path, and the model counts it once.
func TestEconomyScheduleAlwaysArrivesEarly(t *testing.T) {
	require.Greater(t, scheduleLead, schedulerPrecision)
	due := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	for s := time.Duration(0); s < time.Minute; s += 250 * time.Millisecond {
		d := due.Add(s)
		at := d.Add(-scheduleLead).Truncate(time.Minute)
		latest := at.Add(schedulerPrecision)
		assert.True(t, latest.Before(d), "due %s: schedule at %s fires by %s", d.Format(time.RFC3339Nano), at, latest)
		assert.LessOrEqual(t, d.Sub(at), scheduleLead+time.Minute, "at most one re-delay (SQS holds up to 15 minutes)")
	}
	require.LessOrEqual(t, scheduleLead+time.Minute, scheduleAfter, "the time left fits one DelaySeconds")
}

// The model's prices are the ones docs/cost.md lists and sources.
func TestCostDocumentListsTheModelsPrices(t *testing.T) {
	doc := costDoc(t)
	for _, row := range []string{
		"| Step Functions Standard | $0.025 per 1,000 state transitions |",
		"| EventBridge Scheduler | $1.00 per million scheduled invocations |",
		"| SQS, standard queue | $0.40 per million requests (each 64 KB of a payload is one request) |",
		"| Lambda, arm64 | $0.0000133334 per GB-second (first 7.5 billion GB-s a month), $0.20 per million requests |",
		"| CloudWatch Logs | $0.50 per GB ingested (standard log class) |",
		"| X-Ray | $5.00 per million traces recorded |",
	} {
		assert.Contains(t, doc, row)
	}
}

// docs/cost.md's table of both engines: per million pushes for a 10-minute, a 1-day and a
// 30-day delay, as the model computes them. Issue #21's "Done means": a push a day ahead
// reaches the sender at its due time for at most $2.50 per million on the economy engine.
func TestCostDocumentPricesBothEngines(t *testing.T) {
	doc := costDoc(t)
	delays := []time.Duration{10 * time.Minute, 24 * time.Hour, 30 * 24 * time.Hour}

	sf := regexp.MustCompile("(?m)^\\| `stepfunctions` \\| \\$([\\d,.]+) \\| \\$([\\d,.]+) \\| \\$([\\d,.]+) \\|$").FindStringSubmatch(doc)
	require.NotNil(t, sf, "docs/cost.md has the stepfunctions row of its table of engines")
	for i, d := range delays {
		assert.Equal(t, dollars(total(stepFunctionsPath(t, batch))), sf[i+1], "stepfunctions, %s", d)
	}

	ec := regexp.MustCompile("(?m)^\\| `economy` \\| \\$([\\d,.]+) \\(at most \\$([\\d,.]+)\\) \\| \\$([\\d,.]+) \\| \\$([\\d,.]+) \\|$").FindStringSubmatch(doc)
	require.NotNil(t, ec, "docs/cost.md has the economy row of its table of engines")
	assert.Equal(t, dollars(total(economyPath(delays[0], batch, false))), ec[1], "economy, 10 minutes")
	assert.Equal(t, dollars(total(economyPath(delays[0], batch, true))), ec[2], "economy, 10 minutes, re-delayed")
	assert.Equal(t, dollars(total(economyPath(delays[1], batch, true))), ec[3], "economy, 1 day")
	assert.Equal(t, dollars(total(economyPath(delays[2], batch, true))), ec[4], "economy, 30 days")

	day := total(economyPath(24*time.Hour, batch, true))
	assert.LessOrEqual(t, day, 2.50, "issue #21: a push a day ahead, to the sender at its due time, at most $2.50 per million")
	assert.Less(t, day*20, total(stepFunctionsPath(t, batch)), "a twentieth of the state machine's cost, or less")

	// The README's three lines on choosing an engine quote the same figures.
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	engines := strings.Join(strings.Fields(string(readme)), " ")
	assert.Contains(t, engines, fmt.Sprintf("about $%.0f per million pushes", total(stepFunctionsPath(t, batch))))
	assert.Contains(t, engines, fmt.Sprintf("($%s per million a day ahead, $%s within 15 minutes)",
		dollars(total(economyPath(24*time.Hour, batch, true))), dollars(total(economyPath(10*time.Minute, batch, false)))))

	// Within the free scheduled invocations, said in the text beside the table.
	free := 0.0
	for _, p := range economyPath(24*time.Hour, batch, true) {
		if p.price != perInvocation {
			free += p.perMillion()
		}
	}
	assert.Contains(t, strings.Join(strings.Fields(doc), " "), "ahead is $"+dollars(free)+" per million.")

	// At batches of one (a quiet queue), said in the text beside the table.
	quiet := fmt.Sprintf("at batches of one, %s on the economy engine and %s on the state machine",
		"$"+dollars(total(economyPath(24*time.Hour, 1, true))), "$"+dollars(total(stepFunctionsPath(t, 1))))
	assert.Contains(t, strings.Join(strings.Fields(doc), " "), quiet)
}

// docs/cost.md's breakdown of each engine's path, row by row: each part's count and price as
// the model has them, and the total.
func TestCostDocumentBreaksDownEachPath(t *testing.T) {
	doc := costDoc(t)
	for _, tc := range []struct {
		title string // the heading the table follows
		parts []part
	}{
		{"`stepfunctions`, any delay", stepFunctionsPath(t, batch)},
		{"`economy`, a day ahead", economyPath(24*time.Hour, batch, true)},
	} {
		t.Run(tc.title, func(t *testing.T) {
			start := strings.Index(doc, "#### "+tc.title+"\n")
			require.GreaterOrEqual(t, start, 0, "docs/cost.md has a heading %q", tc.title)
			section := doc[start:]
			if end := strings.Index(section[1:], "\n#"); end >= 0 {
				section = section[:end+1]
			}
			for _, p := range tc.parts {
				row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(p.row) + ` \| ([^|]+) \| \$([\d,.]+) \|$`).FindStringSubmatch(section)
				if assert.NotNil(t, row, "no row %q", p.row) {
					assert.Equal(t, dollars(p.perMillion()), row[2], p.row)
				}
			}
			sum := regexp.MustCompile(`(?m)^\| \*\*Total\*\* \| +\| \*\*\$([\d,.]+)\*\* \|$`).FindStringSubmatch(section)
			require.NotNil(t, sum, "no total row")
			assert.Equal(t, dollars(total(tc.parts)), sum[1])
		})
	}
}

// TestPrintCostModel prints the model's figures, to write docs/cost.md from: go test -run
// PrintCostModel -v ./statemachines/
func TestPrintCostModel(t *testing.T) {
	for _, p := range []struct {
		name  string
		parts []part
	}{
		{"stepfunctions", stepFunctionsPath(t, batch)},
		{"stepfunctions, batches of one", stepFunctionsPath(t, 1)},
		{"economy 10 min", economyPath(10*time.Minute, batch, false)},
		{"economy 10 min, re-delayed", economyPath(10*time.Minute, batch, true)},
		{"economy 1 day", economyPath(24*time.Hour, batch, true)},
		{"economy 1 day, batches of one", economyPath(24*time.Hour, 1, true)},
	} {
		t.Logf("%s: $%s", p.name, dollars(total(p.parts)))
		for _, x := range p.parts {
			t.Logf("  %-75s %10.4g  $%s", x.row, x.count, dollars(x.perMillion()))
		}
	}
}
