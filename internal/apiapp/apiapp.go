// Package apiapp wires the HTTP API Lambda: its environment, the Go client and the handler.
// lambdas/api's main calls Main; the construct (stacks) sets the environment by the names
// defined here.
//
// Environment: STATE_MACHINE_ARN, PUSH_QUEUE_URL, SCHEDULES_TABLE, PLATFORM_APPLICATION_ARN,
// DEVICES_TABLE, DEVICE_OWNERS_TABLE, DEFAULT_DELAY_SECONDS and MAX_BODY_BYTES (required); the
// economy engine's ENGINE, SCHEDULE_GROUP_NAME, SCHEDULER_ROLE_ARN, SCHEDULER_DLQ_ARN,
// PUSH_QUEUE_ARN and ECONOMY_SCHEDULE_AFTER_SECONDS (required); the recipients' PREFERENCES_TABLE
// and DEFAULT_TIME_ZONE (required, an IANA zone); SCHEDULER_KMS_KEY_ARN
// (always set, empty without a customer managed key); JWT_USER_CLAIM and BACKEND_SCOPE, which
// the construct sets with a JWT authorizer only (unset, the handler's defaults apply: they
// concern only callers that authorizer let through).
// AWS_ENDPOINT_URL, when set, points the SDK at a local emulator.
package apiapp

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/internal/lambdaenv"
	"github.com/delayed-push/delayed-push/recipient"
)

// The API function's environment variables.
const (
	EnvStateMachineArn     = "STATE_MACHINE_ARN"
	EnvPushQueueURL        = "PUSH_QUEUE_URL"
	EnvSchedulesTable      = "SCHEDULES_TABLE"
	EnvDefaultDelaySeconds = "DEFAULT_DELAY_SECONDS"
	EnvMaxBodyBytes        = "MAX_BODY_BYTES"
	EnvPlatformAppArn      = "PLATFORM_APPLICATION_ARN"
	EnvDevicesTable        = "DEVICES_TABLE"
	EnvDeviceOwnersTable   = "DEVICE_OWNERS_TABLE"
	EnvJwtUserClaim        = "JWT_USER_CLAIM"
	EnvBackendScope        = "BACKEND_SCOPE"

	EnvEngine                      = "ENGINE"
	EnvScheduleGroupName           = "SCHEDULE_GROUP_NAME"
	EnvSchedulerRoleArn            = "SCHEDULER_ROLE_ARN"
	EnvSchedulerDLQArn             = "SCHEDULER_DLQ_ARN"
	EnvPushQueueArn                = "PUSH_QUEUE_ARN"
	EnvEconomyScheduleAfterSeconds = "ECONOMY_SCHEDULE_AFTER_SECONDS"
	EnvSchedulerKmsKeyArn          = "SCHEDULER_KMS_KEY_ARN"

	EnvPreferencesTable = "PREFERENCES_TABLE"
	EnvDefaultTimeZone  = "DEFAULT_TIME_ZONE"
)

type settings struct {
	Resources    client.Resources
	DefaultDelay time.Duration
	MaxBodyBytes int
	UserClaim    string // "": the handler's default
	BackendScope string // "": the handler's default
}

func loadSettings(getenv func(string) string) (settings, error) {
	env := lambdaenv.New(getenv)
	st := settings{
		Resources: client.Resources{StateMachineArn: env.String(EnvStateMachineArn), PushQueueURL: env.String(EnvPushQueueURL),
			SchedulesTable: env.String(EnvSchedulesTable), PlatformApplicationArn: env.String(EnvPlatformAppArn),
			DevicesTable: env.String(EnvDevicesTable), DeviceOwnersTable: env.String(EnvDeviceOwnersTable),
			Engine: env.String(EnvEngine), ScheduleGroupName: env.String(EnvScheduleGroupName), SchedulerRoleArn: env.String(EnvSchedulerRoleArn),
			SchedulerDeadLetterQueueArn: env.String(EnvSchedulerDLQArn), PushQueueArn: env.String(EnvPushQueueArn),
			EconomyScheduleAfter: time.Duration(env.Int(EnvEconomyScheduleAfterSeconds, int(client.MinEconomyScheduleAfter/time.Second))) * time.Second,
			SchedulerKmsKeyArn:   getenv(EnvSchedulerKmsKeyArn), // empty without a customer managed key
			PreferencesTable:     env.String(EnvPreferencesTable), DefaultTimeZone: env.String(EnvDefaultTimeZone)},
		DefaultDelay: time.Duration(env.Int(EnvDefaultDelaySeconds, 0)) * time.Second,
		MaxBodyBytes: env.Int(EnvMaxBodyBytes, 1),
		UserClaim:    getenv(EnvJwtUserClaim),
		BackendScope: getenv(EnvBackendScope),
	}
	if z := st.Resources.DefaultTimeZone; z != "" {
		_, err := recipient.Zone(z)
		env.Check(EnvDefaultTimeZone, err)
	}
	if st.Resources.Engine != "" {
		env.Check(EnvEngine, client.ValidateEngine(st.Resources.Engine))
	}
	if a := st.Resources.EconomyScheduleAfter; a > client.MaxEconomyScheduleAfter {
		env.Check(EnvEconomyScheduleAfterSeconds, fmt.Errorf("must be at most %d, got %d", client.MaxEconomyScheduleAfter/time.Second, a/time.Second))
	}
	if st.UserClaim != "" {
		env.Check(EnvJwtUserClaim, httpapi.ValidateUserClaim(st.UserClaim))
	}
	if st.BackendScope != "" {
		env.Check(EnvBackendScope, httpapi.ValidateScope(st.BackendScope))
	}
	return st, env.Err()
}

// Main serves the API's invocations.
func Main() {
	lambdaenv.Main("api", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		st, err := loadSettings(getenv)
		if err != nil {
			return nil, err
		}
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		c := client.New(cfg, st.Resources) // its EventBridge Scheduler client too, for the economy engine
		r := st.Resources
		h := &httpapi.Handler{Pushes: c, Devices: c, Preferences: c, DefaultDelay: st.DefaultDelay, MaxBodyBytes: st.MaxBodyBytes, Logger: logger,
			UserClaim: st.UserClaim, BackendScope: st.BackendScope,
			Owners: newOwners(dynamodb.NewFromConfig(cfg), r.DevicesTable, r.DeviceOwnersTable, r.SchedulesTable)}
		return h.HandleJSON, nil
	})
}
