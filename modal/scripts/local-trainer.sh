#!/usr/bin/env bash
# The local trainer: modal/'s training and inference routes on CPU (twin_gpu.local under uvicorn, one
# process per run, the tiny Qwen2 of tiny_model.py as the base model), speaking the Modal protocol
# of contracts/README.md with signed callbacks and the project's S3 (S3_* as services.sh exports).
#
#   bash modal/scripts/local-trainer.sh              # foreground; Ctrl-C stops it and its runs
#   eval "$(bash modal/scripts/local-trainer.sh --print-env)"   # the server's variables for it
#
# Needs the venv (bash modal/scripts/setup.sh). scripts/start.sh starts it when the venv exists
# and no MODAL_TRAIN_URL is configured.
set -euo pipefail

MODAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
VENV="$CACHE_DIR/venv-modal"

export TWIN_HOST="${TWIN_HOST:-127.0.0.1}" TWIN_PORT="${TWIN_PORT:-8790}"
export TWIN_API_TOKEN="${TWIN_API_TOKEN:-${MODAL_TOKEN:-local-dev-token}}"
export TWIN_CALLBACK_SECRET="${TWIN_CALLBACK_SECRET:-${MODAL_CALLBACK_SECRET:-local-dev-callback-secret}}"
url="http://$TWIN_HOST:$TWIN_PORT"

if [[ "${1:-}" == "--print-env" ]]; then
  printf 'export MODAL_TRAIN_URL=%q MODAL_INFERENCE_URL=%q MODAL_TOKEN=%q MODAL_CALLBACK_SECRET=%q\n' \
    "$url" "${MODAL_INFERENCE_URL:-$url/v1}" "$TWIN_API_TOKEN" "$TWIN_CALLBACK_SECRET"
  exit 0
fi

if [[ ! -f "$VENV/.twin-deps-hash" ]]; then
  echo "local trainer: no modal/ venv at $VENV; build it with: bash modal/scripts/setup.sh" >&2
  exit 1
fi
if [[ -z "${S3_ENDPOINT:-}" && -z "${S3_ACCESS_KEY_ID:-}" ]]; then
  echo "local trainer: S3_* is not set; start the services first: eval \"\$(bash scripts/services.sh up)\"" >&2
  exit 1
fi
export TWIN_LOCAL_TINY="${TWIN_LOCAL_TINY:-1}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export TWIN_N_THREADS="${TWIN_N_THREADS:-2}"
# The tiny model's 400-token vocabulary spends ~4x Qwen's tokens on a text: a server prompt built
# for 2048 Qwen tokens needs a longer window here (its KV cache is a few MB).
if [[ "$TWIN_LOCAL_TINY" == 1 ]]; then export TWIN_N_CTX="${TWIN_N_CTX:-8192}"; fi
export PYTHONPATH="$MODAL_DIR${PYTHONPATH:+:$PYTHONPATH}"
echo "local trainer on $url (runs logged in $CACHE_DIR/local-calls/)" >&2
cd "$MODAL_DIR"
exec "$VENV/bin/python" -m twin_gpu.local
