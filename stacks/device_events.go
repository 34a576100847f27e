package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/deviceeventsapp"
)

// DeviceEventsPackage is the import path of the device events Lambda's main package.
const DeviceEventsPackage = "github.com/delayed-push/delayed-push/lambdas/deviceevents"

// newDeviceEvents creates the path of SNS's application events: a topic the platform
// application's event attributes point to, a queue subscribed to it (raw delivery), and a Go
// Lambda that marks the devices of dead endpoints disabled. Events it cannot apply wait in a
// dead-letter queue of their own, with an alarm.
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

	// SQS-managed keys even with customerManagedKey: SNS delivering to a queue under the key
	// would need a key policy naming the topic, which the key encrypts (a cycle); these queues
	// hold SNS's endpoint events, not pushes.
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
	d.DeviceEventsTopic.AddSubscription(awssnssubscriptions.NewSqsSubscription(d.DeviceEventsQueue,
		&awssnssubscriptions.SqsSubscriptionProps{RawMessageDelivery: jsii.Bool(true)}))

	logs := newLogGroup(c, "Logs", s)
	fn := NewGoFunction(c, "Function", &GoFunctionProps{
		Package: DeviceEventsPackage,
		FunctionProps: awslambda.FunctionProps{
			Description: jsii.String("Delayed Push device events: SNS application events -> devices marked disabled"),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(10)),
			MemorySize:  jsii.Number(128),
			LogGroup:    logs,
			Environment: &map[string]*string{
				deviceeventsapp.EnvDevicesTable:      d.DevicesTable.TableName(),
				deviceeventsapp.EnvDeviceOwnersTable: d.DeviceOwnersTable.TableName(),
			},
		},
	})
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(d.DeviceEventsQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize: jsii.Number(10), MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(0)), ReportBatchItemFailures: jsii.Bool(true),
	}))
	// It reads who owns an endpoint and marks that user's device row disabled.
	d.DeviceOwnersTable.Grant(fn, jsii.String("dynamodb:GetItem"))
	d.DevicesTable.Grant(fn, jsii.String("dynamodb:UpdateItem"))
	d.DeviceEventsFunction = fn

	deadLetterAlarm(c, d.DeviceEventsDeadLetterQueue, d.AlarmTopic,
		"SNS device events could not be applied to the registry: read the device events function's log.")
}
