package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// PushQueueProps configures the push queue.
type PushQueueProps struct {
	// VisibilityTimeout must be at least six times the consumer's timeout (AWS guidance for Lambda
	// event sources), so a message is not handed out again while a slow batch is still running.
	VisibilityTimeout awscdk.Duration
	// MaxReceiveCount is how many receives a message gets before it is moved to the DLQ.
	MaxReceiveCount int
	// RemovalPolicy applies to both queues.
	RemovalPolicy awscdk.RemovalPolicy
}

// PushQueue is the one queue every producer writes pushes to, with its dead-letter queue. Both
// are encrypted at rest with SQS-managed keys and refuse non-TLS requests.
type PushQueue struct {
	constructs.Construct
	Queue           awssqs.Queue
	DeadLetterQueue awssqs.Queue
}

// NewPushQueue creates the push queue and its DLQ.
func NewPushQueue(scope constructs.Construct, id string, props *PushQueueProps) *PushQueue {
	c := constructs.NewConstruct(scope, jsii.String(id))
	dlq := awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// The maximum, so a parked push can be inspected and redriven for two weeks.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   props.RemovalPolicy,
	})
	q := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: props.VisibilityTimeout,
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(float64(props.MaxReceiveCount)),
		},
		RemovalPolicy: props.RemovalPolicy,
	})
	return &PushQueue{Construct: c, Queue: q, DeadLetterQueue: dlq}
}
