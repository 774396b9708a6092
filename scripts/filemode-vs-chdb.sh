#!/usr/bin/env bash
# File mode against chDB on the same file, whole processes: `metering aggregate` (decode, dedup, aggregate by account,
# SKU and hour, sorted NDJSON out) and chDB (ClickHouse's engine, embedded) doing the same dedup (first record per id)
# and group-by (count, exact sum, min, max, first and last time per account, SKU, hour; sorted JSONEachRow out),
# both into /dev/null, alternating, ROUNDS times; prints each round and the medians.
#   bash scripts/filemode-vs-chdb.sh [ROUNDS]
# The file: 3,000,000 records of a month (one per second of event time from 2026-10-01), 1,000 Zipf-skewed accounts,
# 1 % duplicates, no bad records (chDB's JSON reader stops at a malformed line), shuffled with a fixed random source:
# out of order across the whole month, so the dedup horizon must span it (--dedup-horizon 800h: the month is 744 h, and the horizon may not exceed the default 35 d --max-lateness); ~1.3 M keys.
# METERING_DLL picks the binary (default: this checkout's Release build), METERING_CHDB_LIB the libchdb.so.
# METERING_BASELINE_DLL (optional) is a second binary (e.g. the previous release's metering.dll) run in every round
# too, alternating with the other two, so a change is measured against its baseline under the same load.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
rounds=${1:-3}
ensure_chdb
lib=${METERING_CHDB_LIB:-$PWD/.metering/native/chdb/package/libchdb.so}
dll=${METERING_DLL:-Metering.Cli/bin/Release/net10.0/metering.dll}
[[ -f "$dll" ]] || dotnet build Metering.Cli -c Release >/dev/null
command -v gcc >/dev/null 2>&1 || ensure_apt gcc
dir=.metering/filemode
mkdir -p "$dir"
input=$PWD/$dir/month-3000000.ndjson
if [[ ! -f "$input" ]]; then
  dotnet "$dll" generate --output "$dir/ordered.ndjson" --records 3000000 --rate 1 --accounts 1000 --bad 0 --start 2026-10-01T00:00:00Z >/dev/null 2>&1
  # a fixed stream of pseudo-random bytes (process substitution: head closing the pipe early is not a failure)
  head -c 100000000 < <(openssl enc -aes-256-ctr -pass pass:42 -nosalt </dev/zero 2>/dev/null) > "$dir/random-source"
  shuf --random-source="$dir/random-source" "$dir/ordered.ndjson" > "$input"
  rm -f "$dir/ordered.ndjson" "$dir/ordered.ndjson.truth.json" "$dir/random-source"
fi
gcc -O2 -o "$dir/chdb-query" scripts/filemode/chdb-query.c -ldl
sql=$(sed "s#INPUT#$input#" scripts/filemode/dedup-groupby.sql)
echo "file: $input ($(wc -c <"$input") bytes), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
ours=(); theirs=(); base=()
aggregate() {
  { /usr/bin/time -f "wall %e s, cpu %U+%S s, max RSS %M KB" dotnet "$1" aggregate --input "$input" --output /dev/null \
      --dead-letters "$dir/dead-letters.ndjson" --window 1h --dedup-horizon 800h; } 2>&1 | grep -E "^throughput|^aggregates|^wall" | tr '\n' ' '
}
for r in $(seq 1 "$rounds"); do
  if [[ -n "${METERING_BASELINE_DLL:-}" ]]; then
    line=$(aggregate "$METERING_BASELINE_DLL")
    base+=("$(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' <<<"$line")")
    echo "round $r baseline: $line (load $(cut -d' ' -f1 /proc/loadavg))"
  fi
  line=$(aggregate "$dll")
  wall=$(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' <<<"$line")
  ours+=("$wall")
  echo "round $r metering: $line (load $(cut -d' ' -f1 /proc/loadavg))"
  rm -rf "$dir/chdb-data"
  line=$( { /usr/bin/time -f "wall %e s, max RSS %M KB" "$dir/chdb-query" "$lib" "$PWD/$dir/chdb-data" JSONEachRow "$sql" | wc -l; } 2>&1 | tr '\n' ' ')
  wall=$(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' <<<"$line")
  theirs+=("$wall")
  echo "round $r chDB:     $line (rows, wall; load $(cut -d' ' -f1 /proc/loadavg))"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m=$(median "${ours[@]}"); c=$(median "${theirs[@]}")
echo "median whole process: metering ${m} s, chDB ${c} s; chDB / metering = $(awk -v a="$c" -v b="$m" 'BEGIN {printf "%.2f", a / b}')x (load $(cut -d' ' -f1-3 /proc/loadavg))"
if (( ${#base[@]} > 0 )); then
  b=$(median "${base[@]}")
  echo "median whole process: baseline ${b} s; baseline / metering = $(awk -v a="$b" -v b="$m" 'BEGIN {printf "%.2f", a / b}')x, chDB / baseline = $(awk -v a="$c" -v b="$b" 'BEGIN {printf "%.2f", a / b}')x"
fi
