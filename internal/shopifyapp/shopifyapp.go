// Package shopifyapp wires the Shopify order path's two Lambdas (internal/orders): the webhook
// receiver and the orders consumer. The construct (stacks) sets their environment by the
// names defined here.
//
// Receiver: SHOPIFY_SECRET_ARN, ORDERS_QUEUE_URL and WEBHOOKS_TABLE (required),
// MAX_BODY_BYTES and WEBHOOK_MAX_AGE_SECONDS (optional).
// Consumer: ORDERS_TABLE, PUSH_QUEUE_URL and ORDERS_DEAD_LETTER_QUEUE_URL (required),
// SHOP_OWNERS (a JSON object: shop domain → owner's user id), ORDER_RETENTION_DAYS (optional).
package shopifyapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/metrics"
	"github.com/delayed-push/delayed-push/internal/orders"
	"github.com/delayed-push/delayed-push/shopify"
)

// Environment variables.
const (
	EnvSecretArn          = "SHOPIFY_SECRET_ARN"
	EnvOrdersQueueURL     = "ORDERS_QUEUE_URL"
	EnvMaxBodyBytes       = "MAX_BODY_BYTES"
	EnvOrdersTable        = "ORDERS_TABLE"
	EnvPushQueueURL       = "PUSH_QUEUE_URL"
	EnvDeadLetterQueueURL = "ORDERS_DEAD_LETTER_QUEUE_URL"
	EnvShopOwners         = "SHOP_OWNERS"
	EnvWebhooksTable      = "WEBHOOKS_TABLE"
	EnvWebhookMaxAge      = "WEBHOOK_MAX_AGE_SECONDS"
	EnvOrderRetentionDays = "ORDER_RETENTION_DAYS"
)

// MaxOrderRetentionDays is the longest order retention (the orders table's TTL).
const MaxOrderRetentionDays = 3650

// wholeInEnv reads an optional whole number from lo to hi, def when unset.
func wholeInEnv(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("environment variable %s must be a whole number from %d to %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// ReceiverSettings reads the receiver's optional settings: the largest body and the
// freshness window.
func ReceiverSettings(getenv func(string) string) (maxBodyBytes int, maxAge time.Duration, err error) {
	if maxBodyBytes, err = wholeInEnv(getenv, EnvMaxBodyBytes, orders.DefaultMaxBodyBytes, 1024, orders.DefaultMaxBodyBytes); err != nil {
		return 0, 0, err
	}
	secs, err := wholeInEnv(getenv, EnvWebhookMaxAge, int(orders.DefaultMaxAge/time.Second), int(orders.MinMaxAge/time.Second), int(orders.MaxMaxAge/time.Second))
	return maxBodyBytes, time.Duration(secs) * time.Second, err
}

// OrderRetention reads ORDER_RETENTION_DAYS (default 90).
func OrderRetention(getenv func(string) string) (time.Duration, error) {
	days, err := wholeInEnv(getenv, EnvOrderRetentionDays, int(awsadapters.DefaultOrderRetention/(24*time.Hour)), 1, MaxOrderRetentionDays)
	return time.Duration(days) * 24 * time.Hour, err
}

func required(getenv func(string) string, names ...string) error {
	for _, n := range names {
		if getenv(n) == "" {
			return fmt.Errorf("environment variable %s is required", n)
		}
	}
	return nil
}

// ParseOwners reads SHOP_OWNERS: a JSON object of shop domains (NAME.myshopify.com) to user ids.
func ParseOwners(raw string) (map[string]string, error) {
	owners := map[string]string{}
	if raw == "" {
		return owners, nil
	}
	if err := json.Unmarshal([]byte(raw), &owners); err != nil {
		return nil, fmt.Errorf("environment variable %s must be a JSON object of shop domains to user ids: %v", EnvShopOwners, err)
	}
	for shop, user := range owners {
		if !shopify.ValidShopDomain(shop) || user == "" {
			return nil, fmt.Errorf("environment variable %s: %q -> %q: want NAME.myshopify.com -> a user id", EnvShopOwners, shop, user)
		}
	}
	return owners, nil
}

func start(logger *slog.Logger, what string) (cfgErr func(error)) {
	return func(err error) {
		logger.Error(what+" misconfigured", "error", err.Error())
		os.Exit(1)
	}
}

// ReceiverMain serves the webhook receiver.
func ReceiverMain() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	die := start(logger, "shopify webhook receiver")
	if err := required(os.Getenv, EnvSecretArn, EnvOrdersQueueURL, EnvWebhooksTable); err != nil {
		die(err)
	}
	limit, maxAge, err := ReceiverSettings(os.Getenv)
	if err != nil {
		die(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		die(err)
	}
	r := &orders.Receiver{
		Secrets:      &orders.CachedSecrets{Fetch: awsadapters.SecretFetcher(secretsmanager.NewFromConfig(cfg), os.Getenv(EnvSecretArn))},
		Queue:        &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), OrdersQueueURL: os.Getenv(EnvOrdersQueueURL)},
		Seen:         &awsadapters.Webhooks{Client: dynamodb.NewFromConfig(cfg), Table: os.Getenv(EnvWebhooksTable)},
		MaxBodyBytes: limit,
		MaxAge:       maxAge,
		Logger:       logger,
	}
	lambda.Start(r.Handle)
}

// ConsumerMain serves the orders consumer.
func ConsumerMain() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	die := start(logger, "shopify orders consumer")
	if err := required(os.Getenv, EnvOrdersTable, EnvPushQueueURL, EnvDeadLetterQueueURL); err != nil {
		die(err)
	}
	owners, err := ParseOwners(os.Getenv(EnvShopOwners))
	if err != nil {
		die(err)
	}
	retention, err := OrderRetention(os.Getenv)
	if err != nil {
		die(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		die(err)
	}
	q := &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), PushQueueURL: os.Getenv(EnvPushQueueURL), DeadLetterQueue: os.Getenv(EnvDeadLetterQueueURL)}
	c := &orders.Consumer{
		Store:   &awsadapters.Orders{Client: dynamodb.NewFromConfig(cfg), Table: os.Getenv(EnvOrdersTable), Retention: retention},
		Pushes:  awsadapters.PushSender{Queues: q},
		Parker:  awsadapters.OrderParker{Queues: q},
		Owners:  owners,
		Logger:  logger,
		Metrics: &metrics.Emitter{W: os.Stdout, Function: "shopifyorders"},
	}
	lambda.Start(c.Handle)
}
