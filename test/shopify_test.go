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

var shopifyTemplate assertions.Template

func withShopify(t *testing.T) assertions.Template {
	t.Helper()
	if shopifyTemplate == nil {
		shopifyTemplate = withConfig(t, func(c *stacks.Config) {
			c.Shopify = true
			c.ShopifyShopOwners = map[string]string{"jsmith.myshopify.com": "owner-1"}
		})
	}
	return shopifyTemplate
}

func functionWith(t *testing.T, tpl assertions.Template, envVar string) string {
	t.Helper()
	return only(t, tpl, "AWS::Lambda::Function", withProperties(map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{envVar: assertions.Match_AnyValue()})}}))
}

func actionsOf(t *testing.T, tpl assertions.Template, fn string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for _, s := range policyStatements(t, tpl, "AWS::IAM::Policy", withProperties(map[string]any{"Roles": []any{ref(roleOf(t, tpl, fn))}})) {
		for _, a := range s.Action {
			got[a] = append(got[a], s.Resource...)
		}
	}
	return got
}

func TestShopifyIsOffByDefault(t *testing.T) {
	tpl := defaults(t)
	assert.Empty(t, ids(tpl, "AWS::SecretsManager::Secret", nil))
	_, ok := templateRoutes(t, tpl)["POST "+stacks.ShopifyWebhookPath]
	assert.False(t, ok)
}

// The webhook route takes no IAM (Shopify signs instead) and reaches a function that may read
// the secret and send to the orders queue, nothing else.
func TestShopifyWebhookRouteAndReceiver(t *testing.T) {
	tpl := withShopify(t)
	assert.Equal(t, "NONE", templateRoutes(t, tpl)["POST "+stacks.ShopifyWebhookPath])
	for route, auth := range templateRoutes(t, tpl) {
		if route != "POST "+stacks.ShopifyWebhookPath {
			assert.Equal(t, "AWS_IAM", auth, route)
		}
	}
	secret := only(t, tpl, "AWS::SecretsManager::Secret", nil)
	ordersQueue := ""
	for _, id := range ids(tpl, "AWS::SQS::Queue", withProperties(map[string]any{"VisibilityTimeout": 180, "RedrivePolicy": assertions.Match_AnyValue()})) {
		if strings.Contains(id, "Shopify") {
			ordersQueue = id
		}
	}
	require.NotEmpty(t, ordersQueue)
	fn := functionWith(t, tpl, "SHOPIFY_SECRET_ARN")
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Timeout": 4, "Environment": map[string]any{"Variables": map[string]any{
			"SHOPIFY_SECRET_ARN": ref(secret), "ORDERS_QUEUE_URL": ref(ordersQueue), "MAX_BODY_BYTES": "204800"}},
	})
	got := actionsOf(t, tpl, fn)
	assert.ElementsMatch(t, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "sqs:SendMessage",
		"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
		"logs:CreateLogStream", "logs:PutLogEvents"}, keys(got))
	assert.Equal(t, []string{`{"Ref":"` + secret + `"}`}, got["secretsmanager:GetSecretValue"])
	assert.Equal(t, []string{`{"Fn::GetAtt":["` + ordersQueue + `","Arn"]}`}, got["sqs:SendMessage"])
	tpl.HasOutput(jsiiStr("ShopifyWebhookUrl"), map[string]any{"Value": assertions.Match_AnyValue()})
	tpl.HasOutput(jsiiStr("ShopifySecretArn"), map[string]any{"Value": ref(secret)})
}

func TestShopifyOrdersConsumerTableAndAlarm(t *testing.T) {
	tpl := withShopify(t)
	table := only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "shopDomain", "KeyType": "HASH"}, map[string]any{"AttributeName": "orderId", "KeyType": "RANGE"}}}))
	tpl.HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"SSESpecification": map[string]any{"SSEEnabled": true}, "PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"KeySchema": assertions.Match_ArrayWith(&[]any{map[string]any{"AttributeName": "shopDomain", "KeyType": "HASH"}}),
	})
	fn := functionWith(t, tpl, "SHOP_OWNERS")
	var owners map[string]string
	env := assertions.NewCapture(nil)
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"SHOP_OWNERS": env})}})
	require.NoError(t, json.Unmarshal([]byte(*env.AsString()), &owners))
	assert.Equal(t, map[string]string{"jsmith.myshopify.com": "owner-1"}, owners)

	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::EventSourceMapping"), map[string]any{
		"FunctionName": ref(fn), "BatchSize": 10, "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})
	got := actionsOf(t, tpl, fn)
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:GetItem"} {
		require.Contains(t, got, a)
		for _, r := range got[a] {
			assert.Contains(t, r, table, "%s on the orders table only", a)
		}
	}
	pushQueueID, _ := pushQueue(t, tpl)
	assert.Contains(t, got["sqs:SendMessage"], `{"Fn::GetAtt":["`+pushQueueID+`","Arn"]}`, "it queues the owner's push")
	assert.Len(t, got["sqs:SendMessage"], 2, "the push queue and its own dead-letter queue")
	assert.NotContains(t, got, "sns:Publish", "the sender publishes, not the consumer")
	tpl.HasResourceProperties(jsiiStr("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmDescription": assertions.Match_StringLikeRegexp(jsiiStr("Shopify order messages are parked")),
	})
}

func TestShopifyConfigErrorsNameTheKey(t *testing.T) {
	for raw, want := range map[string]string{
		`{"shopifyShopOwners":{"a.myshopify.com":"u"}}`: `key "shopify" must be true for the shopify* keys to apply`,
		`{"shopify":true,"api":false}`:                  `key "shopify" needs the HTTP API`,
		`{"shopify":true,"shopifySecretArn":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}`: `key "shopifySecretArn" must be a Secrets Manager secret's complete ARN`,
		`{"shopify":true,"shopifyShopOwners":{"shop.example.com":"u"}}`:                                `key "shopifyShopOwners" keys must be shop domains (NAME.myshopify.com), got "shop.example.com"`,
		`{"shopify":true,"shopifyShopOwners":{"a.myshopify.com":""}}`:                                  `key "shopifyShopOwners" "a.myshopify.com" has no user id`,
		`{"shopify":true,"shopifyMaxBodyBytes":300000}`:                                                `key "shopifyMaxBodyBytes" must be from 1024 to 204800`,
	} {
		_, err := stacks.ParseConfig(raw)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), want, raw)
	}
	_, err := stacks.ParseConfig(`{"shopify":true,"shopifySecretArn":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/client-AbC123"}`)
	assert.NoError(t, err)
}

func TestShopifyUsesYourSecret(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/client-AbC123"
	tpl := withConfig(t, func(c *stacks.Config) { c.Shopify, c.ShopifySecretArn = true, arn })
	assert.Empty(t, ids(tpl, "AWS::SecretsManager::Secret", nil))
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Environment": map[string]any{
		"Variables": assertions.Match_ObjectLike(&map[string]any{"SHOPIFY_SECRET_ARN": arn})}})
}
