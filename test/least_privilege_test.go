package test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every role of the stack (Shopify on, so all of them) holds exactly the actions its code
// calls, and a "*" resource only for the APIs that have no resource-level permissions.
func TestEveryRoleHasOnlyTheActionsItsCodeCalls(t *testing.T) {
	tpl := withShopify(t)
	common := []string{"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
	// What Lambda's SQS poller calls with the function's role; what SendMessage needs. No
	// GetQueueUrl (the URLs are in the environment), no ChangeMessageVisibility.
	consume := []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
	send := []string{"sqs:SendMessage"}
	want := map[string][]string{ // function, by an environment variable only it has
		"SCHEDULER_ROLE_ID": append(append(append([]string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "sns:Publish"}, consume...), send...), common...),
		"DEFAULT_DELAY_SECONDS": append(append([]string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
			"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
			"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint",
			"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule", "iam:PassRole"}, send...), common...),
		"SHOPIFY_SECRET_ARN": append(append([]string{"secretsmanager:GetSecretValue", "kms:Decrypt", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}, send...), common...),
		"SHOP_OWNERS":        append(append(append([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DeleteItem"}, consume...), send...), common...),
	}
	fns := map[string]string{}
	for envVar := range want {
		fns[envVar] = functionWith(t, tpl, envVar)
	}
	fns["device events"] = only(t, tpl, "AWS::Lambda::Function", withProperties(map[string]any{"Description": assertions.Match_StringLikeRegexp(jsiiStr("device events"))}))
	want["device events"] = append(append([]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, consume...), common...)
	require.Len(t, fns, 5, "every function is checked")
	require.Len(t, ids(tpl, "AWS::Lambda::Function", nil), 5, "every function is checked")
	for envVar, actions := range want {
		fn := fns[envVar]
		got := actionsOf(t, tpl, fn)
		assert.ElementsMatch(t, dedupe(actions), slices.Collect(maps.Keys(got)), "%s (%s)", fn, envVar)
		for action, res := range got {
			for _, r := range res {
				if r == "*" {
					assert.True(t, strings.HasPrefix(action, "xray:"), "%s: %s on * (only X-Ray has no resource-level permissions)", fn, action)
				}
			}
		}
	}
	// The receiver decrypts the secret through Secrets Manager only, that secret only.
	secret := only(t, tpl, "AWS::SecretsManager::Secret", nil)
	topicsKey := only(t, tpl, "AWS::KMS::Key", nil)
	assert.ElementsMatch(t, []string{canonical(map[string]any{
		"Action": []any{"kms:Decrypt"}, "Resource": getAtt(topicsKey, "Arn"),
		"Condition": map[string]any{"StringEquals": map[string]any{
			"kms:ViaService": via("secretsmanager"), "kms:EncryptionContext:SecretARN": ref(secret)}},
	})}, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(roleOf(t, tpl, fns["SHOPIFY_SECRET_ARN"]))))

	// No role carries a managed policy (AWSLambdaBasicExecutionRole and the like).
	require.NotEmpty(t, ids(tpl, "AWS::IAM::Role", nil))
	tpl.AllResourcesProperties(jsiiStr("AWS::IAM::Role"), map[string]any{"ManagedPolicyArns": assertions.Match_Absent()})
	// The state machine may send to the push queue and write its logs and traces, nothing else.
	only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	smRole := stateMachineRole(t, tpl)
	got := map[string]bool{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(smRole)}})) {
		for _, a := range s.Action {
			got[a] = true
		}
		for _, r := range s.Resource {
			if r == "*" {
				for _, a := range s.Action {
					assert.True(t, strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "xray:"), "state machine: %s on *", a)
				}
			}
		}
	}
	assert.Contains(t, got, "sqs:SendMessage")
	for a := range got {
		assert.True(t, slices.Contains(send, a) || strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "xray:"), "state machine: %s", a)
	}

	// The economy engine's role may send to the push queue (and its own dead-letter queue),
	// nothing else (TestEconomyRoleIsOnlyTheGroupsAndOnlySendsToThePushQueue has the statement).
	economyActions := map[string]bool{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", attachedTo(economyOf(t, tpl).role)) {
		for _, a := range s.Action {
			economyActions[a] = true
		}
	}
	assert.Equal(t, map[string]bool{"sqs:SendMessage": true}, economyActions, "economy role")
	require.Len(t, ids(tpl, "AWS::IAM::Role", nil), 7, "every role is checked: 5 functions, the state machine, the economy role")

	// Only the device events function and the sender mark device rows disabled (UpdateItem);
	// the API and producers put and delete whole rows (a transaction), and keep owner rows by
	// put only (a removed device's row stays as a tombstone).
	devices := devicesTable(t, tpl)
	owners := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "deviceId", "KeyType": "HASH"}}}))
	onTable := func(fn, table string) []string {
		var out []string
		for a, res := range actionsOf(t, tpl, fn) {
			if slices.Contains(res, `{"Fn::GetAtt":["`+table+`","Arn"]}`) {
				out = append(out, a)
			}
		}
		return out
	}
	assert.ElementsMatch(t, []string{"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"}, onTable(fns["DEFAULT_DELAY_SECONDS"], devices), "API on the devices table")
	assert.ElementsMatch(t, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, onTable(fns["DEFAULT_DELAY_SECONDS"], owners), "API on the owners table")
	assert.ElementsMatch(t, []string{"dynamodb:UpdateItem"}, onTable(fns["device events"], devices), "device events on the devices table")
	assert.ElementsMatch(t, []string{"dynamodb:Query", "dynamodb:UpdateItem"}, onTable(fns["SCHEDULER_ROLE_ID"], devices), "sender on the devices table")

	// The recipient's clock: the sender reads preferences (awsadapters.Preferences.Get) and
	// takes from the caps (awsadapters.CapStore: a consistent GetItem, a conditional
	// UpdateItem); the API keeps preferences (Get; Set and SetDeviceZone's conditional write are
	// UpdateItem, no PutItem) and reads them to resolve local times; no other function touches
	// either table.
	preferences, caps := preferencesTable(t, tpl), capsTable(t, tpl)
	assert.ElementsMatch(t, []string{"dynamodb:GetItem"}, onTable(fns["SCHEDULER_ROLE_ID"], preferences), "sender on the preferences table")
	assert.ElementsMatch(t, []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, onTable(fns["SCHEDULER_ROLE_ID"], caps), "sender on the caps table")
	assert.ElementsMatch(t, []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, onTable(fns["DEFAULT_DELAY_SECONDS"], preferences), "API on the preferences table")
	assert.Empty(t, onTable(fns["DEFAULT_DELAY_SECONDS"], caps), "API on the caps table")
	for _, envVar := range []string{"SHOPIFY_SECRET_ARN", "SHOP_OWNERS", "device events"} {
		assert.Empty(t, onTable(fns[envVar], preferences), "%s on the preferences table", envVar)
		assert.Empty(t, onTable(fns[envVar], caps), "%s on the caps table", envVar)
	}

	// Without customerManagedKey, no role may use a KMS key but the webhook function, which
	// reads the Shopify secret through Secrets Manager (TestKMSStatementsAreExactlyWhatEachRoleCalls
	// pins it and every statement under the data key).
	for envVar, fn := range fns {
		for a := range actionsOf(t, tpl, fn) {
			if strings.HasPrefix(a, "kms:") {
				assert.Equal(t, "SHOPIFY_SECRET_ARN", envVar, "%s: %s", fn, a)
			}
		}
	}
}

func dedupe(in []string) []string {
	slices.Sort(in)
	return slices.Compact(in)
}
