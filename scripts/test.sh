#!/usr/bin/env bash
# Install everything the suite needs (Debian, npm and PyPI packages), then run
# the linters, the whole test suite on Django 5.2 (Python 3.11), 6.0 (Python
# 3.12) and 6.1 (Python 3.13), and the docs build.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
cd "$ROOT"

ensure_apt deps/apt/*.txt
ensure_npm deps/npm/*.txt
ensure_npm_prefix deps/npm/prefix/*.txt
ensure_venv .venv "Django>=5.2,<5.3"

# suite NAME PYTHON_VERSION DJANGO_SPEC VENV: one run of the whole suite.
ran=() missing=()
suite() {
  local name=$1 version=$2 spec=$3 venv=$4 python
  if [ "$venv" != .venv ]; then
    if ! python=$(find_python "$version"); then
      log "NOT RUN: tests on Django $name need Python $version, which this machine lacks"
      missing+=("Django $name (no Python $version)")
      return 0
    fi
    PYTHON=$python ensure_venv "$venv" "$spec"
  fi
  log "tests, Django $name ($("$venv/bin/python" -c 'import django, sys; print(f"{django.get_version()}, Python {sys.version.split()[0]}")'))"
  "$venv/bin/python" -m pytest "${pytest_args[@]}"
  ran+=("Django $name")
}
pytest_args=("$@")

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

# The other suites' virtualenvs are built while the first suite runs (a fresh
# machine spends minutes there, mysqlclient compiles on 3.13); suite() waits for
# them and builds again in the foreground, showing the error, if that failed.
later_suites=('6.0|3.12|Django>=6.0,<6.1|.venv-django60' '6.1|3.13|Django>=6.1,<6.2|.venv-django61')
(
  for entry in "${later_suites[@]}"; do
    IFS='|' read -r _ version spec venv <<<"$entry"
    python=$(find_python "$version") || continue
    PYTHON=$python ensure_venv "$venv" "$spec" >/dev/null 2>&1 || true
  done
) &
prebuild=$!

suite 5.2 3.11 "Django>=5.2,<5.3" .venv
wait "$prebuild" || true
for entry in "${later_suites[@]}"; do
  IFS='|' read -r name version spec venv <<<"$entry"
  suite "$name" "$version" "$spec" "$venv"
done

log "docs"
.venv/bin/sphinx-build -E -W -q -b html docs docs/_build/html
if [ -x .venv-django61/bin/sphinx-build ]; then  # linters and docs on the newest Python too
  log "ruff and docs, Python 3.13"
  .venv-django61/bin/ruff check -q .
  .venv-django61/bin/sphinx-build -E -W -q -b html docs docs/_build/html-py313
fi

joined() { local IFS=","; echo "$*" | sed 's/,/, /g'; }
log "all checks passed in $((SECONDS / 60)) min $((SECONDS % 60)) s; suites run: $(joined "${ran[@]}")"
if [ ${#missing[@]} -gt 0 ]; then
  log "NOT RUN on this machine: $(joined "${missing[@]}")"
fi
