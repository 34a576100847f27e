//go:build e2e

// Package e2e runs the whole system on the local emulator: every test drives the deployed
// stack through the AWS APIs a backend uses and watches what a device would receive. Start the
// stack first (make e2e does: local/scripts/local-up.sh), or set LOCAL_ENDPOINT and LOCAL_STATE.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/local/faultproxy"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/local/motoapi"
)

var (
	root    = localrun.RepoRoot()
	stack   *localrun.Stack
	logPath string
	runID   = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
)

func TestMain(m *testing.M) {
	stack = localrun.ConnectOrExit("e2e")
	logPath = stack.LogPath()
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

func waitParked(t *testing.T, pushID string, timeout time.Duration) sqstypes.Message {
	t.Helper()
	m, err := stack.WaitParked(context.Background(), pushID, timeout)
	require.NoError(t, err)
	return m
}

func waitStatus(t *testing.T, arn *string, timeout time.Duration) *sfn.DescribeExecutionOutput {
	t.Helper()
	out, err := stack.WaitExecution(context.Background(), arn, timeout)
	require.NoError(t, err)
	return out
}

// waitStopped checks that a stopped execution is ABORTED. AWS says so as soon as
// StopExecution has answered; the emulator once the execution's own thread has seen the stop
// (local/README.md, "Timing in the end-to-end tests"). So it waits for the status to leave
// RUNNING.
func waitStopped(t *testing.T, arn string, msgAndArgs ...any) *sfn.DescribeExecutionOutput {
	t.Helper()
	desc := waitStatus(t, aws.String(arn), 60*time.Second)
	assert.Equal(t, sfntypes.ExecutionStatusAborted, desc.Status, msgAndArgs...)
	return desc
}

// assertScheduledDelivery checks one scheduled push reached every endpoint once, not before
// its due time, and is recorded as sent; it reports the measured lateness.
func assertScheduledDelivery(t *testing.T, pushID string, due time.Time, wantSource string, endpoints ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ep := range endpoints {
		got, seen, err := stack.WaitForDeliveries(ctx, ep, 1, 60*time.Second)
		require.NoError(t, err)
		assert.False(t, seen.Before(due), "seen %s, due %s", seen, due)
		msg := fcmMessage(t, got[0])
		assert.Equal(t, "Your order shipped", msg["notification"].(map[string]any)["title"])
		assert.Equal(t, map[string]any{"orderId": "1234", "pushId": pushID}, msg["data"], "the app can drop a repeat by its id")
	}
	// The sender's last report on the push's one message: every publish is made by then.
	reports := senderFinished(t, pushID, 1, 60*time.Second)
	report := reports[len(reports)-1]
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
	// Once: the sender is finished with the push's only message (above), so nothing more
	// arrives.
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
	assertScheduledDelivery(t, pushID, due, "dueAt", phone, tablet)
	assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, out.ExecutionArn, 30*time.Second).Status)
}

// A delay written 2.0, 2e0 or 0.2e1 is the integer 2 by the contract: it waits and is
// delivered, under the execution name (the push has no id), not failed at the Wait.
func TestDelaysInAnyIntegerNotationAreDelivered(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"2.0", "2e0", "0.2e1"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			user := name("form-user-" + slug(form))
			ep := device(t, user, "form-phone-"+slug(form))
			pushID := name("form-push-" + slug(form))
			out := schedule(t, pushID, `{"delaySeconds":`+form+`,"push":{"userId":"`+user+`",`+order+`}}`)
			due := aws.ToTime(out.StartDate).Add(2 * time.Second)
			assertScheduledDelivery(t, pushID, due, "dueAt", ep)
			assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, out.ExecutionArn, 30*time.Second).Status)
		})
	}
}

func TestSendAtPushArrivesAtItsTime(t *testing.T) {
	t.Parallel()
	user := name("sendat-user")
	ep := device(t, user, "sendat-phone")
	pushID := name("sendat-push")
	sendAt := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	schedule(t, pushID, `{"sendAt":"`+sendAt.Format("2006-01-02T15:04:05.000Z07:00")+`","push":{"userId":"`+user+`",`+order+`}}`)
	assertScheduledDelivery(t, pushID, sendAt, "dueAt", ep)
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
	got, _, err := stack.WaitForDeliveries(context.Background(), ep, 1, 60*time.Second)
	require.NoError(t, err)
	msg := fcmMessage(t, got[0])
	assert.Equal(t, map[string]any{"priority": "HIGH", "ttl": "600s", "collapse_key": "order-1234",
		"notification": map[string]any{"tag": pushID}}, msg["android"], "a repeat replaces the notification shown")
	report, err := localrun.WaitForReport(context.Background(), logPath, pushID, 60*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "sentTimestamp", report.DueSource)
	t.Logf("immediate push: %d ms from enqueue to sender", int(report.LatenessMs))
}

func TestStoppedPushIsNeverSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user := name("stop-user")
	ep := device(t, user, "stop-phone")
	// Ten seconds: stopped while it waits, however slow the machine.
	out := schedule(t, name("stop-push"), `{"delaySeconds":10,"push":{"userId":"`+user+`",`+order+`}}`)
	waitHistory(t, out.ExecutionArn, sfntypes.HistoryEventTypeWaitStateEntered)
	_, err := stack.SFN.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: out.ExecutionArn, Error: aws.String("Cancelled"), Cause: aws.String("order cancelled"),
	})
	require.NoError(t, err)
	assert.Equal(t, sfntypes.ExecutionStatusAborted, waitStatus(t, out.ExecutionArn, 30*time.Second).Status)
	// Past its due time: a push to the same user, scheduled after it with the same delay, has
	// reached the device and the sender is finished with it.
	witness := name("stop-witness")
	schedule(t, witness, `{"delaySeconds":10,"push":{"userId":"`+user+`",`+order+`}}`)
	deliveredOnce(t, ep, witness, 60*time.Second)
	h, err := stack.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn})
	require.NoError(t, err)
	for _, e := range h.Events {
		assert.NotEqual(t, sfntypes.HistoryEventTypeTaskStateEntered, e.Type, "the stopped execution never reached SendPush")
	}
	reports, err := localrun.SenderReports(logPath, name("stop-push"))
	require.NoError(t, err)
	assert.Empty(t, reports, "the sender never saw it")
}

// waitHistory waits until the execution's history has an event of the type.
func waitHistory(t *testing.T, arn *string, want sfntypes.HistoryEventType) {
	t.Helper()
	ctx := context.Background()
	err := localrun.Poll(ctx, 60*time.Second, 100*time.Millisecond, func() (bool, error) {
		h, err := stack.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
		if err != nil {
			return false, err
		}
		for _, e := range h.Events {
			if e.Type == want {
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "no %s in the history of %s", want, aws.ToString(arn))
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

	// One execution, which queued the push once; the sender is finished with it.
	assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, first.ExecutionArn, 60*time.Second).Status)
	deliveredOnce(t, ep, pushID, 60*time.Second)
}

func TestPoisonMessageIsParkedWithItsReasonAndItsBatchIsDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user := name("poison-user")
	ep := device(t, user, "poison-phone")
	queue := output(t, "PushQueueUrl")

	poisonID := name("poison")
	poison := `{"id":"` + poisonID + `","userId":"` + user + `","title":"t","colour":"red"}`
	entries := []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("poison"), MessageBody: aws.String(poison)},
		{Id: aws.String("ok1"), MessageBody: aws.String(`{"id":"` + name("batch-ok-1") + `","userId":"` + user + `","title":"one"}`)},
		{Id: aws.String("ok2"), MessageBody: aws.String(`{"id":"` + name("batch-ok-2") + `","userId":"` + user + `","title":"two"}`)},
	}
	sent, err := stack.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
	require.NoError(t, err)
	require.Empty(t, sent.Failed)

	_, _, err = stack.WaitForDeliveries(ctx, ep, 2, 60*time.Second)
	require.NoError(t, err, "the valid messages of the batch are delivered")

	// Parked on the first receive: retrying cannot fix it. The reason travels with it.
	parked := waitParked(t, poisonID, 60*time.Second)
	assert.Equal(t, poison, aws.ToString(parked.Body), "parked as sent")
	assert.Contains(t, aws.ToString(parked.MessageAttributes["parkReason"].StringValue), `invalid colour: unknown field`)
	assert.Equal(t, "colour", aws.ToString(parked.MessageAttributes["invalidField"].StringValue))
	assert.Equal(t, "1", aws.ToString(parked.MessageAttributes["receiveCount"].StringValue))
	_, err = stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(output(t, "DeadLetterQueueUrl")), ReceiptHandle: parked.ReceiptHandle})
	require.NoError(t, err)

	// The sender parks it before it logs its report.
	reports := senderFinished(t, poisonID, 1, 60*time.Second)
	require.Len(t, reports, 1, "handled once, logged under its own id")
	assert.Equal(t, "invalid", reports[0].Outcome)
	assert.Equal(t, "parked", reports[0].Action)
	assert.Equal(t, "colour", reports[0].Field)
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
	// Done: the message is deleted from the queue, so it cannot come back for a retry.
	reports := senderFinished(t, pushID, 1, 60*time.Second)
	rec, err := stack.DeliveryRecord(ctx, pushID, ep)
	require.NoError(t, err)
	require.NotNil(t, rec)
	assert.Equal(t, "failed", rec["status"])
	assert.Contains(t, rec["error"], "EndpointDisabled")
	require.Len(t, reports, 1, "handled once, not retried")
	assert.Equal(t, "done", reports[0].Action, "outcome %s", reports[0].Outcome)
}

type scheduleVectors struct {
	Invalid []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
	} `json:"invalid"`
	Valid []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"valid"`
	RefusedAtOnce []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	} `json:"refusedAtOnce"`
}

// vectors are schedule/testdata/vectors.json, the cases schedule.Parse's unit test answers.
func vectors(t *testing.T) scheduleVectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "schedule", "testdata", "vectors.json"))
	require.NoError(t, err)
	var v scheduleVectors
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func slug(s string) string {
	return strings.NewReplacer(" ", "-", "'", "", ".", "").Replace(s)
}

// The state machine gives every bad input the same error text as the Go package, at once.
func TestInvalidSchedulesFailAtOnceWithTheGoCause(t *testing.T) {
	t.Parallel()
	for _, c := range vectors(t).Invalid {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			// Most cases are otherwise due in 5 s; they run due in an hour instead (the same
			// error: the delay is not what is wrong with them), so that "fails before any wait"
			// is the status within a minute, not a stopwatch that a busy machine can fool.
			input := dueInFive.ReplaceAllString(string(c.Input), `${1}3600${2}`)
			out := schedule(t, name("invalid-"+slug(c.Name)), input)
			desc := waitStatus(t, out.ExecutionArn, 60*time.Second)
			assert.Equal(t, sfntypes.ExecutionStatusFailed, desc.Status, "fails before any wait")
			assert.Equal(t, "DelayedPush.InvalidSchedule", aws.ToString(desc.Error))
			assert.Equal(t, c.Error, aws.ToString(desc.Cause))
		})
	}
}

// dueInFive is a vector's top-level "delaySeconds": 5 (up to the 5), when it comes first.
var dueInFive = regexp.MustCompile(`^(\{\s*"delaySeconds"\s*:\s*)5(\s*,)`)

// A number beyond a double: Go refuses it with the field named; the reference JSONata
// library raises in the check (statemachines' unit test), so on AWS the execution fails
// before any wait. On the emulator too it fails, and nothing is sent.
func TestNumbersBeyondADoubleFailAtOnce(t *testing.T) {
	t.Parallel()
	for _, c := range vectors(t).RefusedAtOnce {
		if !strings.Contains(c.Name, "delay") {
			// Within the push, the emulator drops the key before the check sees it and sends
			// the push without it: a difference of moto's, not AWS's (local/RESEARCH.md).
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			out := schedule(t, name("refused-"+slug(c.Name)), string(c.Input))
			desc := waitStatus(t, out.ExecutionArn, 60*time.Second)
			// The emulator reads such a number in its own way (local/RESEARCH.md, patch 12):
			// a delay is "absent", so the check fails it, naming the field.
			assert.Equal(t, sfntypes.ExecutionStatusFailed, desc.Status)
			t.Logf("%s: %s: %s", c.Name, aws.ToString(desc.Error), aws.ToString(desc.Cause))
		})
	}
}

// Every valid input passes the check: the push is queued when due, or the execution is still
// waiting for its due time when a bad input started after it has failed already (a bad input
// waits for nothing: it fails in SendPush at once). Those still waiting are stopped: their
// recipients are made up.
func TestValidSchedulesPassTheCheck(t *testing.T) {
	t.Parallel()
	for _, c := range vectors(t).Valid {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			out := schedule(t, name("valid-"+slug(c.Name)), string(c.Input))
			defer func() {
				_, _ = stack.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: out.ExecutionArn})
			}()
			waitHistory(t, out.ExecutionArn, sfntypes.HistoryEventTypeWaitStateEntered)
			control := schedule(t, name("valid-control-"+slug(c.Name)), `{"delaySeconds":3600,"push":{"title":"no recipient"}}`)
			assert.Equal(t, sfntypes.ExecutionStatusFailed, waitStatus(t, control.ExecutionArn, 60*time.Second).Status)
			desc, err := stack.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
			require.NoError(t, err)
			if desc.Status == sfntypes.ExecutionStatusRunning {
				return // still waiting: it passed the check
			}
			assert.Equal(t, sfntypes.ExecutionStatusSucceeded, desc.Status, "%s: %s", aws.ToString(desc.Error), aws.ToString(desc.Cause))
		})
	}
}

// A producer whose clock runs ahead sends a sendAt already past: the push goes out at once.
func TestSendAtSecondsInThePastIsSentNow(t *testing.T) {
	t.Parallel()
	user := name("past-user")
	ep := device(t, user, "past-phone")
	pushID := name("past-push")
	sendAt := time.Now().Add(-5 * time.Second).UTC().Truncate(time.Second)
	out := schedule(t, pushID, `{"sendAt":"`+sendAt.Format(time.RFC3339)+`","push":{"userId":"`+user+`",`+order+`}}`)
	// At once: SendPush before the 5 s wait of a push scheduled after it has ended. Compared
	// in the emulator's own history, not by a stopwatch: on a busy machine both are late, and
	// the one that waits is still the later.
	witness := schedule(t, name("past-witness"), `{"delaySeconds":5,"push":{"userId":"`+name("past-nobody")+`","title":"t"}}`)
	_, _, err := stack.WaitForDeliveries(context.Background(), ep, 1, 60*time.Second)
	require.NoError(t, err)
	assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, out.ExecutionArn, 30*time.Second).Status)
	assert.Equal(t, sfntypes.ExecutionStatusSucceeded, waitStatus(t, witness.ExecutionArn, 60*time.Second).Status)
	sent, waited := eventTime(t, out.ExecutionArn, sfntypes.HistoryEventTypeTaskStateEntered), eventTime(t, witness.ExecutionArn, sfntypes.HistoryEventTypeWaitStateExited)
	assert.True(t, sent.Before(waited), "sent at once: SendPush at %s, the 5 s wait of one started after it ended at %s", sent, waited)
}

// eventTime is when the first event of the type happened in the execution's history.
func eventTime(t *testing.T, arn *string, want sfntypes.HistoryEventType) time.Time {
	t.Helper()
	h, err := stack.SFN.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
	require.NoError(t, err)
	for _, e := range h.Events {
		if e.Type == want {
			return aws.ToTime(e.Timestamp)
		}
	}
	require.Failf(t, "no such event", "no %s in the history of %s", want, aws.ToString(arn))
	return time.Time{}
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
	assertScheduledDelivery(t, pushID, due, "dueAt", ep)
}

// --- Faults: each ends with every push delivered per the guarantee, or parked with its
// reason and brought back by a redrive (docs/guarantees.md, "Delivery guarantees"). ---

// fault installs a fault-proxy rule for the rest of the test and returns it (with its ID).
func fault(t *testing.T, r faultproxy.Rule) faultproxy.Rule {
	t.Helper()
	ctx := context.Background()
	added, err := stack.Faults.Add(ctx, r)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Faults.Remove(ctx, added.ID) })
	return added
}

func sendNow(t *testing.T, body string) {
	t.Helper()
	_, err := stack.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(output(t, "PushQueueUrl")), MessageBody: aws.String(body)})
	require.NoError(t, err)
}

// deliveredOnce waits for one delivery on ep, then checks no second one follows: once the
// sender is finished with the push's message (its report says done or parked, and every
// publish of that invocation is made by then), anything more would already be there. A push
// that reaches the sender as more than one message waits for them with senderFinished first.
func deliveredOnce(t *testing.T, ep, pushID string, timeout time.Duration) {
	t.Helper()
	got, _, err := stack.WaitForDeliveries(context.Background(), ep, 1, timeout)
	require.NoError(t, err)
	assert.Equal(t, pushID, got[0].PushID())
	senderFinished(t, pushID, 1, timeout)
	got, err = stack.Deliveries(context.Background(), ep)
	require.NoError(t, err)
	assert.Len(t, got, 1, "exactly once on %s", ep)
}

// senderFinished waits until the sender is finished with n messages of the push: n reports
// whose action is done or parked (a retried or requeued message is reported again later).
// It is the signal the tests wait for before they check that something did not happen.
func senderFinished(t *testing.T, pushID string, n int, timeout time.Duration) []localrun.SenderReport {
	t.Helper()
	var reports []localrun.SenderReport
	finished := 0
	err := localrun.Poll(context.Background(), timeout, 100*time.Millisecond, func() (bool, error) {
		var err error
		reports, err = localrun.SenderReports(logPath, pushID)
		finished = 0
		for _, r := range reports {
			if r.Action == "done" || r.Action == "parked" {
				finished++
			}
		}
		return finished >= n, err
	})
	require.NoError(t, err, "the sender finished %d of %d messages of push %s: %+v", finished, n, pushID, reports)
	return reports
}

func record(t *testing.T, pushID, ep string) map[string]string {
	t.Helper()
	rec, err := stack.DeliveryRecord(context.Background(), pushID, ep)
	require.NoError(t, err)
	require.NotNil(t, rec, "no delivery record for %s on %s", pushID, ep)
	return rec
}

// waitRecord waits for the delivery record to reach status (the mark follows the publish) and
// returns it.
func waitRecord(t *testing.T, pushID, ep, status string) map[string]string {
	t.Helper()
	var rec map[string]string
	err := localrun.Poll(context.Background(), 60*time.Second, 100*time.Millisecond, func() (bool, error) {
		var err error
		rec, err = stack.DeliveryRecord(context.Background(), pushID, ep)
		return rec != nil && rec["status"] == status, err
	})
	require.NoError(t, err, "record of %s on %s: %v", pushID, ep, rec)
	return rec
}

// allFinished waits until the sender is finished with one message of each push (see
// senderFinished), reading the log once a poll.
func allFinished(t *testing.T, pushIDs []string, timeout time.Duration) {
	t.Helper()
	left := len(pushIDs)
	err := localrun.Poll(context.Background(), timeout, 500*time.Millisecond, func() (bool, error) {
		all, err := localrun.AllSenderReports(logPath)
		left = 0
		for _, id := range pushIDs {
			finished := false
			for _, r := range all[id] {
				finished = finished || r.Action == "done" || r.Action == "parked"
			}
			if !finished {
				left++
			}
		}
		return left == 0, err
	})
	require.NoError(t, err, "the sender has not finished with %d of %d pushes", left, len(pushIDs))
}

// waitFunctionLog waits until a function logged a line holding every one of the strings.
func waitFunctionLog(t *testing.T, must ...string) {
	t.Helper()
	err := localrun.Poll(context.Background(), 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		raw, err := os.ReadFile(logPath)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			all := true
			for _, m := range must {
				all = all && strings.Contains(line, m)
			}
			if all {
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "no function logged %q (%s)", must, logPath)
}

func actions(t *testing.T, pushID string) []string {
	t.Helper()
	reports, err := localrun.SenderReports(logPath, pushID)
	require.NoError(t, err)
	var out []string
	for _, r := range reports {
		out = append(out, r.Action)
	}
	return out
}

func TestFaultThrottledPublishIsRetriedAndDeliveredOnce(t *testing.T) {
	t.Parallel()
	user, pushID := name("throttle-user"), name("throttle-push")
	ep := device(t, user, "throttle-phone")
	// Three throttled answers: more than the SDK's own retries, so the queue retries.
	fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID,
		Action: faultproxy.ActionError, Status: 400, Code: "Throttling", Message: "Rate exceeded", Times: 3})
	sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
	deliveredOnce(t, ep, pushID, 60*time.Second)
	rec := record(t, pushID, ep)
	assert.Equal(t, "sent", rec["status"])
	assert.Equal(t, "2", rec["attempts"])
	assert.Equal(t, []string{"retry", "done"}, actions(t, pushID))
}

func TestFaultSNS5xxIsRetriedAtOnce(t *testing.T) {
	t.Parallel()
	user, pushID := name("5xx-user"), name("5xx-push")
	ep := device(t, user, "5xx-phone")
	fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID,
		Action: faultproxy.ActionError, Status: 500, Code: "InternalError", Times: 1})
	sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
	deliveredOnce(t, ep, pushID, 60*time.Second)
	assert.Equal(t, []string{"done"}, actions(t, pushID), "tried again within the invocation")
}

// SNS accepted the publish but its answer was lost: the one case where the guarantee decides.
func TestFaultLostPublishAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("at least once: sent again, with the same push id", func(t *testing.T) {
		t.Parallel()
		user, pushID := name("lost-alo-user"), name("lost-alo-push")
		ep := device(t, user, "lost-alo-phone")
		fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID,
			Action: faultproxy.ActionErrorAfter, Status: 500, Code: "InternalError", Times: 1})
		sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
		got, _, err := stack.WaitForDeliveries(ctx, ep, 2, 60*time.Second)
		require.NoError(t, err)
		assert.Equal(t, pushID, got[0].PushID())
		assert.Equal(t, pushID, got[1].PushID(), "the app can drop the repeat by its id")
		assert.Equal(t, "2", waitRecord(t, pushID, ep, "sent")["publishes"], "the record shows the device may have it twice")
	})
	t.Run("at most once: recorded uncertain, never sent again", func(t *testing.T) {
		t.Parallel()
		user, pushID := name("lost-amo-user"), name("lost-amo-push")
		ep := device(t, user, "lost-amo-phone")
		fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID,
			Action: faultproxy.ActionErrorAfter, Status: 500, Code: "InternalError"})
		sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t","delivery":"at-most-once"}`)
		deliveredOnce(t, ep, pushID, 60*time.Second)
		rec := record(t, pushID, ep)
		assert.Equal(t, "uncertain", rec["status"])
		assert.Contains(t, rec["error"], "publish outcome unknown")
	})
}

func TestFaultDeliveryLogConflicts(t *testing.T) {
	t.Parallel()
	t.Run("an injected conditional-write conflict is retried", func(t *testing.T) {
		t.Parallel()
		user, pushID := name("ccf-user"), name("ccf-push")
		ep := device(t, user, "ccf-phone")
		fault(t, faultproxy.Rule{Service: "dynamodb", Operation: "UpdateItem", Match: pushID,
			Action: faultproxy.ActionError, Status: 400, Code: "ConditionalCheckFailedException", Times: 1})
		sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
		deliveredOnce(t, ep, pushID, 60*time.Second)
		assert.Equal(t, []string{"requeued", "done"}, actions(t, pushID))
	})
	t.Run("copies of one push racing each other publish once", func(t *testing.T) {
		t.Parallel()
		user, pushID := name("race-user"), name("race-push")
		phone, tablet := device(t, user, "race-phone"), device(t, user, "race-tablet")
		body := aws.String(`{"id":"` + pushID + `","userId":"` + user + `","title":"t"}`)
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i := range 5 {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: body})
		}
		_, err := stack.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(output(t, "PushQueueUrl")), Entries: entries})
		require.NoError(t, err)
		// Every copy ends done, once (one that found the push busy is requeued first).
		senderFinished(t, pushID, len(entries), 60*time.Second)
		deliveredOnce(t, phone, pushID, 60*time.Second)
		deliveredOnce(t, tablet, pushID, 60*time.Second)
	})
}

// A record left "sending" by an attempt that died, then the push: the reproduction.
func TestFaultAbandonedClaimIsTakenOverNotParked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, pushID := name("abandoned-user"), name("abandoned-push")
	ep := device(t, user, "abandoned-phone")
	leaseEnd := time.Now().Add(4 * time.Second)
	_, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(output(t, "DeliveriesTableName")),
		Item: map[string]ddbtypes.AttributeValue{
			"pushId": &ddbtypes.AttributeValueMemberS{Value: pushID}, "endpointArn": &ddbtypes.AttributeValueMemberS{Value: ep},
			"status": &ddbtypes.AttributeValueMemberS{Value: "sending"}, "claimToken": &ddbtypes.AttributeValueMemberS{Value: "dead"},
			"leaseUntil": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(leaseEnd.UnixMilli(), 10)},
			"attempts":   &ddbtypes.AttributeValueMemberN{Value: "1"},
		},
	})
	require.NoError(t, err)
	sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
	deliveredOnce(t, ep, pushID, 60*time.Second)
	assert.Equal(t, []string{"requeued", "done"}, actions(t, pushID), "waited for the lease, used no receive")
	assert.Equal(t, "2", record(t, pushID, ep)["attempts"])
}

// Not parallel: the kill takes the whole invocation down, with whatever else it was sending.
func TestFaultSenderKilledBetweenPublishAndRecord(t *testing.T) {
	ctx := context.Background()
	visibility := queueVisibility(t)
	t.Run("at least once: sent again after the visibility timeout, with the same push id", func(t *testing.T) {
		user, pushID := name("kill-alo-user"), name("kill-alo-push")
		ep := device(t, user, "kill-alo-phone")
		fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID, Action: faultproxy.ActionKillAfter, Times: 1})
		sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
		got, _, err := stack.WaitForDeliveries(ctx, ep, 2, visibility+60*time.Second)
		require.NoError(t, err)
		assert.Equal(t, []string{pushID, pushID}, []string{got[0].PushID(), got[1].PushID()})
		assert.Equal(t, "2", waitRecord(t, pushID, ep, "sent")["attempts"])
	})
	t.Run("at most once: recorded uncertain, not sent again", func(t *testing.T) {
		user, pushID := name("kill-amo-user"), name("kill-amo-push")
		ep := device(t, user, "kill-amo-phone")
		fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID, Action: faultproxy.ActionKillAfter, Times: 1})
		sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t","delivery":"at-most-once"}`)
		require.NoError(t, localrun.Poll(ctx, visibility+60*time.Second, 500*time.Millisecond, func() (bool, error) {
			rec, err := stack.DeliveryRecord(ctx, pushID, ep)
			return rec != nil && rec["status"] == "uncertain", err
		}))
		got, err := stack.Deliveries(ctx, ep)
		require.NoError(t, err)
		assert.Len(t, got, 1, "SNS took the first publish; nothing after it")
	})
}

// Each publish of this push takes 4.5 s and the local function timeout is 10 s: one invocation
// reaches the first 32 of the 40 devices (the fan-out), and has no time to start the others
// (two publishes in a row would end after the budget's cut, at 8.5 s). 4.5 s, not more: on a
// busy machine the claims before the publishes and the emulator's answer after them take
// seconds too, and a publish still in flight at the cut is cut (a retry, not this case).
// What it cannot reach goes back on the queue, and nothing is lost or sent twice.
func TestFaultFunctionTimeoutShorterThanTheFanOutNeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, pushID := name("slow-user"), name("slow-push")
	var eps []string
	for i := range 40 {
		eps = append(eps, device(t, user, fmt.Sprint("slow-device-", i)))
	}
	fault(t, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: pushID, Action: faultproxy.ActionDelay, Delay: "4500ms"})
	sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
	for _, ep := range eps {
		_, _, err := stack.WaitForDeliveries(ctx, ep, 1, 120*time.Second)
		require.NoError(t, err)
	}
	// Requeued, then done: the last invocation's publishes are all made.
	senderFinished(t, pushID, 1, 120*time.Second)
	for _, ep := range eps {
		got, err := stack.Deliveries(ctx, ep)
		require.NoError(t, err)
		assert.Len(t, got, 1, ep)
	}
	acts := actions(t, pushID)
	assert.Contains(t, acts, "requeued", "the time budget cut the fan-out short")
	assert.Equal(t, "done", acts[len(acts)-1])
	assert.NotContains(t, acts, "parked")
	assert.NotContains(t, acts, "retry")
}

func TestFaultEndpointDisabledBetweenSchedulingAndSending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, pushID := name("late-disabled-user"), name("late-disabled-push")
	ep := device(t, user, "late-disabled-phone")
	out := schedule(t, pushID, `{"delaySeconds":5,"push":{"userId":"`+user+`","title":"t"}}`)
	_, err := stack.SNS.SetEndpointAttributes(ctx, &sns.SetEndpointAttributesInput{
		EndpointArn: aws.String(ep), Attributes: map[string]string{"Enabled": "false"}})
	require.NoError(t, err)
	desc, err := stack.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	require.NoError(t, err)
	require.Equal(t, sfntypes.ExecutionStatusRunning, desc.Status, "disabled before the push was queued")
	reports := senderFinished(t, pushID, 1, 60*time.Second)
	report := reports[len(reports)-1]
	assert.Equal(t, "failed", report.Outcome)
	assert.Equal(t, "done", report.Action, "permanent: not retried, not parked")
	rec := record(t, pushID, ep)
	assert.Equal(t, "failed", rec["status"])
	assert.Contains(t, rec["error"], "EndpointDisabled")
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestFaultPersistentFailureIsParkedWithItsReasonAndARedriveDeliversOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, pushID := name("parked-user"), name("parked-push")
	phone, tablet := device(t, user, "parked-phone"), device(t, user, "parked-tablet")
	// The tablet gets it; the phone is throttled every time.
	throttled, err := stack.Faults.Add(ctx, faultproxy.Rule{Service: "sns", Operation: "Publish", Match: phone,
		Action: faultproxy.ActionError, Status: 400, Code: "Throttling", Message: "Rate exceeded"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Faults.Remove(ctx, throttled.ID) })

	sendNow(t, `{"id":"`+pushID+`","userId":"`+user+`","title":"t"}`)
	parked := waitParked(t, pushID, 2*queueVisibility(t)+60*time.Second)
	reason := aws.ToString(parked.MessageAttributes["parkReason"].StringValue)
	assert.Regexp(t, `^gave up after \d+ attempts: Throttling: Rate exceeded`, reason)
	got, err := stack.Deliveries(ctx, tablet)
	require.NoError(t, err)
	require.Len(t, got, 1)

	// The throttling ends; the operator redrives.
	require.NoError(t, stack.Faults.Remove(ctx, throttled.ID))
	require.NoError(t, stack.Redrive(ctx, parked))
	senderFinished(t, pushID, 2, 60*time.Second) // parked, then the redriven copy
	deliveredOnce(t, phone, pushID, 60*time.Second)
	got, err = stack.Deliveries(ctx, tablet)
	require.NoError(t, err)
	assert.Len(t, got, 1, "the redrive does not send again to the device already done")
	assert.Equal(t, "sent", record(t, pushID, phone)["status"])
}

func queueVisibility(t *testing.T) time.Duration {
	t.Helper()
	attrs, err := stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(output(t, "PushQueueUrl")), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout},
	})
	require.NoError(t, err)
	s, err := strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	require.NoError(t, err)
	return time.Duration(s) * time.Second
}
