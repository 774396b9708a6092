#!/usr/bin/env bash
# `metering bench --pipeline` with the meter mix (7 of 15 SKUs metered: max, min, count, time_weighted, percentile, latest, unique_count;
# docs/meters.md) against the sum-only workload, alternating in one session (the machine is noisy), ROUNDS each.
# Usage: bash scripts/meters-vs-sums.sh [ROUNDS] [RECORDS]   (default 2 rounds of 1,000,000 records)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"; records="${2:-1000000}"
dotnet build Metering.Cli -c Release -o out/metering --nologo -v quiet -clp:NoSummary
sums=(); meters=()
for ((i = 1; i <= rounds; i++)); do
  for mix in sums meters; do
    flag=(); [[ $mix == meters ]] && flag=(--meters)
    line="$(dotnet out/metering/metering.dll bench --pipeline --rounds 1 --records "$records" "${flag[@]}" 2>/dev/null | grep 'Kafka -> committed totals')"
    rate="$(awk '{gsub(",", "", $5); print $5}' <<<"$line")"
    echo "round $i $mix: $rate records/s  ($(uptime | sed 's/.*load average: //') load)"
    if [[ $mix == sums ]]; then sums+=("$rate"); else meters+=("$rate"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
s="$(median "${sums[@]}")"; m="$(median "${meters[@]}")"
echo "meters-vs-sums: sum-only ${s} records/s (rounds ${sums[*]}), meter mix ${m} records/s (rounds ${meters[*]}): ratio $(awk -v m="$m" -v s="$s" 'BEGIN {printf "%.2f", m / s}')"
