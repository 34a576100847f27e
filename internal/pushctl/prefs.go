package pushctl

import (
	"context"
	"flag"
	"fmt"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/recipient"
)

// Prefs is what pushctl prefs asks of the client (a *client.Client).
type Prefs interface {
	SetPreferences(ctx context.Context, userID string, r client.PreferencesRequest) (recipient.Preferences, error)
	Preferences(ctx context.Context, userID string) (recipient.Preferences, bool, error)
	DefaultTimeZone() string
}

var prefsCommand = command{
	name:    "prefs",
	usage:   "get --user ID | set --user ID [--zone Z] [--quiet-start HH:MM --quiet-end HH:MM | --no-quiet]",
	summary: "read and set a user's time zone and quiet hours",
	notes: "Z is an IANA time zone (Europe/Berlin); a zone set here wins over one a device reports. Quiet\n" +
		"hours are HH:MM on the user's clock, start inclusive and end exclusive, and may span midnight\n" +
		"(22:00 to 07:00). set changes only what it is given. get shows the zone that counts: the user's,\n" +
		"a device's, or the stack's default.",
	positional: 1,
	options:    func() options { return &prefsOptions{} },
}

type prefsOptions struct {
	user, zone, quietStart, quietEnd string
	noQuiet                          bool
}

func (o *prefsOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "the user id")
	fs.StringVar(&o.zone, "zone", "", "set: the user's IANA time zone (Europe/Berlin)")
	fs.StringVar(&o.quietStart, "quiet-start", "", "set: when quiet hours start, HH:MM on the user's clock")
	fs.StringVar(&o.quietEnd, "quiet-end", "", "set: when quiet hours end, HH:MM (earlier than the start: the next morning)")
	fs.BoolVar(&o.noQuiet, "no-quiet", false, "set: remove the quiet hours")
}

// run is "prefs get|set".
func (o *prefsOptions) run(ctx context.Context, a *App, common commonFlags, args []string) error {
	sub := args[0]
	if sub != "get" && sub != "set" {
		return usagef("unknown subcommand %q: get or set", sub)
	}
	if o.user == "" {
		return usagef("%s needs --user", sub)
	}
	var r client.PreferencesRequest
	if sub == "set" {
		r = client.PreferencesRequest{TimeZone: o.zone, QuietStart: o.quietStart, QuietEnd: o.quietEnd, NoQuietHours: o.noQuiet}
		if err := checkPrefs(r, common.given); err != nil {
			return err
		}
	} else if o.zone != "" || o.quietStart != "" || o.quietEnd != "" || o.noQuiet {
		return usagef("get takes only --user")
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	var p recipient.Preferences
	if sub == "set" {
		p, err = b.Prefs.SetPreferences(ctx, o.user, r)
	} else {
		p, _, err = b.Prefs.Preferences(ctx, o.user)
	}
	if err != nil {
		return err
	}
	u := client.UserPreferencesOf(o.user, p, b.Prefs.DefaultTimeZone())
	if common.json {
		return a.printJSON(u)
	}
	quiet := "none"
	if u.QuietHours != nil {
		quiet = u.QuietHours.Start + " to " + u.QuietHours.End
	}
	fmt.Fprintf(a.Stdout, "user:      %s\ntime zone: %s (%s)\nquiet:     %s\n", u.UserID, u.TimeZone, u.TimeZoneSource, quiet)
	return nil
}

// checkPrefs refuses a malformed set before anything is called, naming the flag.
func checkPrefs(r client.PreferencesRequest, given map[string]bool) error {
	flagOf := map[string]string{recipient.FieldTimeZone: "--zone", recipient.FieldQuietStart: "--quiet-start", recipient.FieldQuietEnd: "--quiet-end"}
	bad := func(err error) error {
		if ie, ok := err.(*recipient.InvalidError); ok {
			return usagef("%s %s", flagOf[ie.Field], ie.Reason)
		}
		return err
	}
	switch {
	case given["zone"] && r.TimeZone == "":
		return usagef("--zone is empty: give an IANA time zone like Europe/Berlin")
	case r.NoQuietHours && (given["quiet-start"] || given["quiet-end"]):
		return usagef("give --quiet-start and --quiet-end, or --no-quiet")
	case !given["zone"] && !given["quiet-start"] && !given["quiet-end"] && !r.NoQuietHours:
		return usagef("nothing to set: give --zone, --quiet-start and --quiet-end, and/or --no-quiet")
	}
	if r.TimeZone != "" {
		if _, err := recipient.Zone(r.TimeZone); err != nil {
			return bad(err)
		}
	}
	if given["quiet-start"] || given["quiet-end"] {
		if _, err := recipient.ParseQuietHours(r.QuietStart, r.QuietEnd); err != nil {
			return bad(err)
		}
	}
	return nil
}
