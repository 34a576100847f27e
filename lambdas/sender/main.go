// Command sender is the Lambda that drains the push queue: for each push it resolves the
// recipient's endpoints, publishes through SNS mobile push (FCM HTTP v1) and keeps the
// delivery log. Built with -tags lambda.norpc for the provided.al2023 runtime; the wiring is
// in internal/senderapp.
package main

import "github.com/delayed-push/delayed-push/internal/senderapp"

func main() { senderapp.Main() }
