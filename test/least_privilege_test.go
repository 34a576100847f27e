package test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every role of the stack (Shopify on, so all of them) holds exactly the actions its code
// calls, and a "*" resource only for the APIs that have no resource-level permissions.
func TestEveryRoleHasOnlyTheActionsItsCodeCalls(t *testing.T) {
	tpl := withShopify(t)
	resources := (*tpl.ToJSON())["Resources"].(map[string]any)
	common := []string{"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
	consume := []string{"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
	send := []string{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
	want := map[string][]string{ // function, by an environment variable only it has
		"SCHEDULER_ROLE_ID": append(append(append([]string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "sns:Publish"}, consume...), send...), common...),
		"DEFAULT_DELAY_SECONDS": append(append([]string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution",
			"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
			"sns:CreatePlatformEndpoint", "sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"}, send...), common...),
		"SHOPIFY_SECRET_ARN": append(append([]string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}, send...), common...),
		"SHOP_OWNERS":        append(append(append([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DeleteItem"}, consume...), send...), common...),
	}
	fns := map[string]string{}
	for envVar := range want {
		fns[envVar] = functionWith(t, tpl, envVar)
	}
	for _, fn := range ids(tpl, "AWS::Lambda::Function", nil) {
		if strings.Contains(fn, "DeviceEvents") {
			fns["device events"] = fn
			want["device events"] = append(append([]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, consume...), common...)
		}
	}
	require.Len(t, fns, 5, "every function is checked")
	for envVar, actions := range want {
		fn := fns[envVar]
		got := actionsOf(t, tpl, fn)
		assert.ElementsMatch(t, dedupe(actions), slices.Collect(maps.Keys(got)), "%s (%s)", fn, envVar)
		for action, res := range got {
			for _, r := range res {
				if r == `"*"` {
					assert.True(t, strings.HasPrefix(action, "xray:"), "%s: %s on * (only X-Ray has no resource-level permissions)", fn, action)
				}
			}
		}
	}
	// The secret's key lets the receiver decrypt it through Secrets Manager only.
	keys, _ := json.Marshal(tpl.FindResources(jsiiStr("AWS::KMS::Key"), nil))
	assert.Contains(t, string(keys), `"kms:ViaService":{"Fn::Join":["",["secretsmanager.",`)
	assert.Contains(t, string(keys), roleOf(t, tpl, fns["SHOPIFY_SECRET_ARN"]))

	// No role carries a managed policy (AWSLambdaBasicExecutionRole and the like).
	roles := ids(tpl, "AWS::IAM::Role", nil)
	require.NotEmpty(t, roles)
	for _, id := range roles {
		props := resources[id].(map[string]any)["Properties"].(map[string]any)
		assert.NotContains(t, props, "ManagedPolicyArns", id)
	}
	// The state machine may send to the push queue and write its logs and traces, nothing else.
	sm := only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	smRole := resources[sm].(map[string]any)["Properties"].(map[string]any)["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	got := map[string]bool{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(smRole)}})) {
		for _, a := range s.Action {
			got[a] = true
		}
		for _, r := range s.Resource {
			if r == `"*"` {
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
}

func dedupe(in []string) []string {
	slices.Sort(in)
	return slices.Compact(in)
}
