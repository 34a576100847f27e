// Command go-client schedules a push ten minutes ahead with the Go client, reads it, moves it
// and cancels it. It finds the stack's resources by its name (STACK_NAME, default
// DelayedPush); KEY names the push and USER_ID its recipient.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/delayed-push/delayed-push/client"
	"github.com/delayed-push/delayed-push/push"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res, _, err := client.ResourcesFromStack(ctx, cloudformation.NewFromConfig(cfg), getenv("STACK_NAME", "DelayedPush"))
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(cfg, res)
	key := getenv("KEY", "order-1234-shipped")

	s, err := c.Schedule(ctx, client.Request{
		Key:   key,
		Push:  push.Push{UserID: getenv("USER_ID", "u-42"), Title: "Your order shipped", Body: "Arriving Tuesday"},
		Delay: 10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scheduled:", s.Key, "due", s.DueAt.Format(time.RFC3339))

	st, err := c.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", st.State, "time left", st.TimeLeft.Round(time.Minute))

	if _, err := c.Reschedule(ctx, key, client.Change{Delay: 20 * time.Minute}); err != nil {
		log.Fatal(err)
	}
	st, err = c.Cancel(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", st.State)
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
