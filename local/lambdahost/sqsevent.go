package lambdahost

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsEvent mirrors the event Lambda's SQS event source mapping sends. It is declared here
// rather than reusing events.SQSEvent so the JSON matches Lambda's byte for byte in the places
// where events.SQSEvent would differ: empty lists are [] (not null) and md5OfMessageAttributes
// is left out when the message has no attributes. Handlers decode it with events.SQSEvent.
type sqsEvent struct {
	Records []sqsRecord `json:"Records"`
}

type sqsRecord struct {
	MessageID              string                  `json:"messageId"`
	ReceiptHandle          string                  `json:"receiptHandle"`
	Body                   string                  `json:"body"`
	Attributes             map[string]string       `json:"attributes"`
	MessageAttributes      map[string]sqsAttribute `json:"messageAttributes"`
	MD5OfMessageAttributes string                  `json:"md5OfMessageAttributes,omitempty"`
	MD5OfBody              string                  `json:"md5OfBody"`
	EventSource            string                  `json:"eventSource"`
	EventSourceARN         string                  `json:"eventSourceARN"`
	AWSRegion              string                  `json:"awsRegion"`
}

type sqsAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"` // base64 in JSON, as Lambda sends it
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// SQSEventJSON builds the payload Lambda sends for a batch of messages received from the
// queue queueARN. region is the event's awsRegion; when empty it is taken from the ARN.
func SQSEventJSON(msgs []types.Message, queueARN, region string) ([]byte, error) {
	if region == "" {
		region = regionFromARN(queueARN)
	}
	ev := sqsEvent{Records: make([]sqsRecord, 0, len(msgs))}
	for _, m := range msgs {
		rec := sqsRecord{
			MessageID:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Attributes:             map[string]string{},
			MessageAttributes:      map[string]sqsAttribute{},
			MD5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			MD5OfBody:              aws.ToString(m.MD5OfBody),
			EventSource:            "aws:sqs",
			EventSourceARN:         queueARN,
			AWSRegion:              region,
		}
		// System attributes (ApproximateReceiveCount, SentTimestamp, SenderId,
		// ApproximateFirstReceiveTimestamp, and for FIFO queues MessageGroupId etc.) are passed
		// through as received, like Lambda does.
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, a := range m.MessageAttributes {
			attr := sqsAttribute{
				StringValue:      a.StringValue,
				BinaryValue:      a.BinaryValue,
				StringListValues: a.StringListValues,
				BinaryListValues: a.BinaryListValues,
				DataType:         aws.ToString(a.DataType),
			}
			if attr.StringListValues == nil {
				attr.StringListValues = []string{}
			}
			if attr.BinaryListValues == nil {
				attr.BinaryListValues = [][]byte{}
			}
			rec.MessageAttributes[k] = attr
		}
		ev.Records = append(ev.Records, rec)
	}
	return json.Marshal(ev)
}

// regionFromARN returns the region field of arn:partition:service:region:account:resource.
func regionFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}
