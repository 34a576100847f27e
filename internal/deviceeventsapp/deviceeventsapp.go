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
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/lambdaenv"
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

// Main serves invocations.
func Main() {
	lambdaenv.Main("device events function", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		store, err := loadStore(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		store.Client = dynamodb.NewFromConfig(cfg)
		return Handler(&devices.Registry{Store: store}, logger, &metrics.Emitter{W: os.Stdout, Function: "deviceevents"}), nil
	})
}

// loadStore reads the registry's tables from the environment.
func loadStore(getenv func(string) string) (*awsadapters.DeviceStore, error) {
	env := lambdaenv.New(getenv)
	store := &awsadapters.DeviceStore{DevicesTable: env.String(EnvDevicesTable), OwnersTable: env.String(EnvDeviceOwnersTable)}
	return store, env.Err()
}
