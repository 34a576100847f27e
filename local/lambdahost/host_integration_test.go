package lambdahost

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a goroutine-safe log sink for tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildHandler cross-compiles testdata/handler exactly like the real functions are built
// (linux/arm64, static, lambda.norpc) and returns the bootstrap path.
func buildHandler(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: builds and runs an arm64 bootstrap")
	}
	if runtime.GOARCH != "arm64" {
		if _, err := findQemu(elf.EM_AARCH64); err != nil {
			t.Skipf("skipping: cannot run linux/arm64 bootstraps on this %s host: %v", runtime.GOARCH, err)
		}
	}
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/handler")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the test handler: %s", out)
	return bootstrap
}

type echoResponse struct {
	Message     string            `json:"message"`
	RequestID   string            `json:"requestId"`
	ARN         string            `json:"arn"`
	DeadlineMs  int64             `json:"deadlineMs"`
	Invocations int               `json:"invocations"`
	PID         int               `json:"pid"`
	Cwd         string            `json:"cwd"`
	Env         map[string]string `json:"env"`
}

func echo(t *testing.T, h *Host, msg string) echoResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), []byte(`{"action":"echo","message":"`+msg+`"}`))
	require.NoError(t, err)
	var r echoResponse
	require.NoError(t, json.Unmarshal(out, &r), "response: %s", out)
	return r
}

func newTestHost(t *testing.T, fn Function, log *syncBuffer) *Host {
	t.Helper()
	if fn.Name == "" {
		fn.Name = "test-fn"
	}
	h, err := New(fn, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// processGone reports whether pid has exited and been reaped.
func processGone(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, os.ErrNotExist)
}

func TestHostIntegration(t *testing.T) {
	bootstrap := buildHandler(t)

	t.Run("credentials per environment, and Kill", func(t *testing.T) {
		h := newTestHost(t, Function{
			BootstrapPath: bootstrap,
			Timeout:       5 * time.Second,
			Concurrency:   2,
			NewCredentials: func(_ context.Context, env int) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: fmt.Sprint("ASIAENV", env), SecretAccessKey: "s", SessionToken: "t"}, nil
			},
		}, &syncBuffer{})
		// Two environments at once: each has its own session.
		var wg sync.WaitGroup
		keys := make(chan string, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := h.Invoke(context.Background(), []byte(`{"action":"echo","message":"x","sleep":"300ms"}`))
				require.NoError(t, err, "%s", out)
				var r echoResponse
				require.NoError(t, json.Unmarshal(out, &r))
				keys <- r.Env["AWS_ACCESS_KEY_ID"]
			}()
		}
		wg.Wait()
		close(keys)
		seen := map[string]bool{}
		for k := range keys {
			seen[k] = true
		}
		assert.Len(t, seen, 2, "two environments, two sessions: %v", seen)

		// Kill the environment by its key while it runs: the invocation fails as a crash.
		one := newTestHost(t, Function{
			BootstrapPath: bootstrap,
			Timeout:       5 * time.Second,
			NewCredentials: func(_ context.Context, env int) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: fmt.Sprint("ASIAONE", env), SecretAccessKey: "s", SessionToken: "t"}, nil
			},
		}, &syncBuffer{})
		done := make(chan error, 1)
		go func() {
			_, err := one.Invoke(context.Background(), []byte(`{"action":"sleep","sleep":"3s"}`))
			done <- err
		}()
		require.Eventually(t, func() bool { return one.Kill("ASIAONE1") }, 2*time.Second, 20*time.Millisecond)
		err := <-done
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "Runtime.ExitError", fe.Type)
		assert.False(t, one.Kill("no-such-key"))
		assert.Equal(t, "ASIAONE2", echo(t, one, "a").Env["AWS_ACCESS_KEY_ID"], "the host goes on with a new environment")
	})

	t.Run("round trip, environment and reuse", func(t *testing.T) {
		log := &syncBuffer{}
		h := newTestHost(t, Function{
			BootstrapPath: bootstrap,
			Region:        "eu-west-1",
			Timeout:       5 * time.Second,
			MemoryMiB:     256,
			Env:           map[string]string{"DEVICES_TABLE": "devices", "AWS_REGION": "ignored"},
			Credentials:   aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", SessionToken: "token"},
			EndpointURL:   "http://127.0.0.1:5000",
		}, log)

		before := time.Now()
		r := echo(t, h, "hello")
		assert.Equal(t, "hello", r.Message)
		assert.Len(t, r.RequestID, 36)
		assert.Equal(t, "arn:aws:lambda:eu-west-1:000000000000:function:test-fn", r.ARN)
		assert.InDelta(t, before.Add(5*time.Second).UnixMilli(), r.DeadlineMs, 3000)
		assert.Equal(t, 1, r.Invocations)
		assert.Equal(t, filepath.Dir(bootstrap), r.Cwd)

		env := r.Env
		assert.Regexp(t, `^127\.0\.0\.1:\d+$`, env["AWS_LAMBDA_RUNTIME_API"])
		assert.Equal(t, "test-fn", env["AWS_LAMBDA_FUNCTION_NAME"])
		assert.Equal(t, "256", env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
		assert.Equal(t, "$LATEST", env["AWS_LAMBDA_FUNCTION_VERSION"])
		assert.Equal(t, "eu-west-1", env["AWS_REGION"], "reserved variables win over the function's")
		assert.Equal(t, "eu-west-1", env["AWS_DEFAULT_REGION"])
		assert.Equal(t, "bootstrap", env["_HANDLER"])
		assert.Equal(t, filepath.Dir(bootstrap), env["LAMBDA_TASK_ROOT"])
		assert.Equal(t, "devices", env["DEVICES_TABLE"])
		assert.Equal(t, "AKIDTEST", env["AWS_ACCESS_KEY_ID"])
		assert.Equal(t, "secret", env["AWS_SECRET_ACCESS_KEY"])
		assert.Equal(t, "token", env["AWS_SESSION_TOKEN"])
		assert.Equal(t, "http://127.0.0.1:5000", env["AWS_ENDPOINT_URL"])
		assert.NotContains(t, env, "HOME", "the host's environment is not inherited")

		// A warm start: same process, state kept.
		r2 := echo(t, h, "again")
		assert.Equal(t, 2, r2.Invocations)
		assert.Equal(t, r.PID, r2.PID)
		assert.NotEqual(t, r.RequestID, r2.RequestID)

		assert.Contains(t, log.String(), "[test-fn] echo handler says hello\n")
		assert.Contains(t, log.String(), "[test-fn] START RequestId: "+r.RequestID)
		assert.Contains(t, log.String(), "[test-fn] REPORT RequestId: "+r2.RequestID)

		t.Logf("function log:\n%s", log.String())

		require.NoError(t, h.Close())
		assert.True(t, processGone(r.PID), "Close leaves no process behind")
		_, err := h.Invoke(context.Background(), []byte(`{}`))
		assert.ErrorIs(t, err, ErrClosed)
	})

	t.Run("handler error", func(t *testing.T) {
		log := &syncBuffer{}
		h := newTestHost(t, Function{BootstrapPath: bootstrap}, log)
		out, err := h.Invoke(context.Background(), []byte(`{"action":"error","message":"boom"}`))
		assert.Nil(t, out)
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "errorString", fe.Type)
		assert.Equal(t, "boom", fe.Message)
		assert.JSONEq(t, `{"errorMessage":"boom","errorType":"errorString"}`, string(fe.Payload))
		// The environment survives a handled error, as in Lambda.
		assert.Equal(t, 2, echo(t, h, "x").Invocations)
	})

	t.Run("timeout kills and replaces the environment", func(t *testing.T) {
		log := &syncBuffer{}
		h := newTestHost(t, Function{BootstrapPath: bootstrap, Timeout: time.Second}, log)
		first := echo(t, h, "warm up")

		start := time.Now()
		_, err := h.Invoke(context.Background(), []byte(`{"action":"sleep","sleep":"10s"}`))
		elapsed := time.Since(start)
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "Sandbox.Timedout", fe.Type)
		assert.Contains(t, fe.Message, "Task timed out after 1.00 seconds")
		assert.Less(t, elapsed, 3*time.Second)
		t.Logf("function log:\n%s", log.String())
		assert.True(t, processGone(first.PID), "the timed-out process was killed")

		// The next invocation gets a fresh environment (a cold start).
		next := echo(t, h, "after")
		assert.Equal(t, 1, next.Invocations)
		assert.NotEqual(t, first.PID, next.PID)
	})

	t.Run("panic reports an error and the next invocation gets a new environment", func(t *testing.T) {
		h := newTestHost(t, Function{BootstrapPath: bootstrap}, &syncBuffer{})
		_, err := h.Invoke(context.Background(), []byte(`{"action":"panic","message":"kaboom"}`))
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Contains(t, fe.Message, "kaboom")
		assert.Equal(t, 1, echo(t, h, "x").Invocations)
	})

	t.Run("process exit during invocation", func(t *testing.T) {
		h := newTestHost(t, Function{BootstrapPath: bootstrap}, &syncBuffer{})
		_, err := h.Invoke(context.Background(), []byte(`{"action":"exit"}`))
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "Runtime.ExitError", fe.Type)
		assert.Contains(t, fe.Message, "exit status 3")
	})

	t.Run("init failure", func(t *testing.T) {
		log := &syncBuffer{}
		h := newTestHost(t, Function{BootstrapPath: bootstrap, Env: map[string]string{"TEST_FAIL_INIT": "1"}}, log)
		_, err := h.Invoke(context.Background(), []byte(`{"action":"echo"}`))
		var fe *FunctionError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "Runtime.ExitError", fe.Type)
		assert.Contains(t, log.String(), "[test-fn] init failed on purpose\n")
	})

	t.Run("concurrent environments", func(t *testing.T) {
		h := newTestHost(t, Function{BootstrapPath: bootstrap, Concurrency: 2, Timeout: 10 * time.Second}, &syncBuffer{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		pids := map[int]bool{}
		for range 4 {
			wg.Go(func() {
				_, err := h.Invoke(context.Background(), []byte(`{"action":"sleep","sleep":"300ms"}`))
				assert.NoError(t, err)
				r := echo(t, h, "pid")
				mu.Lock()
				pids[r.PID] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, len(pids), 2, "never more than Concurrency environments")
		require.NoError(t, h.Close())
		for pid := range pids {
			assert.True(t, processGone(pid))
		}
	})

	t.Run("context cancel while running", func(t *testing.T) {
		h := newTestHost(t, Function{BootstrapPath: bootstrap, Timeout: 10 * time.Second}, &syncBuffer{})
		first := echo(t, h, "x")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := h.Invoke(ctx, []byte(`{"action":"sleep","sleep":"5s"}`))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.True(t, processGone(first.PID))
	})

	t.Run("SQS event source with batch item failures", func(t *testing.T) {
		h := newTestHost(t, Function{BootstrapPath: bootstrap}, &syncBuffer{})
		q := &fakeSQS{}
		q.add("ok", "fail", "ok")
		src := testSource(&bytes.Buffer{})
		src.ReportBatchItemFailures = true
		stop := runPoll(t, q, src, h)
		require.Eventually(t, func() bool { return len(q.deletedHandles()) == 2 }, 20*time.Second, 20*time.Millisecond)
		stop()
		assert.ElementsMatch(t, []string{"rh-id-ok-0", "rh-id-ok-2"}, q.deletedHandles())
	})
}

func TestNewFailsClearlyWithoutQemu(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("arm64 hosts run the bootstrap natively")
	}
	// An arm64 ELF file: only the header matters to New.
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	hdr[16] = 2 // ET_EXEC
	hdr[18] = byte(elf.EM_AARCH64)
	hdr[20] = 1 // EV_CURRENT
	require.NoError(t, os.WriteFile(bootstrap, hdr, 0o755))

	t.Setenv("PATH", dir) // no qemu here
	_, err := New(Function{Name: "f", BootstrapPath: bootstrap}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "qemu-aarch64-static")
	assert.Contains(t, err.Error(), "qemu-user-static")
}

func TestNewRejectsMissingBootstrap(t *testing.T) {
	_, err := New(Function{Name: "f", BootstrapPath: filepath.Join(t.TempDir(), "bootstrap")}, nil)
	assert.Error(t, err)
}

// A relative bootstrap path must still work although the process runs in its own directory.
func TestRelativeBootstrapPath(t *testing.T) {
	abs := buildHandler(t)
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, abs)
	require.NoError(t, err)
	h, err := New(Function{Name: "rel", BootstrapPath: rel, Timeout: 20 * time.Second}, nil)
	require.NoError(t, err)
	defer h.Close()
	assert.True(t, filepath.IsAbs(h.Function().BootstrapPath))
	assert.Equal(t, "relative", echo(t, h, "relative").Message)
}
