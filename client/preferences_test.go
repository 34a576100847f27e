package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/internal/awsadapters"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/recipient"
)

// prefsWorld is a world whose stack has the preferences table and the given default zone.
func prefsWorld(defaultZone string) *world {
	res := resources()
	res.PreferencesTable, res.DefaultTimeZone = "preferences", defaultZone
	w := &world{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), sqs: &fakeSQS{}, sched: newWorld().sched}
	w.table = ddbfake.New(index.Key)
	w.table.Indexes = map[string]ddbfake.Index{index.PendingIndex: {PartitionKey: index.PendingRecipient, SortKey: index.DueAt}}
	db := &ddbfake.DB{Tables: map[string]*ddbfake.Table{"schedules": w.table, "preferences": ddbfake.New(awsadapters.PrefsUserID)}}
	clock := func() time.Time { return w.now }
	w.sfn = &fakeSFN{execs: map[string]*execution{}, now: clock}
	w.c = client.NewWith(res, w.sfn, w.sqs, w.sched, scanning{db, w.table}, clock)
	w.sender = &awsadapters.Schedules{Client: w.table, Table: "schedules"}
	return w
}

// scanning is the two tables, with List's Scan of the schedules table (a DB has no Scan).
type scanning struct {
	*ddbfake.DB
	schedules *ddbfake.Table
}

func (s scanning) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return s.schedules.Scan(ctx, in, opts...)
}

func quietHours(t *testing.T, start, end string) recipient.QuietHours {
	t.Helper()
	q, err := recipient.ParseQuietHours(start, end)
	require.NoError(t, err)
	return q
}

func TestPreferencesAreSetAndReadBack(t *testing.T) {
	w := prefsWorld("UTC")
	_, found, err := w.c.Preferences(ctx, "u-1")
	require.NoError(t, err)
	assert.False(t, found)

	p, err := w.c.SetPreferences(ctx, "u-1", client.PreferencesRequest{TimeZone: "Europe/Berlin", QuietStart: "22:00", QuietEnd: "07:00"})
	require.NoError(t, err)
	want := recipient.Preferences{TimeZone: "Europe/Berlin", TimeZoneSource: "user", Quiet: quietHours(t, "22:00", "07:00")}
	assert.Equal(t, want, p)

	p, err = w.c.SetPreferences(ctx, "u-1", client.PreferencesRequest{TimeZone: "Asia/Kolkata"})
	require.NoError(t, err)
	assert.Equal(t, "22:00-07:00", p.Quiet.String(), "quiet hours not given are kept")
	assert.Equal(t, "Asia/Kolkata", p.TimeZone)

	p, err = w.c.SetPreferences(ctx, "u-1", client.PreferencesRequest{NoQuietHours: true})
	require.NoError(t, err)
	assert.Equal(t, recipient.Preferences{TimeZone: "Asia/Kolkata", TimeZoneSource: "user"}, p, "removed; the zone kept")

	got, found, err := w.c.Preferences(ctx, "u-1")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, p, got)
}

func TestPreferencesAreRefusedWithTheFieldNamed(t *testing.T) {
	w := prefsWorld("UTC")
	for _, c := range []struct {
		r     client.PreferencesRequest
		field string
	}{
		{client.PreferencesRequest{TimeZone: "../../etc/passwd"}, "timeZone"},
		{client.PreferencesRequest{TimeZone: "Local"}, "timeZone"},
		{client.PreferencesRequest{TimeZone: strings.Repeat("Europe/", 1<<17)}, "timeZone"},
		{client.PreferencesRequest{QuietStart: "25:00", QuietEnd: "07:00"}, "quietHours.start"},
		{client.PreferencesRequest{QuietStart: "22:00"}, "quietHours.end"},
		{client.PreferencesRequest{QuietStart: "22:00", QuietEnd: "07:00\x00"}, "quietHours.end"},
		{client.PreferencesRequest{QuietStart: "22:00", QuietEnd: "07:00", NoQuietHours: true}, "quietHours"},
	} {
		_, err := w.c.SetPreferences(ctx, "u-1", c.r)
		var ie *recipient.InvalidError
		require.ErrorAs(t, err, &ie, "%+v", c.r)
		assert.Equal(t, c.field, ie.Field)
		assert.Less(t, len(err.Error()), 300, "a refused value is not repeated whole")
	}
	_, err := w.c.SetPreferences(ctx, "a\nb", client.PreferencesRequest{TimeZone: "UTC"})
	var ie *recipient.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "userId", ie.Field)

	_, err = newWorld().c.SetPreferences(ctx, "u-1", client.PreferencesRequest{TimeZone: "UTC"})
	assert.ErrorContains(t, err, "PreferencesTableName", "a stack without the table says so")
}

func TestALocalTimeIsReadOnTheUsersClock(t *testing.T) {
	w := prefsWorld("Europe/Berlin")
	_, err := w.c.SetPreferences(ctx, "u-ny", client.PreferencesRequest{TimeZone: "America/New_York"})
	require.NoError(t, err)

	s, err := w.c.Schedule(ctx, client.Request{Key: "xmas-ny", Push: reminder("u-ny"), LocalTime: "2026-12-24T09:00"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 24, 14, 0, 0, 0, time.UTC), s.DueAt.UTC())
	assert.Equal(t, []string{"2026-12-24T09:00", "America/New_York", "user", "exact"}, []string{s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution})
	assert.Contains(t, w.sfn.execs["xmas-ny"].input, `"sendAt":"2026-12-24T14:00:00Z"`, "the engines get the instant")

	// A user without a zone: the stack's default, and the answer says so.
	s, err = w.c.Schedule(ctx, client.Request{Key: "xmas-x", Push: reminder("u-x"), LocalTime: "2026-12-24T09:00"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 24, 8, 0, 0, 0, time.UTC), s.DueAt.UTC())
	assert.Equal(t, []string{"Europe/Berlin", "default"}, []string{s.TimeZone, s.TimeZoneSource})

	// Get shows it.
	st, err := w.c.Get(ctx, "xmas-ny")
	require.NoError(t, err)
	assert.Equal(t, []string{"2026-12-24T09:00", "America/New_York", "user", "exact"}, []string{st.LocalTime, st.TimeZone, st.TimeZoneSource, st.Resolution})
}

func TestALocalTimeAcrossDaylightSavingChanges(t *testing.T) {
	w := prefsWorld("UTC")
	w.now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_, err := w.c.SetPreferences(ctx, "u-ny", client.PreferencesRequest{TimeZone: "America/New_York"})
	require.NoError(t, err)
	s, err := w.c.Schedule(ctx, client.Request{Key: "gap", Push: reminder("u-ny"), LocalTime: "2026-03-08T02:30"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), s.DueAt.UTC(), "the first valid minute after the gap: 03:00 EDT")
	assert.Equal(t, "gap-shifted", s.Resolution)

	s, err = w.c.Schedule(ctx, client.Request{Key: "overlap", Push: reminder("u-ny"), LocalTime: "2026-11-01T01:30", Engine: client.EngineEconomy})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), s.DueAt.UTC(), "the first 01:30, EDT")
	assert.Equal(t, "ambiguous-first", s.Resolution)
	assert.Equal(t, client.EngineEconomy, s.Engine)
}

// The hash is of what was asked: the same local time again is the same request, even after
// the user's zone changed; another local time is a conflict.
func TestALocalTimeRetriedIsScheduledOnce(t *testing.T) {
	w := prefsWorld("UTC")
	req := client.Request{Key: "k", Push: reminder("u-1"), LocalTime: "2026-12-24T09:00"}
	first, err := w.c.Schedule(ctx, req)
	require.NoError(t, err)
	_, err = w.c.SetPreferences(ctx, "u-1", client.PreferencesRequest{TimeZone: "Pacific/Kiritimati"})
	require.NoError(t, err)
	again, err := w.c.Schedule(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.AlreadyScheduled)
	assert.Equal(t, first.DueAt, again.DueAt)
	assert.Equal(t, "UTC", again.TimeZone, "as resolved the first time")
	assert.Equal(t, 1, w.sfn.starts)

	req.LocalTime = "2026-12-24T10:00"
	_, err = w.c.Schedule(ctx, req)
	assert.ErrorIs(t, err, client.ErrConflict)

	// The same instant asked as sendAt is another request.
	_, err = w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u-1"), At: first.DueAt})
	assert.ErrorIs(t, err, client.ErrConflict)
}

func TestRescheduleToALocalTimeAndBack(t *testing.T) {
	w := prefsWorld("UTC")
	_, err := w.c.SetPreferences(ctx, "u-1", client.PreferencesRequest{TimeZone: "Australia/Lord_Howe"})
	require.NoError(t, err)
	_, err = w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u-1"), Delay: time.Hour})
	require.NoError(t, err)

	s, err := w.c.Reschedule(ctx, "k", client.Change{LocalTime: "2027-04-04T01:45"})
	require.NoError(t, err)
	// Lord Howe falls back 30 minutes at 02:00 (+11) on 4 April 2027: 01:45 is read twice.
	assert.Equal(t, time.Date(2027, 4, 3, 14, 45, 0, 0, time.UTC), s.DueAt.UTC())
	assert.Equal(t, []string{"Australia/Lord_Howe", "user", "ambiguous-first"}, []string{s.TimeZone, s.TimeZoneSource, s.Resolution})

	// New content, same time: the local time stays.
	p := reminder("u-1")
	p.Title = "New title"
	s, err = w.c.Reschedule(ctx, "k", client.Change{Push: &p})
	require.NoError(t, err)
	assert.Equal(t, "2027-04-04T01:45", s.LocalTime)
	st, err := w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "2027-04-04T01:45", st.LocalTime)

	s, err = w.c.Reschedule(ctx, "k", client.Change{Delay: 2 * time.Hour})
	require.NoError(t, err)
	assert.Empty(t, s.LocalTime)
	st, err = w.c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []string{"", "", "", ""}, []string{st.LocalTime, st.TimeZone, st.TimeZoneSource, st.Resolution}, "the row forgets the local time")
}

func TestALocalTimeIsRefusedWithTheFieldNamed(t *testing.T) {
	w := prefsWorld("UTC")
	endpoint := push.Push{EndpointARN: "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/1", Title: "t", Body: "b"}
	for _, c := range []struct {
		r     client.Request
		field string
		words string
	}{
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T09:00Z"}, "localTime", "UTC offset"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T25:00"}, "localTime", "hours are 00..23"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2027-02-30T09:00"}, "localTime", "has 28 days"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "../../etc/passwd"}, "localTime", "not a local date and time"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: strings.Repeat("2026-12-24T09:00", 1<<16)}, "localTime", "…"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T09:00\x00"}, "localTime", "not a local date and time"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T09:00", Delay: time.Hour}, "localTime", "exactly one"},
		{client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T09:00", At: w.now.Add(time.Hour)}, "localTime", "exactly one"},
		{client.Request{Key: "k", Push: endpoint, LocalTime: "2026-12-24T09:00"}, "localTime", "needs push.userId"},
	} {
		_, err := w.c.Schedule(ctx, c.r)
		var ie *push.InvalidError
		require.ErrorAs(t, err, &ie, "%+v", c.r.LocalTime)
		assert.Equal(t, c.field, ie.Field)
		assert.Contains(t, ie.Reason, c.words)
		assert.Less(t, len(ie.Reason), 400)
	}
	assert.Zero(t, w.sfn.starts)
	_, err := w.c.Reschedule(ctx, "k", client.Change{LocalTime: "2026-12-24T09:00", Now: true})
	assert.Error(t, err)
}

func TestWithoutThePreferencesTableALocalTimeIsReadInTheDefaultZone(t *testing.T) {
	w := newWorld() // no PreferencesTable, no DefaultTimeZone: a stack before the setting
	s, err := w.c.Schedule(ctx, client.Request{Key: "k", Push: reminder("u"), LocalTime: "2026-12-24T09:00"})
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC), s.DueAt.UTC())
	assert.Equal(t, []string{"UTC", "default"}, []string{s.TimeZone, s.TimeZoneSource})
}
