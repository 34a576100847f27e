package push_test

import (
	"fmt"

	"github.com/delayed-push/delayed-push/push"
)

// A Go producer checks a push before it sends it: the sender applies the same rules.
func ExampleDecode() {
	p, err := push.Decode([]byte(`{"id":"order-1234-shipped","userId":"u-42","title":"Your order shipped"}`))
	fmt.Println(p.UserID, err)

	_, err = push.Decode([]byte(`{"id":"order-1234-shipped","userId":"u-42","title":"Shipped","sound":"ping"}`))
	fmt.Println(err)
	// Output:
	// u-42 <nil>
	// invalid sound: unknown field
}

func ExampleEncode() {
	fmt.Println(string(push.Encode(push.Push{ID: "welcome-u-42", UserID: "u-42", Title: "Welcome"})))
	// Output: {"id":"welcome-u-42","userId":"u-42","title":"Welcome"}
}
