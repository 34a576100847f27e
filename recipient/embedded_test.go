package recipient_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/recipient"
)

const noSystemZones = "RECIPIENT_TEST_NO_SYSTEM_ZONES"

// On a machine without a zone database (a Lambda runtime without /usr/share/zoneinfo, no Go
// installation), every zone is still known: the package embeds the database. The test runs
// itself again in a mount namespace where the system's directory is empty and GOROOT points
// nowhere; it is skipped where unprivileged namespaces are not allowed.
func TestZonesAreKnownWithoutTheSystemDatabase(t *testing.T) {
	if os.Getenv(noSystemZones) != "" {
		for _, dir := range []string{"/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"} {
			_, err := os.Stat(dir + "Europe/Berlin")
			require.True(t, os.IsNotExist(err), "%s still has the zones", dir)
		}
		got, how := resolve(t, "2026-10-04T02:15", "Australia/Lord_Howe")
		assert.Equal(t, utc(t, "2026-10-03T15:30:00Z"), got)
		assert.Equal(t, recipient.GapShifted, how)
		got, _ = resolve(t, "2026-12-24T09:00", "America/New_York")
		assert.Equal(t, utc(t, "2026-12-24T14:00:00Z"), got)
		return
	}
	if exec.Command("unshare", "-rm", "true").Run() != nil {
		t.Skip("no unprivileged mount namespace here")
	}
	empty := t.TempDir()
	cmd := exec.Command("unshare", "-rm", "sh", "-c", `mount --bind "$0" /usr/share/zoneinfo && exec "$@"`,
		empty, os.Args[0], "-test.run=^TestZonesAreKnownWithoutTheSystemDatabase$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), noSystemZones+"=1", "GOROOT="+empty, "ZONEINFO=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestZonesAreKnownWithoutTheSystemDatabase")
}
