// Package lambdahost runs a Lambda function's bootstrap locally "as Lambda would": it serves
// the Lambda Runtime API (2018-06-01) to the process, keeps a pool of reusable execution
// environments, enforces the function timeout, and (Poll) drives the function from an SQS
// queue like an SQS event source mapping does.
//
// It exists for end-to-end tests against an AWS emulator that cannot run Lambda itself
// (moto without Docker). Foreign-architecture bootstraps (arm64 on an amd64 host) run under
// qemu user-mode emulation (Debian package qemu-user-static).
package lambdahost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("lambdahost: host closed")

// Function describes the function to run. Zero values get Lambda's defaults.
type Function struct {
	Name          string // function name (AWS_LAMBDA_FUNCTION_NAME, log prefix)
	BootstrapPath string // the bootstrap executable, e.g. cdk.out/asset.<hash>/bootstrap
	Handler       string // _HANDLER; default "bootstrap"
	ARN           string // Lambda-Runtime-Invoked-Function-Arn; default built from Region and Name
	Region        string // AWS_REGION and AWS_DEFAULT_REGION; default us-east-1

	// Env is the function's Environment.Variables. Lambda's reserved variables set below win
	// over entries here, as Lambda does not let functions override them.
	Env map[string]string
	// Credentials become AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the
	// execution role's credentials in Lambda). Empty fields are not set.
	Credentials aws.Credentials
	// NewCredentials, when set, gives each execution environment credentials of its own (in
	// Lambda, a session of the execution role per environment) instead of Credentials. env
	// numbers the environments from 1.
	NewCredentials func(ctx context.Context, env int) (aws.Credentials, error)
	// EndpointURL, if set, becomes AWS_ENDPOINT_URL so the function's SDK clients talk to the
	// emulator.
	EndpointURL string

	Timeout     time.Duration // function timeout; default 3s
	MemoryMiB   int           // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 128 (not enforced)
	Concurrency int           // max concurrent execution environments; default 1
	// InitTimeout bounds process start until the runtime's first GET /next. Default: 10s plus
	// Timeout, because Lambda re-runs a slow init inside the first invocation's timeout.
	InitTimeout time.Duration
}

func (fn *Function) setDefaults() {
	if fn.Handler == "" {
		fn.Handler = "bootstrap"
	}
	if fn.Region == "" {
		fn.Region = "us-east-1"
	}
	if fn.ARN == "" {
		fn.ARN = "arn:aws:lambda:" + fn.Region + ":000000000000:function:" + fn.Name
	}
	if fn.Timeout <= 0 {
		fn.Timeout = 3 * time.Second
	}
	if fn.MemoryMiB <= 0 {
		fn.MemoryMiB = 128
	}
	if fn.Concurrency <= 0 {
		fn.Concurrency = 1
	}
	if fn.InitTimeout <= 0 {
		fn.InitTimeout = 10*time.Second + fn.Timeout
	}
}

// environ is the process environment Lambda gives a provided.al2023 function. The host's own
// environment is deliberately not inherited, so tests see what the function would see in AWS.
func (fn *Function) environ(runtimeAPI string, creds aws.Credentials) []string {
	taskRoot := filepath.Dir(fn.BootstrapPath)
	vars := map[string]string{}
	for k, v := range fn.Env {
		vars[k] = v
	}
	reserved := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMiB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + newRequestID()[:8],
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      fn.Region,
		"AWS_DEFAULT_REGION":              fn.Region,
		"_HANDLER":                        fn.Handler,
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              taskRoot,
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
	}
	for k, v := range reserved {
		vars[k] = v
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":     creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey,
		"AWS_SESSION_TOKEN":     creds.SessionToken,
		"AWS_ENDPOINT_URL":      fn.EndpointURL,
	} {
		if v != "" {
			vars[k] = v
		}
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// Host runs one function: up to Function.Concurrency execution environments, started lazily
// (cold starts) and reused while healthy (warm starts).
type Host struct {
	fn   Function
	argv []string
	out  *lockedWriter
	logf func(format string, args ...any)

	slots chan struct{}     // a token per concurrent invocation, at most Concurrency
	idle  chan *environment // warm environments waiting for work
	done  chan struct{}     // closed by Close

	mu     sync.Mutex
	closed bool
	live   map[*environment]struct{}
	nextID int
}

// New prepares a host for fn. The function's stdout/stderr and the host's START/END/REPORT
// lines go to logOut (nil discards them), each line prefixed with "[<name>] ". No process is
// started until the first Invoke. New fails if the bootstrap is missing or needs qemu and
// qemu is not installed.
func New(fn Function, logOut io.Writer) (*Host, error) {
	fn.setDefaults()
	if fn.Name == "" {
		return nil, errors.New("lambdahost: Function.Name is required")
	}
	// The process runs in the bootstrap's directory (LAMBDA_TASK_ROOT), so a relative path
	// would point elsewhere once it starts.
	abs, err := filepath.Abs(fn.BootstrapPath)
	if err != nil {
		return nil, fmt.Errorf("lambdahost: bootstrap path: %w", err)
	}
	fn.BootstrapPath = abs
	argv, err := bootstrapCommand(fn.BootstrapPath)
	if err != nil {
		return nil, err
	}
	if logOut == nil {
		logOut = io.Discard
	}
	h := &Host{
		fn:    fn,
		argv:  argv,
		out:   &lockedWriter{w: logOut},
		slots: make(chan struct{}, fn.Concurrency),
		idle:  make(chan *environment, fn.Concurrency),
		done:  make(chan struct{}),
		live:  map[*environment]struct{}{},
	}
	hostLines := &lineWriter{prefix: "[" + fn.Name + "] ", out: h.out}
	h.logf = func(format string, args ...any) { fmt.Fprintf(hostLines, format+"\n", args...) }
	return h, nil
}

// Function returns the function's configuration with defaults applied.
func (h *Host) Function() Function { return h.fn }

// Invoke runs one synchronous invocation (RequestResponse) and returns the function's
// response payload. A failure inside the function (handler error, panic, crash, timeout) is a
// *FunctionError; ctx cancellation returns ctx.Err() and, if the event was already running,
// discards that environment. Invoke blocks while all environments are busy.
func (h *Host) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.done:
		return nil, ErrClosed
	}
	defer func() { <-h.slots }()

	for {
		env, warm, err := h.acquire()
		if err != nil {
			return nil, err
		}
		inv := newInvocation(payload, h.fn.ARN)
		start := time.Now()
		h.logf("START RequestId: %s Version: $LATEST", inv.id)
		res, next := env.invoke(ctx, inv, h.fn.InitTimeout, h.fn.Timeout)
		if next == keepEnv {
			h.release(env)
		} else {
			h.discard(env)
		}
		if h.isClosed() && next != keepEnv {
			res.err = ErrClosed
		} else if next == retryEnv && warm && env.api.initErr() == nil {
			// The event never reached the dead warm environment: retry on a fresh one.
			h.logf("END RequestId: %s (warm environment had exited; retrying on a new one)", inv.id)
			continue
		}
		h.logf("END RequestId: %s", inv.id)
		if res.err != nil {
			h.logf("REPORT RequestId: %s Duration: %.2f ms Error: %v", inv.id, msSince(start), res.err)
		} else {
			h.logf("REPORT RequestId: %s Duration: %.2f ms", inv.id, msSince(start))
		}
		return res.payload, res.err
	}
}

// Close kills every environment and makes further Invokes fail with ErrClosed. In-flight
// invocations return ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	envs := make([]*environment, 0, len(h.live))
	for env := range h.live {
		envs = append(envs, env)
	}
	h.mu.Unlock()
	for _, env := range envs {
		env.kill()
	}
	return nil
}

// Kill SIGKILLs the execution environment whose credentials have accessKeyID, as a crash
// would (an invocation in flight on it fails with Runtime.ExitError), and reports whether
// there was one. Fault-injection tests use it to kill a function at a precise point.
func (h *Host) Kill(accessKeyID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for env := range h.live {
		if env.accessKey == accessKeyID && accessKeyID != "" {
			killProcess(env.cmd)
			return true
		}
	}
	return false
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// acquire returns a warm environment if one is idle (warm=true), else starts a new one. The caller holds
// a slot, so at most Concurrency environments exist.
func (h *Host) acquire() (env *environment, warm bool, err error) {
	for {
		select {
		case env := <-h.idle:
			if env.hasExited() { // died while idle: Lambda would give us a fresh one
				h.discard(env)
				continue
			}
			return env, true, nil
		default:
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, false, ErrClosed
		}
		h.nextID++
		id := h.nextID
		h.mu.Unlock()

		creds := h.fn.Credentials
		if h.fn.NewCredentials != nil {
			if creds, err = h.fn.NewCredentials(context.Background(), id); err != nil {
				return nil, false, fmt.Errorf("lambdahost: credentials for a new environment of %s: %w", h.fn.Name, err)
			}
		}
		env, err := startEnvironment(&h.fn, h.argv, id, creds, h.out)
		if err != nil {
			return nil, false, err
		}
		h.mu.Lock()
		closed := h.closed
		if !closed {
			h.live[env] = struct{}{}
		}
		h.mu.Unlock()
		if closed {
			env.kill()
			return nil, false, ErrClosed
		}
		return env, false, nil
	}
}

func (h *Host) release(env *environment) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		h.discard(env)
		return
	}
	h.idle <- env // never blocks: at most Concurrency environments exist
}

func (h *Host) discard(env *environment) {
	env.kill()
	h.mu.Lock()
	delete(h.live, env)
	h.mu.Unlock()
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
