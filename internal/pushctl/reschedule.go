package pushctl

import (
	"context"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

var rescheduleCommand = command{
	name:       "reschedule",
	usage:      "KEY [--delay D | --at TIME | --local-time LOCAL | --now] [--engine E] [CONTENT]",
	summary:    "move a pending push and/or change its content",
	notes:      "Without a time flag the due time stays; content flags change those fields of the current push;\nwithout --engine the push keeps its engine.",
	positional: 1,
	options:    func() options { return &rescheduleOptions{} },
}

// rescheduleOptions are schedule's: --key only to say that the key is the argument.
type rescheduleOptions struct{ scheduleOptions }

func (o *rescheduleOptions) run(ctx context.Context, a *App, common commonFlags, args []string) error {
	key := args[0]
	t, err := o.when.read(common.given)
	if err != nil {
		return err
	}
	if common.given["key"] {
		return usagef("the key is the argument: pushctl reschedule KEY ...")
	}
	newContent := contentGiven(common.given)
	if !t.ok && !newContent && o.engine == "" {
		return usagef("give a new time (--delay, --at, --local-time, --now), new content and/or --engine")
	}
	if err := o.readEngine(); err != nil {
		return err
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	ch := client.Change{Delay: t.delay, At: t.at, LocalTime: t.local, Now: t.now, Engine: o.engine}
	if newContent {
		base := push.Push{}
		if !o.content.asJSON() {
			// Content flags change those fields of the current push.
			st, err := b.Pushes.Get(ctx, key)
			if err != nil {
				return err
			}
			base = st.Push
			base.ID, base.Revision, base.DueAt = "", 0, ""
		}
		p, err := o.content.build(base, common.given)
		if err != nil {
			return err
		}
		ch.Push = &p
	}
	s, err := b.Pushes.Reschedule(ctx, key, ch)
	if err != nil {
		return err
	}
	return a.printScheduled(common.json, s)
}
