// Command sender is the Lambda that drains the push queue: for each push it resolves the
// recipient's endpoints, publishes through SNS mobile push (FCM HTTP v1) and keeps the
// delivery log. Built with -tags lambda.norpc for the provided.al2023 runtime.
//
// Environment (docs/CONTRACTS.md): DEVICES_TABLE and DELIVERIES_TABLE (required),
// DELIVERY_RETENTION_DAYS (default 30). AWS_ENDPOINT_URL, when set, points every SDK client
// at a local emulator: config.LoadDefaultConfig reads it into aws.Config.BaseEndpoint.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/delivery"
)

// settings is the function's environment, validated.
type settings struct {
	DevicesTable    string
	DeliveriesTable string
	RetentionDays   int
}

// loadSettings reads the environment through getenv (os.Getenv in production) so the rules
// are testable.
func loadSettings(getenv func(string) string) (settings, error) {
	st := settings{
		DevicesTable:    getenv("DEVICES_TABLE"),
		DeliveriesTable: getenv("DELIVERIES_TABLE"),
		RetentionDays:   30,
	}
	if st.DevicesTable == "" {
		return st, fmt.Errorf("environment variable DEVICES_TABLE is required (the device registry table name)")
	}
	if st.DeliveriesTable == "" {
		return st, fmt.Errorf("environment variable DELIVERIES_TABLE is required (the delivery log table name)")
	}
	if v := getenv("DELIVERY_RETENTION_DAYS"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 1 || d > 3650 {
			return st, fmt.Errorf("environment variable DELIVERY_RETENTION_DAYS must be a whole number of days from 1 to 3650, got %q", v)
		}
		st.RetentionDays = d
	}
	return st, nil
}

func main() {
	// Lambda's JSON log format passes JSON lines through as structured records.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)

	st, err := loadSettings(os.Getenv)
	if err != nil {
		logger.Error("sender misconfigured", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
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
		Publisher: &awsadapters.Publisher{Client: sns.NewFromConfig(cfg)},
		Logger:    logger,
	}
	lambda.Start(svc.Handle)
}
