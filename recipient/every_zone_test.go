package recipient_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

// clockScan is what a zone's clock reads at every whole minute from lo: the wall clock as
// Unix seconds read as if UTC. It is the brute-force oracle the rules are checked against.
type clockScan struct {
	lo    time.Time
	walls []int64
}

func scanClock(loc *time.Location, lo, hi time.Time) clockScan {
	s := clockScan{lo: lo}
	for u := lo; !u.After(hi); u = u.Add(time.Minute) {
		s.walls = append(s.walls, readsAsUTC(u.In(loc)).Unix())
	}
	return s
}

func readsAsUTC(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, 0, time.UTC)
}

func (s clockScan) at(i int) time.Time { return s.lo.Add(time.Duration(i) * time.Minute).UTC() }

// first is the first minute from i on at which the clock reads w, else the first at which it
// reads later than w (the clock jumped over w), and how many minutes from i read w.
func (s clockScan) first(i int, w int64) (found time.Time, readings int) {
	later := -1
	for ; i < len(s.walls); i++ {
		switch {
		case s.walls[i] == w:
			if readings == 0 {
				found = s.at(i)
			}
			readings++
		case s.walls[i] > w && later < 0 && readings == 0:
			later = i
		}
	}
	if readings == 0 && later >= 0 {
		found = s.at(later)
	}
	return found, readings
}

var windows = [][2]string{{"22:00", "07:00"}, {"00:00", "02:30"}, {"01:00", "02:00"}, {"02:30", "05:00"},
	{"23:30", "00:30"}, {"00:30", "23:30"}, {"03:00", "01:00"}, {"01:45", "02:15"}}

// Around every transition of 2026 and 2027 in every zone of Go's database, Resolve and End
// agree with a minute-by-minute reading of the zone's clock: a local time goes at the first
// minute the clock reads it, else the first at which it reads later; quiet hours end at the
// first minute after the due time at which the clock reads the end (on the day the window
// ends), else the first at which it reads later.
func TestEveryZoneAgreesWithItsClockAroundEveryTransition(t *testing.T) {
	names := []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Kiritimati",
		"America/Santiago", "America/Havana", "Asia/Beirut", "Pacific/Chatham", "Africa/Casablanca", "Europe/Dublin"}
	if !testing.Short() {
		names = goZoneNames(t)
	}
	checked := 0
	for _, name := range names {
		loc, err := recipient.Zone(name)
		require.NoError(t, err, name)
		for from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); ; {
			_, tr := from.In(loc).ZoneBounds()
			if tr.IsZero() || tr.Year() > 2027 {
				break
			}
			from = tr
			require.Zero(t, tr.Unix()%60, "%s changes at %s, not a whole minute", name, tr)
			checkAround(t, name, loc, tr)
			checked++
		}
	}
	require.Greater(t, checked, 3*4)
}

func checkAround(t *testing.T, name string, loc *time.Location, tr time.Time) {
	clock := scanClock(loc, tr.Add(-9*time.Hour), tr.Add(33*time.Hour))
	// Local times from 3 hours before to 3 hours after the wall clock at the transition.
	base := readsAsUTC(tr.In(loc)).Truncate(time.Minute)
	for k := -36; k <= 36; k++ {
		wall := base.Add(time.Duration(k) * 5 * time.Minute)
		l, err := recipient.ParseLocalTime(wall.Format("2006-01-02T15:04"))
		require.NoError(t, err)
		want, readings := clock.first(0, wall.Unix())
		wantHow := map[int]recipient.Resolution{0: recipient.GapShifted, 1: recipient.Exact, 2: recipient.AmbiguousFirst}[readings]
		got, how := l.Resolve(loc)
		if !got.Equal(want) || how != wantHow {
			t.Fatalf("%s %s: got %s %s, the clock says %s %s", name, l, got, how, want, wantHow)
		}
	}
	// Due times from 6 hours before to 6 hours after the transition.
	for _, w := range windows {
		q, err := recipient.ParseQuietHours(w[0], w[1])
		require.NoError(t, err)
		start, end := minutes(w[0]), minutes(w[1])
		for i := 0; i <= 12*60; i += 10 {
			due := clock.at(9*60 - 6*60 + i)
			lt := due.In(loc)
			if !q.Contains(due, loc) {
				if got := q.End(due, loc); !got.Equal(due) {
					t.Fatalf("%s %s not quiet at %s, yet ends at %s", name, q, lt, got)
				}
				continue
			}
			day := readsAsUTC(lt).Truncate(24 * time.Hour)
			if start > end && lt.Hour()*60+lt.Minute() >= start {
				day = day.AddDate(0, 0, 1)
			}
			endWall := day.Add(time.Duration(end) * time.Minute)
			want, _ := clock.first(9*60-6*60+i+1, endWall.Unix())
			if got := q.End(due, loc); !got.Equal(want) {
				t.Fatalf("%s %s due %s (%s): ends at %s, the clock says %s", name, q, due, lt, got, want)
			}
		}
	}
}

func minutes(hhmm string) int {
	var h, m int
	_, _ = fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return h*60 + m
}
