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

// constructEnv is the environment the construct gives the sender.
var constructEnv = map[string]string{
	"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l", "SCHEDULES_TABLE": "s", "PUSH_QUEUE_URL": "https://q/push",
	"DEAD_LETTER_QUEUE_URL": "https://q/dlq", "MAX_RECEIVE_COUNT": "5", "SCHEDULER_ROLE_ID": "AROA1",
	"DELIVERY_GUARANTEE": "at-least-once", "DELIVERY_RETENTION_DAYS": "30", "MAX_LATENESS_SECONDS": "86400",
	"PREFERENCES_TABLE": "p", "CAPS_TABLE": "c", "DEFAULT_TIME_ZONE": "UTC",
}

func with(changes map[string]string) map[string]string {
	m := maps.Clone(constructEnv)
	maps.Copy(m, changes)
	return m
}

func TestLoadSettings(t *testing.T) {
	st, err := loadSettings(env(constructEnv))
	require.NoError(t, err)
	assert.Equal(t, settings{DevicesTable: "d", DeliveriesTable: "l", PushQueueURL: "https://q/push",
		DeadLetterURL: "https://q/dlq", MaxReceiveCount: 5, SchedulerRoleID: "AROA1", Guarantee: "at-least-once",
		RetentionDays: 30, SchedulesTable: "s", MaxLateness: 86400, PrefsTable: "p", CapsTable: "c",
		DefaultTimeZone: "UTC"}, st, "CAPS unset or empty: no caps")

	st, err = loadSettings(env(with(map[string]string{"CAPS": "3/24h,1/10m; promo=1/1h", "DEFAULT_TIME_ZONE": "Europe/Berlin"})))
	require.NoError(t, err)
	assert.Equal(t, "3/1d,1/10m;promo=1/1h", st.Caps.String())
	assert.Equal(t, "Europe/Berlin", st.DefaultTimeZone)

	st, err = loadSettings(env(with(map[string]string{"DELIVERY_RETENTION_DAYS": "7", "MAX_RECEIVE_COUNT": "4",
		"DELIVERY_GUARANTEE": "at-most-once", "MAX_LATENESS_SECONDS": "0"})))
	require.NoError(t, err)
	assert.Equal(t, 0, st.MaxLateness, "no limit")
	assert.Equal(t, 7, st.RetentionDays)
	assert.Equal(t, 4, st.MaxReceiveCount)
	assert.Equal(t, "at-most-once", st.Guarantee)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad retention", with(map[string]string{"DELIVERY_RETENTION_DAYS": "a month"}), `DELIVERY_RETENTION_DAYS must be a whole number (the DelayedPush construct sets it), got "a month"`},
		{"zero retention", with(map[string]string{"DELIVERY_RETENTION_DAYS": "0"}), `DELIVERY_RETENTION_DAYS must be at least 1, got "0"`},
		{"bad receive count", with(map[string]string{"MAX_RECEIVE_COUNT": "0"}), `MAX_RECEIVE_COUNT must be at least 1, got "0"`},
		{"bad guarantee", with(map[string]string{"DELIVERY_GUARANTEE": "exactly-once"}), `DELIVERY_GUARANTEE: must be "at-least-once" or "at-most-once", got "exactly-once"`},
		{"bad lateness", with(map[string]string{"MAX_LATENESS_SECONDS": "-5"}), `MAX_LATENESS_SECONDS must be at least 0, got "-5"`},
		{"unknown zone", with(map[string]string{"DEFAULT_TIME_ZONE": "Mars/Olympus"}), `DEFAULT_TIME_ZONE: invalid timeZone: unknown time zone "Mars/Olympus": not in the IANA time zone database`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSettings(env(tc.env))
			assert.EqualError(t, err, "environment variable "+tc.want)
		})
	}
}

// Every variable the construct sets is required: the construct holds the defaults.
func TestAMissingVariableIsAnErrorNamingIt(t *testing.T) {
	for name := range constructEnv {
		missing := maps.Clone(constructEnv)
		delete(missing, name)
		_, err := loadSettings(env(missing))
		assert.EqualError(t, err, "environment variable "+name+" is not set: the DelayedPush construct sets it")
	}
	_, err := loadSettings(env(nil))
	for name := range constructEnv {
		assert.ErrorContains(t, err, "environment variable "+name+" is not set", "every missing variable is named at once")
	}
}
