//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
)

// The examples the docs link (examples/; test/readme_test.go checks each linked one is run
// here or by another end-to-end test) run against the local stack as a backend would run them:
// each schedules a push, reads its state and cancels it.

func runExample(t *testing.T, key string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(root, ".venv", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_ENDPOINT_URL="+stack.Endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"STATE_MACHINE_ARN="+output(t, "StateMachineArn"), "KEY="+key, "USER_ID="+name("example-user"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func assertStopped(t *testing.T, execName string) {
	t.Helper()
	desc := waitStopped(t, strings.Replace(output(t, "StateMachineArn"), ":stateMachine:", ":execution:", 1)+":"+execName)
	var in struct {
		Push struct {
			Title string `json:"title"`
		} `json:"push"`
	}
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(desc.Input)), &in))
	assert.Equal(t, "Your order shipped", in.Push.Title)
}

// assertPrintedCancel checks the two states an example printed: RUNNING once scheduled, then
// ABORTED once stopped. The example reads the second right after StopExecution: AWS says
// ABORTED at once, the emulator may still say RUNNING on a busy machine (see waitStopped); the
// example's stop is then proven by assertStopped, which waits for ABORTED.
func assertPrintedCancel(t *testing.T, out string) {
	t.Helper()
	var states []string
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "state: "); ok {
			states = append(states, s)
		}
	}
	require.Len(t, states, 2, "%s", out)
	assert.Equal(t, "RUNNING", states[0], "%s", out)
	if states[1] == "RUNNING" {
		t.Logf("the emulator had not reflected the stop yet when the example read the state: %q", out)
		return
	}
	assert.Equal(t, "ABORTED", states[1], "%s", out)
}

func TestExampleAWSCLI(t *testing.T) {
	t.Parallel()
	key := name("example-cli")
	out := runExample(t, key, "bash", "examples/awscli.sh")
	assertPrintedCancel(t, out)
	assertStopped(t, key)
}

func TestExamplePythonBoto3(t *testing.T) {
	t.Parallel()
	key := name("example-py")
	out := runExample(t, key, filepath.Join(root, ".venv", "bin", "python"), "examples/schedule.py")
	assertPrintedCancel(t, out)
	assertStopped(t, key)
}

func TestExampleNodeSDKv3(t *testing.T) {
	t.Parallel()
	key := name("example-node")
	out := runExample(t, key, "node", "examples/schedule.mjs")
	assertPrintedCancel(t, out)
	assertStopped(t, key)
}

func TestExampleGoClient(t *testing.T) {
	t.Parallel()
	key := name("example-go")
	out := runExample(t, key, "go", "run", "./examples/go-client")
	assert.Contains(t, out, "state: scheduled time left 10m0s\n")
	assert.Contains(t, out, "state: cancelled\n")
	assertStopped(t, client.ExecutionName(key, 2)) // rescheduled once, then cancelled
	st, err := newClient(t).Get(context.Background(), key)
	require.NoError(t, err)
	assert.Equal(t, client.StateCancelled, st.State)
}
