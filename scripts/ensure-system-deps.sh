#!/usr/bin/env bash
# Make sure the system packages the test suite needs are installed:
#   - PostgreSQL 15 server (tests run against a real server, see docs/design.md §9)
#   - Debian chromium (dashboard tests drive it through Playwright)
#   - fonts, so that screenshots render text
#
# Idempotent and quiet when everything is already there. When something is
# missing and we are root, runs `apt-get update` once and installs it; when not
# root, prints what is missing and exits non-zero (never silently skips).
#
# Usage: ensure-system-deps.sh [PACKAGE...]   (default: all of them; only packages
#        from the list below are accepted)
#
# Environment:
#   COR_SYSTEM_DEPS_VERBOSE=1   also print a line when everything is present
set -euo pipefail

ALL_PACKAGES=(postgresql-15 chromium fonts-dejavu-core)

# A package counts as present when dpkg says it is installed AND the file we
# actually use exists (guards against half-removed packages).
declare -A KEY_FILE=(
  [postgresql-15]=/usr/lib/postgresql/15/bin/postgres
  [chromium]=/usr/bin/chromium
  [fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
)

missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != ii* ]] || [[ ! -e "${KEY_FILE[$pkg]}" ]]; then
      echo "$pkg"
    fi
  done
}

if (($# > 0)); then
  PACKAGES=()
  for arg in "$@"; do
    if [[ -z "${KEY_FILE[$arg]+x}" ]]; then
      echo "ensure-system-deps: ERROR: unknown package '$arg' (known: ${ALL_PACKAGES[*]})" >&2
      exit 2
    fi
    PACKAGES+=("$arg")
  done
else
  PACKAGES=("${ALL_PACKAGES[@]}")
fi

mapfile -t MISSING < <(missing_packages)

if ((${#MISSING[@]} == 0)); then
  if [[ "${COR_SYSTEM_DEPS_VERBOSE:-0}" == 1 ]]; then
    echo "ensure-system-deps: all present (${PACKAGES[*]})" >&2
  fi
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  {
    echo "ensure-system-deps: ERROR: missing system packages: ${MISSING[*]}"
    echo "ensure-system-deps: not running as root, so they cannot be installed automatically."
    echo "ensure-system-deps: install them with:"
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${MISSING[*]}"
  } >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: ERROR: missing ${MISSING[*]} and apt-get is not available (Debian 12 expected)" >&2
  exit 1
fi

# Serialise concurrent invocations of this script (e.g. parallel test workers).
exec 9>/tmp/cor-ensure-system-deps.lock
flock 9

# Someone else may have installed everything while we waited for the lock.
mapfile -t MISSING < <(missing_packages)
if ((${#MISSING[@]} == 0)); then
  exit 0
fi

echo "ensure-system-deps: installing ${MISSING[*]} (apt-get; this can take a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
# postgresql-common's postinst creates a "main" cluster in the current locale; a LANG
# naming a locale that is not generated (common in containers) makes that fail.
# C.UTF-8 is built into Debian 12's libc.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 -q)

log=$(mktemp /tmp/cor-ensure-system-deps.XXXXXX.log)
run() {
  # 9>&-: a service started by a package's postinst must not inherit (and hold) our lock.
  if ! "$@" </dev/null >>"$log" 2>&1 9>&-; then
    echo "ensure-system-deps: ERROR: command failed: $*" >&2
    tail -n 40 "$log" >&2
    echo "ensure-system-deps: full log: $log" >&2
    exit 1
  fi
}
run apt-get "${APT_OPTS[@]}" update
run apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${MISSING[@]}"

mapfile -t STILL < <(missing_packages)
if ((${#STILL[@]} != 0)); then
  echo "ensure-system-deps: ERROR: still missing after install: ${STILL[*]} (log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "ensure-system-deps: installed ${MISSING[*]}" >&2
