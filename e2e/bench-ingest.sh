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

[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p callvault -p callvault-e2e
bin="$CARGO_TARGET_DIR/release"
# BENCH_DIR picks the file system the data directory is on (default: $TMPDIR
# or /tmp); BENCH_DIR=/dev/shm takes the disk out of the measurement.
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
cd "$work"
CALLVAULT_LISTEN="127.0.0.1:$port" "$bin/callvault" serve > server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

gql() { curl -sf "$url/graphql" -H "authorization: Bearer $1" -H 'content-type: application/json' -d "$2"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['data']$1)"; }
admin=$("$bin/callvault" admin token)
bpo=$(gql "$admin" '{"query":"mutation { createBpo(name: \"Bench BPO\") { id } }"}' | field '["createBpo"]["id"]')
tenant=$(gql "$admin" '{"query":"mutation($b: UUID!) { onboardTenant(input: {bpoId: $b, name: \"Bench Tenant\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED}) { id } }","variables":{"b":"'"$bpo"'"}}' | field '["onboardTenant"]["id"]')
tadmin=$("$bin/callvault" admin token --role tenant_admin --tenant "$tenant")
key=$(gql "$tadmin" '{"query":"mutation($t: UUID!) { createApiKey(tenantId: $t, name: \"bench\") { secret } }","variables":{"t":"'"$tenant"'"}}' | field '["createApiKey"]["secret"]')

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
