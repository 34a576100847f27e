package apiapp

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
)

// constructEnv is the environment the construct gives the function without a JWT authorizer.
var constructEnv = map[string]string{"STATE_MACHINE_ARN": "arn:sm", "PUSH_QUEUE_URL": "https://q", "SCHEDULES_TABLE": "s",
	"PLATFORM_APPLICATION_ARN": "arn:app", "DEVICES_TABLE": "d", "DEVICE_OWNERS_TABLE": "o",
	"DEFAULT_DELAY_SECONDS": "7200", "MAX_BODY_BYTES": "65536",
	"ENGINE": "economy", "SCHEDULE_GROUP_NAME": "g", "SCHEDULER_ROLE_ARN": "arn:role", "SCHEDULER_DLQ_ARN": "arn:dlq",
	"PUSH_QUEUE_ARN": "arn:q", "ECONOMY_SCHEDULE_AFTER_SECONDS": "900",
	"PREFERENCES_TABLE": "p", "DEFAULT_TIME_ZONE": "Europe/Berlin"}

func get(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func with(changes map[string]string) map[string]string {
	m := maps.Clone(constructEnv)
	maps.Copy(m, changes)
	return m
}

func TestLoadSettings(t *testing.T) {
	st, err := loadSettings(get(constructEnv))
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, st.DefaultDelay)
	assert.Equal(t, 65536, st.MaxBodyBytes)
	assert.Equal(t, "arn:sm", st.Resources.StateMachineArn)
	assert.Equal(t, "https://q", st.Resources.PushQueueURL)
	assert.Equal(t, "s", st.Resources.SchedulesTable)
	assert.Equal(t, "arn:app", st.Resources.PlatformApplicationArn)
	assert.Equal(t, "d", st.Resources.DevicesTable)
	assert.Equal(t, "o", st.Resources.DeviceOwnersTable)
	assert.Empty(t, st.UserClaim, "IAM mode: the handler's default")
	assert.Empty(t, st.BackendScope)
	assert.Equal(t, client.Resources{StateMachineArn: "arn:sm", PushQueueURL: "https://q", SchedulesTable: "s",
		PlatformApplicationArn: "arn:app", DevicesTable: "d", DeviceOwnersTable: "o",
		Engine: "economy", ScheduleGroupName: "g", SchedulerRoleArn: "arn:role", SchedulerDeadLetterQueueArn: "arn:dlq",
		PushQueueArn: "arn:q", EconomyScheduleAfter: 15 * time.Minute, PreferencesTable: "p", DefaultTimeZone: "Europe/Berlin"}, st.Resources, "SCHEDULER_KMS_KEY_ARN empty: no customer managed key")

	st, err = loadSettings(get(with(map[string]string{"SCHEDULER_KMS_KEY_ARN": "arn:key", "ECONOMY_SCHEDULE_AFTER_SECONDS": "180"})))
	require.NoError(t, err)
	assert.Equal(t, "arn:key", st.Resources.SchedulerKmsKeyArn)
	assert.Equal(t, 3*time.Minute, st.Resources.EconomyScheduleAfter)

	st, err = loadSettings(get(with(map[string]string{"DEFAULT_DELAY_SECONDS": "0", "MAX_BODY_BYTES": "4096",
		"JWT_USER_CLAIM": "email", "BACKEND_SCOPE": "push:admin"})))
	require.NoError(t, err)
	assert.Zero(t, st.DefaultDelay)
	assert.Equal(t, 4096, st.MaxBodyBytes)
	assert.Equal(t, "email", st.UserClaim)
	assert.Equal(t, "push:admin", st.BackendScope)
}

// Every variable the construct sets is required: the construct holds the defaults.
func TestAMissingVariableIsAnErrorNamingIt(t *testing.T) {
	for name := range constructEnv {
		env := maps.Clone(constructEnv)
		delete(env, name)
		_, err := loadSettings(get(env))
		assert.EqualError(t, err, "environment variable "+name+" is not set: the DelayedPush construct sets it")
	}
}

func TestUnusableValuesAreErrors(t *testing.T) {
	for want, env := range map[string]map[string]string{
		`DEFAULT_DELAY_SECONDS must be at least 0, got "-1"`:                        {"DEFAULT_DELAY_SECONDS": "-1"},
		`MAX_BODY_BYTES must be a whole number`:                                     {"MAX_BODY_BYTES": "big"},
		`MAX_BODY_BYTES must be at least 1, got "0"`:                                {"MAX_BODY_BYTES": "0"},
		`JWT_USER_CLAIM: "aud" does not name one user`:                              {"JWT_USER_CLAIM": "aud"},
		"BACKEND_SCOPE: \"two words\" must be an OAuth scope":                       {"BACKEND_SCOPE": "two words"},
		`ENGINE: invalid engine: must be "stepfunctions" or "economy", got "cheap"`: {"ENGINE": "cheap"},
		`ECONOMY_SCHEDULE_AFTER_SECONDS must be at least 180, got "60"`:             {"ECONOMY_SCHEDULE_AFTER_SECONDS": "60"},
		`ECONOMY_SCHEDULE_AFTER_SECONDS: must be at most 900, got 901`:              {"ECONOMY_SCHEDULE_AFTER_SECONDS": "901"},
		`DEFAULT_TIME_ZONE: invalid timeZone: unknown time zone "America/Gotham"`:   {"DEFAULT_TIME_ZONE": "America/Gotham"},
		`DEFAULT_TIME_ZONE: invalid timeZone: "Local" is the server's own zone`:     {"DEFAULT_TIME_ZONE": "Local"},
	} {
		_, err := loadSettings(get(with(env)))
		assert.ErrorContains(t, err, "environment variable "+want)
	}
}
