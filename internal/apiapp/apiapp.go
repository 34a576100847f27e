// Package apiapp wires the HTTP API Lambda: its environment, the Go client and the handler.
// lambdas/api's main calls Main; the construct (stacks) sets the environment by the names
// defined here.
//
// Environment: STATE_MACHINE_ARN, PUSH_QUEUE_URL, SCHEDULES_TABLE, PLATFORM_APPLICATION_ARN,
// DEVICES_TABLE and DEVICE_OWNERS_TABLE (required);
// DEFAULT_DELAY_SECONDS, MAX_BODY_BYTES, JWT_USER_CLAIM and BACKEND_SCOPE (optional; the last
// two apply to callers the JWT authorizer let through). AWS_ENDPOINT_URL, when set, points the
// SDK at a local emulator.
package apiapp

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

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/httpapi"
	"github.com/delayed-push/delayed-push/schedule"
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
)

type settings struct {
	Resources    client.Resources
	DefaultDelay time.Duration
	MaxBodyBytes int
	UserClaim    string
	BackendScope string
}

func loadSettings(getenv func(string) string) (settings, error) {
	st := settings{
		Resources: client.Resources{StateMachineArn: getenv(EnvStateMachineArn), PushQueueURL: getenv(EnvPushQueueURL),
			SchedulesTable: getenv(EnvSchedulesTable), PlatformApplicationArn: getenv(EnvPlatformAppArn),
			DevicesTable: getenv(EnvDevicesTable), DeviceOwnersTable: getenv(EnvDeviceOwnersTable)},
		DefaultDelay: httpapi.DefaultDelay, MaxBodyBytes: httpapi.DefaultMaxBodyBytes,
		UserClaim: httpapi.DefaultUserClaim, BackendScope: httpapi.DefaultBackendScope,
	}
	for _, v := range []struct{ name, value string }{
		{EnvStateMachineArn, st.Resources.StateMachineArn}, {EnvPushQueueURL, st.Resources.PushQueueURL}, {EnvSchedulesTable, st.Resources.SchedulesTable},
		{EnvPlatformAppArn, st.Resources.PlatformApplicationArn}, {EnvDevicesTable, st.Resources.DevicesTable},
		{EnvDeviceOwnersTable, st.Resources.DeviceOwnersTable},
	} {
		if v.value == "" {
			return st, fmt.Errorf("environment variable %s is required", v.name)
		}
	}
	intVar := func(name string, lo, hi int, set func(int)) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("environment variable %s must be a whole number from %d to %d, got %q", name, lo, hi, v)
		}
		set(n)
		return nil
	}
	if err := intVar(EnvDefaultDelaySeconds, 0, schedule.MaxDelaySeconds, func(n int) { st.DefaultDelay = time.Duration(n) * time.Second }); err != nil {
		return st, err
	}
	if err := intVar(EnvMaxBodyBytes, 1024, 10<<20, func(n int) { st.MaxBodyBytes = n }); err != nil {
		return st, err
	}
	for _, v := range []struct {
		name     string
		dst      *string
		validate func(string) error
	}{
		{EnvJwtUserClaim, &st.UserClaim, httpapi.ValidateUserClaim},
		{EnvBackendScope, &st.BackendScope, httpapi.ValidateScope},
	} {
		if value := getenv(v.name); value != "" {
			if err := v.validate(value); err != nil {
				return st, fmt.Errorf("environment variable %s: %w", v.name, err)
			}
			*v.dst = value
		}
	}
	return st, nil
}

// Main serves the API's invocations. A misconfigured function exits at once with the reason
// logged.
func Main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	st, err := loadSettings(os.Getenv)
	if err != nil {
		logger.Error("api misconfigured", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("loading AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	c := client.New(cfg, st.Resources)
	r := st.Resources
	h := &httpapi.Handler{Pushes: c, Devices: c, DefaultDelay: st.DefaultDelay, MaxBodyBytes: st.MaxBodyBytes, Logger: logger,
		UserClaim: st.UserClaim, BackendScope: st.BackendScope,
		Owners: newOwners(dynamodb.NewFromConfig(cfg), r.DevicesTable, r.DeviceOwnersTable, r.SchedulesTable)}
	lambda.Start(h.HandleJSON)
}
