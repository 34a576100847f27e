// Package shopifyapp wires the Shopify order path's two Lambdas (internal/orders): the webhook
// receiver and the orders consumer. The construct (stacks) sets their environment by the
// names defined here, and every variable below is required, as it sets each one.
//
// Receiver: SHOPIFY_SECRET_ARN, ORDERS_QUEUE_URL, WEBHOOKS_TABLE, MAX_BODY_BYTES and
// WEBHOOK_MAX_AGE_SECONDS.
// Consumer: ORDERS_TABLE, PUSH_QUEUE_URL, ORDERS_DEAD_LETTER_QUEUE_URL, SHOP_OWNERS (a JSON
// object: shop domain → owner's user id) and ORDER_RETENTION_DAYS.
package shopifyapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/lambdaenv"
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

// receiverSettings is the webhook receiver's environment.
type receiverSettings struct {
	SecretArn      string
	OrdersQueueURL string
	WebhooksTable  string
	MaxBodyBytes   int
	MaxAge         time.Duration // how old a webhook may be
}

func loadReceiverSettings(getenv func(string) string) (receiverSettings, error) {
	env := lambdaenv.New(getenv)
	st := receiverSettings{
		SecretArn:      env.String(EnvSecretArn),
		OrdersQueueURL: env.String(EnvOrdersQueueURL),
		WebhooksTable:  env.String(EnvWebhooksTable),
		MaxBodyBytes:   env.Int(EnvMaxBodyBytes, 1),
		MaxAge:         time.Duration(env.Int(EnvWebhookMaxAge, 1)) * time.Second,
	}
	return st, env.Err()
}

// consumerSettings is the orders consumer's environment.
type consumerSettings struct {
	OrdersTable   string
	PushQueueURL  string
	DeadLetterURL string
	Owners        map[string]string // shop domain → the user id pushed for its orders
	Retention     time.Duration     // of an order row
}

func loadConsumerSettings(getenv func(string) string) (consumerSettings, error) {
	env := lambdaenv.New(getenv)
	st := consumerSettings{
		OrdersTable:   env.String(EnvOrdersTable),
		PushQueueURL:  env.String(EnvPushQueueURL),
		DeadLetterURL: env.String(EnvDeadLetterQueueURL),
		Retention:     time.Duration(env.Int(EnvOrderRetentionDays, 1)) * 24 * time.Hour,
	}
	if raw := env.String(EnvShopOwners); raw != "" {
		var err error
		st.Owners, err = parseOwners(raw)
		env.Check(EnvShopOwners, err)
	}
	return st, env.Err()
}

// parseOwners reads SHOP_OWNERS: a JSON object of shop domains (NAME.myshopify.com) to user ids.
func parseOwners(raw string) (map[string]string, error) {
	owners := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &owners); err != nil {
		return nil, fmt.Errorf("must be a JSON object of shop domains to user ids: %v", err)
	}
	for shop, user := range owners {
		if !shopify.ValidShopDomain(shop) || user == "" {
			return nil, fmt.Errorf("%q -> %q: want NAME.myshopify.com -> a user id", shop, user)
		}
	}
	return owners, nil
}

// ReceiverMain serves the webhook receiver.
func ReceiverMain() {
	lambdaenv.Main("shopify webhook receiver", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		st, err := loadReceiverSettings(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		r := &orders.Receiver{
			Secrets:      &orders.CachedSecrets{Fetch: awsadapters.SecretFetcher(secretsmanager.NewFromConfig(cfg), st.SecretArn)},
			Queue:        &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), OrdersQueueURL: st.OrdersQueueURL},
			Seen:         &awsadapters.Webhooks{Client: dynamodb.NewFromConfig(cfg), Table: st.WebhooksTable},
			MaxBodyBytes: st.MaxBodyBytes,
			MaxAge:       st.MaxAge,
			Logger:       logger,
		}
		return r.Handle, nil
	})
}

// ConsumerMain serves the orders consumer.
func ConsumerMain() {
	lambdaenv.Main("shopify orders consumer", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		st, err := loadConsumerSettings(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		q := &awsadapters.OrderQueues{Client: sqs.NewFromConfig(cfg), PushQueueURL: st.PushQueueURL, DeadLetterQueue: st.DeadLetterURL}
		c := &orders.Consumer{
			Store:   &awsadapters.Orders{Client: dynamodb.NewFromConfig(cfg), Table: st.OrdersTable, Retention: st.Retention},
			Pushes:  awsadapters.PushSender{Queues: q},
			Parker:  awsadapters.OrderParker{Queues: q},
			Owners:  st.Owners,
			Logger:  logger,
			Metrics: &metrics.Emitter{W: os.Stdout, Function: "shopifyorders"},
		}
		return c.Handle, nil
	})
}
