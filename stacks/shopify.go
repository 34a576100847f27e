package stacks

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/internal/shopifyapp"
	"github.com/delayed-push/delayed-push/shopify"
)

// Import paths of the Shopify Lambdas' main packages.
const (
	ShopifyWebhookPackage = "github.com/delayed-push/delayed-push/lambdas/shopifywebhook"
	ShopifyOrdersPackage  = "github.com/delayed-push/delayed-push/lambdas/shopifyorders"
)

// ShopifyWebhookPath is the webhook route's path on the HTTP API.
const ShopifyWebhookPath = "/shopify/webhooks"

// ShopifyProps adds the Shopify order path: a webhook route on the HTTP API (no IAM: Shopify
// signs), an orders queue and consumer, and an orders table. Every field is optional.
type ShopifyProps struct {
	// ExistingSecret holds the Shopify app's client secret (or, during a rotation,
	// {"current": "...", "previous": "..."}). Default: a new secret with a random placeholder
	// value: put the client secret in it after the first deploy.
	ExistingSecret awssecretsmanager.ISecret
	// ShopOwners maps shop domains (NAME.myshopify.com) to the user id of the owner who gets a
	// push per new order. Default: none (orders are saved, nobody is pushed).
	ShopOwners *map[string]*string
	// MaxBodyBytes is the largest webhook body; a larger one gets 413. 1024 to 204800
	// (an SQS message holds the body). Default: 204800.
	MaxBodyBytes *float64
}

type shopifySettings struct {
	enabled      bool
	owners       map[string]string
	maxBodyBytes int
}

func shopifySettingsOf(p *ShopifyProps, apiEnabled bool) (shopifySettings, error) {
	out := shopifySettings{maxBodyBytes: orders.DefaultMaxBodyBytes, owners: map[string]string{}}
	if p == nil {
		return out, nil
	}
	bad := func(prop, format string, args ...any) (shopifySettings, error) {
		return out, fmt.Errorf("DelayedPush: Shopify.%s %s", prop, fmt.Sprintf(format, args...))
	}
	out.enabled = true
	if !apiEnabled {
		return out, fmt.Errorf("DelayedPush: Shopify needs the HTTP API (its webhook is a route of it): do not disable Api")
	}
	if p.ShopOwners != nil {
		for shop, user := range *p.ShopOwners {
			if !shopify.ValidShopDomain(shop) {
				return bad("ShopOwners", "keys must be shop domains (NAME.myshopify.com), got %q", shop)
			}
			if user == nil || *user == "" {
				return bad("ShopOwners", "%q has no user id", shop)
			}
			out.owners[shop] = *user
		}
	}
	if p.MaxBodyBytes != nil {
		if v := *p.MaxBodyBytes; v != math.Trunc(v) || v < 1024 || v > orders.DefaultMaxBodyBytes {
			return bad("MaxBodyBytes", "must be a whole number from 1024 to %d (an SQS message holds the body), got %v", orders.DefaultMaxBodyBytes, v)
		}
		out.maxBodyBytes = int(*p.MaxBodyBytes)
	}
	return out, nil
}

// newShopify creates the order path (docs/CONTRACTS.md, "Shopify orders").
func newShopify(scope constructs.Construct, id string, d *DelayedPush, p *ShopifyProps, s settings) {
	c := constructs.NewConstruct(scope, jsii.String(id))
	secret := p.ExistingSecret
	if secret == nil {
		secret = awssecretsmanager.NewSecret(c, jsii.String("ClientSecret"), &awssecretsmanager.SecretProps{
			Description:          jsii.String("Delayed Push: the Shopify app's client secret (replace the placeholder), or {\"current\":...,\"previous\":...} during a rotation"),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true)},
			EncryptionKey:        s.key,
			RemovalPolicy:        s.removal,
		})
	}
	d.ShopifySecret = secret
	te, tk := s.tableEncryption()
	d.OrdersTable = awsdynamodb.NewTable(c, jsii.String("Orders"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("shopDomain"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String("orderId"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       te,
		EncryptionKey:                    tk,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		RemovalPolicy:                    s.removal,
		DeletionProtection:               jsii.Bool(s.removal == awscdk.RemovalPolicy_RETAIN),
	})
	const consumerTimeout = 30
	qe, qk := s.queueEncryption()
	d.OrdersDeadLetterQueue = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), RemovalPolicy: s.removal,
	})
	d.OrdersQueue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * consumerTimeout)),
		// Shopify does not send an order twice after 4 hours: two weeks leave time to fix a
		// stopped consumer before anything is dropped.
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: d.OrdersDeadLetterQueue, MaxReceiveCount: jsii.Number(5)},
		RemovalPolicy:   s.removal,
	})

	fnProps := func(description string, timeout, memory float64, logs awslogs.ILogGroup, env map[string]*string) awslambda.FunctionProps {
		return awslambda.FunctionProps{
			Description: jsii.String(description), Timeout: awscdk.Duration_Seconds(jsii.Number(timeout)), MemorySize: jsii.Number(memory),
			LogGroup: logs, Environment: &env,
		}
	}
	logGroup := func(id string) awslogs.LogGroup {
		return newLogGroup(c, id, s)
	}
	// Shopify gives up on an answer after 5 seconds.
	d.ShopifyWebhookFunction = NewGoFunction(c, "WebhookFunction", &GoFunctionProps{
		Package: ShopifyWebhookPackage,
		FunctionProps: fnProps("Delayed Push Shopify webhook: verify, queue, answer 200", 4, 256, logGroup("WebhookLogs"), map[string]*string{
			shopifyapp.EnvSecretArn:      secret.SecretArn(),
			shopifyapp.EnvOrdersQueueURL: d.OrdersQueue.QueueUrl(),
			shopifyapp.EnvMaxBodyBytes:   jsii.String(fmt.Sprint(s.shopify.maxBodyBytes)),
		}),
	})
	secret.GrantRead(d.ShopifyWebhookFunction, nil)
	d.OrdersQueue.GrantSendMessages(d.ShopifyWebhookFunction)

	owners, _ := json.Marshal(s.shopify.owners)
	d.ShopifyOrdersFunction = NewGoFunction(c, "OrdersFunction", &GoFunctionProps{
		Package: ShopifyOrdersPackage,
		FunctionProps: fnProps("Delayed Push Shopify orders: save the order, then push the shop owner", consumerTimeout, 256, logGroup("OrdersLogs"), map[string]*string{
			shopifyapp.EnvOrdersTable:        d.OrdersTable.TableName(),
			shopifyapp.EnvPushQueueURL:       d.PushQueue.QueueUrl(),
			shopifyapp.EnvDeadLetterQueueURL: d.OrdersDeadLetterQueue.QueueUrl(),
			shopifyapp.EnvShopOwners:         jsii.String(string(owners)),
		}),
	})
	d.ShopifyOrdersFunction.AddEventSource(awslambdaeventsources.NewSqsEventSource(d.OrdersQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize: jsii.Number(10), MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(0)), ReportBatchItemFailures: jsii.Bool(true),
	}))
	d.OrdersTable.Grant(d.ShopifyOrdersFunction, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"),
		jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"), jsii.String("dynamodb:DeleteItem"))
	d.PushQueue.GrantSendMessages(d.ShopifyOrdersFunction)
	d.OrdersDeadLetterQueue.GrantSendMessages(d.ShopifyOrdersFunction)
	dependOnDefaultPolicyOnly(d.ShopifyWebhookFunction, d.ShopifyWebhookFunction.Role())
	dependOnDefaultPolicyOnly(d.ShopifyOrdersFunction, d.ShopifyOrdersFunction.Role())

	routes := d.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path: jsii.String(ShopifyWebhookPath), Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ShopifyWebhook"), d.ShopifyWebhookFunction,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()}),
		// Shopify signs its requests instead: the function checks the signature.
		Authorizer: awsapigatewayv2.NewHttpNoneAuthorizer(),
	})
	for _, r := range *routes {
		nagSuppress(r, nagRule{"AwsSolutions-APIG4", "Shopify cannot sign with IAM or a JWT: it signs the body (X-Shopify-Hmac-Sha256), and the function refuses (401) every request whose signature does not match the client secret.", nil})
	}

	deadLetterAlarm(c, d.OrdersDeadLetterQueue, d.AlarmTopic,
		"Shopify order messages are parked: read their parkReason (an order that cannot be parsed) or the orders function's log.")
}
