#!/usr/bin/env bash
# Install everything the suite needs (Debian, npm and PyPI packages), then run
# the linters, the whole test suite on Django 5.2 and 4.2, and the docs build.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

ensure_apt deps/apt/*.txt
ensure_npm deps/npm/*.txt
ensure_venv .venv "Django>=5.2,<5.3"
ensure_venv .venv-django42 "Django>=4.2,<4.3"

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

log "tests, Django 5.2"
.venv/bin/python -m pytest "$@"

log "tests, Django 4.2"
.venv-django42/bin/python -m pytest "$@"

log "docs"
.venv/bin/sphinx-build -E -W -q -b html docs docs/_build/html
log "all checks passed"
