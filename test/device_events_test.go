package test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
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
		"sqs:ChangeMessageVisibility": true, "sqs:GetQueueUrl": true, "sqs:DeleteMessage": true, "sqs:GetQueueAttributes": true,
		"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true, "logs:CreateLogStream": true, "logs:PutLogEvents": true}, got)

	// SNS may use the topic's key to publish the events, from this account only.
	keys, _ := json.Marshal(tpl.FindResources(jsiiStr("AWS::KMS::Key"), nil))
	assert.Contains(t, string(keys), `"Service":"sns.amazonaws.com"`)
	assert.Contains(t, string(keys), `"aws:SourceAccount"`)
}

func TestGrantManageDevicesIsScopedToTheApplicationAndTheRegistry(t *testing.T) {
	tpl := inStack(t, nil, func(stack awscdk.Stack, push *stacks.DelayedPush) {
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
	assert.ElementsMatch(t, []string{"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:UpdateItem"}, keys(got))
	require.Len(t, got["sns:CreatePlatformEndpoint"], 1)
	assert.Contains(t, got["sns:CreatePlatformEndpoint"][0], ":sns:eu-west-1:111122223333:app/GCM/delayed-push\"", "the application only")
	for _, a := range []string{"sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"} {
		require.Len(t, got[a], 1)
		assert.Contains(t, got[a][0], ":sns:eu-west-1:111122223333:endpoint/GCM/delayed-push/*", "%s: its endpoints only", a)
	}
	for _, r := range got["dynamodb:PutItem"] {
		assert.Regexp(t, "Devices|DeviceOwners", r)
	}
}
