package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/devices"
	"github.com/delayed-push/delayed-push/internal/ddbfake"
	"github.com/delayed-push/delayed-push/internal/index"
	"github.com/delayed-push/delayed-push/internal/jsonfield"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// fakeSFN: names used once; a repeated start with the same input succeeds while running.
type fakeSFN struct {
	inputs  map[string]string
	status  map[string]sfntypes.ExecutionStatus
	failErr error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if f.failErr != nil {
		return nil, f.failErr
	}
	name := aws.ToString(in.Name)
	if old, ok := f.inputs[name]; ok && (old != aws.ToString(in.Input) || f.status[name] != sfntypes.ExecutionStatusRunning) {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("exists")}
	}
	f.inputs[name], f.status[name] = aws.ToString(in.Input), sfntypes.ExecutionStatusRunning
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:" + name), StartDate: aws.Time(t0)}, nil
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	name := aws.ToString(in.ExecutionArn)
	name = name[strings.LastIndex(name, ":")+1:]
	f.status[name] = sfntypes.ExecutionStatusAborted
	return &sfn.StopExecutionOutput{}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	name := aws.ToString(in.ExecutionArn)
	name = name[strings.LastIndex(name, ":")+1:]
	input, ok := f.inputs[name]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("no")}
	}
	return &sfn.DescribeExecutionOutput{Input: aws.String(input), Status: f.status[name], StartDate: aws.Time(t0)}, nil
}

type fakeSQS struct {
	bodies []string
	delays []int32
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.bodies = append(f.bodies, aws.ToString(in.MessageBody))
	f.delays = append(f.delays, in.DelaySeconds)
	return &sqs.SendMessageOutput{}, nil
}

type world struct {
	h   *Handler
	sfn *fakeSFN
	sqs *fakeSQS
}

func newWorld() *world {
	table := ddbfake.New(index.Key)
	table.Indexes = map[string]ddbfake.Index{index.PendingIndex: {PartitionKey: index.PendingRecipient, SortKey: index.DueAt}}
	w := &world{sfn: &fakeSFN{inputs: map[string]string{}, status: map[string]sfntypes.ExecutionStatus{}}, sqs: &fakeSQS{}}
	// With the economy engine's resources; its pushes here are due within 15 minutes, so they
	// need no scheduler.
	c := client.NewWith(client.Resources{StateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:M", PushQueueURL: "q", SchedulesTable: "s",
		ScheduleGroupName: "g", SchedulerRoleArn: "arn:aws:iam::123456789012:role/r", SchedulerDeadLetterQueueArn: "arn:aws:sqs:eu-west-1:123456789012:dlq",
		PushQueueArn: "arn:aws:sqs:eu-west-1:123456789012:q", EconomyScheduleAfter: 15 * time.Minute},
		w.sfn, w.sqs, nil, table, func() time.Time { return t0 })
	w.h = &Handler{Pushes: c}
	return w
}

// iamBackend is what API Gateway's IAM authorization passes on: a backend.
func iamBackend() *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
		AccessKey: "AKIAEXAMPLE", AccountID: "123456789012", CallerID: "AROAEXAMPLE:orders", UserARN: "arn:aws:sts::123456789012:assumed-role/orders-api/orders"}}
}

// do sends a request as API Gateway would (payload format 2.0) and decodes the JSON answer.
func (w *world) do(t *testing.T, routeKey, key, body string, query map[string]string) (int, map[string]any) {
	t.Helper()
	method, path, _ := strings.Cut(routeKey, " ")
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, RawPath: strings.Replace(path, "{key}", key, 1),
		Body: body, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method},
			Authorizer: iamBackend()}}
	if key != "" {
		req.PathParameters = map[string]string{"key": key}
	}
	if body != "" {
		req.Headers = map[string]string{"content-type": "application/json"}
	}
	resp, err := w.h.Handle(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Headers["content-type"])
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

func problem(t *testing.T, body map[string]any) (code, field, message string) {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	require.True(t, ok, "an error answer: %v", body)
	field, _ = e["field"].(string)
	return e["code"].(string), field, e["message"].(string)
}

const shipped = `{"userId":"u-42","title":"Your order shipped","body":"Arriving Tuesday"}`

func TestPostSchedulesOnceThenAnswersAlreadyScheduled(t *testing.T) {
	w := newWorld()
	body := `{"key":"order-42","delaySeconds":300,"push":` + shipped + `}`
	status, out := w.do(t, "POST /pushes", "", body, nil)
	assert.Equal(t, 201, status)
	assert.Equal(t, map[string]any{"key": "order-42", "revision": 1.0, "state": "scheduled", "engine": "stepfunctions",
		"dueAt": "2026-12-01T09:05:00Z", "executionName": "order-42", "alreadyScheduled": false}, out)
	status, out = w.do(t, "POST /pushes", "", body, nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, true, out["alreadyScheduled"])

	status, out = w.do(t, "POST /pushes", "", `{"key":"order-42","delaySeconds":600,"push":`+shipped+`}`, nil)
	assert.Equal(t, 409, status)
	code, _, msg := problem(t, out)
	assert.Equal(t, CodeConflict, code)
	assert.Contains(t, msg, `key "order-42": the key holds a different push`)
}

func TestPostWithoutATimeUsesTheDefaultDelayAndZeroSendsNow(t *testing.T) {
	w := newWorld()
	w.h.DefaultDelay = 7200 * time.Second
	_, out := w.do(t, "POST /pushes", "", `{"key":"a","push":`+shipped+`}`, nil)
	assert.Equal(t, "2026-12-01T11:00:00Z", out["dueAt"])
	status, out := w.do(t, "POST /pushes", "", `{"key":"b","delaySeconds":0,"push":`+shipped+`}`, nil)
	assert.Equal(t, 201, status)
	assert.NotContains(t, out, "executionName", "sent now: straight to the queue")
	require.Len(t, w.sqs.bodies, 1)
	_, out = w.do(t, "POST /pushes", "", `{"key":"c","sendAt":"2026-12-24T18:00:00+01:00","push":`+shipped+`}`, nil)
	assert.Equal(t, "2026-12-24T17:00:00Z", out["dueAt"])
}

// The API gives a bad push the same field and words as the state machine (the shared cases of
// schedule/testdata/vectors.json, with a key added).
func TestBadInputGetsTheStateMachinesWords(t *testing.T) {
	raw, err := readVectors()
	require.NoError(t, err)
	checked := 0
	for _, c := range raw.Invalid {
		obj, err := jsonfield.DecodeObject(c.Input)
		if err != nil || obj.Unknown([]string{"delaySeconds", "sendAt", "push"}) != "" {
			continue // not an object, or an unknown top-level field: the API's own body rules
		}
		if _, has := obj.Members["delaySeconds"]; !has {
			if _, has := obj.Members["sendAt"]; !has {
				continue // neither: the API applies its default delay
			}
		}
		body := map[string]json.RawMessage{"key": json.RawMessage(`"k"`)}
		for k, v := range obj.Members {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		status, out := newWorld().do(t, "POST /pushes", "", string(b), nil)
		if !assert.Equal(t, 400, status, c.Name) {
			continue
		}
		code, _, msg := problem(t, out)
		assert.Equal(t, CodeInvalidPush, code, c.Name)
		assert.Equal(t, c.Error, msg, c.Name)
		checked++
	}
	assert.Greater(t, checked, 40, "most of the shared cases apply to the API")
}

func TestRequestErrorsSayWhatWasWrong(t *testing.T) {
	w := newWorld()
	w.h.MaxBodyBytes = 2048
	cases := []struct {
		route, key, body string
		query            map[string]string
		status           int
		code, field, msg string
	}{
		{"POST /pushes", "", `not json`, nil, 400, CodeInvalidRequest, "", "the body is not a JSON object: malformed JSON at offset 2: invalid character 'o' in literal null (expecting 'u')"},
		{"POST /pushes", "", ``, nil, 400, CodeInvalidRequest, "", "the body is empty: send a JSON object"},
		{"POST /pushes", "", `{"key":"k","push":` + shipped + `,"when":"soon"}`, nil, 400, CodeInvalidRequest, "when", `unknown field "when"`},
		{"POST /pushes", "", `{"push":` + shipped + `}`, nil, 400, CodeInvalidPush, "key", "invalid key: is required, a string (it names the push and makes a retry safe)"},
		{"POST /pushes", "", `{"key":"","push":` + shipped + `}`, nil, 400, CodeInvalidPush, "key", "invalid key: is required"},
		{"POST /pushes", "", `{"key":"k"}`, nil, 400, CodeInvalidPush, "push", "invalid push: is required"},
		{"POST /pushes", "", `{"key":"k","push":{"userId":"u","title":"` + strings.Repeat("x", 3000) + `"}}`, nil, 413, CodePayloadTooLarge, "", "the body is 3044 bytes, at most 2048"},
		{"GET /pushes/{key}", "nope", "", nil, 404, CodeNotFound, "", `key "nope": no push with this key`},
		{"DELETE /pushes/{key}", "nope", "", nil, 404, CodeNotFound, "", `key "nope": no push with this key`},
		{"PUT /pushes/{key}", "k", `{}`, nil, 400, CodeInvalidRequest, "", "nothing to change: give delaySeconds, sendAt, localTime or now, and/or push, and/or engine"},
		{"POST /pushes", "", `{"key":"k","engine":"cheap","push":` + shipped + `}`, nil, 400, CodeInvalidPush, "engine", `invalid engine: must be "stepfunctions" or "economy", got "cheap"`},
		{"POST /pushes", "", `{"key":"k","engine":1,"push":` + shipped + `}`, nil, 400, CodeInvalidPush, "engine", `invalid engine: must be "stepfunctions" or "economy", got 1`},
		{"PUT /pushes/{key}", "k", `{"engine":"Economy"}`, nil, 400, CodeInvalidPush, "engine", `invalid engine: must be "stepfunctions" or "economy", got "Economy"`},
		{"GET /pushes", "", "", map[string]string{"limit": "many"}, 400, CodeInvalidRequest, "limit", `invalid limit: must be a whole number 1..1000, got "many"`},
		{"GET /pushes", "", "", map[string]string{"limit": "0"}, 400, CodeInvalidRequest, "limit", "invalid limit: must be 1..1000, got 0"},
		{"GET /pushes", "", "", map[string]string{"limit": "5000"}, 400, CodeInvalidRequest, "limit", "invalid limit: must be 1..1000, got 5000"},
		{"GET /pushes", "", "", map[string]string{"user": "u"}, 400, CodeInvalidRequest, "user", `unknown query parameter "user"`},
		{"GET /pushes", "", "", map[string]string{"pageToken": "x"}, 400, CodeInvalidRequest, "pageToken", "invalid pageToken: is not a token List returned"},
		{"PATCH /pushes/{key}", "k", "", nil, 404, CodeRouteNotFound, "", "no route PATCH /pushes/k"},
	}
	for _, c := range cases {
		status, out := w.do(t, c.route, c.key, c.body, c.query)
		assert.Equal(t, c.status, status, "%s %s", c.route, c.body)
		code, field, msg := problem(t, out)
		assert.Equal(t, c.code, code, "%s %s", c.route, c.body)
		assert.Equal(t, c.field, field, "%s %s", c.route, c.body)
		assert.Equal(t, c.msg, msg, "%s %s", c.route, c.body)
	}
}

// The engine a request names reaches the client; the answers say which one holds the push.
func TestEngineIsPassedThrough(t *testing.T) {
	w := newWorld()
	status, out := w.do(t, "POST /pushes", "", `{"key":"k","delaySeconds":300,"engine":"economy","push":`+shipped+`}`, nil)
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, "economy", out["engine"])
	assert.Nil(t, out["executionName"], "no execution")
	assert.Equal(t, []int32{300}, w.sqs.delays, "one delayed message")
	assert.Empty(t, w.sfn.inputs)

	status, out = w.do(t, "GET /pushes/{key}", "k", "", nil)
	require.Equal(t, 200, status)
	assert.Equal(t, "economy", out["engine"])
	assert.Equal(t, "scheduled", out["state"])

	status, out = w.do(t, "PUT /pushes/{key}", "k", `{"engine":"stepfunctions"}`, nil)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, "stepfunctions", out["engine"])
	assert.Equal(t, "k--2", out["executionName"])
	assert.Equal(t, "2026-12-01T09:05:00Z", out["dueAt"], "the time stays")

	status, out = w.do(t, "POST /pushes", "", `{"key":"d","delaySeconds":300,"push":`+shipped+`}`, nil)
	require.Equal(t, 201, status)
	assert.Equal(t, "stepfunctions", out["engine"], "the stack's engine when none is named")
}

func TestGetRescheduleCancelAndList(t *testing.T) {
	w := newWorld()
	w.do(t, "POST /pushes", "", `{"key":"k1","delaySeconds":3600,"push":`+shipped+`}`, nil)
	w.do(t, "POST /pushes", "", `{"key":"k2","delaySeconds":60,"push":`+shipped+`}`, nil)

	status, out := w.do(t, "GET /pushes/{key}", "k1", "", nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, "scheduled", out["state"])
	assert.Equal(t, 3600.0, out["timeLeftSeconds"])
	assert.Equal(t, "Your order shipped", out["push"].(map[string]any)["title"])

	status, out = w.do(t, "PUT /pushes/{key}", "k1", `{"delaySeconds":7200,"push":{"userId":"u-42","title":"Moved"}}`, nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, 2.0, out["revision"])
	assert.Equal(t, "k1--2", out["executionName"])
	assert.Equal(t, sfntypes.ExecutionStatusAborted, w.sfn.status["k1"], "the old execution is stopped")

	status, out = w.do(t, "GET /pushes", "", "", map[string]string{"userId": "u-42", "limit": "1"})
	assert.Equal(t, 200, status)
	pushes := out["pushes"].([]any)
	require.Len(t, pushes, 1)
	assert.Equal(t, "k2", pushes[0].(map[string]any)["key"], "the soonest first")
	token := out["nextPageToken"].(string)
	_, out = w.do(t, "GET /pushes", "", "", map[string]string{"userId": "u-42", "limit": "1", "pageToken": token})
	assert.Equal(t, "k1", out["pushes"].([]any)[0].(map[string]any)["key"])

	status, out = w.do(t, "DELETE /pushes/{key}", "k1", "", nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, "cancelled", out["state"])
	status, out = w.do(t, "PUT /pushes/{key}", "k1", `{"now":true}`, nil)
	assert.Equal(t, 409, status)
	code, _, _ := problem(t, out)
	assert.Equal(t, CodeCancelled, code)
}

func TestBase64BodiesAreRead(t *testing.T) {
	w := newWorld()
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /pushes", IsBase64Encoded: true, Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: iamBackend()},
		Body:           base64.StdEncoding.EncodeToString([]byte(`{"key":"b64","delaySeconds":60,"push":` + shipped + `}`))}
	resp, err := w.h.Handle(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, 201, resp.StatusCode, resp.Body)
}

func TestAWSTroubleIsUnavailableOrInternalWithoutDetails(t *testing.T) {
	w := newWorld()
	w.sfn.failErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}
	status, out := w.do(t, "POST /pushes", "", `{"key":"k","delaySeconds":60,"push":`+shipped+`}`, nil)
	assert.Equal(t, 503, status)
	code, _, _ := problem(t, out)
	assert.Equal(t, CodeUnavailable, code)

	w.sfn.failErr = errors.New("AccessDeniedException: arn:aws:iam::123456789012:role/secret-role is not authorized")
	status, out = w.do(t, "POST /pushes", "", `{"key":"k2","delaySeconds":60,"push":`+shipped+`}`, nil)
	assert.Equal(t, 503, status, "not an API error: a network failure, retry")
	_ = out
	w.sfn.failErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "role/secret-role is not authorized", Fault: smithy.FaultClient}
	status, out = w.do(t, "POST /pushes", "", `{"key":"k3","delaySeconds":60,"push":`+shipped+`}`, nil)
	assert.Equal(t, 500, status)
	code, _, msg := problem(t, out)
	assert.Equal(t, CodeInternal, code)
	assert.Equal(t, "internal error (request req-1)", msg, "no internals in the answer")
}

type vectorFile struct {
	Invalid []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
	} `json:"invalid"`
	RefusedAtOnce []struct {
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
	} `json:"refusedAtOnce"`
}

// readVectors reads the shared cases; the HTTP API answers the refused-at-once ones with the
// Go package's words like the others.
func readVectors() (vectorFile, error) {
	var v vectorFile
	b, err := os.ReadFile("../../schedule/testdata/vectors.json")
	if err != nil {
		return v, err
	}
	err = json.Unmarshal(b, &v)
	v.Invalid = append(v.Invalid, v.RefusedAtOnce...)
	return v, err
}

// A body must be declared JSON: anything else is 415 and changes nothing. Requests without a
// body are not checked.
func TestABodyNotDeclaredJSONIs415AndChangesNothing(t *testing.T) {
	w := newWorld()
	devs := &fakeDevices{byID: map[string]devices.Device{}}
	w.h.Devices = devs
	post := `{"key":"k","delaySeconds":60,"push":` + shipped + `}`
	send := func(routeKey, key, body string, headers map[string]string) (int, map[string]any) {
		t.Helper()
		req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeKey, Body: body, Headers: headers,
			PathParameters: map[string]string{"key": key}, RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-3", Authorizer: iamBackend()}}
		resp, err := w.h.Handle(context.Background(), req)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
		return resp.StatusCode, out
	}
	for _, c := range []struct {
		headers map[string]string
		msg     string
	}{
		{nil, "the body must be JSON: the request has no Content-Type; send Content-Type: application/json"},
		{map[string]string{"content-type": ""}, "the body must be JSON: the request has no Content-Type; send Content-Type: application/json"},
		{map[string]string{"content-type": "text/plain"}, `the body must be JSON: Content-Type "text/plain" is not application/json; send Content-Type: application/json`},
		{map[string]string{"content-type": "application/x-www-form-urlencoded"}, `the body must be JSON: Content-Type "application/x-www-form-urlencoded" is not application/json; send Content-Type: application/json`},
		{map[string]string{"content-type": "application/problem+json"}, `the body must be JSON: Content-Type "application/problem+json" is not application/json; send Content-Type: application/json`},
		{map[string]string{"content-type": "application/json,text/plain"}, `the body must be JSON: Content-Type "application/json,text/plain" is not a media type (mime: unexpected content after media subtype); send Content-Type: application/json`},
		{map[string]string{"content-type": "application/json; charset=utf-16"}, `the body must be JSON: charset "utf-16": JSON is UTF-8; send Content-Type: application/json`},
	} {
		for _, r := range []struct{ route, key, body string }{
			{"POST /pushes", "", post}, {"PUT /pushes/{key}", "k", `{"now":true}`}, {"POST /devices", "", `{"userId":"u","token":"t"}`},
		} {
			status, out := send(r.route, r.key, r.body, c.headers)
			assert.Equal(t, 415, status, "%s %v", r.route, c.headers)
			code, field, msg := problem(t, out)
			assert.Equal(t, CodeUnsupportedMedia, code)
			assert.Empty(t, field)
			assert.Equal(t, c.msg, msg, "%s %v", r.route, c.headers)
		}
	}
	assert.Empty(t, w.sfn.inputs, "nothing scheduled")
	assert.Empty(t, w.sqs.bodies, "nothing sent")
	assert.Empty(t, devs.byID, "nothing registered")

	// JSON in any case, with parameters, under a header name in any case (API Gateway sends
	// them lower case).
	for i, ct := range []string{"application/json", "Application/JSON; Charset=UTF-8", `application/json ; charset="utf-8"`, "application/json;"} {
		status, out := send("POST /pushes", "", `{"key":"k`+strconv.Itoa(i)+`","delaySeconds":60,"push":`+shipped+`}`, map[string]string{"Content-Type": ct})
		assert.Equal(t, 201, status, "%s: %v", ct, out)
	}
	status, _ := send("POST /devices", "", `{"userId":"u","token":"t"}`, map[string]string{"content-type": "application/json"})
	assert.Equal(t, 201, status)

	// No body: not checked, whatever the header says.
	status, out := send("GET /pushes/{key}", "k0", "", map[string]string{"content-type": "text/plain"})
	assert.Equal(t, 200, status, out)
	status, out = send("DELETE /pushes/{key}", "k1", "", nil)
	assert.Equal(t, 200, status, out)
	status, out = send("POST /pushes", "", "", nil)
	assert.Equal(t, 400, status, "an empty body is the route's 400, as before")
	code, _, _ := problem(t, out)
	assert.Equal(t, CodeInvalidRequest, code)
}
