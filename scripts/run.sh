#!/usr/bin/env bash
# Runs a command under the project's Node 24 with dependencies installed: `bash scripts/run.sh npm run check:all`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps
cd "$ROOT_DIR"
exec "$@"
