package delayedpush

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	cfg "github.com/delayed-push/delayed-push/stacks/internal/settings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/shopifyapp"
	"github.com/delayed-push/delayed-push/shopify"
	"github.com/delayed-push/delayed-push/stacks/delayedpush/internal/gobuild"
	"github.com/delayed-push/delayed-push/stacks/internal/nag"
)

// Import paths of the Shopify Lambdas' main packages.
const (
	shopifyWebhookPackage = "github.com/delayed-push/delayed-push/lambdas/shopifywebhook"
	shopifyOrdersPackage  = "github.com/delayed-push/delayed-push/lambdas/shopifyorders"
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
	// WebhookMaxAge is how old a webhook may be: one whose X-Shopify-Triggered-At, or whose
	// signed body's updated_at/created_at, is older is refused (400 stale) as a replay. Whole
	// seconds from 5 hours (Shopify retries for 4) to 7 days. Default: 24 hours.
	WebhookMaxAge awscdk.Duration
	// WebhookThrottleRateLimit (requests per second, steady) and WebhookThrottleBurstLimit
	// throttle the webhook route on the HTTP API's stage, apart from the API's own limits:
	// the route takes no IAM, so forged requests cost at most this. Defaults: 25 and 50.
	WebhookThrottleRateLimit  *float64
	WebhookThrottleBurstLimit *float64
	// WebhookReservedConcurrency reserves (and caps) the webhook function's concurrency, 0 to
	// 1000; 0 leaves it unreserved (an account whose concurrency quota leaves no room: Lambda
	// keeps 100 unreserved). Default: 20.
	WebhookReservedConcurrency *float64
	// OrderRetention is how long a saved order (with its customer's name and e-mail) is kept:
	// the orders table's TTL. Whole days from 1 to 3650. Default: 90 days.
	OrderRetention awscdk.Duration
	// QueueRetention is how long the orders queue keeps a raw webhook body (1 to 13 whole
	// days), and DeadLetterQueueRetention the orders dead-letter queue (2 to 14 whole days,
	// longer than QueueRetention: a message moved there keeps its first enqueue time).
	// Defaults: 4 and 7 days.
	QueueRetention           awscdk.Duration
	DeadLetterQueueRetention awscdk.Duration
}

type shopifySettings struct {
	enabled               bool
	owners                map[string]string
	maxBodyBytes          int
	maxAge                int // seconds
	rateLimit, burstLimit float64
	reservedConcurrency   int // 0: none
	orderRetention        int // days
	queueRetention        int // days
	deadLetterRetention   int // days
}

func shopifySettingsOf(p *ShopifyProps, apiEnabled bool) (shopifySettings, error) {
	out := shopifySettings{maxBodyBytes: cfg.ShopifyMaxBodyBytes.Int(), owners: map[string]string{},
		maxAge: cfg.ShopifyWebhookMaxAgeSeconds.Int(), rateLimit: float64(cfg.ShopifyWebhookThrottleRateLimit.Int()),
		burstLimit: float64(cfg.ShopifyWebhookThrottleBurstLimit.Int()), reservedConcurrency: cfg.ShopifyWebhookReservedConcurrency.Int(),
		orderRetention: cfg.ShopifyOrderRetentionDays.Int(), queueRetention: cfg.ShopifyQueueRetentionDays.Int(),
		deadLetterRetention: cfg.ShopifyDeadLetterRetentionDays.Int()}
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
		if v := *p.MaxBodyBytes; v != math.Trunc(v) || !cfg.ShopifyMaxBodyBytes.InRange(int(v)) {
			return bad("MaxBodyBytes", "must be a whole number %s, got %v", cfg.ShopifyMaxBodyBytes.Limits(""), v)
		}
		out.maxBodyBytes = int(*p.MaxBodyBytes)
	}
	var err error
	if out.maxAge, err = seconds(p.WebhookMaxAge, out.maxAge); err != nil {
		return bad("WebhookMaxAge", "%v", err)
	}
	if !cfg.ShopifyWebhookMaxAgeSeconds.InRange(out.maxAge) {
		return bad("WebhookMaxAge", "must be %s, got %d", cfg.ShopifyWebhookMaxAgeSeconds.Limits("seconds"), out.maxAge)
	}
	if prop, msg := wholeNumbers([]wholeNumber{
		{p.WebhookThrottleRateLimit, &out.rateLimit, cfg.ShopifyWebhookThrottleRateLimit},
		{p.WebhookThrottleBurstLimit, &out.burstLimit, cfg.ShopifyWebhookThrottleBurstLimit},
	}); prop != "" {
		return bad(prop, "%s", msg)
	}
	if v := p.WebhookReservedConcurrency; v != nil {
		if *v != math.Trunc(*v) || !cfg.ShopifyWebhookReservedConcurrency.InRange(int(*v)) {
			return bad("WebhookReservedConcurrency", "must be a whole number %s, got %v", cfg.ShopifyWebhookReservedConcurrency.Limits(""), *v)
		}
		out.reservedConcurrency = int(*v)
	}
	for _, d := range []struct {
		v   awscdk.Duration
		dst *int
		set *cfg.Setting
	}{
		{p.OrderRetention, &out.orderRetention, cfg.ShopifyOrderRetentionDays},
		{p.QueueRetention, &out.queueRetention, cfg.ShopifyQueueRetentionDays},
		{p.DeadLetterQueueRetention, &out.deadLetterRetention, cfg.ShopifyDeadLetterRetentionDays},
	} {
		if d.v == nil {
			continue
		}
		days := *d.v.ToDays(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if days != math.Trunc(days) || !d.set.InRange(int(days)) {
			_, prop, _ := strings.Cut(d.set.Prop, ".")
			return bad(prop, "must be whole days %s, got %v days", d.set.Limits(""), days)
		}
		*d.dst = int(days)
	}
	if out.deadLetterRetention <= out.queueRetention {
		// SQS keeps a message's first enqueue time when it moves it to the dead-letter queue:
		// a shorter retention there would drop what was just parked.
		return bad("DeadLetterQueueRetention", "(%d days) must be longer than QueueRetention (%d days): a message moved to the dead-letter queue keeps its first enqueue time",
			out.deadLetterRetention, out.queueRetention)
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
	// The orders table holds customers' names and e-mails: each row expires (DynamoDB TTL on
	// expiresAt, set by the consumer) shopifyOrderRetentionDays after it was saved.
	d.OrdersTable = awsdynamodb.NewTable(c, jsii.String("Orders"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("shopDomain"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String("orderId"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       te,
		EncryptionKey:                    tk,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		TimeToLiveAttribute:              jsii.String(awsadapters.OrderExpiresAt),
		RemovalPolicy:                    s.removal,
		DeletionProtection:               jsii.Bool(s.removal == awscdk.RemovalPolicy_RETAIN),
	})
	// The webhook ids the receiver has seen (internal/orders.Receiver): one row per
	// X-Shopify-Webhook-Id, no body, no customer; each expires an hour after the freshness
	// window, when a replay is refused as stale anyway.
	d.ShopifyWebhooksTable = awsdynamodb.NewTable(c, jsii.String("Webhooks"), &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("webhookId"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       te,
		EncryptionKey:                    tk,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		TimeToLiveAttribute:              jsii.String("expiresAt"),
		RemovalPolicy:                    s.removal,
		DeletionProtection:               jsii.Bool(s.removal == awscdk.RemovalPolicy_RETAIN),
	})
	nag.Suppress(d.ShopifyWebhooksTable, backups)
	if !s.cmkData {
		nag.CheckovSkip(d.ShopifyWebhooksTable, [2]string{"CKV_AWS_119", "Encrypted at rest with the AWS managed key (aws/dynamodb), the default chosen for cost; customerManagedKey (CustomerManagedData) puts the tables under the construct's key (docs/operations.md, Encryption)."})
	}
	const consumerTimeout = 30
	qe, qk := s.queueEncryption()
	// The queues hold raw webhook bodies (customers' names, e-mails and addresses): kept
	// shopifyQueueRetentionDays (4) on the queue, shopifyDeadLetterRetentionDays (7) parked,
	// not SQS's 14-day maximum. Shopify stops retrying after 4 hours; 4 days cover a weekend
	// with the consumer stopped.
	d.OrdersDeadLetterQueue = awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(float64(s.shopify.deadLetterRetention))), RemovalPolicy: s.removal,
	})
	d.OrdersQueue = awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		Encryption: qe, EncryptionMasterKey: qk, EnforceSSL: jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * consumerTimeout)),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(float64(s.shopify.queueRetention))),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: d.OrdersDeadLetterQueue, MaxReceiveCount: jsii.Number(5)},
		RemovalPolicy:     s.removal,
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
	// Shopify gives up on an answer after 5 seconds. 256 MB: Shopify waits on it; its init takes
	// about 6 ms of CPU (BENCHMARKS.md, "Cold start"), and a first request also fetches the
	// secret (a TLS handshake): at 128 MB's share of a vCPU, twice as long.
	webhookProps := fnProps("Delayed Push Shopify webhook: verify, queue, answer 200", 4, 256, logGroup("WebhookLogs"), map[string]*string{
		cfg.ShopifySecretArn.Env:            secret.SecretArn(),
		shopifyapp.EnvOrdersQueueURL:        d.OrdersQueue.QueueUrl(),
		cfg.ShopifyMaxBodyBytes.Env:         jsii.String(fmt.Sprint(s.shopify.maxBodyBytes)),
		shopifyapp.EnvWebhooksTable:         d.ShopifyWebhooksTable.TableName(),
		cfg.ShopifyWebhookMaxAgeSeconds.Env: jsii.String(fmt.Sprint(s.shopify.maxAge)),
	})
	if s.shopify.reservedConcurrency > 0 {
		// Caps what forged requests can cost, and keeps the account's other functions (the
		// sender) out of reach of a flood on this unauthenticated route.
		webhookProps.ReservedConcurrentExecutions = jsii.Number(float64(s.shopify.reservedConcurrency))
	}
	d.ShopifyWebhookFunction = gobuild.NewFunction(c, "WebhookFunction", &gobuild.FunctionProps{Package: shopifyWebhookPackage, FunctionProps: webhookProps})
	grantReadSecret(d.ShopifyWebhookFunction, secret)
	grantSend(d.ShopifyWebhookFunction, d.OrdersQueue)
	// PutItem (the claim), UpdateItem (the "queued" mark), GetItem (a refused claim's record
	// where the condition failure does not return it).
	d.ShopifyWebhooksTable.Grant(d.ShopifyWebhookFunction, jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:UpdateItem"),
		jsii.String("dynamodb:GetItem"))

	owners, _ := json.Marshal(s.shopify.owners)
	d.ShopifyOrdersFunction = gobuild.NewFunction(c, "OrdersFunction", &gobuild.FunctionProps{
		Package: shopifyOrdersPackage,
		// 256 MB, as the sender: its CPU per message is the SDK's calls, and the shop owner's push
		// waits on them (BENCHMARKS.md, "Sender overhead", "Memory size").
		FunctionProps: fnProps("Delayed Push Shopify orders: save the order, then push the shop owner", consumerTimeout, 256, logGroup("OrdersLogs"), map[string]*string{
			shopifyapp.EnvOrdersTable:         d.OrdersTable.TableName(),
			shopifyapp.EnvPushQueueURL:        d.PushQueue.QueueUrl(),
			shopifyapp.EnvDeadLetterQueueURL:  d.OrdersDeadLetterQueue.QueueUrl(),
			cfg.ShopifyShopOwners.Env:         jsii.String(string(owners)),
			cfg.ShopifyOrderRetentionDays.Env: jsii.String(fmt.Sprint(s.shopify.orderRetention)),
		}),
	})
	consume(d.ShopifyOrdersFunction, d.OrdersQueue, awslambda.EventSourceMappingOptions{
		BatchSize: jsii.Number(10), MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(0)), ReportBatchItemFailures: jsii.Bool(true),
	})
	d.OrdersTable.Grant(d.ShopifyOrdersFunction, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"),
		jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"), jsii.String("dynamodb:DeleteItem"))
	grantSend(d.ShopifyOrdersFunction, d.PushQueue, d.OrdersDeadLetterQueue)
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
		nag.Suppress(r, nag.NewRule("AwsSolutions-APIG4", "Shopify cannot sign with IAM or a JWT: it signs the body (X-Shopify-Hmac-Sha256), and the function refuses (401) every request whose signature does not match the client secret."))
	}
	throttleWebhookRoute(d, *routes, s.shopify)

	deadLetterAlarm(c, d.OrdersDeadLetterQueue, d.AlarmTopic,
		"Shopify order messages are parked: read their parkReason (an order that cannot be parsed) or the orders function's log.")
}

// throttleWebhookRoute gives the webhook route its own throttle on the HTTP API's stage
// (route-level throttling, "RouteSettings" of AWS::ApiGatewayV2::Stage: it overrides the
// stage's default limits for that route; API Gateway answers 429 above it, and Shopify retries
// a 429 like any failed delivery). The stage is the API construct's "DefaultStage" (stacks/
// api.go); only this route's key is added to its RouteSettings, and the stage waits for the
// route, since API Gateway refuses settings for a route key it does not have yet.
func throttleWebhookRoute(d *DelayedPush, routes []awsapigatewayv2.HttpRoute, sh shopifySettings) {
	stage, ok := d.Api.Node().Scope().Node().TryFindChild(jsii.String("DefaultStage")).(awsapigatewayv2.HttpStage)
	if !ok {
		panic(fmt.Errorf("DelayedPush: Shopify: the HTTP API has no stage %q to throttle the webhook route on", "DefaultStage"))
	}
	cfn := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	key := "RouteSettings.POST " + ShopifyWebhookPath
	cfn.AddPropertyOverride(jsii.String(key+".ThrottlingRateLimit"), sh.rateLimit)
	cfn.AddPropertyOverride(jsii.String(key+".ThrottlingBurstLimit"), sh.burstLimit)
	for _, r := range routes {
		stage.Node().AddDependency(r)
	}
}
