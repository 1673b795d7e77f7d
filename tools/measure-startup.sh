#!/usr/bin/env bash
# Seconds from ./run.sh to "All resources healthy": cold (fresh .helios/: initdb and the bootstrap
# model) and warm (same data again). Each run is stopped with SIGTERM. Usage: tools/measure-startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
measure() {
  local log start pid
  log=$(mktemp)
  start=$(date +%s.%N)
  ./run.sh >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1800); do
    grep -q "All resources healthy" "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.1
  done
  echo "$1: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s to all resources healthy ($(grep -o 'All resources healthy in [0-9.]* s' "$log" | grep -o '[0-9.]* s') inside the AppHost)"
  kill -TERM "$pid"; wait "$pid" || true
  rm -f "$log"
}
rm -rf .helios
measure cold
measure warm
