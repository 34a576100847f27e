package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DelayedPushStackProps configures the stack.
type DelayedPushStackProps struct {
	awscdk.StackProps
	Config Config
}

// DelayedPushStack composes the scheduler, the push queue, the sender, the tables and the alarms.
// Grants between them are the arrows of the architecture diagram.
type DelayedPushStack struct {
	awscdk.Stack
	Scheduler *Scheduler
	PushQueue *PushQueue
	Tables    *Tables
	Sender    *Sender
	Alarms    *Alarms
	// ProducerPolicy lets a backend schedule, stop and inspect pushes and send pushes now.
	ProducerPolicy awsiam.ManagedPolicy
}

// NewDelayedPushStack creates the stack.
func NewDelayedPushStack(scope constructs.Construct, id string, props *DelayedPushStackProps) *DelayedPushStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg := props.Config
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	retention := cfg.LogRetention()
	appArn := cfg.PlatformApplicationArn
	if appArn == "" {
		appArn = fmt.Sprintf("arn:%s:sns:%s:%s:app/GCM/delayed-push", *stack.Partition(), *stack.Region(), *stack.Account())
	}

	s := &DelayedPushStack{Stack: stack}
	s.PushQueue = NewPushQueue(stack, "PushQueue", &PushQueueProps{
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(float64(cfg.VisibilityTimeout()))),
		MaxReceiveCount:   cfg.MaxReceiveCount,
		RemovalPolicy:     removal,
	})
	s.Tables = NewTables(stack, "Tables", &TablesProps{RemovalPolicy: removal})
	s.Scheduler = NewScheduler(stack, "Scheduler", &SchedulerProps{
		Queue:         s.PushQueue.Queue,
		LogRetention:  retention,
		RemovalPolicy: removal,
	})
	s.Sender = NewSender(stack, "Sender", &SenderProps{
		Queue:                  s.PushQueue.Queue,
		DeadLetterQueue:        s.PushQueue.DeadLetterQueue,
		MaxReceiveCount:        cfg.MaxReceiveCount,
		SchedulerRole:          s.Scheduler.StateMachine.Role(),
		DeliveryGuarantee:      cfg.DeliveryGuarantee,
		Tables:                 s.Tables,
		PlatformApplicationArn: appArn,
		Timeout:                awscdk.Duration_Seconds(jsii.Number(float64(cfg.SenderTimeoutSeconds))),
		MemoryMiB:              cfg.SenderMemoryMiB,
		MaxConcurrency:         cfg.SenderMaxConcurrency,
		DeliveryRetentionDays:  cfg.DeliveryRetentionDays,
		LogRetention:           retention,
		RemovalPolicy:          removal,
	})
	s.Alarms = NewAlarms(stack, "Alarms", &AlarmsProps{
		DeadLetterQueue: s.PushQueue.DeadLetterQueue,
		StateMachine:    s.Scheduler.StateMachine,
		Sender:          s.Sender.Function,
		Email:           cfg.AlarmEmail,
		RemovalPolicy:   removal,
	})
	s.ProducerPolicy = s.newProducerPolicy(cfg.ProducerPrincipals)
	dependOnDefaultPolicyOnly(s.Sender.Function, s.Sender.Function.Role())
	dependOnDefaultPolicyOnly(s.Scheduler.StateMachine, s.Scheduler.StateMachine.Role())

	output := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	output("StateMachineArn", *s.Scheduler.StateMachine.StateMachineArn(), "Call StartExecution on this to schedule a push")
	output("PushQueueUrl", *s.PushQueue.Queue.QueueUrl(), "Send a push here to deliver it now")
	output("DeadLetterQueueUrl", *s.PushQueue.DeadLetterQueue.QueueUrl(), "Pushes that failed every attempt")
	output("DevicesTableName", *s.Tables.Devices.TableName(), "Device registry: userId -> SNS platform endpoints")
	output("DeliveriesTableName", *s.Tables.Deliveries.TableName(), "Delivery log: one record per push and endpoint")
	output("SenderFunctionName", *s.Sender.Function.FunctionName(), "The sender Lambda")
	output("ProducerPolicyArn", *s.ProducerPolicy.ManagedPolicyArn(), "Attach to any backend role that schedules or sends pushes")
	output("AlarmTopicArn", *s.Alarms.Topic.TopicArn(), "Alarms are published here")
	return s
}

// newProducerPolicy grants the producer roles exactly what scheduling needs: start executions
// of this state machine, stop and describe its executions, and send to the push queue.
func (s *DelayedPushStack) newProducerPolicy(roleArns []string) awsiam.ManagedPolicy {
	sm := s.Scheduler.StateMachine
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
		Description: jsii.String("Delayed Push producers: schedule, stop and inspect pushes; send pushes now"),
		Statements: &[]awsiam.PolicyStatement{
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
				Sid:       jsii.String("SendPushesNow"),
				Actions:   jsii.Strings("sqs:SendMessage"),
				Resources: &[]*string{s.PushQueue.Queue.QueueArn()},
			}),
		},
		Roles: &roles,
	})
}
