package lambdahost

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRuntime plays the function side of the Runtime API over real HTTP.
type fakeRuntime struct {
	t    *testing.T
	base string
}

func newTestAPI(t *testing.T, timeout time.Duration) (*runtimeAPI, *fakeRuntime) {
	t.Helper()
	api, err := startRuntimeAPI(timeout)
	require.NoError(t, err)
	t.Cleanup(api.close)
	return api, &fakeRuntime{t: t, base: "http://" + api.addr + "/2018-06-01/runtime"}
}

// next issues GET /invocation/next in the background; the response arrives on the channel.
func (f *fakeRuntime) next() <-chan *http.Response {
	ch := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(f.base + "/invocation/next")
		if err != nil {
			close(ch)
			return
		}
		ch <- resp
	}()
	return ch
}

func (f *fakeRuntime) post(path, body string, header http.Header) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(body))
	require.NoError(f.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// deliver hands inv to the runtime the way environment.invoke does and returns the /next
// response.
func deliver(t *testing.T, api *runtimeAPI, f *fakeRuntime, inv *invocation) *http.Response {
	t.Helper()
	ch := f.next()
	select {
	case api.queue <- inv:
	case <-time.After(5 * time.Second):
		t.Fatal("runtime never called /next")
	}
	resp, ok := <-ch
	require.True(t, ok, "GET /next failed")
	return resp
}

func waitResult(t *testing.T, inv *invocation) result {
	t.Helper()
	select {
	case r := <-inv.done:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no result")
		return result{}
	}
}

func TestRuntimeAPINextBlocksUntilInvocation(t *testing.T) {
	api, f := newTestAPI(t, 3*time.Second)
	ch := f.next()
	select {
	case <-ch:
		t.Fatal("/next returned without an invocation")
	case <-time.After(200 * time.Millisecond):
	}

	inv := newInvocation([]byte(`{"hello":"world"}`), "arn:aws:lambda:eu-west-1:000000000000:function:sender")
	before := time.Now()
	api.queue <- inv
	resp := <-ch
	require.NotNil(t, resp)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)

	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"hello":"world"}`, string(body))
	assert.Equal(t, inv.id, resp.Header.Get("Lambda-Runtime-Aws-Request-Id"))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, inv.id)
	assert.Equal(t, "arn:aws:lambda:eu-west-1:000000000000:function:sender", resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"))
	assert.Regexp(t, `^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`, resp.Header.Get("Lambda-Runtime-Trace-Id"))
	deadline, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, before.Add(3*time.Second).UnixMilli(), deadline, 1000)
}

func TestRuntimeAPIResponse(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	code, body := f.post("/invocation/"+inv.id+"/response", `{"ok":true}`, nil)
	assert.Equal(t, http.StatusAccepted, code)
	assert.JSONEq(t, `{"status":"OK"}`, body)
	r := waitResult(t, inv)
	require.NoError(t, r.err)
	assert.JSONEq(t, `{"ok":true}`, string(r.payload))
}

func TestRuntimeAPIUnknownRequestID(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	code, body := f.post("/invocation/nope/response", `{}`, nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "InvalidRequestID")

	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()
	code, _ = f.post("/invocation/other-id/error", `{}`, nil)
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestRuntimeAPIInvocationError(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	// What aws-lambda-go posts for a returned error.
	code, body := f.post("/invocation/"+inv.id+"/error",
		`{"errorMessage":"boom","errorType":"errorString"}`,
		http.Header{"Content-Type": {"application/json"}, "Lambda-Runtime-Function-Error-Type": {"Unhandled"}})
	assert.Equal(t, http.StatusAccepted, code)
	assert.JSONEq(t, `{"status":"OK"}`, body)

	r := waitResult(t, inv)
	var fe *FunctionError
	require.ErrorAs(t, r.err, &fe)
	assert.Equal(t, "errorString", fe.Type)
	assert.Equal(t, "boom", fe.Message)
	assert.JSONEq(t, `{"errorMessage":"boom","errorType":"errorString"}`, string(fe.Payload))
}

func TestRuntimeAPIErrorWithNonJSONBody(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	code, _ := f.post("/invocation/"+inv.id+"/error", "plain text", http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Custom"}})
	assert.Equal(t, http.StatusAccepted, code)
	var fe *FunctionError
	require.ErrorAs(t, waitResult(t, inv).err, &fe)
	assert.Equal(t, "Runtime.Custom", fe.Type)
	assert.Equal(t, "plain text", fe.Message)
}

func TestRuntimeAPIStreamingErrorTrailer(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	// aws-lambda-go reports a failure while streaming a response body in trailers.
	req, err := http.NewRequest(http.MethodPost, f.base+"/invocation/"+inv.id+"/response", io.NopCloser(strings.NewReader("partial")))
	require.NoError(t, err)
	req.Trailer = http.Header{
		"Lambda-Runtime-Function-Error-Type": {"ReadError"},
		"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk on fire","errorType":"ReadError"}`))},
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)

	var fe *FunctionError
	require.ErrorAs(t, waitResult(t, inv).err, &fe)
	assert.Equal(t, "ReadError", fe.Type)
	assert.Equal(t, "disk on fire", fe.Message)
}

func TestRuntimeAPIResponseTooLarge(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	code, _ := f.post("/invocation/"+inv.id+"/response", strings.Repeat("x", maxResponseBytes+1), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	var fe *FunctionError
	require.ErrorAs(t, waitResult(t, inv).err, &fe)
	assert.Equal(t, "Function.ResponseSizeTooLarge", fe.Type)
}

func TestRuntimeAPINextWithoutResponseFailsPrevious(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	inv := newInvocation([]byte(`{}`), "arn")
	deliver(t, api, f, inv).Body.Close()

	f.next() // asks for more work without answering inv
	var fe *FunctionError
	require.ErrorAs(t, waitResult(t, inv).err, &fe)
	assert.Equal(t, "Runtime.NoResponse", fe.Type)
}

func TestRuntimeAPIInitError(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	assert.Nil(t, api.initErr())
	code, body := f.post("/init/error", `{"errorMessage":"missing DEVICES_TABLE","errorType":"InvalidConfig"}`,
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Unhandled"}})
	assert.Equal(t, http.StatusAccepted, code)
	assert.JSONEq(t, `{"status":"OK"}`, body)
	require.NotNil(t, api.initErr())
	assert.Equal(t, "InvalidConfig", api.initErr().Type)
	assert.Equal(t, "missing DEVICES_TABLE", api.initErr().Message)
}

func TestRuntimeAPICloseReleasesNext(t *testing.T) {
	api, f := newTestAPI(t, time.Second)
	ch := f.next()
	time.Sleep(50 * time.Millisecond) // let the request reach the server
	api.close()
	select {
	case resp, ok := <-ch:
		if ok { // the handler may answer 410 before the connection is torn down
			assert.Equal(t, http.StatusGone, resp.StatusCode)
			resp.Body.Close()
		}
	case <-time.After(5 * time.Second):
		t.Fatal("/next still blocked after close")
	}
}

func TestRuntimeAPIRejectsWrongMethods(t *testing.T) {
	_, f := newTestAPI(t, time.Second)
	code, _ := f.post("/invocation/next", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	resp, err := http.Get(f.base + "/invocation/abc/response")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}
