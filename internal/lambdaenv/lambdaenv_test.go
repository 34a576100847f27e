package lambdaenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStringsAndIntsAreRequired(t *testing.T) {
	env := New(getenv(map[string]string{"TABLE": "t", "COUNT": "5", "ZERO": "0"}))
	assert.Equal(t, "t", env.String("TABLE"))
	assert.Equal(t, 5, env.Int("COUNT", 1))
	assert.Equal(t, 0, env.Int("ZERO", 0))
	require.NoError(t, env.Err())

	env = New(getenv(map[string]string{"COUNT": "five", "SMALL": "0", "NEGATIVE": "-1"}))
	assert.Empty(t, env.String("TABLE"))
	assert.Zero(t, env.Int("COUNT", 1))
	assert.Zero(t, env.Int("SMALL", 1))
	assert.Zero(t, env.Int("NEGATIVE", 0))
	assert.Zero(t, env.Int("MISSING", 0))
	env.Check("OTHER", errors.New("not usable"))
	env.Check("FINE", nil)
	assert.EqualError(t, env.Err(), `environment variable TABLE is not set: the DelayedPush construct sets it
environment variable COUNT must be a whole number (the DelayedPush construct sets it), got "five"
environment variable SMALL must be at least 1, got "0"
environment variable NEGATIVE must be at least 0, got "-1"
environment variable MISSING is not set: the DelayedPush construct sets it
environment variable OTHER: not usable`)
}

func TestSetUpLogsWhyAFunctionCannotStart(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	var out bytes.Buffer
	_, err := setUp(&out, getenv(nil), "sender", func(getenv func(string) string, _ *slog.Logger) (any, error) {
		env := New(getenv)
		env.String("DEVICES_TABLE")
		return nil, env.Err()
	})
	require.Error(t, err)
	var line map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &line), "one JSON line: %s", out.String())
	assert.Equal(t, "ERROR", line["level"])
	assert.Equal(t, "sender cannot start", line["msg"])
	assert.Equal(t, "environment variable DEVICES_TABLE is not set: the DelayedPush construct sets it", line["error"])

	out.Reset()
	handler := func() {}
	h, err := setUp(&out, getenv(map[string]string{"X": "x"}), "api", func(getenv func(string) string, logger *slog.Logger) (any, error) {
		assert.Same(t, logger, slog.Default(), "the function's logger is slog's default")
		assert.Equal(t, "x", getenv("X"))
		return handler, nil
	})
	require.NoError(t, err)
	assert.NotNil(t, h)
	assert.Empty(t, out.String())
}

// Optional reads a variable whose empty value means none: unset or empty, no error.
func TestOptionalMayBeEmpty(t *testing.T) {
	e := New(func(k string) string { return map[string]string{"CAPS": "3/24h"}[k] })
	if got := e.Optional("CAPS"); got != "3/24h" {
		t.Fatalf("got %q", got)
	}
	if got := e.Optional("UNSET"); got != "" || e.Err() != nil {
		t.Fatalf("got %q, %v", got, e.Err())
	}
}
