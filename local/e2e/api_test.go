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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/local/apigw"
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
	assert.InDelta(t, 3600, out["timeLeftSeconds"], 60, "an hour, less the time the calls took")

	status, out = call(t, "PUT", "/pushes/"+key, `{"delaySeconds":7200,"push":{"userId":"`+user+`","title":"Moved"}}`)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, 2.0, out["revision"])
	waitStopped(t, strings.Replace(output(t, "StateMachineArn"), ":stateMachine:", ":execution:", 1)+":"+key, "the old execution is stopped")

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
	deliveredOnce(t, ep, key, 60*time.Second)
	var st map[string]any
	require.Eventually(t, func() bool {
		_, st = call(t, "GET", "/pushes/"+key, "")
		return st["state"] == "sent"
	}, 30*time.Second, 200*time.Millisecond)
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

// The curl example (examples/curl.sh, linked from docs/usage.md), signed by curl itself.
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

// JWT mode: the local stack serves the same routes on the same function a second time, with
// local/apigw's JWT authorizer instead of IAM (apiJwtEndpoint in stack.json), trusting a local
// issuer whose key `local serve` wrote to the state directory. The function decides per token,
// as deployed with apiJwtIssuer: a user's token its own devices, a backend's token everything.

// jwtAPI is the JWT-mode API's address and the issuer of its tokens.
func jwtAPI(t *testing.T) (string, *apigw.Issuer) {
	t.Helper()
	require.NotEmpty(t, stack.APIJWTEndpoint, "the local stack serves no JWT-mode API (stack.json has no apiJwtEndpoint)")
	iss, err := apigw.LoadLocalIssuer(stack.StateDir)
	require.NoError(t, err)
	return stack.APIJWTEndpoint, iss
}

// jwtCaller sends requests with a token of the local issuer, for sub and with these scopes.
type jwtCaller struct {
	url, token string
}

func newJWTCaller(t *testing.T, sub, scope string) jwtCaller {
	t.Helper()
	url, iss := jwtAPI(t)
	tok, err := iss.Sign(map[string]any{"iss": apigw.LocalIssuer, "aud": apigw.LocalAudience, "sub": sub, "scope": scope,
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(15 * time.Minute).Unix()})
	require.NoError(t, err)
	return jwtCaller{url: url, token: tok}
}

func (c jwtCaller) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return send(t, req)
}

func forbidden(t *testing.T, status int, out map[string]any, contains string) {
	t.Helper()
	require.Equal(t, 403, status, "%v", out)
	code, _, msg := apiError(t, out)
	assert.Equal(t, "forbidden", code)
	assert.Contains(t, msg, contains)
}

// scheduleRow is a push's row in the schedules table.
func scheduleRow(t *testing.T, key string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(output(t, "SchedulesTableName")),
		Key: map[string]ddbtypes.AttributeValue{"key": &ddbtypes.AttributeValueMemberS{Value: key}}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	return out.Item
}

func rowString(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// User A's token, against each route, for user B's devices, preferences and pushes: 403 every
// time, and B's devices, endpoint, preferences and push are as they were.
func TestAPIJWTAUserCannotReachAnotherUsersDevicesOrPushes(t *testing.T) {
	t.Parallel()
	alice, bob := name("jwt-alice"), name("jwt-bob")
	bobs := newJWTCaller(t, bob, "openid")
	backend := newJWTCaller(t, name("jwt-orders-service"), "openid delayed-push/backend")

	status, out := bobs.call(t, "POST", "/devices", `{"userId":"`+bob+`","token":"`+name("jwt-bob-phone")+`"}`)
	require.Equal(t, 201, status, "%v", out)
	bobsDevice, bobsEndpoint := out["deviceId"].(string), out["endpointArn"].(string)
	key := name("jwt-bobs-order")
	status, out = backend.call(t, "POST", "/pushes", `{"key":"`+key+`","delaySeconds":3600,"push":{"userId":"`+bob+`","title":"Your order"}}`)
	require.Equal(t, 201, status, "%v", out)
	rowBefore := scheduleRow(t, key)
	status, out = bobs.call(t, "PUT", "/users/"+bob+"/preferences", `{"timeZone":"Asia/Tokyo","quietHours":{"start":"22:00","end":"07:00"}}`)
	require.Equal(t, 200, status, "%v", out)

	alices := newJWTCaller(t, alice, "openid profile")
	mine := `the token's user is "` + alice + `", the request is for "` + bob + `"`
	notBackend := `is for backends (IAM authorization, or a token with the scope "delayed-push/backend")`
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/devices", `{"userId":"` + bob + `","token":"` + name("jwt-alice-phone") + `"}`, mine},
		{"GET", "/users/" + bob + "/devices", "", mine},
		{"DELETE", "/users/" + bob + "/devices", "", mine},
		{"DELETE", "/devices/" + bobsDevice, "", `device "` + bobsDevice + `" is another user's`},
		{"GET", "/users/" + strings.ToUpper(bob) + "/devices", "", `the request is for "` + strings.ToUpper(bob) + `"`},
		{"GET", "/users/" + url.PathEscape(bob+"%") + "/devices", "", `the request is for "` + bob + `%"`},
		{"POST", "/pushes", `{"key":"` + name("jwt-alice-push") + `","delaySeconds":60,"push":{"userId":"` + bob + `","title":"Hi"}}`, notBackend},
		{"GET", "/pushes?userId=" + url.QueryEscape(bob), "", notBackend},
		{"GET", "/pushes/" + key, "", notBackend},
		{"PUT", "/pushes/" + key, `{"delaySeconds":60,"push":{"userId":"` + alice + `","title":"Mine now"}}`, notBackend},
		{"DELETE", "/pushes/" + key, "", notBackend},
		{"GET", "/users/" + bob + "/preferences", "", mine},
		{"PUT", "/users/" + bob + "/preferences", `{"timeZone":"Europe/Berlin","quietHours":null}`, mine},
	} {
		status, out := alices.call(t, c.method, c.path, c.body)
		forbidden(t, status, out, c.want)
	}
	// A path that encodes bob's id still names bob, as API Gateway decodes it.
	status, out = alices.call(t, "GET", "/users/"+strings.Replace(url.PathEscape(bob), "j", "%6A", 1)+"/devices", "")
	forbidden(t, status, out, mine)

	// Bob's device, endpoint and push are as they were.
	status, out = bobs.call(t, "GET", "/users/"+bob+"/devices", "")
	require.Equal(t, 200, status)
	list := out["devices"].([]any)
	require.Len(t, list, 1)
	assert.Equal(t, bobsDevice, list[0].(map[string]any)["deviceId"])
	assert.Equal(t, true, list[0].(map[string]any)["enabled"])
	attrs, err := stack.SNS.GetEndpointAttributes(context.Background(), &sns.GetEndpointAttributesInput{EndpointArn: aws.String(bobsEndpoint)})
	require.NoError(t, err, "bob's endpoint still exists")
	assert.Equal(t, "true", attrs.Attributes["Enabled"])
	assert.Equal(t, rowBefore, scheduleRow(t, key), "bob's push is unchanged")
	status, out = bobs.call(t, "GET", "/users/"+bob+"/preferences", "")
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, "Asia/Tokyo", out["timeZone"], "bob's preferences are unchanged")
	assert.Equal(t, map[string]any{"start": "22:00", "end": "07:00"}, out["quietHours"])
	assert.Empty(t, scheduleRow(t, name("jwt-alice-push")), "no push was created")
	status, out = backend.call(t, "GET", "/pushes/"+key, "")
	require.Equal(t, 200, status)
	assert.Equal(t, "scheduled", out["state"])
	assert.Equal(t, 1.0, out["revision"])

	// Her own devices, alice may: a registration that names bob's device id is hers, and
	// leaves bob's alone.
	status, out = alices.call(t, "POST", "/devices", `{"userId":"`+alice+`","token":"`+name("jwt-alice-phone")+`","deviceId":"`+bobsDevice+`"}`)
	require.Equal(t, 201, status, "%v", out)
	hers := out["deviceId"].(string)
	assert.NotEqual(t, bobsDevice, hers)
	assert.Equal(t, alice, out["userId"])
	status, out = alices.call(t, "GET", "/users/"+alice+"/devices", "")
	require.Equal(t, 200, status)
	assert.Len(t, out["devices"], 1)
	status, _ = alices.call(t, "DELETE", "/devices/"+hers, "")
	assert.Equal(t, 200, status)
	_, out = bobs.call(t, "GET", "/users/"+bob+"/devices", "")
	assert.Len(t, out["devices"], 1, "bob's device is still there")
}

// A token with the backend scope does what the client does, for any user; the pushes it
// creates record its sub as their owner. (IAM callers own theirs by their ARN.)
func TestAPIJWTABackendTokenSchedulesGetsListsReschedulesAndCancels(t *testing.T) {
	t.Parallel()
	sub := name("jwt-backend")
	backend := newJWTCaller(t, sub, "delayed-push/backend")
	user, key := name("jwt-customer"), name("jwt-order")
	body := `{"key":"` + key + `","delaySeconds":3600,"push":{"userId":"` + user + `","title":"Your order shipped"}}`
	status, out := backend.call(t, "POST", "/pushes", body)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "jwt:"+sub, rowString(scheduleRow(t, key), "owner"))
	status, out = backend.call(t, "POST", "/pushes", body)
	assert.Equal(t, 200, status)
	assert.Equal(t, true, out["alreadyScheduled"])

	status, out = backend.call(t, "GET", "/pushes/"+key, "")
	require.Equal(t, 200, status)
	assert.Equal(t, "scheduled", out["state"])
	status, out = backend.call(t, "GET", "/pushes?userId="+url.QueryEscape(user), "")
	require.Equal(t, 200, status)
	assert.Len(t, out["pushes"], 1)
	status, out = backend.call(t, "PUT", "/pushes/"+key, `{"delaySeconds":7200}`)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, 2.0, out["revision"])
	status, out = backend.call(t, "DELETE", "/pushes/"+key, "")
	require.Equal(t, 200, status)
	assert.Equal(t, "cancelled", out["state"])
	assert.Equal(t, "jwt:"+sub, rowString(scheduleRow(t, key), "owner"), "the owner stays")

	// Any user's devices.
	status, out = backend.call(t, "POST", "/devices", `{"userId":"`+user+`","token":"`+name("jwt-customer-phone")+`"}`)
	require.Equal(t, 201, status, "%v", out)
	status, out = backend.call(t, "DELETE", "/users/"+user+"/devices", "")
	require.Equal(t, 200, status)
	assert.Len(t, out["devices"], 1)

	iamKey := name("iam-order")
	status, out = call(t, "POST", "/pushes", `{"key":"`+iamKey+`","delaySeconds":3600,"push":{"userId":"`+user+`","title":"t"}}`)
	require.Equal(t, 201, status, "%v", out)
	assert.True(t, strings.HasPrefix(rowString(scheduleRow(t, iamKey), "owner"), "iam:arn:aws:iam::"), "%v", scheduleRow(t, iamKey)["owner"])
	call(t, "DELETE", "/pushes/"+iamKey, "")
}

// What API Gateway's JWT authorizer refuses never reaches the function: 401 Unauthorized.
func TestAPIJWTRefusesBadTokensWith401(t *testing.T) {
	t.Parallel()
	endpoint, iss := jwtAPI(t)
	other, err := apigw.NewIssuer()
	require.NoError(t, err)
	base := map[string]any{"iss": apigw.LocalIssuer, "aud": apigw.LocalAudience, "sub": name("jwt-mallory"), "scope": "delayed-push/backend",
		"exp": time.Now().Add(time.Hour).Unix()}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for claim, value := range base {
			c[claim] = value
		}
		c[k] = v
		return c
	}
	signed := func(i *apigw.Issuer, c map[string]any) string {
		tok, err := i.Sign(c)
		require.NoError(t, err)
		return tok
	}
	for why, tok := range map[string]string{
		"none":           "",
		"another key":    signed(other, base),
		"expired":        signed(iss, with("exp", time.Now().Add(-time.Minute).Unix())),
		"another issuer": signed(iss, with("iss", "https://evil.example.com/")),
		"another app":    signed(iss, with("aud", "another-app")),
	} {
		key := name("jwt-refused")
		status, out := jwtCaller{url: endpoint, token: tok}.call(t, "POST", "/pushes", `{"key":"`+key+`","push":{"userId":"u","title":"t"}}`)
		assert.Equal(t, 401, status, why)
		assert.Equal(t, "Unauthorized", out["message"], why)
		assert.Empty(t, scheduleRow(t, key), why)
	}
}
