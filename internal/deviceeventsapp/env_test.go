package deviceeventsapp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadStore(t *testing.T) {
	env := map[string]string{EnvDevicesTable: "devices", EnvDeviceOwnersTable: "owners"}
	getenv := func(k string) string { return env[k] }
	store, err := loadStore(getenv)
	require.NoError(t, err)
	assert.Equal(t, "devices", store.DevicesTable)
	assert.Equal(t, "owners", store.OwnersTable)

	delete(env, EnvDeviceOwnersTable)
	_, err = loadStore(getenv)
	assert.EqualError(t, err, "environment variable DEVICE_OWNERS_TABLE is not set: the DelayedPush construct sets it")
}
