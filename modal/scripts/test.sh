#!/usr/bin/env bash
# Runs the modal/ Python tests on CPU against the S3 server named by S3_* (the project's local one).
# With no S3_ENDPOINT set it starts a throwaway MinIO from ~/.cache/digital-twin/bin when there is one.
set -euo pipefail

MODAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${TWIN_CACHE_DIR:-$HOME/.cache/digital-twin}"
bash "$MODAL_DIR/scripts/setup.sh"
VENV="$CACHE_DIR/venv-modal"

minio_pid=""
minio_dir=""
# An EXIT trap's last status becomes the script's: every branch here must end in success.
cleanup() {
  if [[ -n "$minio_pid" ]]; then kill "$minio_pid" 2>/dev/null || true; fi
  if [[ -n "$minio_dir" ]]; then rm -rf "$minio_dir" "$minio_dir.log"; fi
}
trap cleanup EXIT

if [[ -z "${S3_ENDPOINT:-}" ]]; then
  minio="${TWIN_MINIO_BIN:-$CACHE_DIR/bin/minio}"
  if [[ ! -x "$minio" ]]; then
    echo "modal tests: S3_ENDPOINT is not set and no MinIO at $minio; start the project's services first" >&2
    exit 1
  fi
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  minio_dir="$(mktemp -d)"
  MINIO_ROOT_USER=twin-modal-test MINIO_ROOT_PASSWORD=twin-modal-test-secret \
    "$minio" server "$minio_dir" --address "127.0.0.1:$port" --console-address "127.0.0.1:0" >"$minio_dir.log" 2>&1 &
  minio_pid=$!
  export S3_ENDPOINT="http://127.0.0.1:$port" S3_REGION=us-east-1 S3_ACCESS_KEY_ID=twin-modal-test \
    S3_SECRET_ACCESS_KEY=twin-modal-test-secret S3_BUCKET=modal-tests S3_FORCE_PATH_STYLE=true
  for _ in $(seq 1 100); do
    curl -fsS "$S3_ENDPOINT/minio/health/live" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

cd "$MODAL_DIR"
set +e
PYTHONPATH="$MODAL_DIR" TOKENIZERS_PARALLELISM=false "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "modal tests: pytest collected no tests — treated as a failure" >&2
  exit 1
fi
exit $rc
