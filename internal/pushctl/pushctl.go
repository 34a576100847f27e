// Package pushctl is the command line of Delayed Push: schedule, send, get, cancel,
// reschedule and list pushes through the Go client, register devices, read and set a user's time
// zone and quiet hours, measure how late pushes go out, and bring
// parked pushes back from the dead-letter queue. cmd/pushctl's main calls Main.
//
// Each command is a command value in the file named after it (send is with schedule, cancel
// with get), with its own options type: the flags it takes and what it does with them.
package pushctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the call failed: the line on stderr says why
	ExitUsage = 2 // the command line is wrong
)

// App runs commands. Connect is called once a command line is understood (tests replace it).
type App struct {
	Stdout, Stderr io.Writer
	Connect        func(ctx context.Context, t Target) (*Backend, error)
}

// Main is pushctl's entry point: it runs os.Args and exits.
func Main() {
	app := &App{Stdout: os.Stdout, Stderr: os.Stderr, Connect: Connect}
	os.Exit(app.Run(context.Background(), os.Args[1:]))
}

// command is one pushctl command: its help, and a fresh options value to parse its flags into.
type command struct {
	name, usage, summary string
	notes                string // help after the flags
	positional           int    // how many arguments it takes (the key); -1: run checks them
	options              func() options
}

// options are one command's own flags (the common ones are in commonFlags).
type options interface {
	// define declares the command's flags on fs, to be parsed into the options.
	define(fs *flag.FlagSet)
	// run carries the command out once its command line is parsed; args are the arguments
	// that are not flags.
	run(ctx context.Context, a *App, common commonFlags, args []string) error
}

// commands, in the order pushctl --help lists them.
var commands = []command{scheduleCommand, sendCommand, getCommand, cancelCommand, rescheduleCommand,
	pendingCommand, accuracyCommand, redriveCommand, devicesCommand, prefsCommand}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Run runs one command line and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(a.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(a.Stderr, "pushctl: unknown command %q (pushctl --help lists them)\n", args[0])
		return ExitUsage
	}
	fs := flag.NewFlagSet("pushctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var common commonFlags
	common.define(fs)
	opts := cmd.options()
	opts.define(fs)
	var positional []string
	if err := parseInterspersed(fs, args[1:], &positional); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(cmd, fs)
			return ExitOK
		}
		fmt.Fprintf(a.Stderr, "pushctl %s: %v (pushctl %s --help)\n", cmd.name, err, cmd.name)
		return ExitUsage
	}
	common.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { common.given[f.Name] = true })
	if cmd.positional >= 0 && len(positional) != cmd.positional {
		want := "no arguments"
		if cmd.positional == 1 {
			want = "one argument, the key"
		}
		fmt.Fprintf(a.Stderr, "pushctl %s: takes %s, got %d (pushctl %s --help)\n", cmd.name, want, len(positional), cmd.name)
		return ExitUsage
	}
	if err := opts.run(ctx, a, common, positional); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(a.Stderr, "pushctl %s: %s (pushctl %s --help)\n", cmd.name, ue.msg, cmd.name)
			return ExitUsage
		}
		fmt.Fprintf(a.Stderr, "pushctl %s: %s\n", cmd.name, oneLine(err.Error()))
		return ExitError
	}
	return ExitOK
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintln(w, "pushctl: schedule and manage Delayed Push pushes.")
	fmt.Fprintln(w, "\nUsage: pushctl COMMAND [flags] [KEY]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --stack NAME (default DelayedPush), --region, --local (the local")
	fmt.Fprintln(w, "stack on the emulator), --json and --help. Errors are one line on stderr; the exit code")
	fmt.Fprintln(w, "is 1 when a call failed and 2 when the command line is wrong.")
}

func (a *App) commandUsage(cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(a.Stdout, "pushctl %s: %s\n\nUsage: pushctl %s %s\n\nFlags:\n", cmd.name, cmd.summary, cmd.name, cmd.usage)
	fs.SetOutput(a.Stdout)
	fs.PrintDefaults()
	if cmd.notes != "" {
		fmt.Fprintln(a.Stdout, "\n"+cmd.notes)
	}
}

// oneLine keeps an error to one line on stderr.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
