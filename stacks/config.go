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

// Config is the deploy-time configuration of the stack; the JSON names are the keys users
// write. Each key's default, limits and meaning are declared once, in the settings table
// (stacks/internal/settings), which README.md's configuration table is generated from;
// ConfigFromContext fills the defaults.
type Config struct {
	PlatformApplicationArn            string            `json:"platformApplicationArn"`
	ProducerPrincipals                []string          `json:"producerPrincipals"`
	SenderMaxConcurrency              int               `json:"senderMaxConcurrency"`
	SenderTimeoutSeconds              int               `json:"senderTimeoutSeconds"`
	VisibilityTimeoutSeconds          int               `json:"visibilityTimeoutSeconds"`
	SenderMemoryMiB                   int               `json:"senderMemoryMiB"`
	MaxReceiveCount                   int               `json:"maxReceiveCount"`
	LogRetentionDays                  int               `json:"logRetentionDays"`
	RemovalPolicy                     string            `json:"removalPolicy"`
	DeliveryRetentionDays             int               `json:"deliveryRetentionDays"`
	AlarmEmail                        string            `json:"alarmEmail"`
	DeliveryGuarantee                 string            `json:"deliveryGuarantee"`
	MaxLatenessSeconds                int               `json:"maxLatenessSeconds"`
	Engine                            string            `json:"engine"`
	EconomyScheduleAfterSeconds       int               `json:"economyScheduleAfterSeconds"`
	DefaultTimeZone                   string            `json:"defaultTimeZone"`
	Caps                              string            `json:"caps"`
	API                               bool              `json:"api"`
	APIDefaultDelaySeconds            int               `json:"apiDefaultDelaySeconds"`
	APIJwtIssuer                      string            `json:"apiJwtIssuer"`
	APIJwtAudience                    []string          `json:"apiJwtAudience"`
	APIJwtUserClaim                   string            `json:"apiJwtUserClaim"`
	APIBackendScope                   string            `json:"apiBackendScope"`
	APIThrottleRateLimit              int               `json:"apiThrottleRateLimit"`
	APIThrottleBurstLimit             int               `json:"apiThrottleBurstLimit"`
	APIMaxBodyBytes                   int               `json:"apiMaxBodyBytes"`
	Shopify                           bool              `json:"shopify"`
	ShopifySecretArn                  string            `json:"shopifySecretArn"`
	ShopifyShopOwners                 map[string]string `json:"shopifyShopOwners"`
	ShopifyMaxBodyBytes               int               `json:"shopifyMaxBodyBytes"`
	ShopifyWebhookMaxAgeSeconds       int               `json:"shopifyWebhookMaxAgeSeconds"`
	ShopifyWebhookThrottleRateLimit   int               `json:"shopifyWebhookThrottleRateLimit"`
	ShopifyWebhookThrottleBurstLimit  int               `json:"shopifyWebhookThrottleBurstLimit"`
	ShopifyWebhookReservedConcurrency int               `json:"shopifyWebhookReservedConcurrency"`
	ShopifyOrderRetentionDays         int               `json:"shopifyOrderRetentionDays"`
	ShopifyQueueRetentionDays         int               `json:"shopifyQueueRetentionDays"`
	ShopifyDeadLetterRetentionDays    int               `json:"shopifyDeadLetterRetentionDays"`
	CustomerManagedKey                bool              `json:"customerManagedKey"`
	CustomerManagedKeyUpgrade         bool              `json:"customerManagedKeyUpgrade"`
	DeviceEventsMaxConcurrency        int               `json:"deviceEventsMaxConcurrency"`
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
			v := f.String()
			if len(st.Allowed) > 0 && !st.IsAllowed(v) {
				return badKey(st.Key, "must be %s, got %q", st.OneOf(), v)
			}
			if st.Check != nil {
				if err := st.Check(v); err != nil {
					return badKey(st.Key, "%v", err)
				}
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
		Engine:               jsii.String(c.Engine),
		EconomyScheduleAfter: awscdk.Duration_Seconds(jsii.Number(float64(c.EconomyScheduleAfterSeconds))),
		DefaultTimeZone:      jsii.String(c.DefaultTimeZone),
		Caps:                 jsii.String(c.Caps),
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
