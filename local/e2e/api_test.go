//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

// The HTTP API on the local stack: API Gateway's part played by local/apigw (SigV4, payload
// format 2.0), the Lambda's by the real bootstrap.

func apiURL(t *testing.T) string {
	t.Helper()
	require.NotEmpty(t, stack.APIEndpoint, "the local stack serves no HTTP API (stack.json has no apiEndpoint)")
	return stack.APIEndpoint
}

// call sends a SigV4-signed request (the emulator's test credentials) and decodes the answer.
func call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, apiURL(t)+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
		req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()))
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%d %s", resp.StatusCode, b)
	return resp.StatusCode, out
}

func apiError(t *testing.T, out map[string]any) (code, field, message string) {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	require.True(t, ok, "an error answer: %v", out)
	field, _ = e["field"].(string)
	return e["code"].(string), field, e["message"].(string)
}

func TestAPISchedulesGetsReschedulesListsAndCancels(t *testing.T) {
	t.Parallel()
	user := name("api-user")
	key := name("api-order")
	body := `{"key":"` + key + `","delaySeconds":3600,"push":{"userId":"` + user + `","title":"Your order shipped"}}`
	status, out := call(t, "POST", "/pushes", body)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, key, out["key"])
	assert.Equal(t, false, out["alreadyScheduled"])
	status, out = call(t, "POST", "/pushes", body)
	assert.Equal(t, 200, status)
	assert.Equal(t, true, out["alreadyScheduled"])
	status, out = call(t, "POST", "/pushes", strings.Replace(body, "3600", "7200", 1))
	assert.Equal(t, 409, status)
	code, _, _ := apiError(t, out)
	assert.Equal(t, "conflict", code)

	status, out = call(t, "GET", "/pushes/"+url.PathEscape(key), "")
	require.Equal(t, 200, status)
	assert.Equal(t, "scheduled", out["state"])
	assert.InDelta(t, 3600, out["timeLeftSeconds"], 10)

	status, out = call(t, "PUT", "/pushes/"+key, `{"delaySeconds":7200,"push":{"userId":"`+user+`","title":"Moved"}}`)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, 2.0, out["revision"])
	desc, err := stack.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(strings.Replace(output(t, "StateMachineArn"), ":stateMachine:", ":execution:", 1) + ":" + key)})
	require.NoError(t, err)
	assert.Equal(t, sfntypes.ExecutionStatusAborted, desc.Status, "the old execution is stopped")

	status, out = call(t, "GET", "/pushes?userId="+url.QueryEscape(user), "")
	require.Equal(t, 200, status)
	pushes := out["pushes"].([]any)
	require.Len(t, pushes, 1)
	assert.Equal(t, "Moved", pushes[0].(map[string]any)["push"].(map[string]any)["title"])

	status, out = call(t, "DELETE", "/pushes/"+key, "")
	require.Equal(t, 200, status)
	assert.Equal(t, "cancelled", out["state"])
	_, out = call(t, "GET", "/pushes?userId="+url.QueryEscape(user), "")
	assert.Empty(t, out["pushes"])
}

// The same bad push gets the same answer from the API as from the Go client.
func TestAPIRejectsABadPushWithTheClientsWords(t *testing.T) {
	t.Parallel()
	bad := push.Push{UserID: "u", Title: "t", TTLSeconds: aws.Int(-1)}
	_, clientErr := newClient(t).Schedule(context.Background(), client.Request{Key: name("api-bad"), Push: bad, Delay: time.Hour})
	require.Error(t, clientErr)
	status, out := call(t, "POST", "/pushes", `{"key":"`+name("api-bad")+`","delaySeconds":3600,"push":{"userId":"u","title":"t","ttlSeconds":-1}}`)
	assert.Equal(t, 400, status)
	code, field, msg := apiError(t, out)
	assert.Equal(t, "invalid_push", code)
	assert.Equal(t, "push.ttlSeconds", field)
	assert.Equal(t, clientErr.Error(), msg)
}

func TestAPIPushSentNowArrives(t *testing.T) {
	t.Parallel()
	user := name("api-now-user")
	ep := device(t, user, "api-now-phone")
	key := name("api-now")
	status, out := call(t, "POST", "/pushes", `{"key":"`+key+`","delaySeconds":0,"push":{"userId":"`+user+`","title":"Now"}}`)
	require.Equal(t, 201, status, "%v", out)
	deliveredOnce(t, ep, key, 20*time.Second)
	var st map[string]any
	require.Eventually(t, func() bool {
		_, st = call(t, "GET", "/pushes/"+key, "")
		return st["state"] == "sent"
	}, 10*time.Second, 200*time.Millisecond)
	assert.Equal(t, 1.0, st["outcome"].(map[string]any)["sent"])
}

func TestAPIRefusesUnsignedAndOversizeRequests(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequest("POST", apiURL(t)+"/pushes", strings.NewReader(`{}`))
	require.NoError(t, err)
	status, out := send(t, req)
	assert.Equal(t, 403, status)
	assert.Equal(t, "Forbidden", out["message"])

	big := `{"key":"k","push":{"userId":"u","title":"` + strings.Repeat("x", 70000) + `"}}`
	status, out = call(t, "POST", "/pushes", big)
	assert.Equal(t, 413, status)
	code, _, _ := apiError(t, out)
	assert.Equal(t, "payload_too_large", code)

	status, out = call(t, "GET", "/pushes/"+name("nobody"), "")
	assert.Equal(t, 404, status)
	code, _, _ = apiError(t, out)
	assert.Equal(t, "not_found", code)
}

// The README's curl example, signed by curl itself.
func TestExampleCurl(t *testing.T) {
	t.Parallel()
	key := name("example-curl")
	cmd := exec.Command("bash", "examples/curl.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "API_URL="+apiURL(t), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"KEY="+key, "USER_ID="+name("example-curl-user"))
	cmd.Env = slicesWithout(cmd.Env, "AWS_SESSION_TOKEN")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	require.Len(t, lines, 3, "%s", out)
	var scheduled, got, cancelled map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &scheduled))
	require.NoError(t, json.Unmarshal(lines[1], &got))
	require.NoError(t, json.Unmarshal(lines[2], &cancelled))
	assert.Equal(t, key, scheduled["key"])
	assert.Equal(t, "scheduled", got["state"])
	assert.Equal(t, "cancelled", cancelled["state"])
}

func slicesWithout(env []string, name string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
