package recipient_test

import (
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

// The zones the issue names, and the daylight-saving transitions of 2026 and 2027 (UTC
// instants) the tests below rely on. Checking them against Go's database first means a wrong
// expectation below is a wrong table here, not a silent mistake.
var transitions = []struct {
	zone string
	at   []string
}{
	{"America/New_York", []string{"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2027-03-14T07:00:00Z", "2027-11-07T06:00:00Z"}},
	{"Europe/Berlin", []string{"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2027-03-28T01:00:00Z", "2027-10-31T01:00:00Z"}},
	// Lord Howe moves by 30 minutes: +11 to +10:30 in April, back in October.
	{"Australia/Lord_Howe", []string{"2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z", "2027-04-03T15:00:00Z", "2027-10-02T15:30:00Z"}},
	{"Asia/Kolkata", nil},       // +05:30 all year
	{"Pacific/Kiritimati", nil}, // +14:00 all year
}

func TestTransitionsOf2026And2027AreGosDatabase(t *testing.T) {
	for _, tc := range transitions {
		t.Run(tc.zone, func(t *testing.T) {
			loc, err := recipient.Zone(tc.zone)
			require.NoError(t, err)
			var got []string
			for at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); ; {
				_, end := at.In(loc).ZoneBounds()
				if end.IsZero() || end.Year() > 2027 {
					break
				}
				got = append(got, end.UTC().Format(time.RFC3339))
				at = end
			}
			assert.Equal(t, tc.at, got)
		})
	}
}

func TestZoneAcceptsIANANames(t *testing.T) {
	for _, name := range []string{"UTC", "Etc/UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
		"Asia/Kolkata", "Pacific/Kiritimati", "America/Argentina/ComodRivadavia", "America/Port-au-Prince",
		"Etc/GMT+12", "Etc/GMT-14", "EST5EDT", "GMT0"} {
		loc, err := recipient.Zone(name)
		if assert.NoError(t, err, name) {
			assert.Equal(t, name, loc.String())
		}
	}
}

func TestZoneRefusesWithTheValueNamed(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty (LoadLocation would say UTC)", "", `invalid timeZone: is required: an IANA time zone like "Europe/Berlin"`},
		{"the machine's zone", "Local", `invalid timeZone: "Local" is the server's own zone, not an IANA time zone: give the recipient's, like "Europe/Berlin"`},
		{"unknown", "Mars/Olympus_Mons", `invalid timeZone: unknown time zone "Mars/Olympus_Mons": not in the IANA time zone database`},
		{"offset beyond the database", "Etc/GMT+99", `invalid timeZone: unknown time zone "Etc/GMT+99": not in the IANA time zone database`},
		{"wrong case", "europe/berlin", `invalid timeZone: "europe/berlin" is not an IANA time zone name (like "America/New_York")`},
		{"path traversal", "../../etc/passwd", `invalid timeZone: "../../etc/passwd" is not an IANA time zone name (like "America/New_York")`},
		{"dot dot inside", "Europe/../Europe/Berlin", `invalid timeZone: "Europe/../Europe/Berlin" is not an IANA time zone name (like "America/New_York")`},
		{"absolute path", "/usr/share/zoneinfo/UTC", `invalid timeZone: "/usr/share/zoneinfo/UTC" is not an IANA time zone name (like "America/New_York")`},
		{"backslash", `Europe\Berlin`, `invalid timeZone: "Europe\\Berlin" is not an IANA time zone name (like "America/New_York")`},
		{"space", "America/New York", `invalid timeZone: "America/New York" is not an IANA time zone name (like "America/New_York")`},
		{"padded", " UTC", `invalid timeZone: " UTC" is not an IANA time zone name (like "America/New_York")`},
		{"control character", "UTC\n", `invalid timeZone: "UTC\n" is not an IANA time zone name (like "America/New_York")`},
		{"NUL", "Europe/Berlin\x00", `invalid timeZone: "Europe/Berlin\u0000" is not an IANA time zone name (like "America/New_York")`},
		{"trailing slash", "Europe/", `invalid timeZone: "Europe/" is not an IANA time zone name (like "America/New_York")`},
		{"double slash", "Europe//Berlin", `invalid timeZone: "Europe//Berlin" is not an IANA time zone name (like "America/New_York")`},
		{"a directory", "Europe", `invalid timeZone: unknown time zone "Europe": not in the IANA time zone database`},
		{"system-only leap-second zones", "right/UTC", `invalid timeZone: "right/UTC" is not an IANA time zone name (like "America/New_York")`},
		{"system-only posix copies", "posix/Europe/Berlin", `invalid timeZone: "posix/Europe/Berlin" is not an IANA time zone name (like "America/New_York")`},
		{"system-only file", "zone1970.tab", `invalid timeZone: "zone1970.tab" is not an IANA time zone name (like "America/New_York")`},
		{"system link to /etc/localtime", "localtime", `invalid timeZone: "localtime" is not an IANA time zone name (like "America/New_York")`},
		{"a POSIX TZ string", "EST+5EDT,M3.2.0/2,M11.1.0/2", `invalid timeZone: "EST+5EDT,M3.2.0/2,M11.1.0/2" is not an IANA time zone name (like "America/New_York")`},
		{"an offset", "+01:00", `invalid timeZone: "+01:00" is not an IANA time zone name (like "America/New_York")`},
		{"component over 14 characters", "America/Argentina_Buenos_Aires", `invalid timeZone: "America/Argentina_Buenos_Aires" is not an IANA time zone name (like "America/New_York")`},
		{"huge", strings.Repeat("A", 1<<20), `invalid timeZone: is 1048576 bytes long, more than 64: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"… is not an IANA time zone`},
		{"invalid UTF-8", "Europe/Berl\xffin", `invalid timeZone: "Europe/Berl\ufffdin" is not an IANA time zone name (like "America/New_York")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := recipient.Zone(tc.in)
			assert.Nil(t, loc)
			var ie *recipient.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, recipient.FieldTimeZone, ie.Field)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// goZoneNames lists the zones of Go's database ($GOROOT/lib/time/zoneinfo.zip, the data
// time/tzdata embeds).
func goZoneNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	z, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Skipf("Go's zone database: %v", err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	require.Greater(t, len(names), 500)
	return names
}

// Every zone of the embedded database is accepted, and no other file of this machine's
// zoneinfo directory is: what Zone accepts does not depend on the machine.
func TestZoneAcceptsExactlyTheEmbeddedDatabase(t *testing.T) {
	embedded := map[string]bool{}
	for _, name := range goZoneNames(t) {
		embedded[name] = true
		_, err := recipient.Zone(name)
		assert.NoError(t, err, name)
	}
	const dir = "/usr/share/zoneinfo"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no system zone database: %v", err)
	}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, _ := filepath.Rel(dir, path)
		if !embedded[name] {
			_, err := recipient.Zone(name)
			assert.Error(t, err, "system-only %s accepted", name)
		}
		return nil
	}))
}
