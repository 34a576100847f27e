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
		return usagef("--key is required: it names the push and makes a retry safe")
	}
	t, err := o.when.read(common.given)
	if err != nil {
		return err
	}
	if !t.ok {
		return usagef("give --delay, --at or --now")
	}
	p, err := o.content.build(push.Push{}, common.given)
	if err != nil {
		return err
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	req := client.Request{Key: o.key, Push: p, Delay: t.delay, At: t.at}
	if t.now {
		req.Delay, req.At = 0, time.Time{}
	}
	s, err := b.Pushes.Schedule(ctx, req)
	if err != nil {
		return err
	}
	return a.printScheduled(common.json, s)
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

func (o *sendOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	if o.key == "" {
		return usagef("--key is required: it names the push and makes a retry safe")
	}
	p, err := o.content.build(push.Push{}, common.given)
	if err != nil {
		return err
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	s, err := b.Pushes.SendNow(ctx, o.key, p)
	if err != nil {
		return err
	}
	return a.printScheduled(common.json, s)
}
