package httpapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/index"
)

// scanning is a DB of tables with the schedules table's Scan (List's).
type scanning struct {
	*ddbfake.DB
	schedules *ddbfake.Table
}

func (s scanning) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return s.schedules.Scan(ctx, in, opts...)
}

// prefsWorld is the API in JWT mode over a real client whose stack has the preferences table
// and Europe/Berlin as its default zone.
type prefsJWT struct {
	*jwtWorld
	db scanning
}

func prefsWorld() prefsJWT {
	j := newJWTWorld()
	table := ddbfake.New(index.Key)
	table.Indexes = map[string]ddbfake.Index{index.PendingIndex: {PartitionKey: index.PendingRecipient, SortKey: index.DueAt}}
	db := scanning{&ddbfake.DB{Tables: map[string]*ddbfake.Table{"s": table, "p": ddbfake.New(awsadapters.PrefsUserID)}}, table}
	c := client.NewWith(client.Resources{StateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:M", PushQueueURL: "q", SchedulesTable: "s",
		PreferencesTable: "p", DefaultTimeZone: "Europe/Berlin"}, j.sfn, j.sqs, nil, db, func() time.Time { return t0 })
	j.pushes.Pushes = c
	j.h.Preferences = c
	return prefsJWT{j, db}
}

func prefsPath(user string) map[string]string { return map[string]string{"userId": user} }

func TestPreferencesRoutes(t *testing.T) {
	w := prefsWorld()
	status, out := w.call(t, userToken("u-1"), "GET /users/{userId}/preferences", prefsPath("u-1"), "", nil)
	require.Equal(t, 200, status, out)
	assert.Equal(t, map[string]any{"userId": "u-1", "timeZone": "Europe/Berlin", "timeZoneSource": "default", "quietHours": nil}, out,
		"a user with none: the stack's zone, and the answer says so")

	status, out = w.call(t, userToken("u-1"), "PUT /users/{userId}/preferences", prefsPath("u-1"),
		`{"timeZone":"America/New_York","quietHours":{"start":"22:00","end":"07:00"}}`, nil)
	require.Equal(t, 200, status, out)
	want := map[string]any{"userId": "u-1", "timeZone": "America/New_York", "timeZoneSource": "user",
		"quietHours": map[string]any{"start": "22:00", "end": "07:00"}}
	assert.Equal(t, want, out)
	_, out = w.call(t, userToken("u-1"), "GET /users/{userId}/preferences", prefsPath("u-1"), "", nil)
	assert.Equal(t, want, out)

	_, out = w.call(t, backendToken("shop"), "PUT /users/{userId}/preferences", prefsPath("u-1"), `{"timeZone":"Asia/Kolkata"}`, nil)
	assert.Equal(t, "Asia/Kolkata", out["timeZone"], "a backend sets any user's")
	assert.Equal(t, map[string]any{"start": "22:00", "end": "07:00"}, out["quietHours"], "left out: kept")

	_, out = w.call(t, iamBackend(), "PUT /users/{userId}/preferences", prefsPath("u-1"), `{"quietHours":null}`, nil)
	assert.Nil(t, out["quietHours"], "null removes them")
	assert.Equal(t, "Asia/Kolkata", out["timeZone"])
}

func TestAUserReadsAndSetsOnlyTheirOwnPreferences(t *testing.T) {
	w := prefsWorld()
	for _, route := range []string{"GET /users/{userId}/preferences", "PUT /users/{userId}/preferences"} {
		status, out := w.call(t, userToken("u-1"), route, prefsPath("u-2"), `{"timeZone":"UTC"}`, nil)
		refusedWith(t, status, out, "the request is for")
	}
	_, out := w.call(t, backendToken("shop"), "GET /users/{userId}/preferences", prefsPath("u-2"), "", nil)
	assert.Equal(t, "default", out["timeZoneSource"], "nothing was written for u-2")
}

func TestADeviceReportsItsZoneAndTheUsersWins(t *testing.T) {
	w := prefsWorld()
	w.h.Devices = regWithZones{w.devs, &awsadapters.Preferences{Client: w.db, Table: "p"}}
	status, out := w.call(t, userToken("u-1"), "POST /devices", nil, `{"userId":"u-1","token":"tok-1","timeZone":"Asia/Kolkata"}`, nil)
	require.Equal(t, 201, status, out)
	_, out = w.call(t, userToken("u-1"), "GET /users/{userId}/preferences", prefsPath("u-1"), "", nil)
	assert.Equal(t, []any{"Asia/Kolkata", "device"}, []any{out["timeZone"], out["timeZoneSource"]})

	w.call(t, userToken("u-1"), "PUT /users/{userId}/preferences", prefsPath("u-1"), `{"timeZone":"Europe/Berlin"}`, nil)
	w.call(t, userToken("u-1"), "POST /devices", nil, `{"userId":"u-1","token":"tok-2","timeZone":"America/New_York"}`, nil)
	_, out = w.call(t, userToken("u-1"), "GET /users/{userId}/preferences", prefsPath("u-1"), "", nil)
	assert.Equal(t, []any{"Europe/Berlin", "user"}, []any{out["timeZone"], out["timeZoneSource"]})
}

// regWithZones is the fake registry that records a registration's zone as the registry does.
type regWithZones struct {
	*countingDevices
	zones devices.Zones
}

func (r regWithZones) RegisterDevice(ctx context.Context, reg devices.Registration) (devices.Result, error) {
	res, err := r.countingDevices.RegisterDevice(ctx, reg)
	if err == nil && reg.TimeZone != "" {
		err = r.zones.SetDeviceZone(ctx, reg.UserID, reg.TimeZone)
	}
	return res, err
}

func TestALocalTimeThroughTheAPI(t *testing.T) {
	w := prefsWorld()
	w.call(t, backendToken("shop"), "PUT /users/{userId}/preferences", prefsPath("u-ny"), `{"timeZone":"America/New_York"}`, nil)
	status, out := w.call(t, backendToken("shop"), "POST /pushes", nil,
		`{"key":"xmas","localTime":"2026-12-24T09:00","push":{"userId":"u-ny","title":"t","body":"b"}}`, nil)
	require.Equal(t, 201, status, out)
	assert.Equal(t, "2026-12-24T14:00:00Z", out["dueAt"])
	assert.Equal(t, []any{"2026-12-24T09:00", "America/New_York", "user", "exact"},
		[]any{out["localTime"], out["timeZone"], out["timeZoneSource"], out["resolution"]})

	status, out = w.call(t, backendToken("shop"), "GET /pushes/{key}", map[string]string{"key": "xmas"}, "", nil)
	require.Equal(t, 200, status, out)
	assert.Equal(t, []any{"2026-12-24T09:00", "America/New_York", "user", "exact"},
		[]any{out["localTime"], out["timeZone"], out["timeZoneSource"], out["resolution"]})

	status, out = w.call(t, backendToken("shop"), "PUT /pushes/{key}", map[string]string{"key": "xmas"}, `{"localTime":"2026-12-24T08:00"}`, nil)
	require.Equal(t, 200, status, out)
	assert.Equal(t, "2026-12-24T13:00:00Z", out["dueAt"])

	// A push without a time field still waits the default delay: localTime is additive.
	status, out = w.call(t, backendToken("shop"), "POST /pushes", nil, `{"key":"plain","push":{"userId":"u-ny","title":"t","body":"b"}}`, nil)
	require.Equal(t, 201, status, out)
	assert.Equal(t, t0.Add(DefaultDelay).UTC().Format(time.RFC3339), out["dueAt"])
	assert.NotContains(t, out, "localTime")
}

// Every new field refuses hostile values at once with 400 and the field named, and never
// repeats a huge value whole.
func TestNewFieldsRefuseHostileInput(t *testing.T) {
	w := prefsWorld()
	huge := strings.Repeat("A", 60<<10)
	type call struct {
		route  string
		params map[string]string
		body   string
		code   string
		field  string
	}
	pushBody := func(extra string) string {
		return `{"key":"k",` + extra + `,"push":{"userId":"u","title":"t","body":"b"}}`
	}
	k := map[string]string{"key": "k"}
	cases := []call{}
	for _, zone := range []string{`"../../etc/passwd"`, `"Local"`, `""`, `"` + huge + `"`, `"Europe/Berlin\u0000"`, `"Europe/Berlin\n"`, `"Mars/Olympus"`, `7`, `null`, `["UTC"]`} {
		cases = append(cases, call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"timeZone":` + zone + `}`, CodeInvalidPrefs, "timeZone"})
		if zone != `""` { // a registration's "" is no zone, as its other optional strings
			cases = append(cases, call{"POST /devices", nil, `{"userId":"u","token":"t","timeZone":` + zone + `}`, CodeInvalidDevice, "timeZone"})
		}
	}
	for _, clock := range []string{`"25:00"`, `"24:00"`, `"9:00"`, `"22:00:00"`, `"22:00\u0000"`, `""`, `"` + huge + `"`, `null`, `2200`} {
		cases = append(cases,
			call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":{"start":` + clock + `,"end":"07:00"}}`, CodeInvalidPrefs, "quietHours.start"},
			call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":{"start":"22:00","end":` + clock + `}}`, CodeInvalidPrefs, "quietHours.end"})
	}
	cases = append(cases,
		call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":{"start":"22:00"}}`, CodeInvalidPrefs, "quietHours.end"},
		call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":{"start":"22:00","end":"22:00"}}`, CodeInvalidPrefs, "quietHours.end"},
		call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":"22:00-07:00"}`, CodeInvalidPrefs, "quietHours"},
		call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"quietHours":{"start":"22:00","end":"07:00","days":"all"}}`, CodeInvalidRequest, "quietHours.days"},
		call{"PUT /users/{userId}/preferences", prefsPath("u"), `{"zone":"UTC"}`, CodeInvalidRequest, "zone"},
		call{"PUT /users/{userId}/preferences", prefsPath("u\n"), `{"timeZone":"UTC"}`, CodeInvalidPrefs, "userId"},
	)
	for _, lt := range []string{`"2026-12-24T25:00"`, `"2026-12-24T09:00Z"`, `"2026-12-24T09:00+01:00"`, `"2027-02-30T09:00"`, `"../../etc/passwd"`,
		`"` + huge + `"`, `"2026-12-24T09:00\u0000"`, `""`, `null`, `1766566800`} {
		cases = append(cases,
			call{"POST /pushes", nil, pushBody(`"localTime":` + lt), CodeInvalidPush, "localTime"},
			call{"PUT /pushes/{key}", k, `{"localTime":` + lt + `}`, CodeInvalidPush, "localTime"})
	}
	cases = append(cases,
		call{"POST /pushes", nil, pushBody(`"localTime":"2026-12-24T09:00","delaySeconds":60`), CodeInvalidPush, "localTime"},
		call{"POST /pushes", nil, pushBody(`"localTime":"2026-12-24T09:00","sendAt":"2026-12-24T09:00:00Z"`), CodeInvalidPush, "localTime"},
		call{"POST /pushes", nil, `{"key":"k","localTime":"2026-12-24T09:00","push":{"endpointArn":"arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/a/1","title":"t","body":"b"}}`, CodeInvalidPush, "localTime"},
		call{"PUT /pushes/{key}", k, `{"localTime":"2026-12-24T09:00","now":true}`, CodeInvalidPush, "now"},
	)
	for _, c := range cases {
		status, out := w.call(t, backendToken("shop"), c.route, c.params, c.body, nil)
		require.Equal(t, 400, status, "%s %.80s: %v", c.route, c.body, out)
		code, field, msg := problem(t, out)
		assert.Equal(t, c.code, code, "%s %.80s", c.route, c.body)
		assert.Equal(t, c.field, field, "%s %.80s: %s", c.route, c.body, msg)
		assert.Less(t, len(msg), 400, "%s %.80s", c.route, c.body)
	}
	assert.Empty(t, w.sfn.inputs, "nothing was scheduled")
	_, out := w.call(t, backendToken("shop"), "GET /users/{userId}/preferences", prefsPath("u"), "", nil)
	assert.Equal(t, "default", out["timeZoneSource"], "nothing was written")
}
