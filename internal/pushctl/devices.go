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

var devicesCommand = command{
	name:    "devices",
	usage:   "register --user ID --token T [--platform P] [--device-id ID] [--zone Z] | list --user ID | remove (DEVICE_ID | --user ID)",
	summary: "register, list and remove a user's devices",
	notes: "register follows AWS's SNS endpoint flow: the same token again changes nothing; with\n" +
		"--device-id (from an earlier answer) a refreshed token updates that device; a token another user\n" +
		"holds moves to --user, whose device it is from then on. --zone reports the device's IANA time zone:\n" +
		"it becomes the user's unless the user set one (pushctl prefs set). remove deletes the SNS endpoint first.",
	positional: -1,
	options:    func() options { return &devicesOptions{} },
}

type devicesOptions struct {
	user, token, platform, deviceID, zone string
}

func (o *devicesOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "the user id (register, list; remove: every device of the user)")
	fs.StringVar(&o.token, "token", "", "register: the device's FCM registration token")
	fs.StringVar(&o.platform, "platform", "", "register: the platform (default FCM)")
	fs.StringVar(&o.deviceID, "device-id", "", "register: the id an earlier registration of this app install returned")
	fs.StringVar(&o.zone, "zone", "", "register: the device's IANA time zone (Europe/Berlin); a zone the user set wins")
}

// run is "devices register|list|remove".
func (o *devicesOptions) run(ctx context.Context, a *App, common commonFlags, args []string) error {
	if len(args) == 0 {
		return usagef("give a subcommand: register, list or remove")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "register":
		if len(rest) != 0 {
			return usagef("register takes no arguments, got %d", len(rest))
		}
		b, err := a.Connect(ctx, common.target)
		if err != nil {
			return err
		}
		res, err := b.Devices.RegisterDevice(ctx, devices.Registration{UserID: o.user, Token: o.token, Platform: o.platform, DeviceID: o.deviceID,
			TimeZone: o.zone})
		if err != nil {
			return err
		}
		if common.json {
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
		if o.user == "" {
			return usagef("list needs --user")
		}
		b, err := a.Connect(ctx, common.target)
		if err != nil {
			return err
		}
		list, err := b.Devices.Devices(ctx, o.user)
		if err != nil {
			return err
		}
		return a.printDevices(common.json, o.user, list, "user %s has no device\n")
	case "remove":
		switch {
		case len(rest) == 1 && o.user == "":
			b, err := a.Connect(ctx, common.target)
			if err != nil {
				return err
			}
			d, err := b.Devices.UnregisterDevice(ctx, rest[0])
			if err != nil {
				return err
			}
			if common.json {
				return a.printJSON(d)
			}
			fmt.Fprintf(a.Stdout, "removed: device %s of user %s\n", d.ID, d.UserID)
			return nil
		case len(rest) == 0 && o.user != "":
			b, err := a.Connect(ctx, common.target)
			if err != nil {
				return err
			}
			list, err := b.Devices.UnregisterDevices(ctx, o.user)
			if err != nil {
				return err
			}
			if !common.json {
				fmt.Fprintf(a.Stdout, "removed %d device(s) of user %s\n", len(list), o.user)
			}
			return a.printDevices(common.json, o.user, list, "")
		}
		return usagef("remove takes a DEVICE_ID, or --user to remove every device of a user")
	}
	return usagef("unknown subcommand %q: register, list or remove", sub)
}

// printDevices prints user's devices; none, if not empty, is the line for a user without any.
func (a *App) printDevices(asJSON bool, user string, list []devices.Device, none string) error {
	if asJSON {
		if list == nil {
			list = []devices.Device{}
		}
		return a.printJSON(list)
	}
	if len(list) == 0 && none != "" {
		fmt.Fprintf(a.Stdout, none, user)
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
