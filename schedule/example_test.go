package schedule_test

import (
	"fmt"
	"time"

	"github.com/delayed-push/delayed-push/schedule"
)

// A Go producer checks the execution input before StartExecution, including what the state
// machine cannot check (how far ahead sendAt is).
func ExampleParse() {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s, err := schedule.Parse([]byte(`{"delaySeconds":300,"push":{"userId":"u-42","title":"Hi"}}`), now)
	fmt.Println(s.DueAt(now).Format(time.RFC3339), err)

	_, err = schedule.Parse([]byte(`{"sendAt":"2028-01-01T00:00:00Z","push":{"userId":"u-42","title":"Hi"}}`), now)
	fmt.Println(err)
	// Output:
	// 2026-11-23T12:05:00Z <nil>
	// invalid sendAt: "2028-01-01T00:00:00Z" is more than 31532400 seconds (365 days less an hour) after the start
}
