package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/stacks"
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

// pushQueue returns the logical ids of the push queue (the one with a redrive policy) and its DLQ.
func pushQueue(t *testing.T, tpl assertions.Template) (queueID string, queue map[string]any, dlqID string, dlq map[string]any) {
	t.Helper()
	qs := resources(t, tpl, "AWS::SQS::Queue")
	require.Len(t, qs, 2)
	for id, q := range qs {
		if _, ok := props(q)["RedrivePolicy"]; ok {
			queueID, queue = id, q
		} else {
			dlqID, dlq = id, q
		}
	}
	require.NotEmpty(t, queueID, "no queue has a redrive policy")
	require.NotEmpty(t, dlqID, "no dead-letter queue")
	return
}

func TestSchedulerDefinitionIsTheASLFileWithTheQueueURL(t *testing.T) {
	tpl := defaults(t)
	raw, err := json.Marshal(aslFile(t))
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "${PushQueueUrl}", "PUSHQUEUE_URL")), &want))
	assert.Equal(t, want, stateMachineDefinition(t, tpl))

	// The one substitution is the push queue's URL.
	queueID, _, _, _ := pushQueue(t, tpl)
	_, sm := only(t, tpl, "AWS::StepFunctions::StateMachine")
	assert.Equal(t, map[string]any{"PushQueueUrl": map[string]any{"Ref": queueID}}, props(sm)["DefinitionSubstitutions"])
}

func TestSchedulerIsStandardWithLoggingAndTracing(t *testing.T) {
	tpl := defaults(t)
	tpl.HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
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
	def := stateMachineDefinition(t, defaults(t))
	states := def["States"].(map[string]any)
	state := func(name string) map[string]any {
		s, ok := states[name].(map[string]any)
		require.True(t, ok, "state %s", name)
		return s
	}
	paths := map[string]struct{ wait, waitField, send, attr string }{
		"delay":  {"WaitForDelay", "SecondsPath", "SendDelayedPush", "delaySeconds"},
		"sendAt": {"WaitUntilSendAt", "TimestampPath", "SendTimedPush", "sendAt"},
	}
	for name, p := range paths {
		t.Run(name, func(t *testing.T) {
			wait := state(p.wait)
			assert.Equal(t, "Wait", wait["Type"])
			assert.Equal(t, "$."+p.attr, wait[p.waitField])
			require.Equal(t, p.send, wait["Next"])

			send := state(p.send)
			assert.Equal(t, "Task", send["Type"])
			assert.Equal(t, "arn:aws:states:::sqs:sendMessage", send["Resource"])
			assert.Equal(t, true, send["End"])
			params := send["Parameters"].(map[string]any)
			assert.Equal(t, "PUSHQUEUE_URL", params["QueueUrl"])
			assert.Equal(t, "$.push", params["MessageBody.$"], "the push goes on the queue exactly as given")
			attrs := params["MessageAttributes"].(map[string]any)
			assert.Equal(t, "$$.Execution.Name", attrs["executionName"].(map[string]any)["StringValue.$"])
			assert.Equal(t, "$$.Execution.StartTime", attrs["scheduledAt"].(map[string]any)["StringValue.$"])
			assert.Contains(t, attrs, p.attr)
		})
	}
	for name, s := range states {
		res, _ := s.(map[string]any)["Resource"].(string)
		assert.NotContains(t, res, "lambda", "state %s must not call Lambda", name)
	}
}

func TestSchedulerRetriesTransientErrorsAndFailsClearly(t *testing.T) {
	states := stateMachineDefinition(t, defaults(t))["States"].(map[string]any)
	for _, name := range []string{"SendDelayedPush", "SendTimedPush"} {
		t.Run(name, func(t *testing.T) {
			task := states[name].(map[string]any)
			assert.EqualValues(t, 30, task["TimeoutSeconds"])
			retry := task["Retry"].([]any)
			require.Len(t, retry, 1)
			r := retry[0].(map[string]any)
			assert.ElementsMatch(t, []any{"States.TaskFailed", "States.Timeout"}, r["ErrorEquals"])
			assert.EqualValues(t, 2, r["IntervalSeconds"])
			assert.EqualValues(t, 6, r["MaxAttempts"])
			assert.EqualValues(t, 2, r["BackoffRate"], "backoff must grow")
			assert.EqualValues(t, 60, r["MaxDelaySeconds"])
			assert.Equal(t, "FULL", r["JitterStrategy"])

			catch := task["Catch"].([]any)
			require.Len(t, catch, 1)
			c := catch[0].(map[string]any)
			assert.Equal(t, []any{"States.ALL"}, c["ErrorEquals"])
			assert.Equal(t, "$.error", c["ResultPath"])
			fail := states[c["Next"].(string)].(map[string]any)
			assert.Equal(t, "Fail", fail["Type"])
			assert.Equal(t, "DelayedPush.EnqueueFailed", fail["Error"])
			assert.Equal(t, "$.error.Cause", fail["CausePath"])
		})
	}
}

func TestSchedulerRejectsBadSchedulesBeforeWaiting(t *testing.T) {
	def := stateMachineDefinition(t, defaults(t))
	states := def["States"].(map[string]any)
	require.Equal(t, "CheckSchedule", def["StartAt"])
	check := states["CheckSchedule"].(map[string]any)
	assert.Equal(t, "Choice", check["Type"])
	assert.Equal(t, "MissingDelayOrSendAt", check["Default"])

	// Every way out of the check, except the two waits, is a Fail with a specific cause.
	targets := map[string]bool{check["Default"].(string): true}
	for _, c := range check["Choices"].([]any) {
		targets[c.(map[string]any)["Next"].(string)] = true
	}
	for _, c := range states["CheckSendAtNotPast"].(map[string]any)["Choices"].([]any) {
		targets[c.(map[string]any)["Next"].(string)] = true
	}
	for _, want := range []string{"MissingPush", "BothDelayAndSendAt", "MissingDelayOrSendAt", "InvalidDelaySeconds", "InvalidSendAt", "SendAtInPast"} {
		require.True(t, targets[want], "no choice leads to %s", want)
		fail := states[want].(map[string]any)
		assert.Equal(t, "Fail", fail["Type"], want)
		assert.Equal(t, "DelayedPush.InvalidSchedule", fail["Error"], want)
		assert.NotEmpty(t, fail["Cause"], want)
	}

	// The delay bounds are zero and one year, inclusive.
	raw, _ := json.Marshal(check)
	assert.Contains(t, string(raw), `"NumericGreaterThanEquals":0`)
	assert.Contains(t, string(raw), `"NumericLessThanEquals":31536000`)
	assert.Contains(t, string(raw), `"IsTimestamp":true`)
	notPast, _ := json.Marshal(states["CheckSendAtNotPast"])
	assert.Contains(t, string(notPast), `"TimestampLessThanPath":"$$.Execution.StartTime"`)
}

func TestSenderFunctionIsArmGoOnAL2023(t *testing.T) {
	tpl := defaults(t)
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
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
		}},
	})
}

func TestSenderKnowsItsQueuesAndTrustsOnlyTheSchedulersRole(t *testing.T) {
	tpl := defaults(t)
	queueID, _, dlqID, _ := pushQueue(t, tpl)
	_, fn := only(t, tpl, "AWS::Lambda::Function")
	vars := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, map[string]any{"Ref": queueID}, vars["PUSH_QUEUE_URL"])
	assert.Equal(t, map[string]any{"Ref": dlqID}, vars["DEAD_LETTER_QUEUE_URL"])
	_, sm := only(t, tpl, "AWS::StepFunctions::StateMachine")
	schedulerRole := props(sm)["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0]
	assert.Equal(t, map[string]any{"Fn::GetAtt": []any{schedulerRole, "RoleId"}}, vars["SCHEDULER_ROLE_ID"],
		"SQS stamps SenderId with the sending role's unique id")

	atMostOnce := withConfig(t, func(c *stacks.Config) { c.DeliveryGuarantee = "at-most-once"; c.MaxReceiveCount = 3 })
	atMostOnce.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"DELIVERY_GUARANTEE": "at-most-once", "MAX_RECEIVE_COUNT": "3"})},
	})
}

// A claim's lease is the invocation's deadline plus delivery.DefaultLeaseSkew; the queue
// hands a message out again only after its visibility timeout. The lease must end first, or
// a retry after a crash would find the delivery still "busy" (the parked pushes).
func TestVisibilityTimeoutOutlastsEveryClaimLease(t *testing.T) {
	for _, c := range []struct{ timeout, visibility int }{{1, 0}, {3, 0}, {30, 0}, {10, 15}, {900, 905}} {
		cfg := stacks.DefaultConfig()
		cfg.SenderTimeoutSeconds, cfg.VisibilityTimeoutSeconds = c.timeout, c.visibility
		require.NoError(t, cfg.Validate())
		lease := time.Duration(c.timeout)*time.Second + delivery.DefaultLeaseSkew
		assert.Greater(t, time.Duration(cfg.VisibilityTimeout())*time.Second, lease, "%+v", c)
	}
	// The smallest visibility the configuration accepts still outlasts the lease.
	assert.Greater(t, time.Duration(stacks.MinVisibilityMarginSeconds)*time.Second, delivery.DefaultLeaseSkew)

	tpl := withConfig(t, func(c *stacks.Config) { c.SenderTimeoutSeconds = 10; c.VisibilityTimeoutSeconds = 15 })
	_, queue, _, _ := pushQueue(t, tpl)
	assert.EqualValues(t, 15, props(queue)["VisibilityTimeout"])
}

func TestSenderEventSourceBatchTenWindowZeroPartialFailures(t *testing.T) {
	tpl := defaults(t)
	queueID, _, _, _ := pushQueue(t, tpl)
	_, esm := only(t, tpl, "AWS::Lambda::EventSourceMapping")
	p := props(esm)
	assert.EqualValues(t, 10, p["BatchSize"])
	v, present := p["MaximumBatchingWindowInSeconds"]
	assert.True(t, present, "the window must be set to 0 explicitly")
	assert.EqualValues(t, 0, v)
	assert.Equal(t, []any{"ReportBatchItemFailures"}, p["FunctionResponseTypes"])
	assert.Equal(t, map[string]any{"MaximumConcurrency": float64(10)}, p["ScalingConfig"])
	assert.Equal(t, map[string]any{"Fn::GetAtt": []any{queueID, "Arn"}}, p["EventSourceArn"])
}

func TestSenderMaxConcurrencyIsConfigurable(t *testing.T) {
	tpl := withConfig(t, func(c *stacks.Config) { c.SenderMaxConcurrency = 25 })
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{
		"ScalingConfig": map[string]any{"MaximumConcurrency": 25},
	})
}

func TestPushQueueEncryptedWithDLQAndVisibilitySixTimesTimeout(t *testing.T) {
	tpl := defaults(t)
	_, queue, dlqID, dlq := pushQueue(t, tpl)
	assert.Equal(t, true, props(queue)["SqsManagedSseEnabled"])
	assert.Equal(t, true, props(dlq)["SqsManagedSseEnabled"])
	assert.EqualValues(t, 6*30, props(queue)["VisibilityTimeout"])
	assert.Equal(t, map[string]any{
		"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
		"maxReceiveCount":     float64(5),
	}, props(queue)["RedrivePolicy"])
	assert.EqualValues(t, 14*24*3600, props(dlq)["MessageRetentionPeriod"])

	// Both queues refuse requests without TLS.
	policies := resources(t, tpl, "AWS::SQS::QueuePolicy")
	require.Len(t, policies, 2)
	for id, pol := range policies {
		raw, _ := json.Marshal(props(pol)["PolicyDocument"])
		assert.Contains(t, string(raw), `"Effect":"Deny"`, id)
		assert.Contains(t, string(raw), `{"Bool":{"aws:SecureTransport":"false"}}`, id)
	}

	slow := withConfig(t, func(c *stacks.Config) { c.SenderTimeoutSeconds = 60; c.MaxReceiveCount = 3 })
	_, queue, _, _ = pushQueue(t, slow)
	assert.EqualValues(t, 360, props(queue)["VisibilityTimeout"])
	assert.EqualValues(t, 3, props(queue)["RedrivePolicy"].(map[string]any)["maxReceiveCount"])
	slow.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Timeout": 60})
}

func TestTablesEncryptedOnDemandWithRecovery(t *testing.T) {
	tpl := defaults(t)
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

func TestRemovalPolicyRetainsDataByDefault(t *testing.T) {
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup"} {
		for id, r := range resources(t, defaults(t), typ) {
			assert.Equal(t, "Retain", r["DeletionPolicy"], "%s %s", typ, id)
		}
	}
	destroy := withConfig(t, func(c *stacks.Config) { c.RemovalPolicy = "destroy" })
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup"} {
		for id, r := range resources(t, destroy, typ) {
			assert.Equal(t, "Delete", r["DeletionPolicy"], "%s %s", typ, id)
		}
	}
}

func TestLogRetentionIsConfigurable(t *testing.T) {
	groups := resources(t, defaults(t), "AWS::Logs::LogGroup")
	require.Len(t, groups, 2, "sender and scheduler log groups")
	for id, g := range groups {
		assert.EqualValues(t, 30, props(g)["RetentionInDays"], id)
	}
	tpl := withConfig(t, func(c *stacks.Config) { c.LogRetentionDays = 7 })
	for id, g := range resources(t, tpl, "AWS::Logs::LogGroup") {
		assert.EqualValues(t, 7, props(g)["RetentionInDays"], id)
	}
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
	for policy, stmts := range statements(t, defaults(t)) {
		for _, s := range stmts {
			for _, a := range strs(s["Action"]) {
				assert.NotContains(t, a, "*", "policy %s grants a wildcard action", policy)
				for _, r := range strs(s["Resource"]) {
					if r == "*" {
						assert.True(t, starOnlyActions[a.(string)], "policy %s grants %s on every resource", policy, a)
					}
				}
			}
		}
	}
}

// senderActions collects the sender role's actions by resource reference.
func senderStatements(t *testing.T, tpl assertions.Template) []map[string]any {
	t.Helper()
	fnID, fn := only(t, tpl, "AWS::Lambda::Function")
	roleID := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	for id, r := range resources(t, tpl, "AWS::IAM::Policy") {
		for _, role := range props(r)["Roles"].([]any) {
			if role.(map[string]any)["Ref"] == roleID {
				return statements(t, tpl)[id]
			}
		}
	}
	t.Fatalf("no policy for the role of %s", fnID)
	return nil
}

func TestSenderGrantsAreLeastPrivilege(t *testing.T) {
	tpl := defaults(t)
	stmts := senderStatements(t, tpl)
	byAction := map[string][]string{}
	for _, s := range stmts {
		res, _ := json.Marshal(s["Resource"])
		for _, a := range strs(s["Action"]) {
			byAction[a.(string)] = append(byAction[a.(string)], string(res))
		}
	}
	var dynamo []string
	for a := range byAction {
		if strings.HasPrefix(a, "dynamodb:") {
			dynamo = append(dynamo, a)
		}
	}
	assert.ElementsMatch(t, []string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"}, dynamo)
	require.Len(t, byAction["dynamodb:Query"], 1)
	assert.Contains(t, byAction["dynamodb:Query"][0], "TablesDevices", "Query only on the device registry")
	assert.NotContains(t, byAction["dynamodb:UpdateItem"][0], "TablesDevices", "the sender never writes the registry")

	require.Len(t, byAction["sns:Publish"], 1)
	assert.Contains(t, byAction["sns:Publish"][0], ":endpoint/GCM/delayed-push/*", "publish only to the app's endpoints")

	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} {
		require.Contains(t, byAction, a)
	}
	// It requeues to the push queue and parks on the dead-letter queue, nowhere else.
	queueID, _, dlqID, _ := pushQueue(t, tpl)
	assert.ElementsMatch(t, []string{
		fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, queueID),
		fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, dlqID),
	}, byAction["sqs:SendMessage"])
}

func TestPlatformApplicationArnScopesPublish(t *testing.T) {
	tpl := withConfig(t, func(c *stacks.Config) {
		c.PlatformApplicationArn = "arn:aws:sns:eu-west-1:123456789012:app/GCM/shop-app"
	})
	for _, s := range senderStatements(t, tpl) {
		if s["Action"] == "sns:Publish" {
			assert.Equal(t, "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/shop-app/*", s["Resource"])
			return
		}
	}
	t.Fatal("no sns:Publish statement")
}

func TestProducerPrincipalsGetExactlyScheduleStopDescribeAndSend(t *testing.T) {
	roles := []string{"arn:aws:iam::123456789012:role/orders-api", "arn:aws:iam::123456789012:role/team/marketing"}
	tpl := withConfig(t, func(c *stacks.Config) { c.ProducerPrincipals = roles })
	_, policy := only(t, tpl, "AWS::IAM::ManagedPolicy")
	assert.Equal(t, []any{"orders-api", "marketing"}, props(policy)["Roles"])

	smID, _ := only(t, tpl, "AWS::StepFunctions::StateMachine")
	queueID, _, _, _ := pushQueue(t, tpl)
	got := map[string]string{}
	for _, s := range props(policy)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		assert.Equal(t, "Allow", st["Effect"])
		res, _ := json.Marshal(st["Resource"])
		for _, a := range strs(st["Action"]) {
			got[a.(string)] = string(res)
		}
	}
	require.ElementsMatch(t, []string{"states:StartExecution", "states:StopExecution", "states:DescribeExecution", "sqs:SendMessage"}, slices.Collect(maps.Keys(got)))
	assert.Equal(t, fmt.Sprintf(`{"Ref":"%s"}`, smID), got["states:StartExecution"])
	assert.Contains(t, got["states:StopExecution"], ":execution:")
	assert.Contains(t, got["states:StopExecution"], smID)
	assert.Equal(t, got["states:StopExecution"], got["states:DescribeExecution"])
	assert.Equal(t, fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, queueID), got["sqs:SendMessage"])

	// With no principals the policy exists (for users to attach) but is attached to nobody.
	_, unattached := only(t, defaults(t), "AWS::IAM::ManagedPolicy")
	assert.Empty(t, props(unattached)["Roles"])
}

func TestOutputsNameWhatProducersNeed(t *testing.T) {
	outputs := templateJSON(t, defaults(t))["Outputs"].(map[string]any)
	for _, name := range []string{"StateMachineArn", "PushQueueUrl", "DeadLetterQueueUrl", "DevicesTableName",
		"DeliveriesTableName", "SenderFunctionName", "ProducerPolicyArn", "AlarmTopicArn"} {
		assert.Contains(t, outputs, name)
	}
}

func TestAlarmsWatchDeadLettersFailedSchedulesAndSenderErrors(t *testing.T) {
	tpl := defaults(t)
	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	metrics := map[string]bool{}
	for _, a := range alarms {
		metrics[props(a)["MetricName"].(string)] = true
		assert.NotEmpty(t, props(a)["AlarmActions"])
	}
	assert.True(t, metrics["ApproximateNumberOfMessagesVisible"], "dead-letter depth")
	assert.True(t, metrics["ExecutionsFailed"], "failed schedules")
	assert.True(t, metrics["Errors"], "sender errors")
	tpl.ResourceCountIs(jsiiStr("AWS::SNS::Subscription"), jsiiNum(0))

	// The topic is encrypted with a rotated key that CloudWatch may use.
	keyID, key := only(t, tpl, "AWS::KMS::Key")
	assert.Equal(t, true, props(key)["EnableKeyRotation"])
	_, topic := only(t, tpl, "AWS::SNS::Topic")
	assert.Equal(t, map[string]any{"Fn::GetAtt": []any{keyID, "Arn"}}, props(topic)["KmsMasterKeyId"])
	keyPolicy, _ := json.Marshal(props(key)["KeyPolicy"])
	assert.Contains(t, string(keyPolicy), `"Service":"cloudwatch.amazonaws.com"`)

	mail := withConfig(t, func(c *stacks.Config) { c.AlarmEmail = "oncall@example.com" })
	mail.HasResourceProperties(jsiiStr("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
}

func TestFunctionAndStateMachineWaitForTheirPolicies(t *testing.T) {
	// Without the dependency, the first invocation or execution can run before its grants exist.
	tpl := defaults(t)
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"} {
		id, r := only(t, tpl, typ)
		deps := strs(r["DependsOn"])
		require.Len(t, deps, 1, id)
		policy := resources(t, tpl, "AWS::IAM::Policy")[deps[0].(string)]
		require.NotNil(t, policy, "%s depends on %v, not on an IAM policy", id, deps)
	}
}
