#!/usr/bin/env bash
# The main job on embedded defaults: builds the engine (Release) and runs `metering run` with any extra
# arguments, e.g. `bash scripts/run.sh --records 10000000`. Installs what it needs. Ends by printing the console's
# URL with a ready dev token (docs/console.md); with --console it then serves that run's ledger and usage there.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/prerequisites.sh
ensure_dotnet
ensure_postgres
ensure_chdb

dotnet build Metering.Cli -c Release --nologo -v quiet -clp:NoSummary -o out/metering >/dev/null

# The run's database is named here (unless given) so the console can be pointed at it afterwards.
args=() database="" console=0
for a in "$@"; do
  case "$a" in --console) console=1 ;; *) args+=("$a") ;; esac
done
for ((i = 0; i < ${#args[@]}; i++)); do [[ "${args[i]}" == "--database" ]] && database="${args[i+1]:-}"; done
if [[ -z "$database" ]]; then
  database="run_$(date -u +%Y%m%d_%H%M%S)"
  args+=(--database "$database")
fi
status=0
dotnet out/metering/metering.dll run "${args[@]}" || status=$?

# The console over this run: serve reads the run's PostgreSQL database and its chDB export; the token is signed with a
# key of this checkout (.metering/console/jwt.key, created once) and rides in the URL fragment, which no server logs.
key=.metering/console/jwt.key
token="$(bash scripts/console-token.sh "$key" metering-dev metering-api admin 12)"
serve=(dotnet out/metering/metering.dll serve --listen http://127.0.0.1:8080 --pg-dir .metering/postgres --database "$database"
  --clickhouse-dir .metering/clickhouse --jwt-issuer metering-dev --jwt-audience metering-api --jwt-key-file "$key")
echo
echo "console: ${serve[*]}"
echo "console: http://127.0.0.1:8080/console/#/statements?account=acct-1&period=2026-11&token=$token"
echo "console: (dev token, admin, 12 h; \`bash scripts/run.sh --console\` serves it right after the run; docs/console.md)"
if (( console == 1 && status == 0 )); then
  exec "${serve[@]}"
fi
exit "$status"
