package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// synthRun is one cdk synth.
type synthRun struct {
	elapsed time.Duration
	// bundled are the assets the CDK bundled (ran go build for): its "Bundling asset PATH..."
	// lines, which it prints before it calls the local bundler.
	bundled []string
}

var bundlingLine = regexp.MustCompile(`Bundling asset (\S+?)\.\.\.`)

func synth(outdir string, app string) (synthRun, error) {
	args := []string{"--no-install", "cdk", "synth", "--quiet", "-o", outdir}
	if app != "" {
		args = append(args, "--app", app)
	}
	env := []string{
		"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
		"CDK_DISABLE_VERSION_CHECK=1",
	}
	start := time.Now()
	out, err := runCmd(".", env, 10*time.Minute, "npx", args...)
	if err != nil {
		return synthRun{}, err
	}
	r := synthRun{elapsed: time.Since(start)}
	for _, m := range bundlingLine.FindAllStringSubmatch(out, -1) {
		r.bundled = append(r.bundled, strings.TrimSuffix(strings.TrimPrefix(m[1], "DelayedPush/DelayedPush/"), "/Code/Stage"))
	}
	return r, nil
}

// bootstraps is each asset's bootstrap with its modification time and inode: a rebuild
// writes a new file.
func bootstraps(outdir string) map[string]string {
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(outdir, "asset.*", "bootstrap"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			id := st.ModTime().String()
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				id += fmt.Sprintf(" inode %d", sys.Ino)
			}
			out[filepath.Base(filepath.Dir(f))] = id
		}
	}
	return out
}

func assetDirs(outdir string) []string {
	dirs, _ := filepath.Glob(filepath.Join(outdir, "asset.*"))
	for i, d := range dirs {
		dirs[i] = filepath.Base(d)
	}
	sort.Strings(dirs)
	return dirs
}

const minimalApp = "go run ./bench/minimalapp"

func synthSection(o options) (string, error) {
	if o.skipSynth {
		return "Not measured in this run (`-skip-synth`).\n", nil
	}
	tmp, err := os.MkdirTemp("", "benchmd-synth-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	full, minimal := filepath.Join(tmp, "full.out"), filepath.Join(tmp, "minimal.out")
	// Warm-up, untimed: fresh output directories, so the full app bundles every function.
	first, err := synth(full, "")
	if err != nil {
		return "", err
	}
	assetsBefore, binsBefore := assetDirs(full), bootstraps(full)
	if _, err := synth(minimal, minimalApp); err != nil {
		return "", err
	}
	var fullTimes, minTimes series
	var rebuilt []string
	for range o.synthRepeats {
		r, err := synth(full, "")
		if err != nil {
			return "", err
		}
		fullTimes = append(fullTimes, r.elapsed.Seconds())
		rebuilt = append(rebuilt, r.bundled...)
		m, err := synth(minimal, minimalApp)
		if err != nil {
			return "", err
		}
		minTimes = append(minTimes, m.elapsed.Seconds())
	}
	assetsAfter, binsAfter := assetDirs(full), bootstraps(full)
	rewritten := 0
	for asset, id := range binsAfter {
		if binsBefore[asset] != id {
			rewritten++
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, `A warm `+"`cdk synth`"+` of the full app (`+"`npx --no-install cdk synth --quiet -o DIR`"+`, the default configuration) against
a minimal Go CDK app of one stack with one SQS queue ([bench/minimalapp](bench/minimalapp/main.go),
`+"`--app \"%s\"`"+`), both with the pinned CDK CLI and Go bindings. Warm: each was synthesized
once before into the same output directory (its Go build cache and its assets in place); then
%d pairs, full then minimal.

| App | Warm synth (s) |
|---|---|
| Delayed Push (%d Go functions, cdk-nag checks) | %s |
| minimal (one queue) | %s |
| ratio, pair by pair | %s |
`, minimalApp, o.synthRepeats, len(assetsBefore), fullTimes.mmm("%.1f"), minTimes.mmm("%.1f"), ratios(fullTimes, minTimes).mmm("%.2f"))
	fmt.Fprintf(&b, "\n**An unchanged Lambda is not rebuilt.** The first synth, into an empty directory, bundled %d assets, running `go build` for each (the CDK's \"Bundling asset\" lines: %s). The %d timed synths into the same directory bundled %d",
		len(first.bundled), strings.Join(first.bundled, ", "), o.synthRepeats, len(rebuilt))
	if len(rebuilt) == 0 && rewritten == 0 {
		fmt.Fprintf(&b, ", and no `bootstrap` was written again (same modification time and inode) in the same asset directories (%s)", strings.Join(shortHashes(assetsAfter), ", "))
	} else {
		fmt.Fprintf(&b, " (%s; %d bootstraps written again): their sources changed while the benchmark ran (the working tree was being edited)", strings.Join(rebuilt, ", "), rewritten)
	}
	if !equal(assetsBefore, assetsAfter) {
		b.WriteString("; the set of asset directories changed between the runs")
	}
	b.WriteString(". The asset hash is over what each binary is built from (`stacks/delayedpush/internal/gobuild/gobuild.go`, `sourceHash`: the build settings, the app's go.mod and go.sum, and the Go and embedded files of the module's packages the function imports), and the CDK skips bundling an asset whose directory for that hash is already in the output directory. A synth still runs `go list` per function to compute the hash.\n")
	b.WriteString("\nWhat a warm synth of the full app spends beyond the minimal one is the construct itself through jsii (every resource, the policies, the nag checks of `security.AddChecks`) and the hashing; no compiling.\n")
	return b.String(), nil
}

func shortHashes(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = "`" + strings.TrimPrefix(d, "asset.")[:12] + "…`"
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
