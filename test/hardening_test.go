package test

import (
	"encoding/json"
	"strings"
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
	alarmTopic := ""
	for _, id := range ids(tpl, "AWS::SNS::Topic", nil) {
		if strings.Contains(id, "Alarms") {
			alarmTopic = id
		}
	}
	require.NotEmpty(t, alarmTopic)
	sourceArn := assertions.NewCapture(nil)
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
	raw, _ := json.Marshal(sourceArn.AsObject())
	assert.Equal(t, `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudwatch:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":alarm:DelayedPush-*"]]}`,
		string(raw), "this account's alarms of this stack")
	// Every alarm is named by CloudFormation after the stack, so the condition admits them.
	for _, id := range ids(tpl, "AWS::CloudWatch::Alarm", nil) {
		raw, _ := json.Marshal((*tpl.ToJSON())["Resources"].(map[string]any)[id])
		assert.NotContains(t, string(raw), `"AlarmName"`, "%s: a fixed name would escape the SourceArn condition", id)
	}
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
	resources := (*tpl.ToJSON())["Resources"].(map[string]any)
	fns := ids(tpl, "AWS::Lambda::Function", nil)
	require.Len(t, fns, 5)
	for _, fn := range fns {
		role := roleOf(t, tpl, fn)
		props := resources[role].(map[string]any)["Properties"].(map[string]any)
		assert.NotContains(t, props, "ManagedPolicyArns", "%s: no managed policy", fn)
		logGroup := resources[fn].(map[string]any)["Properties"].(map[string]any)["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
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
	alarmTopic := ""
	for _, id := range ids(tpl, "AWS::SNS::Topic", nil) {
		if strings.Contains(id, "Alarms") {
			alarmTopic = id
		}
	}
	tpl.AllResourcesProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{"AlarmActions": []any{ref(alarmTopic)}})
}

// One dashboard shows the whole pipeline, the side paths included when they exist.
func TestADashboardShowsThePipeline(t *testing.T) {
	body := func(tpl assertions.Template) string {
		db := only(t, tpl, "AWS::CloudWatch::Dashboard", nil)
		raw, _ := json.Marshal((*tpl.ToJSON())["Resources"].(map[string]any)[db].(map[string]any)["Properties"].(map[string]any)["DashboardBody"])
		return string(raw)
	}
	b := body(defaults(t))
	for _, title := range []string{"Schedules (executions)", "Push queue", "Sender", "Deliveries", "Lateness (due time to SNS, ms)", "Device events", "HTTP API function"} {
		assert.Contains(t, b, title)
	}
	for _, metric := range []string{"ExecutionsStarted", "ApproximateAgeOfOldestMessage", "Throttles", "Sent", "PermanentFailures", "EndpointsDisabled", "LatenessMs"} {
		assert.Contains(t, b, metric)
	}
	assert.NotContains(t, b, "Shopify orders")
	assert.Contains(t, body(withShopify(t)), "Shopify orders")
}

// Step Functions may assume the scheduler's role only for this account's state machines, and
// Lambda the functions' roles only for this account's functions.
func TestTheSchedulerRoleHasConfusedDeputyConditions(t *testing.T) {
	tpl := defaults(t)
	resources := (*tpl.ToJSON())["Resources"].(map[string]any)
	for _, fn := range ids(tpl, "AWS::Lambda::Function", nil) {
		trust, _ := json.Marshal(resources[roleOf(t, tpl, fn)].(map[string]any)["Properties"].(map[string]any)["AssumeRolePolicyDocument"])
		assert.Contains(t, string(trust), `"Condition":{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}}`, fn)
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
