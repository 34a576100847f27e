package pushctl

import (
	"context"
	"flag"

	"github.com/delayed-push/delayed-push/client"
)

var getCommand = command{
	name:       "get",
	usage:      "KEY",
	summary:    "show a push: state, due time, time left, outcome",
	positional: 1,
	options:    func() options { return &keyOptions{ask: Pushes.Get} },
}

var cancelCommand = command{
	name:       "cancel",
	usage:      "KEY",
	summary:    "cancel a pending push (never sent, even if its execution fired)",
	positional: 1,
	options:    func() options { return &keyOptions{ask: Pushes.Cancel} },
}

// keyOptions are get's and cancel's: no flags of their own, the key as the argument, and the
// push's status as the answer.
type keyOptions struct {
	ask func(p Pushes, ctx context.Context, key string) (client.Status, error)
}

func (o *keyOptions) define(*flag.FlagSet) {}

func (o *keyOptions) run(ctx context.Context, a *App, common commonFlags, args []string) error {
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	st, err := o.ask(b.Pushes, ctx, args[0])
	if err != nil {
		return err
	}
	return a.printStatus(common.json, st)
}
