// Package localrun runs a deployed stack's Lambda functions on this machine, as Lambda would:
// the bootstrap from the cloud assembly, the environment the emulator's Lambda API reports for
// the function, and one SQS poller per event source mapping of the template. The emulator
// (moto) stores functions but cannot run them without Docker; see local/RESEARCH.md.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/delayed-push/delayed-push/local/apigw"
	"github.com/delayed-push/delayed-push/local/lambdahost"
	"github.com/delayed-push/delayed-push/local/localdeploy"
	"github.com/delayed-push/delayed-push/local/schedulerrun"
)

// Function is a Lambda function of the stack, ready to start.
type Function struct {
	LogicalID string
	Host      lambdahost.Function
}

// EventSource is an SQS event source mapping of the stack.
type EventSource struct {
	LogicalID string
	Function  string // logical id of the function it feeds
	Source    lambdahost.EventSource
}

// Plan is what Run starts: the stack's functions, their queue event sources and the routes
// of its HTTP API.
type Plan struct {
	Functions    []Function
	EventSources []EventSource
	Routes       []APIRoute
	// API, when set and the stack has routes, is where Run serves the HTTP API.
	API net.Listener
	// JWTAPI, when set with JWT, is where Run serves the same routes on the same functions
	// with JWT instead of IAM authorization, as a stack configured with apiJwtIssuer would.
	JWTAPI    net.Listener
	JWT       *apigw.JWT
	Region    string
	AccountID string
	// ScheduleGroups are the names of the stack's EventBridge Scheduler schedule groups, and
	// Schedules, when set, runs their schedules (the emulator only stores them).
	ScheduleGroups []string
	Schedules      *schedulerrun.Runner
}

// APIRoute is a route of an AWS::ApiGatewayV2 HTTP API and the function behind it.
type APIRoute struct {
	RouteKey string // "GET /pushes/{key}"
	Auth     string // AuthorizationType
	Function string // logical id
}

// Clients are the emulator APIs the plan is read from.
type Clients struct {
	Lambda *lambda.Client
	SQS    *sqs.Client
	// STS gives each execution environment credentials of the function's role, as Lambda
	// does: the SQS SenderId of what a function sends is then its role's (see
	// local/scripts/moto_server.py, patch 5).
	STS *sts.Client
}

// NewPlan reads the functions and event source mappings of a deployed stack. assembly is the
// cloud assembly directory the stack was deployed from (its asset directories hold the
// bootstraps); endpoint and creds are what the functions get to reach the emulator.
func NewPlan(ctx context.Context, c Clients, res *localdeploy.Result, assembly, endpoint string) (*Plan, error) {
	plan := &Plan{Region: res.Region, AccountID: res.Account}
	integrations := map[string]string{} // integration logical id -> function logical id
	type route struct{ key, auth, integration string }
	var routes []route
	for _, r := range localdeploy.TemplateResources(res.Template) {
		id, props := r.LogicalID, r.Properties
		switch r.Type {
		case "AWS::ApiGatewayV2::Integration":
			if fnID, attr, ok := localdeploy.GetAttTarget(props["IntegrationUri"]); ok && attr == "Arn" {
				integrations[id] = fnID
			}
		case "AWS::ApiGatewayV2::Route":
			key, _ := props["RouteKey"].(string)
			auth, _ := props["AuthorizationType"].(string)
			routes = append(routes, route{key, auth, integrationRef(props["Target"])})
		case "AWS::Lambda::Function":
			fn, err := function(ctx, c, res, r, assembly, endpoint)
			if err != nil {
				return nil, err
			}
			plan.Functions = append(plan.Functions, fn)
		case "AWS::Scheduler::ScheduleGroup":
			if g, ok := res.Resources[id]; ok && g.PhysicalID != "" {
				plan.ScheduleGroups = append(plan.ScheduleGroups, g.PhysicalID)
			}
		case "AWS::Lambda::EventSourceMapping":
			es, err := eventSource(ctx, c.SQS, res, id, props)
			if err != nil {
				return nil, err
			}
			if es != nil {
				plan.EventSources = append(plan.EventSources, *es)
			}
		}
	}
	for _, r := range routes {
		fnID, ok := integrations[r.integration]
		if !ok {
			return nil, fmt.Errorf("route %s: its target is not a Lambda integration of the stack", r.key)
		}
		plan.Routes = append(plan.Routes, APIRoute{RouteKey: r.key, Auth: r.auth, Function: fnID})
	}
	return plan, nil
}

// integrationRef reads a route's Target, {"Fn::Join": ["", ["integrations/", {"Ref": ID}]]}.
func integrationRef(target any) string {
	join, _ := target.(map[string]any)["Fn::Join"].([]any)
	if len(join) != 2 {
		return ""
	}
	parts, _ := join[1].([]any)
	for _, p := range parts {
		if id, ok := localdeploy.RefTarget(p); ok {
			return id
		}
	}
	return ""
}

func function(ctx context.Context, c Clients, res *localdeploy.Result, r localdeploy.TemplateResource, assembly, endpoint string) (Function, error) {
	id := r.LogicalID
	deployed, ok := res.Resources[id]
	if !ok || deployed.PhysicalID == "" {
		return Function{}, fmt.Errorf("function %s was not created by the emulator", id)
	}
	assetPath, _ := r.Metadata["aws:asset:path"].(string)
	if assetPath == "" {
		return Function{}, fmt.Errorf("function %s has no aws:asset:path metadata: synthesize with the CDK CLI (asset metadata on)", id)
	}
	cfg, err := c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(deployed.PhysicalID)})
	if err != nil {
		return Function{}, fmt.Errorf("reading function %s (%s) from the emulator: %w", id, deployed.PhysicalID, err)
	}
	handler := aws.ToString(cfg.Handler)
	env := map[string]string{}
	if cfg.Environment != nil {
		env = cfg.Environment.Variables
	}
	return Function{LogicalID: id, Host: lambdahost.Function{
		Name: deployed.PhysicalID,
		ARN:  aws.ToString(cfg.FunctionArn),
		// A provided.* runtime always starts the asset's bootstrap; Handler is only passed on.
		BootstrapPath: filepath.Join(assembly, assetPath, "bootstrap"),
		Handler:       handler,
		Region:        res.Region,
		Env:           env,
		NewCredentials: func(ctx context.Context, n int) (aws.Credentials, error) {
			out, err := c.STS.AssumeRole(ctx, &sts.AssumeRoleInput{
				RoleArn:         cfg.Role,
				RoleSessionName: aws.String(fmt.Sprintf("env-%d", n)),
			})
			if err != nil {
				return aws.Credentials{}, fmt.Errorf("assuming the role of %s: %w", id, err)
			}
			return aws.Credentials{
				AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
				SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
				SessionToken:    aws.ToString(out.Credentials.SessionToken),
			}, nil
		},
		EndpointURL: endpoint,
		Timeout:     time.Duration(aws.ToInt32(cfg.Timeout)) * time.Second,
		MemoryMiB:   int(aws.ToInt32(cfg.MemorySize)),
	}}, nil
}

func eventSource(ctx context.Context, c *sqs.Client, res *localdeploy.Result, id string, props map[string]any) (*EventSource, error) {
	queueID, attr, ok := localdeploy.GetAttTarget(props["EventSourceArn"])
	if !ok || attr != "Arn" {
		return nil, fmt.Errorf("event source mapping %s: EventSourceArn is not a Fn::GetAtt of a queue in the stack", id)
	}
	queue, ok := res.Resources[queueID]
	if !ok || queue.Type != "AWS::SQS::Queue" {
		return nil, nil // not an SQS source: nothing to poll
	}
	fnID, ok := localdeploy.RefTarget(props["FunctionName"])
	if !ok {
		return nil, fmt.Errorf("event source mapping %s: FunctionName is not a Ref to a function in the stack", id)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queue.PhysicalID),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return nil, fmt.Errorf("event source mapping %s: reading queue %s: %w", id, queue.PhysicalID, err)
	}
	es := &EventSource{LogicalID: id, Function: fnID, Source: lambdahost.EventSource{
		QueueURL:  queue.PhysicalID,
		QueueARN:  attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		Region:    res.Region,
		BatchSize: intProp(props, "BatchSize", 10),
		Window:    time.Duration(intProp(props, "MaximumBatchingWindowInSeconds", 0)) * time.Second,
	}}
	if types, ok := props["FunctionResponseTypes"].([]any); ok {
		for _, t := range types {
			if t == "ReportBatchItemFailures" {
				es.Source.ReportBatchItemFailures = true
			}
		}
	}
	if scaling, ok := props["ScalingConfig"].(map[string]any); ok {
		es.Source.MaxConcurrency = intProp(scaling, "MaximumConcurrency", 0)
	}
	return es, nil
}

func intProp(props map[string]any, key string, def int) int {
	switch v := props[key].(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return def
}

// Hosts are the running functions of a Run.
type Hosts struct {
	mu    sync.Mutex
	hosts []*lambdahost.Host
}

// Kill kills the execution environment with the access key, in whichever function it is.
func (hs *Hosts) Kill(accessKeyID string) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, h := range hs.hosts {
		if h.Kill(accessKeyID) {
			return true
		}
	}
	return false
}

func (hs *Hosts) add(h *lambdahost.Host) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.hosts = append(hs.hosts, h)
}

// Run starts every function of the plan, polls its event sources and runs its schedules
// until ctx is cancelled, then stops the pollers and the functions. Function, poller and
// schedule output goes to log. The running functions are added to running, for Kill.
func Run(ctx context.Context, plan *Plan, sqsClient lambdahost.SQSClient, log io.Writer, running *Hosts) error {
	hosts := map[string]*lambdahost.Host{}
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
	}()
	for _, fn := range plan.Functions {
		f := fn.Host
		// One execution environment per concurrent batch, as Lambda scales with the mapping.
		f.Concurrency = 1
		for _, es := range plan.EventSources {
			if es.Function == fn.LogicalID && es.Source.MaxConcurrency > f.Concurrency {
				f.Concurrency = es.Source.MaxConcurrency
			}
		}
		for _, r := range plan.Routes {
			if r.Function == fn.LogicalID {
				f.Concurrency = max(f.Concurrency, 4) // requests in parallel
			}
		}
		h, err := lambdahost.New(f, log)
		if err != nil {
			return fmt.Errorf("starting function %s: %w", fn.LogicalID, err)
		}
		hosts[fn.LogicalID] = h
		running.add(h)
	}
	if plan.API != nil && len(plan.Routes) > 0 {
		srv, err := apiServer(plan, hosts, log, nil)
		if err != nil {
			return err
		}
		go func() { _ = srv.Serve(plan.API) }()
		defer srv.Close()
	}
	if plan.JWTAPI != nil && plan.JWT != nil && len(plan.Routes) > 0 {
		srv, err := apiServer(plan, hosts, log, plan.JWT)
		if err != nil {
			return err
		}
		go func() { _ = srv.Serve(plan.JWTAPI) }()
		defer srv.Close()
	}
	var wg sync.WaitGroup
	if plan.Schedules != nil {
		plan.Schedules.Log = log
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = plan.Schedules.Run(ctx)
		}()
	}
	errs := make(chan error, len(plan.EventSources))
	for _, es := range plan.EventSources {
		h, ok := hosts[es.Function]
		if !ok {
			return fmt.Errorf("event source mapping %s feeds %s, which is not a function of the stack", es.LogicalID, es.Function)
		}
		src := es.Source
		src.Log = log
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lambdahost.Poll(ctx, sqsClient, src, h); err != nil {
				errs <- fmt.Errorf("event source mapping %s: %w", es.LogicalID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// apiServer serves the plan's routes with their functions (local/apigw); with jwt, its IAM
// routes are JWT routes of that authorizer.
func apiServer(plan *Plan, hosts map[string]*lambdahost.Host, log io.Writer, jwt *apigw.JWT) (*http.Server, error) {
	api := &apigw.Server{Region: plan.Region, AccountID: plan.AccountID, APIID: "local", Log: log, JWT: jwt,
		// The emulator's credentials, which local/scripts/local-env.sh exports.
		Secrets: map[string]string{"test": "test"}}
	for _, r := range plan.Routes {
		h, ok := hosts[r.Function]
		if !ok {
			return nil, fmt.Errorf("route %s is served by %s, which is not a function of the stack", r.RouteKey, r.Function)
		}
		method, path, _ := strings.Cut(r.RouteKey, " ")
		auth := r.Auth
		if jwt != nil && auth == "AWS_IAM" {
			auth = "JWT"
		}
		api.Routes = append(api.Routes, apigw.Route{Method: method, Path: path, Auth: auth, Function: h})
	}
	return &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}, nil
}
