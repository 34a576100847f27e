// Package pushctl is the command line of Delayed Push: schedule, send, get, cancel,
// reschedule and list pushes through the Go client, measure how late pushes go out, and bring
// parked pushes back from the dead-letter queue. cmd/pushctl's main calls Run.
package pushctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
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

type command struct {
	name, args, summary string
	run                 func(a *App, ctx context.Context, c *call) error
	flags               func(fs *flag.FlagSet, c *call)
	positional          int // how many arguments it takes (the key); -1: run checks them
}

var commands = []command{
	{"schedule", "--key KEY (--delay D | --at TIME | --now) RECIPIENT CONTENT", "schedule a push under a key", runSchedule, timeAndContentFlags, 0},
	{"send", "--key KEY RECIPIENT CONTENT", "send a push now", runSend, contentFlags, 0},
	{"get", "KEY", "show a push: state, due time, time left, outcome", runGet, nil, 1},
	{"cancel", "KEY", "cancel a pending push (never sent, even if its execution fired)", runCancel, nil, 1},
	{"reschedule", "KEY [--delay D | --at TIME | --now] [CONTENT]", "move a pending push and/or change its content", runReschedule, timeAndContentFlags, 1},
	{"pending", "[--user ID] [--limit N] [--page-token T] [--all]", "list pending pushes", runPending, pendingFlags, 0},
	{"accuracy", "[--since D] [--limit N]", "how late pushes went out: count, mean, p50, p99, max", runAccuracy, accuracyFlags, 0},
	{"redrive", "[--dry-run] [--max N] [--include-invalid]", "move parked pushes from the dead-letter queue back to the push queue, each once", runRedrive, redriveFlags, 0},
	{"devices", "register --user ID --token T [--platform P] [--device-id ID] | list --user ID | remove (DEVICE_ID | --user ID)",
		"register, list and remove a user's devices", runDevices, devicesFlags, -1},
}

// call is one command line, parsed.
type call struct {
	target Target
	json   bool
	args   []string

	// schedule, send, reschedule
	key, delay, at, user, endpoint, title, body, ttl, priority, collapseKey, delivery, maxLateness, pushJSON, pushFile string
	now                                                                                                                bool
	data                                                                                                               dataFlag
	set                                                                                                                map[string]bool // flags given
	// pending
	limit     int
	pageToken string
	all       bool
	// accuracy
	since time.Duration
	// redrive
	dryRun, includeInvalid bool
	max                    int
	// devices
	token, platform, deviceID string
}

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
	c := &call{set: map[string]bool{}}
	fs := flag.NewFlagSet("pushctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.target.Stack, "stack", envOr("DELAYED_PUSH_STACK", "DelayedPush"), "the stack's name (env DELAYED_PUSH_STACK)")
	fs.StringVar(&c.target.Region, "region", "", "AWS region (default: the SDK's, e.g. AWS_REGION)")
	fs.BoolVar(&c.target.Local, "local", false, "use the local stack (make local) on the emulator")
	fs.StringVar(&c.target.LocalState, "local-state", "", "the local stack's state directory (default: .local here or above)")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	if cmd.flags != nil {
		cmd.flags(fs, c)
	}
	if err := parseInterspersed(fs, args[1:], &c.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(cmd, fs)
			return ExitOK
		}
		fmt.Fprintf(a.Stderr, "pushctl %s: %v (pushctl %s --help)\n", cmd.name, err, cmd.name)
		return ExitUsage
	}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if cmd.positional >= 0 && len(c.args) != cmd.positional {
		want := "no arguments"
		if cmd.positional == 1 {
			want = "one argument, the key"
		}
		fmt.Fprintf(a.Stderr, "pushctl %s: takes %s, got %d (pushctl %s --help)\n", cmd.name, want, len(c.args), cmd.name)
		return ExitUsage
	}
	if err := cmd.run(a, ctx, c); err != nil {
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
	fmt.Fprintf(a.Stdout, "pushctl %s: %s\n\nUsage: pushctl %s %s\n\nFlags:\n", cmd.name, cmd.summary, cmd.name, cmd.args)
	fs.SetOutput(a.Stdout)
	fs.PrintDefaults()
	if extra := helpNotes[cmd.name]; extra != "" {
		fmt.Fprintln(a.Stdout, "\n"+extra)
	}
}

var helpNotes = map[string]string{
	"schedule": "RECIPIENT is --user ID or --endpoint ARN; CONTENT is --title and/or --body, with --data k=v,\n" +
		"--ttl, --priority, --collapse-key, --delivery, --max-lateness; or the whole push as --push-json\n" +
		"or --push-file. D is a Go duration (90s, 5m, 2h) or seconds; TIME is RFC 3339. The same key with\n" +
		"the same push answers \"already scheduled\"; with another push it is a conflict.",
	"reschedule": "Without a time flag the due time stays; content flags change those fields of the current push.",
	"accuracy": "Reads the delivery log's sent records of the last --since: lateness is from the due time to\n" +
		"SNS's confirmation. Percentiles are nearest-rank.",
	"devices": "register follows AWS's SNS endpoint flow: the same token again changes nothing; with\n" +
		"--device-id (from an earlier answer) a refreshed token updates that device; a token another user\n" +
		"holds moves to --user, whose device it is from then on. remove deletes the SNS endpoint first.",
	"redrive": "Parking attributes (parkReason, parkedAt, receiveCount, invalidField, requeues) are dropped;\n" +
		"the body and the other attributes are kept. A message is deleted from the dead-letter queue only\n" +
		"after it is on the push queue. --dry-run lists what would move and leaves it.\n\n" +
		"A run moves each message at most once and never what it moved itself, should the sender park it\n" +
		"again: it leaves what was parked after it started, or holds a push it moved already, and stops\n" +
		"when a receive brings nothing else (or at --max). Pushes parked as invalid (invalidField, or a\n" +
		"parkReason \"invalid push: ...\") are skipped and listed with their reason: the sender would park\n" +
		"them again; --include-invalid moves them too (after a sender fix that accepts them). What the run\n" +
		"does not move is hidden while it lasts and visible again when it ends (within 5 minutes if it is\n" +
		"killed). It prints what it moved, skipped and left, and why it stopped.",
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// --- flags ---

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

func contentFlags(fs *flag.FlagSet, c *call) {
	fs.StringVar(&c.key, "key", "", "the push's key (its id; makes retries safe)")
	fs.StringVar(&c.user, "user", "", "recipient: every device of this user id")
	fs.StringVar(&c.endpoint, "endpoint", "", "recipient: this SNS platform endpoint ARN")
	fs.StringVar(&c.title, "title", "", "notification title")
	fs.StringVar(&c.body, "body", "", "notification body")
	fs.Var(&c.data, "data", "data key=value for the app (repeatable)")
	fs.StringVar(&c.ttl, "ttl", "", "seconds FCM keeps it for an offline device (0..2419200)")
	fs.StringVar(&c.priority, "priority", "", `"high" or "normal"`)
	fs.StringVar(&c.collapseKey, "collapse-key", "", "FCM collapse key")
	fs.StringVar(&c.delivery, "delivery", "", `"at-least-once" or "at-most-once" (default: the stack's)`)
	fs.StringVar(&c.maxLateness, "max-lateness", "", "not sent if later than this after its due time (duration or seconds)")
	fs.StringVar(&c.pushJSON, "push-json", "", "the whole push as JSON, instead of the content flags")
	fs.StringVar(&c.pushFile, "push-file", "", "a file holding the push as JSON")
}

func timeAndContentFlags(fs *flag.FlagSet, c *call) {
	contentFlags(fs, c)
	fs.StringVar(&c.delay, "delay", "", "send after this long (90s, 5m, 2h, or seconds)")
	fs.StringVar(&c.at, "at", "", "send at this RFC 3339 time")
	fs.BoolVar(&c.now, "now", false, "send now")
}

func pendingFlags(fs *flag.FlagSet, c *call) {
	fs.StringVar(&c.user, "user", "", "only this user's (or endpoint ARN's), by due time")
	fs.IntVar(&c.limit, "limit", 100, "page size (1..1000)")
	fs.StringVar(&c.pageToken, "page-token", "", "continue from this token")
	fs.BoolVar(&c.all, "all", false, "follow every page")
}

func accuracyFlags(fs *flag.FlagSet, c *call) {
	fs.DurationVar(&c.since, "since", time.Hour, "deliveries sent in this last period")
	fs.IntVar(&c.limit, "limit", 100000, "at most this many deliveries")
}

func redriveFlags(fs *flag.FlagSet, c *call) {
	fs.BoolVar(&c.dryRun, "dry-run", false, "list what would move, move nothing")
	fs.IntVar(&c.max, "max", 1000, "move at most this many")
	fs.BoolVar(&c.includeInvalid, "include-invalid", false, "also move pushes parked as invalid (skipped otherwise: the sender would park them again)")
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

// contentGiven reports whether any content flag was set.
func (c *call) contentGiven() bool {
	for _, f := range []string{"user", "endpoint", "title", "body", "data", "ttl", "priority", "collapse-key", "delivery", "max-lateness", "push-json", "push-file"} {
		if c.set[f] {
			return true
		}
	}
	return false
}

// buildPush makes the push from --push-json/--push-file, or from base with the content flags
// applied. Values are checked by the client, in the state machine's words.
func (c *call) buildPush(base push.Push) (push.Push, error) {
	raw := c.pushJSON
	if c.pushFile != "" {
		if raw != "" {
			return push.Push{}, usagef("give --push-json or --push-file, not both")
		}
		b, err := os.ReadFile(c.pushFile)
		if err != nil {
			return push.Push{}, fmt.Errorf("--push-file: %w", err)
		}
		raw = string(b)
	}
	if raw != "" {
		if c.set["user"] || c.set["endpoint"] || c.set["title"] || c.set["body"] || c.set["data"] {
			return push.Push{}, usagef("give the push as JSON or as flags, not both")
		}
		p, err := push.Decode([]byte(raw))
		if err != nil {
			return push.Push{}, prefixPush(err)
		}
		return p, nil
	}
	p := base
	if c.set["user"] {
		p.UserID, p.EndpointARN = c.user, ""
	}
	if c.set["endpoint"] {
		p.EndpointARN, p.UserID = c.endpoint, ""
	}
	if c.set["user"] && c.set["endpoint"] {
		p.UserID, p.EndpointARN = c.user, c.endpoint // the client says which one is too many
	}
	if c.set["title"] {
		p.Title = c.title
	}
	if c.set["body"] {
		p.Body = c.body
	}
	if c.set["data"] {
		p.Data = c.data
	}
	if c.set["ttl"] {
		n, err := strconv.Atoi(c.ttl)
		if err != nil {
			return push.Push{}, usagef("--ttl wants whole seconds, got %q", c.ttl)
		}
		p.TTLSeconds = &n
	}
	if c.set["priority"] {
		p.Priority = c.priority
	}
	if c.set["collapse-key"] {
		p.CollapseKey = c.collapseKey
	}
	if c.set["delivery"] {
		p.Delivery = c.delivery
	}
	if c.set["max-lateness"] {
		d, err := duration("max-lateness", c.maxLateness)
		if err != nil {
			return push.Push{}, err
		}
		if d%time.Second != 0 || d < time.Second {
			return push.Push{}, usagef("--max-lateness wants whole seconds, at least 1, got %v", d)
		}
		p.MaxLatenessSeconds = int(d / time.Second)
	}
	return p, nil
}

func prefixPush(err error) error {
	var ie *push.InvalidError
	if errors.As(err, &ie) {
		field := "push"
		if ie.Field != "$" {
			field += "." + ie.Field
		}
		return &push.InvalidError{Field: field, Reason: ie.Reason}
	}
	return err
}

// when reads --delay, --at and --now (at most one).
func (c *call) when() (delay time.Duration, at time.Time, now bool, given bool, err error) {
	n := 0
	for _, f := range []string{"delay", "at", "now"} {
		if c.set[f] {
			n++
		}
	}
	if n > 1 {
		return 0, time.Time{}, false, true, usagef("give one of --delay, --at and --now")
	}
	switch {
	case c.set["delay"]:
		delay, err = duration("delay", c.delay)
		if err == nil && delay == 0 {
			now = true
		}
	case c.set["at"]:
		t, ok := push.ParseTime(c.at)
		if !ok {
			return 0, time.Time{}, false, true, usagef("--at wants an RFC 3339 time (2026-12-01T09:00:00Z), got %q", c.at)
		}
		at = t
	case c.set["now"]:
		now = c.now
	}
	return delay, at, now, n == 1, err
}

// --- commands ---

func (a *App) connect(ctx context.Context, c *call) (*Backend, error) {
	return a.Connect(ctx, c.target)
}

func runSchedule(a *App, ctx context.Context, c *call) error {
	if c.key == "" {
		return usagef("--key is required: it names the push and makes a retry safe")
	}
	delay, at, now, given, err := c.when()
	if err != nil {
		return err
	}
	if !given {
		return usagef("give --delay, --at or --now")
	}
	p, err := c.buildPush(push.Push{})
	if err != nil {
		return err
	}
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	req := client.Request{Key: c.key, Push: p, Delay: delay, At: at}
	if now {
		req.Delay, req.At = 0, time.Time{}
	}
	s, err := b.Pushes.Schedule(ctx, req)
	if err != nil {
		return err
	}
	return a.printScheduled(c, s)
}

func runSend(a *App, ctx context.Context, c *call) error {
	if c.key == "" {
		return usagef("--key is required: it names the push and makes a retry safe")
	}
	p, err := c.buildPush(push.Push{})
	if err != nil {
		return err
	}
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	s, err := b.Pushes.SendNow(ctx, c.key, p)
	if err != nil {
		return err
	}
	return a.printScheduled(c, s)
}

func runGet(a *App, ctx context.Context, c *call) error {
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	st, err := b.Pushes.Get(ctx, c.args[0])
	if err != nil {
		return err
	}
	return a.printStatus(c, st)
}

func runCancel(a *App, ctx context.Context, c *call) error {
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	st, err := b.Pushes.Cancel(ctx, c.args[0])
	if err != nil {
		return err
	}
	return a.printStatus(c, st)
}

func runReschedule(a *App, ctx context.Context, c *call) error {
	delay, at, now, given, err := c.when()
	if err != nil {
		return err
	}
	if c.set["key"] {
		return usagef("the key is the argument: pushctl reschedule KEY ...")
	}
	if !given && !c.contentGiven() {
		return usagef("give a new time (--delay, --at, --now) and/or new content")
	}
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	ch := client.Change{Delay: delay, At: at, Now: now}
	if c.contentGiven() {
		base := push.Push{}
		if c.pushJSON == "" && c.pushFile == "" {
			st, err := b.Pushes.Get(ctx, c.args[0])
			if err != nil {
				return err
			}
			base = st.Push
			base.ID, base.Revision, base.DueAt = "", 0, ""
		}
		p, err := c.buildPush(base)
		if err != nil {
			return err
		}
		ch.Push = &p
	}
	s, err := b.Pushes.Reschedule(ctx, c.args[0], ch)
	if err != nil {
		return err
	}
	return a.printScheduled(c, s)
}

func runPending(a *App, ctx context.Context, c *call) error {
	b, err := a.connect(ctx, c)
	if err != nil {
		return err
	}
	opts := client.ListOptions{UserID: c.user, Limit: c.limit, PageToken: c.pageToken}
	var all []client.Status
	next := ""
	for {
		page, err := b.Pushes.List(ctx, opts)
		if err != nil {
			return err
		}
		all = append(all, page.Pushes...)
		next = page.NextPageToken
		if !c.all || next == "" {
			break
		}
		opts.PageToken = next
	}
	if c.json {
		return a.printJSON(client.Page{Pushes: all, NextPageToken: next})
	}
	if len(all) == 0 {
		fmt.Fprintln(a.Stdout, "no pending pushes")
	} else {
		// STATE: a pending push whose execution was stopped or failed outside the client is
		// listed cancelled or failed (pushctl get KEY says why).
		fmt.Fprintf(a.Stdout, "%-32s %-20s %-20s %-10s %-12s %s\n", "KEY", "RECIPIENT", "DUE (UTC)", "STATE", "TIME LEFT", "TITLE")
		for _, st := range all {
			rcpt := st.Push.UserID
			if rcpt == "" {
				rcpt = st.Push.EndpointARN
			}
			fmt.Fprintf(a.Stdout, "%-32s %-20s %-20s %-10s %-12s %s\n", st.Key, rcpt, st.DueAt.UTC().Format("2006-01-02 15:04:05"),
				st.State, st.TimeLeft.Round(time.Second), st.Push.Title)
		}
		for _, st := range all {
			if st.Warning != "" {
				fmt.Fprintf(a.Stdout, "warning: %s: %s\n", st.Key, st.Warning)
			}
		}
	}
	if next != "" {
		fmt.Fprintf(a.Stdout, "more: --page-token %s\n", next)
	}
	return nil
}

// --- output ---

func (a *App) printScheduled(c *call, s client.Scheduled) error {
	if c.json {
		return a.printJSON(s)
	}
	verb := "scheduled"
	if s.AlreadyScheduled {
		verb = "already scheduled"
	}
	fmt.Fprintf(a.Stdout, "%s: %s (revision %d), due %s", verb, s.Key, s.Revision, s.DueAt.UTC().Format(time.RFC3339))
	if s.ExecutionName != "" {
		fmt.Fprintf(a.Stdout, ", execution %s", s.ExecutionName)
	}
	fmt.Fprintf(a.Stdout, ", state %s\n", s.State)
	return nil
}

func (a *App) printStatus(c *call, st client.Status) error {
	if c.json {
		return a.printJSON(st)
	}
	fmt.Fprintf(a.Stdout, "key:       %s\nstate:     %s\nrevision:  %d\ndue:       %s\n", st.Key, st.State, st.Revision, st.DueAt.UTC().Format(time.RFC3339))
	if st.State == client.StateScheduled {
		fmt.Fprintf(a.Stdout, "time left: %s\n", st.TimeLeft.Round(time.Second))
	}
	rcpt := "user " + st.Push.UserID
	if st.Push.EndpointARN != "" {
		rcpt = "endpoint " + st.Push.EndpointARN
	}
	fmt.Fprintf(a.Stdout, "to:        %s\ntitle:     %s\nbody:      %s\n", rcpt, st.Push.Title, st.Push.Body)
	if st.ExecutionName != "" {
		fmt.Fprintf(a.Stdout, "execution: %s", st.ExecutionName)
		if st.ExecutionStatus != "" {
			fmt.Fprintf(a.Stdout, " (%s)", st.ExecutionStatus)
		}
		fmt.Fprintln(a.Stdout)
	}
	if st.Warning != "" {
		fmt.Fprintf(a.Stdout, "warning:   %s\n", st.Warning)
	}
	if o := st.Outcome; o != nil {
		fmt.Fprintf(a.Stdout, "outcome:   %s", o.Result)
		if o.Endpoints > 0 {
			fmt.Fprintf(a.Stdout, ", %d of %d devices sent, %d failed", o.Sent, o.Endpoints, o.Failed)
		}
		if o.LatenessMs != nil {
			fmt.Fprintf(a.Stdout, ", %d ms after the due time", *o.LatenessMs)
		}
		fmt.Fprintln(a.Stdout)
		if o.Reason != "" {
			fmt.Fprintf(a.Stdout, "reason:    %s\n", o.Reason)
		}
	}
	return nil
}

func (a *App) printJSON(v any) error {
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
