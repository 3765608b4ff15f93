#!/usr/bin/env bash
# Embedded vs distributed (issue 4): the same ingest workload (ingest_bench:
# five-minute 8 kHz µ-law WAVs, ≈2.4 MB each) and the same GraphQL searches
# (search_bench) against
#   (a) `callvault serve`: one process, SQLite, in-process bus;
#   (b) storage, metadata, ingestion and gateway in four processes on
#       PostgreSQL and RabbitMQ (gateway → metadata by request/reply);
# both on the same blob store and key provider (filesystem + local keyring),
# so the difference is the pipeline: processes, broker, database. Then
#   (c) the distributed processes on S3 + KMS served by moto, a Python mock:
#       what it measures is mostly moto, not S3 (fewer uploads; no search,
#       which never touches S3 or KMS). BENCH_MOTO_COUNT=0 skips it.
# Prints one table: recordings/s, MB/s, upload p50/p99, the catalogue's lag
# behind the last upload, search p50/p99 and searches/s per mode.
#
#   e2e/bench-modes.sh [count=1000] [concurrency=50] [searches=500] [search-clients=4]
#
# BENCH_NO_BUILD=1 uses the release binaries already built; BENCH_DIR picks
# the file system of the data directories (default $TMPDIR or /tmp);
# BENCH_MOTO_COUNT uploads in (c) (default: count, at most 100).
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), RabbitMQ on
# 127.0.0.1:5672 (guest/guest) with rabbitmqctl, and for (c)
# ~/.cache/callvault-venv/bin/moto_server (scripts/test installs it).
# Everything it creates (processes, databases, queues, exchanges, files) is
# removed at exit; PostgreSQL and RabbitMQ themselves are left alone.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/callvault-target}"
count=${1:-1000}
concurrency=${2:-50}
searches=${3:-500}
search_clients=${4:-4}
moto_count=${BENCH_MOTO_COUNT:-$((count < 100 ? count : 100))}
moto_server=${MOTO_SERVER:-$HOME/.cache/callvault-venv/bin/moto_server}
amqp=amqp://guest:guest@127.0.0.1:5672/%2f
pg=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1 -d postgres)

[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p callvault -p callvault-e2e
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}" callvault-bench.XXXXXX)
run=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
# Every queue and exchange of the run starts with this, every database with
# cvbench_$run: cleanup removes exactly those.
prefix="bench-$run."
pids=()
databases=()

cleanup() {
    local status=$?
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    if [ "$status" -ne 0 ]; then
        for log in "$work"/*/*.log "$work"/*.log; do
            [ -f "$log" ] || continue
            echo "--- last lines of ${log#"$work"/}" >&2
            tail -n 8 "$log" >&2
        done
    fi
    # Queues first (a queue holds its bindings), then exchanges; rabbitmqctl
    # cannot delete an exchange, the broker's own function can. rabbitmqctl
    # reads stdin, so it gets none: it would eat the list being read.
    rabbitmqctl -q list_queues name --no-table-headers 2>/dev/null |
        awk -v p="$prefix" 'index($0, p) == 1' |
        while read -r queue; do rabbitmqctl -q delete_queue "$queue" </dev/null >/dev/null; done
    # Only plain names reach `eval`: a name is spliced into Erlang code.
    rabbitmqctl -q list_exchanges name --no-table-headers 2>/dev/null |
        awk -v p="$prefix" 'index($0, p) == 1 && /^[A-Za-z0-9._-]+$/' |
        while read -r exchange; do
            rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$exchange\">>), false, <<\"bench\">>)." </dev/null >/dev/null
        done
    left=$(rabbitmqctl -q list_queues name --no-table-headers 2>/dev/null; rabbitmqctl -q list_exchanges name --no-table-headers 2>/dev/null)
    if awk -v p="$prefix" 'index($0, p) == 1 { found = 1 } END { exit !found }' <<< "$left"; then
        echo "warning: RabbitMQ objects named $prefix* are left over" >&2
    fi
    for db in "${databases[@]}"; do "${pg[@]}" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'echo "bench-modes.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# wait_up URL PID LOG: until URL answers 200, failing if the process died.
wait_up() {
    for _ in $(seq 600); do
        curl -sf "$1" >/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { echo "process $2 exited during start-up, see $3" >&2; return 1; }
        sleep 0.1
    done
    echo "$1 not up after 60 s" >&2
    return 1
}

# start NAME DIR TARGET PORT [VAR=VALUE…]: `callvault serve` in DIR, its
# PID in $started (and in pids, for cleanup).
start() {
    local name=$1 dir=$2 target=$3 port=$4
    shift 4
    mkdir -p "$dir"
    (cd "$dir" && exec env "$@" CALLVAULT_LISTEN="127.0.0.1:$port" CALLVAULT_DATA_DIR="$dir/data" \
        "$bin/callvault" serve --target "$target" > "$dir/$name.log" 2>&1) &
    started=$!
    pids+=("$started")
    wait_up "http://127.0.0.1:$port/healthz" "$started" "$dir/$name.log"
}

# stop PID…: SIGTERM (a graceful drain), then wait, so the next mode has
# the machine to itself. Forgotten by cleanup, which must never signal a
# PID the system may have handed to someone else since.
stop() {
    local pid left=()
    kill "$@" 2>/dev/null || true
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do [[ " $* " == *" $pid "* ]] || left+=("$pid"); done
    pids=("${left[@]}")
}

# A finished mode's data stays until the end: removing its thousand files
# just before the next mode runs makes ext4 without a journal (this
# machine's) skip their freshly freed inodes one by one when the next mode
# creates files, about 8 % of the machine's time in a profile of the
# distributed run. The blobs are written with O_DIRECT, so they leave no
# dirty pages for the kernel to write back during the next mode either.

gql() { curl -sf "$1/graphql" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['data']$1)"; }

# onboard GATEWAY [VAR=VALUE…]: a BPO, a tenant and a recorder key through
# the gateway, tokens signed with the configuration in the variables.
# Sets $tenant and $key.
onboard() {
    local url=$1 admin tadmin bpo
    shift
    admin=$(env "$@" "$bin/callvault" admin token)
    bpo=$(gql "$url" "$admin" '{"query":"mutation { createBpo(name: \"Bench BPO\") { id } }"}' | field '["createBpo"]["id"]')
    tenant=$(gql "$url" "$admin" '{"query":"mutation($b: UUID!) { onboardTenant(input: {bpoId: $b, name: \"Bench Tenant\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED}) { id } }","variables":{"b":"'"$bpo"'"}}' | field '["onboardTenant"]["id"]')
    tadmin=$(env "$@" "$bin/callvault" admin token --role tenant_admin --tenant "$tenant")
    key=$(gql "$url" "$tadmin" '{"query":"mutation($t: UUID!) { createApiKey(tenantId: $t, name: \"bench\") { secret } }","variables":{"t":"'"$tenant"'"}}' | field '["createApiKey"]["secret"]')
}

# measure MODE INGEST_URL GATEWAY_URL UPLOADS SEARCHES [VAR=VALUE…]: the
# ingest run, then (SEARCHES > 0) the searches on the catalogue it made.
measure() {
    local mode=$1 ingest=$2 gateway=$3 uploads=$4 n=$5 token
    shift 5
    echo "load before: $(load)" > "$work/$mode.load"
    echo "-- ingest: $uploads recordings, $concurrency clients (load $(load))"
    "$bin/ingest_bench" "$ingest" "$key" "$uploads" "$concurrency" 300 | tee "$work/$mode.ingest"
    [ "$n" -gt 0 ] || return 0
    token=$(env "$@" "$bin/callvault" admin token --role supervisor --tenant "$tenant" --ttl 14400)
    echo "-- search: $n searches, $search_clients clients (load $(load))"
    "$bin/search_bench" "$gateway" "$token" "$tenant" "$n" "$search_clients" "$uploads" | tee "$work/$mode.search"
}

secret() { python3 -c 'import secrets; print(secrets.token_hex(32))' > "$1"; chmod 600 "$1"; }

# distributed MODE UPLOADS SEARCHES [VAR=VALUE…]: fresh databases and bus
# prefix, the four processes, the measurement, then the processes stopped.
distributed() {
    local mode=$1 uploads=$2 n=$3 dir="$work/$1" svc
    shift 3
    mkdir -p "$dir"
    for svc in storage metadata ingestion; do
        databases+=("cvbench_${run}_${mode}_$svc")
        "${pg[@]}" -c "CREATE DATABASE cvbench_${run}_${mode}_$svc"
    done
    local ports=() s
    for s in 0 1 2 3; do ports+=("$(free_port)"); done
    local storage_port=${ports[0]} metadata_port=${ports[1]} ingestion_port=${ports[2]} gateway_port=${ports[3]}
    local env=(
        CALLVAULT_BUS__KIND=rabbitmq CALLVAULT_BUS__URL="$amqp" CALLVAULT_BUS__NAME_PREFIX="$prefix$mode."
        CALLVAULT_AUTH__HS256_SECRET_FILE="$work/secrets/jwt"
        CALLVAULT_SECRETS__URL_SIGNING_FILE="$work/secrets/urls"
        CALLVAULT_SECRETS__PII_FILE="$work/secrets/pii"
        CALLVAULT_SECRETS__MANIFEST_SIGNING_FILE="$work/secrets/manifests"
        CALLVAULT_DATABASE__STORAGE_URL="postgres://postgres@127.0.0.1/cvbench_${run}_${mode}_storage"
        CALLVAULT_DATABASE__METADATA_URL="postgres://postgres@127.0.0.1/cvbench_${run}_${mode}_metadata"
        CALLVAULT_DATABASE__INGESTION_URL="postgres://postgres@127.0.0.1/cvbench_${run}_${mode}_ingestion"
        CALLVAULT_STORAGE_URL="http://127.0.0.1:$storage_port"
        "$@"
    )
    # Metadata before ingestion (its queue must exist before the first
    # event), and storage after the tenant exists: a local keyring is read
    # once at start, so storage must open it after metadata wrote the
    # tenant's key into it.
    start metadata "$dir/metadata" metadata "$metadata_port" "${env[@]}"
    local metadata_pid=$started
    start gateway "$dir/gateway" gateway "$gateway_port" "${env[@]}"
    local gateway_pid=$started
    onboard "http://127.0.0.1:$gateway_port" "${env[@]}" CALLVAULT_DATA_DIR="$dir/gateway/data"
    start storage "$dir/storage" storage "$storage_port" "${env[@]}"
    local storage_pid=$started
    start ingestion "$dir/ingestion" ingestion "$ingestion_port" "${env[@]}"
    local ingestion_pid=$started
    for port in "${ports[@]}"; do
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "port $port not ready" >&2; return 1; }
    done
    measure "$mode" "http://127.0.0.1:$ingestion_port" "http://127.0.0.1:$gateway_port" "$uploads" "$n" \
        "${env[@]}" CALLVAULT_DATA_DIR="$dir/gateway/data"
    stop "$gateway_pid" "$ingestion_pid" "$metadata_pid" "$storage_pid"
}

mkdir -p "$work/secrets"
for s in jwt urls pii manifests; do secret "$work/secrets/$s"; done
echo "== $(nproc) cores, load $(load); $count recordings × $concurrency clients, $searches searches × $search_clients clients"

echo "== (a) embedded: callvault serve (SQLite, filesystem blobs, local keyring, in-process bus)"
port=$(free_port)
start server "$work/embedded" all "$port"
# `admin token` in embedded mode reads the secrets the server generated.
embedded_env=(CALLVAULT_DATA_DIR="$work/embedded/data")
onboard "http://127.0.0.1:$port" "${embedded_env[@]}"
measure embedded "http://127.0.0.1:$port" "http://127.0.0.1:$port" "$count" "$searches" "${embedded_env[@]}"
stop "$started"

echo "== (b) distributed: 4 processes, PostgreSQL, RabbitMQ (filesystem blobs, local keyring)"
distributed fs "$count" "$searches" CALLVAULT_BLOB__BACKEND=fs CALLVAULT_BLOB__FS_ROOT="$work/shared-fs/blobs" \
    CALLVAULT_KEYS__PROVIDER=local CALLVAULT_KEYS__KEYRING_FILE="$work/shared-fs/keyring.json"

if [ "$moto_count" -gt 0 ] && [ -x "$moto_server" ]; then
    echo "== (c) distributed on moto (S3 + KMS mock): $moto_count recordings"
    moto_port=$(free_port)
    endpoint="http://127.0.0.1:$moto_port"
    "$moto_server" -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 300); do curl -s -o /dev/null "$endpoint/" && break; sleep 0.1; done
    curl -sf -X PUT "$endpoint/recordings" >/dev/null
    # No content type: moto takes a form-encoded body for something else.
    curl -sf -X PUT "$endpoint/recordings?versioning" -H 'content-type:' \
        --data-binary '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' >/dev/null
    distributed s3 "$moto_count" 0 CALLVAULT_BLOB__BACKEND=s3 CALLVAULT_BLOB__S3_BUCKET=recordings \
        CALLVAULT_BLOB__S3_ENDPOINT="$endpoint" CALLVAULT_KEYS__PROVIDER=kms \
        CALLVAULT_KEYS__KMS_ENDPOINT="$endpoint" CALLVAULT_KEYS__KMS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
elif [ "$moto_count" -gt 0 ]; then
    echo "== (c) skipped: no $moto_server"
fi

# grab FILE SED-EXPRESSION: one figure from a bench's output, or "-".
grab() { { [ -f "$1" ] && sed -nE "$2" "$1" | head -n 1; } | grep . || echo -; }
row() {
    local mode=$1 label=$2 i="$work/$1.ingest" s="$work/$1.search"
    printf '%-44s %6s %7s %6s %8s %8s %8s %8s %8s %8s  %s\n' "$label" \
        "$(grab "$i" 's/^uploads: ([0-9]+) ok.*/\1/p')" \
        "$(grab "$i" 's/^throughput: ([0-9.]+) recordings.*/\1/p')" \
        "$(grab "$i" 's/^throughput: .*, ([0-9.]+) MB.*/\1/p')" \
        "$(grab "$i" 's/^latency: p50 ([0-9.]+) ms.*/\1/p')" \
        "$(grab "$i" 's/^latency: .*p99 ([0-9.]+) ms.*/\1/p')" \
        "$(grab "$s" 's/^catalogue: .* after ([0-9.]+) s.*/\1/p')" \
        "$(grab "$s" 's/^latency: p50 ([0-9.]+) ms.*/\1/p')" \
        "$(grab "$s" 's/^latency: .*p99 ([0-9.]+) ms.*/\1/p')" \
        "$(grab "$s" 's/^throughput: ([0-9.]+) searches.*/\1/p')" \
        "$(sed 's/load before: //' "$work/$mode.load" 2>/dev/null || echo -)"
}
echo
echo "== results ($(nproc) cores; load now $(load))"
printf '%-44s %6s %7s %6s %8s %8s %8s %8s %8s %8s  %s\n' mode uploads 'rec/s' 'MB/s' \
    'up p50' 'up p99' 'cat lag' 'srch p50' 'srch p99' 'srch/s' 'load before'
printf '%-44s %6s %7s %6s %8s %8s %8s %8s %8s %8s\n' '' '' '' '' ms ms s ms ms ''
row embedded 'embedded (1 process, SQLite, in-proc bus)'
row fs 'distributed (4 proc., PostgreSQL, RabbitMQ)'
[ -f "$work/s3.ingest" ] && row s3 "distributed, S3+KMS on moto (mock; $moto_count)"
embedded_rate=$(grab "$work/embedded.ingest" 's/^throughput: ([0-9.]+) recordings.*/\1/p')
fs_rate=$(grab "$work/fs.ingest" 's/^throughput: ([0-9.]+) recordings.*/\1/p')
awk -v e="$embedded_rate" -v d="$fs_rate" 'BEGIN {
    if (d + 0 > 0) printf "ratio embedded/distributed (rec/s): %.2f — goal ≤ 1.5: %s\n", e / d, (e / d <= 1.5 ? "met" : "NOT met") }'
echo "(both on filesystem blobs + local keyring; 'cat lag': after the last upload, until a search finds every recording)"
