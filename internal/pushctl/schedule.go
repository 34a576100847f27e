package pushctl

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

var scheduleCommand = command{
	name:    "schedule",
	usage:   "--key KEY (--delay D | --at TIME | --local-time LOCAL | --now) [--engine E] RECIPIENT CONTENT",
	summary: "schedule a push under a key",
	notes: "RECIPIENT is --user ID or --endpoint ARN; CONTENT is --title and/or --body, with --data k=v,\n" +
		"--ttl, --priority, --collapse-key, --delivery, --max-lateness; or the whole push as --push-json\n" +
		"or --push-file. D is a Go duration (90s, 5m, 2h) or seconds; TIME is RFC 3339. LOCAL is a\n" +
		"wall-clock time without offset (2026-12-24T09:00) read in --user's time zone (pushctl prefs), else\n" +
		"the stack's default zone; the answer says which zone and how it resolved. E is the engine\n" +
		"that holds the push, stepfunctions or economy (default: the stack's). The same key with the same\n" +
		"push answers \"already scheduled\"; with another push it is a conflict.",
	options: func() options { return &scheduleOptions{} },
}

type scheduleOptions struct {
	key     string
	when    whenFlags
	engine  string
	content contentFlags
}

func (o *scheduleOptions) define(fs *flag.FlagSet) {
	defineKey(fs, &o.key)
	o.when.define(fs)
	fs.StringVar(&o.engine, "engine", "", "the engine that holds the push: stepfunctions or economy (default: the stack's)")
	o.content.define(fs)
}

// readEngine checks --engine before anything is called: empty is the stack's engine.
func (o *scheduleOptions) readEngine() error {
	var ie *push.InvalidError
	if o.engine != "" && errors.As(client.ValidateEngine(o.engine), &ie) {
		return usagef("--engine %s", ie.Reason)
	}
	return nil
}

func (o *scheduleOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	if o.key == "" {
		return errKeyRequired
	}
	t, err := o.when.read(common.given)
	if err != nil {
		return err
	}
	if !t.ok {
		return usagef("give --delay, --at, --local-time or --now")
	}
	if err := o.readEngine(); err != nil {
		return err
	}
	return a.schedule(ctx, common, client.Request{Key: o.key, Delay: t.delay, At: t.at, LocalTime: t.local, Engine: o.engine}, &o.content, t.now)
}

var sendCommand = command{
	name:    "send",
	usage:   "--key KEY RECIPIENT CONTENT",
	summary: "send a push now",
	options: func() options { return &sendOptions{} },
}

type sendOptions struct {
	key     string
	content contentFlags
}

func (o *sendOptions) define(fs *flag.FlagSet) {
	defineKey(fs, &o.key)
	o.content.define(fs)
}

// run is schedule --now: a push with neither a delay nor a time goes straight to the push
// queue (the client's SendNow is the same call).
func (o *sendOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	if o.key == "" {
		return errKeyRequired
	}
	return a.schedule(ctx, common, client.Request{Key: o.key}, &o.content, true)
}

var errKeyRequired = usagef("--key is required: it names the push and makes a retry safe")

// schedule builds req's push from content and schedules it (now: with neither a delay nor a
// time).
func (a *App) schedule(ctx context.Context, common commonFlags, req client.Request, content *contentFlags, now bool) error {
	p, err := content.build(push.Push{}, common.given)
	if err != nil {
		return err
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	req.Push = p
	if now {
		req.Delay, req.At = 0, time.Time{}
	}
	s, err := b.Pushes.Schedule(ctx, req)
	if err != nil {
		return err
	}
	return a.printScheduled(common.json, s)
}
