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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/localrun"
	"github.com/delayed-push/delayed-push/push"
)

// pushctl, built from cmd/pushctl, against the local stack with --local, as a user runs it.

// pushctl runs it bounded in time: a command that does not end by itself is killed and fails
// the test.
func pushctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pushctlTimeout)
	defer cancel()
	stdout, stderr, code, err := stack.Pushctl(ctx, args...)
	require.NoError(t, err, "pushctl %v (within %s); output so far: %s %s", args, pushctlTimeout, stdout, stderr)
	return stdout, stderr, code
}

// pushctlTimeout bounds one pushctl command.
const pushctlTimeout = 3 * time.Minute

func pushctlJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := pushctl(t, append(args, "--json")...)
	require.Equal(t, 0, code, "pushctl %v: %s", args, errOut)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

func TestPushctlSchedulesShowsReschedulesListsAndCancels(t *testing.T) {
	t.Parallel()
	user := name("cli-user2")
	key := name("cli-order")
	args := []string{"schedule", "--key", key, "--delay", "1h", "--user", user, "--title", "Your order shipped", "--data", "orderId=42"}
	out := pushctlJSON(t, args...)
	assert.Equal(t, false, out["alreadyScheduled"])
	out = pushctlJSON(t, args...)
	assert.Equal(t, true, out["alreadyScheduled"], "the same command again schedules nothing")

	stdout, stderr, code := pushctl(t, "schedule", "--key", key, "--delay", "2h", "--user", user, "--title", "Your order shipped")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.True(t, strings.HasPrefix(stderr, "pushctl schedule: key \""+key+"\": the key holds a different push"), stderr)
	assert.Equal(t, 1, strings.Count(stderr, "\n"))

	got := pushctlJSON(t, "get", key)
	assert.Equal(t, "scheduled", got["state"])
	assert.InDelta(t, 3600, got["timeLeftSeconds"], 60, "an hour, less the time the calls took")

	moved := pushctlJSON(t, "reschedule", key, "--delay", "2h", "--title", "Moved")
	assert.Equal(t, 2.0, moved["revision"])
	got = pushctlJSON(t, "get", key)
	p := got["push"].(map[string]any)
	assert.Equal(t, "Moved", p["title"])
	assert.Equal(t, map[string]any{"orderId": "42"}, p["data"], "what was not given stays")

	list := pushctlJSON(t, "pending", "--user", user)
	require.Len(t, list["pushes"], 1)
	text, _, code := pushctl(t, "pending", "--user", user)
	require.Equal(t, 0, code)
	assert.Contains(t, text, key)
	assert.Contains(t, text, "Moved")

	cancelled := pushctlJSON(t, "cancel", key)
	assert.Equal(t, "cancelled", cancelled["state"])
	list = pushctlJSON(t, "pending", "--user", user)
	assert.Empty(t, list["pushes"])
}

// The same bad push gets the same one-line answer from pushctl as from the Go client.
func TestPushctlRejectsABadPushWithTheClientsWords(t *testing.T) {
	t.Parallel()
	_, clientErr := newClient(t).Schedule(context.Background(), client.Request{Key: name("cli-bad"), Push: push.Push{UserID: "u", Title: "t", Priority: "urgent"}, Delay: time.Hour})
	require.Error(t, clientErr)
	_, stderr, code := pushctl(t, "schedule", "--key", name("cli-bad"), "--delay", "1h", "--user", "u", "--title", "t", "--priority", "urgent")
	assert.Equal(t, 1, code)
	assert.Equal(t, "pushctl schedule: "+clientErr.Error()+"\n", stderr)
}

func TestPushctlSendsNowAndMeasuresAccuracy(t *testing.T) {
	t.Parallel()
	user := name("cli-now-user")
	ep := device(t, user, "cli-now-phone")
	key := name("cli-now")
	pushctlJSON(t, "send", "--key", key, "--user", user, "--title", "Hello", "--body", "now")
	deliveredOnce(t, ep, key, 60*time.Second)
	waitRecord(t, key, ep, "sent")
	acc := pushctlJSON(t, "accuracy", "--since", "10m")
	assert.GreaterOrEqual(t, acc["count"], 1.0)
	assert.GreaterOrEqual(t, acc["maxMs"], acc["p50Ms"])
	text, _, code := pushctl(t, "accuracy", "--since", "10m")
	require.Equal(t, 0, code)
	assert.Contains(t, text, "lateness (due time to SNS confirmation), ms: mean")
}

// A parked push comes back with redrive; a dry run moves nothing.
func TestPushctlRedrivesTheDeadLetterQueue(t *testing.T) {
	// Not parallel: it moves every message on the dead-letter queue.
	ctx := context.Background()
	user := name("cli-redrive-user")
	ep := device(t, user, "cli-redrive-phone")
	key := name("cli-redrive")
	_, err := stack.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(output(t, "DeadLetterQueueUrl")),
		MessageBody: aws.String(`{"id":"` + key + `","userId":"` + user + `","title":"Back from the DLQ"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"parkReason": {DataType: aws.String("String"), StringValue: aws.String("gave up after 5 attempts: SNS throttled")},
			"pushId":     {DataType: aws.String("String"), StringValue: aws.String(key)},
		},
	})
	require.NoError(t, err)

	dry, _, code := pushctl(t, "redrive", "--dry-run")
	require.Equal(t, 0, code)
	assert.Contains(t, dry, "would move (dry run)")
	assert.Contains(t, dry, "push "+key+": gave up after 5 attempts: SNS throttled")
	got, err := stack.Deliveries(ctx, ep)
	require.NoError(t, err)
	assert.Empty(t, got, "a dry run sends nothing")

	moved := pushctlRedrive(t)
	assert.Equal(t, 1, times(moved.Moved, byPushID)[key])
	deliveredOnce(t, ep, key, 60*time.Second)
}

func TestPushctlHelpForEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"schedule", "send", "get", "cancel", "reschedule", "pending", "accuracy", "redrive"} {
		out, stderr, code := pushctl(t, c, "--help")
		assert.Equal(t, 0, code, c)
		assert.Empty(t, stderr)
		assert.Contains(t, out, "Usage: pushctl "+c)
	}
	_, stderr, code := pushctl(t, "get", name("no-such-key"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no push with this key")
}

// The pushctl example (examples/pushctl.sh, linked from docs/usage.md).
func TestExamplePushctl(t *testing.T) {
	t.Parallel()
	bin, err := localrun.PushctlPath()
	require.NoError(t, err)
	key := name("example-pushctl")
	cmd := exec.Command("bash", "examples/pushctl.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PUSHCTL_FLAGS=--local --local-state "+stack.StateDir, "KEY="+key, "USER_ID="+name("example-pushctl-user"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "scheduled: "+key+" (revision 1)")
	assert.Contains(t, string(out), "state:     scheduled\n")
	assert.Contains(t, string(out), "state:     cancelled\n")
}
