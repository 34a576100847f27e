package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

// A backend schedules a reminder two hours ahead under a key of its own. In a backend the
// client comes from the deployed stack:
//
//	cfg, _ := config.LoadDefaultConfig(ctx)
//	res, _, err := client.ResourcesFromStack(ctx, cloudformation.NewFromConfig(cfg), "DelayedPush")
//	c := client.New(cfg, res)
func Example() {
	ctx := context.Background()
	c := exampleClient()
	reminder := push.Push{UserID: "u-42", Title: "Your cart", Body: "Still thinking it over?"}
	s, err := c.Schedule(ctx, client.Request{Key: "cart-u-42", Push: reminder, Delay: 2 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ExecutionName, s.DueAt.Format(time.RFC3339), s.AlreadyScheduled)

	// A retry (after a timeout, a crash) schedules nothing new.
	s, _ = c.Schedule(ctx, client.Request{Key: "cart-u-42", Push: reminder, Delay: 2 * time.Hour})
	fmt.Println(s.AlreadyScheduled)

	// The same key with another push is a conflict.
	reminder.Title = "Last chance"
	_, err = c.Schedule(ctx, client.Request{Key: "cart-u-42", Push: reminder, Delay: 2 * time.Hour})
	fmt.Println(errors.Is(err, client.ErrConflict))
	// Output:
	// cart-u-42 2026-12-01T11:00:00Z false
	// true
	// true
}

// A bad push is refused before anything is scheduled, with the state machine's words.
func ExampleClient_Schedule_invalid() {
	_, err := exampleClient().Schedule(context.Background(), client.Request{
		Key: "order-7", Push: push.Push{UserID: "u-7", Title: "Shipped", Priority: "urgent"}, Delay: time.Minute,
	})
	var bad *push.InvalidError
	fmt.Println(errors.As(err, &bad), bad.Field)
	fmt.Println(err)
	// Output:
	// true push.priority
	// invalid push.priority: must be "high" or "normal", got "urgent"
}

func ExampleClient_Reschedule() {
	ctx := context.Background()
	c := exampleClient()
	_, _ = c.Schedule(ctx, client.Request{Key: "standup-9", Push: push.Push{UserID: "u-9", Title: "Stand-up in 10 minutes"},
		At: time.Date(2026, 12, 1, 9, 50, 0, 0, time.UTC)})
	moved := push.Push{UserID: "u-9", Title: "Stand-up moved: in 10 minutes"}
	s, err := c.Reschedule(ctx, "standup-9", client.Change{At: time.Date(2026, 12, 1, 10, 20, 0, 0, time.UTC), Push: &moved})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Revision, s.ExecutionName, s.DueAt.Format(time.Kitchen))
	// Output: 2 standup-9--2 10:20AM
}

func ExampleClient_Cancel() {
	ctx := context.Background()
	c := exampleClient()
	_, _ = c.Schedule(ctx, client.Request{Key: "trial-ends-u-5", Push: push.Push{UserID: "u-5", Title: "Your trial ends tomorrow"}, Delay: 48 * time.Hour})
	st, err := c.Cancel(ctx, "trial-ends-u-5")
	fmt.Println(st.State, err)
	// Output: cancelled <nil>
}

func ExampleClient_Get() {
	ctx := context.Background()
	c := exampleClient()
	_, _ = c.Schedule(ctx, client.Request{Key: "water-u-3", Push: push.Push{UserID: "u-3", Title: "Time to drink water"}, Delay: 90 * time.Minute})
	st, _ := c.Get(ctx, "water-u-3")
	fmt.Println(st.State, st.TimeLeft)

	exampleFire("water-u-3") // the wait ends; the sender sends it to the user's two phones
	st, _ = c.Get(ctx, "water-u-3")
	fmt.Println(st.State, st.Outcome.Sent, "of", st.Outcome.Endpoints, *st.Outcome.LatenessMs, "ms late")
	// Output:
	// scheduled 1h30m0s
	// sent 2 of 2 412 ms late
}

func ExampleClient_List() {
	ctx := context.Background()
	c := exampleClient()
	for i, d := range []time.Duration{3 * time.Hour, time.Hour} {
		_, _ = c.Schedule(ctx, client.Request{Key: fmt.Sprintf("digest-u-8-%d", i), Push: push.Push{UserID: "u-8", Title: "Your digest"}, Delay: d})
	}
	opts := client.ListOptions{UserID: "u-8", Limit: 100}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, st := range page.Pushes {
			fmt.Println(st.Key, st.TimeLeft)
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	// Output:
	// digest-u-8-1 1h0m0s
	// digest-u-8-0 3h0m0s
}

func ExampleExecutionName() {
	fmt.Println(client.ExecutionName("order-42", 1))
	fmt.Println(client.ExecutionName("order-42", 3))
	fmt.Println(client.ExecutionName("order #42 for Ana", 1))
	// Output:
	// order-42
	// order-42--3
	// k--xgvbyile67nseawvvik7okbm52qkrixwha5jhv52ojufm2rzmhmq
}
