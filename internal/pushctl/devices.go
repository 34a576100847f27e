package pushctl

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/devices"
)

// Devices is what pushctl devices asks of the client (a *client.Client).
type Devices interface {
	RegisterDevice(ctx context.Context, r devices.Registration) (devices.Result, error)
	Devices(ctx context.Context, userID string) ([]devices.Device, error)
	UnregisterDevice(ctx context.Context, deviceID string) (devices.Device, error)
	UnregisterDevices(ctx context.Context, userID string) ([]devices.Device, error)
}

func devicesFlags(fs *flag.FlagSet, c *call) {
	fs.StringVar(&c.user, "user", "", "the user id (register, list; remove: every device of the user)")
	fs.StringVar(&c.token, "token", "", "register: the device's FCM registration token")
	fs.StringVar(&c.platform, "platform", "", "register: the platform (default FCM)")
	fs.StringVar(&c.deviceID, "device-id", "", "register: the id an earlier registration of this app install returned")
}

// runDevices is "devices register|list|remove".
func runDevices(a *App, ctx context.Context, c *call) error {
	if len(c.args) == 0 {
		return usagef("give a subcommand: register, list or remove")
	}
	sub, rest := c.args[0], c.args[1:]
	switch sub {
	case "register":
		if len(rest) != 0 {
			return usagef("register takes no arguments, got %d", len(rest))
		}
		b, err := a.Connect(ctx, c.target)
		if err != nil {
			return err
		}
		res, err := b.Devices.RegisterDevice(ctx, devices.Registration{UserID: c.user, Token: c.token, Platform: c.platform, DeviceID: c.deviceID})
		if err != nil {
			return err
		}
		if c.json {
			return a.printJSON(res)
		}
		fmt.Fprintf(a.Stdout, "%s: device %s of user %s (%s)", res.Outcome, res.ID, res.UserID, res.Platform)
		if res.PreviousDeviceID != "" {
			fmt.Fprintf(a.Stdout, ", was device %s", res.PreviousDeviceID)
		}
		fmt.Fprintln(a.Stdout)
		return nil
	case "list":
		if len(rest) != 0 {
			return usagef("list takes no arguments, got %d", len(rest))
		}
		if c.user == "" {
			return usagef("list needs --user")
		}
		b, err := a.Connect(ctx, c.target)
		if err != nil {
			return err
		}
		list, err := b.Devices.Devices(ctx, c.user)
		if err != nil {
			return err
		}
		return a.printDevices(c, list, "user %s has no device\n")
	case "remove":
		switch {
		case len(rest) == 1 && c.user == "":
			b, err := a.Connect(ctx, c.target)
			if err != nil {
				return err
			}
			d, err := b.Devices.UnregisterDevice(ctx, rest[0])
			if err != nil {
				return err
			}
			if c.json {
				return a.printJSON(d)
			}
			fmt.Fprintf(a.Stdout, "removed: device %s of user %s\n", d.ID, d.UserID)
			return nil
		case len(rest) == 0 && c.user != "":
			b, err := a.Connect(ctx, c.target)
			if err != nil {
				return err
			}
			list, err := b.Devices.UnregisterDevices(ctx, c.user)
			if err != nil {
				return err
			}
			if !c.json {
				fmt.Fprintf(a.Stdout, "removed %d device(s) of user %s\n", len(list), c.user)
			}
			return a.printDevices(c, list, "")
		}
		return usagef("remove takes a DEVICE_ID, or --user to remove every device of a user")
	}
	return usagef("unknown subcommand %q: register, list or remove", sub)
}

func (a *App) printDevices(c *call, list []devices.Device, none string) error {
	if c.json {
		if list == nil {
			list = []devices.Device{}
		}
		return a.printJSON(list)
	}
	if len(list) == 0 && none != "" {
		fmt.Fprintf(a.Stdout, none, c.user)
		return nil
	}
	for _, d := range list {
		state := "enabled"
		if !d.Enabled {
			state = "disabled: " + d.DisabledReason
		}
		fmt.Fprintf(a.Stdout, "%s  %s  created %s  last seen %s  %s\n", d.ID, d.Platform,
			d.CreatedAt.UTC().Format(time.RFC3339), d.LastSeenAt.UTC().Format(time.RFC3339), state)
	}
	return nil
}
