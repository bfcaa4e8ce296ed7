#!/usr/bin/env bash
# Starts the local services the project needs (PostgreSQL, Redis, Weaviate, an S3 server) on
# loopback, each only when its URL is not configured and it is not already running.
#   services.sh up      start what is missing; prints `export VAR=...` lines for the caller
#   services.sh down    stop every service whose data lives in .data/
#   services.sh stop NAME...  stop the named services (used to stop only what a run started)
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
STARTED_FILE="$DATA_DIR/started-by-$$"

mkdir -p "$DATA_DIR" "$BIN_DIR"
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
    log "postgres: starting on 127.0.0.1:$PG_PORT"
    touch "$DATA_DIR/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres "$DATA_DIR/postgres.log"
    as_pg pg_ctl -D "$dir" -l "$DATA_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >>"$DATA_DIR/postgres.log" 2>&1 </dev/null
    wait_for postgres 30 pg_isready -h 127.0.0.1 -p "$PG_PORT"
    PGPASSWORD=twin psql -h 127.0.0.1 -p "$PG_PORT" -U twin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='twin'" | grep -q 1 \
      || PGPASSWORD=twin psql -h 127.0.0.1 -p "$PG_PORT" -U twin -d postgres -qc "CREATE DATABASE twin" >/dev/null
    started postgres
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
      --pidfile "$DATA_DIR/redis.pid" --logfile "$DATA_DIR/redis.log" --save "" --appendonly no \
      --maxmemory-policy noeviction >/dev/null 2>&1 </dev/null
    wait_for redis 15 redis-cli -p "$REDIS_PORT" ping
    started redis
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
      QUERY_DEFAULTS_LIMIT=100 LIMIT_RESOURCES=true GOMAXPROCS=2 \
      setsid "$BIN_DIR/weaviate-server" --host 127.0.0.1 --port "$WEAVIATE_PORT" --scheme http) \
      >"$DATA_DIR/weaviate.log" 2>&1 </dev/null &
    echo $! >"$DATA_DIR/weaviate.pid"
    wait_for weaviate 240 http_ok "http://127.0.0.1:$WEAVIATE_PORT/v1/.well-known/ready"
    started weaviate
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
        >"$DATA_DIR/minio.log" 2>&1 </dev/null &
      echo $! >"$DATA_DIR/minio.pid"
      wait_for minio 120 http_ok "$url/minio/health/live"
      echo minio >"$DATA_DIR/s3-backend"
      started minio
    else
      log "objects: MinIO cannot be built here; starting s3rver from npm instead"
      mkdir -p "$DATA_DIR/s3rver"
      (cd "$ROOT_DIR" && exec setsid node scripts/s3rver.mjs "$DATA_DIR/s3rver" "$S3_PORT") \
        >"$DATA_DIR/s3rver.log" 2>&1 </dev/null &
      echo $! >"$DATA_DIR/s3rver.pid"
      wait_for s3rver 30 curl -s -o /dev/null --max-time 2 "$url/"
      echo s3rver >"$DATA_DIR/s3-backend"
      started s3rver
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

stop_one() {
  case "$1" in
    postgres) [ -f "$DATA_DIR/postgres/postmaster.pid" ] && as_pg pg_ctl -D "$DATA_DIR/postgres" -m fast -w stop >/dev/null 2>&1 || true ;;
    redis) redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    weaviate|minio|s3rver)
      if [ -f "$DATA_DIR/$1.pid" ]; then
        local pid; pid="$(cat "$DATA_DIR/$1.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$DATA_DIR/$1.pid"
      fi ;;
  esac
  log "$1: stopped"
}

case "${1:-up}" in
  up)
    # the caller keeps the list of what this run started, to stop only that
    up_postgres; up_redis; up_weaviate; up_s3
    [ -f "$STARTED_FILE" ] && emit TWIN_STARTED_SERVICES "$(tr '\n' ' ' <"$STARTED_FILE")"
    rm -f "$STARTED_FILE" ;;
  down) for s in s3rver minio weaviate redis postgres; do stop_one "$s"; done ;;
  stop) shift; for s in "$@"; do stop_one "$s"; done ;;
  *) die "usage: services.sh up|down|stop NAME..." ;;
esac
