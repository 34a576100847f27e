package pushctl

import (
	"context"
	"flag"
	"time"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

var scheduleCommand = command{
	name:    "schedule",
	usage:   "--key KEY (--delay D | --at TIME | --now) RECIPIENT CONTENT",
	summary: "schedule a push under a key",
	notes: "RECIPIENT is --user ID or --endpoint ARN; CONTENT is --title and/or --body, with --data k=v,\n" +
		"--ttl, --priority, --collapse-key, --delivery, --max-lateness; or the whole push as --push-json\n" +
		"or --push-file. D is a Go duration (90s, 5m, 2h) or seconds; TIME is RFC 3339. The same key with\n" +
		"the same push answers \"already scheduled\"; with another push it is a conflict.",
	options: func() options { return &scheduleOptions{} },
}

type scheduleOptions struct {
	key     string
	when    whenFlags
	content contentFlags
}

func (o *scheduleOptions) define(fs *flag.FlagSet) {
	defineKey(fs, &o.key)
	o.when.define(fs)
	o.content.define(fs)
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
		return usagef("give --delay, --at or --now")
	}
	return a.schedule(ctx, common, o.key, &o.content, t)
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
	return a.schedule(ctx, common, o.key, &o.content, when{now: true})
}

var errKeyRequired = usagef("--key is required: it names the push and makes a retry safe")

// schedule builds the push from content and schedules it under key at t.
func (a *App) schedule(ctx context.Context, common commonFlags, key string, content *contentFlags, t when) error {
	p, err := content.build(push.Push{}, common.given)
	if err != nil {
		return err
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	req := client.Request{Key: key, Push: p, Delay: t.delay, At: t.at}
	if t.now {
		req.Delay, req.At = 0, time.Time{}
	}
	s, err := b.Pushes.Schedule(ctx, req)
	if err != nil {
		return err
	}
	return a.printScheduled(common.json, s)
}
