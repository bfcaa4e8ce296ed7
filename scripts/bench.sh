#!/usr/bin/env bash
# `npm run bench -- <name>`: runs bench/<name>.ts (or bench/<name>.sh) against the local services.
# Each benchmark prints one JSON line last and writes bench/results/<name>.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:-}"
if [ -z "$name" ]; then
  echo "usage: npm run bench -- <name>; available:" >&2
  ls "$ROOT_DIR/bench" | sed -n 's/\.\(ts\|sh\)$//p' | sort -u >&2
  exit 2
fi
shift
ensure_node
ensure_deps
ensure_embedder_model
start_services
cd "$ROOT_DIR"
mkdir -p bench/results
if [ -f "bench/$name.ts" ]; then
  NODE_ENV=production LOG_LEVEL="${LOG_LEVEL:-warn}" node "bench/$name.ts" "$@"
elif [ -f "bench/$name.sh" ]; then
  bash "bench/$name.sh" "$@"
else
  die "no benchmark named $name in bench/"
fi
