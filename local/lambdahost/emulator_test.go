//go:build emulator

package lambdahost

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPollAgainstEmulator runs the real SQS client, Poll and the test handler against an SQS
// emulator (moto_server), checking delete-on-success and redrive of a reported failure to the
// dead-letter queue. make emulator-test starts moto and sets MOTO_ENDPOINT.
func TestPollAgainstEmulator(t *testing.T) {
	endpoint := os.Getenv("MOTO_ENDPOINT")
	if endpoint == "" {
		t.Fatal("MOTO_ENDPOINT is not set: make emulator-test starts moto and sets it")
	}
	bootstrap := buildHandler(t)
	ctx := context.Background()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"), config.WithBaseEndpoint(endpoint))
	require.NoError(t, err)
	client := sqs.NewFromConfig(cfg)

	suffix := time.Now().Format("150405.000")
	suffix = suffix[:6] + suffix[7:]
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("lambdahost-dlq-" + suffix)})
	require.NoError(t, err)
	dlqAttrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqAttrs.Attributes["QueueArn"], "maxReceiveCount": 2})
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String("lambdahost-q-" + suffix),
		Attributes: map[string]string{"VisibilityTimeout": "1", "RedrivePolicy": string(redrive)},
	})
	require.NoError(t, err)
	qAttrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	require.NoError(t, err)

	for _, body := range []string{"ok", "fail"} {
		_, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:          q.QueueUrl,
			MessageBody:       aws.String(body),
			MessageAttributes: map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("test")}},
		})
		require.NoError(t, err)
	}

	log := &syncBuffer{}
	h := newTestHost(t, Function{BootstrapPath: bootstrap}, log)
	stop := runPoll(t, client, EventSource{
		QueueURL:                aws.ToString(q.QueueUrl),
		QueueARN:                qAttrs.Attributes["QueueArn"],
		BatchSize:               10,
		ReportBatchItemFailures: true,
		MaxConcurrency:          2,
		WaitTime:                time.Second,
		Log:                     log,
	}, h)

	// "fail" is received twice (maxReceiveCount), then the emulator moves it to the DLQ.
	var moved []types.Message
	require.Eventually(t, func() bool {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err == nil && len(out.Messages) > 0 {
			moved = out.Messages
			return true
		}
		return false
	}, 30*time.Second, 500*time.Millisecond, "log:\n%s", log.String())
	stop()
	t.Logf("log:\n%s", log.String())

	require.Len(t, moved, 1)
	assert.Equal(t, "fail", aws.ToString(moved[0].Body))
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	require.NoError(t, err)
	assert.Equal(t, "0", attrs.Attributes["ApproximateNumberOfMessages"])
	assert.Equal(t, "0", attrs.Attributes["ApproximateNumberOfMessagesNotVisible"])
}
