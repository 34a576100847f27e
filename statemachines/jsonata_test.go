package statemachines_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/delayed-push/delayed-push/push"
	"github.com/delayed-push/delayed-push/schedule"
	"github.com/delayed-push/delayed-push/statemachines"
)

// The execution the vectors are run in: the start is schedule's unit tests' "now".
var (
	start         = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	executionName = "execution-name-as-push-id"
)

type vector struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
	Error string          `json:"error"`
}

// jsonataResult is what the definition's expressions gave for one input: the Wait's timestamp,
// then SendPush's body (Pass) or the check's answer it raised (Raised) and InvalidSchedule's
// cause; Error is any other evaluation error.
type jsonataResult struct {
	Name      string          `json:"name"`
	Timestamp string          `json:"timestamp"`
	Pass      *bool           `json:"pass"`
	Body      json.RawMessage `json:"body"`
	Raised    string          `json:"raised"`
	Cause     *string         `json:"cause"`
	Error     string          `json:"error"`
}

// runJSONata runs the definition's JSONata states on the inputs with the reference JSONata
// library (package.json pins it; make deps installs it).
func runJSONata(t *testing.T, cases []vector) map[string]jsonataResult {
	t.Helper()
	_, err := os.Stat(filepath.Join("..", "node_modules", "jsonata", "package.json"))
	require.NoError(t, err, "the reference JSONata library is not installed: run make deps (npm ci)")
	type runCase struct {
		Name          string `json:"name"`
		Input         string `json:"input"`
		Start         string `json:"start"`
		ExecutionName string `json:"executionName"`
	}
	req := struct {
		Definition string    `json:"definition"`
		Cases      []runCase `json:"cases"`
	}{Definition: statemachines.Scheduler}
	for _, c := range cases {
		req.Cases = append(req.Cases, runCase{c.Name, string(c.Input), start.Format("2006-01-02T15:04:05.000Z"), executionName})
	}
	in, err := json.Marshal(req)
	require.NoError(t, err)
	cmd := exec.Command("node", filepath.Join("testdata", "run-jsonata.js"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var results []jsonataResult
	require.NoError(t, json.Unmarshal(out, &results))
	byName := map[string]jsonataResult{}
	for _, r := range results {
		byName[r.Name] = r
	}
	return byName
}

func loadVectors(t *testing.T) (invalid, valid, refusedAtOnce []vector) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schedule", "testdata", "vectors.json"))
	require.NoError(t, err)
	var v struct {
		Invalid, Valid []vector
		RefusedAtOnce  []vector `json:"refusedAtOnce"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Invalid)
	require.NotEmpty(t, v.Valid)
	require.NotEmpty(t, v.RefusedAtOnce)
	return v.Invalid, v.Valid, v.RefusedAtOnce
}

// A number beyond a double makes JSONata raise in the check: the execution fails there,
// before any wait, and the push is never sent (Go refuses it with its words).
func TestNumbersBeyondADoubleFailTheCheck(t *testing.T) {
	_, _, refused := loadVectors(t)
	got := runJSONata(t, refused)
	for _, c := range refused {
		t.Run(c.Name, func(t *testing.T) {
			_, err := schedule.Parse(c.Input, start)
			require.EqualError(t, err, c.Error)
			r := got[c.Name]
			assert.NotEmpty(t, r.Error, "the check raises")
			assert.Empty(t, r.Timestamp, "no wait: the Wait's own timestamp raises")
			assert.Empty(t, r.Body, "nothing sent")
		})
	}
}

// Every invalid input of the shared vectors fails the state machine's check with the Go
// package's words, the same answer whichever way in, without waiting: the Wait's timestamp is
// the execution's start.
func TestTheCheckGivesTheGoPackagesAnswer(t *testing.T) {
	invalid, _, _ := loadVectors(t)
	got := runJSONata(t, invalid)
	for _, c := range invalid {
		t.Run(c.Name, func(t *testing.T) {
			_, err := schedule.Parse(c.Input, start)
			var ie *push.InvalidError
			require.True(t, errors.As(err, &ie), "schedule.Parse: %v", err)
			assert.Equal(t, c.Error, ie.Error(), "schedule.Parse")

			r := got[c.Name]
			require.Empty(t, r.Error, "an expression raised something else than the check's answer")
			assert.Equal(t, start.Format("2006-01-02T15:04:05.000Z"), r.Timestamp, "no wait")
			require.NotNil(t, r.Pass)
			assert.False(t, *r.Pass, "the check let it through")
			assert.Equal(t, c.Error, r.Raised, "SendPush raises the check's answer")
			require.NotNil(t, r.Cause)
			assert.Equal(t, c.Error, *r.Cause, "the state machine's cause")
		})
	}
}

// Every valid input passes the check, waits until its due time (never before it, to the
// second the Wait can express) and is sent with its id and exact due time in the body.
func TestValidInputsWaitUntilDueAndCarryTheirIdentity(t *testing.T) {
	_, valid, _ := loadVectors(t)
	got := runJSONata(t, valid)
	for _, c := range valid {
		t.Run(c.Name, func(t *testing.T) {
			s, err := schedule.Parse(c.Input, start)
			require.NoError(t, err, "schedule.Parse")
			r := got[c.Name]
			require.Empty(t, r.Error, "the expression raised")
			require.NotNil(t, r.Pass)
			require.True(t, *r.Pass, "the check refused it: %s", r.Raised)

			due := s.DueAt(start).Truncate(time.Millisecond)
			wait, err := time.Parse(time.RFC3339Nano, r.Timestamp)
			require.NoError(t, err, "the Wait's timestamp %q", r.Timestamp)
			assert.Equal(t, 0, wait.Nanosecond(), "whole seconds: a Wait drops the fraction")
			assert.False(t, wait.Before(due), "the wait ends at %s, before the due time %s", wait, due)
			assert.Less(t, wait.Sub(due), time.Second)

			p, err := push.Decode(r.Body)
			require.NoError(t, err, "the message body is a valid push: %s", r.Body)
			want := s.Push
			if want.ID == "" {
				want.ID = executionName
			}
			want.DueAt = p.DueAt
			assert.Equal(t, want, p, "the push as given, with its id and due time")
			dueAt, ok := p.DueTime()
			require.True(t, ok)
			assert.True(t, dueAt.Equal(due), "dueAt %s, want %s", p.DueAt, due)
		})
	}
}
