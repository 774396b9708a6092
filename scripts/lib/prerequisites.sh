# Shared set-up for the scripts: each function installs what is missing and is a no-op otherwise.

# The .NET 10 SDK ships on the project's machines; there is no other source for it here, so say so clearly.
ensure_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET SDK 10 is required (dotnet not on PATH)" >&2
    exit 2
  fi
  local major
  major="$(dotnet --version | cut -d. -f1)"
  if (( major < 10 )); then
    echo "error: .NET SDK 10 or later is required, found $(dotnet --version)" >&2
    exit 2
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}

# apt packages, installed once (apt-get update only when something is missing).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if (( ${#missing[@]} > 0 )); then
    echo "installing ${missing[*]} (apt)" >&2
    local sudo=""
    [[ "$(id -u)" != "0" ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# PostgreSQL server binaries for the embedded (private) PostgreSQL the engine and the tests start.
ensure_postgres() {
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    ensure_apt postgresql-15 || ensure_apt postgresql
  fi
  # initdb refuses root: the engine runs the server as the postgres user, which the package creates.
  id postgres >/dev/null 2>&1 || { echo "error: no 'postgres' OS user after installing PostgreSQL" >&2; exit 2; }
}

# Redis server for the shared dedup horizon and live counters (the tests and .ci/run start their own instance).
ensure_redis() {
  command -v redis-server >/dev/null 2>&1 || ensure_apt redis-server
  command -v redis-server >/dev/null 2>&1 || { echo "error: redis-server missing after installing it" >&2; exit 2; }
}
