#!/usr/bin/env bash
# Runs every test (unit, integration against real PostgreSQL and the Kafka-protocol dev broker,
# end to end through Helios.AppHost, browser) and prints the total as its last line.
set -uo pipefail
cd "$(dirname "$0")"
source eng/prerequisites.sh
helios_require test || exit 1
results=.helios/test-results
rm -rf "$results"
mkdir -p "$results"
if ! dotnet build Helios.sln -c Debug -nologo -v quiet -clp:ErrorsOnly; then
  echo "Build failed."
  echo "0 passed, 1 failed"
  exit 1
fi
dotnet test Helios.sln --no-build -c Debug --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" -- RunConfiguration.TestSessionTimeout=1800000
status=$?
passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
projects=$(find tests -name '*.Tests.csproj' | wc -l)
reported=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if [ "$reported" -lt "$projects" ]; then
  echo "Only $reported of $projects test projects reported results."
  failed=$((failed + projects - reported))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
