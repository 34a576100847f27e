package lambdahost_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/local/lambdahost"
)

// Running the sender the way the stack wires it: an SQS event source mapping with batch size
// 10, no batching window, ReportBatchItemFailures and a maximum concurrency, against an
// emulator at http://127.0.0.1:5000.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const emulator = "http://127.0.0.1:5000"

	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"), config.WithBaseEndpoint(emulator))
	if err != nil {
		log.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		log.Fatal(err)
	}

	host, err := lambdahost.New(lambdahost.Function{
		Name:          "sender",
		BootstrapPath: "cdk.out/asset.0123abcd/bootstrap", // from the synthesized template
		Region:        cfg.Region,
		Env:           map[string]string{"DEVICES_TABLE": "devices", "DELIVERIES_TABLE": "deliveries"},
		Credentials:   creds,
		EndpointURL:   emulator,
		Timeout:       30 * time.Second,
		MemoryMiB:     256,
		Concurrency:   10,
	}, os.Stderr)
	if err != nil {
		log.Fatal(err) // e.g. qemu-user-static missing on an amd64 machine
	}
	defer host.Close()

	// Poll returns once ctx is cancelled and in-flight batches are done.
	go func() {
		_ = lambdahost.Poll(ctx, sqs.NewFromConfig(cfg), lambdahost.EventSource{
			QueueURL:                emulator + "/000000000000/push-queue",
			QueueARN:                "arn:aws:sqs:eu-west-1:000000000000:push-queue",
			BatchSize:               10,
			Window:                  0,
			ReportBatchItemFailures: true,
			MaxConcurrency:          10,
			Log:                     os.Stderr,
		}, host)
	}()

	// ... drive the system under test, then cancel() and host.Close().
}
