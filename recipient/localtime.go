package recipient

import (
	"slices"
	"time"
)

// LocalTime is a wall-clock date and time with no zone: "9:00 on 24 December" wherever the
// recipient is. Parse it with ParseLocalTime; the zero LocalTime is not valid. It remembers
// whether seconds were given, so that String gives back the text it was parsed from.
type LocalTime struct {
	year                      int
	month                     time.Month
	day, hour, minute, second int
	hasSeconds                bool
}

// Resolution says how a local time became an instant, for the reply to say it.
type Resolution string

const (
	// Exact: the local time exists once in the zone that day.
	Exact Resolution = "exact"
	// GapShifted: the local time does not exist (the clocks sprang forward over it); the
	// push goes at the transition, the first instant after it.
	GapShifted Resolution = "gap-shifted"
	// AmbiguousFirst: the local time exists twice (the clocks fell back); the push goes at
	// its first occurrence.
	AmbiguousFirst Resolution = "ambiguous-first"
)

// localTimeForm is what an error shows the caller.
const localTimeForm = "YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, like 2026-12-24T09:00"

// ParseLocalTime reads a local wall-clock time: "2026-12-24T09:00" or "2026-12-24T09:00:30",
// exactly that form (four-digit year, two-digit fields, a capital T), a real date (no
// 2027-02-30) and time of day (hours 00..23, no 24:00, no leap second). An offset or a "Z"
// is refused: an instant is sendAt's job. Errors are *InvalidError naming FieldLocalTime.
func ParseLocalTime(s string) (LocalTime, error) {
	if s == "" {
		return LocalTime{}, invalid(FieldLocalTime, "is required: %s", localTimeForm)
	}
	if len(s) < 16 || !digitsAt(s, 0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15) ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' {
		return LocalTime{}, invalid(FieldLocalTime, "%s is not a local date and time: want %s", show(s), localTimeForm)
	}
	l := LocalTime{
		year: num(s, 0, 4), month: time.Month(num(s, 5, 2)), day: num(s, 8, 2),
		hour: num(s, 11, 2), minute: num(s, 14, 2),
	}
	rest := s[16:]
	if len(rest) >= 3 && rest[0] == ':' && digitsAt(rest, 1, 2) {
		l.second, l.hasSeconds = num(rest, 1, 2), true
		rest = rest[3:]
	}
	if rest != "" {
		switch rest[0] {
		case 'Z', 'z', '+', '-':
			return LocalTime{}, invalid(FieldLocalTime, "%s has a UTC offset (%s): localTime is a wall clock read in the recipient's time zone; for an absolute instant use sendAt", show(s), show(rest))
		case '.', ',':
			return LocalTime{}, invalid(FieldLocalTime, "%s has a fraction of a second: localTime counts whole seconds (%s)", show(s), localTimeForm)
		}
		return LocalTime{}, invalid(FieldLocalTime, "%s is not a local date and time: want %s", show(s), localTimeForm)
	}
	if err := l.check(s); err != nil {
		return LocalTime{}, err
	}
	return l, nil
}

// check refuses a date or time of day that does not exist on any calendar or clock.
func (l LocalTime) check(s string) error {
	switch {
	case l.month < 1 || l.month > 12:
		return invalid(FieldLocalTime, "%s is not a date: months are 01..12", show(s))
	case l.day < 1 || l.day > daysIn(l.year, l.month):
		return invalid(FieldLocalTime, "%s is not a date: %s %04d has %d days", show(s), l.month, l.year, daysIn(l.year, l.month))
	case l.hour > 23:
		return invalid(FieldLocalTime, "%s is not a time of day: hours are 00..23 (midnight is 00:00 of the next day)", show(s))
	case l.minute > 59:
		return invalid(FieldLocalTime, "%s is not a time of day: minutes are 00..59", show(s))
	case l.second > 59:
		return invalid(FieldLocalTime, "%s is not a time of day: seconds are 00..59", show(s))
	}
	return nil
}

// String is the local time in the form it was parsed from (seconds only if given).
func (l LocalTime) String() string {
	d := time.Date(l.year, l.month, l.day, l.hour, l.minute, l.second, 0, time.UTC)
	if l.hasSeconds {
		return d.Format("2006-01-02T15:04:05")
	}
	return d.Format("2006-01-02T15:04")
}

// IsZero reports whether l is the zero LocalTime, which ParseLocalTime never returns.
func (l LocalTime) IsZero() bool { return l == LocalTime{} }

// Resolve places the local time in a zone and returns the instant, in UTC, and how it was
// found. Go's time.Date leaves the choice in a gap or an overlap to the sign of the zone's
// offset (an hour early in New York's gap, the second occurrence in Berlin's overlap), so the
// rule is applied here: a time that exists twice is its first occurrence (AmbiguousFirst); a
// time that does not exist is the transition that skipped it, the first instant after it
// (GapShifted). A nil loc is UTC.
func (l LocalTime) Resolve(loc *time.Location) (time.Time, Resolution) {
	occ, transition := l.occurrences(orUTC(loc))
	switch len(occ) {
	case 0:
		return transition, GapShifted
	case 1:
		return occ[0], Exact
	}
	return occ[0], AmbiguousFirst
}

// occurrences are the instants, earliest first, whose wall clock in loc reads l; when there is
// none, transition is the instant the clocks jumped over it.
func (l LocalTime) occurrences(loc *time.Location) (occ []time.Time, transition time.Time) {
	wall := l.asUTC()
	// time.Date's answer lies in a zone period next to l's gap or overlap, if l is in one; the
	// offsets of that period and of its neighbours are the only ones l can be read with.
	guess := time.Date(l.year, l.month, l.day, l.hour, l.minute, l.second, 0, loc)
	start, end := guess.ZoneBounds()
	probes := []time.Time{guess}
	if !start.IsZero() {
		probes = append(probes, start.Add(-time.Nanosecond))
	}
	if !end.IsZero() {
		probes = append(probes, end)
	}
	for _, p := range probes {
		_, off := p.In(loc).Zone()
		c := wall.Add(-time.Duration(off) * time.Second)
		if wallClock(c, loc).Equal(wall) && !slices.ContainsFunc(occ, c.Equal) {
			occ = append(occ, c)
		}
	}
	slices.SortFunc(occ, time.Time.Compare)
	for i := range occ {
		occ[i] = occ[i].UTC()
	}
	if len(occ) > 0 {
		return occ, time.Time{}
	}
	// In a gap: the transition is the boundary of guess's period before which the wall clock
	// reads earlier than l and at which it reads later.
	for _, b := range []time.Time{start, end} {
		if !b.IsZero() && wallClock(b, loc).After(wall) && wallClock(b.Add(-time.Nanosecond), loc).Before(wall) {
			return nil, b.UTC()
		}
	}
	return nil, guess.UTC() // unreachable with the IANA database: no zone jumps twice at once
}

// asUTC is the wall clock read as if it were UTC, to compare wall clocks.
func (l LocalTime) asUTC() time.Time {
	return time.Date(l.year, l.month, l.day, l.hour, l.minute, l.second, 0, time.UTC)
}

// wallClock is what a clock in loc reads at t, as if it were UTC.
func wallClock(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	h, mi, s := lt.Clock()
	return time.Date(y, mo, d, h, mi, s, lt.Nanosecond(), time.UTC)
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// digitsAt reports whether s has an ASCII digit at each index.
func digitsAt(s string, idx ...int) bool {
	for _, i := range idx {
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// num reads n ASCII digits of s from i (checked by digitsAt).
func num(s string, i, n int) int {
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		v = v*10 + int(c-'0')
	}
	return v
}
