// Command minimal is the yardstick of the cold-start benchmark (BENCHMARKS.md): the least an
// SQS-triggered Go Lambda can be, aws-lambda-go's runtime loop with a handler that does
// nothing, built as the construct builds every function
// (stacks/delayedpush/internal/gobuild/gobuild.go).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return events.SQSEventResponse{}, nil
}

func main() { lambda.Start(handle) }
