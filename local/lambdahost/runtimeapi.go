package lambdahost

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Runtime API (version 2018-06-01) as documented at
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and as called by
// github.com/aws/aws-lambda-go/lambda (runtime_api_client.go).
const (
	apiPrefix = "/2018-06-01/runtime"

	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMs  = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go streams responses; when reading the response fails half way it reports the
	// error in these HTTP trailers instead of a separate /error call.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"

	// maxResponseBytes is Lambda's limit for synchronous invocation payloads (6 MB).
	maxResponseBytes = 6 * 1024 * 1024
)

// FunctionError is an invocation that failed inside the function (a handler error, a panic, a
// crash, a timeout, an init failure). Type and Message follow Lambda's error payload
// ({"errorType": ..., "errorMessage": ...}); Payload is the raw body the runtime posted, if any.
type FunctionError struct {
	Type    string
	Message string
	Payload []byte
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// invocation is one event handed to a runtime. done receives exactly one result.
type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	arn      string
	traceID  string
	done     chan result
	once     sync.Once
}

type result struct {
	payload []byte
	err     error
}

func (inv *invocation) finish(r result) {
	inv.once.Do(func() { inv.done <- r })
}

func newInvocation(payload []byte, arn string) *invocation {
	return &invocation{
		id:      newRequestID(),
		payload: payload,
		arn:     arn,
		traceID: newTraceID(),
		done:    make(chan result, 1),
	}
}

// runtimeAPI serves the Runtime API for ONE execution environment, like Lambda does: each
// environment has its own endpoint and at most one invocation in progress, so "the current
// invocation" is well defined and a /next call implicitly ends the previous one.
type runtimeAPI struct {
	addr    string // host:port, the value of AWS_LAMBDA_RUNTIME_API
	timeout time.Duration
	// queue hands invocations to a blocked GET /next. Unbuffered: a send succeeds only when
	// the runtime is actually waiting, which is what Invoke uses to start the timeout clock.
	queue  chan *invocation
	closed chan struct{}
	srv    *http.Server

	mu        sync.Mutex
	current   *invocation // last invocation handed out by /next
	initError *FunctionError
}

// startRuntimeAPI listens on a free loopback port and serves the Runtime API. Invocation
// deadlines are computed as "now + timeout" at the moment /next hands an event out.
func startRuntimeAPI(timeout time.Duration) (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdahost: listening for the runtime API: %w", err)
	}
	s := &runtimeAPI{
		addr:    ln.Addr().String(),
		timeout: timeout,
		queue:   make(chan *invocation),
		closed:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", s.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", s.initErrorHandler)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// close stops the server and releases a runtime blocked in /next.
func (s *runtimeAPI) close() {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	_ = s.srv.Close()
}

// initErr returns what the runtime posted to /init/error, if anything.
func (s *runtimeAPI) initErr() *FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initError
}

func (s *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	// Asking for the next event means the runtime is done with the previous one. If it never
	// posted a result, fail that invocation rather than leaving the caller hanging.
	s.mu.Lock()
	if prev := s.current; prev != nil {
		prev.finish(result{err: &FunctionError{Type: "Runtime.NoResponse", Message: "the runtime asked for the next event without responding to " + prev.id}})
	}
	s.mu.Unlock()

	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-s.closed:
		http.Error(w, "runtime API closed", http.StatusGone)
		return
	case <-r.Context().Done():
		return
	}

	inv.deadline = time.Now().Add(s.timeout)
	s.mu.Lock()
	s.current = inv
	s.mu.Unlock()

	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadlineMs, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(headerFunctionARN, inv.arn)
	h.Set(headerTraceID, inv.traceID)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// lookup returns the current invocation if id names it, or writes the 400 Lambda returns.
func (s *runtimeAPI) lookup(w http.ResponseWriter, id string) *invocation {
	s.mu.Lock()
	inv := s.current
	s.mu.Unlock()
	if inv == nil || inv.id != id {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "invalid request ID "+strconv.Quote(id))
		return nil
	}
	return inv
}

func (s *runtimeAPI) response(w http.ResponseWriter, r *http.Request) {
	inv := s.lookup(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResponseBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		inv.finish(result{err: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: fmt.Sprintf("response payload size exceeded maximum allowed payload size (%d bytes)", maxResponseBytes)}})
		writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response payload too large")
		return
	case err != nil:
		inv.finish(result{err: &FunctionError{Type: "Runtime.TruncatedResponse", Message: err.Error()}})
		writeStatus(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	// Trailers are only populated once the body has been read to EOF.
	if typ := r.Trailer.Get(trailerErrorType); typ != "" {
		inv.finish(result{err: trailerError(typ, r.Trailer.Get(trailerErrorBody))})
	} else {
		inv.finish(result{payload: body})
	}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (s *runtimeAPI) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := s.lookup(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	inv.finish(result{err: readFunctionError(r)})
	writeStatus(w, http.StatusAccepted, "", "")
}

func (s *runtimeAPI) initErrorHandler(w http.ResponseWriter, r *http.Request) {
	fe := readFunctionError(r)
	if fe.Type == "" {
		fe.Type = "Runtime.InitError"
	}
	s.mu.Lock()
	s.initError = fe
	s.mu.Unlock()
	writeStatus(w, http.StatusAccepted, "", "")
}

// errorBody is the error document runtimes post (and Lambda returns to callers).
type errorBody struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// readFunctionError parses an /error or /init/error request. The body is meant to be
// {"errorMessage", "errorType", "stackTrace"} but runtimes may post anything, so fall back to
// the raw body.
func readFunctionError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes))
	fe := &FunctionError{Payload: body, Type: r.Header.Get(headerErrorType)}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		fe.Message = eb.Message
		if eb.Type != "" {
			fe.Type = eb.Type
		}
	} else {
		fe.Message = string(body)
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func trailerError(typ, b64 string) *FunctionError {
	fe := &FunctionError{Type: typ, Message: "error while streaming the response"}
	if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
		fe.Payload = raw
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Message != "" {
			fe.Message = eb.Message
		}
	}
	return fe
}

// writeStatus writes the small JSON documents the Runtime API answers with: {"status":"OK"}
// on 202, {"errorMessage","errorType"} otherwise.
func writeStatus(w http.ResponseWriter, code int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusAccepted {
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(errorBody{Message: msg, Type: errType})
}

// newRequestID returns a random version-4 UUID, the shape of Lambda request IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header like Lambda passes (not sampled: no daemon here).
func newTraceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), h[:24], h[24:40])
}
