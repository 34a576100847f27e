package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AlarmsProps names what is watched.
type AlarmsProps struct {
	DeadLetterQueue awssqs.IQueue
	StateMachine    awsstepfunctions.IStateMachine
	Sender          awslambda.IFunction
	// Email, when set, is subscribed to the alarm topic.
	Email string
	// RemovalPolicy applies to the topic's key.
	RemovalPolicy awscdk.RemovalPolicy
}

// Alarms raises an alarm when a push is parked in the DLQ, when a scheduled push fails, and when
// the sender itself errors; all notify one topic.
type Alarms struct {
	constructs.Construct
	Topic awssns.Topic
}

// NewAlarms creates the alarm topic and alarms.
func NewAlarms(scope constructs.Construct, id string, props *AlarmsProps) *Alarms {
	c := constructs.NewConstruct(scope, jsii.String(id))
	// Encrypted at rest with a key of our own: CloudWatch cannot publish to a topic under the
	// AWS managed SNS key, so the key policy lets CloudWatch use this one.
	key := awskms.NewKey(c, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Delayed Push alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     props.RemovalPolicy,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
	}), nil)
	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{EnforceSSL: jsii.Bool(true), MasterKey: key})
	if props.Email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id, description string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
	}
	period := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}
	alarm("DeadLetters", "Pushes are parked in the dead-letter queue: inspect them and redrive.",
		props.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(period))
	alarm("FailedSchedules", "Scheduled pushes failed (invalid schedule or the push queue refused them).",
		props.StateMachine.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Sum")}))
	alarm("SenderErrors", "The sender Lambda failed whole invocations.",
		props.Sender.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Sum")}))
	return &Alarms{Construct: c, Topic: topic}
}
