#!/usr/bin/env bash
# Schedule a push ten minutes ahead with pushctl, read it, then cancel it.
# Needs pushctl on PATH and AWS credentials; PUSHCTL_FLAGS is added to every command (e.g.
# "--stack MyStack", or "--local" for the local stack); KEY names the push and USER_ID its
# recipient.
set -euo pipefail
KEY="${KEY:-order-1234-shipped}"
USER_ID="${USER_ID:-u-42}"
FLAGS="${PUSHCTL_FLAGS:-}"

pushctl schedule $FLAGS --key "$KEY" --delay 10m --user "$USER_ID" --title "Your order shipped" --body "Arriving Tuesday"
pushctl get $FLAGS "$KEY"
pushctl cancel $FLAGS "$KEY"
