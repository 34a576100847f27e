package senderapp

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var required = map[string]string{
	"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l", "PUSH_QUEUE_URL": "https://q/push", "DEAD_LETTER_QUEUE_URL": "https://q/dlq",
}

func with(extra map[string]string) map[string]string {
	m := maps.Clone(required)
	maps.Copy(m, extra)
	return m
}

func TestLoadSettings(t *testing.T) {
	st, err := loadSettings(env(required))
	require.NoError(t, err)
	assert.Equal(t, settings{DevicesTable: "d", DeliveriesTable: "l", PushQueueURL: "https://q/push",
		DeadLetterURL: "https://q/dlq", Guarantee: "at-least-once", RetentionDays: 30}, st)

	st, err = loadSettings(env(with(map[string]string{"DELIVERY_RETENTION_DAYS": "7", "MAX_RECEIVE_COUNT": "4",
		"SCHEDULER_ROLE_ID": "AROA1", "DELIVERY_GUARANTEE": "at-most-once", "SCHEDULES_TABLE": "s", "MAX_LATENESS_SECONDS": "3600"})))
	require.NoError(t, err)
	assert.Equal(t, "s", st.SchedulesTable)
	assert.Equal(t, 3600, st.MaxLateness)
	assert.Equal(t, 7, st.RetentionDays)
	assert.Equal(t, 4, st.MaxReceiveCount)
	assert.Equal(t, "AROA1", st.SchedulerRoleID)
	assert.Equal(t, "at-most-once", st.Guarantee)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no devices table", with(map[string]string{"DEVICES_TABLE": ""}), "DEVICES_TABLE is required"},
		{"no deliveries table", with(map[string]string{"DELIVERIES_TABLE": ""}), "DELIVERIES_TABLE is required"},
		{"no push queue", with(map[string]string{"PUSH_QUEUE_URL": ""}), "PUSH_QUEUE_URL is required"},
		{"no dead-letter queue", with(map[string]string{"DEAD_LETTER_QUEUE_URL": ""}), "DEAD_LETTER_QUEUE_URL is required"},
		{"bad retention", with(map[string]string{"DELIVERY_RETENTION_DAYS": "a month"}), "DELIVERY_RETENTION_DAYS"},
		{"zero retention", with(map[string]string{"DELIVERY_RETENTION_DAYS": "0"}), "DELIVERY_RETENTION_DAYS"},
		{"bad receive count", with(map[string]string{"MAX_RECEIVE_COUNT": "0"}), "MAX_RECEIVE_COUNT must be a whole number from 1 to 1000"},
		{"bad guarantee", with(map[string]string{"DELIVERY_GUARANTEE": "exactly-once"}), `DELIVERY_GUARANTEE must be "at-least-once" or "at-most-once", got "exactly-once"`},
		{"bad lateness", with(map[string]string{"MAX_LATENESS_SECONDS": "-5"}), "MAX_LATENESS_SECONDS must be a whole number from 0 to 31532400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSettings(env(tc.env))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
