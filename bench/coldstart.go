package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RuntimeAPIPath is the request a Lambda runtime makes once its init is done: asking for
// its first invocation.
const RuntimeAPIPath = "/2018-06-01/runtime/invocation/next"

// RuntimeAPI is a stand-in for Lambda's Runtime API on 127.0.0.1: it records when the first
// request for the next invocation arrives and never answers it.
type RuntimeAPI struct {
	Addr string // host:port, the AWS_LAMBDA_RUNTIME_API value

	ln   net.Listener
	srv  *http.Server
	mu   sync.Mutex
	wait chan time.Time
}

// StartRuntimeAPI listens on a free port of 127.0.0.1.
func StartRuntimeAPI() (*RuntimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &RuntimeAPI{Addr: ln.Addr().String(), ln: ln}
	r.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		if req.URL.Path == RuntimeAPIPath {
			r.mu.Lock()
			if r.wait != nil {
				select {
				case r.wait <- at:
				default:
				}
			}
			r.mu.Unlock()
			<-req.Context().Done() // held, as Lambda holds it until an event comes
			return
		}
		// /init/error and anything else: the function failed its init.
		http.Error(w, "not in this benchmark", http.StatusInternalServerError)
		r.mu.Lock()
		if r.wait != nil {
			close(r.wait)
			r.wait = nil
		}
		r.mu.Unlock()
	})}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the server.
func (r *RuntimeAPI) Close() error { return r.srv.Close() }

// Probe is what one cold start measured.
type Probe struct {
	// Wall is from just before the process is started to the arrival of its first request
	// for an invocation: the init Lambda would bill and make the first event wait for.
	Wall time.Duration
	// CPU is the CPU time of every thread of the process by then (Linux: /proc schedstat).
	CPU time.Duration
	// RSSKiB is its peak resident memory by then (Linux: VmHWM).
	RSSKiB int
}

// BuildFlags are the go build flags of stacks/delayedpush/internal/gobuild/gobuild.go (after
// "build"; with GOOS=linux, CGO_ENABLED=0 and GOFLAGS=-mod=readonly in the environment).
func BuildFlags() []string {
	return []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid="}
}

// ColdStart runs bin once with env (and AWS_LAMBDA_RUNTIME_API set to r) until it asks for its
// first invocation, and kills it then.
func (r *RuntimeAPI) ColdStart(bin string, env []string) (Probe, error) {
	wait := make(chan time.Time, 1)
	r.mu.Lock()
	r.wait = wait
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.wait = nil
		r.mu.Unlock()
	}()
	cmd := exec.Command(bin)
	cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+r.Addr)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Probe{}, err
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case at, ok := <-wait:
		if !ok {
			return Probe{}, fmt.Errorf("%s reported an init error: %s", bin, strings.TrimSpace(out.String()))
		}
		// The process is blocked on its request: what it used is what its init used.
		p := Probe{Wall: at.Sub(start)}
		p.CPU, p.RSSKiB = procUsage(cmd.Process.Pid)
		return p, nil
	case err := <-exited:
		exited <- err
		return Probe{}, fmt.Errorf("%s exited before asking for an invocation (%v): %s", bin, err, strings.TrimSpace(out.String()))
	case <-time.After(20 * time.Second):
		return Probe{}, errors.New(bin + ": no request for an invocation within 20 s")
	}
}

// procUsage reads the CPU time of every thread of pid (the first field of each
// /proc/PID/task/TID/schedstat, in ns) and its peak resident set (VmHWM); zeros where /proc
// is not there.
func procUsage(pid int) (time.Duration, int) {
	var cpu time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(raw)); len(fields) > 0 {
			ns, _ := strconv.ParseInt(fields[0], 10, 64)
			cpu += time.Duration(ns)
		}
	}
	rss := 0
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				rss, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
	}
	return cpu, rss
}

// LambdaEnv is the environment Lambda gives every function, with dummy credentials, plus the
// function's own variables; HOME is an empty directory, as the SDK finds no shared
// configuration files on Lambda either.
func LambdaEnv(home, function string, vars map[string]string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=en_US.UTF-8", "TZ=:UTC",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIABENCHMARKDUMMY00", "AWS_SECRET_ACCESS_KEY=benchmark/dummy/secret/key/0000000000000",
		"AWS_SESSION_TOKEN=benchmark-dummy-session-token",
		"AWS_LAMBDA_FUNCTION_NAME=" + function, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"_HANDLER=bootstrap", "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// DummyValue stands in for a template value CloudFormation would fill in (a Ref or a
// GetAtt), judged by the variable's name.
func DummyValue(name string) string {
	switch {
	case strings.HasSuffix(name, "_URL"):
		return "https://sqs.us-east-1.amazonaws.com/123456789012/" + strings.ToLower(name)
	case strings.HasSuffix(name, "_ARN"):
		return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + strings.ToLower(name) + "-AbCdEf"
	case strings.HasSuffix(name, "_ROLE_ID"):
		return "AROABENCHMARKDUMMY0000"
	}
	return strings.ToLower(name)
}
