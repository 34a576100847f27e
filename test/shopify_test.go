package test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/stacks"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
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
	_, ok := templateRoutes(t, tpl)["POST "+delayedpush.ShopifyWebhookPath]
	assert.False(t, ok)
}

// The webhook route takes no IAM (Shopify signs instead) and reaches a function that may read
// the secret and send to the orders queue, nothing else.
func TestShopifyWebhookRouteAndReceiver(t *testing.T) {
	tpl := withShopify(t)
	assert.Equal(t, "NONE", templateRoutes(t, tpl)["POST "+delayedpush.ShopifyWebhookPath])
	for route, auth := range templateRoutes(t, tpl) {
		if route != "POST "+delayedpush.ShopifyWebhookPath {
			assert.Equal(t, "AWS_IAM", auth, route)
		}
	}
	secret := only(t, tpl, "AWS::SecretsManager::Secret", nil)
	ordersQueue := idContaining(t, tpl, "AWS::SQS::Queue", "ShopifyQueue")
	hasProperties(t, tpl, "AWS::SQS::Queue", ordersQueue, map[string]any{"VisibilityTimeout": 180, "RedrivePolicy": assertions.Match_AnyValue()})
	fn := functionWith(t, tpl, "SHOPIFY_SECRET_ARN")
	webhooks := webhooksTable(t, tpl)
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"Timeout": 4, "ReservedConcurrentExecutions": 20, "Environment": map[string]any{"Variables": map[string]any{
			"SHOPIFY_SECRET_ARN": ref(secret), "ORDERS_QUEUE_URL": ref(ordersQueue), "MAX_BODY_BYTES": "204800",
			"WEBHOOKS_TABLE": ref(webhooks), "WEBHOOK_MAX_AGE_SECONDS": "86400"}},
	})
	got := actionsOf(t, tpl, fn)
	// The secret's read and the queue's send (their exact actions are the grants' own, and
	// TestEveryRoleHasOnlyTheActionsItsCodeCalls pins them); the webhook ids table; logs and
	// traces. Nothing else: no order, no push, no other table.
	for a := range got {
		service, _, _ := strings.Cut(a, ":")
		assert.Contains(t, []string{"secretsmanager", "sqs", "kms", "dynamodb", "logs", "xray"}, service, a)
		if service == "dynamodb" {
			assert.Contains(t, []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}, a)
		}
	}
	assert.Equal(t, []string{`{"Ref":"` + secret + `"}`}, got["secretsmanager:GetSecretValue"])
	assert.Equal(t, []string{`{"Fn::GetAtt":["` + ordersQueue + `","Arn"]}`}, got["sqs:SendMessage"])
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"} {
		assert.Equal(t, []string{`{"Fn::GetAtt":["` + webhooks + `","Arn"]}`}, got[a], "%s on the webhooks table only", a)
	}
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
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
		"SHOP_OWNERS": assertions.Match_AnyValue(), "ORDER_RETENTION_DAYS": "90"})}})
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
		assert.Equal(t, []string{asResource(getAtt(table, "Arn"))}, got[a], "%s on the orders table only", a)
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

	for raw, want := range map[string]string{
		`{"shopifyWebhookMaxAgeSeconds":3600}`:                                              `key "shopify" must be true for the shopify* keys to apply`,
		`{"shopifyOrderRetentionDays":30}`:                                                  `key "shopify" must be true`,
		`{"shopifyWebhookReservedConcurrency":0}`:                                           `key "shopify" must be true`,
		`{"shopify":true,"shopifyWebhookMaxAgeSeconds":14400}`:                              `key "shopifyWebhookMaxAgeSeconds" must be from 18000 (5 hours: Shopify retries a delivery for 4) to 604800`,
		`{"shopify":true,"shopifyWebhookMaxAgeSeconds":604801}`:                             `key "shopifyWebhookMaxAgeSeconds" must be from 18000`,
		`{"shopify":true,"shopifyWebhookMaxAgeSeconds":"1d"}`:                               `key "shopifyWebhookMaxAgeSeconds" must be a JSON int`,
		`{"shopify":true,"shopifyWebhookThrottleRateLimit":0}`:                              `key "shopifyWebhookThrottleRateLimit" must be from 1 to 10000, got 0`,
		`{"shopify":true,"shopifyWebhookThrottleBurstLimit":5001}`:                          `key "shopifyWebhookThrottleBurstLimit" must be from 1 to 5000, got 5001`,
		`{"shopify":true,"shopifyWebhookReservedConcurrency":-1}`:                           `key "shopifyWebhookReservedConcurrency" must be from 0 (none) to 1000, got -1`,
		`{"shopify":true,"shopifyWebhookReservedConcurrency":1.5}`:                          `key "shopifyWebhookReservedConcurrency" must be a JSON int`,
		`{"shopify":true,"shopifyOrderRetentionDays":0}`:                                    `key "shopifyOrderRetentionDays" must be from 1 to 3650, got 0`,
		`{"shopify":true,"shopifyQueueRetentionDays":14}`:                                   `key "shopifyQueueRetentionDays" must be from 1 to 13, got 14`,
		`{"shopify":true,"shopifyDeadLetterRetentionDays":15}`:                              `key "shopifyDeadLetterRetentionDays" must be from 2 to 14`,
		`{"shopify":true,"shopifyQueueRetentionDays":7}`:                                    `key "shopifyDeadLetterRetentionDays" must be longer than shopifyQueueRetentionDays (7)`,
		`{"shopify":true,"shopifyDeadLetterRetentionDays":4}`:                               `key "shopifyDeadLetterRetentionDays" must be longer than shopifyQueueRetentionDays (4)`,
		`{"shopify":true,"shopifyQueueRetentionDays":2,"shopifyDeadLetterRetentionDays":2}`: `must be longer than shopifyQueueRetentionDays (2)`,
	} {
		_, err := stacks.ParseConfig(raw)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), want, raw)
	}
	cfg, err := stacks.ParseConfig(`{"shopify":true,"shopifyWebhookMaxAgeSeconds":18000,"shopifyWebhookReservedConcurrency":0,"shopifyQueueRetentionDays":1,"shopifyDeadLetterRetentionDays":14}`)
	require.NoError(t, err)
	assert.Equal(t, 18000, cfg.ShopifyWebhookMaxAgeSeconds)
	d := stacks.DefaultConfig()
	assert.Equal(t, []int{86400, 25, 50, 20, 90, 4, 7}, []int{d.ShopifyWebhookMaxAgeSeconds, d.ShopifyWebhookThrottleRateLimit, d.ShopifyWebhookThrottleBurstLimit,
		d.ShopifyWebhookReservedConcurrency, d.ShopifyOrderRetentionDays, d.ShopifyQueueRetentionDays, d.ShopifyDeadLetterRetentionDays})
}

// webhooksTable is the logical id of the webhook ids table.
func webhooksTable(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	return only(t, tpl, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "webhookId", "KeyType": "HASH"}}}))
}

// Replays: a table of the webhook ids seen, whose rows expire; the route's own throttle; the
// function's reserved concurrency.
func TestShopifyReplayTableRouteThrottleAndConcurrency(t *testing.T) {
	tpl := withShopify(t)
	webhooksTable(t, tpl) // exactly one
	tpl.HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": "webhookId", "KeyType": "HASH"}},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
		"BillingMode":                      "PAY_PER_REQUEST",
		"SSESpecification":                 map[string]any{"SSEEnabled": true},
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"DeletionProtectionEnabled":        true,
	})
	tpl.HasResource(jsiiStr("AWS::DynamoDB::Table"), map[string]any{"Properties": assertions.Match_ObjectLike(&map[string]any{
		"KeySchema": []any{map[string]any{"AttributeName": "webhookId", "KeyType": "HASH"}}}), "DeletionPolicy": "Retain"})

	// The stage keeps the API's limits and gives the webhook route its own; it waits for the
	// route (API Gateway refuses settings of a route key it does not have).
	tpl.ResourceCountIs(jsiiStr("AWS::ApiGatewayV2::Stage"), jsiiNum(1))
	route := only(t, tpl, "AWS::ApiGatewayV2::Route", withProperties(map[string]any{"RouteKey": "POST /shopify/webhooks"}))
	tpl.HasResource(jsiiStr("AWS::ApiGatewayV2::Stage"), map[string]any{
		"Properties": assertions.Match_ObjectLike(&map[string]any{
			"DefaultRouteSettings": assertions.Match_Exact(map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}),
			"RouteSettings":        assertions.Match_Exact(map[string]any{"POST /shopify/webhooks": map[string]any{"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 50}}),
		}),
		"DependsOn": assertions.Match_ArrayWith(&[]any{route}),
	})
	// The API's own routes keep the stage's limits: no settings of their own.
	off := defaults(t)
	off.ResourceCountIs(jsiiStr("AWS::ApiGatewayV2::Stage"), jsiiNum(1))
	off.AllResourcesProperties(jsiiStr("AWS::ApiGatewayV2::Stage"), map[string]any{"RouteSettings": assertions.Match_Absent()})
	assert.Len(t, ids(off, "AWS::DynamoDB::Table", withProperties(map[string]any{"KeySchema": []any{
		map[string]any{"AttributeName": "webhookId", "KeyType": "HASH"}}})), 0)

	tuned := withConfig(t, func(c *stacks.Config) {
		c.Shopify = true
		c.ShopifyWebhookThrottleRateLimit, c.ShopifyWebhookThrottleBurstLimit, c.ShopifyWebhookReservedConcurrency = 5, 10, 0
		c.ShopifyWebhookMaxAgeSeconds = 18000
	})
	tuned.HasResourceProperties(jsiiStr("AWS::ApiGatewayV2::Stage"), map[string]any{"RouteSettings": map[string]any{
		"POST /shopify/webhooks": map[string]any{"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}}})
	tuned.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{
		"ReservedConcurrentExecutions": assertions.Match_Absent(),
		"Environment":                  map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"WEBHOOK_MAX_AGE_SECONDS": "18000", "WEBHOOKS_TABLE": assertions.Match_AnyValue()})},
	})
	tuned.AllResourcesProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"ReservedConcurrentExecutions": assertions.Match_Absent()})
}

// Privacy: order rows expire; the orders queues keep raw bodies days, not two weeks.
func TestShopifyRetention(t *testing.T) {
	tpl := withShopify(t)
	tpl.HasResourceProperties(jsiiStr("AWS::DynamoDB::Table"), map[string]any{
		"KeySchema":               assertions.Match_ArrayWith(&[]any{map[string]any{"AttributeName": "shopDomain", "KeyType": "HASH"}}),
		"TimeToLiveSpecification": map[string]any{"AttributeName": "expiresAt", "Enabled": true},
	})
	const day = 24 * 3600
	// keeps asserts how long a queue (by logical id) keeps its messages.
	keeps := func(tpl assertions.Template, queue string, seconds int, msgAndArgs ...any) {
		t.Helper()
		hasProperties(t, tpl, "AWS::SQS::Queue", queue, map[string]any{"MessageRetentionPeriod": seconds}, msgAndArgs...)
	}
	const ordersQueue, ordersDLQ = "DelayedPushShopifyQueueA596F8CD", "DelayedPushShopifyDeadLetterQueue6762CF92"
	keeps(tpl, ordersQueue, 4*day)
	keeps(tpl, ordersDLQ, 7*day, "longer than the queue's: a message moved there keeps its first enqueue time")
	pushQueueID, pushDLQ := pushQueue(t, tpl)
	for _, id := range []string{pushQueueID, pushDLQ} {
		keeps(tpl, id, 14*day, "%s: pushes keep 14 days", id)
	}

	tuned := withConfig(t, func(c *stacks.Config) {
		c.Shopify = true
		c.ShopifyOrderRetentionDays, c.ShopifyQueueRetentionDays, c.ShopifyDeadLetterRetentionDays = 30, 1, 2
	})
	keeps(tuned, ordersQueue, 1*day)
	keeps(tuned, ordersDLQ, 2*day)
	tuned.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
		"ORDER_RETENTION_DAYS": "30"})}})
}

// The construct's props name the bad one.
func TestShopifyPropsErrorsNameTheProp(t *testing.T) {
	for name, c := range map[string]struct {
		props delayedpush.ShopifyProps
		want  string
	}{
		"short window":      {delayedpush.ShopifyProps{WebhookMaxAge: awscdk.Duration_Hours(jsii.Number(4))}, "DelayedPush: Shopify.WebhookMaxAge must be from 18000 seconds"},
		"fractional window": {delayedpush.ShopifyProps{WebhookMaxAge: awscdk.Duration_Millis(jsii.Number(18000500))}, "DelayedPush: Shopify.WebhookMaxAge must be whole seconds"},
		"rate":              {delayedpush.ShopifyProps{WebhookThrottleRateLimit: jsii.Number(0.5)}, "DelayedPush: Shopify.WebhookThrottleRateLimit must be a whole number from 1 to 10000"},
		"burst":             {delayedpush.ShopifyProps{WebhookThrottleBurstLimit: jsii.Number(6000)}, "DelayedPush: Shopify.WebhookThrottleBurstLimit must be a whole number from 1 to 5000"},
		"concurrency":       {delayedpush.ShopifyProps{WebhookReservedConcurrency: jsii.Number(-1)}, "DelayedPush: Shopify.WebhookReservedConcurrency must be a whole number from 0 (none) to 1000"},
		"order retention":   {delayedpush.ShopifyProps{OrderRetention: awscdk.Duration_Hours(jsii.Number(36))}, "DelayedPush: Shopify.OrderRetention must be whole days from 1 to 3650, got 1.5 days"},
		"queue retention":   {delayedpush.ShopifyProps{QueueRetention: awscdk.Duration_Days(jsii.Number(14))}, "DelayedPush: Shopify.QueueRetention must be whole days from 1 to 13"},
		"dlq not longer": {delayedpush.ShopifyProps{QueueRetention: awscdk.Duration_Days(jsii.Number(5)), DeadLetterQueueRetention: awscdk.Duration_Days(jsii.Number(5))},
			"DelayedPush: Shopify.DeadLetterQueueRetention (5 days) must be longer than QueueRetention (5 days)"},
	} {
		t.Run(name, func(t *testing.T) {
			stack := awscdk.NewStack(newApp(""), jsii.String("Consumer"), nil)
			defer func() {
				p := recover()
				require.NotNil(t, p, "no error")
				err, ok := p.(error)
				require.True(t, ok, "panics with an error: %v", p)
				assert.Contains(t, err.Error(), c.want)
			}()
			props := c.props
			delayedpush.New(stack, "Push", &delayedpush.Props{Shopify: &props})
		})
	}
}

func TestShopifyUsesYourSecret(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/client-AbC123"
	tpl := withConfig(t, func(c *stacks.Config) { c.Shopify, c.ShopifySecretArn = true, arn })
	assert.Empty(t, ids(tpl, "AWS::SecretsManager::Secret", nil))
	tpl.HasResourceProperties(jsiiStr("AWS::Lambda::Function"), map[string]any{"Environment": map[string]any{
		"Variables": assertions.Match_ObjectLike(&map[string]any{"SHOPIFY_SECRET_ARN": arn})}})
}
