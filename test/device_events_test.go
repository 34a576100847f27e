package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
)

// SNS's application events reach a queue (raw delivery) that a Lambda drains with partial
// batch failures; what it cannot apply waits in a dead-letter queue with an alarm.
func TestDeviceEventsFlowFromTheTopicToTheFunction(t *testing.T) {
	tpl := defaults(t)
	queue := only(t, tpl, "AWS::SQS::Queue", withProperties(map[string]any{"VisibilityTimeout": 60}))
	tpl.HasResourceProperties(jsiiStr("AWS::SNS::Subscription"), map[string]any{
		"Protocol": "sqs", "RawMessageDelivery": true, "Endpoint": getAtt(queue, "Arn"),
	})
	fn := only(t, tpl, "AWS::Lambda::Function", withProperties(map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"DEVICE_OWNERS_TABLE": assertions.Match_AnyValue()})},
		"Description": assertions.Match_StringLikeRegexp(jsiiStr("device events")),
	}))
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{
		"EventSourceArn": getAtt(queue, "Arn"), "FunctionName": ref(fn), "BatchSize": 10,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
		"ScalingConfig":         map[string]any{"MaximumConcurrency": 5}, // a mass token expiry waits in the queue
	})
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{
		"VisibilityTimeout": 60, "SqsManagedSseEnabled": true,
		"RedrivePolicy": assertions.Match_ObjectLike(&map[string]any{"maxReceiveCount": 5}),
	})
	tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmDescription": assertions.Match_StringLikeRegexp(jsiiStr("device events")),
	})

	// The function reads owners and marks device rows disabled, nothing else.
	got := map[string]bool{}
	roleID := roleOf(t, tpl, fn)
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(roleID)}})) {
		for _, a := range s.Action {
			got[a] = true
		}
	}
	assert.Equal(t, map[string]bool{"dynamodb:GetItem": true, "dynamodb:UpdateItem": true, "sqs:ReceiveMessage": true,
		"sqs:DeleteMessage": true, "sqs:GetQueueAttributes": true,
		"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true, "logs:CreateLogStream": true, "logs:PutLogEvents": true}, got)

	// SNS may use the topic's key to publish the events, from this account only.
	tpl.HasResourceProperties(jsiiStr("AWS::KMS::Key"), map[string]any{"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"Service": "sns.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}},
		})}),
	})})
}

func TestGrantManageDevicesIsScopedToTheApplicationAndTheRegistry(t *testing.T) {
	tpl := inStack(t, nil, func(stack awscdk.Stack, push *delayedpush.DelayedPush) {
		backend := awsiam.NewRole(stack, jsii.String("AccountsApi"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
		push.GrantManageDevices(backend)
	})
	role := only(t, tpl, "AWS::IAM::Role", withProperties(map[string]any{"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "ecs-tasks.amazonaws.com"}})}})}))
	got := map[string][]string{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(role)}})) {
		for _, a := range s.Action {
			got[a] = append(got[a], s.Resource...)
		}
	}
	// What devices.Registry calls through awsadapters.DeviceStore: owner rows are read and put
	// (a removed device's row stays as a tombstone); device rows queried, put and deleted
	// (only the device events path and the sender update them); through awsadapters.Preferences,
	// preferences are read and updated (a device-reported zone only where the user set none).
	assert.ElementsMatch(t, []string{"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}, keys(got))
	sns := func(resource string) string {
		return asResource(map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":sns:eu-west-1:111122223333:" + resource}}})
	}
	assert.Equal(t, []string{sns("app/GCM/delayed-push")}, got["sns:CreatePlatformEndpoint"], "the application only")
	for _, a := range []string{"sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"} {
		assert.Equal(t, []string{sns("endpoint/GCM/delayed-push/*")}, got[a], "%s: its endpoints only", a)
	}
	devices := asResource(getAtt(devicesTable(t, tpl), "Arn"))
	owners := asResource(getAtt(only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "deviceId", "KeyType": "HASH"}}})), "Arn"))
	preferences := asResource(getAtt(preferencesTable(t, tpl), "Arn"))
	assert.ElementsMatch(t, []string{devices, owners}, got["dynamodb:PutItem"])
	assert.ElementsMatch(t, []string{owners, preferences}, got["dynamodb:GetItem"])
	for a, table := range map[string]string{"dynamodb:UpdateItem": preferences, "dynamodb:Query": devices, "dynamodb:DeleteItem": devices} {
		assert.Equal(t, []string{table}, got[a], "%s on one table", a)
	}
}

// Nothing lost between SNS and the queue: the subscription has a redrive policy to a
// dead-letter queue of its own, which only this topic may send to (besides TLS), kept 14 days,
// with an alarm; and the consumer's concurrency is configurable.
func TestDeviceEventsSNSCannotLoseEvents(t *testing.T) {
	tpl := defaults(t)
	undelivered := idContaining(t, tpl, "AWS::SQS::Queue", "DeviceEventsUndelivered")
	topic := idContaining(t, tpl, "AWS::SNS::Topic", "DeviceEvents")
	tpl.HasResourceProperties(jsiiStr("AWS::SNS::Subscription"), map[string]any{
		"Protocol": "sqs", "TopicArn": ref(topic), "RawMessageDelivery": true,
		"RedrivePolicy": map[string]any{"deadLetterTargetArn": getAtt(undelivered, "Arn")},
	})
	assert.Contains(t, ids(tpl, "AWS::SQS::Queue", map[string]any{"Properties": assertions.Match_Exact(map[string]any{
		"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": true})}), undelivered, "kept 14 days, SQS-managed SSE, nothing else")
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::QueuePolicy"), map[string]any{
		"Queues": []any{ref(undelivered)},
		"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": []any{
			map[string]any{"Action": "sqs:*", "Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Resource": getAtt(undelivered, "Arn"),
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
			map[string]any{"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": map[string]any{"Service": "sns.amazonaws.com"}, "Resource": getAtt(undelivered, "Arn"),
				"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ref(topic)}}},
		}}),
	})
	alarmTopic := idContaining(t, tpl, "AWS::SNS::Topic", "Alarms")
	tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS", "Threshold": 1, "Statistic": "Maximum",
		"Dimensions":   []any{map[string]any{"Name": "QueueName", "Value": getAtt(undelivered, "QueueName")}},
		"AlarmActions": []any{ref(alarmTopic)},
	})

	tuned := withConfig(t, func(c *stacks.Config) { c.DeviceEventsMaxConcurrency = 20 })
	fn := only(t, tuned, "AWS::Lambda::Function", withProperties(map[string]any{"Description": assertions.Match_StringLikeRegexp(jsiiStr("device events"))}))
	tuned.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{"FunctionName": ref(fn), "ScalingConfig": map[string]any{"MaximumConcurrency": 20}})
	for raw, want := range map[string]string{
		`{"deviceEventsMaxConcurrency":1}`:    `key "deviceEventsMaxConcurrency" must be from 2 to 1000, got 1`,
		`{"deviceEventsMaxConcurrency":1001}`: `key "deviceEventsMaxConcurrency" must be from 2 to 1000, got 1001`,
		`{"deviceEventsMaxConcurrency":"5"}`:  `key "deviceEventsMaxConcurrency" must be a JSON int`,
	} {
		_, err := stacks.ParseConfig(raw)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), want, raw)
	}
	assert.Equal(t, 5, stacks.DefaultConfig().DeviceEventsMaxConcurrency)
}
