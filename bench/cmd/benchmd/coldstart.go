package main

import (
	"archive/zip"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/delayed-push/delayed-push/bench"
)

// function is one Lambda function of a synthesized assembly.
type function struct {
	name      string // the main package's last element
	pkg       string // the main package (from the bootstrap's build information)
	logicalID string
	assembly  string
	asset     string // the asset directory
	memory    float64
	env       map[string]string
	bootstrap string // what runs here: the asset's, or the same package built for this host
	zipBytes  int64
	assetSize int64
	hostSize  int64
}

// functions reads every Lambda function of the assemblies' templates, once per package.
func functions(assemblies []string) ([]*function, error) {
	seen := map[string]bool{}
	var out []*function
	for _, dir := range assemblies {
		templates, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
		for _, tf := range templates {
			raw, err := os.ReadFile(tf)
			if err != nil {
				return nil, err
			}
			var tpl struct {
				Resources map[string]struct {
					Type       string
					Metadata   map[string]any
					Properties struct {
						MemorySize  float64
						Environment struct{ Variables map[string]any }
					}
				}
			}
			if err := json.Unmarshal(raw, &tpl); err != nil {
				return nil, fmt.Errorf("%s: %w", tf, err)
			}
			ids := make([]string, 0, len(tpl.Resources))
			for id := range tpl.Resources {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				r := tpl.Resources[id]
				path, _ := r.Metadata["aws:asset:path"].(string)
				if r.Type != "AWS::Lambda::Function" || path == "" {
					continue
				}
				f := &function{logicalID: id, assembly: dir, asset: filepath.Join(dir, path), memory: r.Properties.MemorySize, env: map[string]string{}}
				info, err := buildinfo.ReadFile(filepath.Join(f.asset, "bootstrap"))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f.asset, err)
				}
				f.pkg = info.Path
				if seen[f.pkg] {
					continue
				}
				seen[f.pkg] = true
				f.name = f.pkg[strings.LastIndexByte(f.pkg, '/')+1:]
				for k, v := range r.Properties.Environment.Variables {
					if s, ok := v.(string); ok {
						f.env[k] = s // a literal: as the function gets it
					} else {
						f.env[k] = bench.DummyValue(k) // a Ref or GetAtt CloudFormation fills in
					}
				}
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Lambda function with a bootstrap in %v: run make synth first", assemblies)
	}
	return out, nil
}

// zipSize is the size of dir zipped with deflate, as the CDK packages a directory asset.
func zipSize(dir string) (int64, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// hostBuild builds pkg as stacks/delayedpush/internal/gobuild/gobuild.go does, for this host's
// architecture.
func hostBuild(pkg, goarch, out string) error {
	args := append([]string{"build"}, bench.BuildFlags()...)
	args = append(args, "-o", out, pkg)
	_, err := runCmd(".", []string{"GOOS=linux", "GOARCH=" + goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly"}, 10*time.Minute, "go", args...)
	return err
}

func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }

const minimalPkg = "github.com/delayed-push/delayed-push/bench/minimal"

func coldSection(o options) (string, error) {
	if o.skipCold {
		return "Not measured in this run (`-skip-cold`).\n", nil
	}
	if runtime.GOOS != "linux" {
		return "Not measured in this run: the bootstraps are Linux executables, and this is " + runtime.GOOS + ".\n", nil
	}
	fns, err := functions(o.assemblies)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "benchmd-cold-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	native := runtime.GOARCH == "arm64"
	for _, f := range fns {
		f.assetSize = size(filepath.Join(f.asset, "bootstrap"))
		if f.zipBytes, err = zipSize(f.asset); err != nil {
			return "", err
		}
		f.bootstrap = filepath.Join(f.asset, "bootstrap")
		if !native {
			f.bootstrap = filepath.Join(tmp, f.name)
			if err := hostBuild(f.pkg, runtime.GOARCH, f.bootstrap); err != nil {
				return "", err
			}
		}
		f.hostSize = size(f.bootstrap)
	}
	// The yardstick, built the same way: for this host, and for arm64 to compare the assets.
	minimal := &function{name: "minimal", pkg: minimalPkg, bootstrap: filepath.Join(tmp, "minimal"), env: map[string]string{}}
	if err := hostBuild(minimalPkg, runtime.GOARCH, minimal.bootstrap); err != nil {
		return "", err
	}
	minimal.hostSize = size(minimal.bootstrap)
	armDir := filepath.Join(tmp, "minimal-arm64")
	if err := os.MkdirAll(armDir, 0o755); err != nil {
		return "", err
	}
	if err := hostBuild(minimalPkg, "arm64", filepath.Join(armDir, "bootstrap")); err != nil {
		return "", err
	}
	minimal.assetSize = size(filepath.Join(armDir, "bootstrap"))
	if minimal.zipBytes, err = zipSize(armDir); err != nil {
		return "", err
	}

	api, err := bench.StartRuntimeAPI()
	if err != nil {
		return "", err
	}
	defer api.Close()
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return "", err
	}
	all := append([]*function{minimal}, fns...)
	wall := map[string]series{}
	cpu := map[string]series{}
	rss := map[string]series{}
	for round := range o.coldRuns {
		for i := range all {
			f := all[(i+round)%len(all)] // each round starts with the next one: no place is always first
			p, err := api.ColdStart(f.bootstrap, bench.LambdaEnv(home, f.name, f.env))
			if err != nil {
				return "", err
			}
			wall[f.name] = append(wall[f.name], ms(p.Wall))
			cpu[f.name] = append(cpu[f.name], ms(p.CPU))
			rss[f.name] = append(rss[f.name], float64(p.RSSKiB)/1024)
		}
	}

	var b strings.Builder
	how := "the arm64 assets themselves (this host is arm64)"
	if !native {
		how = fmt.Sprintf("the same packages built for this host (linux/%s) with the flags of stacks/delayedpush/internal/gobuild/gobuild.go (`go build %s`, CGO_ENABLED=0): the assets are linux/arm64 and run here only under emulation, which would measure the emulator", runtime.GOARCH, strings.Join(quoteArgs(bench.BuildFlags()), " "))
	}
	fmt.Fprintf(&b, `Every function's `+"`bootstrap`"+` of the synthesized assemblies (%s: `+"`make synth`"+`, and `+"`make synth-full`"+` for the
optional Shopify functions), from process start to its first request to the Runtime API
(`+"`GET %s`"+`), against a minimal aws-lambda-go SQS handler built the same way
([bench/minimal](bench/minimal/main.go)). What runs is %s. Each run gets a stand-in Runtime API
on 127.0.0.1 that records the time of that request and never answers it, the environment Lambda
gives (dummy credentials, region, `+"`HOME`"+` an empty directory) and the function's variables
from the template (values CloudFormation fills in replaced by dummies); it is killed then.
%d rounds, each running every binary once in turn, starting one further each round. CPU and
peak resident memory are read from /proc at that moment.

| Function | Package | Time to first invocation request (ms) | Ratio to the minimal handler, pair by pair | Init CPU (ms) | Init CPU / the minimal handler's (medians) | Peak RSS (MiB) |
|---|---|---|---|---|---|---|
`, strings.Join(o.assemblies, ", "), bench.RuntimeAPIPath, how, o.coldRuns)
	for _, f := range all {
		r := ratios(wall[f.name], wall["minimal"])
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %.2f | %s |\n", f.name, f.pkg, wall[f.name].mmm("%.1f"), r.mmm("%.2f"),
			cpu[f.name].mmm("%.1f"), cpu[f.name].Median()/cpu["minimal"].Median(), rss[f.name].mmm("%.1f"))
	}
	var sender *function
	for _, f := range fns {
		if f.name == "sender" {
			sender = f
		}
	}
	if sender != nil {
		r := ratios(wall["sender"], wall["minimal"])
		verdict := "within"
		if r.Median() > 2 {
			verdict = "**above**"
		}
		fmt.Fprintf(&b, "\nThe sender: median %.2f× the minimal handler's time (its init CPU %.2f×), %s the target of 2×.\n",
			r.Median(), cpu["sender"].Median()/cpu["minimal"].Median(), verdict)
	}
	b.WriteString("\n**Sizes.** The zipped asset is what Lambda downloads and unpacks on a cold start (zipped here with deflate, as the CDK packages a directory asset). Memory is the function's `MemorySize` in the template; init at that memory is the init CPU above scaled by the share of a vCPU Lambda gives it (memory / 1,769 MB), a rough bound.\n\n")
	b.WriteString("| Function | Memory (MB) | bootstrap, linux/arm64 (MB) | Zipped asset (MB) | Built for this host (MB) | Init CPU at that memory (ms) |\n|---|---|---|---|---|---|\n")
	for _, f := range all {
		memory, init := "n/a", "n/a"
		if f.memory > 0 {
			memory = fmt.Sprintf("%.0f", f.memory)
			init = fmt.Sprintf("%.0f", cpu[f.name].Median()*1769/f.memory)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", f.name, memory, mb(f.assetSize), mb(f.zipBytes), mb(f.hostSize), init)
	}
	b.WriteString(senderInit())
	return b.String(), nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " =") {
			a = `"` + a + `"`
		}
		out[i] = a
	}
	return out
}

// unusedBySender are packages the sender's handler does not use, with why they would be linked.
var unusedBySender = []struct{ pkg, what string }{
	{"github.com/aws/aws-sdk-go-v2/config", "the SDK's configuration loader"},
	{"github.com/aws/aws-sdk-go-v2/service/sts", "the STS client (credential chain)"},
	{"github.com/aws/aws-sdk-go-v2/service/sso", "the SSO client (credential chain)"},
	{"github.com/delayed-push/delayed-push/devices", "`devices` (device registration rules, with its regular expressions)"},
	{"github.com/delayed-push/delayed-push/shopify", "`shopify`"},
	{"github.com/delayed-push/delayed-push/internal/orders", "`internal/orders`"},
	{"github.com/aws/aws-sdk-go-v2/service/secretsmanager", "the Secrets Manager client"},
}

// senderInit says what the sender does at init, and what it links without using it, read from
// its import graph now.
func senderInit() string {
	deps := map[string]bool{}
	for _, d := range strings.Fields(output("go", "list", "-deps", "github.com/delayed-push/delayed-push/lambdas/sender")) {
		deps[d] = true
	}
	var linked []string
	for _, u := range unusedBySender {
		if deps[u.pkg] {
			linked = append(linked, u.what)
		}
	}
	var b strings.Builder
	b.WriteString(`
**What the sender does at init**: it reads its environment once, builds one AWS configuration
and one client per service (DynamoDB, SNS with its publish retryer, SQS), reused by every
invocation of the environment, and starts the runtime loop. Its configuration comes from the
environment Lambda sets (region, the role's credentials, ` + "`AWS_ENDPOINT_URL`" + ` for local runs), not
from ` + "`config.LoadDefaultConfig`" + `, whose credential chain linked four more SDK clients (SSO, SSO
OIDC, STS, sign-in) and the shared-files parser, 1.9 MB of the binary, with their package init
on every cold start. `)
	if len(linked) == 0 {
		b.WriteString("Nothing the handler does not use is linked into it now.\n")
	} else {
		fmt.Fprintf(&b, "Still linked without use, through `internal/awsadapters` (one package for every function's adapters): %s. Their package init runs on every cold start (`GODEBUG=inittrace=1` on the sender's bootstrap shows each one's time); the sender would shed them if the package were split.\n",
			strings.Join(linked, ", "))
	}
	return b.String()
}
