// Package shopifyapp wires the Shopify order path's two Lambdas (internal/orders): the webhook
// receiver and the orders consumer. The construct (stacks) sets their environment by the
// names defined here.
//
// Receiver: SHOPIFY_SECRET_ARN and ORDERS_QUEUE_URL (required), MAX_BODY_BYTES (optional).
// Consumer: ORDERS_TABLE, PUSH_QUEUE_URL and ORDERS_DEAD_LETTER_QUEUE_URL (required),
// SHOP_OWNERS (a JSON object: shop domain → owner's user id).
package shopifyapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"

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
)

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
	if err := required(os.Getenv, EnvSecretArn, EnvOrdersQueueURL); err != nil {
		die(err)
	}
	limit := orders.DefaultMaxBodyBytes
	if v := os.Getenv(EnvMaxBodyBytes); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > orders.DefaultMaxBodyBytes {
			die(fmt.Errorf("environment variable %s must be a whole number from 1024 to %d, got %q", EnvMaxBodyBytes, orders.DefaultMaxBodyBytes, v))
		}
		limit = n
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		die(err)
	}
	r := &orders.Receiver{
		Secrets:      &orders.CachedSecrets{Fetch: awsadapters.SecretFetcher(secretsmanager.NewFromConfig(cfg), os.Getenv(EnvSecretArn))},
		Queue:        &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), OrdersQueueURL: os.Getenv(EnvOrdersQueueURL)},
		MaxBodyBytes: limit,
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
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		die(err)
	}
	q := &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), PushQueueURL: os.Getenv(EnvPushQueueURL), DeadLetterQueue: os.Getenv(EnvDeadLetterQueueURL)}
	c := &orders.Consumer{
		Store:   &awsadapters.Orders{Client: dynamodb.NewFromConfig(cfg), Table: os.Getenv(EnvOrdersTable)},
		Pushes:  awsadapters.PushSender{Queues: q},
		Parker:  awsadapters.OrderParker{Queues: q},
		Owners:  owners,
		Logger:  logger,
		Metrics: &metrics.Emitter{W: os.Stdout, Function: "shopifyorders"},
	}
	lambda.Start(c.Handle)
}
