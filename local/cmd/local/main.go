// Command local runs Delayed Push on the moto emulator (README, "Try it locally"; local/README.md).
//
//	local serve -endpoint URL -app DIR   deploy DIR (a cloud assembly) into a fresh emulator
//	                                     through CloudFormation and run its Lambda functions
//	                                     until interrupted
//	local demo  -endpoint URL            schedule a push a few seconds out and show it arrive
//	local deploy -endpoint URL -app DIR  only deploy (no reset, no Lambdas) and print the outputs
//	             [-reset] [-describe-only] [-keep-event-source-mappings]
//	                                     -describe-only applies the moto fixes to a stack that
//	                                     `cdk deploy` already put into the emulator
//
// local/scripts/local-up.sh starts the emulator and `serve` in the background; `make local` runs both
// and the demo.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/apigw"
	"github.com/delayed-push/delayed-push/local/faultproxy"
	"github.com/delayed-push/delayed-push/local/localdeploy"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/local/motoapi"
	"github.com/delayed-push/delayed-push/push"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "demo":
		err = demo(ctx, os.Args[2:])
	case "deploy":
		err = deploy(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: local serve|demo|deploy [-endpoint URL] [-app DIR] [-state DIR] (local deploy -h for its flags)")
	os.Exit(2)
}

type flags struct {
	endpoint, app, state                  string
	reset, describeOnly, keepEventSources bool
}

func parse(name string, args []string) flags {
	var f flags
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&f.endpoint, "endpoint", "http://127.0.0.1:4566", "emulator URL")
	fs.StringVar(&f.app, "app", ".local/cdk.out", "cloud assembly to deploy")
	fs.StringVar(&f.state, "state", ".local", "directory for the runner's state and logs")
	if name == "deploy" {
		fs.BoolVar(&f.reset, "reset", false, "reset moto (drop every resource) before deploying")
		fs.BoolVar(&f.describeOnly, "describe-only", false, "deploy nothing: describe the stack already deployed (e.g. by cdk deploy) and apply the moto fixes")
		fs.BoolVar(&f.keepEventSources, "keep-event-source-mappings", false, "leave Lambda event source mappings enabled")
	}
	_ = fs.Parse(args)
	return f
}

// deploy only deploys (or, with -describe-only, describes and fixes) the stack and prints its
// outputs and physical resource ids as JSON.
func deploy(ctx context.Context, args []string) error {
	f := parse("deploy", args)
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "local: "+format+"\n", a...) }
	if f.reset {
		if err := motoapi.Reset(ctx, f.endpoint); err != nil {
			return err
		}
	}
	opts := localdeploy.Options{Endpoint: f.endpoint, Assembly: f.app, KeepEventSourceMappings: f.keepEventSources, Logf: logf}
	run := localdeploy.Deploy
	if f.describeOnly {
		run = localdeploy.Describe
	}
	res, err := run(ctx, opts)
	if err != nil {
		return err
	}
	for _, r := range res.NotCreated {
		logf("the emulator does not create %s (%s)", r.LogicalID, r.Type)
	}
	physical := map[string]string{}
	for id, r := range res.Resources {
		physical[id] = r.PhysicalID
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"stackName": res.StackName, "stackId": res.StackID, "status": res.Status,
		"outputs": res.Outputs, "resources": physical})
}

// serve deploys the assembly into a reset emulator, writes <state>/stack.json with the stack
// outputs once the functions are ready, and runs them until ctx is cancelled.
func serve(ctx context.Context, args []string) error {
	f := parse("serve", args)
	logf := func(format string, a ...any) { fmt.Printf("local: "+format+"\n", a...) }
	if err := motoapi.Reset(ctx, f.endpoint); err != nil {
		return err
	}
	res, err := localdeploy.Deploy(ctx, localdeploy.Options{Endpoint: f.endpoint, Assembly: f.app, Logf: logf})
	if err != nil {
		return err
	}
	for _, r := range res.NotCreated {
		logf("the emulator does not create %s (%s)", r.LogicalID, r.Type)
	}
	cfg := localdeploy.NewConfig(f.endpoint, res.Region)
	app, err := localrun.SetUpPlatformApplication(ctx, sns.NewFromConfig(cfg), res.Outputs)
	if err != nil {
		return err
	}
	logf("platform application %s (events to the device events topic)", app)
	// The functions reach the emulator through the fault proxy, so that tests can disturb
	// their calls and see where the time goes.
	proxy, err := faultproxy.New(f.endpoint)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("fault proxy: %w", err)
	}
	proxySrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = proxySrv.Serve(ln) }()
	defer proxySrv.Close()
	proxyURL := "http://" + ln.Addr().String()
	running := &localrun.Hosts{}
	proxy.Kill = running.Kill

	// The pollers, like Lambda's event source mapping, receive through the proxy too: a test can
	// hold them (pause the consumer) or see their calls.
	sqsClient := sqs.NewFromConfig(localdeploy.NewConfig(proxyURL, res.Region))
	clients := localrun.Clients{Lambda: lambda.NewFromConfig(cfg), SQS: sqsClient, STS: sts.NewFromConfig(cfg)}
	plan, err := localrun.NewPlan(ctx, clients, res, f.app, proxyURL)
	if err != nil {
		return err
	}
	for _, fn := range plan.Functions {
		logf("function %s: %s (timeout %s)", fn.LogicalID, fn.Host.BootstrapPath, fn.Host.Timeout)
	}
	for _, es := range plan.EventSources {
		logf("event source %s: %s -> %s, batch %d, window %s, partial failures %t, max concurrency %d",
			es.LogicalID, es.Source.QueueURL, es.Function, es.Source.BatchSize, es.Source.Window,
			es.Source.ReportBatchItemFailures, es.Source.MaxConcurrency)
	}
	if len(plan.ScheduleGroups) > 0 {
		// EventBridge Scheduler is AWS's, not a function of the stack: it calls the emulator
		// directly, not through the fault proxy.
		plan.Schedules = localrun.NewScheduleRunner(cfg, plan.ScheduleGroups)
		for _, g := range plan.ScheduleGroups {
			logf("schedule group %s: its one-time schedules run here, each at a random moment of the minute it names", g)
		}
	}
	state := map[string]any{"endpoint": f.endpoint, "stackName": res.StackName, "outputs": res.Outputs, "faultProxy": proxyURL}
	if len(plan.Routes) > 0 {
		// The HTTP API, served as API Gateway would (local/apigw): its URL takes the place of
		// the ApiUrl output, which points at AWS.
		apiLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("http api: %w", err)
		}
		plan.API = apiLn
		state["apiEndpoint"] = "http://" + apiLn.Addr().String()
		for _, r := range plan.Routes {
			logf("route %s (%s) -> %s", r.RouteKey, r.Auth, r.Function)
		}
		logf("http api: %s", state["apiEndpoint"])

		// The same routes with a JWT authorizer instead of IAM, as with apiJwtIssuer, on the
		// same functions: tokens of a local issuer whose key is made here (the tests sign with it).
		jwtLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("http api (JWT): %w", err)
		}
		if plan.JWT, err = apigw.NewLocalJWT(f.state); err != nil {
			return fmt.Errorf("http api (JWT): the local issuer: %w", err)
		}
		plan.JWTAPI = jwtLn
		state["apiJwtEndpoint"] = "http://" + jwtLn.Addr().String()
		logf("http api, JWT authorization (issuer %s, audience %s, key %s): %s", apigw.LocalIssuer, apigw.LocalAudience,
			filepath.Join(f.state, apigw.LocalIssuerKeyFile), state["apiJwtEndpoint"])
	}
	if err := writeJSON(filepath.Join(f.state, "stack.json"), state); err != nil {
		return err
	}
	logf("fault proxy: %s (the functions' AWS endpoint)", proxyURL)
	logf("ready: stack %s on %s", res.StackName, f.endpoint)
	err = localrun.Run(ctx, plan, sqsClient, os.Stdout, running)
	if errors.Is(ctx.Err(), context.Canceled) {
		logf("stopped")
	}
	return err
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// demo registers a demo device, schedules a push three seconds out with StartExecution, and
// shows what the device receives and how late it was; then the same on the economy engine.
func demo(ctx context.Context, args []string) error {
	f := parse("demo", args)
	stack, err := localrun.Connect(ctx, f.endpoint, f.state)
	if err != nil {
		return err
	}
	smArn, err := stack.Output("StateMachineArn")
	if err != nil {
		return err
	}
	endpointArn, err := stack.RegisterDevice(ctx, "demo-user", "demo-device-fcm-token")
	if err != nil {
		return err
	}
	before, err := stack.Deliveries(ctx, endpointArn)
	if err != nil {
		return err
	}
	const delay = 3
	pushID := fmt.Sprintf("demo-%d", time.Now().Unix())
	input := fmt.Sprintf(`{"delaySeconds":%d,"push":{"userId":"demo-user","title":"Hello from Delayed Push","body":"Scheduled %d seconds ago","data":{"demo":"true"}}}`, delay, delay)
	fmt.Printf("Scheduling push %s for user demo-user, %d s from now:\n  aws stepfunctions start-execution --state-machine-arn %s --name %s --input '%s'\n",
		pushID, delay, smArn, pushID, input)
	started, err := stack.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smArn), Name: aws.String(pushID), Input: aws.String(input),
	})
	if err != nil {
		return fmt.Errorf("StartExecution: %w", err)
	}
	start := aws.ToTime(started.StartDate)
	got, seen, err := stack.WaitForDeliveries(ctx, endpointArn, len(before)+1, 60*time.Second)
	if err != nil {
		return fmt.Errorf("%w; see %s", err, localrun.RunnerLog(f.state))
	}
	gcm, err := got[len(got)-1].GCM()
	if err != nil {
		return err
	}
	pretty, _ := json.MarshalIndent(gcm, "  ", "  ")
	fmt.Printf("\nThe device's endpoint received (SNS GCM payload, FCM HTTP v1):\n  %s\n", pretty)
	fmt.Printf("\nScheduled delay %d s; seen on the endpoint %.2f s after StartExecution.\n", delay, seen.Sub(start).Seconds())
	report, err := localrun.WaitForReport(ctx, localrun.RunnerLog(f.state), pushID, 10*time.Second)
	if err == nil {
		fmt.Printf("The sender reported outcome %q, lateness %d ms past the due time.\n", report.Outcome, int(report.LatenessMs))
	}
	if rec, err := stack.DeliveryRecord(ctx, pushID, endpointArn); err == nil && rec != nil {
		fmt.Printf("Delivery log: status %s, SNS message %s.\n", rec["status"], rec["snsMessageId"])
	}
	return demoEconomy(ctx, stack, endpointArn, f.state)
}

// demoEconomy sends a push through the economy engine with the Go client, a few seconds out
// (one SQS SendMessage with DelaySeconds), shows it arrive, and says how to see the schedule
// path, which takes minutes.
func demoEconomy(ctx context.Context, stack *localrun.Stack, endpointArn, state string) error {
	res, err := stack.ClientResources(ctx)
	if err != nil {
		return err
	}
	if res.ScheduleGroupName == "" {
		return nil // a stack without the economy engine
	}
	c := client.NewWith(res, stack.SFN, stack.SQS, stack.Scheduler, stack.DynamoDB, nil)
	before, err := stack.Deliveries(ctx, endpointArn)
	if err != nil {
		return err
	}
	const delay = 3 * time.Second
	key := fmt.Sprintf("demo-economy-%d", time.Now().Unix())
	fmt.Printf("\nThe same through the economy engine (Go client, Engine: economy; pushctl schedule --engine economy):\n  go run ./cmd/pushctl schedule --local --engine economy --key %s --delay 3s --user demo-user --title 'Hello from the economy engine'\n", key)
	s, err := c.Schedule(ctx, client.Request{Key: key, Delay: delay, Engine: client.EngineEconomy,
		Push: push.Push{UserID: "demo-user", Title: "Hello from the economy engine", Body: "One SQS message with DelaySeconds"}})
	if err != nil {
		return err
	}
	if _, _, err := stack.WaitForDeliveries(ctx, endpointArn, len(before)+1, 60*time.Second); err != nil {
		return fmt.Errorf("%w; see %s", err, localrun.RunnerLog(state))
	}
	if report, err := localrun.WaitForReport(ctx, localrun.RunnerLog(state), key, 10*time.Second); err == nil {
		fmt.Printf("Engine %s: the sender reported outcome %q, lateness %d ms past the due time %s.\n", report.Engine, report.Outcome, int(report.LatenessMs), s.DueAt.UTC().Format("15:04:05.000"))
	}
	fmt.Printf("\nDue later than %s (this local stack's economyScheduleAfterSeconds, shortened from 900), an economy push\n"+
		"becomes an EventBridge Scheduler schedule, fired here at a random moment of the minute it names, then held by\n"+
		"the sender until its due time. Try it (about 4 minutes; the client takes the schedule path when its at() is a minute ahead), and watch the [scheduler] lines of %s:\n"+
		"  go run ./cmd/pushctl schedule --local --engine economy --key demo-later --delay 250s --user demo-user --title 'Later'\n",
		res.EconomyScheduleAfter, localrun.RunnerLog(state))
	return nil
}
