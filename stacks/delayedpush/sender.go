package delayedpush

import (
	"fmt"
	"strings"

	cfg "github.com/delayed-push/delayed-push/stacks/internal/settings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/senderapp"
	"github.com/delayed-push/delayed-push/stacks/delayedpush/internal/gobuild"
)

// senderPackage is the import path of the sender Lambda's main package.
const senderPackage = "github.com/delayed-push/delayed-push/lambdas/sender"

// newSender creates the Go Lambda that drains the push queue and publishes through SNS mobile
// push: its log group, its queue event source (batch 10, no batching window, partial batch
// failures) and its least-privilege grants.
func newSender(scope constructs.Construct, id string, d *DelayedPush, s settings) awslambda.Function {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := newLogGroup(c, "Logs", s)
	fn := gobuild.NewFunction(c, "Function", &gobuild.FunctionProps{
		Package: senderPackage,
		FunctionProps: awslambda.FunctionProps{
			Description: jsii.String("Delayed Push sender: push queue -> device registry -> SNS mobile push (FCM v1)"),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(float64(s.timeout))),
			MemorySize:  jsii.Number(float64(s.memory)),
			LogGroup:    logs,
			Environment: &map[string]*string{
				senderapp.EnvDevicesTable:       d.DevicesTable.TableName(),
				senderapp.EnvDeliveriesTable:    d.DeliveriesTable.TableName(),
				senderapp.EnvSchedulesTable:     d.SchedulesTable.TableName(),
				cfg.MaxLatenessSeconds.Env:      jsii.String(fmt.Sprint(s.maxLateness)),
				cfg.DeliveryRetentionDays.Env:   jsii.String(fmt.Sprint(s.deliveryRetention)),
				senderapp.EnvPushQueueURL:       d.PushQueue.QueueUrl(),
				senderapp.EnvDeadLetterQueueURL: d.DeadLetterQueue.QueueUrl(),
				cfg.MaxReceiveCount.Env:         jsii.String(fmt.Sprint(s.maxReceiveCount)),
				// SQS stamps SenderId with the sending role's unique id: the scheduler's
				// attributes are trusted on its messages only.
				senderapp.EnvSchedulerRoleID: d.StateMachine.Role().Node().DefaultChild().(awsiam.CfnRole).AttrRoleId(),
				cfg.DeliveryGuarantee.Env:    jsii.String(s.guarantee),
				// The recipient's clock: quiet hours in the zone in force when a push is due,
				// then the frequency caps.
				senderapp.EnvPreferencesTable: d.PreferencesTable.TableName(),
				senderapp.EnvCapsTable:        d.CapsTable.TableName(),
				cfg.Caps.Env:                  jsii.String(s.caps),
				cfg.DefaultTimeZone.Env:       jsii.String(s.defaultTimeZone),
			},
		},
	})
	consume(fn, d.PushQueue, awslambda.EventSourceMappingOptions{
		// Batch 10 with no window: the pushes on the queue are due now, and a batching window
		// would make each later by up to its length.
		BatchSize:               jsii.Number(10),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(0)),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(float64(s.maxConcurrency)),
	})
	// It requeues the rest of a fan-out cut short by its time budget, and parks what it gives
	// up on with the reason.
	grantSend(fn, d.PushQueue, d.DeadLetterQueue)
	// It queries the registry, marks dead devices disabled, and writes its delivery records.
	d.DevicesTable.Grant(fn, jsii.String("dynamodb:Query"), jsii.String("dynamodb:UpdateItem"))
	d.DeliveriesTable.Grant(fn, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"))
	// It claims a scheduled key's row before it sends and records the outcome on it.
	d.SchedulesTable.Grant(fn, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"))
	// It reads the recipient's preferences when a push is due, and counts pushes for the caps
	// (awsadapters.CapStore: a consistent GetItem, then one conditional UpdateItem).
	d.PreferencesTable.Grant(fn, jsii.String("dynamodb:GetItem"))
	d.CapsTable.Grant(fn, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"))
	// Under a customer managed data key: the queues and the tables, through SQS and DynamoDB.
	d.useDataKey(fn, viaSQS, viaDynamoDB)
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PublishToPlatformEndpoints"),
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(endpointArnPattern(s.appArn)),
	}))
	return fn
}

// PlatformEndpointArns is the ARN pattern of the platform application's endpoints,
// arn:...:endpoint/GCM/NAME/*: the devices the sender may publish to.
func (d *DelayedPush) PlatformEndpointArns() *string {
	return jsii.String(endpointArnPattern(*d.PlatformApplicationArn))
}

// endpointArnPattern turns arn:...:app/GCM/NAME into arn:...:endpoint/GCM/NAME/*, the ARNs of
// that application's platform endpoints; in the template when the ARN is only known there (a
// string with tokens for the partition or account still has its ":app/" to replace).
func endpointArnPattern(appArn string) string {
	if strings.Contains(appArn, ":app/") {
		return strings.Replace(appArn, ":app/", ":endpoint/", 1) + "/*"
	}
	parts := awscdk.Fn_Split(jsii.String(":app/"), jsii.String(appArn), jsii.Number(2))
	return *awscdk.Fn_Join(jsii.String(""), &[]*string{
		awscdk.Fn_Select(jsii.Number(0), parts), jsii.String(":endpoint/"), awscdk.Fn_Select(jsii.Number(1), parts), jsii.String("/*"),
	})
}
