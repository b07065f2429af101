#!/usr/bin/env bash
# Overhead of Porteiro's API gateway: the same call (sts:GetCallerIdentity) with the same role
# session, (a) signed with the session's STS credentials straight to the embedded cloud, and
# (b) signed with the session's gateway credentials through the API gateway, which verifies,
# re-signs, forwards and records every call (recording on, group-committed fsyncs).
#
# Uses the real `porteiro serve` (release build) and the load generator
# crates/loadgen/benches/load.rs (keep-alive HTTP/1.1, every request freshly SigV4-signed).
# Only 127.0.0.1 is used. Needs curl, python3 and the aws CLI (pip install awscli) for
# AssumeRole; installs nothing.
#
# Usage: bench/gateway_overhead.sh
#   CONCURRENCY=16 DURATION=10 WARMUP=1 THREADS=1 bench/gateway_overhead.sh
#   PIN=1 bench/gateway_overhead.sh    # load generator on CPU 0, porteiro serve on CPU 1
#
# The client's work is the same on both paths (the same request, freshly signed; the direct
# one also carries the STS session token). THREADS fixes the load generator's threads and
# CONCURRENCY its connections. Without PIN the client, the cloud and the gateway compete for
# every core; with PIN (taskset) the client has a core of its own and the server's core is
# the bottleneck, so the drop in req/s is the gateway's CPU cost relative to the cloud's.
set -euo pipefail

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
THREADS="${THREADS:-1}"
PIN="${PIN:-0}"
SERVER_CPU=(); CLIENT_CPU=()
if [[ "$PIN" == 1 ]]; then
    command -v taskset >/dev/null 2>&1 || { echo "PIN=1 needs taskset" >&2; exit 1; }
    SERVER_CPU=(taskset -c 1); CLIENT_CPU=(taskset -c 0)
fi

ACCOUNT_ID=123456789012
ROOT_KEY=AKIAIOSFODNN7EXAMPLE
ROOT_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
ADMIN_PASSWORD=bench-admin-password-1
ANA_PASSWORD=bench-ana-password-1

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
for tool in curl python3 aws; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/porteiro-gateway-bench.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
json() { python3 -c "import json,sys; v=json.load(sys.stdin); print($1)"; }

# PORTEIRO_BIN / LOAD_BIN: use already built binaries instead of building.
if [[ -n "${PORTEIRO_BIN:-}" && -n "${LOAD_BIN:-}" ]]; then
    PORTEIRO="$PORTEIRO_BIN"; LOAD="$LOAD_BIN"
else
    echo "== building (release): porteiro and the load generator"
    cargo build --release -p porteiro --bin porteiro
    PORTEIRO="$ROOT_DIR/target/release/porteiro"
    LOAD="$(cargo bench -p porteiro-loadgen --bench load --no-run 2>&1 | tee "$WORK/build.log" |
        sed -n 's/.*Executable benches\/load.rs (\(.*\))/\1/p' | tail -n 1)"
    [[ -n "$LOAD" ]] || { cat "$WORK/build.log" >&2; echo "no load generator binary" >&2; exit 1; }
    [[ "$LOAD" == /* ]] || LOAD="$ROOT_DIR/$LOAD"
fi

API_PORT="$(free_port)"; CLOUD_PORT="$(free_port)"; GATEWAY_PORT="$(free_port)"
API="http://127.0.0.1:$API_PORT"; CLOUD="http://127.0.0.1:$CLOUD_PORT"; GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
PORTEIRO_ADMIN_PASSWORD="$ADMIN_PASSWORD" PORTEIRO_CLOUD_ACCOUNT_ID="$ACCOUNT_ID" \
    PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID="$ROOT_KEY" PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY="$ROOT_SECRET" \
    "${SERVER_CPU[@]}" "$PORTEIRO" serve --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" \
    --cloud-listen "127.0.0.1:$CLOUD_PORT" --gateway-listen "127.0.0.1:$GATEWAY_PORT" >"$WORK/serve.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 300); do curl -s -o /dev/null "$API/api/v1/openapi.json" && break; sleep 0.1; done

export PORTEIRO_CONFIG="$WORK/profiles.json"
p() { "$PORTEIRO" "$@"; }
echo "$ADMIN_PASSWORD" | p login --url "$API" --username admin --profile admin >/dev/null
ACCOUNT="$(p accounts list --json --profile admin | json 'v[0]["id"]')"
PORTEIRO_NEW_PASSWORD="$ANA_PASSWORD" p users create --name Ana --username ana --email ana@example.com --profile admin >/dev/null
p groups create --name bench --member ana --permission start_jit_sessions --profile admin >/dev/null
CU="$(p cloud-users create --account "$ACCOUNT" --owner ana --json --profile admin)"
CU_ID="$(json 'v["id"]' <<<"$CU")"; USER_ARN="$(json 'v["arn"]' <<<"$CU")"
CRED="$(p credentials create --cloud-user "$CU_ID" --json --profile admin)"
USER_KEY="$(json 'v["credential"]["access_key_id"]' <<<"$CRED")"
USER_SECRET="$(json 'v["secret_access_key"]' <<<"$CRED")"
AWS_ACCESS_KEY_ID="$ROOT_KEY" AWS_SECRET_ACCESS_KEY="$ROOT_SECRET" AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$CLOUD" iam create-role --role-name Bench --assume-role-policy-document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"$USER_ARN\"},\"Action\":[\"sts:AssumeRole\",\"sts:SetSourceIdentity\"]}]}" >/dev/null
p jit set "$ACCOUNT" --active --jit-enabled --duration 3600 --role Bench --profile admin >/dev/null
echo "$ANA_PASSWORD" | p login --url "$API" --username ana --profile ana >/dev/null
STARTED="$(p sessions start --kind jit --cloud-user "$CU_ID" --role Bench --json --profile ana)"
GW_KEY="$(json 'v["gateway"]["access_key_id"]' <<<"$STARTED")"
GW_SECRET="$(json 'v["gateway"]["secret_access_key"]' <<<"$STARTED")"
SESSION="$(json 'v["session"]["id"]' <<<"$STARTED")"
# The same role's STS credentials, for the direct baseline (the gateway keeps the session's own).
ASSUMED="$(AWS_ACCESS_KEY_ID="$USER_KEY" AWS_SECRET_ACCESS_KEY="$USER_SECRET" AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$CLOUD" sts assume-role --role-arn "arn:aws:iam::$ACCOUNT_ID:role/Bench" \
    --role-session-name direct --output json)"
STS_KEY="$(json 'v["Credentials"]["AccessKeyId"]' <<<"$ASSUMED")"
STS_SECRET="$(json 'v["Credentials"]["SecretAccessKey"]' <<<"$ASSUMED")"
STS_TOKEN="$(json 'v["Credentials"]["SessionToken"]' <<<"$ASSUMED")"

echo "== machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== load: $CONCURRENCY connections, ${DURATION}s (+${WARMUP}s warm-up), $THREADS client threads; one porteiro serve process (cloud + gateway) and the load generator $([[ "$PIN" == 1 ]] && echo "pinned: client CPU 0, server CPU 1" || echo "share the cores")"
RESULTS="$WORK/results.txt"; : >"$RESULTS"
run() { # label endpoint key secret [token]
    local out="$WORK/run-$1.log"
    "${CLIENT_CPU[@]}" "$LOAD" --endpoint "$2" --access-key "$3" --secret "$4" --session-token "${5:-}" --op get-caller-identity \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" --label "$1" >"$out" 2>&1 ||
        echo "the load generator failed against $1" >&2
    grep -v '^RESULT' "$out" || true
    grep "^RESULT " "$out" >>"$RESULTS" || true
}
run direct "$CLOUD" "$STS_KEY" "$STS_SECRET" "$STS_TOKEN"
run gateway "$GATEWAY" "$GW_KEY" "$GW_SECRET"
run direct2 "$CLOUD" "$STS_KEY" "$STS_SECRET" "$STS_TOKEN"
run gateway2 "$GATEWAY" "$GW_KEY" "$GW_SECRET"

EVENTS="$(grep -c '"kind":"apiCall"' "$WORK/data/recordings/$SESSION/events.jsonl" || true)"
echo "== recorded apiCall events for $SESSION: $EVENTS"
python3 - "$RESULTS" <<'PY'
import sys
rows = [dict(p.split("=", 1) for p in l.split()[1:] if "=" in p) for l in open(sys.argv[1])]
print(f"{'path':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7}")
for r in rows:
    print(f"{r['label']:<10} {float(r['rps']):>10.1f} {float(r['p50_ms']):>8.3f} {float(r['p99_ms']):>8.3f} {float(r['p999_ms']):>9.3f} {r['errors']:>7}")
by = {r["label"]: r for r in rows}
for d, g in (("direct", "gateway"), ("direct2", "gateway2")):
    if d in by and g in by and float(by[d]["rps"]) > 0:
        drop = 1 - float(by[g]["rps"]) / float(by[d]["rps"])
        added = float(by[g]["p99_ms"]) - float(by[d]["p99_ms"])
        print(f"{g}: {drop*100:.1f}% fewer req/s than {d}, p99 +{added:.3f} ms")
PY
