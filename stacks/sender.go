package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// SenderProps configures the sender.
type SenderProps struct {
	Queue awssqs.IQueue
	// DeadLetterQueue is where the sender parks what it cannot send, with the reason.
	DeadLetterQueue awssqs.IQueue
	// MaxReceiveCount is the push queue's: on that receive the sender parks a push that
	// still fails, instead of the queue moving it there without a reason.
	MaxReceiveCount int
	// SchedulerRole is the state machine's role: the scheduler's message attributes are
	// trusted only on messages that role sent.
	SchedulerRole awsiam.IRole
	// DeliveryGuarantee is the default for pushes without "delivery".
	DeliveryGuarantee string
	Tables            *Tables
	// PlatformApplicationArn scopes sns:Publish to this application's endpoints.
	PlatformApplicationArn string
	Timeout                awscdk.Duration
	MemoryMiB              int
	// MaxConcurrency caps concurrent invocations from the queue (protects the tables).
	MaxConcurrency        int
	DeliveryRetentionDays int
	LogRetention          awslogs.RetentionDays
	RemovalPolicy         awscdk.RemovalPolicy
}

// Sender is the Go Lambda that drains the push queue and publishes through SNS mobile push.
type Sender struct {
	constructs.Construct
	Function awslambda.Function
}

// NewSender creates the sender function, its log group, its queue event source (batch 10,
// no batching window, partial batch failures) and its least-privilege grants.
func NewSender(scope constructs.Construct, id string, props *SenderProps) *Sender {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     props.LogRetention,
		RemovalPolicy: props.RemovalPolicy,
	})
	fn := NewGoFunction(c, "Function", &GoFunctionProps{
		Package: "./lambdas/sender",
		FunctionProps: awslambda.FunctionProps{
			Description:   jsii.String("Delayed Push sender: push queue -> device registry -> SNS mobile push (FCM v1)"),
			Timeout:       props.Timeout,
			MemorySize:    jsii.Number(float64(props.MemoryMiB)),
			Tracing:       awslambda.Tracing_ACTIVE,
			LoggingFormat: awslambda.LoggingFormat_JSON,
			LogGroup:      logs,
			Environment: &map[string]*string{
				"DEVICES_TABLE":           props.Tables.Devices.TableName(),
				"DELIVERIES_TABLE":        props.Tables.Deliveries.TableName(),
				"DELIVERY_RETENTION_DAYS": jsii.String(fmt.Sprint(props.DeliveryRetentionDays)),
				"PUSH_QUEUE_URL":          props.Queue.QueueUrl(),
				"DEAD_LETTER_QUEUE_URL":   props.DeadLetterQueue.QueueUrl(),
				"MAX_RECEIVE_COUNT":       jsii.String(fmt.Sprint(props.MaxReceiveCount)),
				"SCHEDULER_ROLE_ID":       props.SchedulerRole.Node().DefaultChild().(awsiam.CfnRole).AttrRoleId(),
				"DELIVERY_GUARANTEE":      jsii.String(props.DeliveryGuarantee),
			},
		},
	})
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(props.Queue, &awslambdaeventsources.SqsEventSourceProps{
		// Batch 10 with no window: larger batches did not lower database load in the seed
		// article's measurements, and any window made pushes visibly late.
		BatchSize:               jsii.Number(10),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(0)),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(props.MaxConcurrency)),
	}))
	// It requeues the rest of a fan-out cut short by its time budget, and parks what it gives
	// up on with the reason.
	props.Queue.GrantSendMessages(fn)
	props.DeadLetterQueue.GrantSendMessages(fn)
	// The sender only queries the registry and writes its own delivery records.
	props.Tables.Devices.Grant(fn, jsii.String("dynamodb:Query"))
	props.Tables.Deliveries.Grant(fn, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PublishToPlatformEndpoints"),
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(endpointArnPattern(props.PlatformApplicationArn)),
	}))
	return &Sender{Construct: c, Function: fn}
}

// endpointArnPattern turns arn:...:app/GCM/NAME into arn:...:endpoint/GCM/NAME/*, the ARNs of
// that application's platform endpoints.
func endpointArnPattern(appArn string) string {
	return strings.Replace(appArn, ":app/", ":endpoint/", 1) + "/*"
}
