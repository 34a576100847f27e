# Source this after `make local` to point the AWS CLI at the local stack:
#   source local/scripts/local-env.sh
# Sets the emulator endpoint and test credentials, puts the project's pinned AWS CLI
# (.venv/bin/aws) on PATH, and exports the stack outputs under the names the README uses.
_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)"
if [ ! -f "$_root/.local/stack.json" ]; then
	echo "local-env: no local stack (.local/stack.json); run make local first" >&2
	return 1 2>/dev/null || exit 1
fi
export AWS_ENDPOINT_URL="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$_root/.local/stack.json")"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export PATH="$_root/.venv/bin:$PATH"
eval "$(python3 - "$_root/.local/stack.json" <<'PY'
import json, sys
names = {"StateMachineArn": "STATE_MACHINE_ARN", "PushQueueUrl": "PUSH_QUEUE_URL",
         "DeadLetterQueueUrl": "DEAD_LETTER_QUEUE_URL", "DevicesTableName": "DEVICES_TABLE",
         "DeliveriesTableName": "DELIVERIES_TABLE", "SchedulesTableName": "SCHEDULES_TABLE",
         "SenderFunctionName": "SENDER_FUNCTION", "DeviceOwnersTableName": "DEVICE_OWNERS_TABLE",
         "DeviceEventsTopicArn": "DEVICE_EVENTS_TOPIC_ARN", "ShopifySecretArn": "SHOPIFY_SECRET_ARN",
         "OrdersTableName": "ORDERS_TABLE", "OrdersDeadLetterQueueUrl": "ORDERS_DEAD_LETTER_QUEUE_URL"}
state = json.load(open(sys.argv[1]))
outputs = state["outputs"]
for key, var in names.items():
    if key in outputs:
        print(f"export {var}='{outputs[key]}'")
if state.get("apiEndpoint"):
    print(f"export API_URL='{state['apiEndpoint']}'")
    if "ShopifySecretArn" in outputs:
        print(f"export SHOPIFY_WEBHOOK_URL='{state['apiEndpoint']}/shopify/webhooks'")
PY
)"
# AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it goes to queue.amazonaws.com), so aws is
# wrapped to pass --endpoint-url explicitly.
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
export -f aws 2>/dev/null || true
export APP_ARN="arn:aws:sns:us-east-1:123456789012:app/GCM/delayed-push"
echo "local-env: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL; STATE_MACHINE_ARN, PUSH_QUEUE_URL, DEVICES_TABLE, DELIVERIES_TABLE, SCHEDULES_TABLE, API_URL, APP_ARN, SHOPIFY_WEBHOOK_URL, SHOPIFY_SECRET_ARN, ORDERS_TABLE set"
unset _root
