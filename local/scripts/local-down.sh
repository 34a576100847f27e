#!/usr/bin/env bash
# Stop what local/scripts/local-up.sh started: the Lambda runner, then the emulator.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PIDFILE="$ROOT/.local/runner.pid"
if [[ -f "$PIDFILE" ]]; then
	PID="$(cat "$PIDFILE")"
	if kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	rm -f "$PIDFILE" "$ROOT/.local/stack.json"
fi
"$HERE/moto-down.sh"
