#!/usr/bin/env bash
# Schedule a push ten minutes ahead with the AWS CLI, read its state, then cancel it.
# Needs STATE_MACHINE_ARN (a stack output) and AWS credentials; KEY names the push (it is the
# execution name and the push id) and USER_ID its recipient.
set -euo pipefail
KEY="${KEY:-order-1234-shipped}"
USER_ID="${USER_ID:-u-42}"

EXECUTION_ARN=$(aws stepfunctions start-execution --state-machine-arn "$STATE_MACHINE_ARN" \
  --name "$KEY" \
  --input '{"delaySeconds":600,"push":{"userId":"'"$USER_ID"'","title":"Your order shipped","body":"Arriving Tuesday"}}' \
  --query executionArn --output text)
echo "scheduled: $EXECUTION_ARN"
echo "state: $(aws stepfunctions describe-execution --execution-arn "$EXECUTION_ARN" --query status --output text)"

aws stepfunctions stop-execution --execution-arn "$EXECUTION_ARN" >/dev/null
echo "state: $(aws stepfunctions describe-execution --execution-arn "$EXECUTION_ARN" --query status --output text)"
