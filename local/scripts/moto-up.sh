#!/usr/bin/env bash
# Start the moto emulator (PyPI moto[server], pinned in requirements-dev.txt) for local runs.
#
#   local/scripts/moto-up.sh [PORT]        # PORT defaults to $MOTO_PORT, else 4566
#
# Binds 127.0.0.1 only. MOTO_PORT is set to the same port because moto's Step Functions
# service integrations (arn:aws:states:::sqs:sendMessage, ...) call back into
# http://localhost:$MOTO_PORT. Turns on real ASL execution (moto config
# stepfunctions.execute_state_machine) through POST /moto-api/config and waits until the
# server answers. Writes the pid to .local/moto.pid and the log to .local/moto.log.
# Prints the endpoint URL (http://127.0.0.1:PORT) on stdout. Stop it with local/scripts/moto-down.sh.
#
# TZ=UTC because moto's Wait TimestampPath compares against naive local time (moto_server.py
# patches that too; TZ=UTC stays so that nothing else in moto depends on the host's zone).
#
# moto is started through local/scripts/moto_server.py (same CLI as moto_server), which patches
# moto 5.2.5 bugs at import time; see local/RESEARCH.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${1:-${MOTO_PORT:-4566}}"
VENV="${VENV:-$ROOT/.venv}"
STATE="$ROOT/.local"
PIDFILE="$STATE/moto.pid"
LOG="$STATE/moto.log"
URL="http://127.0.0.1:$PORT"

mkdir -p "$STATE"

if [[ ! -x "$VENV/bin/moto_server" || ! -x "$VENV/bin/python" ]]; then
	echo "moto-up: $VENV/bin/moto_server is missing; run 'make deps' (requirements-dev.txt pins moto[server])" >&2
	exit 1
fi

if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
	echo "moto-up: already running (pid $(cat "$PIDFILE")); run local/scripts/moto-down.sh first" >&2
	exit 1
fi

if curl -s -o /dev/null "$URL/moto-api/config" 2>/dev/null; then
	echo "moto-up: something already answers on $URL" >&2
	exit 1
fi

# Credentials and region for the emulator (moto accepts any); lambda.use_docker is irrelevant
# here because nothing invokes the Lambda inside moto (see local/RESEARCH.md).
env TZ=UTC MOTO_PORT="$PORT" \
	AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" \
	AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}" \
	AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
	nohup "$VENV/bin/python" "$HERE/moto_server.py" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
echo $! >"$PIDFILE"

for _ in $(seq 1 100); do
	if curl -s -o /dev/null "$URL/moto-api/config"; then
		break
	fi
	if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
		echo "moto-up: local/scripts/moto_server.py exited; see $LOG" >&2
		tail -n 20 "$LOG" >&2 || true
		"$HERE/moto-down.sh" || true
		exit 1
	fi
	sleep 0.2
done

if ! curl -s -o /dev/null "$URL/moto-api/config"; then
	echo "moto-up: $URL did not answer within 20 s; see $LOG" >&2
	"$HERE/moto-down.sh" || true
	exit 1
fi

curl -sf -X POST -H 'Content-Type: application/json' \
	-d '{"stepfunctions": {"execute_state_machine": true}}' \
	"$URL/moto-api/config" >/dev/null

echo "$URL"
