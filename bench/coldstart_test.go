package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cold-start probe sees a real aws-lambda-go runtime ask for its first invocation.
func TestColdStartOfTheMinimalHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Lambda handler")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", append([]string{"build"}, append(BuildFlags(), "-o", bin, "./minimal")...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	api, err := StartRuntimeAPI()
	require.NoError(t, err)
	defer api.Close()
	probe, err := api.ColdStart(bin, LambdaEnv(t.TempDir(), "minimal", nil))
	require.NoError(t, err)
	assert.Positive(t, probe.Wall)
	assert.Less(t, probe.Wall.Seconds(), 20.0)
	if _, err := os.Stat("/proc/self/schedstat"); err == nil {
		assert.Positive(t, probe.CPU, "CPU time read from /proc")
		assert.Positive(t, probe.RSSKiB)
	}
}

// The benchmark builds the functions as the construct does: the flags are those of
// stacks/delayedpush/internal/gobuild/gobuild.go.
func TestBuildFlagsAreTheConstructs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "stacks", "delayedpush", "internal", "gobuild", "gobuild.go"))
	require.NoError(t, err)
	assert.Contains(t, string(src), `"build", "-trimpath", "-tags", "lambda.norpc",`)
	assert.Contains(t, string(src), `"-ldflags", "-s -w -buildid=",`)
	assert.Contains(t, string(src), `"CGO_ENABLED=0"`)
	assert.Equal(t, []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid="}, BuildFlags())
}
