package delayedpush

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	cfg "github.com/delayed-push/delayed-push/stacks/internal/settings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/delayed-push/delayed-push/internal/httpapi"
)

// Props configures a DelayedPush. Every field is optional; each comment gives the
// default. Existing* fields bring a resource of your own instead of a new one; giving one
// together with the props for the new one is an error.
type Props struct {
	// PlatformApplicationArn is the SNS platform application (FCM) the sender publishes
	// through; it may publish only to that application's endpoints. The application is not
	// created here: its FCM credentials must not go into a template.
	// Default: the application named "delayed-push" in the stack's account and region.
	PlatformApplicationArn *string
	// SenderTimeout is the sender Lambda's timeout. Default: 30 seconds.
	SenderTimeout awscdk.Duration
	// SenderMemorySize is the sender's memory in MiB, 128 to 10240. Default: 256.
	SenderMemorySize *float64
	// SenderMaxConcurrency caps the sender's concurrent invocations from the queue (2 to
	// 1000), which protects the tables. Default: 10.
	SenderMaxConcurrency *float64
	// VisibilityTimeout is how long a received push stays hidden before it is handed out
	// again. It must exceed SenderTimeout by 5 seconds: a claim's lease ends 2 seconds after
	// the invocation's deadline. Default: 6 × SenderTimeout (AWS's guidance).
	VisibilityTimeout awscdk.Duration
	// MaxReceiveCount is how often a push is tried before it is parked in the dead-letter
	// queue. Default: 5.
	MaxReceiveCount *float64
	// DeliveryGuarantee is "at-least-once" (a push whose earlier attempt may have reached SNS
	// is published again; the app can drop the repeat by its pushId) or "at-most-once" (it
	// is recorded uncertain and never published again). A push's own "delivery" wins.
	// Default: "at-least-once".
	DeliveryGuarantee *string
	// DeliveryRetention is how long delivery records live (DynamoDB TTL). Default: 30 days.
	DeliveryRetention awscdk.Duration
	// MaxLateness is the stack-wide lateness limit: a push that would go out later than this
	// after its due time (a redrive after an outage, a long throttle) is recorded expired and
	// not sent. A push's own maxLatenessSeconds wins. Whole seconds up to 365 days less an
	// hour; zero means no limit. Default: 24 hours.
	MaxLateness awscdk.Duration
	// Engine is the engine of a push that names none: "stepfunctions" (an execution of the
	// state machine waits until it is due: every pending push can be described and stopped) or
	// "economy" (one SQS SendMessage with DelaySeconds when it is due within
	// EconomyScheduleAfter, else an EventBridge Scheduler one-time schedule that puts it on the
	// push queue shortly before it is due, and the sender holds it until then). Both engines'
	// resources always exist, so a push may name either. Default: "stepfunctions".
	Engine *string
	// EconomyScheduleAfter is how far ahead an economy push must be due to go through a
	// schedule rather than SQS DelaySeconds: whole seconds from 180 (the schedule's 2-minute
	// lead and 1-minute precision) to 900 (SQS's longest delay); lower only to exercise the
	// schedule path sooner. Default: 900 seconds.
	EconomyScheduleAfter awscdk.Duration
	// DefaultTimeZone is the IANA time zone of a user who has none (no preference, no
	// device-reported zone): a push's local time and the user's quiet hours are read on its clock.
	// Default: "UTC".
	DefaultTimeZone *string
	// Caps are the frequency caps per user, in internal/caps' compact form: "N/W" is at most N
	// pushes in any rolling window W ("10m", "24h", "7d"), the stack's caps first, then
	// "; category=caps" for a category's own, e.g. "3/24h,1/10m; promo=1/1h". A push over a
	// cap is recorded capped and not sent; an exempt one ("cap": false) is never counted.
	// Default: "" (no caps).
	Caps *string
	// LogRetention applies to every log group. Default: one month.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy applies to the tables, the queues, the log groups, the keys and the
	// economy engine's schedule group.
	// Default: RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// AlarmEmail, when set, is subscribed to the alarm topic. Default: no subscription.
	AlarmEmail *string
	// ExistingAlarmTopic receives the alarms instead of a topic created here. Default: a new
	// topic encrypted with EncryptionKey.
	ExistingAlarmTopic awssns.ITopic
	// AlarmTopicProps are the new alarm topic's props (its key is set here).
	AlarmTopicProps *awssns.TopicProps
	// ExistingEncryptionKey is a customer managed key of yours for what AWS services encrypt
	// for the construct: the alarm topic, the device events topic, the log groups and the
	// Shopify secret (not the pushes: see CustomerManagedData). Its key policy must let
	// cloudwatch.amazonaws.com, sns.amazonaws.com and logs.REGION.amazonaws.com use it
	// (kms:Decrypt, kms:GenerateDataKey*; CloudWatch Logs also Encrypt*, ReEncrypt*, Describe*).
	// Default: a new key, rotated yearly.
	ExistingEncryptionKey awskms.IKey
	// EncryptionKeyProps are the new key's props.
	EncryptionKeyProps *awskms.KeyProps
	// CustomerManagedData also encrypts the tables, the push and orders queues and the state
	// machine's executions (the pushes themselves) with a customer managed key of their own,
	// DataKey, instead of AWS managed and owned keys: what many security teams require for user
	// data, at the cost of a KMS request per message. Grants and the producer policy include the
	// key, through the services that hold the data only. Default: false.
	CustomerManagedData *bool
	// CustomerManagedDataUpgrade, with CustomerManagedData, also lets every role that reads
	// pushes decrypt with EncryptionKey, on the same terms as DataKey: for a construct that
	// had CustomerManagedData before DataKey existed (EncryptionKey encrypted the pushes then),
	// so that the executions and queued messages encrypted under it are still read. Remove it
	// once no execution started before the upgrade remains (at most a year). Default: false.
	CustomerManagedDataUpgrade *bool
	// DeviceEventsMaxConcurrency caps the device events function's concurrent invocations
	// from its queue (2 to 1000): a mass token expiry must not flood the device tables.
	// Default: 5.
	DeviceEventsMaxConcurrency *float64
	// Api configures the HTTP API. Default: an API with IAM authorization and every default
	// of ApiProps.
	Api *ApiProps
	// Shopify adds the Shopify order path (a webhook route on the HTTP API, an orders queue,
	// consumer and table). Default: none.
	Shopify *ShopifyProps
}

// ApiProps configures the HTTP API (API Gateway HTTP API). Every field is optional.
type ApiProps struct {
	// Disabled leaves the HTTP API out. Default: false.
	Disabled *bool
	// DefaultDelay is the delay of a POST /pushes that gives neither delaySeconds nor sendAt,
	// in whole seconds. Default: 2 hours.
	DefaultDelay awscdk.Duration
	// MaxBodyBytes is the largest request body; a larger one gets 413. 1024 to 10485760.
	// Default: 65536.
	MaxBodyBytes *float64
	// JwtIssuer and JwtAudience put a JWT authorizer (your identity provider's tokens) on
	// every route instead of IAM authorization. Give both or neither. Default: IAM.
	JwtIssuer   *string
	JwtAudience *[]*string
	// JwtUserClaim is the claim of a user's token that holds the user id: a user may register,
	// list and remove only their own devices, and reach no push. Default: "sub".
	JwtUserClaim *string
	// BackendScope is the scope that makes a token a backend's: it may schedule, read, change,
	// cancel and list pushes and act on any user's devices. Default: "delayed-push/backend".
	BackendScope *string
	// ThrottleRateLimit (requests per second, steady) and ThrottleBurstLimit limit the
	// stage. Defaults: 50 and 100.
	ThrottleRateLimit  *float64
	ThrottleBurstLimit *float64
}

// DelayedPush is the whole product as one construct: a Standard state machine that waits and
// then puts each push on the push queue, the queue and its dead-letter queue, the Go sender
// Lambda that publishes through SNS mobile push (FCM), the device registry and delivery log
// tables, and alarms. The fields are what it created (AlarmTopic may be yours).
type DelayedPush struct {
	constructs.Construct
	StateMachine    awsstepfunctions.StateMachine
	PushQueue       awssqs.Queue
	DeadLetterQueue awssqs.Queue
	SenderFunction  awslambda.Function
	DevicesTable    awsdynamodb.Table
	// DeviceOwnersTable names the user who owns each device (one row per device id).
	DeviceOwnersTable awsdynamodb.Table
	DeliveriesTable   awsdynamodb.Table
	// SchedulesTable is the index of pushes scheduled through the client, the HTTP API and
	// pushctl: one row per key, read by the sender before it sends.
	SchedulesTable awsdynamodb.Table
	// PreferencesTable holds each recipient's time zone and quiet hours (one row per user),
	// which the client, the HTTP API and device registration keep and the sender reads when a
	// push is due; CapsTable counts each user's pushes for the frequency caps (one row per user,
	// TTL expiresAt: gone once its longest window has passed).
	PreferencesTable awsdynamodb.Table
	CapsTable        awsdynamodb.Table
	AlarmTopic       awssns.ITopic
	// EncryptionKey is the key of the topics created here, the alarm topic (unless it is yours)
	// and the device events topic: yours or a new one.
	EncryptionKey awskms.IKey
	// Api is the HTTP API and ApiFunction its Lambda; both nil when ApiProps.Disabled.
	Api         awsapigatewayv2.HttpApi
	ApiFunction awslambda.Function
	// DeviceEventsTopic is where the platform application's event attributes
	// (EventEndpointUpdated, EventEndpointDeleted, EventDeliveryFailure) should point; a backend
	// may subscribe to it too. DeviceEventsQueue feeds DeviceEventsFunction, which marks dead
	// devices disabled; DeviceEventsDeadLetterQueue keeps the events it could not apply, and
	// DeviceEventsUndeliveredQueue those SNS could not deliver to DeviceEventsQueue (the
	// subscription's redrive policy).
	DeviceEventsTopic            awssns.Topic
	DeviceEventsQueue            awssqs.Queue
	DeviceEventsDeadLetterQueue  awssqs.Queue
	DeviceEventsUndeliveredQueue awssqs.Queue
	DeviceEventsFunction         awslambda.Function
	// The economy engine's EventBridge Scheduler resources (the schedules themselves are
	// created at run time, one per push due further ahead than EconomyScheduleAfter):
	// EconomyScheduleGroup holds them; EconomyRole is the role they run as, which may only put
	// pushes on the push queue (and failed ones on EconomyDeadLetterQueue); EconomyDeadLetterQueue
	// keeps what a schedule could not deliver after its retries.
	EconomyScheduleGroup   awsscheduler.ScheduleGroup
	EconomyRole            awsiam.Role
	EconomyDeadLetterQueue awssqs.Queue
	// PlatformApplicationArn is the SNS platform application devices are registered on.
	PlatformApplicationArn *string
	// Dashboard shows the whole pipeline.
	Dashboard awscloudwatch.Dashboard
	// DataKey encrypts the pushes and the device registry (tables, push and orders queues,
	// executions) when CustomerManagedData is set, else nil. It is a key of its own: the
	// services and roles that use EncryptionKey cannot use it.
	DataKey awskms.IKey
	// The Shopify order path, nil without ShopifyProps: the client secret (yours or a new
	// one), the orders table, queue and dead-letter queue, the webhook ids seen (replays are
	// refused by them), and the two functions.
	ShopifySecret          awssecretsmanager.ISecret
	OrdersTable            awsdynamodb.Table
	OrdersQueue            awssqs.Queue
	OrdersDeadLetterQueue  awssqs.Queue
	ShopifyWebhooksTable   awsdynamodb.Table
	ShopifyWebhookFunction awslambda.Function
	ShopifyOrdersFunction  awslambda.Function

	s settings // the props, defaults applied
}

// settings are the props with defaults applied and checked.
type settings struct {
	appArn            string
	timeout           int // seconds
	memory            int
	maxConcurrency    int
	visibility        int // seconds
	maxReceiveCount   int
	guarantee         string
	deliveryRetention int // days
	maxLateness       int // seconds; 0: none
	engine            string
	scheduleAfter     int // seconds: EconomyScheduleAfter
	defaultTimeZone   string
	caps              string // internal/caps' compact form; "": none
	logRetention      awslogs.RetentionDays
	removal           awscdk.RemovalPolicy
	api               apiSettings
	shopify           shopifySettings
	key               awskms.IKey // the construct's key (set by New)
	cmkData           bool        // CustomerManagedData
	dataKey           awskms.IKey // DataKey (set by New when cmkData)
	cmkUpgrade        bool        // CustomerManagedDataUpgrade
	// deviceEventsConcurrency is the device events function's maximum concurrency.
	deviceEventsConcurrency int
}

// queueEncryption is how the construct's queues are encrypted.
func (s settings) queueEncryption() (awssqs.QueueEncryption, awskms.IKey) {
	if s.cmkData {
		return awssqs.QueueEncryption_KMS, s.dataKey
	}
	return awssqs.QueueEncryption_SQS_MANAGED, nil
}

// tableEncryption is how the construct's tables are encrypted.
func (s settings) tableEncryption() (awsdynamodb.TableEncryption, awskms.IKey) {
	if s.cmkData {
		return awsdynamodb.TableEncryption_CUSTOMER_MANAGED, s.dataKey
	}
	return awsdynamodb.TableEncryption_AWS_MANAGED, nil
}

type apiSettings struct {
	enabled               bool
	defaultDelay          int // seconds
	maxBodyBytes          int
	jwtIssuer             string
	jwtAudience           []string
	jwtUserClaim          string // with jwtIssuer
	backendScope          string // with jwtIssuer
	rateLimit, burstLimit float64
}

var platformAppArn = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:app/GCM/[A-Za-z0-9_.-]+$`)

// MinVisibilityMarginSeconds is how much longer than the sender's timeout the push queue's
// visibility timeout must be: the delivery claim lease (delivery.DefaultLeaseSkew, 2 s past
// the invocation's deadline) plus room for Lambda's own start-up and clock differences.
const MinVisibilityMarginSeconds = 5

// settingsOf applies the defaults of Props and checks every value. The error names
// the prop.
func settingsOf(stack awscdk.Stack, p *Props) (settings, error) {
	if p == nil {
		p = &Props{}
	}
	// memory 256 MiB: the sender's CPU per batch of 10 (mostly the SDK's calls: 5 to 11 ms of
	// one vCPU) takes, at memory/1,769 MB of a vCPU, about as long as the chain of calls the
	// batch waits for; less makes every push later for the same cost, more costs more for the
	// same waits (BENCHMARKS.md, "Sender overhead", "Memory size"). Its peak RSS is ~10 MiB.
	s := settings{
		timeout: cfg.SenderTimeoutSeconds.Int(), memory: cfg.SenderMemoryMiB.Int(), maxConcurrency: cfg.SenderMaxConcurrency.Int(),
		maxReceiveCount: cfg.MaxReceiveCount.Int(), deviceEventsConcurrency: cfg.DeviceEventsMaxConcurrency.Int(),
		guarantee: cfg.DeliveryGuarantee.String(), deliveryRetention: cfg.DeliveryRetentionDays.Int(), maxLateness: cfg.MaxLatenessSeconds.Int(),
		logRetention: cfg.LogRetentions[cfg.LogRetentionDays.Int()], removal: cfg.RemovalPolicies[cfg.RemovalPolicy.String()],
		engine: cfg.Engine.String(), scheduleAfter: cfg.EconomyScheduleAfterSeconds.Int(),
		defaultTimeZone: cfg.DefaultTimeZone.String(), caps: cfg.Caps.String(),
	}
	bad := func(prop, format string, args ...any) (settings, error) {
		return s, fmt.Errorf("DelayedPush: %s %s", prop, fmt.Sprintf(format, args...))
	}
	s.appArn = fmt.Sprintf("arn:%s:sns:%s:%s:app/GCM/delayed-push", *stack.Partition(), *stack.Region(), *stack.Account())
	if p.PlatformApplicationArn != nil {
		s.appArn = *p.PlatformApplicationArn
		if !*awscdk.Token_IsUnresolved(p.PlatformApplicationArn) && !platformAppArn.MatchString(s.appArn) {
			return bad("PlatformApplicationArn", "must be an SNS FCM platform application ARN (arn:aws:sns:REGION:ACCOUNT:app/GCM/NAME), got %q", s.appArn)
		}
	}
	var err error
	if s.timeout, err = seconds(p.SenderTimeout, s.timeout); err != nil {
		return bad("SenderTimeout", "%v", err)
	}
	if !cfg.SenderTimeoutSeconds.InRange(s.timeout) {
		return bad("SenderTimeout", "must be %s, got %d", cfg.SenderTimeoutSeconds.Limits("seconds"), s.timeout)
	}
	s.visibility = 6 * s.timeout
	if s.visibility, err = seconds(p.VisibilityTimeout, s.visibility); err != nil {
		return bad("VisibilityTimeout", "%v", err)
	}
	switch {
	case s.visibility > cfg.VisibilityTimeoutSeconds.Max:
		return bad("VisibilityTimeout", "must fit %s (%d s), got %d s", cfg.VisibilityTimeoutSeconds.MaxNote, cfg.VisibilityTimeoutSeconds.Max, s.visibility)
	case s.visibility < s.timeout+MinVisibilityMarginSeconds:
		return bad("VisibilityTimeout", "must be at least SenderTimeout + %d s (%d s): a push whose sender died must not be handed out before its delivery claim expires, got %d s",
			MinVisibilityMarginSeconds, s.timeout+MinVisibilityMarginSeconds, s.visibility)
	}
	for _, n := range []struct {
		v   *float64
		dst *int
		set *cfg.Setting
	}{
		{p.SenderMemorySize, &s.memory, cfg.SenderMemoryMiB},
		{p.SenderMaxConcurrency, &s.maxConcurrency, cfg.SenderMaxConcurrency},
		{p.MaxReceiveCount, &s.maxReceiveCount, cfg.MaxReceiveCount},
		{p.DeviceEventsMaxConcurrency, &s.deviceEventsConcurrency, cfg.DeviceEventsMaxConcurrency},
	} {
		if n.v == nil {
			continue
		}
		if *n.v != math.Trunc(*n.v) || !n.set.InRange(int(*n.v)) {
			return bad(n.set.Prop, "must be a whole number %s, got %v", n.set.Limits(n.set.Unit), *n.v)
		}
		*n.dst = int(*n.v)
	}
	if p.DeliveryGuarantee != nil {
		s.guarantee = *p.DeliveryGuarantee
		if !cfg.DeliveryGuarantee.IsAllowed(s.guarantee) {
			return bad("DeliveryGuarantee", "must be %s, got %q", cfg.DeliveryGuarantee.OneOf(), s.guarantee)
		}
	}
	if p.DeliveryRetention != nil {
		days := p.DeliveryRetention.ToDays(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if *days != math.Trunc(*days) || !cfg.DeliveryRetentionDays.InRange(int(*days)) {
			return bad("DeliveryRetention", "must be whole days %s, got %v days", cfg.DeliveryRetentionDays.Limits(""), *days)
		}
		s.deliveryRetention = int(*days)
	}
	if s.maxLateness, err = seconds(p.MaxLateness, s.maxLateness); err != nil {
		return bad("MaxLateness", "%v", err)
	}
	if !cfg.MaxLatenessSeconds.InRange(s.maxLateness) {
		return bad("MaxLateness", "must be %s, got %d", cfg.MaxLatenessSeconds.Limits("seconds"), s.maxLateness)
	}
	if p.Engine != nil {
		s.engine = *p.Engine
		if !cfg.Engine.IsAllowed(s.engine) {
			return bad("Engine", "must be %s, got %q", cfg.Engine.OneOf(), s.engine)
		}
	}
	if s.scheduleAfter, err = seconds(p.EconomyScheduleAfter, s.scheduleAfter); err != nil {
		return bad("EconomyScheduleAfter", "%v", err)
	}
	if !cfg.EconomyScheduleAfterSeconds.InRange(s.scheduleAfter) {
		return bad("EconomyScheduleAfter", "must be %s, got %d", cfg.EconomyScheduleAfterSeconds.Limits("seconds"), s.scheduleAfter)
	}
	for _, str := range []struct {
		v   *string
		dst *string
		set *cfg.Setting
	}{
		{p.DefaultTimeZone, &s.defaultTimeZone, cfg.DefaultTimeZone},
		{p.Caps, &s.caps, cfg.Caps},
	} {
		if str.v == nil {
			continue
		}
		if err := str.set.Check(*str.v); err != nil {
			return bad(str.set.Prop, "%v", err)
		}
		*str.dst = *str.v
	}
	if p.LogRetention != "" {
		s.logRetention = p.LogRetention
	}
	if p.RemovalPolicy != "" {
		s.removal = p.RemovalPolicy
	}
	if s.api, err = apiSettingsOf(p.Api); err != nil {
		return s, err
	}
	if s.shopify, err = shopifySettingsOf(p.Shopify, s.api.enabled); err != nil {
		return s, err
	}
	s.cmkData = p.CustomerManagedData != nil && *p.CustomerManagedData
	s.cmkUpgrade = p.CustomerManagedDataUpgrade != nil && *p.CustomerManagedDataUpgrade
	switch {
	case s.cmkUpgrade && !s.cmkData:
		return bad("CustomerManagedDataUpgrade", "needs CustomerManagedData: it keeps what EncryptionKey encrypted of the pushes before DataKey existed readable")
	case p.ExistingAlarmTopic != nil && p.AlarmTopicProps != nil:
		return bad("ExistingAlarmTopic", "and AlarmTopicProps are both given: give one, for your topic or for a new one")
	case p.ExistingEncryptionKey != nil && p.EncryptionKeyProps != nil:
		return bad("ExistingEncryptionKey", "and EncryptionKeyProps are both given: give one, for your key or for a new one")
	}
	return s, nil
}

func apiSettingsOf(p *ApiProps) (apiSettings, error) {
	a := apiSettings{enabled: cfg.API.Default.(bool), defaultDelay: cfg.APIDefaultDelaySeconds.Int(), maxBodyBytes: cfg.APIMaxBodyBytes.Int(),
		rateLimit: float64(cfg.APIThrottleRateLimit.Int()), burstLimit: float64(cfg.APIThrottleBurstLimit.Int())}
	if p == nil {
		return a, nil
	}
	bad := func(prop, format string, args ...any) (apiSettings, error) {
		return a, fmt.Errorf("DelayedPush: Api.%s %s", prop, fmt.Sprintf(format, args...))
	}
	if p.Disabled != nil && *p.Disabled {
		a.enabled = false
	}
	var err error
	if a.defaultDelay, err = seconds(p.DefaultDelay, a.defaultDelay); err != nil {
		return bad("DefaultDelay", "%v", err)
	}
	if !cfg.APIDefaultDelaySeconds.InRange(a.defaultDelay) {
		return bad("DefaultDelay", "must be %s, got %d", cfg.APIDefaultDelaySeconds.Limits("seconds"), a.defaultDelay)
	}
	if prop, msg := wholeNumbers([]wholeNumber{
		{p.ThrottleRateLimit, &a.rateLimit, cfg.APIThrottleRateLimit},
		{p.ThrottleBurstLimit, &a.burstLimit, cfg.APIThrottleBurstLimit},
	}); prop != "" {
		return bad(prop, "%s", msg)
	}
	if p.MaxBodyBytes != nil {
		if v := *p.MaxBodyBytes; v != math.Trunc(v) || !cfg.APIMaxBodyBytes.InRange(int(v)) {
			return bad("MaxBodyBytes", "must be a whole number %s, got %v", cfg.APIMaxBodyBytes.Limits(""), v)
		}
		a.maxBodyBytes = int(*p.MaxBodyBytes)
	}
	if p.JwtIssuer != nil {
		a.jwtIssuer = *p.JwtIssuer
	}
	if p.JwtAudience != nil {
		for _, aud := range *p.JwtAudience {
			a.jwtAudience = append(a.jwtAudience, *aud)
		}
	}
	if a.jwtIssuer != "" {
		a.jwtUserClaim, a.backendScope = cfg.APIJwtUserClaim.String(), cfg.APIBackendScope.String()
	}
	if p.JwtUserClaim != nil {
		a.jwtUserClaim = *p.JwtUserClaim
		if err := httpapi.ValidateUserClaim(a.jwtUserClaim); err != nil {
			return bad("JwtUserClaim", "is not usable: %v", err)
		}
	}
	if p.BackendScope != nil {
		a.backendScope = *p.BackendScope
		if err := httpapi.ValidateScope(a.backendScope); err != nil {
			return bad("BackendScope", "is not usable: %v", err)
		}
	}
	switch {
	case a.jwtIssuer != "" && !strings.HasPrefix(a.jwtIssuer, "https://"):
		return bad("JwtIssuer", "must be an https:// URL, got %q", a.jwtIssuer)
	case a.jwtIssuer != "" && len(a.jwtAudience) == 0:
		return bad("JwtAudience", "is required with JwtIssuer: the audiences a token must be for")
	case a.jwtIssuer == "" && len(a.jwtAudience) > 0:
		return bad("JwtIssuer", "is required with JwtAudience")
	case a.jwtIssuer == "" && (p.JwtUserClaim != nil || p.BackendScope != nil):
		return bad("JwtIssuer", "is required with JwtUserClaim and BackendScope: they apply to the JWT authorizer's tokens")
	}
	return a, nil
}

// seconds is a Duration in whole seconds, or def when it is nil.
func seconds(d awscdk.Duration, def int) (int, error) {
	if d == nil {
		return def, nil
	}
	s := *d.ToSeconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
	if s != math.Trunc(s) {
		return 0, fmt.Errorf("must be whole seconds, got %v s", s)
	}
	return int(s), nil
}

// New adds Delayed Push to scope. It panics with an error naming the prop when the
// props are wrong, as the CDK's own constructs do.
func New(scope constructs.Construct, id string, props *Props) *DelayedPush {
	c := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(c)
	s, err := settingsOf(stack, props)
	if err != nil {
		panic(err)
	}
	if props == nil {
		props = &Props{}
	}
	d := &DelayedPush{Construct: c, PlatformApplicationArn: jsii.String(s.appArn)}
	alarms := constructs.NewConstruct(c, jsii.String("Alarms"))
	s.key = newEncryptionKey(alarms, props, s)
	if s.cmkData {
		s.dataKey = newDataKey(c, s)
		if s.cmkUpgrade {
			if key, ok := s.key.(awskms.Key); ok {
				allowStateMachineLogDelivery(key) // of executions started under it
			}
		}
	}
	d.s, d.EncryptionKey, d.DataKey = s, s.key, s.dataKey
	d.PushQueue, d.DeadLetterQueue = newPushQueue(c, "PushQueue", s)
	d.DevicesTable, d.DeviceOwnersTable, d.DeliveriesTable, d.SchedulesTable = newTables(c, "Tables", s)
	d.PreferencesTable, d.CapsTable = newRecipientTables(c, s)
	d.StateMachine = newScheduler(c, "Scheduler", d, s)
	d.SenderFunction = newSender(c, "Sender", d, s)
	d.AlarmTopic, d.EncryptionKey = newAlarms(alarms, d, props, s)
	newDeviceEvents(c, "DeviceEvents", d, s)
	newEconomy(c, "Economy", d, s)
	dependOnDefaultPolicyOnly(d.DeviceEventsFunction, d.DeviceEventsFunction.Role())
	if s.api.enabled {
		d.Api, d.ApiFunction = newAPI(c, "Api", d, s)
		dependOnDefaultPolicyOnly(d.ApiFunction, d.ApiFunction.Role())
	}
	if s.shopify.enabled {
		newShopify(c, "Shopify", d, props.Shopify, s)
		// Under a customer managed data key: the webhook function sends to the orders queue
		// and keeps the webhooks table; the orders function reads the orders queue, keeps the
		// orders table and sends to the push queue.
		d.useDataKey(d.ShopifyWebhookFunction, viaSQS, viaDynamoDB)
		d.useDataKey(d.ShopifyOrdersFunction, viaSQS, viaDynamoDB)
	}
	d.Dashboard = newDashboard(c, "Dashboard", d)
	suppressFindings(d)
	dependOnDefaultPolicyOnly(d.SenderFunction, d.SenderFunction.Role())
	dependOnDefaultPolicyOnly(d.StateMachine, d.StateMachine.Role())
	return d
}

// GrantSchedule lets grantee schedule pushes through the client (or StartExecution) on either
// engine and send them now: start and describe executions; put pushes on the push queue;
// create, read and delete the economy group's schedules and pass them the economy role (to
// EventBridge Scheduler only); write the schedules index; and read a recipient's preferences
// (a push for a local time is resolved in their zone). Under a customer managed data
// key, it may use it through Step Functions (this state machine's executions), EventBridge
// Scheduler (the economy group's schedules), SQS and DynamoDB.
func (d *DelayedPush) GrantSchedule(grantee awsiam.IGrantable) awsiam.Grant {
	return d.StateMachine.GrantStartExecution(grantee).
		Combine(d.grantEconomy(grantee)).
		Combine(d.StateMachine.GrantExecution(grantee, jsii.String("states:DescribeExecution"))).
		Combine(grantSend(grantee, d.PushQueue)).
		Combine(d.SchedulesTable.Grant(grantee, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"),
			jsii.String("dynamodb:DeleteItem"))).
		Combine(d.PreferencesTable.Grant(grantee, jsii.String("dynamodb:GetItem"))).
		Combine(grantKeyUses(grantee, d.dataKeyForExecutions())).
		Combine(d.useDataKey(grantee, viaSQS, viaDynamoDB))
}

// GrantSendNow lets grantee put pushes on the push queue, to be sent now (without the
// client's index: for producers that write to the queue themselves): sqs:SendMessage, and the
// data key through SQS when there is one.
func (d *DelayedPush) GrantSendNow(grantee awsiam.IGrantable) awsiam.Grant {
	return grantSend(grantee, d.PushQueue).Combine(d.useDataKey(grantee, viaSQS))
}

// GrantManage lets grantee do everything the client does: schedule (GrantSchedule), and
// inspect, reschedule, cancel and list pushes (stop executions, update and query the
// schedules index).
func (d *DelayedPush) GrantManage(grantee awsiam.IGrantable) awsiam.Grant {
	return d.GrantSchedule(grantee).
		Combine(d.StateMachine.GrantExecution(grantee, jsii.String("states:StopExecution"))).
		Combine(d.SchedulesTable.Grant(grantee, jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"),
			jsii.String("dynamodb:Scan")))
}

// GrantManageDevices lets grantee register, list and unregister devices (the client's device
// calls, devices.Registry on awsadapters.DeviceStore): create, read, update and delete the
// platform application's endpoints; read and put owner rows (a removed device's row stays, as
// a tombstone); query, put and delete device rows (only the device events path and the sender
// update them); read and update recipients' preferences (awsadapters.Preferences: the client's
// preference calls, and the zone a device reports, written only where the user set none, both
// UpdateItem); under a customer managed data key, use it through DynamoDB.
func (d *DelayedPush) GrantManageDevices(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("sns:CreatePlatformEndpoint"),
		ResourceArns: &[]*string{d.PlatformApplicationArn},
	}).Combine(awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"),
		ResourceArns: jsii.Strings(endpointArnPattern(*d.PlatformApplicationArn)),
	})).Combine(d.DeviceOwnersTable.Grant(grantee, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"))).
		Combine(d.DevicesTable.Grant(grantee, jsii.String("dynamodb:Query"), jsii.String("dynamodb:PutItem"),
			jsii.String("dynamodb:DeleteItem"))).
		Combine(d.PreferencesTable.Grant(grantee, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"))).
		Combine(d.useDataKey(grantee, viaDynamoDB))
}

// wholeNumber is an optional numeric prop that must be a whole number within its setting's
// limits; when set, it is copied to dst.
type wholeNumber struct {
	v   *float64
	dst *float64
	set *cfg.Setting
}

// wholeNumbers checks and copies each set prop in turn; it returns the first bad prop (its
// name within its props) and why.
func wholeNumbers(ns []wholeNumber) (prop, reason string) {
	for _, n := range ns {
		if n.v == nil {
			continue
		}
		if *n.v != math.Trunc(*n.v) || !n.set.InRange(int(*n.v)) {
			_, name, _ := strings.Cut(n.set.Prop, ".")
			return name, fmt.Sprintf("must be a whole number %s, got %v", n.set.Limits(""), *n.v)
		}
		*n.dst = *n.v
	}
	return "", ""
}
