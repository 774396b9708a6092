#!/usr/bin/env bash
# The test command: builds the solution (warnings are errors) and runs every test against real components.
# Installs what it needs; safe to run on a fresh machine and again on the same one.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/prerequisites.sh
ensure_dotnet
ensure_postgres
ensure_redis
ensure_chdb
ensure_apt chromium # the console's browser tests drive it headless over the DevTools protocol (Metering.Tests/Console)

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
status=0
# Build once (warnings are errors), then the unit tests (no server, seconds), then the integration tests (real
# PostgreSQL, Redis, Kafka mock cluster, chDB, Kestrel, child processes).
dotnet build Metering.sln -c Release --nologo -v quiet -clp:NoSummary || { echo "tests: no results were written (the build failed)"; exit 1; }
for project in Metering.UnitTests Metering.Tests; do
  began=$(date +%s)
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=$project.trx" --results-directory "$results" \
    | tee -a "$results/console.txt" || status=$?
  echo "$project: finished in $(( $(date +%s) - began ))s"
done

# The failures again, just before the closing line, so the tail of a long log names them with their messages.
if grep -q '^  Failed ' "$results/console.txt"; then
  echo "failed tests (name, message, first stack lines):"
  # awk stops at 200 lines itself: a `| head` would end the pipe early, and under pipefail its SIGPIPE (exit 141)
  # would end this script before the closing line.
  awk '/^  (Passed|Skipped) /{keep=0} /^  Failed /{keep=1; n=0} keep&&n<40&&!/^%[0-9]\|/&&total<200{print; n++; total++}' "$results/console.txt"
fi

# One plain closing line over both projects, whatever the runner printed: "tests: N passed, N failed, N skipped".
passed=0; failed=0; skipped=0; found=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  found=$((found + 1))
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed))); skipped=$((skipped + $(get total) - $(get executed)))
done
if (( found == 2 )); then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: results of $found of 2 test projects were written, $passed passed, $failed failed"
  status=1
fi
exit "$status"
