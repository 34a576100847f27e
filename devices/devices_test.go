package devices_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/devices"
)

type harness struct {
	sns   *fakeSNS
	store *fakeStore
	reg   *devices.Registry
	clock time.Time
}

func newHarness() *harness {
	h := &harness{sns: newFakeSNS(), store: newFakeStore(), clock: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)}
	h.reg = &devices.Registry{Endpoints: h.sns, Store: h.store, Now: func() time.Time { return h.clock }}
	return h
}

func (h *harness) register(t *testing.T, user, token, deviceID string) devices.Result {
	t.Helper()
	res, err := h.reg.Register(context.Background(), devices.Registration{UserID: user, Token: token, DeviceID: deviceID})
	require.NoError(t, err)
	return res
}

func TestRegisterANewTokenCreatesItsEndpointAndRecordsTheDevice(t *testing.T) {
	h := newHarness()
	res := h.register(t, "u-1", "tok-a", "")
	assert.Equal(t, devices.Registered, res.Outcome)
	assert.Equal(t, devices.PlatformFCM, res.Platform)
	assert.True(t, res.Enabled)
	assert.Equal(t, devices.IDOf(res.EndpointARN), res.ID)
	tok, ok := h.sns.tokenOf(res.EndpointARN)
	require.True(t, ok)
	assert.Equal(t, "tok-a", tok)
	assert.Equal(t, []string{res.EndpointARN}, h.store.endpointsOf("u-1"))
}

func TestRegisteringTheSameTokenTwiceChangesNothing(t *testing.T) {
	h := newHarness()
	first := h.register(t, "u-1", "tok-a", "")
	h.clock = h.clock.Add(time.Hour)
	h.sns.reset()
	again := h.register(t, "u-1", "tok-a", "")
	assert.Equal(t, devices.Unchanged, again.Outcome)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, first.CreatedAt, again.CreatedAt, "created time kept")
	assert.Equal(t, h.clock, again.LastSeenAt, "last seen moves on")
	assert.Equal(t, []string{"create", "get"}, h.sns.calls, "no update, no delete, no second endpoint")
	assert.Len(t, h.store.endpointsOf("u-1"), 1)
	assert.Len(t, h.sns.endpoints, 1)
}

func TestARefreshedTokenUpdatesTheSameDevice(t *testing.T) {
	h := newHarness()
	first := h.register(t, "u-1", "tok-old", "")
	res := h.register(t, "u-1", "tok-new", first.ID)
	assert.Equal(t, devices.Refreshed, res.Outcome)
	assert.Equal(t, first.ID, res.ID, "the device keeps its id and endpoint")
	tok, _ := h.sns.tokenOf(first.EndpointARN)
	assert.Equal(t, "tok-new", tok)
	assert.Equal(t, []string{first.EndpointARN}, h.store.endpointsOf("u-1"))
}

func TestADisabledDeviceIsSkippedUntilItRegistersAgain(t *testing.T) {
	h := newHarness()
	d := h.register(t, "u-1", "tok-a", "")
	h.sns.disable(d.EndpointARN)
	ok, err := h.reg.DisableEndpoint(context.Background(), d.EndpointARN, "EndpointDisabled: Endpoint is disabled")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Empty(t, h.store.endpointsOf("u-1"), "the sender skips it")
	list, err := h.reg.Devices(context.Background(), "u-1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].Enabled)
	assert.Equal(t, "EndpointDisabled: Endpoint is disabled", list[0].DisabledReason)
	assert.NotNil(t, list[0].DisabledAt)

	res := h.register(t, "u-1", "tok-a", "")
	assert.Equal(t, devices.Refreshed, res.Outcome)
	assert.Equal(t, d.ID, res.ID)
	a, _, _ := h.sns.Attributes(context.Background(), d.EndpointARN)
	assert.True(t, a.Enabled, "SNS endpoint enabled again")
	list, _ = h.reg.Devices(context.Background(), "u-1")
	assert.True(t, list[0].Enabled)
	assert.Empty(t, list[0].DisabledReason)
	assert.Nil(t, list[0].DisabledAt)
}

func TestADeletedEndpointIsCreatedAgainAndTheDeadDeviceReplaced(t *testing.T) {
	h := newHarness()
	d := h.register(t, "u-1", "tok-a", "")
	require.NoError(t, h.sns.Delete(context.Background(), d.EndpointARN))
	res := h.register(t, "u-1", "tok-a", d.ID)
	assert.Equal(t, devices.Recreated, res.Outcome)
	assert.NotEqual(t, d.ID, res.ID)
	assert.Equal(t, d.ID, res.PreviousDeviceID)
	assert.Equal(t, []string{res.EndpointARN}, h.store.endpointsOf("u-1"), "the dead device's row is gone")
	o, _, _ := h.store.Owner(context.Background(), d.ID)
	assert.True(t, o.Retired, "the dead device's id can never be owned again")
}

func TestATokenMovesToTheUserWhoRegistersItLast(t *testing.T) {
	for _, withOldID := range []bool{false, true} {
		h := newHarness()
		a := h.register(t, "alice", "shared-phone", "")
		id := ""
		if withOldID {
			id = a.ID // the app kept alice's device id across the logout
		}
		b := h.register(t, "bob", "shared-phone", id)
		assert.Equal(t, devices.Moved, b.Outcome)
		assert.Equal(t, a.ID, b.PreviousDeviceID)
		assert.NotEqual(t, a.EndpointARN, b.EndpointARN, "bob gets a new endpoint")
		_, alive := h.sns.tokenOf(a.EndpointARN)
		assert.False(t, alive, "alice's endpoint is deleted: a push she had in flight cannot reach the phone")
		assert.Empty(t, h.store.endpointsOf("alice"), "alice's pushes no longer resolve to the phone")
		assert.Equal(t, []string{b.EndpointARN}, h.store.endpointsOf("bob"))
		tok, _ := h.sns.tokenOf(b.EndpointARN)
		assert.Equal(t, "shared-phone", tok)

		// Back to alice: it moves again, and bob loses it.
		back := h.register(t, "alice", "shared-phone", b.ID)
		assert.Equal(t, devices.Moved, back.Outcome)
		assert.Empty(t, h.store.endpointsOf("bob"))
		assert.Equal(t, []string{back.EndpointARN}, h.store.endpointsOf("alice"))
	}
}

func TestAMoveRacingAnotherRegistrationEndsWithOneOwner(t *testing.T) {
	h := newHarness()
	h.register(t, "alice", "tok", "")
	// Bob's registration reads the owner; before it writes, alice registers the token again.
	h.store.onOwner = func() { h.register(t, "alice", "tok", "") }
	b := h.register(t, "bob", "tok", "")
	assert.Equal(t, devices.Moved, b.Outcome)
	assert.Empty(t, h.store.endpointsOf("alice"))
	assert.Equal(t, []string{b.EndpointARN}, h.store.endpointsOf("bob"))
	owners := 0
	for _, o := range h.store.owners {
		if tok, ok := h.sns.tokenOf(o.EndpointARN); ok && tok == "tok" {
			owners++
		}
	}
	assert.Equal(t, 1, owners, "one live endpoint, one owner")
}

func TestConcurrentFirstRegistrationsOfATokenEndWithOneOwner(t *testing.T) {
	h := newHarness()
	// Between bob's owner read (none) and his write, alice registers the same new token.
	h.store.onOwner = func() { h.register(t, "alice", "tok", "") }
	b := h.register(t, "bob", "tok", "")
	assert.Equal(t, devices.Moved, b.Outcome, "bob's write found alice's row and started over")
	assert.Empty(t, h.store.endpointsOf("alice"))
	assert.Equal(t, []string{b.EndpointARN}, h.store.endpointsOf("bob"))
}

func TestRegistrationsAreValidatedWithTheFieldNamed(t *testing.T) {
	h := newHarness()
	for _, c := range []struct {
		r     devices.Registration
		field string
		words string
	}{
		{devices.Registration{Token: "t"}, "userId", "missing"},
		{devices.Registration{UserID: " u", Token: "t"}, "userId", "white space"},
		{devices.Registration{UserID: strings.Repeat("u", 257), Token: "t"}, "userId", "over the limit of 256"},
		{devices.Registration{UserID: "u"}, "token", "missing"},
		{devices.Registration{UserID: "u", Token: "has space"}, "token", "only letters, digits"},
		{devices.Registration{UserID: "u", Token: strings.Repeat("t", 4097)}, "token", "over the limit of 4096"},
		{devices.Registration{UserID: "u", Token: "t", Platform: "apns"}, "platform", `unknown platform "apns": supported: FCM`},
		{devices.Registration{UserID: "u", Token: "t", DeviceID: "../x"}, "deviceId", "not a device id"},
		{devices.Registration{UserID: "u", Token: "t", TimeZone: "../../etc/passwd"}, "timeZone", "not an IANA time zone name"},
		{devices.Registration{UserID: "u", Token: "t", TimeZone: "Mars/Olympus"}, "timeZone", "unknown time zone"},
		{devices.Registration{UserID: "u", Token: "t", TimeZone: strings.Repeat("A", 1<<20)}, "timeZone", "more than 64"},
		{devices.Registration{UserID: "u", Token: "t", TimeZone: "Europe/Berlin\n"}, "timeZone", "not an IANA time zone name"},
	} {
		_, err := h.reg.Register(context.Background(), c.r)
		var inv *devices.InvalidError
		require.ErrorAs(t, err, &inv, "%+v", c.r)
		assert.Equal(t, c.field, inv.Field)
		assert.Contains(t, inv.Reason, c.words)
	}
	assert.Empty(t, h.sns.calls, "nothing reached SNS")
	res, err := h.reg.Register(context.Background(), devices.Registration{UserID: "u", Token: "t", Platform: "fcm"})
	require.NoError(t, err)
	assert.Equal(t, "FCM", res.Platform)
}

// zoneLog records the zones devices reported, as the preferences store would take them.
type zoneLog struct{ zones []string }

func (z *zoneLog) SetDeviceZone(_ context.Context, userID, zone string) error {
	z.zones = append(z.zones, userID+" "+zone)
	return nil
}

func TestARegistrationReportsItsDevicesTimeZone(t *testing.T) {
	h := newHarness()
	_, err := h.reg.Register(context.Background(), devices.Registration{UserID: "u-1", Token: "tok-a", TimeZone: "Europe/Berlin"})
	require.ErrorContains(t, err, "preferences table", "nowhere to keep the zone: refused before anything is registered")
	assert.Empty(t, h.sns.calls)

	zones := &zoneLog{}
	h.reg.Zones = zones
	_, err = h.reg.Register(context.Background(), devices.Registration{UserID: "u-1", Token: "tok-a", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	h.register(t, "u-1", "tok-a", "")
	assert.Equal(t, []string{"u-1 Europe/Berlin"}, zones.zones, "a registration without a zone reports none")
}

func TestUnregisterRemovesTheEndpointAndTheRows(t *testing.T) {
	h := newHarness()
	d := h.register(t, "u-1", "tok-a", "")
	other := h.register(t, "u-1", "tok-b", "")
	got, err := h.reg.Unregister(context.Background(), d.ID)
	require.NoError(t, err)
	assert.Equal(t, "u-1", got.UserID)
	_, alive := h.sns.tokenOf(d.EndpointARN)
	assert.False(t, alive)
	assert.Equal(t, []string{other.EndpointARN}, h.store.endpointsOf("u-1"))

	_, err = h.reg.Unregister(context.Background(), d.ID)
	assert.ErrorIs(t, err, devices.ErrNotFound)
}

func TestUnregisterUserRemovesEveryDeviceOfThatUserOnly(t *testing.T) {
	h := newHarness()
	for _, tok := range []string{"a", "b", "c"} {
		h.register(t, "leaving", tok, "")
	}
	stays := h.register(t, "staying", "d", "")
	gone, err := h.reg.UnregisterUser(context.Background(), "leaving")
	require.NoError(t, err)
	assert.Len(t, gone, 3)
	assert.Empty(t, h.store.endpointsOf("leaving"))
	assert.Len(t, h.sns.endpoints, 1)
	assert.Equal(t, []string{stays.EndpointARN}, h.store.endpointsOf("staying"))
}

func TestSNSEventsDisableTheirDevice(t *testing.T) {
	h := newHarness()
	d := h.register(t, "u-1", "tok-a", "")
	ctx := context.Background()
	failure := `{"Type":"Notification","MessageId":"m-1","Message":"{\"DeliveryAttempts\":1,\"EndpointArn\":\"` + d.EndpointARN +
		`\",\"EventType\":\"DeliveryFailure\",\"FailureMessage\":\"Endpoint is disabled\",\"FailureType\":\"EndpointDisabled\",\"Service\":\"SNS\"}"}`
	e, err := devices.ParseEvent(failure)
	require.NoError(t, err)
	did, err := h.reg.Handle(ctx, e)
	require.NoError(t, err)
	assert.Equal(t, "disabled", did)
	list, _ := h.reg.Devices(ctx, "u-1")
	assert.Equal(t, "SNS reported a permanent delivery failure: EndpointDisabled: Endpoint is disabled", list[0].DisabledReason)

	for body, want := range map[string]string{
		`{"EventType":"EndpointUpdated","EndpointArn":"` + d.EndpointARN + `","Attributes":{"Enabled":"false"}}`:    "disabled",
		`{"EventType":"EndpointUpdated","EndpointArn":"` + d.EndpointARN + `","Attributes":{"Enabled":"true"}}`:     "ignored",
		`{"EventType":"EndpointCreated","EndpointArn":"` + d.EndpointARN + `"}`:                                     "ignored",
		`{"EventType":"EndpointDeleted","EndpointArn":"arn:aws:sns:us-east-1:123456789012:endpoint/GCM/x/unknown"}`: "no device",
	} {
		e, err := devices.ParseEvent(body)
		require.NoError(t, err, body)
		did, err := h.reg.Handle(ctx, e)
		require.NoError(t, err)
		assert.Equal(t, want, did, body)
	}
	for _, bad := range []string{`nope`, `{"Type":"Notification","Message":"[1]"}`, `{"EndpointArn":"x"}`, `{"EventType":"DeliveryFailure"}`} {
		_, err := devices.ParseEvent(bad)
		assert.Error(t, err, bad)
	}
}

func TestErrorsSayWhatFailed(t *testing.T) {
	h := newHarness()
	_, err := h.reg.Unregister(context.Background(), "missing-id")
	assert.EqualError(t, err, "device missing-id: no such device")
	assert.True(t, errors.Is(err, devices.ErrNotFound))
}
