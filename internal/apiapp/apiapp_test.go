package apiapp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"STATE_MACHINE_ARN": "arn:sm", "PUSH_QUEUE_URL": "https://q", "SCHEDULES_TABLE": "s"}
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	st, err := loadSettings(get(env))
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, st.DefaultDelay)
	assert.Equal(t, 65536, st.MaxBodyBytes)
	assert.Equal(t, "s", st.Resources.SchedulesTable)

	env["DEFAULT_DELAY_SECONDS"], env["MAX_BODY_BYTES"] = "300", "4096"
	st, err = loadSettings(get(env))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, st.DefaultDelay)
	assert.Equal(t, 4096, st.MaxBodyBytes)

	for name, bad := range map[string]map[string]string{
		"SCHEDULES_TABLE is required":                                     {"STATE_MACHINE_ARN": "a", "PUSH_QUEUE_URL": "q"},
		"DEFAULT_DELAY_SECONDS must be a whole number from 0 to 31532400": {"STATE_MACHINE_ARN": "a", "PUSH_QUEUE_URL": "q", "SCHEDULES_TABLE": "s", "DEFAULT_DELAY_SECONDS": "-1"},
		"MAX_BODY_BYTES must be a whole number from 1024 to 10485760":     {"STATE_MACHINE_ARN": "a", "PUSH_QUEUE_URL": "q", "SCHEDULES_TABLE": "s", "MAX_BODY_BYTES": "big"},
	} {
		_, err := loadSettings(get(bad))
		assert.ErrorContains(t, err, name)
	}
}
