package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newPushQueue creates the one queue every producer writes pushes to, and its dead-letter
// queue. Both are encrypted at rest with SQS-managed keys (with CustomerManagedData, the data
// key) and refuse requests without TLS.
func newPushQueue(scope constructs.Construct, id string, s settings) (queue, dlq awssqs.Queue) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	qe, qk := s.queueEncryption()
	dlq = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk,
		EnforceSSL: jsii.Bool(true),
		// The maximum, so a parked push can be inspected and redriven for two weeks.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   s.removal,
	})
	queue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(s.visibility))),
		// The maximum: a push waiting behind a stopped or throttled sender must not expire
		// from the queue (the OldestPush alarm fires long before).
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(float64(s.maxReceiveCount)),
		},
		RemovalPolicy: s.removal,
	})
	return queue, dlq
}
