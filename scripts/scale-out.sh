#!/usr/bin/env bash
# Scale-out: the same Kafka backlog consumed to committed PostgreSQL totals by 1, 2 and 4 `metering stream` worker
# processes in one consumer group, on this machine. Everything runs as processes of its own: one `metering broker`
# (1 broker, PARTITIONS partitions), one `metering generate` that produces the backlog once (RECORDS records), then per
# worker count a fresh `metering postgres` and the workers, each with its own --instance-id (static membership ids
# must differ). The clock runs from the workers' start to the moment conservation has every record read and
# committed; the rate from the first commit on is printed too (it leaves out the group join and start-up).
#   bash scripts/scale-out.sh [RECORDS] [PARTITIONS] [WORKER COUNTS...]
#   bash scripts/scale-out.sh 1000000 32 1 2 4
# METERING_DLL picks the binary (default: this checkout's Release build).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
partitions=${2:-32}
shift 2 || true
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(1 2 4)
dll=${METERING_DLL:-Metering.Cli/bin/Release/net10.0/metering.dll}
[[ -f "$dll" ]] || dotnet build Metering.Cli -c Release >/dev/null
psql=/usr/lib/postgresql/15/bin/psql

dir=$(mktemp -d /tmp/scale-out.XXXXXX)
chmod 755 "$dir" # the embedded PostgreSQL runs as the postgres user
pids=()
pgdirs=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for d in "${pgdirs[@]}"; do dotnet "$dll" postgres stop --data-dir "$d" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

dotnet "$dll" broker --brokers 1 --partitions "$partitions" --topic usage --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
pids+=($!)
until [[ -s "$dir/bootstrap" ]]; do sleep 0.1; done
bootstrap=$(cat "$dir/bootstrap")
# The backlog, produced once (lz4, keyed by account; the embedded broker keeps 5 MiB per partition: stay under it).
dotnet "$dll" generate --output "$dir/usage.ndjson" --records "$records" --accounts 10000 --bootstrap-servers "$bootstrap" >"$dir/generate.log" 2>&1
echo "scale-out: $records records in topic usage ($partitions partitions) at $bootstrap; $(nproc) cores"

results=()
for n in "${counts[@]}"; do
  pgdir="$dir/pg-$n"
  pgdirs+=("$pgdir")
  pg=$(dotnet "$dll" postgres start --data-dir "$pgdir" 2>/dev/null | tail -1)
  field() { tr ';' '\n' <<<"$pg" | sed -n "s/^$1=//Ip" | head -1; }
  committed() { PGPASSWORD=$(field password) PGPASSFILE=$(field passfile) "$psql" -h "$(field host)" -p "$(field port)" -U "$(field username)" -d "$(field database)" -tAc "SELECT coalesce(sum(read), 0) FROM conservation" 2>/dev/null || echo 0; }
  workers=()
  t0=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    dotnet "$dll" stream --bootstrap-servers "$bootstrap" --pg "$pg" --group "scale-$n" --instance-id "scale-$n-$i" >"$dir/stream-$n-$i.log" 2>&1 &
    workers+=($!)
    pids+=($!)
  done
  first=""
  while :; do
    c=$(committed)
    now=$(date +%s.%N)
    if [[ -z "$first" ]] && (( c > 0 )); then first=$now; firstc=$c; fi
    if (( c >= records )); then break; fi
    if (( $(echo "$now - $t0 > 600" | bc) )); then echo "scale-out: $n worker(s): timeout at $c of $records committed"; break; fi
    sleep 0.2
  done
  wall=$(echo "$now - $t0" | bc)
  rate=$(echo "$c / $wall" | bc)
  steady=$(echo "($c - $firstc) / ($now - $first)" | bc)
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf 'scale-out: %d worker(s): %d records committed in %.2f s = %d records/s from the workers'"'"' start; %d records/s from the first commit (%.2f s after start); load %s\n' \
    "$n" "$c" "$wall" "$rate" "$steady" "$(echo "$first - $t0" | bc)" "$load"
  results+=("$n:$rate:$steady")
  for w in "${workers[@]}"; do kill -TERM "$w" 2>/dev/null || true; done
  for w in "${workers[@]}"; do wait "$w" 2>/dev/null || true; done
  dotnet "$dll" postgres stop --data-dir "$pgdir" >/dev/null 2>&1 || true
done

base=${results[0]#*:}; base=${base%%:*}
base_steady=${results[0]##*:}
summary="scale-out: records/s (from start; from first commit) and ratio to ${counts[0]} worker(s):"
for r in "${results[@]}"; do
  n=${r%%:*}; rest=${r#*:}; rate=${rest%%:*}; steady=${rest#*:}
  summary+=" $n -> $rate ($(echo "scale=2; $rate / $base" | bc)x), $steady ($(echo "scale=2; $steady / $base_steady" | bc)x);"
done
echo "$summary"
