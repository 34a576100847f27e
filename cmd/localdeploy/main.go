// Command localdeploy deploys the synthesized stack in cdk.out into a local moto emulator
// through its CloudFormation API (see internal/localdeploy and docs/LOCAL-RESEARCH.md).
//
//	go run ./cmd/localdeploy -endpoint http://127.0.0.1:4566 [-app cdk.out] [-stack DelayedPush] [-reset]
//
// With -describe-only it deploys nothing and only describes (and fixes, see
// localdeploy.FixMoto) a stack that `cdk deploy` already put into the emulator.
//
// It prints the stack outputs as JSON on stdout (plus "resources": logical id -> physical id)
// and progress on stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/delayed-push/delayed-push/internal/localdeploy"
)

func main() {
	endpoint := flag.String("endpoint", envOr("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"), "emulator URL")
	region := flag.String("region", envOr("AWS_REGION", "us-east-1"), "region")
	app := flag.String("app", "cdk.out", "cloud assembly directory")
	stack := flag.String("stack", "", "stack name (default: the only stack)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the stack")
	reset := flag.Bool("reset", false, "reset moto (drop every resource) before deploying")
	describeOnly := flag.Bool("describe-only", false, "publish and deploy nothing: describe the stack already deployed (e.g. by cdk deploy) and apply the moto fixes")
	keepESM := flag.Bool("keep-event-source-mappings", false, "leave Lambda event source mappings enabled")
	flag.Parse()

	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "localdeploy: "+format+"\n", args...) }
	if *reset {
		if err := localdeploy.ResetMoto(ctx, *endpoint); err != nil {
			fmt.Fprintln(os.Stderr, "localdeploy:", err)
			os.Exit(1)
		}
	}
	opts := localdeploy.Options{
		Endpoint: *endpoint, Region: *region, Assembly: *app, Stack: *stack, Timeout: *timeout,
		KeepEventSourceMappings: *keepESM, Logf: logf,
	}
	deploy := localdeploy.Deploy
	if *describeOnly {
		deploy = localdeploy.Describe
	}
	res, err := deploy(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localdeploy:", err)
		os.Exit(1)
	}
	for _, r := range res.NotCreated {
		logf("not created by the emulator: %s (%s)", r.LogicalID, r.Type)
	}
	physical := map[string]string{}
	for id, r := range res.Resources {
		physical[id] = r.PhysicalID
	}
	out := map[string]any{"stackName": res.StackName, "stackId": res.StackID, "status": res.Status,
		"outputs": res.Outputs, "resources": physical}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
