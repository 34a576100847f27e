package recipient_test

import (
	"errors"
	"testing"

	"github.com/delayed-push/delayed-push/recipient"
)

// The parsers never panic and refuse with a field named; what they accept round-trips, a
// resolved local time reads as itself on the zone's clock unless the clocks skipped it, and
// quiet hours end after a quiet due time.
func FuzzRecipient(f *testing.F) {
	for _, s := range [][4]string{
		{"2026-12-24T09:00", "Europe/Berlin", "22:00", "07:00"},
		{"2026-03-08T02:30:00", "America/New_York", "00:00", "02:30"},
		{"2026-10-04T02:15", "Australia/Lord_Howe", "22:00", "02:15"},
		{"2026-04-05T01:45", "Australia/Lord_Howe", "23:00", "01:45"},
		{"1994-12-31T12:00", "Pacific/Kiritimati", "12:00", "13:00"},
		{"2011-12-30T09:00", "Pacific/Apia", "22:00", "07:00"},
		{"2026-12-24T09:00Z", "Local", "9:00", "24:00"},
		{"2027-02-30T09:00", "../../etc/passwd", "25:00", "07:00"},
		{"", "", "", ""},
		{"2026-12-24T09:00:00.5", "Etc/GMT+99", "22:00", "22:00"},
		{"9999-12-31T23:59:59", "Asia/Kolkata", "00:00", "23:59"},
		{"0000-01-01T00:00", "UTC", "23:59", "00:00"},
		{"\x00\xff", "right/UTC", "\n", "07:00\x00"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, local, zoneName, start, end string) {
		l, lerr := recipient.ParseLocalTime(local)
		loc, zerr := recipient.Zone(zoneName)
		q, qerr := recipient.ParseQuietHours(start, end)
		for _, err := range []error{lerr, zerr, qerr} {
			var ie *recipient.InvalidError
			if err != nil && (!errors.As(err, &ie) || ie.Field == "" || ie.Reason == "") {
				t.Fatalf("error without a field or a reason: %v", err)
			}
		}
		if lerr == nil {
			again, err := recipient.ParseLocalTime(l.String())
			if err != nil || again != l {
				t.Fatalf("%q: String %q does not parse back: %v", local, l.String(), err)
			}
		}
		if qerr == nil {
			s, e := q.Clocks()
			again, err := recipient.ParseQuietHours(s, e)
			if err != nil || again != q {
				t.Fatalf("%q-%q: Clocks %q-%q do not parse back: %v", start, end, s, e, err)
			}
		}
		if lerr != nil || zerr != nil {
			return
		}
		due, how := l.Resolve(loc)
		reads, want := due.In(loc).Format("2006-01-02T15:04:05"), l.String()
		if len(want) == len("2006-01-02T15:04") {
			want += ":00"
		}
		if how != recipient.GapShifted && reads != want || how == recipient.GapShifted && reads <= want {
			t.Fatalf("%s in %s resolved to %s (%s), which reads %s", local, zoneName, due, how, due.In(loc))
		}
		if qerr != nil {
			return
		}
		if got := q.End(due, loc); q.Contains(due, loc) && !got.After(due) || !q.Contains(due, loc) && !got.Equal(due) {
			t.Fatalf("%s in %s, due %s: End %s", q, zoneName, due, got)
		}
	})
}
