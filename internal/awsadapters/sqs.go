package awsadapters

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/delayed-push/delayed-push/internal/delivery"
)

// SQSSendAPI is the part of *sqs.Client the queue adapter uses.
type SQSSendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queues parks messages on the dead-letter queue and requeues pushes on the push queue.
type Queues struct {
	Client          SQSSendAPI
	PushQueueURL    string
	DeadLetterQueue string // URL
}

var _ delivery.Queue = (*Queues)(nil)

// Park sends m to the dead-letter queue.
func (q *Queues) Park(ctx context.Context, m delivery.Message) error {
	if err := q.send(ctx, q.DeadLetterQueue, m); err != nil {
		return fmt.Errorf("park on the dead-letter queue: %w", err)
	}
	return nil
}

// Requeue sends m to the push queue.
func (q *Queues) Requeue(ctx context.Context, m delivery.Message) error {
	if err := q.send(ctx, q.PushQueueURL, m); err != nil {
		return fmt.Errorf("requeue on the push queue: %w", err)
	}
	return nil
}

func (q *Queues) send(ctx context.Context, url string, m delivery.Message) error {
	in := &sqs.SendMessageInput{
		QueueUrl:     aws.String(url),
		MessageBody:  aws.String(m.Body),
		DelaySeconds: int32(m.Delay.Round(1e9).Seconds()),
	}
	if len(m.Attributes) > 0 {
		in.MessageAttributes = make(map[string]types.MessageAttributeValue, len(m.Attributes))
		for name, a := range m.Attributes {
			in.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(a.Value)}
		}
	}
	_, err := q.Client.SendMessage(ctx, in)
	return err
}
