#!/usr/bin/env bash
# `npm test`: provision Node 24 and dependencies, start the local services that are not already
# running, then run the checks, the TypeScript suite (vitest) and the modal/ Python suite.
# Extra arguments go to vitest (`npm test -- tests/events.test.ts`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps
ensure_embedder_model
ensure_web_build
ensure_chromium
ensure_tmux

start_services

cd "$ROOT_DIR"
log "checks: typecheck, lint, schema drift"
npm run --silent check:all
if [ -f modal/scripts/setup.sh ] && [ -z "${TWIN_SKIP_PYTHON:-}" ]; then
  # before vitest: tests/modal-inference-contract.test.ts runs the real inference app from this
  # venv and skips without it (a no-op when the venv is up to date)
  log "modal/ venv"
  bash modal/scripts/setup.sh
fi
log "TypeScript suite (vitest)"
NODE_ENV=test npx vitest run "$@"
if [ $# -eq 0 ] && [ -f modal/scripts/test.sh ] && [ -z "${TWIN_SKIP_PYTHON:-}" ]; then
  log "modal/ Python suite (pytest)"
  bash modal/scripts/test.sh
fi
if [ $# -eq 0 ] && [ -z "${TWIN_SKIP_FAULTS:-}" ]; then
  # its own services on other ports: started and stopped by the script, the ones above untouched
  log "fault suite (npm run test:faults)"
  bash "$ROOT_DIR/scripts/test-faults.sh"
fi
