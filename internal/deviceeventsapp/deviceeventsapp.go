// Package deviceeventsapp wires the device events Lambda: the SNS application events of the
// platform application arrive through the device events topic and queue, and each one that
// says an endpoint is dead marks its device disabled (devices.Registry.Handle).
//
// Environment: DEVICES_TABLE and DEVICE_OWNERS_TABLE (required).
package deviceeventsapp

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/metrics"
)

// The function's environment variables.
const (
	EnvDevicesTable      = "DEVICES_TABLE"
	EnvDeviceOwnersTable = "DEVICE_OWNERS_TABLE"
)

// EventHandler is the part of devices.Registry the handler uses.
type EventHandler interface {
	Handle(ctx context.Context, e devices.Event) (string, error)
}

// Handler applies a batch of events. A message that is not an SNS application event is
// reported as a batch item failure (after the queue's retries it waits in the dead-letter
// queue); so is an event the registry could not apply now. One log line per message.
func Handler(reg EventHandler, logger *slog.Logger, m *metrics.Emitter) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		disabled := 0.0
		defer func() {
			_ = m.Emit(map[string]float64{metrics.EndpointsDisabled: disabled, metrics.TransientFailures: float64(len(resp.BatchItemFailures))}, nil)
		}()
		for _, m := range ev.Records {
			e, err := devices.ParseEvent(m.Body)
			if err != nil {
				logger.WarnContext(ctx, "not an SNS application event", "messageId", m.MessageId, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			did, err := reg.Handle(ctx, e)
			if err != nil {
				logger.WarnContext(ctx, "device event not applied, will retry", "messageId", m.MessageId,
					"eventType", e.EventType, "endpointArn", e.EndpointArn, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			if did == "disabled" {
				disabled++
			}
			logger.InfoContext(ctx, "device event", "messageId", m.MessageId, "eventType", e.EventType,
				"endpointArn", e.EndpointArn, "action", did, "failureType", e.FailureType)
		}
		return resp, nil
	}
}

// Main serves invocations; a misconfigured function exits at once with the reason logged.
func Main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	devicesTable, owners := os.Getenv(EnvDevicesTable), os.Getenv(EnvDeviceOwnersTable)
	if devicesTable == "" || owners == "" {
		logger.Error("device events function misconfigured", "error",
			fmt.Sprintf("environment variables %s and %s are required", EnvDevicesTable, EnvDeviceOwnersTable))
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	reg := &devices.Registry{Store: &awsadapters.DeviceStore{Client: dynamodb.NewFromConfig(cfg), DevicesTable: devicesTable, OwnersTable: owners}}
	lambda.Start(Handler(reg, logger, &metrics.Emitter{W: os.Stdout, Function: "deviceevents"}))
}
