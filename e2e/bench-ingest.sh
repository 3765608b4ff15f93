#!/usr/bin/env bash
# Ingest benchmark (issue 3): 1,000 five-minute 8 kHz µ-law WAVs (≈2.4 MB
# each) uploaded by 50 concurrent clients to `callvault serve` in embedded
# mode, on this machine. Prints recordings/s, MB/s and p50/p99 latency.
#   e2e/bench-ingest.sh [count=1000] [concurrency=50]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
count=${1:-1000}
concurrency=${2:-50}

source e2e/bench-server.sh

echo "== ingest: $count recordings, $concurrency clients, embedded mode ($(nproc) cores)"
# Where the machine's time went during the uploads (/proc/stat, in clock
# ticks), and the server's own CPU: on a shared VM the wall-clock figures
# drift by ±15 % between runs, the CPU spent per upload much less.
read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ < /proc/stat
p0=$(awk '{print $14 + $15}' "/proc/$server/stat")
"$bin/ingest_bench" "$url" "$key" "$count" "$concurrency" 300
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat
p1=$(awk '{print $14 + $15}' "/proc/$server/stat")
busy=$(( (u1 + n1 + s1 + q1 + sq1) - (u0 + n0 + s0 + q0 + sq0) ))
idle=$(( i1 - i0 )) iowait=$(( w1 - w0 )) steal=$(( st1 - st0 ))
all=$(( busy + idle + iowait + steal ))
hz=$(getconf CLK_TCK)
python3 -c "
n, hz = $count, $hz
print(f'cpu: server {($p1 - $p0) / hz / n * 1000:.1f} ms per upload; machine busy {$busy / hz / n * 1000:.1f} ms per upload;'
      f' machine time busy {100 * $busy / $all:.0f} %, idle {100 * $idle / $all:.0f} %, iowait {100 * $iowait / $all:.0f} %, stolen {100 * $steal / $all:.0f} %')"
echo "data directory after the run: $(du -sh data | cut -f1)"
