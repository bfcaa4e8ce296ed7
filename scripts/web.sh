#!/usr/bin/env bash
# Builds the dashboard (web/) into dist/web/, which the API serves at /app: a typecheck of web/
# and `vite build`. Skipped when the build is newer than every input (web/, the SDK
# it bundles, src/sdk/, and package-lock.json); --force rebuilds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
cd "$ROOT_DIR"
stamp=dist/web/.built
if [ "${1:-}" != --force ] && [ -f "$stamp" ] \
  && [ -z "$(find web src/sdk package-lock.json -newer "$stamp" -type f -print -quit)" ]; then
  exit 0
fi
printf '\033[36m[twin]\033[0m %s\n' "building the dashboard (web/ → dist/web/)" >&2
npx tsc -p web/tsconfig.json --noEmit
npx vite build --config web/vite.config.ts --logLevel warn
touch "$stamp"
