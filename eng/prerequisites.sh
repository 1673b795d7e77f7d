#!/usr/bin/env bash
# Installs what Helios needs from Debian when it is missing (as root), or says what to install.
# Sourced by run.sh and test.sh: helios_require <purpose> (run|test).

helios_missing_packages() {
  local purpose=$1 missing=()
  [ -e /usr/lib/x86_64-linux-gnu/librdkafka.so.1 ] || missing+=(librdkafka1)
  [ -e /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ] || missing+=(libtcmalloc-minimal4)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ "$purpose" = test ]; then
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
  fi
  echo "${missing[@]}"
}

helios_require() {
  local purpose=$1 missing
  command -v dotnet >/dev/null 2>&1 || { echo "The .NET 10 SDK is required (dotnet not on PATH)." >&2; return 1; }
  missing=$(helios_missing_packages "$purpose")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # The postgresql package may start a system cluster on 5432; Helios runs its own, so stop that one.
    if [[ " $missing " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
      service postgresql stop >/dev/null 2>&1 || true
    fi
    missing=$(helios_missing_packages "$purpose")
    [ -z "$missing" ] || { echo "Still missing after apt-get install: $missing" >&2; return 1; }
  else
    echo "Missing Debian packages: $missing" >&2
    echo "Install them with: sudo apt-get install -y $missing" >&2
    return 1
  fi
}
