package recipient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := recipient.Zone(name)
	require.NoError(t, err)
	return loc
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

func resolve(t *testing.T, local, zoneName string) (time.Time, recipient.Resolution) {
	t.Helper()
	l, err := recipient.ParseLocalTime(local)
	require.NoError(t, err)
	return l.Resolve(zone(t, zoneName))
}

const (
	exact = recipient.Exact
	gap   = recipient.GapShifted
	twice = recipient.AmbiguousFirst
)

// Each case: the zone, the local time, the UTC instant it goes at and how it was found. The
// transitions are those of TestTransitionsOf2026And2027AreGosDatabase.
func TestResolveAcrossTheDaylightSavingChangesOf2026And2027(t *testing.T) {
	for _, tc := range []struct {
		zone, local, want string
		how               recipient.Resolution
	}{
		// New York, EST -05 / EDT -04. Spring forward 02:00 -> 03:00: 02:00..02:59:59 do not exist.
		{"America/New_York", "2026-03-08T01:59", "2026-03-08T06:59:00Z", exact},
		{"America/New_York", "2026-03-08T01:59:59", "2026-03-08T06:59:59Z", exact},
		{"America/New_York", "2026-03-08T02:00", "2026-03-08T07:00:00Z", gap},
		{"America/New_York", "2026-03-08T02:30", "2026-03-08T07:00:00Z", gap}, // time.Date: 06:30Z, an hour early
		{"America/New_York", "2026-03-08T02:59:59", "2026-03-08T07:00:00Z", gap},
		{"America/New_York", "2026-03-08T03:00", "2026-03-08T07:00:00Z", exact},
		{"America/New_York", "2026-03-08T09:00", "2026-03-08T13:00:00Z", exact},
		// Fall back 02:00 -> 01:00: 01:00..01:59:59 exist twice, first in EDT.
		{"America/New_York", "2026-11-01T00:59:59", "2026-11-01T04:59:59Z", exact},
		{"America/New_York", "2026-11-01T01:00", "2026-11-01T05:00:00Z", twice},
		{"America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00Z", twice},
		{"America/New_York", "2026-11-01T01:59:59", "2026-11-01T05:59:59Z", twice},
		{"America/New_York", "2026-11-01T02:00", "2026-11-01T07:00:00Z", exact},
		{"America/New_York", "2026-12-24T09:00", "2026-12-24T14:00:00Z", exact},
		{"America/New_York", "2027-03-14T02:30", "2027-03-14T07:00:00Z", gap},
		{"America/New_York", "2027-03-14T09:00", "2027-03-14T13:00:00Z", exact},
		{"America/New_York", "2027-11-07T01:30", "2027-11-07T05:30:00Z", twice},
		{"America/New_York", "2027-11-07T09:00", "2027-11-07T14:00:00Z", exact},

		// Berlin, CET +01 / CEST +02. Spring forward 02:00 -> 03:00.
		{"Europe/Berlin", "2026-03-29T01:59", "2026-03-29T00:59:00Z", exact},
		{"Europe/Berlin", "2026-03-29T02:00", "2026-03-29T01:00:00Z", gap},
		{"Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:00:00Z", gap}, // time.Date: 01:30Z (03:30 CEST)
		{"Europe/Berlin", "2026-03-29T03:00", "2026-03-29T01:00:00Z", exact},
		// Fall back 03:00 -> 02:00: 02:00..02:59:59 exist twice, first in CEST.
		{"Europe/Berlin", "2026-10-25T01:59", "2026-10-24T23:59:00Z", exact},
		{"Europe/Berlin", "2026-10-25T02:00", "2026-10-25T00:00:00Z", twice},
		{"Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30:00Z", twice}, // time.Date: 01:30Z, the second
		{"Europe/Berlin", "2026-10-25T03:00", "2026-10-25T02:00:00Z", exact},
		{"Europe/Berlin", "2026-12-24T09:00", "2026-12-24T08:00:00Z", exact},
		{"Europe/Berlin", "2027-03-28T02:30", "2027-03-28T01:00:00Z", gap},
		{"Europe/Berlin", "2027-10-31T02:30", "2027-10-31T00:30:00Z", twice},
		{"Europe/Berlin", "2027-10-31T03:00", "2027-10-31T02:00:00Z", exact},

		// Lord Howe, +10:30 / +11, a 30-minute shift. April: 02:00 +11 -> 01:30 +10:30, so
		// 01:30..01:59:59 exist twice; October: 02:00 +10:30 -> 02:30 +11, 02:00..02:29:59 do not exist.
		{"Australia/Lord_Howe", "2026-04-05T01:29", "2026-04-04T14:29:00Z", exact},
		{"Australia/Lord_Howe", "2026-04-05T01:30", "2026-04-04T14:30:00Z", twice},
		{"Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-04T14:45:00Z", twice}, // time.Date: 15:15Z, the second
		{"Australia/Lord_Howe", "2026-04-05T02:00", "2026-04-04T15:30:00Z", exact},
		{"Australia/Lord_Howe", "2026-10-04T01:59", "2026-10-03T15:29:00Z", exact},
		{"Australia/Lord_Howe", "2026-10-04T02:00", "2026-10-03T15:30:00Z", gap},
		{"Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:30:00Z", gap}, // time.Date: 15:45Z
		{"Australia/Lord_Howe", "2026-10-04T02:29:59", "2026-10-03T15:30:00Z", gap},
		{"Australia/Lord_Howe", "2026-10-04T02:30", "2026-10-03T15:30:00Z", exact},
		{"Australia/Lord_Howe", "2026-12-24T09:00", "2026-12-23T22:00:00Z", exact},
		{"Australia/Lord_Howe", "2027-04-04T01:45", "2027-04-03T14:45:00Z", twice},
		{"Australia/Lord_Howe", "2027-04-04T02:00", "2027-04-03T15:30:00Z", exact},
		{"Australia/Lord_Howe", "2027-10-03T02:15", "2027-10-02T15:30:00Z", gap},
		{"Australia/Lord_Howe", "2027-10-03T09:00", "2027-10-02T22:00:00Z", exact},

		// Kolkata, +05:30 all year: the others' transition days change nothing.
		{"Asia/Kolkata", "2026-03-08T02:30", "2026-03-07T21:00:00Z", exact},
		{"Asia/Kolkata", "2026-03-29T02:30", "2026-03-28T21:00:00Z", exact},
		{"Asia/Kolkata", "2026-10-25T02:30", "2026-10-24T21:00:00Z", exact},
		{"Asia/Kolkata", "2026-11-01T01:30", "2026-10-31T20:00:00Z", exact},
		{"Asia/Kolkata", "2026-12-24T09:00", "2026-12-24T03:30:00Z", exact},
		{"Asia/Kolkata", "2027-03-14T02:30", "2027-03-13T21:00:00Z", exact},
		{"Asia/Kolkata", "2027-11-07T01:30", "2027-11-06T20:00:00Z", exact},

		// Kiritimati, +14 all year: the local date is a day ahead of UTC's.
		{"Pacific/Kiritimati", "2026-01-01T00:00", "2025-12-31T10:00:00Z", exact},
		{"Pacific/Kiritimati", "2026-03-08T02:30", "2026-03-07T12:30:00Z", exact},
		{"Pacific/Kiritimati", "2026-10-25T02:30", "2026-10-24T12:30:00Z", exact},
		{"Pacific/Kiritimati", "2026-12-24T09:00", "2026-12-23T19:00:00Z", exact},
		{"Pacific/Kiritimati", "2027-03-28T02:30", "2027-03-27T12:30:00Z", exact},
		{"Pacific/Kiritimati", "2027-11-07T01:30", "2027-11-06T11:30:00Z", exact},
		// A whole day skipped: Kiritimati went from -10 to +14 after 1994-12-30.
		{"Pacific/Kiritimati", "1994-12-31T12:00", "1994-12-31T10:00:00Z", gap},
		{"Pacific/Apia", "2011-12-30T09:00", "2011-12-30T10:00:00Z", gap},

		{"UTC", "2026-03-08T02:30:15", "2026-03-08T02:30:15Z", exact},
	} {
		t.Run(tc.zone+" "+tc.local, func(t *testing.T) {
			got, how := resolve(t, tc.local, tc.zone)
			assert.Equal(t, utc(t, tc.want), got)
			assert.Equal(t, time.UTC, got.Location())
			assert.Equal(t, tc.how, how)
		})
	}
}

// The same wall clock in two zones is two instants: a recipient who moves between scheduling
// and the due time gets the push at 09:00 where the push was resolved, since the instant is
// fixed at scheduling (quiet hours, below, are judged in the zone in force when it is due).
func TestTheSameLocalTimeIsADifferentInstantInEachZone(t *testing.T) {
	l, err := recipient.ParseLocalTime("2026-12-24T09:00")
	require.NoError(t, err)
	berlin, _ := l.Resolve(zone(t, "Europe/Berlin"))
	kiritimati, _ := l.Resolve(zone(t, "Pacific/Kiritimati"))
	newYork, _ := l.Resolve(zone(t, "America/New_York"))
	assert.Equal(t, utc(t, "2026-12-24T08:00:00Z"), berlin)
	assert.Equal(t, utc(t, "2026-12-23T19:00:00Z"), kiritimati)
	assert.Equal(t, utc(t, "2026-12-24T14:00:00Z"), newYork)
}

func TestResolveWithoutAZoneIsUTC(t *testing.T) {
	l, err := recipient.ParseLocalTime("2026-03-08T02:30")
	require.NoError(t, err)
	got, how := l.Resolve(nil)
	assert.Equal(t, utc(t, "2026-03-08T02:30:00Z"), got)
	assert.Equal(t, exact, how)
}

func TestParseLocalTimeKeepsItsForm(t *testing.T) {
	for _, s := range []string{"2026-12-24T09:00", "2026-12-24T09:00:30", "2026-12-24T09:00:00", "2028-02-29T23:59:59", "0001-01-01T00:00", "9999-12-31T23:59"} {
		l, err := recipient.ParseLocalTime(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, l.String())
		assert.False(t, l.IsZero())
	}
	assert.True(t, recipient.LocalTime{}.IsZero())
}

func TestParseLocalTimeRefusesWithTheValueNamed(t *testing.T) {
	const form = "want YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, like 2026-12-24T09:00"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "is required: YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, like 2026-12-24T09:00"},
		{"Z", "2026-12-24T09:00:00Z", `"2026-12-24T09:00:00Z" has a UTC offset ("Z"): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt`},
		{"Z without seconds", "2026-12-24T09:00Z", `"2026-12-24T09:00Z" has a UTC offset ("Z"): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt`},
		{"offset", "2026-12-24T09:00:00+01:00", `"2026-12-24T09:00:00+01:00" has a UTC offset ("+01:00"): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt`},
		{"negative offset", "2026-12-24T09:00-05:00", `"2026-12-24T09:00-05:00" has a UTC offset ("-05:00"): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt`},
		{"fraction", "2026-12-24T09:00:00.5", `"2026-12-24T09:00:00.5" has a fraction of a second: localTime counts whole seconds (YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, like 2026-12-24T09:00)`},
		{"no such day", "2027-02-30T09:00", `"2027-02-30T09:00" is not a date: February 2027 has 28 days`},
		{"not a leap year", "2027-02-29T09:00", `"2027-02-29T09:00" is not a date: February 2027 has 28 days`},
		{"day 31 of a 30-day month", "2026-04-31T09:00", `"2026-04-31T09:00" is not a date: April 2026 has 30 days`},
		{"day 00", "2026-12-00T09:00", `"2026-12-00T09:00" is not a date: December 2026 has 31 days`},
		{"month 13", "2026-13-01T09:00", `"2026-13-01T09:00" is not a date: months are 01..12`},
		{"month 00", "2026-00-01T09:00", `"2026-00-01T09:00" is not a date: months are 01..12`},
		{"24:00", "2026-12-24T24:00", `"2026-12-24T24:00" is not a time of day: hours are 00..23 (midnight is 00:00 of the next day)`},
		{"25:00", "2026-12-24T25:00", `"2026-12-24T25:00" is not a time of day: hours are 00..23 (midnight is 00:00 of the next day)`},
		{"minute 60", "2026-12-24T09:60", `"2026-12-24T09:60" is not a time of day: minutes are 00..59`},
		{"leap second", "2026-12-31T23:59:60", `"2026-12-31T23:59:60" is not a time of day: seconds are 00..59`},
		{"date only", "2026-12-24", `"2026-12-24" is not a local date and time: ` + form},
		{"space for T", "2026-12-24 09:00", `"2026-12-24 09:00" is not a local date and time: ` + form},
		{"lower-case t", "2026-12-24t09:00", `"2026-12-24t09:00" is not a local date and time: ` + form},
		{"one-digit hour", "2026-12-24T9:00", `"2026-12-24T9:00" is not a local date and time: ` + form},
		{"one-digit month", "2026-1-24T09:00", `"2026-1-24T09:00" is not a local date and time: ` + form},
		{"five-digit year", "20260-12-24T09:00", `"20260-12-24T09:00" is not a local date and time: ` + form},
		{"negative year", "-2026-12-24T09:00", `"-2026-12-24T09:00" is not a local date and time: ` + form},
		{"a zone name after it", "2026-12-24T09:00 Europe/Berlin", `"2026-12-24T09:00 Europe/Berlin" is not a local date and time: ` + form},
		{"a bracketed zone", "2026-12-24T09:00[Europe/Berlin]", `"2026-12-24T09:00[Europe/Berlin]" is not a local date and time: ` + form},
		{"one-digit seconds", "2026-12-24T09:00:5", `"2026-12-24T09:00:5" is not a local date and time: ` + form},
		{"padded", " 2026-12-24T09:00", `" 2026-12-24T09:00" is not a local date and time: ` + form},
		{"trailing newline", "2026-12-24T09:00\n", `"2026-12-24T09:00\n" is not a local date and time: ` + form},
		{"NUL", "2026-12-24T09:00\x00", `"2026-12-24T09:00\u0000" is not a local date and time: ` + form},
		{"non-ASCII digits", "２０２６-12-24T09:00", `"２０２６-12-24T09:00" is not a local date and time: ` + form},
		{"Unix seconds", "1798102800", `"1798102800" is not a local date and time: ` + form},
		{"huge", "2026-12-24T09:00" + strings.Repeat("0", 1<<20), `"2026-12-24T09:00000000000000000000000000"… is not a local date and time: ` + form},
		{"huge garbage", strings.Repeat("\x01", 1<<20), `"\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001"… is not a local date and time: ` + form},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := recipient.ParseLocalTime(tc.in)
			assert.True(t, l.IsZero())
			var ie *recipient.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, recipient.FieldLocalTime, ie.Field)
			assert.Equal(t, tc.want, ie.Reason)
		})
	}
}
