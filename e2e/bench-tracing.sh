#!/usr/bin/env bash
# What instrumentation costs (issue 11): the ingest benchmark against three
# builds side by side, alternating, in one sitting on this machine —
#   before   the binary of a commit before OpenTelemetry (BEFORE_BIN, a
#            release directory holding callvault and ingest_bench),
#   off      this tree, no OTLP variable (spans made, nothing exported),
#   on       this tree exporting every span to a local OTLP collector.
#   BEFORE_BIN=/path/to/old/release e2e/bench-tracing.sh [count=500] [rounds=2]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
count=${1:-500}
rounds=${2:-2}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p callvault -p callvault-e2e
new="$CARGO_TARGET_DIR/release"
before="${BEFORE_BIN:?set BEFORE_BIN to the release directory of the build to compare with}"

sink_out=$(mktemp)
"$new/otlp_sink" > "$sink_out" 2> "$sink_out.err" &
sink=$!
trap 'kill $sink 2>/dev/null; wait $sink 2>/dev/null; cat "$sink_out.err"; rm -f "$sink_out" "$sink_out.err"' EXIT
for _ in $(seq 100); do [ -s "$sink_out" ] && break; sleep 0.1; done
endpoint=$(head -1 "$sink_out")

run() { # label bin-dir env...
  local label=$1 dir=$2; shift 2
  echo "== $label"
  env "$@" CARGO_TARGET_DIR="$(dirname "$dir")" BENCH_NO_BUILD=1 \
    e2e/bench-ingest.sh "$count" 50 | grep -E "recordings/s|cpu:"
}
for round in $(seq "$rounds"); do
  echo "# round $round"
  run before "$before" OTEL_SDK_DISABLED=true
  run off "$new"
  run on "$new" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_SERVICE_NAME=callvault-bench
done
