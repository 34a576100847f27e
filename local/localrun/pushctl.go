package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// pushctl is the CLI, built once per process from cmd/pushctl.
var pushctl struct {
	once sync.Once
	path string
	err  error
}

// PushctlPath is the pushctl binary, built from cmd/pushctl the first time it is asked for.
func PushctlPath() (string, error) {
	pushctl.once.Do(func() {
		dir, err := os.MkdirTemp("", "pushctl")
		if err != nil {
			pushctl.err = err
			return
		}
		pushctl.path = filepath.Join(dir, "pushctl")
		build := exec.Command("go", "build", "-o", pushctl.path, "./cmd/pushctl")
		build.Dir = RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			pushctl.err = fmt.Errorf("building pushctl: %v: %s", err, out)
		}
	})
	return pushctl.path, pushctl.err
}

// Pushctl runs pushctl (PushctlPath) against the stack with --local, as a user runs it, and
// returns what it printed and its exit code. ctx bounds it: a command still running when ctx
// ends is killed, and the caller sees ctx.Err().
func (s *Stack) Pushctl(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	bin, err := PushctlPath()
	if err != nil {
		return "", "", 0, err
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--local", "--local-state", s.StateDir)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	return out.String(), errOut.String(), code, errors.Join(err, ctx.Err())
}

// RedriveReport is what pushctl redrive --json prints.
type RedriveReport struct {
	Moved, Skipped, Left []Redriven
	Stopped              string
}

// Redriven is one message of a RedriveReport.
type Redriven struct {
	MessageID    string `json:"messageId"`
	PushID       string `json:"pushId"`
	ParkReason   string `json:"parkReason"`
	InvalidField string `json:"invalidField"`
	Why          string `json:"why"`
}

// String sums the report up for a test log.
func (r RedriveReport) String() string {
	return fmt.Sprintf("%d moved, %d skipped, %d left; stopped: %s", len(r.Moved), len(r.Skipped), len(r.Left), r.Stopped)
}

// PushctlRedrive runs pushctl redrive --json with args and returns its report; a run that
// fails or does not end within ctx is an error.
func (s *Stack) PushctlRedrive(ctx context.Context, args ...string) (RedriveReport, error) {
	var r RedriveReport
	out, errOut, code, err := s.Pushctl(ctx, append([]string{"redrive", "--json"}, args...)...)
	if err != nil {
		return r, fmt.Errorf("pushctl redrive %v: %w; output so far: %s %s", args, err, out, errOut)
	}
	if code != 0 {
		return r, fmt.Errorf("pushctl redrive %v: exit code %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("pushctl redrive %v printed %q: %w", args, out, err)
	}
	return r, nil
}
