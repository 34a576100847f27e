package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// goBench is one benchmark's results over -count runs, by unit ("ns/op", "B/op", ...).
type goBench map[string]series

// runGoBench runs go test -bench once in ./bench (-count 1) and parses its result lines into res.
func runGoBench(res map[string]goBench, suffix, pattern string, cpu string) (string, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", "1"}
	if cpu != "" {
		args = append(args, "-cpu", cpu)
	}
	args = append(args, "./bench/")
	out, err := runCmd(".", nil, 15*time.Minute, "go", args...)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		name = strings.TrimPrefix(name, "Benchmark") + suffix
		if res[name] == nil {
			res[name] = goBench{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return "go " + strings.Join(args, " "), sc.Err()
}

// perPush divides a batch benchmark's figures by its 10 pushes.
func perPush(name string, s series) series {
	if !strings.HasPrefix(name, "SenderBatch") {
		return s
	}
	out := make(series, len(s))
	for i, v := range s {
		out[i] = v / 10
	}
	return out
}

func scale(s series, f float64) series {
	out := make(series, len(s))
	for i, v := range s {
		out[i] = v * f
	}
	return out
}

var benchWhat = map[string]string{
	"Decode":                    "`push.Decode` of a typical push (strict JSON, every rule of the contract)",
	"Validate":                  "`Push.Validate` alone, on a decoded push",
	"BuildMessage":              "`fcm.BuildMessage`: the SNS message with its FCM v1 payload",
	"SenderBatch":               "a whole push through `delivery.Service.Handle` (batches of 10), in-memory ports: the three above, claim, publish and record bookkeeping, log line, metrics",
	"SenderBatchSDKInProcess":   "the same with the real adapters and AWS SDK clients, answered in process (serializing, signing, deserializing; no HTTP)",
	"SenderBatchSDK":            "the same against a loopback HTTP stub that answers at once (the stub's own work included)",
	"SenderBatch@1":             "SenderBatch with GOMAXPROCS=1",
	"SenderBatchSDKInProcess@1": "SenderBatchSDKInProcess with GOMAXPROCS=1",
	"SenderBatchSDK@1":          "SenderBatchSDK with GOMAXPROCS=1",
}

func overheadSection(o options) (string, error) {
	// Interleaved: each round runs every benchmark once, then the sender's with GOMAXPROCS=1.
	all := map[string]goBench{}
	var cmd1, cmd2 string
	for range o.benchCount {
		var err error
		if cmd1, err = runGoBench(all, "", ".", ""); err != nil {
			return "", err
		}
		if cmd2, err = runGoBench(all, "@1", "Sender", "1"); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The sender's own cost per push, network left out: Go benchmarks (`bench/bench_test.go`), %d rounds of `%s` then `%s`. Per push: a batch benchmark's figures divided by its 10 pushes. CPU is the process's user and system time (every thread) per push; time is wall time.\n\n",
		o.benchCount, cmd1, cmd2)
	b.WriteString("| Benchmark | What | Time per push (µs) | CPU per push (µs) | Bytes allocated per push | Allocations per push |\n|---|---|---|---|---|---|\n")
	for _, name := range []string{"Decode", "Validate", "BuildMessage", "SenderBatch", "SenderBatchSDKInProcess", "SenderBatchSDK",
		"SenderBatch@1", "SenderBatchSDKInProcess@1", "SenderBatchSDK@1"} {
		r, ok := all[name]
		if !ok {
			return "", fmt.Errorf("benchmark %s did not run", name)
		}
		cpu := "n/a"
		if s, ok := r["cpu-ns/op"]; ok {
			cpu = scale(perPush(name, s), 1e-3).mmm("%.1f")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, benchWhat[name],
			scale(perPush(name, r["ns/op"]), 1e-3).mmm("%.1f"), cpu,
			perPush(name, r["B/op"]).mmm("%.0f"), perPush(name, r["allocs/op"]).mmm("%.0f"))
	}
	rate := func(name string) series {
		s := perPush(name, all[name+"@1"]["ns/op"])
		out := make(series, len(s))
		for i := range s {
			out[i] = 1e9 / s[i]
		}
		return out
	}
	// Pair by pair: each round ran all of them in one go test.
	decodeShare := ratios(all["Decode"]["ns/op"], perPush("SenderBatch", all["SenderBatch"]["ns/op"]))
	ownShare := ratios(all["SenderBatch"]["cpu-ns/op"], all["SenderBatchSDKInProcess"]["cpu-ns/op"])
	fmt.Fprintf(&b, `
**Pushes per second of one sender on one core** (GOMAXPROCS=1, one device per push): %s with
in-memory ports; %s with the real SDK clients answered in process; %s against the loopback HTTP
stub (a lower bound: the stub's server shares the core).

**Where the CPU goes.** Decoding with validation is %s of the sender's own time per push, and
the sender's own CPU is %s of its CPU with the SDK even without HTTP: serializing, signing and
deserializing the four calls per push cost far more than the push itself. Making decoding faster
would save at most %.0f%% of the sender's CPU, and the network waits (tens of milliseconds per
batch on AWS) dwarf both: left as it is.

%s
`,
		rate("SenderBatch").mmm("%.0f"), rate("SenderBatchSDKInProcess").mmm("%.0f"), rate("SenderBatchSDK").mmm("%.0f"),
		pct(decodeShare), pct(ownShare), 100*decodeShare.Median()*ownShare.Median(),
		memorySize(all["SenderBatchSDKInProcess"]["cpu-ns/op"].Median()/1e6, all["SenderBatchSDK"]["cpu-ns/op"].Median()/1e6))
	return b.String(), nil
}

// memorySize is the sender's memory size reasoned from its CPU per batch, between lo (the SDK
// in process) and hi (over loopback HTTP, the stub's side included), in ms: Lambda gives
// memory/1,769 MB of a vCPU, and a batch also waits for its chain of calls.
func memorySize(lo, hi float64) string {
	at := func(c, m float64) string { return fmt.Sprintf("%.0f to %.0f", c*1769/m, hi*1769/m) }
	kneeLo, kneeHi := 1769*lo/80, 1769*hi/40
	where := "within"
	switch {
	case 256 < kneeLo:
		where = "below"
	case 256 > kneeHi:
		where = "above"
	}
	return fmt.Sprintf(`**Memory size.** Lambda gives a function CPU in proportion to its memory: at 1,769 MB one
vCPU (one vCPU-second of credits per second; AWS Lambda Developer Guide, "Configure Lambda
function memory"). The sender's CPU per batch of 10 one-device pushes with the SDK is **%.1f to
%.1f ms** here (medians: in process, and over loopback HTTP with the stub's side; TLS not
included, which a new connection adds once). At 128, 256 and 512 MB that CPU takes about **%s,
%s and %s ms** (x86 here, Graviton on Lambda: the order of magnitude is what matters). A batch
also waits for its chain of four calls per push, W: not measured here (an assumption: on AWS a
DynamoDB write takes a few milliseconds and an SNS publish some tens, W ≈ 40 to 80 ms). Below M
= 1,769 MB × CPU / W the batch's CPU takes longer than its waits, so every push is later for the
same cost (duration grows as memory shrinks); above it the batch waits as long and costs more.
For these CPU and W, M is **%.0f to %.0f MB**: the sender's 256 MB is %s that range, and stays (the
reason is beside the setting, senderMemoryMiB, in stacks/internal/settings/table.go).`, lo, hi, at(lo, 128), at(lo, 256), at(lo, 512), kneeLo, kneeHi, where)
}

func pct(s series) string {
	if len(s) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%% / **%.0f%%** / %.0f%%", 100*s.Min(), 100*s.Median(), 100*s.Max())
}
