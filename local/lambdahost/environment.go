package lambdahost

import (
	"context"

	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"os/exec"
	"path/filepath"
	"time"
)

// environment is one Lambda execution environment: a running bootstrap process and the
// Runtime API endpoint it talks to. It handles one invocation at a time and is reused until it
// breaks (timeout, crash), exactly like Lambda reuses warm environments.
type environment struct {
	id        int
	accessKey string // of the credentials the process was given
	api       *runtimeAPI
	cmd       *exec.Cmd
	exited    chan struct{} // closed once the process has exited and its output is flushed
	err       error         // cmd.Wait's result, valid after exited is closed
}

// outcome tells the host what to do with an environment after an invocation.
type outcome int

const (
	keepEnv    outcome = iota // healthy: back to the idle pool
	discardEnv                // broken or timed out: kill it
	// retryEnv: a warm environment died before taking the event (e.g. it posted an error for
	// a panic and exited). Lambda would never hand the event to a dead environment, so the
	// host retries on a fresh one.
	retryEnv
)

func startEnvironment(fn *Function, argv []string, id int, creds aws.Credentials, out *lockedWriter) (*environment, error) {
	api, err := startRuntimeAPI(fn.Timeout)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(fn.BootstrapPath) // LAMBDA_TASK_ROOT is the working directory in Lambda
	cmd.Env = fn.environ(api.addr, creds)
	prefix := "[" + fn.Name + "] "
	stdout := &lineWriter{prefix: prefix, out: out}
	stderr := &lineWriter{prefix: prefix, out: out}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// If the function leaves a child holding the output pipes, do not let Wait hang on it.
	cmd.WaitDelay = 2 * time.Second
	isolate(cmd)
	if err := cmd.Start(); err != nil {
		api.close()
		return nil, fmt.Errorf("lambdahost: starting %s: %w", fn.Name, err)
	}
	e := &environment{id: id, accessKey: creds.AccessKeyID, api: api, cmd: cmd, exited: make(chan struct{})}
	go func() {
		e.err = cmd.Wait()
		stdout.Flush()
		stderr.Flush()
		close(e.exited)
	}()
	return e, nil
}

func (e *environment) hasExited() bool {
	select {
	case <-e.exited:
		return true
	default:
		return false
	}
}

// kill stops the process (and its process group) and the Runtime API server, and waits for
// the process to be reaped so nothing is leaked.
func (e *environment) kill() {
	killProcess(e.cmd)
	<-e.exited
	e.api.close()
}

// invoke runs one invocation. The init phase (process start until its first GET /next) is
// bounded by initTimeout; the invocation itself by timeout, measured from the moment the event
// is handed to the runtime, which is also when the Lambda-Runtime-Deadline-Ms clock starts.
func (e *environment) invoke(ctx context.Context, inv *invocation, initTimeout, timeout time.Duration) (result, outcome) {
	initTimer := time.NewTimer(initTimeout)
	defer initTimer.Stop()
	select {
	case e.api.queue <- inv:
	case <-e.exited:
		return result{err: e.exitError(inv.id)}, retryEnv
	case <-initTimer.C:
		return result{err: &FunctionError{Type: "Runtime.InitTimeout", Message: fmt.Sprintf("the runtime did not ask for an event within %v of starting", initTimeout)}}, discardEnv
	case <-ctx.Done():
		// The event was never delivered, so the environment is still usable.
		return result{err: ctx.Err()}, keepEnv
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-inv.done:
		// Function errors (handled or not) leave the environment running, as in Lambda.
		return r, keepEnv
	case <-timer.C:
		return result{err: &FunctionError{
			Type:    "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, timeout.Seconds()),
		}}, discardEnv
	case <-e.exited:
		// A runtime may post its result and exit right away; the result wins.
		select {
		case r := <-inv.done:
			return r, discardEnv
		default:
		}
		return result{err: e.exitError(inv.id)}, discardEnv
	case <-ctx.Done():
		// We cannot interrupt a running handler any more than Lambda can; throw the
		// environment away so the next invocation starts clean.
		return result{err: ctx.Err()}, discardEnv
	}
}

// exitError describes an environment whose process exited, preferring the error the runtime
// reported to /init/error.
func (e *environment) exitError(requestID string) error {
	<-e.exited
	if ie := e.api.initErr(); ie != nil {
		return ie
	}
	return &FunctionError{
		Type:    "Runtime.ExitError",
		Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", requestID, e.err),
	}
}
