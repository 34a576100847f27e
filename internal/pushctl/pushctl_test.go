package pushctl

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// fakePushes records what pushctl asked and answers like the client.
type fakePushes struct {
	requests []client.Request
	changes  []client.Change
	status   client.Status
	pages    []client.Page
	lists    []client.ListOptions
	err      error
}

func (f *fakePushes) Schedule(_ context.Context, r client.Request) (client.Scheduled, error) {
	f.requests = append(f.requests, r)
	if f.err != nil {
		return client.Scheduled{}, f.err
	}
	due := t0.Add(r.Delay)
	if !r.At.IsZero() {
		due = r.At
	}
	s := client.Scheduled{Key: r.Key, Revision: 1, Engine: client.EngineStepFunctions, ExecutionName: r.Key, DueAt: due, State: client.StateScheduled}
	if r.Engine == client.EngineEconomy {
		s.Engine, s.ExecutionName, s.ScheduleName = r.Engine, "", r.Key+".hash.1"
	}
	return s, nil
}

func (f *fakePushes) Get(context.Context, string) (client.Status, error) { return f.status, f.err }

func (f *fakePushes) Cancel(context.Context, string) (client.Status, error) {
	st := f.status
	st.State = client.StateCancelled
	return st, f.err
}

func (f *fakePushes) Reschedule(_ context.Context, key string, ch client.Change) (client.Scheduled, error) {
	f.changes = append(f.changes, ch)
	return client.Scheduled{Key: key, Revision: 2, Engine: client.EngineStepFunctions, ExecutionName: key + "--2", DueAt: t0.Add(ch.Delay),
		State: client.StateScheduled}, f.err
}

func (f *fakePushes) List(_ context.Context, o client.ListOptions) (client.Page, error) {
	f.lists = append(f.lists, o)
	if len(f.pages) == 0 {
		return client.Page{}, f.err
	}
	p := f.pages[0]
	f.pages = f.pages[1:]
	return p, f.err
}

func run(t *testing.T, b *Backend, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errOut, Connect: func(context.Context, Target) (*Backend, error) {
		if b == nil {
			return nil, errors.New("stack DelayedPush: not found")
		}
		return b, nil
	}}
	code = app.Run(context.Background(), args)
	return out.String(), errOut.String(), code
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	cases := map[string][]string{
		"pushctl schedule: --key is required":                                          {"schedule", "--delay", "5m", "--user", "u", "--title", "t"},
		"pushctl schedule: give --delay, --at, --local-time or --now":                  {"schedule", "--key", "k", "--user", "u", "--title", "t"},
		"pushctl schedule: give one of --delay, --at, --local-time and --now":          {"schedule", "--key", "k", "--delay", "5m", "--now", "--user", "u"},
		"pushctl schedule: --delay wants a duration":                                   {"schedule", "--key", "k", "--delay", "soon", "--user", "u"},
		"pushctl schedule: --at wants an RFC 3339 time":                                {"schedule", "--key", "k", "--at", "tomorrow", "--user", "u"},
		`pushctl schedule: invalid value "x" for flag -data: --data wants key=value`:   {"schedule", "--key", "k", "--data", "x"},
		"pushctl get: takes one argument, the key, got 0":                              {"get"},
		"pushctl: unknown command \"frobnicate\"":                                      {"frobnicate"},
		"pushctl reschedule: give a new time":                                          {"reschedule", "k"},
		`pushctl schedule: --engine must be "stepfunctions" or "economy", got "cheap"`: {"schedule", "--key", "k", "--delay", "5m", "--engine", "cheap", "--user", "u", "--title", "t"},
		`pushctl reschedule: --engine must be "stepfunctions" or "economy", got "x"`:   {"reschedule", "k", "--engine", "x"},
	}
	for want, args := range cases {
		t.Run(want, func(t *testing.T) {
			out, errOut, code := run(t, &Backend{Pushes: &fakePushes{}}, args...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.True(t, strings.HasPrefix(errOut, want), errOut)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func TestCallErrorsExitOneWithTheClientsWords(t *testing.T) {
	f := &fakePushes{err: &push.InvalidError{Field: "push.title", Reason: "title and body are both empty: at least one is required"}}
	_, errOut, code := run(t, &Backend{Pushes: f}, "schedule", "--key", "k", "--delay", "60", "--user", "u")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl schedule: invalid push.title: title and body are both empty: at least one is required\n", errOut)

	_, errOut, code = run(t, nil, "get", "k")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl get: stack DelayedPush: not found\n", errOut)

	f = &fakePushes{err: fmt.Errorf("key \"k\": %w: it is\nsent", client.ErrTooLate)}
	_, errOut, code = run(t, &Backend{Pushes: f}, "cancel", "k")
	assert.Equal(t, ExitError, code)
	assert.Equal(t, "pushctl cancel: key \"k\": the push is no longer scheduled: it is sent\n", errOut, "always one line")
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		out, errOut, code := run(t, nil, c.name, "--help")
		assert.Equal(t, 0, code, c.name)
		assert.Empty(t, errOut)
		assert.Contains(t, out, "Usage: pushctl "+c.name)
		assert.Contains(t, out, "-json")
		assert.Contains(t, out, "-local")
	}
	out, _, code := run(t, nil, "--help")
	assert.Equal(t, 0, code)
	for _, c := range commands {
		assert.Contains(t, out, c.name)
	}
}

// Each command parses only its own flags (and the common ones): a flag of another command is
// a usage error, found before the stack is asked anything.
func TestEachCommandRejectsTheFlagsOfTheOthers(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--key", "k", "--delay", "5m"}, // send has no time
		{"get", "k", "--delay", "5m"},
		{"cancel", "k", "--title", "t"},
		{"pending", "--key", "k"},
		{"accuracy", "--max", "3"},
		{"redrive", "--since", "1h"},
		{"devices", "list", "--all"},
		{"schedule", "--token", "t"},
	} {
		_, errOut, code := run(t, nil, args...)
		assert.Equal(t, ExitUsage, code, args)
		assert.Contains(t, errOut, "flag provided but not defined", args)
	}

	own := map[string]map[string]bool{}
	every := map[string]bool{}
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.options().define(fs)
		own[c.name] = map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { own[c.name][f.Name], every[f.Name] = true, true })
	}
	for _, c := range commands {
		for name := range every {
			if own[c.name][name] {
				continue
			}
			_, errOut, code := run(t, nil, c.name, "--"+name+"=1")
			assert.Equal(t, ExitUsage, code, "%s --%s", c.name, name)
			assert.Equal(t, fmt.Sprintf("pushctl %s: flag provided but not defined: -%s (pushctl %s --help)\n", c.name, name, c.name), errOut)
		}
	}
}
