#!/usr/bin/env bash
# `npm start`: provision Node 24 and dependencies, start local services, migrate, and run the API
# server with the workers in one process. Ctrl-C stops the server and the services this run started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps
ensure_embedder_model
ensure_web_build

start_services

cd "$ROOT_DIR"
# The local trainer (modal/ on CPU with the tiny model: training runs, their callbacks and the
# twin's inference) when its venv exists and no Modal is configured; TWIN_LOCAL_TRAINER=0 opts out.
trainer_pid=""
if [ "${TWIN_LOCAL_TRAINER:-1}" != 0 ] && [ -z "${MODAL_TRAIN_URL:-}" ] \
  && ! { [ -f .env ] && grep -q '^MODAL_TRAIN_URL=' .env; } \
  && [ -f "$TWIN_CACHE_DIR/venv-modal/.twin-deps-hash" ]; then
  eval "$(bash modal/scripts/local-trainer.sh --print-env)"
  # The tiny model is randomly initialised: its replies are noise. Chat stays on the configured
  # model (or the extractive fallback) unless TWIN_LOCAL_INFERENCE=1 asks for the local llama.cpp.
  [ "${TWIN_LOCAL_INFERENCE:-0}" = 1 ] || unset MODAL_INFERENCE_URL
  bash modal/scripts/local-trainer.sh >"$TWIN_CACHE_DIR/local-trainer.log" 2>&1 &
  trainer_pid=$!
  log "local trainer on $MODAL_TRAIN_URL (log: $TWIN_CACHE_DIR/local-trainer.log)"
fi
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
if [ -n "$trainer_pid" ]; then kill "$trainer_pid" 2>/dev/null && wait "$trainer_pid"; fi
exit "$status"
