package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadSettings(t *testing.T) {
	st, err := loadSettings(env(map[string]string{"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l"}))
	require.NoError(t, err)
	assert.Equal(t, settings{DevicesTable: "d", DeliveriesTable: "l", RetentionDays: 30}, st)

	st, err = loadSettings(env(map[string]string{"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l", "DELIVERY_RETENTION_DAYS": "7"}))
	require.NoError(t, err)
	assert.Equal(t, 7, st.RetentionDays)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no devices table", map[string]string{"DELIVERIES_TABLE": "l"}, "DEVICES_TABLE is required"},
		{"no deliveries table", map[string]string{"DEVICES_TABLE": "d"}, "DELIVERIES_TABLE is required"},
		{"bad retention", map[string]string{"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l", "DELIVERY_RETENTION_DAYS": "a month"}, "DELIVERY_RETENTION_DAYS"},
		{"zero retention", map[string]string{"DEVICES_TABLE": "d", "DELIVERIES_TABLE": "l", "DELIVERY_RETENTION_DAYS": "0"}, "DELIVERY_RETENTION_DAYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSettings(env(tc.env))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
