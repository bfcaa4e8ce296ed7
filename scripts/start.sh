#!/usr/bin/env bash
# `npm start`: provision Node 24 and dependencies, start local services, migrate, and run the API
# server with the workers in one process. Ctrl-C stops the server and the services this run started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps
ensure_embedder_model

start_services

cd "$ROOT_DIR"
set +e
env_file=()
[ -f .env ] && env_file=(--env-file=.env)
node "${env_file[@]}" src/main.ts --with-workers &
server_pid=$!
# Ctrl-C reaches this shell and the server; the services run in their own sessions (setsid) and
# are stopped by the EXIT trap of start_services once the server is gone, whatever ended it.
trap 'kill -INT "$server_pid" 2>/dev/null' INT TERM HUP
wait "$server_pid"
status=$?
# wait again if the first wait was interrupted by the trap, so shutdown completes
kill -0 "$server_pid" 2>/dev/null && wait "$server_pid"
exit "$status"
