//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// The recipient's clock on the local stack: a push for a wall-clock time in the user's zone,
// quiet hours that hold or drop a push due inside them, a frequency cap that four racing
// pushes cannot beat, and every new field refused at once when malformed. Through the client,
// the HTTP API and pushctl, as a producer would.
//
// Quiet hours are whole minutes of the user's wall clock, so each test builds a window around
// the push's due time: from the minute the push falls due in to two minutes later (quietWindow).
// The push is then due inside them whatever second of the minute it falls on, and they end 60
// to 120 s after it: deterministic, with no wait for a minute boundary.

// The local stack's settings these tests rely on (the Makefile's LOCAL_CONFIG).
const (
	localDefaultZone = "America/St_Johns" // defaultTimeZone: half an hour off, with daylight saving
	capCategory      = "e2ecap"           // caps "; e2ecap=3/24h": a cap of this category only
	capLimit         = 3
	capName          = "e2ecap:3/1d" // how the sender names that cap
)

// The zones of these tests: none of them has a daylight-saving change near today, and each is
// far from UTC, so a zone mixed up with another or with UTC shows.
const (
	kiritimati = "Pacific/Kiritimati"  // UTC+14: the local date is a day ahead of UTC's
	kolkata    = "Asia/Kolkata"        // UTC+5:30
	lordHowe   = "Australia/Lord_Howe" // UTC+10:30/+11 (a 30-minute shift)
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := recipient.Zone(name)
	require.NoError(t, err)
	return loc
}

// wallClock is the instant as a local time without offset, to the second, in the zone.
func wallClock(t *testing.T, at time.Time, zoneName string) string {
	t.Helper()
	return at.In(zone(t, zoneName)).Format("2006-01-02T15:04:05")
}

// dueIn is a due time d from now, on a whole second (local times have whole seconds).
func dueIn(d time.Duration) time.Time { return time.Now().Add(d).Truncate(time.Second) }

// quietWindow returns quiet hours on loc's wall clock that hold due: from the minute due falls
// in to two minutes after it, so they end 60 to 120 s after due, at endsAt. (Every zone's
// offset is whole minutes, so the instant's minute and the wall clock's agree.)
func quietWindow(due time.Time, loc *time.Location) (start, end string, endsAt time.Time) {
	from := due.Truncate(time.Minute)
	endsAt = from.Add(2 * time.Minute)
	return from.In(loc).Format("15:04"), endsAt.In(loc).Format("15:04"), endsAt
}

// resolved is how a local time was resolved, as Scheduled, Status and the JSON answers say.
type resolved struct {
	DueAt                                        time.Time
	LocalTime, TimeZone, TimeZoneSource, Resolve string
}

func assertResolved(t *testing.T, got resolved, due time.Time, local, zoneName, source string, msgAndArgs ...any) {
	t.Helper()
	assert.True(t, got.DueAt.Equal(due), "due %s, want %s (%s in %s)", got.DueAt, due, local, zoneName)
	assert.Equal(t, resolved{DueAt: got.DueAt, LocalTime: local, TimeZone: zoneName, TimeZoneSource: source, Resolve: string(recipient.Exact)}, got, msgAndArgs...)
}

func scheduledResolved(s client.Scheduled) resolved {
	return resolved{s.DueAt, s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution}
}

func statusResolved(s client.Status) resolved {
	return resolved{s.DueAt, s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution}
}

// jsonResolved reads the same from an HTTP answer or pushctl --json.
func jsonResolved(t *testing.T, out map[string]any) resolved {
	t.Helper()
	due, err := time.Parse(time.RFC3339Nano, fmt.Sprint(out["dueAt"]))
	require.NoError(t, err, "%v", out)
	s := func(k string) string { v, _ := out[k].(string); return v }
	return resolved{due, s("localTime"), s("timeZone"), s("timeZoneSource"), s("resolution")}
}

// clockLine is the part of the sender's "push processed" line about the recipient's clock.
type clockLine struct {
	Outcome    string   `json:"outcome"`
	Action     string   `json:"action"`
	LatenessMs *float64 `json:"latenessMs"`
	HeldMs     *float64 `json:"heldMs"`
	QuietUntil string   `json:"quietUntil"`
	Cap        string   `json:"cap"`
}

// clockLines reads the sender's lines about a push, in log order.
func clockLines(t *testing.T, pushID string) []clockLine {
	t.Helper()
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	var out []clockLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, `"pushId":"`+pushID+`"`) || !strings.Contains(line, `"msg":"push processed"`) {
			continue
		}
		var l clockLine
		require.NoError(t, json.Unmarshal([]byte(line[i:]), &l))
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

// --- Local time -----------------------------------------------------------------------------

// A push for the wall-clock time 40 s from now in Kiritimati (UTC+14, tomorrow's date there) is
// due at that instant, says which zone and why, and is delivered once, on time.
func TestRecipientLocalTimeThroughTheClientIsSentAtTheUsersWallClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("lt-client-user")
	ep := device(t, user, "lt-client-phone")
	p, err := c.SetPreferences(ctx, user, client.PreferencesRequest{TimeZone: kiritimati})
	require.NoError(t, err)
	assert.Equal(t, recipient.Preferences{TimeZone: kiritimati, TimeZoneSource: recipient.SourceUser}, p)

	due := dueIn(40 * time.Second)
	local := wallClock(t, due, kiritimati)
	require.NotEqual(t, due.UTC().Format("2006-01-02T15:04:05"), local, "a zone far from UTC")
	key := name("lt-client-push")
	s, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), LocalTime: local})
	require.NoError(t, err)
	assertResolved(t, scheduledResolved(s), due, local, kiritimati, recipient.SourceUser)
	st, err := c.Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, client.StateScheduled, st.State)
	assertResolved(t, statusResolved(st), due, local, kiritimati, recipient.SourceUser, "Get shows it")

	assertOnTime(t, s.Engine, key, due, ep, "Your order shipped", control(t, "lt-client", due), 1)
	st = waitState(t, c, key, client.StateSent, 30*time.Second)
	assertResolved(t, statusResolved(st), due, local, kiritimati, recipient.SourceUser, "and still once sent")
}

// The same through the HTTP API: the zone set with PUT /users/{userId}/preferences, the push
// with localTime, in Kolkata (UTC+5:30).
func TestRecipientLocalTimeThroughTheHTTPAPI(t *testing.T) {
	t.Parallel()
	user := name("lt-api-user")
	ep := device(t, user, "lt-api-phone")
	status, out := call(t, "PUT", "/users/"+user+"/preferences", `{"timeZone":"`+kolkata+`"}`)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, map[string]any{"userId": user, "timeZone": kolkata, "timeZoneSource": "user", "quietHours": nil}, out)
	status, got := call(t, "GET", "/users/"+user+"/preferences", "")
	require.Equal(t, 200, status)
	assert.Equal(t, out, got)

	due := dueIn(40 * time.Second)
	local := wallClock(t, due, kolkata)
	key := name("lt-api-push")
	status, out = call(t, "POST", "/pushes", `{"key":"`+key+`","localTime":"`+local+`","push":{"userId":"`+user+`","title":"Your order shipped"}}`)
	require.Equal(t, 201, status, "%v", out)
	assertResolved(t, jsonResolved(t, out), due, local, kolkata, recipient.SourceUser)
	engine := out["engine"].(string)
	status, out = call(t, "GET", "/pushes/"+key, "")
	require.Equal(t, 200, status)
	assert.Equal(t, "scheduled", out["state"])
	assertResolved(t, jsonResolved(t, out), due, local, kolkata, recipient.SourceUser, "GET shows it")

	assertOnTime(t, engine, key, due, ep, "Your order shipped", control(t, "lt-api", due), 1)
}

// The same through pushctl: prefs set --zone, schedule --local-time, and get prints how the
// local time was read. Lord Howe: a 30-minute daylight-saving shift.
func TestRecipientLocalTimeThroughPushctl(t *testing.T) {
	t.Parallel()
	user := name("lt-cli-user")
	ep := device(t, user, "lt-cli-phone")
	out, errOut, code := pushctl(t, "prefs", "set", "--user", user, "--zone", lordHowe)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "user:      "+user+"\ntime zone: "+lordHowe+" (user)\nquiet:     none\n", out)

	due := dueIn(40 * time.Second)
	local := wallClock(t, due, lordHowe)
	key := name("lt-cli-push")
	s := pushctlJSON(t, "schedule", "--key", key, "--local-time", local, "--user", user, "--title", "Your order shipped")
	assertResolved(t, jsonResolved(t, s), due, local, lordHowe, recipient.SourceUser)
	text, errOut, code := pushctl(t, "get", key)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, text, "local:     "+local+" in "+lordHowe+" (the user's zone), exact\n")
	assert.Contains(t, text, "due:       "+due.UTC().Format(time.RFC3339)+"\n")

	assertOnTime(t, s["engine"].(string), key, due, ep, "Your order shipped", control(t, "lt-cli", due), 1)
}

// Whose zone counts: the stack's default for a user without one, a device's for a user who set
// none, and the user's own over any a device reports later.
func TestRecipientLocalTimeZoneComesFromTheUserThenADeviceThenTheStack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := deviceClient(t)
	require.Equal(t, localDefaultZone, resources(t).DefaultTimeZone, "the local stack is synthesized with defaultTimeZone %s (Makefile LOCAL_CONFIG)", localDefaultZone)
	var keys []string
	t.Cleanup(func() {
		for _, k := range keys {
			_, _ = c.Cancel(ctx, k)
		}
	})
	// An hour ahead: only the resolution is looked at here (the tests above deliver).
	scheduleLocal := func(user, zoneName, source string) {
		t.Helper()
		due := dueIn(time.Hour)
		local := wallClock(t, due, zoneName)
		key := name(fmt.Sprintf("lt-zone-%d", len(keys)))
		keys = append(keys, key)
		s, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), LocalTime: local})
		require.NoError(t, err)
		assertResolved(t, scheduledResolved(s), due, local, zoneName, source)
		st, err := c.Get(ctx, key)
		require.NoError(t, err)
		assertResolved(t, statusResolved(st), due, local, zoneName, source, "Get shows it")
	}

	nobody := name("lt-default-user")
	_, found, err := c.Preferences(ctx, nobody)
	require.NoError(t, err)
	require.False(t, found)
	scheduleLocal(nobody, localDefaultZone, recipient.SourceDefault)
	status, out := call(t, "GET", "/users/"+nobody+"/preferences", "")
	require.Equal(t, 200, status)
	assert.Equal(t, map[string]any{"userId": nobody, "timeZone": localDefaultZone, "timeZoneSource": "default", "quietHours": nil}, out)

	// A fresh user's phone reports its zone when it registers.
	user := name("lt-device-user")
	_, err = c.RegisterDevice(ctx, devices.Registration{UserID: user, Token: name("lt-device-phone"), TimeZone: "America/New_York"})
	require.NoError(t, err)
	p, _, err := c.Preferences(ctx, user)
	require.NoError(t, err)
	assert.Equal(t, recipient.Preferences{TimeZone: "America/New_York", TimeZoneSource: recipient.SourceDevice}, p)
	scheduleLocal(user, "America/New_York", recipient.SourceDevice)

	// The user sets theirs: it wins over a device's report, now and later.
	_, err = c.SetPreferences(ctx, user, client.PreferencesRequest{TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	_, err = c.RegisterDevice(ctx, devices.Registration{UserID: user, Token: name("lt-device-tablet"), TimeZone: "Asia/Tokyo"})
	require.NoError(t, err)
	status, out = call(t, "POST", "/devices", `{"userId":"`+user+`","token":"`+name("lt-device-laptop")+`","timeZone":"Asia/Tokyo"}`)
	require.Equal(t, 201, status, "%v", out)
	p, _, err = c.Preferences(ctx, user)
	require.NoError(t, err)
	assert.Equal(t, recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: recipient.SourceUser}, p, "a device does not overwrite the user's zone")
	scheduleLocal(user, "Europe/Berlin", recipient.SourceUser)

	// A device registered through the HTTP API reports a zone too.
	other := name("lt-api-device-user")
	status, out = call(t, "POST", "/devices", `{"userId":"`+other+`","token":"`+name("lt-api-device-phone")+`","timeZone":"`+kolkata+`"}`)
	require.Equal(t, 201, status, "%v", out)
	status, out = call(t, "GET", "/users/"+other+"/preferences", "")
	require.Equal(t, 200, status)
	assert.Equal(t, kolkata, out["timeZone"])
	assert.Equal(t, "device", out["timeZoneSource"])
}

// --- Quiet hours ----------------------------------------------------------------------------

// A push due inside the user's quiet hours is held (Get: deferred, until when), then sent once
// when they end, never before, on time from their end, with its hold reported apart. On both
// engines.
func TestRecipientQuietHoursHoldAPushUntilTheyEnd(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newClient(t)
			user := name("quiet-hold-" + engine)
			ep := device(t, user, "quiet-hold-phone-"+engine)
			due := dueIn(20 * time.Second)
			start, end, endsAt := quietWindow(due, zone(t, kolkata))
			_, err := c.SetPreferences(ctx, user, client.PreferencesRequest{TimeZone: kolkata, QuietStart: start, QuietEnd: end})
			require.NoError(t, err)
			key := name("quiet-hold-push-" + engine)
			_, err = c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), At: due, Engine: engine})
			require.NoError(t, err)
			assertHeldUntil(t, c, engine, key, ep, due, endsAt, "quiet-hold-"+engine)
		})
	}
}

// assertHeldUntil checks a push due at due was deferred until endsAt, then sent once, on time
// from endsAt, with its hold reported apart from its lateness.
func assertHeldUntil(t *testing.T, c *client.Client, engine, key, ep string, due, endsAt time.Time, tag string) {
	t.Helper()
	st := waitState(t, c, key, client.StateDeferred, time.Until(due)+time.Minute)
	assert.True(t, st.QuietUntil.Equal(endsAt), "quietUntil %s, want %s", st.QuietUntil, endsAt)
	got, err := stack.Deliveries(context.Background(), ep)
	require.NoError(t, err)
	assert.Empty(t, got, "not sent while held")
	ctl := control(t, tag, endsAt)
	reports := assertOnTime(t, engine, key, endsAt, ep, "Your order shipped", ctl, 1)
	// A copy that reaches the sender before its due time is held for that first ("early").
	var outcomes []string
	for _, r := range reports {
		if r.Outcome != "early" {
			outcomes = append(outcomes, r.Outcome+"/"+r.Action)
		}
	}
	require.NotEmpty(t, outcomes)
	assert.Equal(t, "deferred/requeued", outcomes[0], "held first: %v", outcomes)
	assert.Equal(t, "sent/done", outcomes[len(outcomes)-1], "%v", outcomes)
	deferred := 0
	for _, l := range clockLines(t, key) {
		if l.Outcome == "deferred" {
			deferred++
			assert.Equal(t, endsAt.UTC().Format(time.RFC3339), l.QuietUntil, "the sender's line says until when")
		}
	}
	assert.Positive(t, deferred)

	st = waitState(t, c, key, client.StateSent, 30*time.Second)
	require.NotNil(t, st.Outcome)
	require.NotNil(t, st.Outcome.HeldMs, "the hold is recorded")
	held := time.Duration(*st.Outcome.HeldMs) * time.Millisecond
	assert.Greater(t, held, time.Duration(0))
	// From when the sender first held it (at due, or a little after) to the end of the quiet hours.
	assert.LessOrEqual(t, held, endsAt.Sub(due))
	assert.Greater(t, held, endsAt.Sub(due)-30*time.Second, "held from about its due time")
	require.NotNil(t, st.Outcome.LatenessMs)
	_, seen, err := stack.WaitForDeliveries(context.Background(), ep, 1, time.Minute)
	require.NoError(t, err)
	t.Logf("push %s due %s inside quiet hours to %s: held %d ms, delivered %d ms after they ended (sender's lateness %d ms)",
		key, due.Format(time.TimeOnly), endsAt.Format(time.TimeOnly), held.Milliseconds(), seen.Sub(endsAt).Milliseconds(), *st.Outcome.LatenessMs)
}

// The preference that counts is the one in force at the due time: a zone moved after the push
// was scheduled moves the quiet hours onto it, or off it.
func TestRecipientQuietHoursFollowTheZoneInForceAtTheDueTime(t *testing.T) {
	t.Parallel()
	engine := client.EngineStepFunctions
	for _, into := range []bool{true, false} {
		tag := map[bool]string{true: "moved-in", false: "moved-out"}[into]
		t.Run(tag, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newClient(t)
			user := name("quiet-zone-" + tag)
			ep := device(t, user, "quiet-zone-phone-"+tag)
			due := dueIn(20 * time.Second)
			// The window is on Kolkata's clock; in Kiritimati (8.5 h ahead) it is far from due.
			start, end, endsAt := quietWindow(due, zone(t, kolkata))
			before, after := kiritimati, kolkata
			if !into {
				before, after = kolkata, kiritimati
			}
			_, err := c.SetPreferences(ctx, user, client.PreferencesRequest{TimeZone: before, QuietStart: start, QuietEnd: end})
			require.NoError(t, err)
			key := name("quiet-zone-push-" + tag)
			_, err = c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), At: due, Engine: engine})
			require.NoError(t, err)
			p, err := c.SetPreferences(ctx, user, client.PreferencesRequest{TimeZone: after})
			require.NoError(t, err)
			require.True(t, time.Now().Before(due), "the zone moved before the due time")
			gotStart, gotEnd := p.Quiet.Clocks()
			assert.Equal(t, []string{start, end}, []string{gotStart, gotEnd}, "the quiet hours stay")
			if into {
				assertHeldUntil(t, c, engine, key, ep, due, endsAt, "quiet-zone-"+tag)
				return
			}
			reports := assertOnTime(t, engine, key, due, ep, "Your order shipped", control(t, "quiet-zone-"+tag, due), 1)
			for _, r := range reports {
				assert.NotEqual(t, "deferred", r.Outcome, "not held: %+v", reports)
			}
		})
	}
}

// A push that asks to be dropped inside quiet hours is recorded quiet and never sent; set and
// scheduled through the HTTP API.
func TestRecipientQuietHoursDropAPushThatAsksThroughTheHTTPAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user := name("quiet-drop-user")
	ep := device(t, user, "quiet-drop-phone")
	due := dueIn(20 * time.Second)
	start, end, _ := quietWindow(due, zone(t, kolkata))
	status, out := call(t, "PUT", "/users/"+user+"/preferences", `{"timeZone":"`+kolkata+`","quietHours":{"start":"`+start+`","end":"`+end+`"}}`)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, map[string]any{"start": start, "end": end}, out["quietHours"])
	key := name("quiet-drop-push")
	status, out = call(t, "POST", "/pushes", `{"key":"`+key+`","sendAt":"`+due.UTC().Format(time.RFC3339)+`","push":{"userId":"`+user+`","title":"Flash sale","quietHours":"drop"}}`)
	require.Equal(t, 201, status, "%v", out)

	reports := senderFinished(t, key, 1, time.Until(due)+time.Minute)
	require.Len(t, reports, 1, "%+v", reports)
	assert.Equal(t, "quiet", reports[0].Outcome)
	var st map[string]any
	require.NoError(t, pollUntil(30*time.Second, func() bool {
		_, st = call(t, "GET", "/pushes/"+key, "")
		return st["state"] == "quiet"
	}), "state %v", st["state"])
	assert.Equal(t, "quiet", st["outcome"].(map[string]any)["result"])
	assert.Equal(t, "drop", st["push"].(map[string]any)["quietHours"])
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Empty(t, got, "never sent: the sender is done with its only message")
}

// A push that ignores quiet hours (a security code) is sent at its due time inside them; set
// and scheduled through pushctl.
func TestRecipientQuietHoursIgnoredByAPushThroughPushctl(t *testing.T) {
	t.Parallel()
	user := name("quiet-ignore-user")
	ep := device(t, user, "quiet-ignore-phone")
	due := dueIn(20 * time.Second)
	start, end, endsAt := quietWindow(due, zone(t, kolkata))
	out, errOut, code := pushctl(t, "prefs", "set", "--user", user, "--zone", kolkata, "--quiet-start", start, "--quiet-end", end)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "quiet:     "+start+" to "+end+"\n")
	out, _, _ = pushctl(t, "prefs", "get", "--user", user)
	assert.Equal(t, "user:      "+user+"\ntime zone: "+kolkata+" (user)\nquiet:     "+start+" to "+end+"\n", out)

	key := name("quiet-ignore-push")
	s := pushctlJSON(t, "schedule", "--key", key, "--at", due.UTC().Format(time.RFC3339),
		"--push-json", `{"userId":"`+user+`","title":"Your order shipped","quietHours":"ignore"}`)
	require.True(t, due.Before(endsAt))
	reports := assertOnTime(t, s["engine"].(string), key, due, ep, "Your order shipped", control(t, "quiet-ignore", due), 1)
	for _, r := range reports {
		assert.NotEqual(t, "deferred", r.Outcome, "not held: %+v", reports)
	}
	text, _, _ := pushctl(t, "get", key)
	assert.Contains(t, text, "state:     sent\n")
	assert.NotContains(t, text, "held")
}

// pollUntil polls done every 200 ms until it holds or the timeout passes.
func pollUntil(timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// --- Frequency caps -------------------------------------------------------------------------

// Four pushes of the capped category for one user, scheduled at once to fall due together:
// exactly three are sent, the fourth is recorded capped with the cap named and never sent. A
// push exempt from caps, and one outside the category, still go.
func TestRecipientCapSendsExactlyTheCapWhenFourPushesRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	user := name("cap-user")
	ep := device(t, user, "cap-phone")
	due := dueIn(10 * time.Second)
	keys := make([]string, capLimit+1)
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i := range keys {
		keys[i] = name(fmt.Sprintf("cap-push-%d", i))
		p := shipped(user)
		p.Category = capCategory
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Schedule(ctx, client.Request{Key: keys[i], Push: p, At: due})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	allFinished(t, keys, time.Until(due)+2*time.Minute)

	states := map[string][]string{}
	for _, k := range keys {
		st, err := c.Get(ctx, k)
		require.NoError(t, err)
		states[st.State] = append(states[st.State], k)
		if st.State == client.StateCapped {
			require.NotNil(t, st.Outcome)
			assert.Equal(t, "capped", st.Outcome.Result)
			assert.Equal(t, capName, st.Outcome.Cap)
			lines := clockLines(t, k)
			require.NotEmpty(t, lines)
			assert.Equal(t, capName, lines[len(lines)-1].Cap, "the sender's line names the cap")
		}
	}
	assert.Len(t, states[client.StateSent], capLimit, "%v", states)
	assert.Len(t, states[client.StateCapped], 1, "%v", states)
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Len(t, got, capLimit, "the capped push never reached the device")
	for _, d := range got {
		assert.NotContains(t, states[client.StateCapped], d.PushID())
	}

	// Exempt, in the same category; and a push of no category (the stack has no caps of its own).
	exempt := shipped(user)
	exempt.Category, exempt.Cap = capCategory, aws.Bool(false)
	for i, p := range []push.Push{exempt, shipped(user)} {
		key := name(fmt.Sprintf("cap-free-%d", i))
		_, err := c.SendNow(ctx, key, p)
		require.NoError(t, err)
		st := waitState(t, c, key, client.StateSent, time.Minute)
		assert.Equal(t, 1, st.Outcome.Sent)
	}
	got, err = stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Len(t, got, capLimit+2)
	t.Logf("cap %s: sent %v, capped %v", capName, states[client.StateSent], states[client.StateCapped])
}

// --- Hostile input --------------------------------------------------------------------------

// Every new field, malformed, is refused at once with the field named, by the client, the HTTP
// API and pushctl alike (and the state machine, for the push's fields), and nothing is written.
func TestRecipientMalformedFieldsAreRefusedAtOnceWithTheFieldNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := deviceClient(t)

	t.Run("preferences", func(t *testing.T) {
		t.Parallel()
		user := name("hostile-prefs")
		for _, tc := range []struct {
			name, field string
			req         client.PreferencesRequest
			body        string
			flags       []string
			flag        string
		}{
			{"path as zone", recipient.FieldTimeZone, client.PreferencesRequest{TimeZone: "../../etc/passwd"},
				`{"timeZone":"../../etc/passwd"}`, []string{"--zone", "../../etc/passwd"}, "--zone"},
			{"server's zone", recipient.FieldTimeZone, client.PreferencesRequest{TimeZone: "Local"},
				`{"timeZone":"Local"}`, []string{"--zone", "Local"}, "--zone"},
			{"hour 25", recipient.FieldQuietStart, client.PreferencesRequest{QuietStart: "25:00", QuietEnd: "07:00"},
				`{"quietHours":{"start":"25:00","end":"07:00"}}`, []string{"--quiet-start", "25:00", "--quiet-end", "07:00"}, "--quiet-start"},
		} {
			_, err := c.SetPreferences(ctx, user, tc.req)
			var ie *recipient.InvalidError
			require.ErrorAs(t, err, &ie, tc.name)
			assert.Equal(t, tc.field, ie.Field, tc.name)

			status, out := call(t, "PUT", "/users/"+user+"/preferences", tc.body)
			assert.Equal(t, 400, status, "%s: %v", tc.name, out)
			code, field, _ := apiError(t, out)
			assert.Equal(t, "invalid_preferences", code, tc.name)
			assert.Equal(t, tc.field, field, tc.name)

			_, stderr, exit := pushctl(t, append([]string{"prefs", "set", "--user", user}, tc.flags...)...)
			assert.NotEqual(t, 0, exit, tc.name)
			assert.Contains(t, stderr, tc.flag, tc.name)
		}
		_, found, err := c.Preferences(ctx, user)
		require.NoError(t, err)
		assert.False(t, found, "nothing written")
	})

	t.Run("device zone", func(t *testing.T) {
		t.Parallel()
		user := name("hostile-device")
		for _, z := range []string{"../../etc/passwd", "Local"} {
			_, err := c.RegisterDevice(ctx, devices.Registration{UserID: user, Token: name("hostile-token"), TimeZone: z})
			var ie *devices.InvalidError
			require.ErrorAs(t, err, &ie, z)
			assert.Equal(t, recipient.FieldTimeZone, ie.Field, z)

			status, out := call(t, "POST", "/devices", `{"userId":"`+user+`","token":"`+name("hostile-token")+`","timeZone":"`+z+`"}`)
			assert.Equal(t, 400, status, "%s: %v", z, out)
			code, field, _ := apiError(t, out)
			assert.Equal(t, "invalid_device", code, z)
			assert.Equal(t, recipient.FieldTimeZone, field, z)

			_, stderr, exit := pushctl(t, "devices", "register", "--user", user, "--token", name("hostile-token"), "--zone", z)
			assert.NotEqual(t, 0, exit, z)
			assert.Contains(t, stderr, "timeZone", z)
		}
		list, err := c.Devices(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, list, "no device registered")
		_, found, err := c.Preferences(ctx, user)
		require.NoError(t, err)
		assert.False(t, found, "no zone written")
	})

	t.Run("local time with an offset", func(t *testing.T) {
		t.Parallel()
		user := name("hostile-local")
		const lt = "2026-12-24T09:00+01:00"
		key := name("hostile-local-push")
		_, err := c.Schedule(ctx, client.Request{Key: key, Push: shipped(user), LocalTime: lt})
		var ie *push.InvalidError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, recipient.FieldLocalTime, ie.Field)
		assert.Contains(t, err.Error(), "has a UTC offset")

		status, out := call(t, "POST", "/pushes", `{"key":"`+key+`","localTime":"`+lt+`","push":{"userId":"`+user+`","title":"t"}}`)
		assert.Equal(t, 400, status, "%v", out)
		code, field, _ := apiError(t, out)
		assert.Equal(t, "invalid_push", code)
		assert.Equal(t, recipient.FieldLocalTime, field)

		_, stderr, exit := pushctl(t, "schedule", "--key", key, "--local-time", lt, "--user", user, "--title", "t")
		assert.NotEqual(t, 0, exit)
		assert.Contains(t, stderr, "--local-time")
		assert.Contains(t, stderr, "has a UTC offset")

		_, err = c.Get(ctx, key)
		assert.ErrorIs(t, err, client.ErrNotFound, "nothing was scheduled")
	})

	// The push's own fields: the Go client takes quietHours and category (cap is a *bool in
	// Go: "yes" cannot be written there, so the state machine and the API are asked).
	for _, tc := range []struct{ field, json string }{
		{"quietHours", `"quietHours":"sometimes"`},
		{"cap", `"cap":"yes"`},
		{"category", `"category":"UPPER"`},
	} {
		t.Run("push "+tc.field, func(t *testing.T) {
			t.Parallel()
			want := "push." + tc.field
			user := name("hostile-" + tc.field)
			pushJSON := `{"userId":"` + user + `","title":"t",` + tc.json + `}`
			key := name("hostile-push-" + tc.field)
			if tc.field != "cap" {
				p := shipped(user)
				p.QuietHours = map[string]string{"quietHours": "sometimes"}[tc.field]
				p.Category = map[string]string{"category": "UPPER"}[tc.field]
				_, err := c.Schedule(ctx, client.Request{Key: key, Push: p, Delay: time.Hour})
				var ie *push.InvalidError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, want, ie.Field)
			}

			status, out := call(t, "POST", "/pushes", `{"key":"`+key+`","delaySeconds":3600,"push":`+pushJSON+`}`)
			assert.Equal(t, 400, status, "%v", out)
			code, field, _ := apiError(t, out)
			assert.Equal(t, "invalid_push", code)
			assert.Equal(t, want, field)

			_, stderr, exit := pushctl(t, "schedule", "--key", key, "--delay", "1h", "--push-json", pushJSON)
			assert.NotEqual(t, 0, exit)
			assert.Contains(t, stderr, want)

			_, err := c.Get(ctx, key)
			assert.ErrorIs(t, err, client.ErrNotFound, "nothing was scheduled")

			// StartExecution directly: the state machine's check fails it before its wait.
			exec := schedule(t, name("hostile-exec-"+tc.field), `{"delaySeconds":3600,"push":`+pushJSON+`}`)
			desc := waitStatus(t, exec.ExecutionArn, 60*time.Second)
			assert.Equal(t, sfntypes.ExecutionStatusFailed, desc.Status, "fails before any wait")
			assert.Contains(t, aws.ToString(desc.Cause), want)
		})
	}
}
