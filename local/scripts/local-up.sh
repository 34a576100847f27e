#!/usr/bin/env bash
# Start Delayed Push on the local emulator and leave it running:
#   1. moto (local/scripts/moto-up.sh) on 127.0.0.1:$LOCAL_PORT (default 4566);
#   2. `local serve`: deploys .local/cdk.out through moto's CloudFormation API and runs the
#      stack's Lambda functions (the cdk.out bootstraps, under qemu on non-arm64 hosts) fed by
#      local SQS pollers, in the background (pid .local/runner.pid, log .local/runner.log).
# Waits until the stack is ready. Stop everything with local/scripts/local-down.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
PORT="${LOCAL_PORT:-4566}"
STATE=.local
mkdir -p "$STATE/bin"

if [[ -f "$STATE/runner.pid" ]] && kill -0 "$(cat "$STATE/runner.pid")" 2>/dev/null; then
	echo "local-up: already running (runner pid $(cat "$STATE/runner.pid")); local/scripts/local-down.sh stops it" >&2
	exit 1
fi

(cd local && go build -o "../$STATE/bin/local" ./cmd/local)
URL="$("$HERE/moto-up.sh" "$PORT")"

rm -f "$STATE/stack.json"
nohup "$STATE/bin/local" serve -endpoint "$URL" -app "$STATE/cdk.out" -state "$STATE" \
	>"$STATE/runner.log" 2>&1 </dev/null &
echo $! >"$STATE/runner.pid"

for _ in $(seq 1 300); do
	[[ -f "$STATE/stack.json" ]] && break
	if ! kill -0 "$(cat "$STATE/runner.pid")" 2>/dev/null; then
		echo "local-up: the runner exited; last lines of $STATE/runner.log:" >&2
		tail -n 30 "$STATE/runner.log" >&2
		"$HERE/local-down.sh" >/dev/null 2>&1 || true
		exit 1
	fi
	sleep 0.2
done
if [[ ! -f "$STATE/stack.json" ]]; then
	echo "local-up: the stack was not ready within 60 s; see $STATE/runner.log" >&2
	exit 1
fi
grep '^local: ' "$STATE/runner.log" || true
echo "$URL"
