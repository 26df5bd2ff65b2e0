#!/usr/bin/env bash
# Build the environment and run the example project end to end: uploads saved
# through the storages, read back, collectstatic, and a report of where it all went.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

ensure_apt deps/apt/base.txt
ensure_venv .venv "Django>=5.2,<5.3"

export EXAMPLE_DEBUG="${EXAMPLE_DEBUG:-0}"
export EXAMPLE_VAR_DIR="${EXAMPLE_VAR_DIR:-$ROOT/example/var}"
rm -rf "$EXAMPLE_VAR_DIR"
mkdir -p "$EXAMPLE_VAR_DIR"
cd example
../.venv/bin/python manage.py demo "$@"
