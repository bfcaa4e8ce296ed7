#!/usr/bin/env bash
# `npm test`: provision Node 24 and dependencies, start the local services that are not already
# running, then run the checks, the TypeScript suite (vitest) and the modal/ Python suite.
# Extra arguments go to vitest (`npm test -- tests/events.test.ts`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps

start_services

cd "$ROOT_DIR"
log "checks: typecheck, lint, schema drift"
npm run --silent check:all
log "TypeScript suite (vitest)"
NODE_ENV=test npx vitest run "$@"
if [ $# -eq 0 ] && [ -f modal/scripts/test.sh ] && [ -z "${TWIN_SKIP_PYTHON:-}" ]; then
  log "modal/ Python suite (pytest)"
  bash modal/scripts/test.sh
fi
