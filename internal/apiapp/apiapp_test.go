package apiapp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"STATE_MACHINE_ARN": "arn:sm", "PUSH_QUEUE_URL": "https://q", "SCHEDULES_TABLE": "s",
		"PLATFORM_APPLICATION_ARN": "arn:app", "DEVICES_TABLE": "d", "DEVICE_OWNERS_TABLE": "o"}
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	st, err := loadSettings(get(env))
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, st.DefaultDelay)
	assert.Equal(t, 65536, st.MaxBodyBytes)
	assert.Equal(t, "s", st.Resources.SchedulesTable)
	assert.Equal(t, "arn:app", st.Resources.PlatformApplicationArn)
	assert.Equal(t, "o", st.Resources.DeviceOwnersTable)

	env["DEFAULT_DELAY_SECONDS"], env["MAX_BODY_BYTES"] = "300", "4096"
	st, err = loadSettings(get(env))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, st.DefaultDelay)
	assert.Equal(t, 4096, st.MaxBodyBytes)

	for _, name := range []string{"STATE_MACHINE_ARN", "PUSH_QUEUE_URL", "SCHEDULES_TABLE", "PLATFORM_APPLICATION_ARN", "DEVICES_TABLE", "DEVICE_OWNERS_TABLE"} {
		missing := map[string]string{}
		for k, v := range env {
			missing[k] = v
		}
		delete(missing, name)
		_, err := loadSettings(get(missing))
		assert.EqualError(t, err, "environment variable "+name+" is required")
	}

	assert.Equal(t, "sub", st.UserClaim)
	assert.Equal(t, "delayed-push/backend", st.BackendScope)
	env["JWT_USER_CLAIM"], env["BACKEND_SCOPE"] = "email", "push:admin"
	st, err = loadSettings(get(env))
	require.NoError(t, err)
	assert.Equal(t, "email", st.UserClaim)
	assert.Equal(t, "push:admin", st.BackendScope)
	delete(env, "JWT_USER_CLAIM")
	delete(env, "BACKEND_SCOPE")

	for name, bad := range map[string]map[string]string{
		"DEFAULT_DELAY_SECONDS must be a whole number from 0 to 31532400": {"DEFAULT_DELAY_SECONDS": "-1"},
		"MAX_BODY_BYTES must be a whole number from 1024 to 10485760":     {"MAX_BODY_BYTES": "big"},
		`JWT_USER_CLAIM: "aud" does not name one user`:                    {"JWT_USER_CLAIM": "aud"},
		"BACKEND_SCOPE: \"two words\" must be an OAuth scope":             {"BACKEND_SCOPE": "two words"},
	} {
		for k, v := range env {
			if _, set := bad[k]; !set && k != "DEFAULT_DELAY_SECONDS" && k != "MAX_BODY_BYTES" {
				bad[k] = v
			}
		}
		_, err := loadSettings(get(bad))
		assert.ErrorContains(t, err, name)
	}
}
