package recipient

import (
	"fmt"
	"time"
)

// QuietHours is a daily window of the recipient's wall clock in which no push should wake
// them, Pinpoint's QuietTime: a start and an end as HH:MM, the window spanning midnight when
// the end is earlier than the start (22:00 to 07:00).
//
// A time t is quiet when the wall clock in the recipient's zone, in force at t, reads at least
// start and earlier than end (start inclusive, end exclusive, to the second): 22:00:00 and
// 06:59:59 are quiet, 07:00:00 is not. The window is read on the wall clock, so a night of a
// daylight-saving change lasts an hour less or more in real time, and it ends when the clock
// reads end, never an hour early or late.
//
// The zero QuietHours is no quiet hours: nothing is quiet.
type QuietHours struct {
	start, end int // minutes after midnight, 0..1439, start != end unless both zero
}

// ParseQuietHours reads a window's start and end, each "HH:MM" in 24-hour notation with two
// digits each (00:00..23:59; "9:00", "24:00" and seconds are refused). A start equal to the
// end is refused: it would be an empty or a whole-day window, and which one is a guess.
// Errors are *InvalidError naming FieldQuietStart or FieldQuietEnd.
func ParseQuietHours(start, end string) (QuietHours, error) {
	s, err := parseClock(FieldQuietStart, start)
	if err != nil {
		return QuietHours{}, err
	}
	e, err := parseClock(FieldQuietEnd, end)
	if err != nil {
		return QuietHours{}, err
	}
	if s == e {
		return QuietHours{}, invalid(FieldQuietEnd, "%s equals the start: the window would be empty or the whole day; to have no quiet hours, set none", show(end))
	}
	return QuietHours{start: s, end: e}, nil
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(field, s string) (int, error) {
	if s == "" {
		return 0, invalid(field, "is required: HH:MM in 24-hour notation, like 22:00")
	}
	if len(s) != 5 || s[2] != ':' || !digitsAt(s, 0, 1, 3, 4) {
		return 0, invalid(field, "%s is not HH:MM: want two-digit hours and minutes in 24-hour notation, like 07:00 or 22:30", show(s))
	}
	h, m := num(s, 0, 2), num(s, 3, 2)
	switch {
	case h > 23:
		return 0, invalid(field, "%s is not a time of day: hours are 00..23 (midnight is 00:00)", show(s))
	case m > 59:
		return 0, invalid(field, "%s is not a time of day: minutes are 00..59", show(s))
	}
	return h*60 + m, nil
}

// IsZero reports whether q is no quiet hours.
func (q QuietHours) IsZero() bool { return q == QuietHours{} }

// Clocks returns the start and the end as HH:MM, as ParseQuietHours reads them; "" for the
// zero QuietHours.
func (q QuietHours) Clocks() (start, end string) {
	if q.IsZero() {
		return "", ""
	}
	return clock(q.start), clock(q.end)
}

// String is "22:00-07:00", or "none" for the zero QuietHours.
func (q QuietHours) String() string {
	if q.IsZero() {
		return "none"
	}
	return clock(q.start) + "-" + clock(q.end)
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Contains reports whether t is quiet: the wall clock in loc at t reads in [start, end),
// wrapping past midnight when end < start. A nil loc is UTC.
func (q QuietHours) Contains(t time.Time, loc *time.Location) bool {
	if q.IsZero() {
		return false
	}
	h, m, _ := t.In(orUTC(loc)).Clock()
	c := h*60 + m // whole minutes suffice: start and end are whole minutes
	if q.start < q.end {
		return q.start <= c && c < q.end
	}
	return c >= q.start || c < q.end
}

// End returns the instant at which the window containing t ends, in UTC; t itself when t is
// not quiet (nothing to wait for). The window ends when the wall clock in loc next reads the
// end time: on t's date, or on the next day when the window began on t's date before midnight
// (22:00 to 07:00 at 23:00). That end time is placed like a local time (LocalTime.Resolve):
// in a gap it is the transition, the first instant after it; in an overlap its first
// occurrence, unless t is already past that, inside the repeated hour, when it is the second.
// So the result is always after a quiet t. A nil loc is UTC.
func (q QuietHours) End(t time.Time, loc *time.Location) time.Time {
	loc = orUTC(loc)
	if !q.Contains(t, loc) {
		return t
	}
	lt := t.In(loc)
	y, mo, d := lt.Date()
	if q.start > q.end && lt.Hour()*60+lt.Minute() >= q.start {
		d++ // the window began this evening and ends tomorrow morning
	}
	day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC) // normalises the 32nd to the 1st
	end := LocalTime{year: day.Year(), month: day.Month(), day: day.Day(), hour: q.end / 60, minute: q.end % 60}
	occ, transition := end.occurrences(loc)
	for _, o := range occ {
		if o.After(t) {
			return o
		}
	}
	if len(occ) == 0 && transition.After(t) {
		return transition
	}
	return t // unreachable with the IANA database: the end is after any quiet t
}
