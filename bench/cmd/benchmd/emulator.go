package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The emulator run: the load suite's burst (local/load, TestBurst) with these sizes, on the
// stack `make local-up` started. 500 scheduled pushes all due at the same second give the
// lateness percentiles; the direct ones the throughput.
const (
	emulatorDirect    = 1000
	emulatorScheduled = 500
	emulatorTimeout   = 25 * time.Minute
)

// The engines side by side: the load suite's engines burst (local/load, TestEconomyBurst with
// LOAD_STEPFUNCTIONS) with these sizes: pushes on each engine, interleaved, due over the same
// one to five minutes; then `pushctl accuracy --json` over that run gives each engine's
// lateness from the delivery log.
const (
	enginesEach    = 300
	enginesTimeout = 15 * time.Minute
)

const emulatorCommand = "make local-up && make bench; make local-down"

// localStack reports whether `make local-up` has a stack running, and its endpoint.
func localStack() (endpoint string, why string) {
	raw, err := os.ReadFile(filepath.Join(".local", "stack.json"))
	if err != nil {
		return "", "no local stack is running (.local/stack.json is absent)"
	}
	var st struct {
		Endpoint   string `json:"endpoint"`
		FaultProxy string `json:"faultProxy"`
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.Endpoint == "" {
		return "", "the local stack's state (.local/stack.json) is unreadable"
	}
	pidRaw, err := os.ReadFile(filepath.Join(".local", "runner.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidRaw)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return "", "no local stack is running (its runner has stopped)"
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(st.Endpoint)
	if err != nil {
		return "", "the local emulator does not answer at " + st.Endpoint
	}
	resp.Body.Close()
	return st.Endpoint, ""
}

func notMeasured(why string) string {
	return fmt.Sprintf(`**Not measured in this run**: %s.

What measures it: `+"`%s`"+`. With a local stack running (`+"`make local-up`"+`: the moto
emulator, the stack deployed into it from `+"`.local/cdk.out`"+`, the functions' bootstraps run
by `+"`local serve`"+`), `+"`make bench`"+` runs the load suite's burst on it
(`+"`cd local && LOAD_DIRECT=%d LOAD_SCHEDULED=%d go test -count=1 -tags load -run '^TestBurst$' ./load/`"+`,
bounded by %s): %d pushes straight to the queue and %d scheduled through the state
machine, all due at the same second; it reports pushes per second through the local pipeline,
the lateness of the scheduled pushes from their due time to SNS's confirmation (p50, p99, max),
and the emulator's own share: its CPU over the run and the time it took per operation, as the
fault proxy between the functions and the emulator (`+"`local/faultproxy`"+`) measures it.
Then it runs both engines on one workload (`+"`LOAD_ECONOMY=%d LOAD_STEPFUNCTIONS=%d`"+`, the same suite's
`+"`TestEconomyBurst`"+`: pushes due over one to five minutes, interleaved) and reports each engine's
lateness side by side from `+"`pushctl accuracy --json`"+`.
`+"`BENCH_EMULATOR=off make bench`"+` leaves it out even when a stack runs; `+"`make bench`"+` never starts
or stops the emulator itself (it takes minutes, and qemu on non-arm64 hosts). Nothing stays
running: the suite stops by itself, and `+"`make local-down`"+` stops the stack.
`, why, emulatorCommand, emulatorDirect, emulatorScheduled, emulatorTimeout, emulatorDirect, emulatorScheduled, enginesEach, enginesEach)
}

func emulatorSection(o options) (string, error) {
	if o.emulator == "off" {
		return notMeasured("`BENCH_EMULATOR=off`"), nil
	}
	endpoint, why := localStack()
	if why != "" {
		return notMeasured(why), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return notMeasured("the local stack's endpoint is unreadable"), nil
	}
	reportPath := filepath.Join(".local", "load-report.txt")
	before := size(reportPath)
	out, runErr := runCmd("local", []string{
		fmt.Sprintf("LOAD_DIRECT=%d", emulatorDirect), fmt.Sprintf("LOAD_SCHEDULED=%d", emulatorScheduled), "LOCAL_PORT=" + u.Port(),
	}, emulatorTimeout+time.Minute, "go", "test", "-count=1", "-tags", "load", "-run", "^TestBurst$", "-timeout", emulatorTimeout.String(), "./load/")
	raw, _ := os.ReadFile(reportPath)
	report := ""
	if int64(len(raw)) > before {
		report = strings.TrimSpace(string(raw[before:]))
	}
	if report == "" {
		return "", fmt.Errorf("the burst on the local stack reported nothing: %v: %s", runErr, tail(out, 3000))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The load suite's burst on the local stack at %s (`make local-up`): %d pushes straight to the push queue, held until all are there and then released, and %d scheduled through the state machine, all due at the same second (`cd local && LOAD_DIRECT=%d LOAD_SCHEDULED=%d go test -count=1 -tags load -run '^TestBurst$' ./load/`). One run: the percentiles are over its pushes.\n\n",
		endpoint, emulatorDirect, emulatorScheduled, emulatorDirect, emulatorScheduled)
	if runErr != nil {
		fmt.Fprintf(&b, "**The suite failed its checks in this run** (its report below says what was missing or broken).\n\n")
	}
	b.WriteString(summarizeBurst(report))
	fmt.Fprintf(&b, "\nThe suite's report:\n\n```\n%s\n```\n", report)
	b.WriteString(`
On AWS the same calls take milliseconds; here every call of the functions waits for the
emulator, one Python process, so the throughput is the emulator's and the lateness mostly its
queueing. The fault proxy's time per operation is the emulator's own share; the rest of a push's
lateness is the pollers' receive, the sender and the state machine's wait.
`)
	b.WriteString(enginesSection(u.Port()))
	return b.String(), nil
}

// enginesSection runs the engines burst and reports both engines' lateness side by side, as
// `pushctl accuracy --json` reads it from the delivery log ("engines").
func enginesSection(port string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### The two engines side by side\n\n")
	started := time.Now()
	reportPath := filepath.Join(".local", "load-report.txt")
	before := size(reportPath)
	cmd := fmt.Sprintf("cd local && LOAD_ECONOMY=%d LOAD_STEPFUNCTIONS=%d go test -count=1 -tags load -run '^TestEconomyBurst$' ./load/", enginesEach, enginesEach)
	out, runErr := runCmd("local", []string{
		fmt.Sprintf("LOAD_ECONOMY=%d", enginesEach), fmt.Sprintf("LOAD_STEPFUNCTIONS=%d", enginesEach), "LOCAL_PORT=" + port,
	}, enginesTimeout+time.Minute, "go", "test", "-count=1", "-tags", "load", "-run", "^TestEconomyBurst$", "-timeout", enginesTimeout.String(), "./load/")
	raw, _ := os.ReadFile(reportPath)
	report := ""
	if int64(len(raw)) > before {
		report = strings.TrimSpace(string(raw[before:]))
	}
	since := time.Since(started) + 5*time.Second // this run only: the burst before it sent pushes too
	acc, accErr := runCmd(".", nil, 2*time.Minute, "go", "run", "./cmd/pushctl", "accuracy", "--local", "--local-state", ".local", "--json",
		"--since", since.Round(time.Second).String())
	fmt.Fprintf(&b, "%d pushes on each engine, interleaved, scheduled at once through the Go client, due at random over the next one to five minutes (`%s`). "+
		"On the economy engine those due within the local stack's `economyScheduleAfterSeconds` (180, shortened from 900 so that the path is taken in minutes), or whose schedule's at() would be less than a minute ahead, are one SQS message with `DelaySeconds`, the later ones an EventBridge Scheduler schedule that the local runner fires at a random moment of the minute it names and the sender holds until the due time; "+
		"on Step Functions each is an execution that waits. Lateness is from the due time to SNS's confirmation, per engine from the delivery log (`pushctl accuracy --json`, its `engines`), over this run only.\n\n", enginesEach, cmd)
	if runErr != nil {
		fmt.Fprintf(&b, "**The suite failed its checks in this run** (its report below says what was missing or broken).\n\n")
	}
	table, err := enginesTable(acc)
	if accErr != nil || err != nil {
		fmt.Fprintf(&b, "**pushctl accuracy gave no figures**: %v %v: %s\n\n", accErr, err, tail(acc, 500))
	} else {
		b.WriteString(table)
	}
	if report == "" {
		fmt.Fprintf(&b, "\nThe engines burst reported nothing: %v: %s\n", runErr, tail(out, 1500))
		return b.String()
	}
	fmt.Fprintf(&b, "\nThe suite's report (the bound it asserts: 1 s, plus the emulator's share: its whole second and the 99th percentile of the control pushes):\n\n```\n%s\n```\n", report)
	return b.String()
}

// enginesTable turns `pushctl accuracy --json` into a table of the engines side by side.
func enginesTable(out string) (string, error) {
	var acc struct {
		Engines map[string]struct {
			Count int     `json:"count"`
			Mean  float64 `json:"meanMs"`
			P50   int64   `json:"p50Ms"`
			P95   int64   `json:"p95Ms"`
			P99   int64   `json:"p99Ms"`
			Max   int64   `json:"maxMs"`
			Early int     `json:"early"`
		} `json:"engines"`
	}
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		return "", fmt.Errorf("pushctl accuracy --json printed %q: %w", tail(out, 300), err)
	}
	var b strings.Builder
	b.WriteString("| Engine | Pushes | Mean | p50 | p95 | p99 | Max | Published early |\n|---|---|---|---|---|---|---|---|\n")
	for _, e := range []string{"stepfunctions", "economy"} {
		s, ok := acc.Engines[e]
		if !ok {
			return "", fmt.Errorf("pushctl accuracy --json has no engine %q: %s", e, tail(out, 300))
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f ms | %d ms | %d ms | **%d ms** | %d ms | %d |\n", e, s.Count, s.Mean, s.P50, s.P95, s.P99, s.Max, s.Early)
	}
	b.WriteString("\n(The delivery log's other engine, `queue`, is what producers put on the queue themselves: here the burst's control pushes.)\n")
	return b.String(), nil
}

var (
	throughputLine = regexp.MustCompile(`throughput: (\d+) deliveries in ([\d.]+) s.*= (\d+)/s`)
	latenessLine   = regexp.MustCompile(`lateness (\w+) \(([^)]*)\), to SNS's confirmation: n (\d+), p50 (-?\d+) ms, p99 (-?\d+) ms, max (-?\d+) ms`)
	cpuLine        = regexp.MustCompile(`CPU over ([\d.]+) s: emulator \(([^)]*)\) ([\d.]+) s = (\d+)% of a core; functions \(([^)]*)\) ([\d.]+) s = (\d+)% of a core`)
)

// summarizeBurst turns the suite's report into the figures of the section.
func summarizeBurst(report string) string {
	var b strings.Builder
	b.WriteString("| Figure | Value |\n|---|---|\n")
	if m := throughputLine.FindStringSubmatch(report); m != nil {
		fmt.Fprintf(&b, "| Pushes per second through the local pipeline (one device each) | **%s** (%s deliveries in %s s) |\n", m[3], m[1], m[2])
	}
	for _, m := range latenessLine.FindAllStringSubmatch(report, -1) {
		fmt.Fprintf(&b, "| Lateness, %s (%s), n %s | p50 **%s ms**, p99 **%s ms**, max **%s ms** |\n", m[1], m[2], m[3], m[4], m[5], m[6])
	}
	if m := cpuLine.FindStringSubmatch(report); m != nil {
		fmt.Fprintf(&b, "| CPU over the run (%s s) | emulator %s s (%s%% of a core), functions %s s (%s%% of a core) |\n", m[1], m[3], m[4], m[6], m[7])
	}
	return b.String()
}
