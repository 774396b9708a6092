#!/usr/bin/env bash
# Checks what the Dockerfile's build stage produces, without Docker: publishes the engine exactly as the image does
# (framework-dependent, linux-x64, Release), then starts the published binary and checks it works from that layout:
# help and usage exit 0, Npgsql loads (migrate against an unreachable server exits 1 with a clean message), the
# native librdkafka loads (the embedded broker starts and stops), and `serve` answers /healthz and /readyz over an
# embedded PostgreSQL and stops on SIGTERM. Prints size and time.
# Usage: bash scripts/check-publish.sh [--keep DIR]   (--keep leaves the published files in DIR)
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/prerequisites.sh
ensure_dotnet

rid=linux-x64
keep=""
if [[ "${1:-}" == "--keep" ]]; then keep="${2:?--keep needs a directory}"; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${keep:-$work/publish}"
rm -rf "$out"
failures=0
say() { printf '%s\n' "$*"; }
bad() { say "FAIL $*"; failures=$((failures + 1)); }

# 1. Publish, as the Dockerfile does (its RUN line; keep the two in step).
start=$(date +%s)
if ! dotnet publish Metering.Cli/Metering.Cli.csproj -c Release -r "$rid" --self-contained false -o "$out" \
    --nologo -v quiet -clp:NoSummary >"$work/publish.log" 2>&1; then
  cat "$work/publish.log"
  say "check-publish: dotnet publish failed"
  exit 1
fi
rm -rf "$out/examples" # as in the image: no example price book next to the program
seconds=$(( $(date +%s) - start ))
say "ok   dotnet publish -c Release -r $rid --self-contained false: ${seconds}s, $(du -sh "$out" | cut -f1) in $(find "$out" -type f | wc -l) files (native librdkafka builds: $(du -ch "$out"/*librdkafka.so | tail -n1 | cut -f1))"

bin="$out/metering"
[[ -x "$bin" ]] || { bad "no executable $bin"; exit 1; }
# A RID-specific publish puts the natives next to the program (a portable one under runtimes/<rid>/native).
for lib in centos8-librdkafka.so librdkafka.so; do
  [[ -f "$out/$lib" ]] || bad "native $lib missing from the publish output"
done

# 2. The binary starts from the published layout.
expect_exit() { # expected-code label command...
  local expected="$1" label="$2"; shift 2
  local code=0
  "$@" >"$work/out.txt" 2>&1 || code=$?
  if [[ "$code" == "$expected" ]]; then say "ok   $label: exit $code"; else bad "$label: exit $code, expected $expected: $(head -n 5 "$work/out.txt")"; fi
}
expect_exit 0 "metering --help" "$bin" --help
grep -q "migrate" "$work/out.txt" || bad "metering --help does not list migrate"
expect_exit 0 "metering migrate --help" "$bin" migrate --help
expect_exit 0 "metering stream --help" "$bin" stream --help
expect_exit 2 "metering migrate --no-such-option (usage error)" "$bin" migrate --no-such-option x
# Npgsql from the published layout; the password must never be printed.
expect_exit 1 "metering migrate against an unreachable server (METERING_PG)" \
  env METERING_PG="Host=127.0.0.1;Port=1;Database=ledger;Username=u;Password=not-printed;Timeout=3" "$bin" migrate
grep -q "not-printed" "$work/out.txt" && bad "migrate printed the password"

# 3. The native librdkafka loads from the published layout, both ways the engine loads it: the embedded broker
#    (librdkafka's mock cluster through our own P/Invoke) starts and prints its address, a second process produces
#    records into it through Confluent.Kafka's own loader (metering generate --bootstrap-servers), and the broker
#    stops cleanly on SIGTERM (what Kubernetes sends).
check_kafka() {
  local file="$work/bootstrap" pid code=0
  "$bin" broker --partitions 2 --topic publish-check --bootstrap-file "$file" >"$work/broker.txt" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [[ -s "$file" ]] && break; sleep 0.1; done
  if [[ -s "$file" ]]; then
    expect_exit 0 "metering generate --bootstrap-servers (Confluent.Kafka producer)" \
      timeout 60 "$bin" generate --records 1000 --output "$work/usage.ndjson" --bootstrap-servers "$(cat "$file")" --topic publish-check
    grep -q "1,000 records acknowledged" "$work/out.txt" || bad "the producer did not report 1,000 acknowledged records: $(tail -n 2 "$work/out.txt")"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      bad "metering broker still running 15s after SIGTERM"
    fi
    wait "$pid" || code=$?
    if [[ "$code" == 0 ]]; then say "ok   metering broker (native librdkafka) served $(cat "$file") and stopped on SIGTERM"; else bad "metering broker exited $code after SIGTERM"; fi
  else
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    bad "metering broker printed no bootstrap address within 10s: $(head -n 5 "$work/broker.txt")"
  fi
}
check_kafka

# 4. The REST API from the published layout: `metering serve` with a throwaway JWT configuration on a free loopback
#    port, over an embedded PostgreSQL (--pg-dir; as root it runs as the postgres OS user). /healthz must answer 200
#    and /readyz must answer with JSON (503 is expected: no ClickHouse, no Kafka configured); SIGTERM must stop it.
check_serve() {
  local port pid code="" ready body pgbase rc=0
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # mktemp -d is 0700: the postgres OS user cannot enter it, as in a fresh clone under root's home (the server then
  # lives in /var/tmp/metering-postgres-HASH, named by $pgbase/pg/server-location).
  pgbase="$(mktemp -d /tmp/metering-publish-pg.XXXXXX)"
  METERING_JWT_KEY="base64:$(head -c 32 /dev/urandom | base64 -w0)" \
    "$bin" serve --listen "http://127.0.0.1:$port" --jwt-issuer publish-check --jwt-audience metering-api \
    --pg-dir "$pgbase/pg" >"$work/serve.txt" 2>&1 &
  pid=$!
  for _ in $(seq 1 450); do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)"
    [[ "$code" == 200 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ "$code" == 200 ]]; then say "ok   metering serve: /healthz 200"; else bad "metering serve: /healthz answered '$code': $(tail -n 5 "$work/serve.txt")"; fi
  ready="$(curl -s -o "$work/readyz.json" -w '%{http_code}' --max-time 15 "http://127.0.0.1:$port/readyz" || true)"
  body="$(head -c 300 "$work/readyz.json" 2>/dev/null || true)"
  if [[ "$ready" =~ ^(200|503)$ && "$body" == "{"* ]]; then
    say "ok   metering serve: /readyz $ready $body"
  else
    bad "metering serve: /readyz answered '$ready' with '$body'"
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -KILL "$pid" 2>/dev/null; then bad "metering serve still running 15s after SIGTERM"; fi
  wait "$pid" 2>/dev/null || rc=$?
  if [[ "$rc" == 0 ]]; then say "ok   metering serve stopped on SIGTERM (exit 0)"; else bad "metering serve exited $rc after SIGTERM: $(tail -n 3 "$work/serve.txt")"; fi
  # The embedded PostgreSQL outlives the program (it is reused by the next start): stop the one this check started.
  expect_exit 0 "metering postgres stop" "$bin" postgres stop --data-dir "$pgbase/pg"
  if [[ -f "$pgbase/pg/server-location" ]]; then
    local home
    home="$(cat "$pgbase/pg/server-location")"
    [[ "$home" == /var/tmp/metering-postgres-* ]] && rm -rf "$home"
  fi
  rm -rf "$pgbase"
}
check_serve

if (( failures > 0 )); then
  say "check-publish: $failures failure(s)"
  exit 1
fi
say "check-publish: all checks passed"
