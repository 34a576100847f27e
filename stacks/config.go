package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/shopify"
	"github.com/delayed-push/delayed-push/stacks/delayedpush"
	"github.com/delayed-push/delayed-push/stacks/internal/settings"
)

// ContextKey is the CDK context key that holds the whole Delayed Push configuration, as a JSON
// object in cdk.json or as a JSON string on the command line:
//
//	cdk synth -c 'delayedPush={"senderMaxConcurrency":20}'
//
// One key (rather than one key a setting) lets the synth reject unknown settings by name.
const ContextKey = "delayedPush"

// Config is the deploy-time configuration of the stack. Every field has a default, filled by
// ConfigFromContext; the JSON names are the keys users write.
type Config struct {
	// PlatformApplicationArn is the SNS platform application (FCM) whose endpoints the sender
	// publishes to. Default: an application named "delayed-push" in the stack's account and region.
	PlatformApplicationArn string `json:"platformApplicationArn"`
	// ProducerPrincipals are the IAM role ARNs allowed to schedule, stop and inspect pushes and to
	// send pushes straight to the queue. Default: none (attach the ProducerPolicy output yourself).
	ProducerPrincipals []string `json:"producerPrincipals"`
	// SenderMaxConcurrency caps concurrent sender invocations to protect the tables. Default 10.
	SenderMaxConcurrency int `json:"senderMaxConcurrency"`
	// SenderTimeoutSeconds is the sender Lambda timeout. Default 30.
	SenderTimeoutSeconds int `json:"senderTimeoutSeconds"`
	// VisibilityTimeoutSeconds is the push queue's visibility timeout: how long a received push
	// stays hidden before it is handed out again. It must outlast a claim's lease (the
	// invocation's deadline plus 2 s) by a margin. Default: 6 × SenderTimeoutSeconds (AWS's
	// guidance for Lambda event sources); 0 means the default.
	VisibilityTimeoutSeconds int `json:"visibilityTimeoutSeconds"`
	// SenderMemoryMiB is the sender Lambda memory. Default 256.
	SenderMemoryMiB int `json:"senderMemoryMiB"`
	// MaxReceiveCount is how often a push is tried before it is parked in the dead-letter queue.
	// Default 5.
	MaxReceiveCount int `json:"maxReceiveCount"`
	// LogRetentionDays is the retention of every log group, one of CloudWatch's allowed values.
	// Default 30.
	LogRetentionDays int `json:"logRetentionDays"`
	// RemovalPolicy is "retain" (keep tables, queues and logs on stack deletion) or "destroy".
	// Default "retain".
	RemovalPolicy string `json:"removalPolicy"`
	// DeliveryRetentionDays is how long delivery log records live (DynamoDB TTL). Default 30.
	DeliveryRetentionDays int `json:"deliveryRetentionDays"`
	// AlarmEmail, when set, is subscribed to the alarm topic. Default: no subscription.
	AlarmEmail string `json:"alarmEmail"`
	// DeliveryGuarantee is what the sender does with a push whose earlier attempt may have
	// reached SNS without recording it: "at-least-once" (send it again; the app can drop the
	// repeat by its pushId) or "at-most-once" (record it uncertain, never send it again).
	// A push's own "delivery" field wins. Default "at-least-once".
	DeliveryGuarantee string `json:"deliveryGuarantee"`
	// MaxLatenessSeconds is the stack-wide lateness limit: a push that would go out later
	// than this after its due time (a redrive after an outage, a long throttle) is recorded
	// expired and not sent. A push's own maxLatenessSeconds wins. 0 means no limit.
	// Default 86400 (a day).
	MaxLatenessSeconds int `json:"maxLatenessSeconds"`
	// API is false to leave the HTTP API out. Default true.
	API bool `json:"api"`
	// APIDefaultDelaySeconds is the delay of a POST /pushes without delaySeconds or sendAt.
	// Default 7200 (two hours), at most a push's delay (schedule.MaxDelaySeconds).
	APIDefaultDelaySeconds int `json:"apiDefaultDelaySeconds"`
	// APIJwtIssuer and APIJwtAudience put a JWT authorizer on the API instead of IAM
	// authorization. Give both or neither. Default: IAM.
	APIJwtIssuer   string   `json:"apiJwtIssuer"`
	APIJwtAudience []string `json:"apiJwtAudience"`
	// APIJwtUserClaim is the claim of a user's token that holds the user id: a user may
	// register, list and remove only their own devices (JWT only). Default "sub".
	APIJwtUserClaim string `json:"apiJwtUserClaim"`
	// APIBackendScope is the scope that makes a token a backend's: it may schedule and manage
	// pushes and act on any user's devices (JWT only). Default "delayed-push/backend".
	APIBackendScope string `json:"apiBackendScope"`
	// APIThrottleRateLimit and APIThrottleBurstLimit throttle the API's stage. Defaults 50
	// requests a second and a burst of 100.
	APIThrottleRateLimit  int `json:"apiThrottleRateLimit"`
	APIThrottleBurstLimit int `json:"apiThrottleBurstLimit"`
	// APIMaxBodyBytes is the largest request body; larger ones get 413. Default 65536.
	APIMaxBodyBytes int `json:"apiMaxBodyBytes"`
	// Shopify adds the Shopify order path (POST /shopify/webhooks on the HTTP API, an orders
	// queue, consumer and table). Default false.
	Shopify bool `json:"shopify"`
	// ShopifySecretArn is a Secrets Manager secret of yours holding the app's client secret.
	// Default: a new secret with a placeholder value (put the client secret in it).
	ShopifySecretArn string `json:"shopifySecretArn"`
	// ShopifyShopOwners maps shop domains (NAME.myshopify.com) to the user id pushed for each
	// new order. Default: none.
	ShopifyShopOwners map[string]string `json:"shopifyShopOwners"`
	// ShopifyMaxBodyBytes is the largest webhook body; larger ones get 413. Default 204800.
	ShopifyMaxBodyBytes int `json:"shopifyMaxBodyBytes"`
	// ShopifyWebhookMaxAgeSeconds is how old a webhook may be (X-Shopify-Triggered-At, and
	// an order's signed updated_at/created_at) before it is refused as a replay. 18000 (5
	// hours: Shopify retries for 4) to 604800. Default 86400.
	ShopifyWebhookMaxAgeSeconds int `json:"shopifyWebhookMaxAgeSeconds"`
	// ShopifyWebhookThrottleRateLimit and ShopifyWebhookThrottleBurstLimit throttle the
	// webhook route on its own. Defaults 25 requests a second and a burst of 50.
	ShopifyWebhookThrottleRateLimit  int `json:"shopifyWebhookThrottleRateLimit"`
	ShopifyWebhookThrottleBurstLimit int `json:"shopifyWebhookThrottleBurstLimit"`
	// ShopifyWebhookReservedConcurrency is the webhook function's reserved concurrency, 0
	// (none) to 1000. Default 20.
	ShopifyWebhookReservedConcurrency int `json:"shopifyWebhookReservedConcurrency"`
	// ShopifyOrderRetentionDays is how long an order row lives (DynamoDB TTL). Default 90.
	ShopifyOrderRetentionDays int `json:"shopifyOrderRetentionDays"`
	// ShopifyQueueRetentionDays and ShopifyDeadLetterRetentionDays are how long the orders
	// queue and its dead-letter queue keep raw webhook bodies; the second must be longer.
	// Defaults 4 and 7.
	ShopifyQueueRetentionDays      int `json:"shopifyQueueRetentionDays"`
	ShopifyDeadLetterRetentionDays int `json:"shopifyDeadLetterRetentionDays"`
	// CustomerManagedKey also encrypts the tables, the push and orders queues and the state
	// machine's executions with a customer managed data key of their own
	// (DelayedPushProps.CustomerManagedData). Default false.
	CustomerManagedKey bool `json:"customerManagedKey"`
	// CustomerManagedKeyUpgrade, with customerManagedKey, keeps what the stack's first key
	// encrypted of the pushes readable (DelayedPushProps.CustomerManagedDataUpgrade): for a
	// stack deployed with customerManagedKey before the data key existed. Default false.
	CustomerManagedKeyUpgrade bool `json:"customerManagedKeyUpgrade"`
	// DeviceEventsMaxConcurrency caps concurrent device events invocations (2 to 1000), so that
	// a mass token expiry does not flood the device tables. Default 5.
	DeviceEventsMaxConcurrency int `json:"deviceEventsMaxConcurrency"`
}

// DefaultConfig returns the configuration used for every setting the context leaves out: each
// key's default in the settings table.
func DefaultConfig() Config {
	var c Config
	fields := configFields(&c)
	for _, st := range settings.All {
		if st.Default != nil {
			fields[st.Key].Set(reflect.ValueOf(st.Default))
		}
	}
	return c
}

// configFields are c's fields by key (their JSON names).
func configFields(c *Config) map[string]reflect.Value {
	v := reflect.ValueOf(c).Elem()
	out := map[string]reflect.Value{}
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		out[key] = v.Field(i)
	}
	return out
}

// checkSettings checks each key against its limits or allowed values in the settings table.
func (c Config) checkSettings() error {
	fields := configFields(&c)
	for _, st := range settings.All {
		if st == settings.VisibilityTimeoutSeconds {
			continue // its limit applies to the value with its default (6 × senderTimeoutSeconds) applied: Validate
		}
		switch f := fields[st.Key]; f.Kind() {
		case reflect.Int:
			v := int(f.Int())
			if st.Ranged() && !st.InRange(v) {
				return badKey(st.Key, "must be %s, got %d", st.Limits(""), v)
			}
			if len(st.Allowed) > 0 && !st.IsAllowed(fmt.Sprint(v)) {
				return badKey(st.Key, "must be %s, got %d", st.OneOf(), v)
			}
		case reflect.String:
			if v := f.String(); len(st.Allowed) > 0 && !st.IsAllowed(v) {
				return badKey(st.Key, "must be %s, got %q", st.OneOf(), v)
			}
		}
	}
	return nil
}

func badKey(key, format string, args ...any) error {
	return fmt.Errorf("context %s: key %q %s", ContextKey, key, fmt.Sprintf(format, args...))
}

// ConfigFromContext reads the ContextKey context value of scope, fills defaults and validates.
// The error names the offending key.
func ConfigFromContext(scope constructs.Construct) (Config, error) {
	return ParseConfig(scope.Node().TryGetContext(jsii.String(ContextKey)))
}

// ParseConfig turns a context value (nil, a JSON object, or a string holding one) into a Config.
func ParseConfig(raw any) (Config, error) {
	cfg := DefaultConfig()
	var data []byte
	switch v := raw.(type) {
	case nil:
		return cfg, nil
	case string:
		data = []byte(v)
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return cfg, fmt.Errorf("context %s: %w", ContextKey, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("context %s: %s", ContextKey, describeJSONError(err))
	}
	return cfg, cfg.Validate()
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("key %q must be a JSON %s, got %s", typeErr.Field, typeErr.Type.Kind(), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return "not a JSON object: " + err.Error()
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown key " + name
	}
	return err.Error()
}

// platformAppArn is an SNS FCM platform application ARN.
var platformAppArn = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:app/GCM/[A-Za-z0-9_.-]+$`)

var roleArn = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$`)

// VisibilityTimeout is the push queue's visibility timeout in seconds, default applied.
func (c Config) VisibilityTimeout() int {
	if c.VisibilityTimeoutSeconds == 0 {
		return 6 * c.SenderTimeoutSeconds
	}
	return c.VisibilityTimeoutSeconds
}

// LogRetention returns the CDK retention of LogRetentionDays (validated by Validate).
func (c Config) LogRetention() awslogs.RetentionDays {
	return settings.LogRetentions[c.LogRetentionDays]
}

// Props turns a validated configuration into the construct's props.
func (c Config) Props() *delayedpush.Props {
	p := &delayedpush.Props{
		SenderTimeout:        awscdk.Duration_Seconds(jsii.Number(float64(c.SenderTimeoutSeconds))),
		SenderMemorySize:     jsii.Number(float64(c.SenderMemoryMiB)),
		SenderMaxConcurrency: jsii.Number(float64(c.SenderMaxConcurrency)),
		VisibilityTimeout:    awscdk.Duration_Seconds(jsii.Number(float64(c.VisibilityTimeout()))),
		MaxReceiveCount:      jsii.Number(float64(c.MaxReceiveCount)),
		DeliveryGuarantee:    jsii.String(c.DeliveryGuarantee),
		DeliveryRetention:    awscdk.Duration_Days(jsii.Number(float64(c.DeliveryRetentionDays))),
		LogRetention:         c.LogRetention(),
		MaxLateness:          awscdk.Duration_Seconds(jsii.Number(float64(c.MaxLatenessSeconds))),
		RemovalPolicy:        settings.RemovalPolicies[c.RemovalPolicy],
	}
	if c.PlatformApplicationArn != "" {
		p.PlatformApplicationArn = jsii.String(c.PlatformApplicationArn)
	}
	if c.AlarmEmail != "" {
		p.AlarmEmail = jsii.String(c.AlarmEmail)
	}
	p.Api = &delayedpush.ApiProps{
		Disabled:           jsii.Bool(!c.API),
		DefaultDelay:       awscdk.Duration_Seconds(jsii.Number(float64(c.APIDefaultDelaySeconds))),
		MaxBodyBytes:       jsii.Number(float64(c.APIMaxBodyBytes)),
		ThrottleRateLimit:  jsii.Number(float64(c.APIThrottleRateLimit)),
		ThrottleBurstLimit: jsii.Number(float64(c.APIThrottleBurstLimit)),
	}
	if c.APIJwtIssuer != "" {
		p.Api.JwtIssuer, p.Api.JwtAudience = jsii.String(c.APIJwtIssuer), jsii.Strings(c.APIJwtAudience...)
		p.Api.JwtUserClaim, p.Api.BackendScope = jsii.String(c.APIJwtUserClaim), jsii.String(c.APIBackendScope)
	}
	p.CustomerManagedData = jsii.Bool(c.CustomerManagedKey)
	p.CustomerManagedDataUpgrade = jsii.Bool(c.CustomerManagedKeyUpgrade)
	p.DeviceEventsMaxConcurrency = jsii.Number(float64(c.DeviceEventsMaxConcurrency))
	if c.Shopify {
		owners := map[string]*string{}
		for shop, user := range c.ShopifyShopOwners {
			owners[shop] = jsii.String(user)
		}
		// shopifySecretArn becomes ExistingSecret where a scope exists (NewDelayedPushStack).
		p.Shopify = &delayedpush.ShopifyProps{ShopOwners: &owners, MaxBodyBytes: jsii.Number(float64(c.ShopifyMaxBodyBytes))}
		c.shopifyProps(p.Shopify)
	}
	return p
}

var secretArn = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`)

// Validate checks every setting and names the first bad key.
func (c Config) Validate() error {
	bad := badKey
	if !c.Shopify && (c.ShopifySecretArn != "" || len(c.ShopifyShopOwners) > 0 || c.ShopifyMaxBodyBytes != settings.ShopifyMaxBodyBytes.Int() || !c.shopifyTuningDefault()) {
		return bad("shopify", "must be true for the shopify* keys to apply")
	}
	if err := c.checkSettings(); err != nil {
		return err
	}
	if c.PlatformApplicationArn != "" && !platformAppArn.MatchString(c.PlatformApplicationArn) {
		return bad("platformApplicationArn", "must be an SNS FCM platform application ARN (arn:aws:sns:REGION:ACCOUNT:app/GCM/NAME), got %q", c.PlatformApplicationArn)
	}
	for i, p := range c.ProducerPrincipals {
		if !roleArn.MatchString(p) {
			return bad("producerPrincipals", "item %d must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), got %q", i, p)
		}
	}
	switch {
	case c.CustomerManagedKeyUpgrade && !c.CustomerManagedKey:
		return bad("customerManagedKeyUpgrade", "needs customerManagedKey: it keeps what the stack's first key encrypted of the pushes readable")
	case c.VisibilityTimeoutSeconds < 0 || c.VisibilityTimeout() > settings.VisibilityTimeoutSeconds.Max:
		return bad("visibilityTimeoutSeconds", "must fit %s (%d), got %d (the default is 6 × senderTimeoutSeconds)",
			settings.VisibilityTimeoutSeconds.MaxNote, settings.VisibilityTimeoutSeconds.Max, c.VisibilityTimeout())
	case c.VisibilityTimeout() < c.SenderTimeoutSeconds+delayedpush.MinVisibilityMarginSeconds:
		return bad("visibilityTimeoutSeconds", "must be at least senderTimeoutSeconds + %d (%d): a push whose sender died must not be handed out before its delivery claim expires, got %d",
			delayedpush.MinVisibilityMarginSeconds, c.SenderTimeoutSeconds+delayedpush.MinVisibilityMarginSeconds, c.VisibilityTimeout())
	case c.APIJwtIssuer != "" && !strings.HasPrefix(c.APIJwtIssuer, "https://"):
		return bad("apiJwtIssuer", "must be an https:// URL, got %q", c.APIJwtIssuer)
	case c.APIJwtIssuer != "" && len(c.APIJwtAudience) == 0:
		return bad("apiJwtAudience", "is required with apiJwtIssuer: the audiences a token must be for")
	case c.APIJwtIssuer == "" && len(c.APIJwtAudience) > 0:
		return bad("apiJwtIssuer", "is required with apiJwtAudience")
	case c.APIJwtIssuer == "" && (c.APIJwtUserClaim != settings.APIJwtUserClaim.String() || c.APIBackendScope != settings.APIBackendScope.String()):
		return bad("apiJwtIssuer", "is required with apiJwtUserClaim and apiBackendScope: they apply to the JWT authorizer's tokens")
	case httpapi.ValidateUserClaim(c.APIJwtUserClaim) != nil:
		return bad("apiJwtUserClaim", "is not usable: %v", httpapi.ValidateUserClaim(c.APIJwtUserClaim))
	case httpapi.ValidateScope(c.APIBackendScope) != nil:
		return bad("apiBackendScope", "is not usable: %v", httpapi.ValidateScope(c.APIBackendScope))
	}
	switch {
	case c.Shopify && !c.API:
		return bad("shopify", "needs the HTTP API (its webhook is a route of it): api must not be false")
	case c.ShopifySecretArn != "" && !secretArn.MatchString(c.ShopifySecretArn):
		return bad("shopifySecretArn", "must be a Secrets Manager secret's complete ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX), got %q", c.ShopifySecretArn)
	}
	if err := c.validateShopifyTuning(); err != nil {
		return err
	}
	for _, shop := range slices.Sorted(maps.Keys(c.ShopifyShopOwners)) {
		if !shopify.ValidShopDomain(shop) {
			return bad("shopifyShopOwners", "keys must be shop domains (NAME.myshopify.com), got %q", shop)
		}
		if c.ShopifyShopOwners[shop] == "" {
			return bad("shopifyShopOwners", "%q has no user id", shop)
		}
	}
	if c.AlarmEmail != "" {
		if _, err := mail.ParseAddress(c.AlarmEmail); err != nil {
			return bad("alarmEmail", "must be an e-mail address, got %q", c.AlarmEmail)
		}
	}
	return nil
}

// shopifyTuningDefault reports whether the replay, throttle and retention keys of the Shopify
// path are all at their defaults.
func (c Config) shopifyTuningDefault() bool {
	d := DefaultConfig()
	return c.ShopifyWebhookMaxAgeSeconds == d.ShopifyWebhookMaxAgeSeconds &&
		c.ShopifyWebhookThrottleRateLimit == d.ShopifyWebhookThrottleRateLimit &&
		c.ShopifyWebhookThrottleBurstLimit == d.ShopifyWebhookThrottleBurstLimit &&
		c.ShopifyWebhookReservedConcurrency == d.ShopifyWebhookReservedConcurrency &&
		c.ShopifyOrderRetentionDays == d.ShopifyOrderRetentionDays &&
		c.ShopifyQueueRetentionDays == d.ShopifyQueueRetentionDays &&
		c.ShopifyDeadLetterRetentionDays == d.ShopifyDeadLetterRetentionDays
}

// validateShopifyTuning checks what the settings table cannot: the dead-letter queue keeps a
// message longer than the orders queue.
func (c Config) validateShopifyTuning() error {
	bad := badKey
	switch {
	case c.ShopifyDeadLetterRetentionDays <= c.ShopifyQueueRetentionDays:
		return bad("shopifyDeadLetterRetentionDays", "must be longer than shopifyQueueRetentionDays (%d): a message moved to the dead-letter queue keeps its first enqueue time, got %d",
			c.ShopifyQueueRetentionDays, c.ShopifyDeadLetterRetentionDays)
	}
	return nil
}

// shopifyProps sets the replay, throttle and retention props of a validated configuration.
func (c Config) shopifyProps(p *delayedpush.ShopifyProps) {
	p.WebhookMaxAge = awscdk.Duration_Seconds(jsii.Number(float64(c.ShopifyWebhookMaxAgeSeconds)))
	p.WebhookThrottleRateLimit = jsii.Number(float64(c.ShopifyWebhookThrottleRateLimit))
	p.WebhookThrottleBurstLimit = jsii.Number(float64(c.ShopifyWebhookThrottleBurstLimit))
	p.WebhookReservedConcurrency = jsii.Number(float64(c.ShopifyWebhookReservedConcurrency))
	p.OrderRetention = awscdk.Duration_Days(jsii.Number(float64(c.ShopifyOrderRetentionDays)))
	p.QueueRetention = awscdk.Duration_Days(jsii.Number(float64(c.ShopifyQueueRetentionDays)))
	p.DeadLetterQueueRetention = awscdk.Duration_Days(jsii.Number(float64(c.ShopifyDeadLetterRetentionDays)))
}
