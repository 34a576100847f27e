package recipient_test

import (
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/recipient"
)

// A push for 09:00 in the recipient's zone, and two that fall on New York's daylight-saving
// changes of 2026.
func ExampleLocalTime_Resolve() {
	loc, err := recipient.Zone("America/New_York")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"2026-12-24T09:00", "2026-03-08T02:30", "2026-11-01T01:30"} {
		l, err := recipient.ParseLocalTime(s)
		if err != nil {
			fmt.Println(err)
			return
		}
		at, how := l.Resolve(loc)
		fmt.Println(s, "->", at.Format(time.RFC3339), how)
	}
	_, err = recipient.ParseLocalTime("2026-12-24T09:00:00Z")
	fmt.Println(err)
	// Output:
	// 2026-12-24T09:00 -> 2026-12-24T14:00:00Z exact
	// 2026-03-08T02:30 -> 2026-03-08T07:00:00Z gap-shifted
	// 2026-11-01T01:30 -> 2026-11-01T05:30:00Z ambiguous-first
	// invalid localTime: "2026-12-24T09:00:00Z" has a UTC offset ("Z"): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt
}

// A push due at 23:00 in Berlin on the night the clocks go forward is held until 07:00 CEST.
func ExampleQuietHours_End() {
	loc, _ := recipient.Zone("Europe/Berlin")
	q, err := recipient.ParseQuietHours("22:00", "07:00")
	if err != nil {
		fmt.Println(err)
		return
	}
	due := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC) // 23:00 CET
	fmt.Println(q, q.Contains(due, loc), q.End(due, loc).In(loc))

	_, err = recipient.ParseQuietHours("22:00", "24:00")
	fmt.Println(err)
	// Output:
	// 22:00-07:00 true 2026-03-29 07:00:00 +0200 CEST
	// invalid quietHours.end: "24:00" is not a time of day: hours are 00..23 (midnight is 00:00)
}
