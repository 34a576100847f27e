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
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
)

// The README's examples (examples/, shown in the README verbatim: test/readme_test.go) run
// against the local stack as a backend would run them: each schedules a push, reads its state
// and cancels it.

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
	arn := strings.Replace(output(t, "StateMachineArn"), ":stateMachine:", ":execution:", 1) + ":" + execName
	desc, err := stack.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	require.NoError(t, err)
	assert.Equal(t, sfntypes.ExecutionStatusAborted, desc.Status)
	var in struct {
		Push struct {
			Title string `json:"title"`
		} `json:"push"`
	}
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(desc.Input)), &in))
	assert.Equal(t, "Your order shipped", in.Push.Title)
}

func TestExampleAWSCLI(t *testing.T) {
	t.Parallel()
	key := name("example-cli")
	out := runExample(t, key, "bash", "examples/awscli.sh")
	assert.Contains(t, out, "state: RUNNING\n")
	assert.Contains(t, out, "state: ABORTED\n")
	assertStopped(t, key)
}

func TestExamplePythonBoto3(t *testing.T) {
	t.Parallel()
	key := name("example-py")
	out := runExample(t, key, filepath.Join(root, ".venv", "bin", "python"), "examples/schedule.py")
	assert.Contains(t, out, "state: RUNNING\n")
	assert.Contains(t, out, "state: ABORTED\n")
	assertStopped(t, key)
}

func TestExampleNodeSDKv3(t *testing.T) {
	t.Parallel()
	key := name("example-node")
	out := runExample(t, key, "node", "examples/schedule.mjs")
	assert.Contains(t, out, "state: RUNNING\n")
	assert.Contains(t, out, "state: ABORTED\n")
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
