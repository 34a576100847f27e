//go:build emulator

package localdeploy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/delayed-push/delayed-push/local/motoapi"
)

// TestDeployIntoMoto deploys the local assembly (.local/cdk.out, make local-synth) into the moto
// at MOTO_ENDPOINT, which it resets first: make emulator-test runs it on a moto of its own.
func TestDeployIntoMoto(t *testing.T) {
	endpoint := os.Getenv("MOTO_ENDPOINT")
	if endpoint == "" {
		t.Fatal("MOTO_ENDPOINT is not set: make emulator-test starts moto and sets it")
	}
	assembly := filepath.Join("..", "..", ".local", "cdk.out")
	if _, err := os.Stat(filepath.Join(assembly, "manifest.json")); err != nil {
		t.Fatalf("no assembly to deploy (make local-synth writes it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := motoapi.Reset(ctx, endpoint); err != nil {
		t.Fatal(err)
	}
	res, err := Deploy(ctx, Options{Endpoint: endpoint, Assembly: assembly, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "CREATE_COMPLETE" || res.Outputs["StateMachineArn"] == "" || res.Outputs["PushQueueUrl"] == "" {
		t.Fatalf("result = %+v", res)
	}
	cfg := NewConfig(endpoint, "us-east-1")
	sm, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(res.Outputs["StateMachineArn"])})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(aws.ToString(sm.Definition), "${PushQueueUrl}") || !strings.Contains(aws.ToString(sm.Definition), res.Outputs["PushQueueUrl"]) {
		t.Fatalf("definition not substituted: %s", aws.ToString(sm.Definition))
	}
	esms, err := lambda.NewFromConfig(cfg).ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range esms.EventSourceMappings {
		if aws.ToString(m.State) != "Disabled" {
			b, _ := json.Marshal(m)
			t.Fatalf("event source mapping still enabled: %s", b)
		}
	}
	// The stack's queue URL (https://sqs.<region>.amazonaws.com/...) works against the emulator,
	// and with the mapping disabled a message is received once, by us.
	q := sqs.NewFromConfig(cfg)
	url := aws.String(res.Outputs["PushQueueUrl"])
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(`{"probe":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || got.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("received %+v", got.Messages)
	}
}
