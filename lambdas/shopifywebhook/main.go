// Command shopifywebhook is the Lambda behind POST /shopify/webhooks: it verifies Shopify's
// signature, queues the raw webhook and answers 200 at once. The wiring is in
// internal/shopifyapp.
package main

import "github.com/delayed-push/delayed-push/internal/shopifyapp"

func main() { shopifyapp.ReceiverMain() }
