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

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
status=0
dotnet test Metering.sln -c Release --nologo \
  --logger "console;verbosity=normal" --logger "trx;LogFileName=tests.trx" --results-directory "$results" \
  | tee "$results/console.txt" || status=$?

# The failures again, just before the closing line, so the tail of a long log names them with their messages.
if grep -q '^  Failed ' "$results/console.txt"; then
  echo "failed tests (name, message, first stack lines):"
  awk '/^  (Passed|Skipped) /{keep=0} /^  Failed /{keep=1; n=0} keep&&n<40{print; n++}' "$results/console.txt" | grep -v '^%[0-9]|' | head -n 200
fi

# One plain closing line, whatever the runner printed: "tests: N passed, N failed, N skipped".
trx="$(find "$results" -name '*.trx' | head -n1)"
if [[ -n "$trx" ]]; then
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  echo "tests: $(get passed) passed, $(get failed) failed, $(( $(get total) - $(get executed) )) skipped"
else
  echo "tests: no results were written (the build failed?)"
  status=1
fi
exit "$status"
