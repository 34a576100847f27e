package pushctl

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// commonFlags are the flags every command takes, and which flags the command line gave.
type commonFlags struct {
	target Target
	json   bool
	given  map[string]bool // by flag name: given on the command line (set once parsed)
}

func (c *commonFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&c.target.Stack, "stack", envOr("DELAYED_PUSH_STACK", "DelayedPush"), "the stack's name (env DELAYED_PUSH_STACK)")
	fs.StringVar(&c.target.Region, "region", "", "AWS region (default: the SDK's, e.g. AWS_REGION)")
	fs.BoolVar(&c.target.Local, "local", false, "use the local stack (make local) on the emulator")
	fs.StringVar(&c.target.LocalState, "local-state", "", "the local stack's state directory (default: .local here or above)")
	fs.BoolVar(&c.json, "json", false, "print JSON")
}

// parseInterspersed parses flags anywhere among the arguments: `get KEY --json` works.
func parseInterspersed(fs *flag.FlagSet, args []string, positional *[]string) error {
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			return nil
		}
		*positional = append(*positional, args[0])
		args = args[1:]
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dataFlag is --data key=value, repeatable.
type dataFlag map[string]string

func (d *dataFlag) String() string { return "" }

func (d *dataFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("--data wants key=value, got %q", v)
	}
	if *d == nil {
		*d = map[string]string{}
	}
	(*d)[k] = val
	return nil
}

// duration reads "90s", "5m", "2h" or a number of seconds.
func duration(flagName, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("--%s wants a duration (90s, 5m, 2h) or seconds, got %q", flagName, v)
	}
	return d, nil
}
