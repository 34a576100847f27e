package test

import (
	"regexp"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// A topic policy in the stack replaces SNS's default one: without this statement no alarm
// could reach anyone. It admits CloudWatch for this account's alarms of this stack only.
func TestAlarmsCanPublishToTheAlarmTopic(t *testing.T) {
	tpl := defaults(t)
	alarmTopic := idContaining(t, tpl, "AWS::SNS::Topic", "Alarms")
	// This account's alarms of this stack.
	sourceArn := assertions.Match_Exact(map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":cloudwatch:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":alarm:DelayedPush-*"}}})
	tpl.HasResourceProperties(jsiiStr("AWS::SNS::TopicPolicy"), map[string]any{
		"Topics": []any{ref(alarmTopic)},
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			map[string]any{
				"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Action": "sns:Publish",
				"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}, "Resource": ref(alarmTopic),
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
					"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
				},
			},
		})}),
	})
	// Every alarm is named by CloudFormation after the stack, so the condition admits them (a
	// fixed name would escape it).
	require.NotEmpty(t, ids(tpl, "AWS::CloudWatch::Alarm", nil))
	tpl.AllResourcesProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{"AlarmName": assertions.Match_Absent()})
	// The key CloudWatch encrypts with is scoped to the account too.
	tpl.HasResourceProperties(jsiiStr("AWS::KMS::Key"), map[string]any{"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}},
		})}),
	})})
}

// No function role holds AWSLambdaBasicExecutionRole (any log group of the account); each
// writes to its own log group only.
func TestFunctionsWriteOnlyToTheirOwnLogGroup(t *testing.T) {
	tpl := withShopify(t)
	fns := ids(tpl, "AWS::Lambda::Function", nil)
	require.Len(t, fns, 5)
	for _, fn := range fns {
		hasProperties(t, tpl, "AWS::IAM::Role", roleOf(t, tpl, fn), map[string]any{"ManagedPolicyArns": assertions.Match_Absent()}, "%s: no managed policy", fn)
		logGroup := referenced(t, tpl, "AWS::Lambda::Function", fn, "AWS::Logs::LogGroup", func(lg string) map[string]any {
			return map[string]any{"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogGroup": ref(lg)})}
		})
		got := actionsOf(t, tpl, fn)
		for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			assert.Equal(t, []string{`{"Fn::GetAtt":["` + logGroup + `","Arn"]}`}, got[a], "%s: %s on its own log group only", fn, a)
		}
		assert.NotContains(t, got, "logs:CreateLogGroup", fn)
	}
}

func TestNothingHoldingPushesExpiresOrGoesInOneCall(t *testing.T) {
	tpl := withShopify(t)
	// Every queue holding pushes keeps 14 days; the Shopify orders queues keep raw order bodies
	// (customer data) days only, by design (test/shopify_test.go, TestShopifyRetention).
	defaults(t).AllResourcesProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{"MessageRetentionPeriod": 14 * 24 * 3600})
	tpl.AllResourcesProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"DeletionProtectionEnabled": true})
	tpl.AllResources(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"DeletionPolicy": "Retain"})
	destroy := withConfig(t, func(c *stacks.Config) { c.RemovalPolicy = "destroy" })
	destroy.AllResourcesProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"DeletionProtectionEnabled": false})
}

// The alarms a production team needs, each to the alarm topic.
func TestAlarmsCoverThePipeline(t *testing.T) {
	tpl := defaults(t)
	for _, a := range []map[string]any{
		{"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1},                      // dead letters (push, device events)
		{"MetricName": "ExecutionsFailed", "Threshold": 1},                                        // failed schedules
		{"MetricName": "ExecutionsTimedOut", "Threshold": 1},                                      // timed-out schedules
		{"MetricName": "Errors", "Threshold": 1},                                                  // sender errors
		{"MetricName": "Throttles", "Threshold": 1, "Period": 300},                                // sender throttles
		{"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 900, "Statistic": "Maximum"}, // oldest push on the queue
		{"MetricName": "LatenessMs", "Namespace": "DelayedPush", "ExtendedStatistic": "p99", "Threshold": 60000, "Period": 300,
			"Dimensions": []any{map[string]any{"Name": "Function", "Value": "sender"}}},
	} {
		a["AlarmActions"] = assertions.Match_AnyValue()
		tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), a)
	}
	alarmTopic := idContaining(t, tpl, "AWS::SNS::Topic", "Alarms")
	tpl.AllResourcesProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{"AlarmActions": []any{ref(alarmTopic)}})
}

// One dashboard shows the whole pipeline, the side paths included when they exist.
func TestADashboardShowsThePipeline(t *testing.T) {
	// The body is a Fn::Join of JSON text and references: a title or a metric name is in one
	// of its texts.
	shows := func(text string) map[string]any {
		return map[string]any{"DashboardBody": map[string]any{"Fn::Join": []any{"", assertions.Match_ArrayWith(&[]any{
			assertions.Match_StringLikeRegexp(jsiiStr(regexp.QuoteMeta(`"` + text + `"`)))})}}}
	}
	tpl := defaults(t)
	tpl.ResourceCountIs(jsiiStr("AWS::CloudWatch::Dashboard"), jsiiNum(1))
	for _, title := range []string{"Schedules (executions)", "Push queue", "Sender", "Deliveries", "Lateness (due time to SNS, ms)", "Device events", "HTTP API function"} {
		tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Dashboard"), shows(title))
	}
	for _, metric := range []string{"ExecutionsStarted", "ApproximateAgeOfOldestMessage", "Throttles", "Sent", "PermanentFailures", "EndpointsDisabled", "LatenessMs"} {
		tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Dashboard"), shows(metric))
	}
	tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Dashboard"), map[string]any{"DashboardBody": map[string]any{"Fn::Join": []any{"",
		assertions.Match_Not(assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsiiStr("Shopify orders"))}))}}})
	withShopify(t).HasResourceProperties(jsiiStr("AWS::CloudWatch::Dashboard"), shows("Shopify orders"))
}

// Step Functions may assume the scheduler's role only for this account's state machines, and
// Lambda the functions' roles only for this account's functions.
func TestTheSchedulerRoleHasConfusedDeputyConditions(t *testing.T) {
	tpl := defaults(t)
	for _, fn := range ids(tpl, "AWS::Lambda::Function", nil) {
		hasProperties(t, tpl, "AWS::IAM::Role", roleOf(t, tpl, fn), map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
			"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
				"Principal": map[string]any{"Service": "lambda.amazonaws.com"},
				"Condition": assertions.Match_Exact(map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}}),
			})},
		})}, fn)
	}
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::Role"), map[string]any{"AssumeRolePolicyDocument": map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "states.amazonaws.com"},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
				"ArnLike":      map[string]any{"aws:SourceArn": assertions.Match_AnyValue()},
			},
		}},
	}})
}
