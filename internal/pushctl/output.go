package pushctl

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/client"
)

// printScheduled is the answer of schedule, send and reschedule.
func (a *App) printScheduled(asJSON bool, s client.Scheduled) error {
	if asJSON {
		return a.printJSON(s)
	}
	verb := "scheduled"
	if s.AlreadyScheduled {
		verb = "already scheduled"
	}
	fmt.Fprintf(a.Stdout, "%s: %s (revision %d), due %s", verb, s.Key, s.Revision, s.DueAt.UTC().Format(time.RFC3339))
	if s.Engine != "" {
		fmt.Fprintf(a.Stdout, ", engine %s", s.Engine)
	}
	if s.ExecutionName != "" {
		fmt.Fprintf(a.Stdout, ", execution %s", s.ExecutionName)
	}
	if s.ScheduleName != "" {
		fmt.Fprintf(a.Stdout, ", schedule %s", s.ScheduleName)
	}
	if s.LocalTime != "" {
		fmt.Fprintf(a.Stdout, ", local time %s", localLine(s.LocalTime, s.TimeZone, s.TimeZoneSource, s.Resolution))
	}
	fmt.Fprintf(a.Stdout, ", state %s\n", s.State)
	return nil
}

// printStatus is the answer of get and cancel.
func (a *App) printStatus(asJSON bool, st client.Status) error {
	if asJSON {
		return a.printJSON(st)
	}
	fmt.Fprintf(a.Stdout, "key:       %s\nstate:     %s\nrevision:  %d\n", st.Key, st.State, st.Revision)
	if st.Engine != "" {
		fmt.Fprintf(a.Stdout, "engine:    %s\n", st.Engine)
	}
	fmt.Fprintf(a.Stdout, "due:       %s\n", st.DueAt.UTC().Format(time.RFC3339))
	if st.LocalTime != "" {
		fmt.Fprintf(a.Stdout, "local:     %s\n", localLine(st.LocalTime, st.TimeZone, st.TimeZoneSource, st.Resolution))
	}
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
	if !st.QuietUntil.IsZero() && st.State == client.StateDeferred {
		fmt.Fprintf(a.Stdout, "held:      by the recipient's quiet hours until %s\n", st.QuietUntil.UTC().Format(time.RFC3339))
	}
	if o := st.Outcome; o != nil {
		fmt.Fprintf(a.Stdout, "outcome:   %s", o.Result)
		if o.Cap != "" {
			fmt.Fprintf(a.Stdout, " (frequency cap %s)", o.Cap)
		}
		if o.Endpoints > 0 {
			fmt.Fprintf(a.Stdout, ", %d of %d devices sent, %d failed", o.Sent, o.Endpoints, o.Failed)
		}
		if o.LatenessMs != nil {
			fmt.Fprintf(a.Stdout, ", %d ms after the due time", *o.LatenessMs)
		}
		if o.HeldMs != nil && *o.HeldMs > 0 {
			fmt.Fprintf(a.Stdout, ", held %d ms by quiet hours", *o.HeldMs)
		}
		fmt.Fprintln(a.Stdout)
		if o.Reason != "" {
			fmt.Fprintf(a.Stdout, "reason:    %s\n", o.Reason)
		}
	}
	return nil
}

// localLine says how a local time was read: "2026-12-24T09:00 in America/New_York (the
// user's zone), exact".
func localLine(local, zone, source, resolution string) string {
	whose := map[string]string{"user": "the user's zone", "device": "the zone the user's device reported", "default": "the stack's default zone"}[source]
	if whose == "" {
		whose = source
	}
	return fmt.Sprintf("%s in %s (%s), %s", local, zone, whose, resolution)
}

func (a *App) printJSON(v any) error {
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
