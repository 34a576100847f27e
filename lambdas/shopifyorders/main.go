// Command shopifyorders is the Lambda that drains the orders queue: it saves each order, then
// pushes the shop's owner, and carries out Shopify's privacy requests. The wiring is in
// internal/shopifyapp.
package main

import "github.com/delayed-push/delayed-push/internal/shopifyapp"

func main() { shopifyapp.ConsumerMain() }
