// Package senderapp wires the sender Lambda: its environment, its AWS clients and the
// delivery service. lambdas/sender's main calls Main. The construct (stacks) sets the
// environment by the names defined here, so the two cannot drift apart; importing this package
// also puts the Lambda's dependencies in the module graph of any app that uses the construct,
// which builds the Lambda from its import path.
//
// Environment (docs/CONTRACTS.md, "Sender Lambda environment"), all required, as the construct
// sets every one: DEVICES_TABLE, DELIVERIES_TABLE, SCHEDULES_TABLE, PUSH_QUEUE_URL,
// DEAD_LETTER_QUEUE_URL, MAX_RECEIVE_COUNT, SCHEDULER_ROLE_ID, DELIVERY_GUARANTEE,
// DELIVERY_RETENTION_DAYS, MAX_LATENESS_SECONDS, PREFERENCES_TABLE, CAPS_TABLE,
// DEFAULT_TIME_ZONE (an IANA zone) and CAPS (the frequency caps, internal/caps' form; "" is
// none).
// AWS_ENDPOINT_URL, when set, points every SDK client at a local emulator.
package senderapp

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/caps"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/lambdaenv"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// The sender's environment variables.
const (
	EnvDevicesTable          = "DEVICES_TABLE"
	EnvDeliveriesTable       = "DELIVERIES_TABLE"
	EnvPushQueueURL          = "PUSH_QUEUE_URL"
	EnvDeadLetterQueueURL    = "DEAD_LETTER_QUEUE_URL"
	EnvMaxReceiveCount       = "MAX_RECEIVE_COUNT"
	EnvSchedulerRoleID       = "SCHEDULER_ROLE_ID"
	EnvDeliveryGuarantee     = "DELIVERY_GUARANTEE"
	EnvDeliveryRetentionDays = "DELIVERY_RETENTION_DAYS"
	EnvSchedulesTable        = "SCHEDULES_TABLE"
	EnvMaxLatenessSeconds    = "MAX_LATENESS_SECONDS"
	EnvPreferencesTable      = "PREFERENCES_TABLE"
	EnvCapsTable             = "CAPS_TABLE"
	EnvCaps                  = "CAPS"
	EnvDefaultTimeZone       = "DEFAULT_TIME_ZONE"
)

// settings is the function's environment, validated.
type settings struct {
	DevicesTable    string
	DeliveriesTable string
	PushQueueURL    string
	DeadLetterURL   string
	MaxReceiveCount int
	SchedulerRoleID string
	Guarantee       string
	RetentionDays   int
	SchedulesTable  string
	MaxLateness     int // seconds; 0: no limit
	PrefsTable      string
	CapsTable       string
	Caps            caps.Config
	DefaultTimeZone string
}

// loadSettings reads the environment through getenv (os.Getenv in production) so the rules
// are testable.
func loadSettings(getenv func(string) string) (settings, error) {
	env := lambdaenv.New(getenv)
	st := settings{
		DevicesTable:    env.String(EnvDevicesTable),
		DeliveriesTable: env.String(EnvDeliveriesTable),
		PushQueueURL:    env.String(EnvPushQueueURL),
		DeadLetterURL:   env.String(EnvDeadLetterQueueURL),
		MaxReceiveCount: env.Int(EnvMaxReceiveCount, 1),
		SchedulerRoleID: env.String(EnvSchedulerRoleID),
		Guarantee:       env.String(EnvDeliveryGuarantee),
		RetentionDays:   env.Int(EnvDeliveryRetentionDays, 1),
		SchedulesTable:  env.String(EnvSchedulesTable),
		MaxLateness:     env.Int(EnvMaxLatenessSeconds, 0),
		PrefsTable:      env.String(EnvPreferencesTable),
		CapsTable:       env.String(EnvCapsTable),
		DefaultTimeZone: env.String(EnvDefaultTimeZone),
	}
	var err error
	st.Caps, err = caps.ParseConfig(env.Optional(EnvCaps))
	env.Check(EnvCaps, err)
	if st.DefaultTimeZone != "" {
		_, err = recipient.Zone(st.DefaultTimeZone)
		env.Check(EnvDefaultTimeZone, err)
	}
	if st.Guarantee != "" && st.Guarantee != push.DeliveryAtLeastOnce && st.Guarantee != push.DeliveryAtMostOnce {
		env.Check(EnvDeliveryGuarantee, fmt.Errorf("must be %q or %q, got %q", push.DeliveryAtLeastOnce, push.DeliveryAtMostOnce, st.Guarantee))
	}
	return st, env.Err()
}

// lambdaConfig is the AWS configuration of a function on Lambda, read from the environment
// Lambda sets: AWS_REGION, the function role's credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and, for local runs, AWS_ENDPOINT_URL. It is what
// config.LoadDefaultConfig resolves there, without linking the config package: its credential
// chain (SSO, STS web identity, sign-in, IMDS, the shared files Lambda does not have) brings
// in four more SDK clients whose package init ran on every cold start for nothing
// (BENCHMARKS.md, "Cold start"). Not honoured here, as Lambda sets none of them and neither
// does the construct: AWS_ENDPOINT_URL_<SERVICE>, AWS_ACCOUNT_ID, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE and shared
// configuration files.
func lambdaConfig(getenv func(string) string) (aws.Config, error) {
	region, key, secret := getenv("AWS_REGION"), getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, errors.New("AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set, as Lambda sets them")
	}
	provider := credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN"))
	provider.Value.Source = "EnvConfigCredentials" // as the config package names it
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(provider),
		// One HTTP client, so one connection pool, for every service client.
		HTTPClient: awshttp.NewBuildableClient(),
		// The rest as config.LoadDefaultConfig sets it when nothing says otherwise.
		DefaultsMode:               aws.DefaultsModeLegacy,
		Logger:                     logging.NewStandardLogger(os.Stderr),
		AccountIDEndpointMode:      aws.AccountIDEndpointModePreferred,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// Main runs the sender: it reads the environment once, builds the configuration and the clients
// once and serves invocations with them.
func Main() {
	lambdaenv.Main("sender", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		st, err := loadSettings(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := lambdaConfig(getenv)
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		return newService(st, cfg, logger).Handle, nil
	})
}

// newService is the delivery service on AWS.
func newService(st settings, cfg aws.Config, logger *slog.Logger) *delivery.Service {
	ddb := dynamodb.NewFromConfig(cfg)
	return &delivery.Service{
		Registry: &awsadapters.Registry{Client: ddb, Table: st.DevicesTable},
		Log: &awsadapters.DeliveryLog{
			Client:    ddb,
			Table:     st.DeliveriesTable,
			Retention: time.Duration(st.RetentionDays) * 24 * time.Hour,
		},
		Publisher: &awsadapters.Publisher{Client: sns.NewFromConfig(cfg, func(o *sns.Options) {
			o.Retryer = awsadapters.PublishRetryer()
		})},
		Queue: &awsadapters.Queues{
			Client:          sqs.NewFromConfig(cfg),
			PushQueueURL:    st.PushQueueURL,
			DeadLetterQueue: st.DeadLetterURL,
		},
		Index:             &awsadapters.Schedules{Client: ddb, Table: st.SchedulesTable},
		Preferences:       &awsadapters.Preferences{Client: ddb, Table: st.PrefsTable},
		DefaultTimeZone:   st.DefaultTimeZone,
		Caps:              &awsadapters.CapStore{Client: ddb, Table: st.CapsTable, Config: st.Caps},
		Logger:            logger,
		Metrics:           &metrics.Emitter{W: os.Stdout, Function: "sender"},
		Guarantee:         st.Guarantee,
		MaxReceiveCount:   st.MaxReceiveCount,
		SchedulerSenderID: st.SchedulerRoleID,
		MaxLateness:       time.Duration(st.MaxLateness) * time.Second,
	}
}
