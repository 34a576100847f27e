package apigw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo is a function that returns the event it got, in a structured 2.0 response.
type echo struct {
	last events.APIGatewayV2HTTPRequest
}

func (e *echo) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	if err := json.Unmarshal(payload, &e.last); err != nil {
		return nil, err
	}
	return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"content-type": "application/json"},
		Body: `{"ok":true}`})
}

func server(fn Invoker) *httptest.Server {
	s := &Server{Region: "us-east-1", AccountID: "123456789012", APIID: "local", Secrets: map[string]string{"test": "test"},
		Routes: []Route{
			{Method: "POST", Path: "/pushes", Auth: "AWS_IAM", Function: fn},
			{Method: "GET", Path: "/pushes/{key}", Auth: "AWS_IAM", Function: fn},
			{Method: "GET", Path: "/open", Auth: "NONE", Function: fn},
		}}
	return httptest.NewServer(s)
}

func signed(t *testing.T, method, url, body, secret string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now())
	require.NoError(t, err)
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSignedRequestReachesTheFunctionAsAPayload2Event(t *testing.T) {
	fn := &echo{}
	srv := server(fn)
	defer srv.Close()
	status, body := do(t, signed(t, "POST", srv.URL+"/pushes?x=1&x=2", `{"key":"k"}`, "test"))
	assert.Equal(t, 201, status)
	assert.Equal(t, `{"ok":true}`, body)
	ev := fn.last
	assert.Equal(t, "2.0", ev.Version)
	assert.Equal(t, "POST /pushes", ev.RouteKey)
	assert.Equal(t, "/pushes", ev.RawPath)
	assert.Equal(t, "x=1&x=2", ev.RawQueryString)
	assert.Equal(t, map[string]string{"x": "1,2"}, ev.QueryStringParameters)
	assert.Equal(t, `{"key":"k"}`, ev.Body)
	assert.False(t, ev.IsBase64Encoded)
	assert.Equal(t, "application/json", ev.Headers["content-type"])
	assert.Equal(t, "$default", ev.RequestContext.Stage)
	assert.Equal(t, "POST", ev.RequestContext.HTTP.Method)
	require.NotNil(t, ev.RequestContext.Authorizer)
	assert.Equal(t, "test", ev.RequestContext.Authorizer.IAM.AccessKey)
}

func TestPathParametersAreDecoded(t *testing.T) {
	fn := &echo{}
	srv := server(fn)
	defer srv.Close()
	status, _ := do(t, signed(t, "GET", srv.URL+"/pushes/order%2042%2Fa", "", "test"))
	assert.Equal(t, 201, status)
	assert.Equal(t, map[string]string{"key": "order 42/a"}, fn.last.PathParameters)
	assert.Equal(t, "GET /pushes/{key}", fn.last.RouteKey)
}

func TestUnsignedOrWronglySignedRequestsAreForbidden(t *testing.T) {
	fn := &echo{}
	srv := server(fn)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/pushes", strings.NewReader(`{}`))
	status, body := do(t, req)
	assert.Equal(t, 403, status)
	assert.JSONEq(t, `{"message":"Forbidden"}`, body)

	status, _ = do(t, signed(t, "POST", srv.URL+"/pushes", `{}`, "wrong-secret"))
	assert.Equal(t, 403, status)

	tampered := signed(t, "POST", srv.URL+"/pushes", `{"a":1}`, "test")
	tampered.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
	tampered.ContentLength = 7
	tampered.Header.Del("X-Amz-Content-Sha256")
	status, _ = do(t, tampered)
	assert.Equal(t, 403, status, "a body other than the one signed")
	assert.Empty(t, fn.last.RouteKey, "the function never ran")

	open, _ := http.NewRequest("GET", srv.URL+"/open", nil)
	status, _ = do(t, open)
	assert.Equal(t, 201, status, "a route without authorization")
}

func TestUnknownRouteIsNotFound(t *testing.T) {
	srv := server(&echo{})
	defer srv.Close()
	status, body := do(t, signed(t, "DELETE", srv.URL+"/pushes", "", "test"))
	assert.Equal(t, 404, status)
	assert.JSONEq(t, `{"message":"Not Found"}`, body)
}

type plain struct{}

func (plain) Invoke(context.Context, []byte) ([]byte, error) { return []byte(`{"hello":"world"}`), nil }

// A function answering any JSON other than a structured response gets a 200 with that body.
func TestInferredResponseShape(t *testing.T) {
	srv := server(plain{})
	defer srv.Close()
	status, body := do(t, signed(t, "POST", srv.URL+"/pushes", `{}`, "test"))
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"hello":"world"}`, body)
}
