#!/usr/bin/env bash
# Static checks of the Python under modal/: ruff (lint) and mypy (types), pinned in requirements.lock.
# `npm run check:python` (part of `npm run check`). Builds the venv first when it is missing or stale
# (setup.sh is a no-op when it is up to date); TWIN_SKIP_PYTHON=1 skips, as it does in `npm test`.
set -euo pipefail

MODAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
VENV="$CACHE_DIR/venv-modal"

if [[ -n "${TWIN_SKIP_PYTHON:-}" ]]; then
  echo "check:python skipped: TWIN_SKIP_PYTHON is set"
  exit 0
fi
bash "$MODAL_DIR/scripts/setup.sh" >&2
cd "$MODAL_DIR"
echo "ruff check modal/"
"$VENV/bin/ruff" check --output-format concise .
echo "mypy modal/twin_gpu"
"$VENV/bin/mypy" --no-error-summary --cache-dir "$CACHE_DIR/mypy-cache"
echo "modal/ static checks passed"
