package settings

import (
	"errors"
	"strings"
	"time"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/apiapp"
	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/senderapp"
	"github.com/delayed-push/delayed-push/internal/shopifyapp"
	"github.com/delayed-push/delayed-push/recipient"
)

// Every setting, each declared once. A setting's Default is what both the app's Config and the
// construct's props fall back to.
var (
	PlatformApplicationArn = &Setting{Key: "platformApplicationArn", Prop: "PlatformApplicationArn",
		DefaultDoc: "`arn:aws:sns:REGION:ACCOUNT:app/GCM/delayed-push`",
		Env:        apiapp.EnvPlatformAppArn,
		Doc:        "the SNS FCM application; the sender may publish only to its endpoints"}
	ProducerPrincipals = &Setting{Key: "producerPrincipals",
		DefaultDoc: "`[]`",
		Doc:        "IAM role ARNs allowed to do what the Go client does: start, stop and describe executions, send to the push queue, keep the schedules table, register and remove devices, keep recipients' preferences, and call the HTTP API's push and device routes (IAM authorization) (the `ProducerPolicyArn` output is attached to them; attach it to others yourself)"}
	SenderMaxConcurrency = &Setting{Key: "senderMaxConcurrency", Prop: "SenderMaxConcurrency", Default: 10,
		Min: 2, Max: 1000,
		Doc: "maximum concurrent sender invocations: protects the tables (2 is the smallest an SQS event source accepts)"}
	DeviceEventsMaxConcurrency = &Setting{Key: "deviceEventsMaxConcurrency", Prop: "DeviceEventsMaxConcurrency", Default: 5,
		Min: 2, Max: 1000,
		Doc: "maximum concurrent device events invocations: a mass token expiry waits in the device events queue instead of flooding the device tables"}
	SenderTimeoutSeconds = &Setting{Key: "senderTimeoutSeconds", Prop: "SenderTimeout", Default: 30,
		Min: 1, Max: 900, Unit: "seconds",
		Doc: "sender timeout, in seconds"}
	VisibilityTimeoutSeconds = &Setting{Key: "visibilityTimeoutSeconds", Prop: "VisibilityTimeout", Default: 0,
		DefaultDoc: "6 × `senderTimeoutSeconds`", Max: 43200, MaxNote: "SQS's 12-hour limit", Unit: "seconds",
		Doc: "how long a received push stays hidden before it is handed out again, in seconds; at least `senderTimeoutSeconds` + 5 (a claim's lease ends 2 s after the invocation's deadline); `0` means the default"}
	SenderMemoryMiB = &Setting{Key: "senderMemoryMiB", Prop: "SenderMemorySize", Default: 256,
		Min: 128, Max: 10240, Unit: "MiB",
		Doc: "sender memory, in MiB (256: less makes every push later for the same cost, more costs more for the same waits: [BENCHMARKS.md](BENCHMARKS.md))"}
	MaxReceiveCount = &Setting{Key: "maxReceiveCount", Prop: "MaxReceiveCount", Default: 5,
		Min: 1, Max: 1000, Env: senderapp.EnvMaxReceiveCount,
		Doc: "attempts before a push is parked in the dead-letter queue"}
	LogRetentionDays = &Setting{Key: "logRetentionDays", Prop: "LogRetention", Default: 30,
		Allowed: []string{"1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"},
		Doc:     "retention of every log group, in days (a CloudWatch Logs value)"}
	RemovalPolicy = &Setting{Key: "removalPolicy", Prop: "RemovalPolicy", Default: "retain",
		Allowed: []string{"retain", "destroy"},
		Doc:     "what stack deletion does to the tables, queues, log groups and keys"}
	DeliveryRetentionDays = &Setting{Key: "deliveryRetentionDays", Prop: "DeliveryRetention", Default: 30,
		Min: 1, Max: 3650, Unit: "days", Env: senderapp.EnvDeliveryRetentionDays,
		Doc: "how long delivery records live (DynamoDB TTL), in days"}
	AlarmEmail = &Setting{Key: "alarmEmail", Prop: "AlarmEmail",
		DefaultDoc: "none",
		Doc:        "an address subscribed to the alarm topic"}
	DeliveryGuarantee = &Setting{Key: "deliveryGuarantee", Prop: "DeliveryGuarantee", Default: "at-least-once",
		Allowed: []string{"at-least-once", "at-most-once"}, Env: senderapp.EnvDeliveryGuarantee,
		Doc: "what the sender does with a push whose earlier attempt may have reached SNS: send it again, or record it uncertain; a push's own `delivery` wins (see [docs/guarantees.md](docs/guarantees.md))"}
	MaxLatenessSeconds = &Setting{Key: "maxLatenessSeconds", Prop: "MaxLateness", Default: 86400,
		Min: 0, Max: 365*24*3600 - 3600, MinNote: "no limit", MaxNote: "365 days less an hour", Unit: "seconds",
		Env: senderapp.EnvMaxLatenessSeconds,
		Doc: "a push that would go out later than this after its due time (a redrive after an outage, a long throttle) is recorded expired and not sent; a push's own `maxLatenessSeconds` wins"}
	Engine = &Setting{Key: "engine", Prop: "Engine", Default: client.EngineStepFunctions,
		Allowed: []string{client.EngineStepFunctions, client.EngineEconomy}, Env: apiapp.EnvEngine,
		Doc: "the engine of a push that names none: `stepfunctions` (every pending push an execution you can describe and stop, ~$50–75 a million) or `economy` (SQS `DelaySeconds`, then EventBridge Scheduler one-time schedules past `economyScheduleAfterSeconds`, ~$1 a million; see [docs/cost.md](docs/cost.md)); either way a push may name its own, and both keep their resources"}
	EconomyScheduleAfterSeconds = &Setting{Key: "economyScheduleAfterSeconds", Prop: "EconomyScheduleAfter", Default: 900,
		Min: int(client.MinEconomyScheduleAfter / time.Second), Max: int(client.MaxEconomyScheduleAfter / time.Second), MinNote: "the schedule's 2-minute lead and 1-minute precision", MaxNote: "SQS's longest `DelaySeconds`", Unit: "seconds",
		Env: apiapp.EnvEconomyScheduleAfterSeconds,
		Doc: "an economy push due further ahead than this goes through an EventBridge Scheduler schedule, a nearer one is one SQS `SendMessage` with `DelaySeconds`, in seconds; lower it only to exercise the schedule path sooner"}
	DefaultTimeZone = &Setting{Key: "defaultTimeZone", Prop: "DefaultTimeZone", Default: "UTC",
		Env: apiapp.EnvDefaultTimeZone, Check: checkZone, // the sender's name for it too (a test keeps them equal)
		Doc: "the IANA time zone of a user who has none (no preference, no device-reported zone): a push's `localTime` and the user's quiet hours are read on its clock"}
	Caps = &Setting{Key: "caps", Prop: "Caps", Default: "",
		DefaultDoc: "none", Env: senderapp.EnvCaps, Check: checkCaps,
		Doc: "frequency caps per user: `N/W` is at most N pushes in any rolling window W (`10m`, `24h`, `7d`; 1 minute to 30 days); the stack's caps first, then `; category=caps` for a category's own, e.g. `3/24h,1/10m; promo=1/1h` (every push counts toward the first two, a `promo` push toward the third too); a push over a cap is recorded `capped` and not sent, one with `\"cap\": false` is never counted"}
	CustomerManagedKey = &Setting{Key: "customerManagedKey", Prop: "CustomerManagedData", Default: false,
		Doc: "also encrypt the tables, the push and orders queues and the state machine's executions (the pushes) with a customer managed data key of their own"}
	CustomerManagedKeyUpgrade = &Setting{Key: "customerManagedKeyUpgrade", Prop: "CustomerManagedDataUpgrade", Default: false,
		Doc: "with `customerManagedKey`, for a stack deployed with it before the data key existed: the roles may still decrypt what the stack's first key encrypted of the pushes"}

	API = &Setting{Key: "api", Prop: "Api.Disabled", Default: true,
		Doc: "`false` leaves the HTTP API out"}
	APIDefaultDelaySeconds = &Setting{Key: "apiDefaultDelaySeconds", Prop: "Api.DefaultDelay", Default: 7200,
		// A delay: bounded as a push's delaySeconds is (schedule.MaxDelaySeconds).
		Min: 0, Max: 365*24*3600 - 3600, MaxNote: "365 days less an hour", Unit: "seconds",
		Env: apiapp.EnvDefaultDelaySeconds,
		Doc: "the delay of a `POST /pushes` without `delaySeconds` or `sendAt`, in seconds"}
	APIMaxBodyBytes = &Setting{Key: "apiMaxBodyBytes", Prop: "Api.MaxBodyBytes", Default: 65536,
		Min: 1024, Max: 10 << 20, MaxNote: "API Gateway's limit", Env: apiapp.EnvMaxBodyBytes,
		Doc: "largest request body, in bytes; larger ones get 413"}
	APIThrottleRateLimit = &Setting{Key: "apiThrottleRateLimit", Prop: "Api.ThrottleRateLimit", Default: 50,
		Min: 1, Max: 10000,
		Doc: "the API stage's steady request rate, requests a second"}
	APIThrottleBurstLimit = &Setting{Key: "apiThrottleBurstLimit", Prop: "Api.ThrottleBurstLimit", Default: 100,
		Min: 1, Max: 5000,
		Doc: "the API stage's burst"}
	APIJwtIssuer = &Setting{Key: "apiJwtIssuer", Prop: "Api.JwtIssuer",
		DefaultDoc: "none (IAM)",
		Doc:        "a JWT authorizer instead of IAM: your identity provider's `https://` issuer; give `apiJwtAudience` with it"}
	APIJwtAudience = &Setting{Key: "apiJwtAudience", Prop: "Api.JwtAudience",
		DefaultDoc: "none (IAM)",
		Doc:        "with `apiJwtIssuer`: the audiences its tokens must be for"}
	APIJwtUserClaim = &Setting{Key: "apiJwtUserClaim", Prop: "Api.JwtUserClaim", Default: "sub",
		Env: apiapp.EnvJwtUserClaim,
		Doc: "with `apiJwtIssuer`: the claim of a user's token that holds the user id; a user may act only on their own devices (403 otherwise)"}
	APIBackendScope = &Setting{Key: "apiBackendScope", Prop: "Api.BackendScope", Default: "delayed-push/backend",
		Env: apiapp.EnvBackendScope,
		Doc: "with `apiJwtIssuer`: the scope (in `scope` or `scp`) that makes a token a backend's, which may do everything for any user"}

	Shopify = &Setting{Key: "shopify", Prop: "Shopify", Default: false,
		Doc: "the Shopify order path (see [docs/shopify.md](docs/shopify.md)); the `shopify*` keys need it"}
	ShopifySecretArn = &Setting{Key: "shopifySecretArn", Prop: "Shopify.ExistingSecret",
		DefaultDoc: "a new secret", Env: shopifyapp.EnvSecretArn,
		Doc: "a Secrets Manager secret of yours (complete ARN) holding the app's client secret"}
	ShopifyShopOwners = &Setting{Key: "shopifyShopOwners", Prop: "Shopify.ShopOwners",
		DefaultDoc: "`{}`", Env: shopifyapp.EnvShopOwners,
		Doc: "shop domain (`NAME.myshopify.com`) → the user id pushed for its new orders"}
	ShopifyMaxBodyBytes = &Setting{Key: "shopifyMaxBodyBytes", Prop: "Shopify.MaxBodyBytes", Default: 200 << 10,
		Min: 1024, Max: 200 << 10, MaxNote: "an SQS message holds the body", Env: shopifyapp.EnvMaxBodyBytes,
		Doc: "largest webhook body, in bytes; larger ones get 413"}
	ShopifyWebhookMaxAgeSeconds = &Setting{Key: "shopifyWebhookMaxAgeSeconds", Prop: "Shopify.WebhookMaxAge", Default: 86400,
		Min: 5 * 3600, Max: 7 * 24 * 3600, MinNote: "5 hours: Shopify retries a delivery for 4", MaxNote: "7 days", Unit: "seconds",
		Env: shopifyapp.EnvWebhookMaxAge,
		Doc: "a webhook older than this (its `X-Shopify-Triggered-At`, or an order's signed `updated_at`/`created_at`) is refused as a replay"}
	ShopifyWebhookThrottleRateLimit = &Setting{Key: "shopifyWebhookThrottleRateLimit", Prop: "Shopify.WebhookThrottleRateLimit", Default: 25,
		Min: 1, Max: 10000,
		Doc: "the webhook route's own throttle on the API stage, requests a second; above it API Gateway answers 429 and Shopify retries"}
	ShopifyWebhookThrottleBurstLimit = &Setting{Key: "shopifyWebhookThrottleBurstLimit", Prop: "Shopify.WebhookThrottleBurstLimit", Default: 50,
		Min: 1, Max: 5000,
		Doc: "the webhook route's burst"}
	ShopifyWebhookReservedConcurrency = &Setting{Key: "shopifyWebhookReservedConcurrency", Prop: "Shopify.WebhookReservedConcurrency", Default: 20,
		Min: 0, Max: 1000, MinNote: "none",
		Doc: "the webhook function's reserved (and maximum) concurrency; `0` reserves none (an account whose concurrency quota cannot spare it: Lambda keeps 100 unreserved)"}
	ShopifyOrderRetentionDays = &Setting{Key: "shopifyOrderRetentionDays", Prop: "Shopify.OrderRetention", Default: 90,
		Min: 1, Max: 3650, Unit: "days", Env: shopifyapp.EnvOrderRetentionDays,
		Doc: "an order row (with the customer's name and e-mail) is deleted this many days after it was saved (DynamoDB TTL)"}
	ShopifyQueueRetentionDays = &Setting{Key: "shopifyQueueRetentionDays", Prop: "Shopify.QueueRetention", Default: 4,
		Min: 1, Max: 13, Unit: "days",
		Doc: "how many days the orders queue keeps a raw webhook body"}
	ShopifyDeadLetterRetentionDays = &Setting{Key: "shopifyDeadLetterRetentionDays", Prop: "Shopify.DeadLetterQueueRetention", Default: 7,
		Min: 2, Max: 14, MaxNote: "SQS keeps a message 14 days at most", Unit: "days",
		Doc: "how many days the orders dead-letter queue keeps one; longer than `shopifyQueueRetentionDays` (a message moved there keeps its first enqueue time)"}
)

// All is every setting, in the README's order.
var All = []*Setting{
	PlatformApplicationArn, ProducerPrincipals, SenderMaxConcurrency, DeviceEventsMaxConcurrency, SenderTimeoutSeconds,
	VisibilityTimeoutSeconds, SenderMemoryMiB, MaxReceiveCount, LogRetentionDays, RemovalPolicy, DeliveryRetentionDays,
	AlarmEmail, DeliveryGuarantee, MaxLatenessSeconds, Engine, EconomyScheduleAfterSeconds, DefaultTimeZone, Caps, CustomerManagedKey, CustomerManagedKeyUpgrade,
	API, APIDefaultDelaySeconds, APIMaxBodyBytes, APIThrottleRateLimit, APIThrottleBurstLimit, APIJwtIssuer,
	APIJwtAudience, APIJwtUserClaim, APIBackendScope,
	Shopify, ShopifySecretArn, ShopifyShopOwners, ShopifyMaxBodyBytes, ShopifyWebhookMaxAgeSeconds,
	ShopifyWebhookThrottleRateLimit, ShopifyWebhookThrottleBurstLimit, ShopifyWebhookReservedConcurrency,
	ShopifyOrderRetentionDays, ShopifyQueueRetentionDays, ShopifyDeadLetterRetentionDays,
}

// checkZone refuses what recipient.Zone refuses, with its reason.
func checkZone(v string) error {
	if _, err := recipient.Zone(v); err != nil {
		var bad *recipient.InvalidError
		if errors.As(err, &bad) {
			return errors.New("must be an IANA time zone like \"Europe/Berlin\": " + bad.Reason)
		}
		return err
	}
	return nil
}

// checkCaps refuses what caps.ParseConfig refuses, with its reason.
func checkCaps(v string) error {
	if _, err := caps.ParseConfig(v); err != nil {
		return errors.New("must be frequency caps like \"3/24h,1/10m; promo=1/1h\": " + strings.TrimPrefix(err.Error(), "caps config: "))
	}
	return nil
}
