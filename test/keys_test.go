package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
)

// canonical is a statement's parts as JSON with sorted keys, its Action a sorted list and an
// absent part left out, so that statements compare as strings.
func canonical(parts map[string]any) string {
	c := map[string]any{}
	for k, v := range parts {
		if v == nil {
			continue
		}
		if k == "Action" {
			raw, _ := json.Marshal(v)
			var l oneOrMany
			_ = json.Unmarshal(raw, &l)
			actions := make([]string, len(l))
			for i, a := range l {
				actions[i] = bare(a)
			}
			slices.Sort(actions)
			v = actions
		}
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// via is what kms:ViaService holds for a service of the stack's region.
func via(service string) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{service + ".", ref("AWS::Region"), ".", ref("AWS::URLSuffix")}}}
}

// attachedTo is a FindResources filter on the IAM policies attached to a role.
func attachedTo(role string) map[string]any {
	return withProperties(map[string]any{"Roles": assertions.Match_ArrayWith(&[]any{ref(role)})})
}

// kmsStatements are the statements with a kms: action of the policies of type typ that match
// props (nil: all), canonical, without Sid and Effect (every one must Allow).
func kmsStatements(t *testing.T, tpl assertions.Template, typ string, props any) []string {
	t.Helper()
	var out []string
	for _, s := range policyStatements(t, tpl, typ, props) {
		if !slices.ContainsFunc(s.Action, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
			continue
		}
		require.Equal(t, "Allow", s.Effect)
		out = append(out, canonical(map[string]any{"Action": s.Action, "Resource": s.Raw["Resource"], "Condition": s.Raw["Condition"]}))
	}
	return out
}

// keyStatements are a key's policy statements, canonical, without Sid and Effect (each Allows).
func keyStatements(t *testing.T, tpl assertions.Template, key string) []string {
	t.Helper()
	var out []string
	for _, s := range keyPolicy(t, tpl, key) {
		require.Equal(t, "Allow", s.Effect)
		out = append(out, canonical(map[string]any{"Principal": s.Raw["Principal"], "Action": s.Raw["Action"], "Resource": s.Raw["Resource"], "Condition": s.Raw["Condition"]}))
	}
	return out
}

// logDelivery are the statements of a key's policy that admit CloudWatch Logs' delivery (of
// the state machine's log events), canonical.
func logDelivery(t *testing.T, tpl assertions.Template, key string) []string {
	t.Helper()
	var out []string
	for _, s := range keyPolicy(t, tpl, key) {
		if slices.Contains(s.Principals, "delivery.logs.amazonaws.com") {
			out = append(out, canonical(map[string]any{"Principal": s.Raw["Principal"], "Action": s.Raw["Action"], "Resource": s.Raw["Resource"], "Condition": s.Raw["Condition"]}))
		}
	}
	return out
}

// keys of the template: the topics key (alarms) and the data key, "" when absent.
func theKeys(t *testing.T, tpl assertions.Template) (topics, data string) {
	t.Helper()
	for _, id := range ids(tpl, "AWS::KMS::Key", nil) {
		switch {
		case strings.Contains(id, "Alarms"):
			topics = id
		case strings.Contains(id, "DataKey"):
			data = id
		default:
			t.Fatalf("an unexpected key %s", id)
		}
	}
	require.NotEmpty(t, topics)
	return topics, data
}

var cmkTemplate assertions.Template

// withCMK is the stack with customerManagedKey, Shopify and a producer principal: every key
// statement the construct can make.
func withCMK(t *testing.T) assertions.Template {
	t.Helper()
	if cmkTemplate == nil {
		cmkTemplate = withConfig(t, func(c *stacks.Config) {
			c.CustomerManagedKey, c.Shopify = true, true
			c.ProducerPrincipals = []string{"arn:aws:iam::123456789012:role/orders-api"}
		})
	}
	return cmkTemplate
}

// The two keys: the data key (customerManagedKey) encrypts the tables, the push and orders
// queues and the executions; the topics key the topics, the log groups and the secret. Neither
// encrypts what the other does.
func TestDataKeyIsApartFromTheTopicsKey(t *testing.T) {
	tpl := withCMK(t)
	topics, data := theKeys(t, tpl)
	require.NotEmpty(t, data)
	dataArn, topicsArn := getAtt(data, "Arn"), getAtt(topics, "Arn")
	tpl.AllResourcesProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"SSESpecification": map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": dataArn}})
	// The device events queues hold SNS events, not pushes: SQS-managed (see stacks/delayedpush/device_events.go).
	queues := ids(tpl, "AWS::SQS::Queue", nil)
	deviceEvents := slices.DeleteFunc(slices.Clone(queues), func(id string) bool { return !strings.Contains(id, "DeviceEvents") })
	pushes := slices.DeleteFunc(slices.Clone(queues), func(id string) bool { return strings.Contains(id, "DeviceEvents") })
	require.Len(t, deviceEvents, 3)
	assert.Equal(t, pushes, ids(tpl, "AWS::SQS::Queue", withProperties(map[string]any{"KmsMasterKeyId": dataArn})), "under the data key")
	assert.Equal(t, deviceEvents, ids(tpl, "AWS::SQS::Queue", withProperties(map[string]any{
		"SqsManagedSseEnabled": true, "KmsMasterKeyId": assertions.Match_Absent()})), "SQS-managed")
	tpl.HasResourceProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{
		"EncryptionConfiguration": map[string]any{"Type": "CUSTOMER_MANAGED_KMS_KEY", "KmsKeyId": dataArn, "KmsDataKeyReusePeriodSeconds": 300}})
	tpl.AllResourcesProperties(jsiiStr("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": topicsArn})
	tpl.AllResourcesProperties(jsiiStr("AWS::Logs::LogGroup"), map[string]any{"KmsKeyId": topicsArn})
	tpl.AllResourcesProperties(jsiiStr("AWS::SecretsManager::Secret"), map[string]any{"KmsKeyId": topicsArn})
	tpl.HasResourceProperties(jsiiStr("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true, "Description": assertions.Match_StringLikeRegexp(jsiiStr("pushes"))})

	// The data key's policy: the account (IAM policies decide), and CloudWatch Logs' delivery of
	// the state machine's log events, for this account's deliveries and that encryption
	// context only. Nothing for the services the topics key serves.
	logs := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":logs:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":*"}}}
	root := map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":root"}}}}
	assert.ElementsMatch(t, []string{
		canonical(map[string]any{"Principal": root, "Action": "kms:*", "Resource": "*"}),
		canonical(map[string]any{"Principal": map[string]any{"Service": "delivery.logs.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*",
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId"), "kms:EncryptionContext:SourceArn": logs},
				"ArnLike":      map[string]any{"aws:SourceArn": logs},
			}}),
	}, keyStatements(t, tpl, data))
	// The topics key admits CloudWatch, CloudWatch Logs and SNS, never log delivery of the
	// executions, and no function role by name.
	for _, s := range keyPolicy(t, tpl, topics) {
		assert.NotContains(t, s.Principals, "delivery.logs.amazonaws.com", "the topics key")
		for _, p := range s.Principals {
			assert.NotContains(t, p, "ServiceRole", "the topics key names no role")
		}
	}

	// The default keeps AWS managed keys (cheaper): one key, the topics key.
	def := defaults(t)
	_, none := theKeys(t, def)
	assert.Empty(t, none)
	def.AllResourcesProperties(jsiiStr("AWS::SQS::Queue"), map[string]any{"SqsManagedSseEnabled": true})
	def.AllResourcesProperties(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{"EncryptionConfiguration": assertions.Match_Absent()})
	assert.Empty(t, logDelivery(t, def, only(t, def, "AWS::KMS::Key", nil)))
}

// With customerManagedKey, each role may use the data key only with the actions its calls
// make, only through the services that keep the data, and the state machine only for its own
// executions: every KMS statement of every role, and of the producer policy, exactly.
func TestKMSStatementsAreExactlyWhatEachRoleCalls(t *testing.T) {
	tpl := withCMK(t)
	topics, data := theKeys(t, tpl)
	dataArn := getAtt(data, "Arn")
	sm := only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	use := func(condition map[string]any) string {
		return canonical(map[string]any{"Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Resource": dataArn, "Condition": condition})
	}
	through := func(services ...string) string {
		var v any = via(services[0])
		if len(services) > 1 {
			var all []any
			for _, s := range services {
				all = append(all, via(s))
			}
			v = all
		}
		return use(map[string]any{"StringEquals": map[string]any{"kms:ViaService": v}})
	}
	executions := use(map[string]any{"StringEquals": map[string]any{
		"kms:ViaService": via("states"), "kms:EncryptionContext:aws:states:stateMachineArn": ref(sm)}})
	secret := canonical(map[string]any{"Action": []any{"kms:Decrypt"}, "Resource": getAtt(topics, "Arn"),
		"Condition": map[string]any{"StringEquals": map[string]any{
			"kms:ViaService": via("secretsmanager"), "kms:EncryptionContext:SecretARN": ref(only(t, tpl, "AWS::SecretsManager::Secret", nil))}}})

	// The economy engine's schedules encrypt their pushes with the data key: their caller
	// through EventBridge Scheduler, for the group's schedules only (DescribeKey, which has no
	// encryption context, apart), and the role they run as decrypts them, for those only.
	e := economyOf(t, tpl)
	groupSchedules := map[string]any{"kms:EncryptionContext:aws:scheduler:schedule:arn": arnIn("scheduler", "schedule/"+e.groupName+"/*")}
	describe := canonical(map[string]any{"Action": "kms:DescribeKey", "Resource": dataArn,
		"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": via("scheduler")}}})
	schedules := use(map[string]any{"StringEquals": map[string]any{"kms:ViaService": via("scheduler")}, "ArnLike": groupSchedules})

	want := map[string][]string{ // by an environment variable only that function has
		"SCHEDULER_ROLE_ID":   {through("sqs", "dynamodb")}, // sender: queues and tables
		"DEVICE_OWNERS_TABLE": {through("dynamodb")},        // device events: tables (its queue is SQS-managed)
		// API: GrantManage (with the economy engine's schedules), GrantManageDevices
		"DEFAULT_DELAY_SECONDS": {executions, describe, schedules, through("sqs", "dynamodb"), through("dynamodb")},
		"SHOPIFY_SECRET_ARN":    {secret, through("sqs", "dynamodb")}, // webhook: secret, orders queue, webhooks table
		"SHOP_OWNERS":           {through("sqs", "dynamodb")},         // orders consumer
	}
	for envVar, statements := range want {
		fn := ""
		if envVar == "DEVICE_OWNERS_TABLE" {
			fn = only(t, tpl, "AWS::Lambda::Function", withProperties(map[string]any{"Description": assertions.Match_StringLikeRegexp(jsiiStr("device events"))}))
		} else {
			fn = functionWith(t, tpl, envVar)
		}
		assert.ElementsMatch(t, statements, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(roleOf(t, tpl, fn))), "%s (%s)", fn, envVar)
	}

	// The state machine's role: its executions (a policy of its own: the ARN is a Ref, and the
	// state machine waits for its default policy), its log events, and the push queue.
	logs := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":logs:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":*"}}}
	assert.ElementsMatch(t, []string{
		use(map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:aws:states:stateMachineArn": ref(sm)}}),
		canonical(map[string]any{"Action": []any{"kms:GenerateDataKey"}, "Resource": dataArn,
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:SourceArn": logs}}}),
		through("sqs"),
	}, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(stateMachineRole(t, tpl))))
	// The economy role: the queues through SQS, and its schedules' pushes.
	assert.ElementsMatch(t, []string{through("sqs"), canonical(map[string]any{"Action": "kms:Decrypt", "Resource": dataArn,
		"Condition": map[string]any{"ArnLike": groupSchedules}})}, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(e.role)))
	executionsPolicy := only(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": []any{assertions.Match_ObjectLike(&map[string]any{"Sid": "ItsExecutions"})}})}))
	// The state machine does not wait for the policy that names it.
	tpl.HasResource(jsiiStr("AWS::StepFunctions::StateMachine"), map[string]any{"DependsOn": assertions.Match_Not(assertions.Match_ArrayWith(&[]any{executionsPolicy}))})

	// The producer policy: the same as the API's push calls, named.
	tpl.HasResourceProperties(jsiiStr("AWS::IAM::ManagedPolicy"), map[string]any{"PolicyDocument": assertions.Match_ObjectLike(&map[string]any{
		"Statement": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Sid": "UseTheDataKeyThroughSqsAndDynamoDB", "Effect": "Allow", "Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Resource": dataArn,
				"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": []any{via("sqs"), via("dynamodb")}}}},
			map[string]any{"Sid": "UseTheDataKeyForExecutions", "Effect": "Allow", "Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Resource": dataArn,
				"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": via("states"), "kms:EncryptionContext:aws:states:stateMachineArn": ref(sm)}}},
		})})})
	only(t, tpl, "AWS::IAM::ManagedPolicy", nil) // the producer policy
	assert.ElementsMatch(t, []string{through("sqs", "dynamodb"), executions, describe, schedules}, kmsStatements(t, tpl, "AWS::IAM::ManagedPolicy", nil))

	// No statement anywhere grants Encrypt, ReEncrypt or a wildcard KMS action to a role; the
	// only other action is DescribeKey, through EventBridge Scheduler (it checks the key is
	// symmetric before it encrypts a schedule's push).
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for _, s := range policyStatements(t, tpl, typ, nil) {
			for _, a := range s.Action {
				if a == "kms:DescribeKey" {
					assert.Equal(t, describe, canonical(map[string]any{"Action": s.Action, "Resource": s.Raw["Resource"], "Condition": s.Raw["Condition"]}))
				} else if strings.HasPrefix(a, "kms:") {
					assert.Contains(t, []string{"kms:Decrypt", "kms:GenerateDataKey"}, a)
				}
			}
		}
	}
}

// customerManagedKeyUpgrade: a stack that had customerManagedKey before the data key existed
// keeps reading what the topics key encrypted of the pushes (executions that wait up to a year,
// queued messages), on the same conditions, decrypt only (the state machine also encrypts its
// running executions' state).
func TestCustomerManagedKeyUpgradeKeepsThePreviousKeyReadable(t *testing.T) {
	tpl := withConfig(t, func(c *stacks.Config) {
		c.CustomerManagedKey, c.CustomerManagedKeyUpgrade = true, true
		c.ProducerPrincipals = []string{"arn:aws:iam::123456789012:role/orders-api"}
	})
	topics, data := theKeys(t, tpl)
	sm := only(t, tpl, "AWS::StepFunctions::StateMachine", nil)
	previous := func(actions []any, condition map[string]any) string {
		return canonical(map[string]any{"Action": actions, "Resource": getAtt(topics, "Arn"), "Condition": condition})
	}
	sender := functionWith(t, tpl, "SCHEDULER_ROLE_ID")
	assert.Contains(t, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(roleOf(t, tpl, sender))),
		previous([]any{"kms:Decrypt"}, map[string]any{"StringEquals": map[string]any{"kms:ViaService": []any{via("sqs"), via("dynamodb")}}}))
	assert.Contains(t, kmsStatements(t, tpl, "AWS::IAM::Policy", attachedTo(stateMachineRole(t, tpl))),
		previous([]any{"kms:Decrypt", "kms:GenerateDataKey"}, map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:aws:states:stateMachineArn": ref(sm)}}))
	only(t, tpl, "AWS::IAM::ManagedPolicy", nil) // the producer policy
	assert.Contains(t, kmsStatements(t, tpl, "AWS::IAM::ManagedPolicy", nil),
		previous([]any{"kms:Decrypt"}, map[string]any{"StringEquals": map[string]any{"kms:ViaService": via("states"), "kms:EncryptionContext:aws:states:stateMachineArn": ref(sm)}}))
	// Log delivery of those executions' events, on the same conditions as the data key's.
	delivery := logDelivery(t, tpl, data)
	require.Len(t, delivery, 1)
	assert.Equal(t, delivery, logDelivery(t, tpl, topics))

	_, err := stacks.ParseConfig(`{"customerManagedKeyUpgrade":true}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key "customerManagedKeyUpgrade" needs customerManagedKey`)
}
