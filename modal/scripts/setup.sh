#!/usr/bin/env bash
# Creates or reuses the Python venv for modal/ and installs the locked dependencies only when
# pyproject.toml / requirements.lock changed. Idempotent; a second run takes a second.
set -euo pipefail

MODAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
VENV="$CACHE_DIR/venv-modal"
PYTHON="${TWIN_PYTHON:-python3}"
STAMP="$VENV/.twin-deps-hash"
CONVERT_DIR="$VENV/share/llama.cpp-convert"

mkdir -p "$CACHE_DIR"
# One installer at a time: the lead's test run and a developer's may start together.
exec 9>"$CACHE_DIR/.venv-modal.lock"
flock 9

want="$(cat "$MODAL_DIR/pyproject.toml" "$MODAL_DIR/requirements.lock" "$MODAL_DIR/twin_gpu/fetch_converter.py" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -f "$CONVERT_DIR/convert_hf_to_gguf.py" ]] \
  && "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('llama_cpp', 'torch', 'transformers', 'peft', 'modal', 'mypy', 'ruff')))" 2>/dev/null; then
  echo "modal venv up to date: $VENV"
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
  echo "modal/: needs Python 3.11 or 3.12 (set TWIN_PYTHON); $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"

echo "installing modal/ dependencies into $VENV (cold: torch download + llama-cpp-python build, ~15-25 min on 2 cores)"
# llama-cpp-python has no Linux wheel on PyPI: it compiles llama.cpp. A portable CPU build (no -march=native)
# so the cached wheel works on any x86-64 machine this cache is copied to.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
"$VENV/bin/pip" install --disable-pip-version-check --progress-bar off --quiet -r "$MODAL_DIR/requirements.lock"
PYTHONPATH="$MODAL_DIR" "$VENV/bin/python" -m twin_gpu.fetch_converter "$CONVERT_DIR"
echo "$want" > "$STAMP"
echo "modal venv ready: $VENV"
