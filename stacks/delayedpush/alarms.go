package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newAlarms raises an alarm when a push is parked in the DLQ, when a scheduled push fails, and
// when the sender itself errors; all notify one topic: the one given, or a new one encrypted
// with the construct's key (CloudWatch cannot publish to a topic under the AWS managed SNS
// key). It returns the topic and the key (yours or a new one), which the device events topic
// uses too.
func newAlarms(c constructs.Construct, d *DelayedPush, p *Props, s settings) (awssns.ITopic, awskms.IKey) {
	topic, key := p.ExistingAlarmTopic, s.key
	if topic == nil {
		tp := awssns.TopicProps{}
		if p.AlarmTopicProps != nil {
			tp = *p.AlarmTopicProps
		}
		tp.MasterKey = key
		if tp.EnforceSSL == nil {
			tp.EnforceSSL = jsii.Bool(true)
		}
		newTopic := awssns.NewTopic(c, jsii.String("Topic"), &tp)
		// A topic policy in the stack replaces SNS's default one: without this statement
		// CloudWatch could not publish, and no alarm would reach anyone. Only this account's
		// alarms of this stack (CloudFormation names them STACK-...) may.
		stack := awscdk.Stack_Of(c)
		newTopic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CloudWatchAlarmsPublish"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sns:Publish"),
			Resources:  &[]*string{newTopic.TopicArn()},
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
				"ArnLike": map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("cloudwatch"),
					Resource: jsii.String("alarm"), ResourceName: jsii.String(*stack.StackName() + "-*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})},
			},
		}))
		topic = newTopic
	}
	if p.AlarmEmail != nil && *p.AlarmEmail != "" {
		// In this construct, also when the topic is yours and lives elsewhere.
		awssns.NewSubscription(c, jsii.String("Email"), &awssns.SubscriptionProps{
			Topic: topic, Protocol: awssns.SubscriptionProtocol_EMAIL, Endpoint: p.AlarmEmail,
		})
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	alarmAt := func(id, description string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
	}
	alarm := func(id, description string, metric awscloudwatch.IMetric) { alarmAt(id, description, metric, 1) }
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	alarm("DeadLetters", "Pushes are parked in the dead-letter queue: read their parkReason, fix, and redrive.",
		d.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}))
	alarm("FailedSchedules", "Scheduled pushes failed (invalid schedule or the push queue refused them).",
		d.StateMachine.MetricFailed(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}))
	alarm("SenderErrors", "The sender Lambda failed whole invocations.",
		d.SenderFunction.MetricErrors(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}))
	alarm("TimedOutSchedules", "Scheduled pushes timed out in the state machine (a push waiting past the state machine's limits).",
		d.StateMachine.MetricTimedOut(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}))
	alarm("SenderThrottles", "The sender Lambda was throttled: raise the account's concurrency or lower senderMaxConcurrency elsewhere.",
		d.SenderFunction.MetricThrottles(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	alarmAt("OldestPush", "A push has waited on the push queue for more than 15 minutes: the sender is stopped, throttled or failing.",
		d.PushQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}), 900)
	alarmAt("Lateness", "Pushes go out late: p99 lateness (due time to SNS's confirmation) over 60 s for 5 minutes.",
		LatenessMetric(fiveMinutes, "p99"), 60000)
	return topic, key
}

// LatenessMetric is the sender's lateness (EMF metric DelayedPush/LatenessMs, Function=sender):
// from a push's due time to SNS's confirmation, in milliseconds.
func LatenessMetric(period awscdk.Duration, statistic string) awscloudwatch.Metric {
	return SenderMetric("LatenessMs", period, statistic)
}

// SenderMetric is one of the sender's EMF metrics (internal/metrics).
func SenderMetric(name string, period awscdk.Duration, statistic string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("DelayedPush"), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"Function": jsii.String("sender")},
		Period:        period, Statistic: jsii.String(statistic),
	})
}

// newEncryptionKey returns the construct's key: yours, or a new one, rotated yearly, that
// CloudWatch (alarms), SNS (device events) and CloudWatch Logs (every log group) may use.
func newEncryptionKey(c constructs.Construct, p *Props, s settings) awskms.IKey {
	if p.ExistingEncryptionKey != nil {
		return p.ExistingEncryptionKey
	}
	kp := awskms.KeyProps{}
	if p.EncryptionKeyProps != nil {
		kp = *p.EncryptionKeyProps
	}
	if kp.Description == nil {
		kp.Description = jsii.String("Delayed Push: alarm and device events topics, log groups, Shopify secret")
	}
	if kp.EnableKeyRotation == nil {
		kp.EnableKeyRotation = jsii.Bool(true)
	}
	if kp.RemovalPolicy == "" {
		kp.RemovalPolicy = s.removal
	}
	key := awskms.NewKey(c, jsii.String("TopicKey"), &kp)
	stack := awscdk.Stack_Of(c)
	if p.ExistingAlarmTopic == nil {
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CloudWatchAlarmsPublish"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}), nil)
	}
	// CloudWatch Logs encrypts the log groups of this account and region with it.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsEncrypt"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*stack.Region()+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("logs"), Resource: jsii.String("log-group"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})}},
	}), nil)
	return key
}

// newLogGroup is a log group with the configured retention and removal, encrypted with the
// construct's key.
func newLogGroup(scope constructs.Construct, id string, s settings) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{Retention: s.logRetention, RemovalPolicy: s.removal, EncryptionKey: s.key})
}

// deadLetterAlarm raises an alarm, on topic, as soon as a message waits in a dead-letter queue.
func deadLetterAlarm(c constructs.Construct, dlq awssqs.IQueue, topic awssns.ITopic, description string) {
	deadLetterAlarmWithID(c, "DeadLetters", dlq, topic, description)
}

// deadLetterAlarmWithID is deadLetterAlarm under construct id id (for a second one in c).
func deadLetterAlarmWithID(c constructs.Construct, id string, dlq awssqs.IQueue, topic awssns.ITopic, description string) {
	awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(description),
		Metric: dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}),
		Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}).AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
}
