// Package senderapp wires the sender Lambda: its environment, its AWS clients and the
// delivery service. lambdas/sender's main calls Main. The construct (stacks) sets the
// environment by the names defined here, so the two cannot drift apart; importing this package
// also puts the Lambda's dependencies in the module graph of any app that uses the construct,
// which builds the Lambda from its import path.
//
// Environment (docs/CONTRACTS.md, "Sender Lambda environment"): DEVICES_TABLE,
// DELIVERIES_TABLE, PUSH_QUEUE_URL and DEAD_LETTER_QUEUE_URL (required); MAX_RECEIVE_COUNT,
// SCHEDULER_ROLE_ID, DELIVERY_GUARANTEE, DELIVERY_RETENTION_DAYS, SCHEDULES_TABLE and
// MAX_LATENESS_SECONDS (optional).
// AWS_ENDPOINT_URL, when set, points every SDK client at a local emulator.
package senderapp

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/push"
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
}

// loadSettings reads the environment through getenv (os.Getenv in production) so the rules
// are testable.
func loadSettings(getenv func(string) string) (settings, error) {
	st := settings{
		DevicesTable:    getenv(EnvDevicesTable),
		DeliveriesTable: getenv(EnvDeliveriesTable),
		PushQueueURL:    getenv(EnvPushQueueURL),
		DeadLetterURL:   getenv(EnvDeadLetterQueueURL),
		SchedulerRoleID: getenv(EnvSchedulerRoleID),
		SchedulesTable:  getenv(EnvSchedulesTable),
		Guarantee:       push.DeliveryAtLeastOnce,
		RetentionDays:   30,
	}
	for name, v := range map[string]string{
		EnvDevicesTable:       st.DevicesTable,
		EnvDeliveriesTable:    st.DeliveriesTable,
		EnvPushQueueURL:       st.PushQueueURL,
		EnvDeadLetterQueueURL: st.DeadLetterURL,
	} {
		if v == "" {
			return st, fmt.Errorf("environment variable %s is required", name)
		}
	}
	intVar := func(name string, lo, hi int, dst *int) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("environment variable %s must be a whole number from %d to %d, got %q", name, lo, hi, v)
		}
		*dst = n
		return nil
	}
	if err := intVar(EnvDeliveryRetentionDays, 1, 3650, &st.RetentionDays); err != nil {
		return st, err
	}
	if err := intVar(EnvMaxReceiveCount, 1, 1000, &st.MaxReceiveCount); err != nil {
		return st, err
	}
	if err := intVar(EnvMaxLatenessSeconds, 0, push.MaxLatenessSeconds, &st.MaxLateness); err != nil {
		return st, err
	}
	if v := getenv(EnvDeliveryGuarantee); v != "" {
		if v != push.DeliveryAtLeastOnce && v != push.DeliveryAtMostOnce {
			return st, fmt.Errorf("environment variable %s must be %q or %q, got %q", EnvDeliveryGuarantee, push.DeliveryAtLeastOnce, push.DeliveryAtMostOnce, v)
		}
		st.Guarantee = v
	}
	return st, nil
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
// once and serves invocations with them. A misconfigured function exits at once with the
// reason logged.
func Main() {
	// Lambda's JSON log format passes JSON lines through as structured records.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)

	st, err := loadSettings(os.Getenv)
	if err != nil {
		logger.Error("sender misconfigured", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := lambdaConfig(os.Getenv)
	if err != nil {
		logger.Error("loading AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	svc := &delivery.Service{
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
		Logger:            logger,
		Metrics:           &metrics.Emitter{W: os.Stdout, Function: "sender"},
		Guarantee:         st.Guarantee,
		MaxReceiveCount:   st.MaxReceiveCount,
		SchedulerSenderID: st.SchedulerRoleID,
		MaxLateness:       time.Duration(st.MaxLateness) * time.Second,
	}
	if st.SchedulesTable != "" {
		svc.Index = &awsadapters.Schedules{Client: ddb, Table: st.SchedulesTable}
	}
	lambda.Start(svc.Handle)
}
