package pushctl

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/client"
)

var pendingCommand = command{
	name:    "pending",
	usage:   "[--user ID] [--limit N] [--page-token T] [--all]",
	summary: "list pending pushes",
	options: func() options { return &pendingOptions{} },
}

type pendingOptions struct {
	user, pageToken string
	limit           int
	all             bool
}

func (o *pendingOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "only this user's (or endpoint ARN's), by due time")
	fs.IntVar(&o.limit, "limit", 100, "page size (1..1000)")
	fs.StringVar(&o.pageToken, "page-token", "", "continue from this token")
	fs.BoolVar(&o.all, "all", false, "follow every page")
}

func (o *pendingOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	opts := client.ListOptions{UserID: o.user, Limit: o.limit, PageToken: o.pageToken}
	var all []client.Status
	next := ""
	for {
		page, err := b.Pushes.List(ctx, opts)
		if err != nil {
			return err
		}
		all = append(all, page.Pushes...)
		next = page.NextPageToken
		if !o.all || next == "" {
			break
		}
		opts.PageToken = next
	}
	if common.json {
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
