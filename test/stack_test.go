package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
	"github.com/delayed-push/delayed-push/stacks"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
	"github.com/delayed-push/delayed-push/statemachines"
)

// The default stack, synthesized once: each synth takes seconds.
var defaultTemplate assertions.Template

func defaults(t *testing.T) assertions.Template {
	t.Helper()
	if defaultTemplate == nil {
		_, defaultTemplate = synth(t, stacks.DefaultConfig(), "")
	}
	return defaultTemplate
}

func withConfig(t *testing.T, edit func(*stacks.Config)) assertions.Template {
	t.Helper()
	cfg := stacks.DefaultConfig()
	edit(&cfg)
	_, tpl := synth(t, cfg, "")
	return tpl
}

// aslDefinition is what the checks that go through every state read of the scheduler's
// definition.
type aslDefinition struct {
	QueryLanguage, StartAt string
	States                 map[string]aslState
}

type aslState struct {
	Type, Resource, Next, Timestamp, Error, Cause string
	End                                           bool
}

// asl is the scheduler's definition, parsed: the same document the template carries inline
// (TestSchedulerDefinitionIsTheEmbeddedASLWithTheQueueURL).
func asl(t *testing.T) aslDefinition {
	t.Helper()
	var def aslDefinition
	require.NoError(t, json.Unmarshal([]byte(statemachines.Scheduler), &def))
	return def
}

// schedulerHas asserts that the definition the template's state machine carries has these
// states, each a pattern (objectLike: a state may have more fields).
func schedulerHas(t *testing.T, states map[string]any) {
	t.Helper()
	defaults(t).HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
		"DefinitionString": assertions.Match_SerializedJson(assertions.Match_ObjectLike(&map[string]any{"States": assertions.Match_ObjectLike(&states)})),
	})
}

func TestSchedulerDefinitionIsTheEmbeddedASLWithTheQueueURL(t *testing.T) {
	tpl := defaults(t)
	queueID, _ := pushQueue(t, tpl)
	tpl.HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
		"DefinitionString":        statemachines.Scheduler,
		"DefinitionSubstitutions": map[string]any{"PushQueueUrl": ref(queueID)},
	})
}

func TestSchedulerIsStandardWithLoggingAndTracing(t *testing.T) {
	defaults(t).HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
		"StateMachineType":     "STANDARD",
		"TracingConfiguration": map[string]any{"Enabled": true},
		"LoggingConfiguration": map[string]any{
			"Level":                "ALL",
			"IncludeExecutionData": false,
			"Destinations":         assertions.Match_AnyValue(),
		},
	})
}

func TestSchedulerWaitsThenSendsToTheQueueWithoutLambda(t *testing.T) {
	def := asl(t)
	assert.Equal(t, "JSONata", def.QueryLanguage, "one query language for every state")

	require.Equal(t, "WaitUntilDue", def.StartAt)
	wait := def.States["WaitUntilDue"]
	assert.Equal(t, "Wait", wait.Type)
	assert.Equal(t, "{% $exists("+statemachines.CheckSchedule+") ? $states.context.Execution.StartTime : $fromMillis($ceil("+
		statemachines.DueMillis+" / 1000) * 1000) %}", wait.Timestamp,
		"until the due time, rounded up to the second (never early); a bad input does not wait")
	require.Equal(t, "SendPush", wait.Next)

	schedulerHas(t, map[string]any{"SendPush": map[string]any{
		"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true,
		"Arguments": map[string]any{
			"QueueUrl": "${PushQueueUrl}",
			// The push as given, with its id and due time in the body; a bad input raises the
			// check's answer.
			"MessageBody": "{% ($invalid := " + statemachines.CheckSchedule + "; $exists($invalid) ? $error($invalid) : " +
				"$merge([$states.input.push, {'id': $exists($states.input.push.id) and $states.input.push.id != '' ? " +
				"$states.input.push.id : $states.context.Execution.Name, 'dueAt': $fromMillis(" + statemachines.DueMillis + ")}])) %}",
			"MessageAttributes": assertions.Match_Exact(map[string]any{
				"executionName": map[string]any{"DataType": "String", "StringValue": "{% $states.context.Execution.Name %}"},
				"scheduledAt":   map[string]any{"DataType": "String", "StringValue": "{% $states.context.Execution.StartTime %}"},
			}),
		},
	}})
	for name, s := range def.States {
		assert.NotContains(t, s.Resource, "lambda", "state %s must not call Lambda", name)
	}
}

func TestSchedulerRetriesTransientErrorsAndFailsClearly(t *testing.T) {
	failed := assertions.NewCapture(nil)
	schedulerHas(t, map[string]any{"SendPush": map[string]any{
		"TimeoutSeconds": 30,
		"Retry": []any{map[string]any{
			"ErrorEquals":     []any{"States.TaskFailed", "States.Timeout"},
			"IntervalSeconds": 2, "MaxAttempts": 6, "MaxDelaySeconds": 60, "JitterStrategy": "FULL",
			"BackoffRate": 2, // backoff must grow
		}},
		"Catch": []any{
			// The check's answer, raised in the arguments.
			map[string]any{"ErrorEquals": []any{"States.QueryEvaluationError"}, "Next": "InvalidSchedule", "Output": "{% $states.input %}"},
			map[string]any{"ErrorEquals": []any{"States.ALL"}, "Output": "{% $states.errorOutput %}", "Next": failed},
		},
	}})
	schedulerHas(t, map[string]any{*failed.AsString(): map[string]any{
		"Type": "Fail", "Error": "DelayedPush.EnqueueFailed", "Cause": "{% $states.input.Cause %}"}})
}

func TestSchedulerRejectsBadSchedulesBeforeWaiting(t *testing.T) {
	states := asl(t).States
	// A bad input waits until the execution's start (not at all), then SendPush's arguments
	// raise the check's answer, caught into InvalidSchedule, whose cause is that answer.
	assert.Contains(t, states["WaitUntilDue"].Timestamp, "$exists("+statemachines.CheckSchedule+") ? $states.context.Execution.StartTime : ")
	assert.Equal(t, aslState{Type: "Fail", Error: "DelayedPush.InvalidSchedule", Cause: "{% " + statemachines.CheckSchedule + " %}"}, states["InvalidSchedule"])

	// The limits are the Go contract's.
	assert.Contains(t, statemachines.CheckSchedule, fmt.Sprintf("$delay > %d", schedule.MaxDelaySeconds))
	assert.Contains(t, statemachines.CheckSchedule, fmt.Sprintf("> %d000", schedule.MaxDelaySeconds), "sendAt's limit, in milliseconds")
	assert.Contains(t, statemachines.CheckSchedule, fmt.Sprintf("$lateness > %d", push.MaxLatenessSeconds))
	assert.Contains(t, statemachines.CheckSchedule, fmt.Sprintf("$ttl > %d", push.MaxTTLSeconds))
	assert.Contains(t, statemachines.CheckSchedule, fmt.Sprintf("$length($id) > %d", push.MaxIDLen))
}

// A valid push takes two state transitions (billed by Step Functions Standard) with a delay
// as with a time: wait, send.
func TestValidPushesTakeTwoTransitionsEitherWay(t *testing.T) {
	def := asl(t)
	path := []string{}
	for state := def.StartAt; ; {
		path = append(path, state)
		s, ok := def.States[state]
		require.True(t, ok, "a state %s", state)
		if s.End {
			break
		}
		state = s.Next
	}
	assert.Equal(t, []string{"WaitUntilDue", "SendPush"}, path)
	for name, s := range def.States {
		assert.NotEqual(t, "Choice", s.Type, "state %s: no state of its own for the check", name)
	}
}

func TestSenderFunctionIsArmGoOnAL2023(t *testing.T) {
	defaults(t).HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"Timeout":       30,
		"MemorySize":    256,
		"TracingConfig": map[string]any{"Mode": "Active"},
		"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
		"Environment": map[string]any{"Variables": map[string]any{
			"DEVICES_TABLE":           assertions.Match_AnyValue(),
			"DELIVERIES_TABLE":        assertions.Match_AnyValue(),
			"DELIVERY_RETENTION_DAYS": "30",
			"PUSH_QUEUE_URL":          assertions.Match_AnyValue(),
			"DEAD_LETTER_QUEUE_URL":   assertions.Match_AnyValue(),
			"MAX_RECEIVE_COUNT":       "5",
			"SCHEDULER_ROLE_ID":       assertions.Match_AnyValue(),
			"DELIVERY_GUARANTEE":      "at-least-once",
			"SCHEDULES_TABLE":         assertions.Match_AnyValue(),
			"MAX_LATENESS_SECONDS":    "86400",
		}},
	})
}

func TestSenderKnowsItsQueuesAndTrustsOnlyTheSchedulersRole(t *testing.T) {
	tpl := defaults(t)
	queueID, dlqID := pushQueue(t, tpl)
	schedulerRole := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
		"RoleArn": map[string]any{"Fn::GetAtt": []any{schedulerRole, "Arn"}},
	})
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"PUSH_QUEUE_URL":        ref(queueID),
			"DEAD_LETTER_QUEUE_URL": ref(dlqID),
			// SQS stamps SenderId with the sending role's unique id.
			"SCHEDULER_ROLE_ID": getAtt(*schedulerRole.AsString(), "RoleId"),
		})},
	})

	withConfig(t, func(c *stacks.Config) {
		c.DeliveryGuarantee = "at-most-once"
		c.MaxReceiveCount = 3
		c.MaxLatenessSeconds = 0
	}).
		HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				"DELIVERY_GUARANTEE": "at-most-once", "MAX_RECEIVE_COUNT": "3", "MAX_LATENESS_SECONDS": "0"})},
		})
}

// A claim's lease is the invocation's deadline plus delivery.DefaultLeaseSkew; the queue
// hands a message out again only after its visibility timeout. The lease must end first, or
// a retry after a crash would find the delivery still "busy" (the parked pushes of #7).
func TestVisibilityTimeoutOutlastsEveryClaimLease(t *testing.T) {
	for _, c := range []struct{ timeout, visibility int }{{1, 0}, {3, 0}, {30, 0}, {10, 15}, {900, 905}} {
		cfg := stacks.DefaultConfig()
		cfg.SenderTimeoutSeconds, cfg.VisibilityTimeoutSeconds = c.timeout, c.visibility
		require.NoError(t, cfg.Validate())
		lease := time.Duration(c.timeout)*time.Second + delivery.DefaultLeaseSkew
		assert.Greater(t, time.Duration(cfg.VisibilityTimeout())*time.Second, lease, "%+v", c)
	}
	// The smallest visibility the configuration accepts still outlasts the lease.
	assert.Greater(t, time.Duration(delayedpush.MinVisibilityMarginSeconds)*time.Second, delivery.DefaultLeaseSkew)

	withConfig(t, func(c *stacks.Config) { c.SenderTimeoutSeconds = 10; c.VisibilityTimeoutSeconds = 15 }).
		HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{"VisibilityTimeout": 15, "RedrivePolicy": assertions.Match_AnyValue()})
}

func TestSenderEventSourceBatchTenWindowZeroPartialFailures(t *testing.T) {
	tpl := defaults(t)
	queueID, _ := pushQueue(t, tpl)
	tpl.ResourceCountIs(jsiiStr("AWS::Lambda::EventSourceMapping"), jsiiNum(2)) // push queue, device events
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{
		"BatchSize": 10,
		// Set to 0 explicitly: absent would mean the same today, but says nothing.
		"MaximumBatchingWindowInSeconds": 0,
		"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
		"ScalingConfig":                  map[string]any{"MaximumConcurrency": 10},
		"EventSourceArn":                 getAtt(queueID, "Arn"),
	})
}

func TestSenderMaxConcurrencyIsConfigurable(t *testing.T) {
	withConfig(t, func(c *stacks.Config) { c.SenderMaxConcurrency = 25 }).
		HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{
			"ScalingConfig": map[string]any{"MaximumConcurrency": 25},
		})
}

func TestPushQueueEncryptedWithDLQAndVisibilitySixTimesTimeout(t *testing.T) {
	tpl := defaults(t)
	queueID, dlqID := pushQueue(t, tpl)
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{
		"SqsManagedSseEnabled": true,
		"VisibilityTimeout":    6 * 30,
		"RedrivePolicy":        map[string]any{"deadLetterTargetArn": getAtt(dlqID, "Arn"), "maxReceiveCount": 5},
	})
	tpl.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{
		"SqsManagedSseEnabled":   true,
		"MessageRetentionPeriod": 14 * 24 * 3600,
		"RedrivePolicy":          assertions.Match_Absent(),
	})

	// Both queues refuse requests without TLS (as do the three device events queues and the
	// economy engine's dead-letter queue).
	tpl.ResourceCountIs(jsiiStr("AWS::SQS::QueuePolicy"), jsiiNum(6))
	for _, id := range []string{queueID, dlqID} {
		tpl.HasResourceProperties(jsiiStr("AWS::SQS::QueuePolicy"), map[string]any{
			"Queues": []any{ref(id)},
			"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}),
			})}),
		})
	}

	slow := withConfig(t, func(c *stacks.Config) { c.SenderTimeoutSeconds = 60; c.MaxReceiveCount = 3 })
	slow.HasResourceProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{
		"VisibilityTimeout": 360,
		"RedrivePolicy":     assertions.Match_ObjectLike(&map[string]any{"maxReceiveCount": 3}),
	})
	slow.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Timeout": 60})
}

func TestTablesEncryptedOnDemandWithRecovery(t *testing.T) {
	tpl := defaults(t)
	tpl.ResourceCountIs(jsiiStr("AWS::DynamoDB::Table"), jsiiNum(6)) // TestRecipientClockTables checks the last two
	for _, keys := range [][2]string{{"userId", "endpointArn"}, {"pushId", "endpointArn"}} {
		tpl.HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": keys[0], "KeyType": "HASH"},
				map[string]any{"AttributeName": keys[1], "KeyType": "RANGE"},
			},
			"BillingMode":                      "PAY_PER_REQUEST",
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		})
	}
	tpl.HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true},
	})
}

// The schedules index: one row per key, and a sparse index of the pending ones by recipient
// and due time, with every attribute, so List reads one index and nothing else.
func TestSchedulesTableHasTheSparsePendingIndex(t *testing.T) {
	defaults(t).HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": "key", "KeyType": "HASH"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"SSESpecification":                 map[string]any{"SSEEnabled": true},
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
		"GlobalSecondaryIndexes": []any{map[string]any{
			"IndexName": "pending",
			"KeySchema": []any{
				map[string]any{"AttributeName": "pendingRecipient", "KeyType": "HASH"},
				map[string]any{"AttributeName": "dueAt", "KeyType": "RANGE"},
			},
			"Projection": map[string]any{"ProjectionType": "ALL"},
		}},
	})
}

func TestRemovalPolicyRetainsDataByDefault(t *testing.T) {
	destroy := withConfig(t, func(c *stacks.Config) { c.RemovalPolicy = "destroy" })
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup", "AWS::KMS::Key"} {
		defaults(t).AllResources(jsiiStr(typ), map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
		destroy.AllResources(jsiiStr(typ), map[string]any{"DeletionPolicy": "Delete"})
	}
}

func TestLogRetentionIsConfigurable(t *testing.T) {
	tpl := defaults(t)
	tpl.ResourceCountIs(jsiiStr("AWS::Logs::LogGroup"), jsiiNum(5)) // sender, scheduler, API function, API access logs, device events
	tpl.AllResourcesProperties(jsiiStr("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	withConfig(t, func(c *stacks.Config) { c.LogRetentionDays = 7 }).
		AllResourcesProperties(jsiiStr("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 7})
}

// Actions that AWS only grants on "*": X-Ray segments and the Step Functions log delivery API.
var starOnlyActions = map[string]bool{
	"xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true,
	"xray:GetSamplingRules": true, "xray:GetSamplingTargets": true,
	"logs:CreateLogDelivery": true, "logs:GetLogDelivery": true, "logs:UpdateLogDelivery": true,
	"logs:DeleteLogDelivery": true, "logs:ListLogDeliveries": true, "logs:PutResourcePolicy": true,
	"logs:DescribeResourcePolicies": true, "logs:DescribeLogGroups": true,
}

func TestIAMHasNoWildcardActionsOnDataResources(t *testing.T) {
	tpl := defaults(t)
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for _, s := range policyStatements(t, tpl, typ, nil) {
			for _, a := range s.Action {
				assert.NotContains(t, a, "*", "a wildcard action")
				for _, r := range s.Resource {
					if r == "*" {
						assert.True(t, starOnlyActions[a], "%s granted on every resource", a)
					}
				}
			}
		}
	}
}

// senderStatements returns the statements of the sender role's policy, by action.
func senderStatements(t *testing.T, tpl assertions.Template) map[string][]string {
	t.Helper()
	role := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Role": map[string]any{"Fn::GetAtt": []any{role, "Arn"}}})
	byAction := map[string][]string{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(*role.AsString())}})) {
		for _, a := range s.Action {
			byAction[a] = append(byAction[a], s.Resource...)
		}
	}
	require.NotEmpty(t, byAction, "no policy for the sender's role")
	return byAction
}

func TestSenderGrantsAreLeastPrivilege(t *testing.T) {
	tpl := defaults(t)
	byAction := senderStatements(t, tpl)
	var dynamo []string
	for a := range byAction {
		if strings.HasPrefix(a, "dynamodb:") {
			dynamo = append(dynamo, a)
		}
	}
	assert.ElementsMatch(t, []string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"}, dynamo)
	devices := devicesTable(t, tpl)
	owners := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "deviceId", "KeyType": "HASH"}}}))
	assert.Equal(t, []string{`{"Fn::GetAtt":["` + devices + `","Arn"]}`}, byAction["dynamodb:Query"], "Query only on the device registry")
	assert.Contains(t, byAction["dynamodb:UpdateItem"], `{"Fn::GetAtt":["`+devices+`","Arn"]}`, "it marks dead devices disabled")
	assert.NotContains(t, strings.Join(byAction["dynamodb:GetItem"], ","), devices, "it reads no device row one by one")
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"} {
		assert.NotContains(t, strings.Join(byAction[a], ","), owners, "%s: the sender never touches the owners table", a)
	}

	assert.Equal(t, []string{asResource(map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":sns:", ref("AWS::Region"), ":",
		ref("AWS::AccountId"), ":endpoint/GCM/delayed-push/*"}}})}, byAction["sns:Publish"], "publish only to the app's endpoints")
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} { // what Lambda's poller calls
		assert.Contains(t, byAction, a)
	}
	// It requeues to the push queue and parks on the dead-letter queue, nowhere else.
	queueID, dlqID := pushQueue(t, tpl)
	assert.ElementsMatch(t, []string{
		`{"Fn::GetAtt":["` + queueID + `","Arn"]}`, `{"Fn::GetAtt":["` + dlqID + `","Arn"]}`,
	}, byAction["sqs:SendMessage"])
}

func TestPlatformApplicationArnScopesPublish(t *testing.T) {
	tpl := withConfig(t, func(c *stacks.Config) {
		c.PlatformApplicationArn = "arn:aws:sns:eu-west-1:123456789012:app/GCM/shop-app"
	})
	assert.Equal(t, []string{"arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/shop-app/*"}, senderStatements(t, tpl)["sns:Publish"])
}

func TestProducerPrincipalsGetExactlyWhatTheClientUses(t *testing.T) {
	roles := []string{"arn:aws:iam::123456789012:role/orders-api", "arn:aws:iam::123456789012:role/team/marketing"}
	tpl := withConfig(t, func(c *stacks.Config) { c.ProducerPrincipals = roles })
	sm := only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	queueID, _ := pushQueue(t, tpl)
	schedules := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{map[string]any{"AttributeName": "key", "KeyType": "HASH"}}}))
	devices := devicesTable(t, tpl)
	owners := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "deviceId", "KeyType": "HASH"}}}))
	api := only(t, tpl, "AWS::ApiGatewayV2::Api", nil)
	e := economyOf(t, tpl)
	// Executions of this state machine only; the application's endpoints only.
	executions := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":states:", ref("AWS::Region"), ":", ref("AWS::AccountId"),
		":execution:", getAtt(sm, "Name"), ":*"}}}
	endpoints := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":sns:", ref("AWS::Region"), ":", ref("AWS::AccountId"),
		":endpoint/GCM/delayed-push/*"}}}
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::ManagedPolicy"), map[string]any{
		"Roles": []any{"orders-api", "marketing"},
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Sid": "SchedulePushes", "Effect": "Allow", "Action": "states:StartExecution", "Resource": ref(sm)},
			map[string]any{"Sid": "ManageScheduledPushes", "Effect": "Allow",
				"Action": []any{"states:StopExecution", "states:DescribeExecution"}, "Resource": executions},
			map[string]any{"Sid": "KeepTheSchedulesIndex", "Effect": "Allow",
				"Action":   []any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"},
				"Resource": []any{getAtt(schedules, "Arn"), map[string]any{"Fn::Join": []any{"", []any{getAtt(schedules, "Arn"), "/index/pending"}}}}},
			map[string]any{"Sid": "SendPushesNow", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": getAtt(queueID, "Arn")},
			map[string]any{"Sid": "RegisterDevices", "Effect": "Allow", "Action": "sns:CreatePlatformEndpoint", "Resource": assertions.Match_AnyValue()},
			map[string]any{"Sid": "ManageDeviceEndpoints", "Effect": "Allow",
				"Action": []any{"sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"}, "Resource": endpoints},
			map[string]any{"Sid": "KeepTheDeviceOwners", "Effect": "Allow",
				"Action": []any{"dynamodb:GetItem", "dynamodb:PutItem"}, "Resource": getAtt(owners, "Arn")},
			map[string]any{"Sid": "KeepTheDeviceRegistry", "Effect": "Allow",
				"Action": []any{"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"}, "Resource": getAtt(devices, "Arn")},
			// Preferences (GrantManageDevices) and local times resolved in the recipient's zone (GrantSchedule).
			map[string]any{"Sid": "KeepThePreferences", "Effect": "Allow",
				"Action": []any{"dynamodb:GetItem", "dynamodb:UpdateItem"}, "Resource": getAtt(preferencesTable(t, tpl), "Arn")},
			// The HTTP API's routes the client's calls correspond to (IAM authorization).
			map[string]any{"Sid": "InvokePushRoutes", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": pushRouteArns(api, false)},
			map[string]any{"Sid": "InvokeDeviceRoutes", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": deviceRouteArns(api, false)},
			// The economy engine's schedules and the role they run as, to EventBridge Scheduler only.
			map[string]any{"Sid": "ScheduleEconomyPushes", "Effect": "Allow",
				"Action": []any{"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"}, "Resource": arnIn("scheduler", "schedule/"+e.groupName+"/*")},
			map[string]any{"Sid": "PassTheEconomyRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": getAtt(e.role, "Arn"),
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}},
		}},
	})

	// With no principals the policy exists (for users to attach) but is attached to nobody.
	defaults(t).HasResourceProperties(jsiiStr("AWS::IAM::ManagedPolicy"), map[string]any{"Roles": assertions.Match_Absent()})
	// With JWT authorization API Gateway checks no IAM permission: no execute-api statement.
	jwt := withConfig(t, func(c *stacks.Config) {
		c.APIJwtIssuer, c.APIJwtAudience = "https://auth.example.com/", []string{"pushes"}
	})
	for _, s := range policyStatements(t, jwt, "AWS::IAM::ManagedPolicy", nil) {
		assert.NotContains(t, s.Action, "execute-api:Invoke", s.Sid)
	}
}

func TestOutputsNameWhatProducersNeed(t *testing.T) {
	tpl := defaults(t)
	for _, name := range []string{"StateMachineArn", "PushQueueUrl", "DeadLetterQueueUrl", "DevicesTableName",
		"DeliveriesTableName", "SchedulesTableName", "SenderFunctionName", "ProducerPolicyArn", "AlarmTopicArn",
		"DeviceOwnersTableName", "PlatformApplicationArn", "DeviceEventsTopicArn", "PreferencesTableName", "DefaultTimeZone"} {
		tpl.HasOutput(jsiiStr(name), map[string]any{"Value": assertions.Match_AnyValue(), "Description": assertions.Match_AnyValue()})
	}
}

func TestAlarmsWatchDeadLettersFailedSchedulesAndSenderErrors(t *testing.T) {
	tpl := defaults(t)
	for _, metric := range []string{"ApproximateNumberOfMessagesVisible", "ExecutionsFailed", "Errors"} {
		tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{
			"MetricName": metric, "AlarmActions": assertions.Match_AnyValue(),
		})
	}
	assert.Empty(t, ids(tpl, "AWS::SNS::Subscription", withProperties(map[string]any{"Protocol": "email"})), "no e-mail without alarmEmail")

	// The topic is encrypted with a rotated key that CloudWatch may use.
	key := only(t, tpl, "AWS::KMS::Key", withProperties(map[string]any{"EnableKeyRotation": true}))
	tpl.AllResourcesProperties(jsiiStr("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": getAtt(key, "Arn")})
	tpl.HasResourceProperties(jsiiStr("AWS::KMS::Key"), map[string]any{
		"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}}),
		})}),
	})

	withConfig(t, func(c *stacks.Config) { c.AlarmEmail = "oncall@example.com" }).
		HasResourceProperties(jsiiStr("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
}

func TestFunctionAndStateMachineWaitForTheirPolicies(t *testing.T) {
	// Without the dependency, the first invocation or execution can run before its grants exist.
	tpl := defaults(t)
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"} {
		dep := assertions.NewCapture(nil)
		tpl.HasResource(jsiiStr(typ), map[string]any{"DependsOn": []any{dep}})
		assert.Contains(t, ids(tpl, "AWS::IAM::Policy", nil), *dep.AsString(), "%s depends on an IAM policy only", typ)
	}
}
