package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/deviceeventsapp"
	"github.com/delayed-push/delayed-push/stacks/delayedpush/internal/gobuild"
)

// deviceEventsPackage is the import path of the device events Lambda's main package.
const deviceEventsPackage = "github.com/delayed-push/delayed-push/lambdas/deviceevents"

// newDeviceEvents creates the path of SNS's application events: a topic the platform
// application's event attributes point to, a queue subscribed to it (raw delivery), and a Go
// Lambda that marks the devices of dead endpoints disabled. Nothing is lost on the way: events
// SNS cannot deliver to the queue (after its delivery retries) wait in the subscription's
// dead-letter queue, events the function cannot apply in the queue's, each with an alarm.
func newDeviceEvents(scope constructs.Construct, id string, d *DelayedPush, s settings) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	// Endpoint events carry device tokens: the topic is encrypted with the construct's customer
	// managed key, which SNS itself may use to publish them (a key of yours needs the same).
	key := s.key
	if k, ok := key.(awskms.Key); ok {
		k.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("SnsPublishesApplicationEvents"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("sns.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Stack_Of(c).Account()}},
		}), nil)
	}
	d.DeviceEventsTopic = awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{MasterKey: key, EnforceSSL: jsii.Bool(true)})

	// SQS-managed keys even with customerManagedKey: these queues hold SNS's endpoint events,
	// not pushes, and SNS delivering to a queue under the data key would need that key's
	// policy to admit SNS, which no role's data otherwise needs.
	qe, qk := awssqs.QueueEncryption_SQS_MANAGED, awskms.IKey(nil)
	d.DeviceEventsDeadLetterQueue = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), RemovalPolicy: s.removal,
	})
	d.DeviceEventsQueue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(60)), RemovalPolicy: s.removal,
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: d.DeviceEventsDeadLetterQueue, MaxReceiveCount: jsii.Number(5)},
	})
	// What SNS cannot deliver to the queue once its delivery policy gives up (the queue
	// deleted or its policy wrong, SQS refusing) goes to this queue instead of being dropped:
	// the subscription's redrive policy. The SQS L2 adds the queue policy that lets this topic
	// (aws:SourceArn) send to it.
	d.DeviceEventsUndeliveredQueue = awssqs.NewQueue(c, jsii.String("UndeliveredQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), RemovalPolicy: s.removal,
	})
	d.DeviceEventsTopic.AddSubscription(awssnssubscriptions.NewSqsSubscription(d.DeviceEventsQueue,
		&awssnssubscriptions.SqsSubscriptionProps{RawMessageDelivery: jsii.Bool(true), DeadLetterQueue: d.DeviceEventsUndeliveredQueue}))

	logs := newLogGroup(c, "Logs", s)
	fn := gobuild.NewFunction(c, "Function", &gobuild.FunctionProps{
		Package: deviceEventsPackage,
		FunctionProps: awslambda.FunctionProps{
			Description: jsii.String("Delayed Push device events: SNS application events -> devices marked disabled"),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(10)),
			// 128 MB, the least: nobody waits on it (SNS's events about dead endpoints, a few at
			// a time), its peak RSS is about 12 MiB and its init about 5 ms of CPU (BENCHMARKS.md,
			// "Cold start"), some 75 ms at 128 MB's share of a vCPU.
			MemorySize: jsii.Number(128),
			LogGroup:   logs,
			Environment: &map[string]*string{
				deviceeventsapp.EnvDevicesTable:      d.DevicesTable.TableName(),
				deviceeventsapp.EnvDeviceOwnersTable: d.DeviceOwnersTable.TableName(),
			},
		},
	})
	// A maximum concurrency, as the sender's: a mass token expiry (thousands of endpoints
	// disabled at once) waits in the queue rather than flooding the device tables.
	consume(fn, d.DeviceEventsQueue, awslambda.EventSourceMappingOptions{
		BatchSize: jsii.Number(10), MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(0)), ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency: jsii.Number(float64(s.deviceEventsConcurrency)),
	})
	// It reads who owns an endpoint and marks that user's device row disabled.
	d.DeviceOwnersTable.Grant(fn, jsii.String("dynamodb:GetItem"))
	d.DevicesTable.Grant(fn, jsii.String("dynamodb:UpdateItem"))
	d.useDataKey(fn, viaDynamoDB) // the tables, under a customer managed data key
	d.DeviceEventsFunction = fn

	deadLetterAlarm(c, d.DeviceEventsDeadLetterQueue, d.AlarmTopic,
		"SNS device events could not be applied to the registry: read the device events function's log.")
	deadLetterAlarmWithID(c, "UndeliveredEvents", d.DeviceEventsUndeliveredQueue, d.AlarmTopic,
		"SNS could not deliver device events to the device events queue: they wait in the undelivered events queue; fix the queue (its policy), then copy them to it (docs/operations.md, Alarms and what to do).")
}
