#!/usr/bin/env bash
# Starts the local services the project needs (PostgreSQL, Redis, Weaviate, an S3 server) on
# loopback, each only when its URL is not configured and it is not already running.
#   services.sh up      start what is missing; prints `export VAR=...` lines for the caller
#   services.sh down    stop every service whose data lives in .data/ (pid file or not)
#   services.sh stop NAME...  stop the named services (used to stop only what a run started)
#   services.sh kill NAME...  SIGKILL the named services, as a crash would (the fault suite)
# TWIN_DATA_DIR and TWIN_*_PORT run a second, separate set; TWIN_REDIS_APPENDONLY=yes gives Redis
# the append-only file a production Redis under BullMQ has, TWIN_PG_DURABLE=yes PostgreSQL its
# default durability (both off for the dev set, where speed matters and data is cheap to redo).
# Runs of this script on one data folder take turns (flock), so two `up`s never start one service twice.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA_DIR="${TWIN_DATA_DIR:-$ROOT_DIR/.data}"
BIN_DIR="$TWIN_CACHE_DIR/bin"
WEAVIATE_VERSION="v1.39.0"
# MinIO releases are not Go-module tags: pin the pseudo-version of the commit that was tested.
MINIO_MODULE="${TWIN_MINIO_MODULE:-github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c}"
PG_PORT="${TWIN_PG_PORT:-55432}"
REDIS_PORT="${TWIN_REDIS_PORT:-56379}"
WEAVIATE_PORT="${TWIN_WEAVIATE_PORT:-58080}"
WEAVIATE_GRPC="${TWIN_WEAVIATE_GRPC_PORT:-55051}"
S3_PORT="${TWIN_S3_PORT:-59000}"

mkdir -p "$DATA_DIR" "$BIN_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)" # processes are recognised by this absolute path
STARTED_FILE="$DATA_DIR/started-by-$$"
# The lock is fd 9 of this shell; every server is started with `9>&-` so none inherits it.
if command -v flock >/dev/null; then
  exec 9>"$DATA_DIR/.services.lock"
  if ! flock -n 9; then
    log "services: waiting for another services.sh on $DATA_DIR"
    flock -w 900 9 || die "services: $DATA_DIR/.services.lock is still held after 15 min (lsof $DATA_DIR/.services.lock names the holder)"
  fi
fi
[ -f "$ROOT_DIR/.env" ] && { set -a; source "$ROOT_DIR/.env"; set +a; }

wait_for() { # name, seconds, command...
  local name="$1" secs="$2"; shift 2
  for _ in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$name did not become ready in ${secs}s (see $DATA_DIR/$name.log)"
}
http_ok() { curl -fs -o /dev/null --max-time 2 "$1"; }
emit() { printf 'export %s=%q\n' "$1" "$2"; }
started() { echo "$1" >> "$STARTED_FILE"; }

as_pg() { # PostgreSQL refuses to run as root: use the Debian `postgres` user when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

up_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then log "postgres: external $DATABASE_URL"; return; fi
  local dir="$DATA_DIR/postgres" url="postgres://twin:twin@127.0.0.1:$PG_PORT/twin"
  command -v initdb >/dev/null || PATH="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1):$PATH"
  command -v initdb >/dev/null || die "postgres: initdb not found; install the Debian package postgresql (apt-get install postgresql) or set DATABASE_URL"
  if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir" && chmod 700 "$dir"
      echo twin > "$DATA_DIR/.pgpass-init"; chmod 644 "$DATA_DIR/.pgpass-init"
      as_pg initdb -D "$dir" -U twin --pwfile="$DATA_DIR/.pgpass-init" -A scram-sha-256 -E UTF8 >"$DATA_DIR/postgres-init.log" 2>&1 \
        || die "postgres: initdb failed (see $DATA_DIR/postgres-init.log)"
      rm -f "$DATA_DIR/.pgpass-init"
    fi
    # the dev set trades durability for speed; TWIN_PG_DURABLE=yes keeps what a crash must not
    # lose (synchronous_commit=off drops commits already acknowledged when the server is killed)
    local pg_durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${TWIN_PG_DURABLE:-no}" = yes ] && pg_durability=""
    log "postgres: starting on 127.0.0.1:$PG_PORT"
    started postgres
    touch "$DATA_DIR/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres "$DATA_DIR/postgres.log"
    as_pg pg_ctl -D "$dir" -l "$DATA_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 $pg_durability" start >>"$DATA_DIR/postgres.log" 2>&1 </dev/null 9>&-
    wait_for postgres 30 pg_isready -h 127.0.0.1 -p "$PG_PORT"
    PGPASSWORD=twin psql -h 127.0.0.1 -p "$PG_PORT" -U twin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='twin'" | grep -q 1 \
      || PGPASSWORD=twin psql -h 127.0.0.1 -p "$PG_PORT" -U twin -d postgres -qc "CREATE DATABASE twin" >/dev/null
  fi
  emit DATABASE_URL "$url"
}

up_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "redis: external $REDIS_URL"; return; fi
  if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "redis: installing the Debian package redis-server"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >"$DATA_DIR/apt-redis.log" 2>&1 \
        || die "redis: apt-get install redis-server failed (see $DATA_DIR/apt-redis.log); install it or set REDIS_URL"
    else
      die "redis: redis-server not found; install the Debian package redis-server (needs root) or set REDIS_URL"
    fi
  fi
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "redis: starting on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$DATA_DIR/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA_DIR/redis" --daemonize yes \
      --pidfile "$DATA_DIR/redis.pid" --logfile "$DATA_DIR/redis.log" --save "" --appendonly "${TWIN_REDIS_APPENDONLY:-no}" --appendfsync always \
      --maxmemory-policy noeviction >/dev/null 2>&1 </dev/null 9>&-
    started redis
    wait_for redis 15 redis-cli -p "$REDIS_PORT" ping
  fi
  emit REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
}

build_go_binary() { # name, module
  local name="$1" module="$2"
  [ -x "$BIN_DIR/$name" ] && return 0
  command -v go >/dev/null || return 1
  log "$name: building $module with go install (once; takes several minutes)"
  GOBIN="$BIN_DIR" GOFLAGS=-trimpath go install "$module" >"$DATA_DIR/build-$name.log" 2>&1 || {
    log "$name: go install failed (see $DATA_DIR/build-$name.log)"; return 1; }
}

up_weaviate() {
  if [ -n "${WEAVIATE_URL:-}" ]; then log "vectors: external weaviate $WEAVIATE_URL"; return; fi
  if [ "${VECTOR_BACKEND:-}" = embedded ]; then log "vectors: embedded exact-search index (VECTOR_BACKEND=embedded)"; return; fi
  if ! http_ok "http://127.0.0.1:$WEAVIATE_PORT/v1/.well-known/ready"; then
    if ! build_go_binary weaviate-server "github.com/weaviate/weaviate/cmd/weaviate-server@$WEAVIATE_VERSION"; then
      log "vectors: Weaviate cannot be built here (no Go toolchain?); using the embedded exact-search index"
      emit VECTOR_BACKEND embedded; return
    fi
    log "vectors: starting weaviate $WEAVIATE_VERSION on 127.0.0.1:$WEAVIATE_PORT grpc $WEAVIATE_GRPC"
    mkdir -p "$DATA_DIR/weaviate"
    # the redirections cover the whole background subshell, so no pipe of the caller stays open
    (cd "$DATA_DIR" && exec env PERSISTENCE_DATA_PATH="$DATA_DIR/weaviate" AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
      DEFAULT_VECTORIZER_MODULE=none ENABLE_MODULES="" DISABLE_TELEMETRY=true LOG_LEVEL=warning \
      GRPC_PORT="$WEAVIATE_GRPC" RAFT_BOOTSTRAP_EXPECT=1 CLUSTER_HOSTNAME=twin-node1 \
      CLUSTER_GOSSIP_BIND_PORT=$((WEAVIATE_PORT + 10)) CLUSTER_DATA_BIND_PORT=$((WEAVIATE_PORT + 11)) \
      RAFT_PORT=$((WEAVIATE_PORT + 12)) RAFT_INTERNAL_RPC_PORT=$((WEAVIATE_PORT + 13)) \
      GO_PROFILING_PORT=$((WEAVIATE_PORT + 14)) \
      QUERY_DEFAULTS_LIMIT=100 LIMIT_RESOURCES=true GOMAXPROCS=2 \
      setsid "$BIN_DIR/weaviate-server" --host 127.0.0.1 --port "$WEAVIATE_PORT" --scheme http) \
      >"$DATA_DIR/weaviate.log" 2>&1 </dev/null 9>&- &
    echo $! >"$DATA_DIR/weaviate.pid"
    started weaviate
    wait_for weaviate 240 http_ok "http://127.0.0.1:$WEAVIATE_PORT/v1/.well-known/ready"
  fi
  emit WEAVIATE_URL "http://127.0.0.1:$WEAVIATE_PORT"
  emit WEAVIATE_GRPC_URL "127.0.0.1:$WEAVIATE_GRPC"
}

up_s3() {
  if [ -n "${S3_ENDPOINT:-}" ] || [ -n "${S3_BUCKET:-}" ]; then log "objects: external S3 ${S3_ENDPOINT:-(AWS default endpoint)}"; return; fi
  local url="http://127.0.0.1:$S3_PORT"
  if ! http_ok "$url/minio/health/live" && ! curl -s -o /dev/null --max-time 2 "$url/"; then
    if [ "${TWIN_S3_BACKEND:-minio}" = minio ] && build_go_binary minio "$MINIO_MODULE"; then
      log "objects: starting minio on 127.0.0.1:$S3_PORT"
      mkdir -p "$DATA_DIR/minio"
      # local dev server: the background scanner (usage crawl, healing) runs at its slowest so it
      # does not take a core from ingest on a small machine (like fsync=off for PostgreSQL here)
      (exec env MINIO_ROOT_USER=twin-local MINIO_ROOT_PASSWORD=twin-local-secret MINIO_BROWSER=off \
        MINIO_SCANNER_SPEED=slowest \
        setsid "$BIN_DIR/minio" server "$DATA_DIR/minio" --quiet --address "127.0.0.1:$S3_PORT") \
        >"$DATA_DIR/minio.log" 2>&1 </dev/null 9>&- &
      echo $! >"$DATA_DIR/minio.pid"
      started minio
      wait_for minio 120 http_ok "$url/minio/health/live"
      echo minio >"$DATA_DIR/s3-backend"
    else
      log "objects: MinIO cannot be built here; starting s3rver from npm instead"
      ensure_node; [ -d "$ROOT_DIR/node_modules/s3rver" ] || ensure_deps # s3rver is an npm package
      mkdir -p "$DATA_DIR/s3rver"
      (cd "$ROOT_DIR" && exec setsid node scripts/s3rver.mjs "$DATA_DIR/s3rver" "$S3_PORT") \
        >"$DATA_DIR/s3rver.log" 2>&1 </dev/null 9>&- &
      echo $! >"$DATA_DIR/s3rver.pid"
      started s3rver
      wait_for s3rver 30 curl -s -o /dev/null --max-time 2 "$url/"
      echo s3rver >"$DATA_DIR/s3-backend"
    fi
  fi
  emit S3_ENDPOINT "$url"
  emit S3_REGION us-west-1
  emit S3_BUCKET twin-local
  if [ "$(cat "$DATA_DIR/s3-backend" 2>/dev/null)" = s3rver ]; then
    # s3rver accepts only its fixed development credentials
    emit S3_ACCESS_KEY_ID S3RVER; emit S3_SECRET_ACCESS_KEY S3RVER
  else
    emit S3_ACCESS_KEY_ID twin-local; emit S3_SECRET_ACCESS_KEY twin-local-secret
  fi
  emit S3_FORCE_PATH_STYLE true
}

# --- stopping: by what serves, not by what a pid file says ---------------------------------
# A pid file can be stale (the process died, its pid was reused) or missing (another run
# overwrote or removed it), so a stop looks for the service's own processes: the program, run
# with this checkout's data folder. What serves the port without that folder is reported, never killed.

alive() { # pid: exists and is not a zombie
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

names_path() { # dir arg...: one absolute argument is that folder
  local want="$1" a; shift
  for a in "$@"; do [[ $a == /* ]] && [ "$a" -ef "$want" ] && return 0; done
  return 1
}

is_service() { # name pid: pid is that service's server with its data in $DATA_DIR/name
  local name="$1" pid="$2" dir="$DATA_DIR/$1" prog args=() env=()
  { mapfile -d '' -t args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  [ "${#args[@]}" -gt 0 ] || return 1
  prog="${args[0]%% *}"; prog="${prog##*/}" # redis rewrites its title to "redis-server host:port"
  case "$name" in
    postgres) [ "$prog" = postgres ] && names_path "$dir" "${args[@]:1}" ;;
    redis) [ "$prog" = redis-server ] && [ "/proc/$pid/cwd" -ef "$dir" ] ;;
    weaviate)
      [ "$prog" = weaviate-server ] || return 1
      { mapfile -d '' -t env <"/proc/$pid/environ"; } 2>/dev/null || return 1
      names_path "$dir" "${env[@]#*=}" ;; # PERSISTENCE_DATA_PATH
    minio) [ "$prog" = minio ] && names_path "$dir" "${args[@]:1}" ;;
    s3rver) [ "$prog" = node ] && [[ ${args[1]:-} == *s3rver.mjs ]] && names_path "$dir" "${args[@]:2}" ;;
    *) return 1 ;;
  esac
}

service_pids() { # name: the pids of its live servers
  local p pid
  [ -d "$DATA_DIR/$1" ] || return 0
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$pid" = $$ ] && continue
    is_service "$1" "$pid" && alive "$pid" && echo "$pid"
  done
  return 0
}

port_of() {
  case "$1" in
    postgres) echo "$PG_PORT" ;; redis) echo "$REDIS_PORT" ;; weaviate) echo "$WEAVIATE_PORT" ;; *) echo "$S3_PORT" ;;
  esac
}

port_holders() { # port: pids listening on it (needs ss or fuser; empty without them)
  if command -v ss >/dev/null; then
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
  elif command -v fuser >/dev/null; then
    fuser -n tcp "$1" 2>/dev/null | tr -s ' ' '\n' | grep -v '^$' || true
  fi
}

describe_pid() {
  local a=() d
  { mapfile -d '' -t a <"/proc/$1/cmdline"; } 2>/dev/null
  d="${a[*]:0:3}"
  echo "pid $1, ${d%"${d##*[! ]}"}"
}

stop_one() { # name: stops it and says so only once its processes are gone; 1 when one survives
  local name="$1" sig=TERM secs=15 pids=() pid left=() port holder
  [ "$name" = postgres ] && { sig=INT; secs=60; } # PostgreSQL's fast shutdown
  mapfile -t pids < <(service_pids "$name")
  if [ "${#pids[@]}" -eq 0 ]; then
    rm -f "$DATA_DIR/$name.pid"
    port="$(port_of "$name")" holder="$(port_holders "$port" | head -1)"
    if [ -n "$holder" ]; then
      log "$name: not running from $DATA_DIR (port $port is served by $(describe_pid "$holder"), left alone)"
    else
      log "$name: not running"
    fi
    return 0
  fi
  log "$name: stopping pid ${pids[*]}"
  kill -s "$sig" "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 5))); do
    left=(); for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
    [ "${#left[@]}" -eq 0 ] && break
    sleep 0.2
  done
  if [ "${#left[@]}" -gt 0 ]; then
    log "$name: pid ${left[*]} still running ${secs}s after SIG$sig; sending SIGKILL"
    kill -s KILL "${left[@]}" 2>/dev/null || true
    for _ in $(seq 1 25); do
      local still=(); for pid in "${left[@]}"; do alive "$pid" && still+=("$pid"); done
      left=("${still[@]}"); [ "${#left[@]}" -eq 0 ] && break
      sleep 0.2
    done
  fi
  if [ "${#left[@]}" -gt 0 ]; then
    printf '\033[31m[twin] %s\033[0m\n' "$name: could not stop pid ${left[*]}" >&2
    return 1
  fi
  rm -f "$DATA_DIR/$name.pid"
  log "$name: stopped (pid ${pids[*]})"
}

kill_one() { # name: SIGKILL its servers and, for PostgreSQL, the postmaster's children too
  local name="$1" pids=() pid children=()
  mapfile -t pids < <(service_pids "$name")
  [ "${#pids[@]}" -gt 0 ] || { log "$name: not running"; return 0; }
  for pid in "${pids[@]}"; do
    mapfile -t children < <(pgrep -P "$pid" || true)
    kill -s KILL "$pid" "${children[@]}" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local left=0; for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  log "$name: killed (pid ${pids[*]})"
}

stop_all() { # name...: stops each; fails when one could not be stopped
  local s failed=0
  for s in "$@"; do stop_one "$s" || failed=1; done
  return "$failed"
}

# An `up` that fails or is interrupted (Ctrl-C while Weaviate builds or starts) stops what it has
# started so far: the caller never learnt about those services, so nothing else would stop them.
up_done=""
abort_up() {
  if [ -z "$up_done" ] && [ -s "$STARTED_FILE" ]; then
    trap '' INT TERM HUP
    log "services: start-up did not complete; stopping what it started"
    # shellcheck disable=SC2046
    stop_all $(sort -u "$STARTED_FILE") || true
  fi
  rm -f "$STARTED_FILE"
}

case "${1:-up}" in
  up)
    trap abort_up EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
    # the caller keeps the list of what this run started, to stop only that
    up_postgres; up_redis; up_weaviate; up_s3
    [ -f "$STARTED_FILE" ] && emit TWIN_STARTED_SERVICES "$(sort -u "$STARTED_FILE" | tr '\n' ' ')"
    up_done=1 ;;
  # a second Ctrl-C must not cut a stop short (it is what leaves servers running)
  down) trap '' INT; stop_all s3rver minio weaviate redis postgres ;;
  stop) trap '' INT; shift; stop_all "$@" ;;
  kill) shift; for s in "$@"; do kill_one "$s"; done ;;
  *) die "usage: services.sh up|down|stop NAME...|kill NAME..." ;;
esac
