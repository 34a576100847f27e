#!/usr/bin/env bash
# Schedule a push ten minutes ahead through the HTTP API with curl (SigV4), read it, cancel it.
# Needs API_URL (the ApiUrl stack output) and AWS credentials (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN for a role's); KEY names the push and USER_ID
# its recipient.
set -euo pipefail
KEY="${KEY:-order-1234-shipped}"
USER_ID="${USER_ID:-u-42}"
REGION="${AWS_REGION:-us-east-1}"

api() {
  curl --silent --show-error --fail-with-body \
    --aws-sigv4 "aws:amz:$REGION:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    ${AWS_SESSION_TOKEN:+--header "x-amz-security-token: $AWS_SESSION_TOKEN"} \
    --header "content-type: application/json" "$@"
  echo
}

api --request POST "$API_URL/pushes" \
  --data '{"key":"'"$KEY"'","delaySeconds":600,"push":{"userId":"'"$USER_ID"'","title":"Your order shipped","body":"Arriving Tuesday"}}'
api "$API_URL/pushes/$KEY"
api --request DELETE "$API_URL/pushes/$KEY"
