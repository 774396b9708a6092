#!/usr/bin/env bash
# The main job on embedded defaults: builds the engine (Release) and runs `metering run` with any extra
# arguments, e.g. `bash scripts/run.sh --records 10000000`. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/prerequisites.sh
ensure_dotnet
ensure_postgres
ensure_chdb

dotnet build Metering.Cli -c Release --nologo -v quiet -clp:NoSummary -o out/metering >/dev/null
exec dotnet out/metering/metering.dll run "$@"
