#!/usr/bin/env bash
# `npm run test:faults`: the fault suite (tests/faults/). It starts a separate set of local
# services (its own data folder .data-faults/ and ports, with production durability: Redis with its
# append-only file, PostgreSQL with synchronous commits), runs the API and a worker as child processes, and SIGKILLs
# each service in turn while documents ingest and replies stream. The services on the default
# ports (npm start, npm test) are never touched. Extra arguments go to vitest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_node
ensure_deps

export TWIN_DATA_DIR="${TWIN_FAULTS_DATA_DIR:-$ROOT_DIR/.data-faults}"
export TWIN_PG_PORT="${TWIN_FAULTS_PG_PORT:-57432}" TWIN_REDIS_PORT="${TWIN_FAULTS_REDIS_PORT:-57379}"
export TWIN_WEAVIATE_PORT="${TWIN_FAULTS_WEAVIATE_PORT:-57080}" TWIN_WEAVIATE_GRPC_PORT="${TWIN_FAULTS_WEAVIATE_GRPC_PORT:-57051}"
export TWIN_S3_PORT="${TWIN_FAULTS_S3_PORT:-57900}"
# production durability: a commit PostgreSQL acknowledged, or a job Redis accepted, survives a kill
export TWIN_REDIS_APPENDONLY=yes TWIN_PG_DURABLE=yes
# the suite's own services, never a configured external one
unset DATABASE_URL REDIS_URL WEAVIATE_URL WEAVIATE_GRPC_URL S3_ENDPOINT S3_BUCKET VECTOR_BACKEND TWIN_STARTED_SERVICES
start_services
cd "$ROOT_DIR"
log "fault suite (vitest --config vitest.faults.config.ts)"
NODE_ENV=test npx vitest run --config vitest.faults.config.ts "$@"
