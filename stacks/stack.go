package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
	"github.com/delayed-push/delayed-push/stacks/internal/nag"
)

// constructID is the id of the DelayedPush construct in this app's stack. The logical ids of
// the stateful resources derive from it (test/logical_ids_test.go pins them).
const constructID = "DelayedPush"

// DelayedPushStackProps configures this repository's app stack.
type DelayedPushStackProps struct {
	awscdk.StackProps
	// Config is the delayedPush context object, validated.
	Config Config
}

// DelayedPushStack is the stack `cdk deploy` deploys from this repository: the DelayedPush
// construct, a managed policy for producer roles, and outputs that name what producers use.
type DelayedPushStack struct {
	awscdk.Stack
	Push *delayedpush.DelayedPush
	// ProducerPolicy lets a backend schedule, stop and inspect pushes and send pushes now.
	ProducerPolicy awsiam.ManagedPolicy
}

// NewDelayedPushStack turns the configuration into the construct's props and adds the
// construct, the producer policy and the outputs. It panics on an invalid configuration;
// ConfigFromContext reports one first with the key named.
func NewDelayedPushStack(scope constructs.Construct, id string, props *DelayedPushStackProps) *DelayedPushStack {
	if err := props.Config.Validate(); err != nil {
		panic(err)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	pushProps := props.Config.Props()
	if arn := props.Config.ShopifySecretArn; arn != "" && pushProps.Shopify != nil {
		pushProps.Shopify.ExistingSecret = awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("ShopifySecret"), jsii.String(arn))
	}
	s := &DelayedPushStack{Stack: stack, Push: delayedpush.New(stack, constructID, pushProps)}
	s.ProducerPolicy = s.newProducerPolicy(props.Config)
	// Under a customer managed data key: through SQS and DynamoDB (the queue, the tables), and
	// through Step Functions for this state machine's executions only.
	s.ProducerPolicy.AddStatements(s.Push.DataKeyStatements()...)
	// The economy engine's schedules, the role they run as, and (under a customer managed data
	// key) the key through EventBridge Scheduler for them.
	s.ProducerPolicy.AddStatements(s.Push.EconomyStatements()...)
	nag.Suppress(s.ProducerPolicy, nag.Endpoints, nag.Executions, nag.APIRoutes, nag.Schedules)

	d := s.Push
	output := func(id string, value *string, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	output("StateMachineArn", d.StateMachine.StateMachineArn(), "Call StartExecution on this to schedule a push")
	output("PushQueueUrl", d.PushQueue.QueueUrl(), "Send a push here to deliver it now")
	output("DeadLetterQueueUrl", d.DeadLetterQueue.QueueUrl(), "Pushes that failed every attempt")
	output("DevicesTableName", d.DevicesTable.TableName(), "Device registry: userId -> SNS platform endpoints")
	output("DeviceOwnersTableName", d.DeviceOwnersTable.TableName(), "Device owners: deviceId -> the user who owns the device")
	output("PlatformApplicationArn", d.PlatformApplicationArn, "SNS platform application (FCM) devices are registered on")
	output("DeviceEventsTopicArn", d.DeviceEventsTopic.TopicArn(), "Point the platform application's event attributes here; subscribe to follow device changes")
	output("DeliveriesTableName", d.DeliveriesTable.TableName(), "Delivery log: one record per push and endpoint")
	output("SchedulesTableName", d.SchedulesTable.TableName(), "Schedules index: one row per key scheduled through the client, API or CLI")
	output(client.OutputPreferencesTable, d.PreferencesTable.TableName(), "Recipients' preferences: userId -> time zone and quiet hours")
	output(client.OutputDefaultTimeZone, jsii.String(props.Config.DefaultTimeZone), "The time zone of a user who has none: a push's localTime is read in it")
	output("SenderFunctionName", d.SenderFunction.FunctionName(), "The sender Lambda")
	output("ProducerPolicyArn", s.ProducerPolicy.ManagedPolicyArn(), "Attach to any backend role that schedules or sends pushes")
	output("AlarmTopicArn", d.AlarmTopic.TopicArn(), "Alarms are published here")
	output("Engine", jsii.String(props.Config.Engine), "The engine of a push that names none: stepfunctions or economy")
	output("EconomyScheduleAfterSeconds", jsii.String(fmt.Sprint(props.Config.EconomyScheduleAfterSeconds)), "An economy push due further ahead than this goes through an EventBridge Scheduler schedule, a nearer one through SQS DelaySeconds")
	output("ScheduleGroupName", d.EconomyScheduleGroup.ScheduleGroupName(), "The economy engine's EventBridge Scheduler schedule group")
	output("SchedulerRoleArn", d.EconomyRole.RoleArn(), "The role the economy engine's schedules run as")
	output("SchedulerDeadLetterQueueArn", d.EconomyDeadLetterQueue.QueueArn(), "Economy pushes a schedule could not put on the push queue")
	output("SchedulerDeadLetterQueueUrl", d.EconomyDeadLetterQueue.QueueUrl(), "The same queue's URL, for pushctl redrive --source economy")
	output("PushQueueArn", d.PushQueue.QueueArn(), "The push queue, the economy engine's schedules' target")
	if d.DataKey != nil {
		output("SchedulerKmsKeyArn", d.DataKey.KeyArn(), "The key the economy engine's schedules encrypt their pushes with")
	}
	if d.ShopifyWebhookFunction != nil {
		output("ShopifyWebhookUrl", jsii.String(*d.Api.ApiEndpoint()+delayedpush.ShopifyWebhookPath), "Register this as the webhook address of your Shopify app (orders/create and the privacy topics)")
		output("ShopifySecretArn", d.ShopifySecret.SecretArn(), "Put your Shopify app's client secret here")
		output("OrdersTableName", d.OrdersTable.TableName(), "Shopify orders: one row per shop and order")
		output("OrdersDeadLetterQueueUrl", d.OrdersDeadLetterQueue.QueueUrl(), "Shopify webhooks the consumer could not use, with their parkReason")
	}
	if d.Api != nil {
		output("ApiUrl", d.Api.ApiEndpoint(), "The HTTP API (SigV4 for execute-api, or a JWT): POST /pushes, GET/PUT/DELETE /pushes/{key}, GET /pushes?userId=")
	}
	return s
}

// newProducerPolicy is a managed policy with what GrantSchedule, GrantManage, GrantSendNow,
// GrantManageDevices, GrantInvokePushRoutes and GrantInvokeDeviceRoutes give, attached to the
// configured producer roles: roles of other stacks or accounts cannot be granted to directly.
func (s *DelayedPushStack) newProducerPolicy(cfg Config) awsiam.ManagedPolicy {
	roleArns := cfg.ProducerPrincipals
	sm := s.Push.StateMachine
	executions := awscdk.Stack_Of(sm).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("execution"),
		ResourceName: jsii.String(*sm.StateMachineName() + ":*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	roles := make([]awsiam.IRole, 0, len(roleArns))
	for i, arn := range roleArns {
		roles = append(roles, awsiam.Role_FromRoleArn(s.Stack, jsii.String(fmt.Sprintf("Producer%d", i)), jsii.String(arn), &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}))
	}
	return awsiam.NewManagedPolicy(s.Stack, jsii.String("ProducerPolicy"), &awsiam.ManagedPolicyProps{
		// The description is fixed: changing it replaces the policy, and its ARN with it.
		Description: jsii.String("Delayed Push producers: schedule, reschedule, cancel, inspect and list pushes; send pushes now; register and remove devices"),
		Statements: statements(append([]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SchedulePushes"),
				Actions:   jsii.Strings("states:StartExecution"),
				Resources: &[]*string{sm.StateMachineArn()},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ManageScheduledPushes"),
				Actions:   jsii.Strings("states:StopExecution", "states:DescribeExecution"),
				Resources: &[]*string{executions},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("KeepTheSchedulesIndex"),
				Actions: jsii.Strings("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
					"dynamodb:Query", "dynamodb:Scan"),
				Resources: &[]*string{s.Push.SchedulesTable.TableArn(), jsii.String(*s.Push.SchedulesTable.TableArn() + "/index/" + delayedpush.SchedulesPendingIndex)},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("SendPushesNow"),
				Actions:   jsii.Strings("sqs:SendMessage"),
				Resources: &[]*string{s.Push.PushQueue.QueueArn()},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("RegisterDevices"),
				Actions:   jsii.Strings("sns:CreatePlatformEndpoint"),
				Resources: &[]*string{s.Push.PlatformApplicationArn},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ManageDeviceEndpoints"),
				Actions:   jsii.Strings("sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"),
				Resources: &[]*string{s.Push.PlatformEndpointArns()},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("KeepTheDeviceOwners"),
				Actions:   jsii.Strings("dynamodb:GetItem", "dynamodb:PutItem"),
				Resources: &[]*string{s.Push.DeviceOwnersTable.TableArn()},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("KeepTheDeviceRegistry"),
				Actions:   jsii.Strings("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"),
				Resources: &[]*string{s.Push.DevicesTable.TableArn()},
			}),
			// Preferences and device-reported zones (GrantManageDevices), local times resolved
			// in the recipient's zone (GrantSchedule).
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("KeepThePreferences"),
				Actions:   jsii.Strings("dynamodb:GetItem", "dynamodb:UpdateItem"),
				Resources: &[]*string{s.Push.PreferencesTable.TableArn()},
			}),
		}, s.invokeStatements(cfg)...)),
		Roles: &roles,
	})
}

// invokeStatements let a producer call the HTTP API's routes that do what the client does
// (IAM authorization): the push routes and the device routes. None without the API, or with a
// JWT authorizer (API Gateway then checks no IAM permission).
func (s *DelayedPushStack) invokeStatements(cfg Config) []awsiam.PolicyStatement {
	d := s.Push
	if d.Api == nil || cfg.APIJwtIssuer != "" {
		return nil
	}
	return []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("InvokePushRoutes"), Actions: jsii.Strings("execute-api:Invoke"), Resources: d.InvokeArns(delayedpush.PushRoutes...),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("InvokeDeviceRoutes"), Actions: jsii.Strings("execute-api:Invoke"), Resources: d.InvokeArns(delayedpush.DeviceRoutes...),
		}),
	}
}

func statements(s []awsiam.PolicyStatement) *[]awsiam.PolicyStatement { return &s }
