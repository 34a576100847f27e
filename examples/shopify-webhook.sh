#!/usr/bin/env bash
# Send a signed Shopify orders/create webhook to the stack, as Shopify does: the body's
# base64 HMAC-SHA256 with the app's client secret in X-Shopify-Hmac-Sha256.
# Needs WEBHOOK_URL (the ShopifyWebhookUrl output), SHOPIFY_SECRET (the app's client secret),
# SHOP (NAME.myshopify.com) and ORDER_ID (a number).
set -euo pipefail

body=$(printf '{"id":%s,"name":"#%s","total_price":"24.90","currency":"EUR","customer":{"id":7001,"first_name":"Mina","last_name":"Kim"},"line_items":[{"title":"Mug","quantity":2,"price":"12.45"}]}' \
  "$ORDER_ID" "$ORDER_ID")
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SHOPIFY_SECRET" -binary | base64)

curl --silent --show-error --max-time 10 -X POST "$WEBHOOK_URL" \
  -H "Content-Type: application/json" \
  -H "X-Shopify-Topic: orders/create" \
  -H "X-Shopify-Shop-Domain: $SHOP" \
  -H "X-Shopify-Webhook-Id: demo-$ORDER_ID" \
  -H "X-Shopify-Triggered-At: $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -H "X-Shopify-Hmac-Sha256: $signature" \
  --data-raw "$body"
echo
