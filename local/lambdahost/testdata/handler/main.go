// Command handler is a tiny Lambda function for lambdahost's integration tests. Built with
// GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc, like the real functions.
//
// A payload {"action": ...} selects the behaviour; an SQS event fails every record whose body
// is "fail" through batchItemFailures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Records json.RawMessage `json:"Records"`
	Action  string          `json:"action"`
	Sleep   string          `json:"sleep"`
	Message string          `json:"message"`
}

// invocations counts invocations in this process, to observe environment reuse.
var invocations int

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	invocations++
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	if req.Records != nil {
		return handleSQS(raw)
	}
	switch req.Action {
	case "echo":
		if d, err := time.ParseDuration(req.Sleep); err == nil {
			time.Sleep(d) // keeps the environment busy, so that a second one is started
		}
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		cwd, _ := os.Getwd()
		fmt.Println("echo handler says hello")
		return map[string]any{
			"message":     req.Message,
			"requestId":   lc.AwsRequestID,
			"arn":         lc.InvokedFunctionArn,
			"deadlineMs":  deadline.UnixMilli(),
			"invocations": invocations,
			"pid":         os.Getpid(),
			"cwd":         cwd,
			"env":         env,
		}, nil
	case "error":
		return nil, errors.New(req.Message)
	case "sleep":
		d, err := time.ParseDuration(req.Sleep)
		if err != nil {
			return nil, err
		}
		time.Sleep(d)
		return map[string]any{"slept": req.Sleep}, nil
	case "panic":
		panic(req.Message)
	case "exit":
		os.Exit(3)
	}
	return nil, fmt.Errorf("unknown action %q", req.Action)
}

func handleSQS(raw json.RawMessage) (events.SQSEventResponse, error) {
	var ev events.SQSEvent
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &ev); err != nil {
		return resp, err
	}
	for _, r := range ev.Records {
		if r.Body == "fail" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

func main() {
	if os.Getenv("TEST_FAIL_INIT") != "" {
		fmt.Fprintln(os.Stderr, "init failed on purpose")
		os.Exit(1)
	}
	lambda.Start(handle)
}
