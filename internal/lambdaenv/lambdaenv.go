// Package lambdaenv is what every Lambda of Delayed Push does before it serves: read its
// environment and start. The DelayedPush construct sets each function's environment, and it
// alone holds the settings' defaults and limits; so a function takes every variable the
// construct always sets as required, and checks only what it needs to use a value (a number
// must be one, and large enough to mean something).
package lambdaenv

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
)

// Env reads variables through getenv (os.Getenv on Lambda, a map in tests) and collects what
// is wrong with them, so that a misconfigured function reports every variable at once.
type Env struct {
	getenv func(string) string
	errs   []error
}

// New reads the environment through getenv.
func New(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// String is the value of a variable the construct sets; missing or empty, it is an error.
func (e *Env) String(name string) string {
	v := e.getenv(name)
	if v == "" {
		e.errs = append(e.errs, fmt.Errorf("environment variable %s is not set: the DelayedPush construct sets it", name))
	}
	return v
}

// Optional is the value of a variable the construct sets to a value that may be empty (a
// setting whose "" means none). Lambda's environment does not tell an unset variable from an
// empty one, so neither is an error.
func (e *Env) Optional(name string) string { return e.getenv(name) }

// Int is the value of a variable the construct sets to a whole number, at least least.
func (e *Env) Int(name string, least int) int {
	v := e.String(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		e.errs = append(e.errs, fmt.Errorf("environment variable %s must be a whole number (the DelayedPush construct sets it), got %q", name, v))
		return 0
	case n < least:
		e.errs = append(e.errs, fmt.Errorf("environment variable %s must be at least %d, got %q", name, least, v))
		return 0
	}
	return n
}

// Check records err, if any, as what is wrong with the variable name.
func (e *Env) Check(name string, err error) {
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("environment variable %s: %w", name, err))
	}
}

// Err is every problem found so far, nil when there is none.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Main serves a function: it logs JSON lines to stdout (Lambda's JSON log format passes them
// through as structured records) through slog's default logger, builds the handler and hands
// it to lambda.Start. A function that cannot be built (its environment is wrong, its AWS
// configuration does not load) exits at once with the reason logged, "<function> cannot start".
func Main(function string, build func(getenv func(string) string, logger *slog.Logger) (handler any, err error)) {
	h, err := setUp(os.Stdout, os.Getenv, function, build)
	if err != nil {
		os.Exit(1)
	}
	lambda.Start(h)
}

// setUp is Main up to lambda.Start.
func setUp(out io.Writer, getenv func(string) string, function string, build func(func(string) string, *slog.Logger) (any, error)) (any, error) {
	logger := slog.New(slog.NewJSONHandler(out, nil))
	slog.SetDefault(logger)
	h, err := build(getenv, logger)
	if err != nil {
		logger.Error(function+" cannot start", "error", err.Error())
		return nil, err
	}
	return h, nil
}
