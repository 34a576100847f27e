package pushctl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/recipient"
)

// fakePrefs keeps preferences as the client does: a set changes only what it is given.
type fakePrefs struct {
	prefs map[string]recipient.Preferences
	sets  []client.PreferencesRequest
}

func (f *fakePrefs) SetPreferences(_ context.Context, user string, r client.PreferencesRequest) (recipient.Preferences, error) {
	f.sets = append(f.sets, r)
	p := f.prefs[user]
	if r.TimeZone != "" {
		p.TimeZone, p.TimeZoneSource = r.TimeZone, recipient.SourceUser
	}
	switch {
	case r.NoQuietHours:
		p.Quiet = recipient.QuietHours{}
	case r.QuietStart != "":
		q, err := recipient.ParseQuietHours(r.QuietStart, r.QuietEnd)
		if err != nil {
			return recipient.Preferences{}, err
		}
		p.Quiet = q
	}
	f.prefs[user] = p
	return p, nil
}

func (f *fakePrefs) Preferences(_ context.Context, user string) (recipient.Preferences, bool, error) {
	p, ok := f.prefs[user]
	return p, ok, nil
}

func (f *fakePrefs) DefaultTimeZone() string { return "Europe/Berlin" }

func TestPrefsCommands(t *testing.T) {
	f := &fakePrefs{prefs: map[string]recipient.Preferences{}}
	b := &Backend{Prefs: f}

	out, errOut, code := run(t, b, "prefs", "get", "--user", "u-1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "user:      u-1\ntime zone: Europe/Berlin (default)\nquiet:     none\n", out)

	out, errOut, code = run(t, b, "prefs", "set", "--user", "u-1", "--zone", "America/New_York", "--quiet-start", "22:00", "--quiet-end", "07:00")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "user:      u-1\ntime zone: America/New_York (user)\nquiet:     22:00 to 07:00\n", out)

	out, errOut, code = run(t, b, "prefs", "set", "--user", "u-1", "--no-quiet", "--json")
	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, `{"userId":"u-1","timeZone":"America/New_York","timeZoneSource":"user","quietHours":null}`, out)
	assert.Equal(t, client.PreferencesRequest{NoQuietHours: true}, f.sets[1], "only what was given")
}

func TestPrefsRefusesMalformedValuesBeforeAnyCall(t *testing.T) {
	for want, args := range map[string][]string{
		`--zone "../../etc/passwd" is not an IANA time zone name`: {"--zone", "../../etc/passwd"},
		"--zone unknown time zone":                                {"--zone", "Mars/Olympus"},
		"--zone is empty":                                         {"--zone", ""},
		"--zone is 65536 bytes long":                              {"--zone", strings.Repeat("A", 1<<16)},
		`--quiet-start "25:00" is not a time of day`:              {"--quiet-start", "25:00", "--quiet-end", "07:00"},
		"--quiet-end is required":                                 {"--quiet-start", "22:00"},
		`--quiet-end "07:00\u0000" is not HH:MM`:                  {"--quiet-start", "22:00", "--quiet-end", "07:00\x00"},
		"give --quiet-start and --quiet-end, or --no-quiet":       {"--quiet-start", "22:00", "--quiet-end", "07:00", "--no-quiet"},
		"nothing to set":                                          {},
	} {
		_, errOut, code := run(t, nil, append([]string{"prefs", "set", "--user", "u"}, args...)...)
		assert.Equal(t, ExitUsage, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, want, "%q", args)
		assert.Less(t, len(errOut), 400)
	}
	for _, args := range [][]string{{"prefs", "get"}, {"prefs", "show", "--user", "u"}, {"prefs", "get", "--user", "u", "--zone", "UTC"}, {"prefs"}} {
		_, errOut, code := run(t, nil, args...)
		assert.Equal(t, ExitUsage, code, "%v: %s", args, errOut)
	}
}

// localPushes answers a local time as the client does.
type localPushes struct{ fakePushes }

func (f *localPushes) Schedule(ctx context.Context, r client.Request) (client.Scheduled, error) {
	s, err := f.fakePushes.Schedule(ctx, r)
	if r.LocalTime != "" {
		s.DueAt = time.Date(2026, 12, 24, 14, 0, 0, 0, time.UTC)
		s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution = r.LocalTime, "America/New_York", "user", "exact"
	}
	return s, err
}

func TestScheduleAtALocalTime(t *testing.T) {
	f := &localPushes{}
	b := &Backend{Pushes: f}
	out, errOut, code := run(t, b, "schedule", "--key", "xmas", "--local-time", "2026-12-24T09:00", "--user", "u-ny", "--title", "Merry")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "2026-12-24T09:00", f.requests[0].LocalTime)
	assert.Zero(t, f.requests[0].Delay)
	assert.Contains(t, out, "due 2026-12-24T14:00:00Z")
	assert.Contains(t, out, "local time 2026-12-24T09:00 in America/New_York (the user's zone), exact")

	out, _, code = run(t, b, "schedule", "--key", "xmas", "--local-time", "2026-12-24T09:00", "--user", "u-ny", "--title", "Merry", "--json")
	require.Equal(t, 0, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "America/New_York", got["timeZone"])

	_, errOut, code = run(t, b, "reschedule", "xmas", "--local-time", "2026-12-24T08:00")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "2026-12-24T08:00", f.changes[0].LocalTime)

	f.status = client.Status{Key: "xmas", State: client.StateScheduled, DueAt: time.Date(2026, 12, 24, 8, 0, 0, 0, time.UTC),
		LocalTime: "2026-12-24T09:00", TimeZone: "Europe/Berlin", TimeZoneSource: "default", Resolution: "exact"}
	out, _, code = run(t, b, "get", "xmas")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "local:     2026-12-24T09:00 in Europe/Berlin (the stack's default zone), exact\n")

	for want, args := range map[string][]string{
		`--local-time "2026-12-24T25:00" is not a time of day`:  {"--local-time", "2026-12-24T25:00"},
		"--local-time \"2026-12-24T09:00Z\" has a UTC offset":   {"--local-time", "2026-12-24T09:00Z"},
		"--local-time \"../../etc/passwd\" is not a local date": {"--local-time", "../../etc/passwd"},
		"--local-time is required":                              {"--local-time", ""},
		"give one of --delay, --at, --local-time and --now":     {"--local-time", "2026-12-24T09:00", "--delay", "5m"},
	} {
		_, errOut, code := run(t, nil, append([]string{"schedule", "--key", "k", "--user", "u", "--title", "t"}, args...)...)
		assert.Equal(t, ExitUsage, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, want)
	}
}

func TestDevicesRegisterReportsTheZone(t *testing.T) {
	f := &fakeDevices{}
	_, errOut, code := run(t, &Backend{Devices: f}, "devices", "register", "--user", "bob", "--token", "tok", "--zone", "Asia/Kolkata")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, devices.Registration{UserID: "bob", Token: "tok", TimeZone: "Asia/Kolkata"}, f.regs[0])

	_, errOut, code = run(t, &Backend{Devices: f}, "devices", "register", "--user", "bob", "--token", "tok", "--zone", "../../etc/passwd")
	assert.Equal(t, ExitError, code)
	assert.Contains(t, errOut, "invalid timeZone")
}
