# Shared by the benchmarks that need one embedded server: builds (unless
# BENCH_NO_BUILD), starts `callvault serve` on a free port in a temporary
# data directory (on BENCH_DIR, default $TMPDIR or /tmp; BENCH_DIR=/dev/shm
# takes the disk out of the measurement), stops it on exit, and onboards a
# tenant. Sets: bin, work, url, server, key. Source it from the repo root.
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p callvault -p callvault-e2e
bin="$CARGO_TARGET_DIR/release"
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
