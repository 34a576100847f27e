package recipient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

func quiet(t *testing.T, start, end string) recipient.QuietHours {
	t.Helper()
	q, err := recipient.ParseQuietHours(start, end)
	require.NoError(t, err)
	return q
}

// at is a wall-clock time in a zone that exists once (the tests' times are chosen so).
func at(t *testing.T, zoneName, local string) time.Time {
	t.Helper()
	got, how := resolve(t, local, zoneName)
	require.Equal(t, exact, how, "%s %s", zoneName, local)
	return got
}

func TestQuietHoursContainsStartButNotEnd(t *testing.T) {
	night := quiet(t, "22:00", "07:00") // spans midnight
	lunch := quiet(t, "12:00", "13:30")
	for _, tc := range []struct {
		q     recipient.QuietHours
		local string
		want  bool
	}{
		{night, "2026-12-24T21:59:59", false},
		{night, "2026-12-24T22:00", true},
		{night, "2026-12-24T23:59:59", true},
		{night, "2026-12-25T00:00", true},
		{night, "2026-12-25T06:59:59", true},
		{night, "2026-12-25T07:00", false},
		{night, "2026-12-25T12:00", false},
		{lunch, "2026-12-24T11:59:59", false},
		{lunch, "2026-12-24T12:00", true},
		{lunch, "2026-12-24T13:29:59", true},
		{lunch, "2026-12-24T13:30", false},
		{lunch, "2026-12-24T23:00", false},
		{quiet(t, "00:00", "23:59"), "2026-12-24T23:58:59", true},
		{quiet(t, "00:00", "23:59"), "2026-12-24T23:59", false},
		{quiet(t, "23:59", "00:00"), "2026-12-24T23:59:30", true},
		{quiet(t, "23:59", "00:00"), "2026-12-25T00:00", false},
		{recipient.QuietHours{}, "2026-12-24T03:00", false},
	} {
		t.Run(tc.q.String()+" at "+tc.local, func(t *testing.T) {
			for _, z := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Kiritimati"} {
				assert.Equal(t, tc.want, tc.q.Contains(at(t, z, tc.local), zone(t, z)), z)
			}
		})
	}
}

// Each case: the zone, the window, when the push is due (local, or a UTC instant for a wall
// clock that exists twice) and the UTC instant the window ends. The transitions are those of
// TestTransitionsOf2026And2027AreGosDatabase.
func TestQuietHoursEndIsExactAcrossDaylightSavingChanges(t *testing.T) {
	for _, tc := range []struct {
		name, zone, start, end, due, want string
	}{
		// A night that spans the change ends when the clock reads 07:00, not 9 hours later.
		{"New York spring night is 8 hours", "America/New_York", "22:00", "07:00", "2026-03-07T23:00", "2026-03-08T11:00:00Z"},
		{"New York fall night is 10 hours", "America/New_York", "22:00", "07:00", "2026-10-31T23:00", "2026-11-01T12:00:00Z"},
		{"New York spring 2027", "America/New_York", "22:00", "07:00", "2027-03-13T23:00", "2027-03-14T11:00:00Z"},
		{"New York fall 2027", "America/New_York", "22:00", "07:00", "2027-11-06T23:00", "2027-11-07T12:00:00Z"},
		{"Berlin spring", "Europe/Berlin", "22:00", "07:00", "2026-03-28T23:00", "2026-03-29T05:00:00Z"},
		{"Berlin fall", "Europe/Berlin", "22:00", "07:00", "2026-10-24T23:00", "2026-10-25T06:00:00Z"},
		{"Berlin spring 2027", "Europe/Berlin", "22:00", "07:00", "2027-03-27T23:00", "2027-03-28T05:00:00Z"},
		{"Berlin fall 2027", "Europe/Berlin", "22:00", "07:00", "2027-10-30T23:00", "2027-10-31T06:00:00Z"},
		{"Lord Howe October: 30 minutes shorter", "Australia/Lord_Howe", "22:00", "07:00", "2026-10-03T22:00", "2026-10-03T20:00:00Z"},
		{"Lord Howe April: 30 minutes longer", "Australia/Lord_Howe", "22:00", "07:00", "2026-04-04T22:00", "2026-04-04T20:30:00Z"},
		{"Lord Howe October 2027", "Australia/Lord_Howe", "22:00", "07:00", "2027-10-02T22:00", "2027-10-02T20:00:00Z"},
		{"Lord Howe April 2027", "Australia/Lord_Howe", "22:00", "07:00", "2027-04-03T22:00", "2027-04-03T20:30:00Z"},
		{"Kolkata across midnight", "Asia/Kolkata", "22:00", "07:00", "2026-12-24T23:00", "2026-12-25T01:30:00Z"},
		{"Kolkata after midnight", "Asia/Kolkata", "22:00", "07:00", "2026-12-25T03:00", "2026-12-25T01:30:00Z"},
		{"Kiritimati a second before the end", "Pacific/Kiritimati", "22:00", "07:00", "2026-12-24T06:59:59", "2026-12-23T17:00:00Z"},
		{"Kiritimati across the year", "Pacific/Kiritimati", "22:00", "07:00", "2026-12-31T22:30", "2026-12-31T17:00:00Z"},
		{"a window inside one day", "Europe/Berlin", "12:00", "13:30", "2026-12-24T12:00", "2026-12-24T12:30:00Z"},
		{"across the end of a month", "Europe/Berlin", "22:00", "07:00", "2027-02-28T23:00", "2027-03-01T06:00:00Z"},

		// An end the clocks skip: the transition, the first instant after it.
		{"New York end in the gap", "America/New_York", "22:00", "02:30", "2026-03-07T23:00", "2026-03-08T07:00:00Z"},
		{"New York end at the gap's start", "America/New_York", "00:00", "02:00", "2026-03-08T01:00", "2026-03-08T07:00:00Z"},
		{"Berlin end in the gap", "Europe/Berlin", "23:00", "02:30", "2026-03-29T01:30", "2026-03-29T01:00:00Z"},
		{"Lord Howe end in the 30-minute gap", "Australia/Lord_Howe", "22:00", "02:15", "2026-10-03T23:00", "2026-10-03T15:30:00Z"},
		{"Lord Howe end in the gap 2027", "Australia/Lord_Howe", "22:00", "02:15", "2027-10-02T23:00", "2027-10-02T15:30:00Z"},
		// A start the clocks skip: quiet from the transition on.
		{"New York start in the gap", "America/New_York", "02:30", "05:00", "2026-03-08T03:00", "2026-03-08T09:00:00Z"},

		// An end the clocks repeat: its first occurrence.
		{"New York end in the overlap", "America/New_York", "22:00", "01:30", "2026-10-31T23:00", "2026-11-01T05:30:00Z"},
		{"Berlin end in the overlap", "Europe/Berlin", "23:00", "02:30", "2026-10-24T23:30", "2026-10-25T00:30:00Z"},
		{"Lord Howe end in the 30-minute overlap", "Australia/Lord_Howe", "22:00", "01:45", "2026-04-04T23:00", "2026-04-04T14:45:00Z"},
		{"Lord Howe end in the overlap 2027", "Australia/Lord_Howe", "22:00", "01:45", "2027-04-03T23:00", "2027-04-03T14:45:00Z"},
		// Due in the repeated hour, after the end's first occurrence: the clock reads 01:15
		// again (EST), inside 00:00..01:30, and the window ends at 01:30 EST.
		{"New York due in the repeated hour", "America/New_York", "00:00", "01:30", "2026-11-01T06:15:00Z", "2026-11-01T06:30:00Z"},
		{"New York due in the first pass", "America/New_York", "00:00", "01:30", "2026-11-01T05:15:00Z", "2026-11-01T05:30:00Z"},
		{"Berlin due in the repeated hour", "Europe/Berlin", "01:00", "02:30", "2026-10-25T01:15:00Z", "2026-10-25T01:30:00Z"},
		// A window whose start is repeated keeps going until its end.
		{"Berlin start in the overlap", "Europe/Berlin", "02:30", "05:00", "2026-10-25T00:45:00Z", "2026-10-25T04:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := zone(t, tc.zone)
			q := quiet(t, tc.start, tc.end)
			var due time.Time
			if strings.HasSuffix(tc.due, "Z") {
				due = utc(t, tc.due)
			} else {
				due = at(t, tc.zone, tc.due)
			}
			require.True(t, q.Contains(due, loc), "due %s is not quiet", due)
			end := q.End(due, loc)
			assert.Equal(t, utc(t, tc.want), end)
			assert.Equal(t, time.UTC, end.Location())
			assert.False(t, q.Contains(end, loc), "still quiet at the end")
			assert.False(t, q.Contains(end.Add(time.Minute), loc), "quiet again a minute after the end")
		})
	}
}

func TestQuietHoursEndOfATimeThatIsNotQuietIsThatTime(t *testing.T) {
	due := utc(t, "2026-12-24T12:00:00Z")
	assert.Equal(t, due, quiet(t, "22:00", "07:00").End(due, zone(t, "Europe/Berlin")))
	assert.Equal(t, due, recipient.QuietHours{}.End(due, zone(t, "Europe/Berlin")))
}

// The preference that counts is the one in force when the push is due: the same instant is
// quiet in one zone and not in another, and ends at the zone's own 07:00.
func TestQuietHoursAreJudgedInTheZoneGivenAtTheDueTime(t *testing.T) {
	l, err := recipient.ParseLocalTime("2026-12-24T09:00")
	require.NoError(t, err)
	due, _ := l.Resolve(zone(t, "Europe/Berlin")) // scheduled while the user was in Berlin: 08:00Z
	night := quiet(t, "22:00", "07:00")

	assert.False(t, night.Contains(due, zone(t, "Europe/Berlin")), "09:00 in Berlin")
	assert.Equal(t, due, night.End(due, zone(t, "Europe/Berlin")))

	kiritimati := zone(t, "Pacific/Kiritimati") // moved before the due time: 22:00 there
	require.True(t, night.Contains(due, kiritimati))
	assert.Equal(t, utc(t, "2026-12-24T17:00:00Z"), night.End(due, kiritimati))

	newYork := zone(t, "America/New_York") // 03:00 there
	require.True(t, night.Contains(due, newYork))
	assert.Equal(t, utc(t, "2026-12-24T12:00:00Z"), night.End(due, newYork))

	assert.False(t, night.Contains(due, zone(t, "Asia/Kolkata")), "13:30 in Kolkata")
}

func TestQuietHoursWithoutAZoneAreUTC(t *testing.T) {
	q := quiet(t, "22:00", "07:00")
	due := utc(t, "2026-12-24T23:00:00Z")
	assert.True(t, q.Contains(due, nil))
	assert.Equal(t, utc(t, "2026-12-25T07:00:00Z"), q.End(due, nil))
}

func TestQuietHoursKeepTheirForm(t *testing.T) {
	q := quiet(t, "22:00", "07:00")
	start, end := q.Clocks()
	assert.Equal(t, []string{"22:00", "07:00"}, []string{start, end})
	assert.Equal(t, "22:00-07:00", q.String())
	assert.False(t, q.IsZero())
	// 00:00 to 00:01 is not the zero value.
	q = quiet(t, "00:00", "00:01")
	assert.False(t, q.IsZero())
	assert.Equal(t, "00:00-00:01", q.String())

	var none recipient.QuietHours
	start, end = none.Clocks()
	assert.Equal(t, []string{"", ""}, []string{start, end})
	assert.Equal(t, "none", none.String())
	assert.True(t, none.IsZero())
}

func TestParseQuietHoursRefusesWithTheFieldNamed(t *testing.T) {
	const form = "want two-digit hours and minutes in 24-hour notation, like 07:00 or 22:30"
	for _, tc := range []struct{ name, start, end, field, want string }{
		{"empty start", "", "07:00", recipient.FieldQuietStart, "is required: HH:MM in 24-hour notation, like 22:00"},
		{"empty end", "22:00", "", recipient.FieldQuietEnd, "is required: HH:MM in 24-hour notation, like 22:00"},
		{"start equals end", "22:00", "22:00", recipient.FieldQuietEnd, `"22:00" equals the start: the window would be empty or the whole day; to have no quiet hours, set none`},
		{"midnight to midnight", "00:00", "00:00", recipient.FieldQuietEnd, `"00:00" equals the start: the window would be empty or the whole day; to have no quiet hours, set none`},
		{"one-digit hour", "9:00", "17:00", recipient.FieldQuietStart, `"9:00" is not HH:MM: ` + form},
		{"one-digit minute", "22:0", "07:00", recipient.FieldQuietStart, `"22:0" is not HH:MM: ` + form},
		{"25:00", "22:00", "25:00", recipient.FieldQuietEnd, `"25:00" is not a time of day: hours are 00..23 (midnight is 00:00)`},
		{"24:00", "22:00", "24:00", recipient.FieldQuietEnd, `"24:00" is not a time of day: hours are 00..23 (midnight is 00:00)`},
		{"minute 60", "22:60", "07:00", recipient.FieldQuietStart, `"22:60" is not a time of day: minutes are 00..59`},
		{"seconds", "22:00:00", "07:00", recipient.FieldQuietStart, `"22:00:00" is not HH:MM: ` + form},
		{"12-hour clock", "10:00 PM", "07:00", recipient.FieldQuietStart, `"10:00 PM" is not HH:MM: ` + form},
		{"dot", "22.00", "07:00", recipient.FieldQuietStart, `"22.00" is not HH:MM: ` + form},
		{"no colon", "2200", "07:00", recipient.FieldQuietStart, `"2200" is not HH:MM: ` + form},
		{"negative", "-1:00", "07:00", recipient.FieldQuietStart, `"-1:00" is not HH:MM: ` + form},
		{"signed", "+1:00", "07:00", recipient.FieldQuietStart, `"+1:00" is not HH:MM: ` + form},
		{"with a zone", "22:00", "07:00Z", recipient.FieldQuietEnd, `"07:00Z" is not HH:MM: ` + form},
		{"padded", " 22:00", "07:00", recipient.FieldQuietStart, `" 22:00" is not HH:MM: ` + form},
		{"control character", "22:00", "07:0\x07", recipient.FieldQuietEnd, `"07:0\u0007" is not HH:MM: ` + form},
		{"non-ASCII digits", "２２:００", "07:00", recipient.FieldQuietStart, `"２２:００" is not HH:MM: ` + form},
		{"huge", strings.Repeat("9", 1<<20), "07:00", recipient.FieldQuietStart, `"9999999999999999999999999999999999999999"… is not HH:MM: ` + form},
		{"the start first when both are wrong", "x", "y", recipient.FieldQuietStart, `"x" is not HH:MM: ` + form},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := recipient.ParseQuietHours(tc.start, tc.end)
			assert.True(t, q.IsZero())
			var ie *recipient.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tc.field, ie.Field)
			assert.Equal(t, tc.want, ie.Reason)
			assert.Equal(t, "invalid "+tc.field+": "+tc.want, err.Error())
		})
	}
}
