//go:build e2e

// Package e2e runs the whole system on the local emulator: every test drives the deployed
// stack through the AWS APIs a backend uses and watches what a device would receive. Start the
// stack first (make e2e does: scripts/local-up.sh), or set LOCAL_ENDPOINT and LOCAL_STATE.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/localrun"
	"github.com/delayed-push/delayed-push/internal/motoapi"
)

var (
	root    = repoRoot()
	stack   *localrun.Stack
	logPath string
	runID   = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
)

func repoRoot() string {
	dir, _ := os.Getwd()
	for dir != "/" {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return "."
}

func TestMain(m *testing.M) {
	endpoint := os.Getenv("LOCAL_ENDPOINT")
	if endpoint == "" {
		port := os.Getenv("LOCAL_PORT")
		if port == "" {
			port = "4566"
		}
		endpoint = "http://127.0.0.1:" + port
	}
	state := os.Getenv("LOCAL_STATE")
	if state == "" {
		state = filepath.Join(root, ".local")
	}
	logPath = filepath.Join(state, "runner.log")
	var err error
	stack, err = localrun.Connect(context.Background(), endpoint, state)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err, "- start the local stack with scripts/local-up.sh (make e2e does)")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// name makes ids unique per run, so tests can share one stack and run in parallel.
func name(s string) string { return s + "-" + runID }

func output(t *testing.T, key string) string {
	t.Helper()
	v, err := stack.Output(key)
	require.NoError(t, err)
	return v
}

func device(t *testing.T, user, token string) string {
	t.Helper()
	arn, err := stack.RegisterDevice(context.Background(), user, name(token))
	require.NoError(t, err)
	return arn
}

func schedule(t *testing.T, execName, input string) *sfn.StartExecutionOutput {
	t.Helper()
	out, err := stack.SFN.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(output(t, "StateMachineArn")),
		Name:            aws.String(execName),
		Input:           aws.String(input),
	})
	require.NoError(t, err)
	return out
}

// fcmMessage checks a delivery is an FCM HTTP v1 message for SNS and returns its "message".
func fcmMessage(t *testing.T, d motoapi.Delivery) map[string]any {
	t.Helper()
	gcm, err := d.GCM()
	require.NoError(t, err, "payload %s", d.Message)
	v1, ok := gcm["fcmV1Message"].(map[string]any)
	require.True(t, ok, "no fcmV1Message in %v", gcm)
	msg, ok := v1["message"].(map[string]any)
	require.True(t, ok, "no message in %v", v1)
	assert.NotContains(t, msg, "token", "SNS fills in the device token")
	return msg
}

func waitStatus(t *testing.T, arn *string, timeout time.Duration) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := stack.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: arn})
		require.NoError(t, err)
		if out.Status != sfntypes.ExecutionStatusRunning || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertScheduledDelivery checks one scheduled push reached every endpoint once, not before
// its due time, and is recorded as sent; it reports the measured lateness.
func assertScheduledDelivery(t *testing.T, pushID string, due time.Time, wantSource string, endpoints ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ep := range endpoints {
		got, seen, err := stack.WaitForDeliveries(ctx, ep, 1, 30*time.Second)
		require.NoError(t, err)
		assert.False(t, seen.Before(due), "seen %s, due %s", seen, due)
		msg := fcmMessage(t, got[0])
		assert.Equal(t, "Your order shipped", msg["notification"].(map[string]any)["title"])
		assert.Equal(t, map[string]any{"orderId": "1234"}, msg["data"])
	}
	report, err := localrun.WaitForReport(ctx, logPath, pushID, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "sent", report.Outcome)
	assert.Equal(t, wantSource, report.DueSource)
	assert.GreaterOrEqual(t, report.LatenessMs, 0.0, "the sender handled the push before its due time")
	t.Logf("push %s: lateness %d ms (due from %s)", pushID, int(report.LatenessMs), report.DueSource)
	for _, ep := range endpoints {
		rec, err := stack.DeliveryRecord(ctx, pushID, ep)
		require.NoError(t, err)
		require.NotNil(t, rec, "no delivery record for %s", ep)
		assert.Equal(t, "sent", rec["status"])
		assert.NotEmpty(t, rec["snsMessageId"])
	}
	// Once: nothing more arrives.
	time.Sleep(2 * time.Second)
	for _, ep := range endpoints {
		got, err := stack.Deliveries(ctx, ep)
		require.NoError(t, err)
		assert.Len(t, got, 1, "endpoint %s", ep)
	}
}

const order = `"title":"Your order shipped","body":"Arriving Tuesday","data":{"orderId":"1234"}`

func TestDelayedPushReachesEveryDeviceOnceAfterItsDelay(t *testing.T) {
	t.Parallel()
	user := name("delay-user")
	phone, tablet := device(t, user, "delay-phone"), device(t, user, "delay-tablet")
	pushID := name("delay-push")
	out := schedule(t, pushID, `{"delaySeconds":2,"push":{"userId":"`+user+`",`+order+`}}`)
	due := aws.ToTime(out.StartDate).Add(2 * time.Second)
	assertScheduledDelivery(t, pushID, due, "delaySeconds", phone, tablet)
	assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, out.ExecutionArn, 5*time.Second).Status)
}

func TestSendAtPushArrivesAtItsTime(t *testing.T) {
	t.Parallel()
	user := name("sendat-user")
	ep := device(t, user, "sendat-phone")
	pushID := name("sendat-push")
	sendAt := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	schedule(t, pushID, `{"sendAt":"`+sendAt.Format("2006-01-02T15:04:05.000Z07:00")+`","push":{"userId":"`+user+`",`+order+`}}`)
	assertScheduledDelivery(t, pushID, sendAt, "sendAt", ep)
}

func TestImmediatePushSentToTheQueueArrives(t *testing.T) {
	t.Parallel()
	user := name("now-user")
	ep := device(t, user, "now-phone")
	pushID := name("now-push")
	_, err := stack.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl:    aws.String(output(t, "PushQueueUrl")),
		MessageBody: aws.String(`{"id":"` + pushID + `","userId":"` + user + `",` + order + `,"priority":"high","ttlSeconds":600,"collapseKey":"order-1234"}`),
	})
	require.NoError(t, err)
	got, _, err := stack.WaitForDeliveries(context.Background(), ep, 1, 20*time.Second)
	require.NoError(t, err)
	msg := fcmMessage(t, got[0])
	assert.Equal(t, map[string]any{"priority": "HIGH", "ttl": "600s", "collapse_key": "order-1234"}, msg["android"])
	report, err := localrun.WaitForReport(context.Background(), logPath, pushID, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "sentTimestamp", report.DueSource)
	t.Logf("immediate push: %d ms from enqueue to sender", int(report.LatenessMs))
}

func TestStoppedPushIsNeverSent(t *testing.T) {
	t.Parallel()
	user := name("stop-user")
	ep := device(t, user, "stop-phone")
	out := schedule(t, name("stop-push"), `{"delaySeconds":3,"push":{"userId":"`+user+`",`+order+`}}`)
	time.Sleep(500 * time.Millisecond)
	_, err := stack.SFN.StopExecution(context.Background(), &sfn.StopExecutionInput{
		ExecutionArn: out.ExecutionArn, Error: aws.String("Cancelled"), Cause: aws.String("order cancelled"),
	})
	require.NoError(t, err)
	assert.Equal(t, sfntypes.ExecutionStatusAborted, waitStatus(t, out.ExecutionArn, 5*time.Second).Status)
	time.Sleep(5 * time.Second) // past the due time
	got, err := stack.Deliveries(context.Background(), ep)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestSameExecutionNameSchedulesOnePush(t *testing.T) {
	t.Parallel()
	user := name("twice-user")
	ep := device(t, user, "twice-phone")
	pushID := name("twice-push")
	input := `{"delaySeconds":1,"push":{"userId":"` + user + `",` + order + `}}`
	first := schedule(t, pushID, input)
	second := schedule(t, pushID, input)
	assert.Equal(t, aws.ToString(first.ExecutionArn), aws.ToString(second.ExecutionArn), "a retried StartExecution is the same execution")
	_, err := stack.SFN.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(output(t, "StateMachineArn")), Name: aws.String(pushID),
		Input: aws.String(strings.Replace(input, `"delaySeconds":1`, `"delaySeconds":2`, 1)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	assert.True(t, errors.As(err, &exists), "another input under the same name is refused, got %v", err)

	_, _, err = stack.WaitForDeliveries(context.Background(), ep, 1, 20*time.Second)
	require.NoError(t, err)
	time.Sleep(3 * time.Second)
	got, err := stack.Deliveries(context.Background(), ep)
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestPoisonMessageEndsInTheDLQAndItsBatchIsDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user := name("poison-user")
	ep := device(t, user, "poison-phone")
	queue, dlq := output(t, "PushQueueUrl"), output(t, "DeadLetterQueueUrl")
	attrs, err := stack.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queue), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy},
	})
	require.NoError(t, err)
	var redrive struct {
		MaxReceiveCount json.Number `json:"maxReceiveCount"`
	}
	require.NoError(t, json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive))
	maxReceives, err := redrive.MaxReceiveCount.Int64()
	require.NoError(t, err)

	poison := `{"userId":"` + user + `","title":"` + name("poison") + `","colour":"red"}`
	entries := []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("poison"), MessageBody: aws.String(poison)},
		{Id: aws.String("ok1"), MessageBody: aws.String(`{"id":"` + name("batch-ok-1") + `","userId":"` + user + `","title":"one"}`)},
		{Id: aws.String("ok2"), MessageBody: aws.String(`{"id":"` + name("batch-ok-2") + `","userId":"` + user + `","title":"two"}`)},
	}
	sent, err := stack.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
	require.NoError(t, err)
	require.Empty(t, sent.Failed)
	var poisonID string
	for _, s := range sent.Successful {
		if aws.ToString(s.Id) == "poison" {
			poisonID = aws.ToString(s.MessageId)
		}
	}

	_, _, err = stack.WaitForDeliveries(ctx, ep, 2, 20*time.Second)
	require.NoError(t, err, "the valid messages of the batch are delivered")

	// The poison message is retried after each visibility timeout, then redriven.
	deadline := time.Now().Add(3 * time.Minute)
	var parked *sqstypes.Message
	for parked == nil && time.Now().Before(deadline) {
		out, err := stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		require.NoError(t, err)
		for _, m := range out.Messages {
			if aws.ToString(m.Body) == poison {
				parked = &m
			}
		}
	}
	require.NotNil(t, parked, "the poison message did not reach the dead-letter queue")
	_, err = stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: parked.ReceiptHandle})
	require.NoError(t, err)

	reports, err := localrun.SenderReports(logPath, poisonID)
	require.NoError(t, err)
	require.Len(t, reports, int(maxReceives), "one attempt per receive before the DLQ")
	for _, r := range reports {
		assert.Equal(t, "invalid", r.Outcome)
		assert.Contains(t, r.Field, "colour")
		assert.Contains(t, r.Error, "unknown field")
	}
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Len(t, got, 2, "the poison message was never published")
}

func TestDisabledEndpointIsRecordedAndNotRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user := name("disabled-user")
	ep := device(t, user, "disabled-phone")
	_, err := stack.SNS.SetEndpointAttributes(ctx, &sns.SetEndpointAttributesInput{
		EndpointArn: aws.String(ep), Attributes: map[string]string{"Enabled": "false"},
	})
	require.NoError(t, err)
	pushID := name("disabled-push")
	_, err = stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(output(t, "PushQueueUrl")),
		MessageBody: aws.String(`{"id":"` + pushID + `","userId":"` + user + `","title":"hello"}`),
	})
	require.NoError(t, err)
	report, err := localrun.WaitForReport(ctx, logPath, pushID, 20*time.Second)
	require.NoError(t, err)
	rec, err := stack.DeliveryRecord(ctx, pushID, ep)
	require.NoError(t, err)
	require.NotNil(t, rec)
	assert.Equal(t, "failed", rec["status"])
	assert.Contains(t, rec["error"], "EndpointDisabled")
	time.Sleep(2 * time.Second)
	reports, err := localrun.SenderReports(logPath, pushID)
	require.NoError(t, err)
	assert.Len(t, reports, 1, "handled once, not retried (outcome %s)", report.Outcome)
}

func TestInvalidSchedulesFailAtOnceWithTheirCause(t *testing.T) {
	t.Parallel()
	push := `"push":{"userId":"u",` + order + `}`
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := map[string]struct{ input, cause string }{
		"negative delay": {`{"delaySeconds":-1,` + push + `}`, `"delaySeconds" must be a number from 0 to 31536000`},
		"over a year":    {`{"delaySeconds":31536001,` + push + `}`, `"delaySeconds" must be a number from 0 to 31536000`},
		"delay as text":  {`{"delaySeconds":"60",` + push + `}`, `"delaySeconds" must be a number`},
		"sendAt in past": {`{"sendAt":"` + past + `",` + push + `}`, `"sendAt" is before the execution started`},
		"sendAt garbage": {`{"sendAt":"tomorrow at nine",` + push + `}`, `"sendAt" must be an RFC 3339 timestamp`},
		"both":           {`{"delaySeconds":5,"sendAt":"2030-01-01T00:00:00Z",` + push + `}`, `not both`},
		"neither":        {`{` + push + `}`, `give exactly one of "delaySeconds" and "sendAt"`},
		"no push":        {`{"delaySeconds":5}`, `no "push" object`},
	}
	for label, c := range cases {
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			out := schedule(t, name("invalid-"+strings.ReplaceAll(label, " ", "-")), c.input)
			desc := waitStatus(t, out.ExecutionArn, 10*time.Second)
			assert.Equal(t, sfntypes.ExecutionStatusFailed, desc.Status)
			assert.Equal(t, "DelayedPush.InvalidSchedule", aws.ToString(desc.Error))
			assert.Contains(t, aws.ToString(desc.Cause), c.cause)
			assert.WithinDuration(t, aws.ToTime(desc.StartDate), aws.ToTime(desc.StopDate), 3*time.Second, "fails before any wait")
		})
	}
}

// A backend in any language schedules with the AWS CLI: the same flow, no Go involved.
func TestScheduleFromTheAWSCLI(t *testing.T) {
	t.Parallel()
	cli := filepath.Join(root, ".venv", "bin", "aws")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("the AWS CLI is not installed in .venv (make deps installs it): %v", err)
	}
	user := name("cli-user")
	ep := device(t, user, "cli-phone")
	pushID := name("cli-push")
	cmd := exec.Command(cli, "--endpoint-url", stack.Endpoint, "--output", "json",
		"stepfunctions", "start-execution",
		"--state-machine-arn", output(t, "StateMachineArn"),
		"--name", pushID,
		"--input", `{"delaySeconds":2,"push":{"userId":"`+user+`",`+order+`}}`)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var started struct {
		ExecutionArn string  `json:"executionArn"`
		StartDate    float64 `json:"startDate"`
	}
	require.NoError(t, json.Unmarshal(out, &started), "%s", out)
	require.Contains(t, started.ExecutionArn, pushID)
	due := time.UnixMilli(int64(started.StartDate * 1000)).Add(2 * time.Second)
	assertScheduledDelivery(t, pushID, due, "delaySeconds", ep)
}
