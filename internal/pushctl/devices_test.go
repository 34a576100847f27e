package pushctl

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
)

type fakeDevices struct {
	regs    []devices.Registration
	list    []devices.Device
	removed []string
}

func (f *fakeDevices) RegisterDevice(_ context.Context, r devices.Registration) (devices.Result, error) {
	f.regs = append(f.regs, r)
	r, err := devices.Validate(r)
	if err != nil {
		return devices.Result{}, err
	}
	return devices.Result{Device: devices.Device{ID: "d-1", UserID: r.UserID, Platform: r.Platform, Enabled: true, CreatedAt: t0, LastSeenAt: t0},
		Outcome: devices.Moved, PreviousDeviceID: "d-0"}, nil
}

func (f *fakeDevices) Devices(context.Context, string) ([]devices.Device, error) { return f.list, nil }

func (f *fakeDevices) UnregisterDevice(_ context.Context, id string) (devices.Device, error) {
	if id != "d-1" {
		return devices.Device{}, fmt.Errorf("device %s: %w", id, devices.ErrNotFound)
	}
	f.removed = append(f.removed, id)
	return devices.Device{ID: id, UserID: "u-1"}, nil
}

func (f *fakeDevices) UnregisterDevices(_ context.Context, user string) ([]devices.Device, error) {
	f.removed = append(f.removed, "all:"+user)
	return f.list, nil
}

func TestDevicesCommands(t *testing.T) {
	f := &fakeDevices{list: []devices.Device{
		{ID: "d-1", Platform: "FCM", Enabled: true, CreatedAt: t0, LastSeenAt: t0},
		{ID: "d-2", Platform: "FCM", Enabled: false, DisabledReason: "EndpointDisabled: Endpoint is disabled", CreatedAt: t0, LastSeenAt: t0},
	}}
	b := &Backend{Devices: f}

	out, errOut, code := run(t, b, "devices", "register", "--user", "bob", "--token", "tok", "--device-id", "d-0")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, devices.Registration{UserID: "bob", Token: "tok", DeviceID: "d-0"}, f.regs[0])
	assert.Equal(t, "moved: device d-1 of user bob (FCM), was device d-0\n", out)

	out, _, code = run(t, b, "devices", "list", "--user", "u-1")
	require.Equal(t, 0, code)
	assert.Equal(t, "d-1  FCM  created 2026-12-01T09:00:00Z  last seen 2026-12-01T09:00:00Z  enabled\n"+
		"d-2  FCM  created 2026-12-01T09:00:00Z  last seen 2026-12-01T09:00:00Z  disabled: EndpointDisabled: Endpoint is disabled\n", out)

	out, _, code = run(t, b, "devices", "list", "--user", "u-1", "--json")
	require.Equal(t, 0, code)
	var list []devices.Device
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	assert.Len(t, list, 2)

	out, _, code = run(t, b, "devices", "remove", "d-1")
	require.Equal(t, 0, code)
	assert.Equal(t, "removed: device d-1 of user u-1\n", out)
	out, _, code = run(t, b, "devices", "remove", "--user", "u-1")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "removed 2 device(s) of user u-1\n")
	assert.Equal(t, []string{"d-1", "all:u-1"}, f.removed)
}

func TestDevicesErrorsAreOneLine(t *testing.T) {
	b := &Backend{Devices: &fakeDevices{}}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"devices"}, 2, "pushctl devices: give a subcommand: register, list or remove (pushctl devices --help)\n"},
		{[]string{"devices", "wipe"}, 2, "pushctl devices: unknown subcommand \"wipe\": register, list or remove (pushctl devices --help)\n"},
		{[]string{"devices", "list"}, 2, "pushctl devices: list needs --user (pushctl devices --help)\n"},
		{[]string{"devices", "remove"}, 2, "pushctl devices: remove takes a DEVICE_ID, or --user to remove every device of a user (pushctl devices --help)\n"},
		{[]string{"devices", "register", "--user", "u", "--token", "t", "--platform", "apns"}, 1, "pushctl devices: invalid platform: unknown platform \"apns\": supported: FCM\n"},
		{[]string{"devices", "register", "--token", "t"}, 1, "pushctl devices: invalid userId: missing: the user the device belongs to is required\n"},
		{[]string{"devices", "remove", "nope"}, 1, "pushctl devices: device nope: no such device\n"},
	} {
		_, errOut, code := run(t, b, c.args...)
		assert.Equal(t, c.code, code, c.args)
		assert.Equal(t, c.err, errOut, c.args)
	}
	out, _, code := run(t, b, "devices", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Usage: pushctl devices register --user ID --token T")
}
