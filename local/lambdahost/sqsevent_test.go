package lambdahost

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSQSEventJSONMatchesLambda(t *testing.T) {
	msgs := []types.Message{{
		MessageId:              aws.String("059f36b4-87a3-44ab-83d2-661975830a7d"),
		ReceiptHandle:          aws.String("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"),
		Body:                   aws.String(`{"push":"p-1"}`),
		MD5OfBody:              aws.String("e4e68fb7bd0e697a0ae8f1bb342846b3"),
		MD5OfMessageAttributes: aws.String("582c92c5c5b6ac403040a4f3ab3115c9"),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    "1545082649183",
			"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1545082649185",
		},
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind":  {DataType: aws.String("String"), StringValue: aws.String("push")},
			"count": {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte("1100")},
		},
	}}

	got, err := SQSEventJSON(msgs, "arn:aws:sqs:eu-west-1:123456789012:push-queue", "")
	require.NoError(t, err)

	// The shape of https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event
	assert.JSONEq(t, `{"Records":[{
		"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d",
		"receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
		"body":"{\"push\":\"p-1\"}",
		"attributes":{
			"ApproximateReceiveCount":"1",
			"SentTimestamp":"1545082649183",
			"SenderId":"AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp":"1545082649185"
		},
		"messageAttributes":{
			"kind":{"stringValue":"push","stringListValues":[],"binaryListValues":[],"dataType":"String"},
			"count":{"stringValue":"3","stringListValues":[],"binaryListValues":[],"dataType":"Number"},
			"blob":{"binaryValue":"MTEwMA==","stringListValues":[],"binaryListValues":[],"dataType":"Binary"}
		},
		"md5OfMessageAttributes":"582c92c5c5b6ac403040a4f3ab3115c9",
		"md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3",
		"eventSource":"aws:sqs",
		"eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:push-queue",
		"awsRegion":"eu-west-1"
	}]}`, string(got))

	// And what a handler sees through aws-lambda-go's types.
	var ev events.SQSEvent
	require.NoError(t, json.Unmarshal(got, &ev))
	require.Len(t, ev.Records, 1)
	r := ev.Records[0]
	assert.Equal(t, "059f36b4-87a3-44ab-83d2-661975830a7d", r.MessageId)
	assert.Equal(t, `{"push":"p-1"}`, r.Body)
	assert.Equal(t, "1", r.Attributes["ApproximateReceiveCount"])
	assert.Equal(t, "push", *r.MessageAttributes["kind"].StringValue)
	assert.Equal(t, []byte("1100"), r.MessageAttributes["blob"].BinaryValue)
	assert.Equal(t, "aws:sqs", r.EventSource)
	assert.Equal(t, "eu-west-1", r.AWSRegion)
}

func TestSQSEventJSONWithoutAttributes(t *testing.T) {
	msgs := []types.Message{
		{MessageId: aws.String("a"), ReceiptHandle: aws.String("rh-a"), Body: aws.String("one"), MD5OfBody: aws.String("m")},
		{MessageId: aws.String("b"), ReceiptHandle: aws.String("rh-b"), Body: aws.String("two"), MD5OfBody: aws.String("n")},
	}
	got, err := SQSEventJSON(msgs, "arn:aws:sqs:us-east-1:000000000000:q", "eu-central-1")
	require.NoError(t, err)

	var raw struct {
		Records []map[string]json.RawMessage `json:"Records"`
	}
	require.NoError(t, json.Unmarshal(got, &raw))
	require.Len(t, raw.Records, 2)
	// Empty maps, never null; no md5OfMessageAttributes without attributes.
	assert.JSONEq(t, `{}`, string(raw.Records[0]["attributes"]))
	assert.JSONEq(t, `{}`, string(raw.Records[0]["messageAttributes"]))
	assert.NotContains(t, raw.Records[0], "md5OfMessageAttributes")
	assert.JSONEq(t, `"eu-central-1"`, string(raw.Records[1]["awsRegion"]), "an explicit region wins over the ARN's")
	assert.JSONEq(t, `"two"`, string(raw.Records[1]["body"]))
}
