package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/delayed-push/delayed-push/bench"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

// latency is what every AWS call of the batch benchmark takes.
const latency = 20 * time.Millisecond

var batchScenarios = []bench.Scenario{
	{Name: "sent now to a user with 1 device", Devices: 1},
	{Name: "scheduled through the client (schedules row) to a user with 3 devices", Devices: 3, Scheduled: true},
}

func batchSection(o options) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `A batch of 10 pushes, each to its own user, through the real `+"`delivery.Service`"+` and the real
AWS adapters (`+"`internal/awsadapters`"+`) on in-memory DynamoDB (`+"`internal/ddbfake`"+`, atomic
conditional writes), SNS and SQS, every call answering after **%s**; against one push alone
through the same. A push is a chain of calls that wait on each other (registry read, then per
device claim → publish → record, plus the schedules row's begin and finish for a push the client
scheduled), so one push takes that chain; the batch cannot take less (**ratio 1.0**), and one
push after the other would take 10 times as long (**ratio 10**). Target: at most **1.3**.
%d pairs per scenario, one push then the batch, each on a fresh account.

| Scenario | Calls on one push's path | One push (ms) | Batch of 10 (ms) | Batch / one push | Calls in flight at most (batch) |
|---|---|---|---|---|---|
`, latency, o.batchRepeats)
	var verdicts []string
	for _, sc := range batchScenarios {
		var one, ten series
		inFlight := 0
		for range o.batchRepeats {
			r1, err := bench.RunBatch(sc, 1, latency)
			if err != nil {
				return "", err
			}
			r10, err := bench.RunBatch(sc, 10, latency)
			if err != nil {
				return "", err
			}
			one, ten = append(one, ms(r1.Elapsed)), append(ten, ms(r10.Elapsed))
			inFlight = max(inFlight, r10.MaxInFlight)
		}
		path := 4
		if sc.Scheduled {
			path += 2
		}
		r := ratios(ten, one)
		fmt.Fprintf(&b, "| %s | %d (%d ms) | %s | %s | %s | %d |\n", sc.Name, path, path*int(latency/time.Millisecond),
			one.mmm("%.1f"), ten.mmm("%.1f"), r.mmm("%.2f"), inFlight)
		verdict := "within"
		if r.Median() > 1.3 {
			verdict = "**above**"
		}
		verdicts = append(verdicts, fmt.Sprintf("%s: median ratio %.2f, %s the target of 1.3", sc.Name, r.Median(), verdict))
	}
	fmt.Fprintf(&b, "\n%s.\n", strings.Join(verdicts, "; "))
	fmt.Fprintf(&b, `
Nothing within a batch is serialized: the 10 messages are handled at once, and the deliveries
of all of them share one bound of %d in flight (`+"`delivery.DefaultFanOut`"+`), which a batch of
10 pushes to 3 devices (30 deliveries) stays under. What remains above 1.0 is the scheduling of
the goroutines and the in-memory stores on this machine. A single push to more devices than the
bound (a user with 500 devices) takes ⌈500/%d⌉ rounds of claim → publish → record by design: the
bound protects the tables and SNS.
`, delivery.DefaultFanOut, delivery.DefaultFanOut)
	return b.String(), nil
}

// callPurpose explains each call the sender makes, and the minimum a push needs of it for
// once-per-device delivery.
var callPurpose = []struct {
	name, what, minimum string
	perDevice, perPush  bool
}{
	{"dynamodb:Query devices", "**registry read**: the user's devices (one page up to 1 MB; a push to an `endpointArn` has none)", "1 per push", false, true},
	{"dynamodb:UpdateItem deliveries (claim)", "**delivery claim**: the conditional write that makes (push, endpoint) this attempt's, and counts the publish before it is made", "1 per device", true, false},
	{"sns:Publish", "**publish** to the device's platform endpoint", "1 per device", true, false},
	{"dynamodb:UpdateItem deliveries (record)", "**record** of the outcome (sent with SNS's message id), conditional on still holding the claim", "1 per device", true, false},
	{"dynamodb:UpdateItem schedules (begin)", "**schedules row, begin**: scheduled → sending for this revision (a cancelled or rescheduled push is not sent)", "0: beyond the minimum, what makes Cancel and Reschedule race-free", false, true},
	{"dynamodb:UpdateItem schedules (finish)", "**schedules row, finish**: the outcome on the key's row, for Get and List", "0: beyond the minimum, the outcome the client reads", false, true},
	{"dynamodb:GetItem deliveries", "read after a refused claim when the error lacks the item (emulators): not on AWS", "0", false, false},
	{"sqs:SendMessage", "requeue or park (not on the happy path)", "0", false, false},
}

var callScenarios = []bench.Scenario{
	{Name: "to a user with 1 device, sent now", Devices: 1},
	{Name: "to a user with 3 devices, sent now", Devices: 3},
	{Name: "to a user with 3 devices, scheduled through the client", Devices: 3, Scheduled: true},
	{Name: "to one endpointArn, sent now", Devices: 0},
}

func callsSection(o options) (string, error) {
	const n = 10
	var b strings.Builder
	fmt.Fprintf(&b, `Every AWS call the sender made for a batch of %d pushes, counted by the in-memory AWS APIs of
the batch benchmark (the real adapters make them), per push and per device, against the minimum
that once-per-device delivery needs: one registry read per push, and a claim, a publish and a
record per device.

| Scenario | Calls per push | Per device | Minimum per push | Over the minimum |
|---|---|---|---|---|
`, n)
	detail := map[string]map[string]float64{}
	for _, sc := range callScenarios {
		run, err := bench.RunBatch(sc, n, time.Millisecond)
		if err != nil {
			return "", err
		}
		total := 0
		for _, c := range run.Calls {
			total += c
		}
		devices := sc.Endpoints()
		minimum := 3 * devices
		if sc.Devices > 0 {
			minimum++
		}
		perPush := float64(total) / n
		over := "none"
		if extra := perPush - float64(minimum); extra > 0 {
			over = fmt.Sprintf("%.0f (the schedules row)", extra)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %d | %s |\n", sc.Name, perPush, perPush/float64(devices), minimum, over)
		detail[sc.Name] = map[string]float64{}
		for name, c := range run.Calls {
			detail[sc.Name][name] = float64(c) / n
		}
	}
	fmt.Fprintf(&b, "\nEach call, per push, in each scenario (columns as above, in order):\n\n| Call | What it is | Minimum |")
	for i := range callScenarios {
		fmt.Fprintf(&b, " %d |", i+1)
	}
	fmt.Fprintf(&b, "\n|---|---|---|%s\n", strings.Repeat("---|", len(callScenarios)))
	known := map[string]bool{}
	for _, c := range callPurpose {
		known[c.name] = true
		fmt.Fprintf(&b, "| `%s` | %s | %s |", c.name, c.what, c.minimum)
		for _, sc := range callScenarios {
			fmt.Fprintf(&b, " %g |", detail[sc.Name][c.name])
		}
		b.WriteString("\n")
	}
	var unknown []string
	for _, sc := range callScenarios {
		for name := range detail[sc.Name] {
			if !known[name] {
				unknown = append(unknown, name)
			}
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return "", fmt.Errorf("calls the report does not explain: %v (add them to callPurpose)", unknown)
	}
	for i, sc := range callScenarios {
		fmt.Fprintf(&b, "\n%d. %s", i+1, sc.Name)
	}
	b.WriteString(`

The claim is an ` + "`UpdateItem`" + ` with ` + "`ReturnValues: ALL_OLD`" + ` and
` + "`ReturnValuesOnConditionCheckFailure: ALL_OLD`" + `, so neither a fresh claim nor a refused one
(a redelivery of a push already done) needs a read; the record is one conditional write. A push
sent now has exactly the minimum. A push the client scheduled adds two writes on its key's row,
per push, not per device; they are what keeps a cancelled push from being sent and a
rescheduled one from going out twice. [docs/cost.md](docs/cost.md) prices these counts.
`)
	return b.String(), nil
}
