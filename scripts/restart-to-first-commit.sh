#!/usr/bin/env bash
# Restart-to-first-commit: SIGKILL a `metering stream` worker under a steady load and start it again at once; the
# time from the kill to the restarted worker's first committed flush (PostgreSQL conservation moves), KILLS times,
# median reported. Everything runs as processes of its own: `metering broker`, `metering generate`, `metering stream`.
#   bash scripts/restart-to-first-commit.sh [KILLS] [-- extra stream options]
#   bash scripts/restart-to-first-commit.sh 7 -- --instance-id '' --session-timeout 6s    # dynamic membership
# METERING_DLL picks the binary (default: this checkout's Release build; an older release works too: the script reads a
# password or a password file, whichever its connection string names).
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-5}
shift || true
[[ "${1:-}" == "--" ]] && shift
extra=("$@")
dll=${METERING_DLL:-Metering.Cli/bin/Release/net10.0/metering.dll}
[[ -f "$dll" ]] || dotnet build Metering.Cli -c Release >/dev/null
metering() { dotnet "$dll" "$@"; }   # foreground only: a background function would be a subshell, and killing it would leave dotnet running
psql=/usr/lib/postgresql/15/bin/psql

dir=$(mktemp -d /tmp/restart-bench.XXXXXX)
chmod 755 "$dir" # the embedded PostgreSQL runs as the postgres user
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; metering postgres stop --data-dir "$dir/pg" >/dev/null 2>&1 || true; }
trap cleanup EXIT

pg=$(metering postgres start --data-dir "$dir/pg" 2>/dev/null | tail -1)
field() { tr ';' '\n' <<<"$pg" | sed -n "s/^$1=//Ip" | head -1; }
host=$(field host); port=$(field port); user=$(field username); db=$(field database)
committed() { PGPASSWORD=$(field password) PGPASSFILE=$(field passfile) "$psql" -h "$host" -p "$port" -U "$user" -d "$db" -tAc "SELECT coalesce(sum(read), 0) FROM conservation" 2>/dev/null || echo 0; }

dotnet "$dll" broker --brokers 1 --partitions 6 --topic usage --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
pids+=($!)
until [[ -s "$dir/bootstrap" ]]; do sleep 0.1; done
bootstrap=$(cat "$dir/bootstrap")
dotnet "$dll" generate --output "$dir/usage.ndjson" --records 5000000 --accounts 2000 --bootstrap-servers "$bootstrap" --produce-rate 2000 >"$dir/generate.log" 2>&1 &
pids+=($!)

start_stream() {
  dotnet "$dll" stream --bootstrap-servers "$bootstrap" --pg "$pg" "${extra[@]}" >>"$dir/stream.log" 2>&1 &
  stream=$!
  pids+=($stream)
}

wait_commit_after() { # prints the seconds until conservation moves past $1 (give up after 120 s)
  local before=$1 t0=$2 now
  while :; do
    now=$(date +%s.%N)
    if (( $(committed) > before )); then echo "$now - $t0" | bc; return; fi
    if (( $(echo "$now - $t0 > 120" | bc) )); then echo "timeout"; return; fi
    sleep 0.05
  done
}

start_stream
wait_commit_after 0 "$(date +%s.%N)" >/dev/null
samples=()
for i in $(seq 1 "$kills"); do
  sleep "$(echo "scale=2; 2 + $RANDOM % 100 / 100" | bc)"   # a steady state first, then a kill at a random instant
  atkill=$(committed)
  t0=$(date +%s.%N)
  kill -9 "$stream"; wait "$stream" 2>/dev/null || true
  start_stream
  s=$(wait_commit_after "$atkill" "$t0")
  samples+=("$s")
  printf 'kill %d: first commit %s s after the SIGKILL\n' "$i" "$s"
  sleep 1
done
median=$(printf '%s\n' "${samples[@]}" | grep -v timeout | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "restart-to-first-commit: median ${median} s over ${#samples[@]} kills (samples: ${samples[*]}); stream options: ${extra[*]:-(defaults)}"
