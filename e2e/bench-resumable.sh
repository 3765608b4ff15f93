#!/usr/bin/env bash
# Resumable uploads (issue 16): the same recordings uploaded with plain
# POST /v1/recordings and with tus (creation, then PATCHes of 1 MiB) to
# `callvault serve` in embedded mode, in one run: POST, tus, POST again.
# Prints MB/s of each and how many times longer tus takes (goal: ≤ 1.3×).
#   e2e/bench-resumable.sh [count=200] [concurrency=8] [seconds=300] [chunk-mib=1]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
count=${1:-200}
concurrency=${2:-8}
seconds=${3:-300}
chunk=${4:-1}

source e2e/bench-server.sh

echo "== resumable uploads vs POST, embedded mode ($(nproc) cores)"
"$bin/resumable_bench" "$url" "$key" "$count" "$concurrency" "$seconds" "$chunk"
