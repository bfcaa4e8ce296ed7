#!/usr/bin/env bash
# CPU benchmark of LoRA training + GGUF export + llama.cpp generation on the tiny Qwen2 model.
# Prints one JSON line last; also writes bench/results/train-cpu.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/modal/scripts/setup.sh" >&2
VENV="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}/venv-modal"
TOKENIZERS_PARALLELISM=false PYTHONPATH="$ROOT/modal" "$VENV/bin/python" "$ROOT/bench/train-cpu.py" "$@"
