#!/usr/bin/env bash
# Side-by-side load benchmark: `porteiro cloud serve` vs moto's server, same machine, same load.
#
# For each server: an IAM user with an access key and no policies, then
#   (a) sts:GetCallerIdentity  (200)   and
#   (b) iam:ListUsers          (403 AccessDenied)
# driven by the load generator crates/loadgen/benches/load.rs (keep-alive HTTP/1.1, every
# request freshly SigV4-signed). Only 127.0.0.1 is used. Installs nothing.
#
# Usage: bench/cloud_vs_moto.sh
#   CONCURRENCY=32 DURATION=10 WARMUP=1 THREADS=2 bench/cloud_vs_moto.sh
#   OPS="get-caller-identity" bench/cloud_vs_moto.sh
#   SERVERS="porteiro" bench/cloud_vs_moto.sh         (skip moto)
set -euo pipefail

CONCURRENCY="${CONCURRENCY:-32}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
THREADS="${THREADS:-$(nproc)}"
OPS="${OPS:-get-caller-identity denied-list-users}"
SERVERS="${SERVERS:-porteiro moto}"

ACCOUNT_ID=123456789012
ROOT_KEY=AKIAIOSFODNN7EXAMPLE
ROOT_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

want_moto=0
case " $SERVERS " in *" moto "*) want_moto=1 ;; esac
if [[ $want_moto == 1 ]] && ! command -v moto_server >/dev/null 2>&1; then
    echo "moto_server is not installed: pip install 'moto[server]'" >&2
    exit 1
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/porteiro-cloud-vs-moto.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url log
    local i
    for i in $(seq 1 300); do
        if curl -s -o /dev/null "$1"; then return 0; fi
        sleep 0.1
    done
    echo "the server at $1 did not start; its log:" >&2
    cat "$2" >&2
    exit 1
}

echo "== building (release): porteiro and the load generator"
cargo build --release -p porteiro --bin porteiro
PORTEIRO="$ROOT_DIR/target/release/porteiro"
LOAD="$(cargo bench -p porteiro-loadgen --bench load --no-run 2>&1 | tee "$WORK/build.log" |
    sed -n 's/.*Executable benches\/load.rs (\(.*\))/\1/p' | tail -n 1)"
if [[ -z "$LOAD" ]]; then
    cat "$WORK/build.log" >&2
    echo "could not find the load generator binary" >&2
    exit 1
fi
[[ "$LOAD" == /* ]] || LOAD="$ROOT_DIR/$LOAD"

echo "== machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== load: $CONCURRENCY connections, ${DURATION}s (+${WARMUP}s warm-up), $THREADS client threads; the load generator shares the cores with the server"

RESULTS="$WORK/results.txt"
: >"$RESULTS"

# setup_user ENDPOINT ACCESS_KEY SECRET -> sets USER_KEY USER_SECRET USER_TOKEN
setup_user() {
    local out
    out="$("$LOAD" --endpoint "$1" --access-key "$2" --secret "$3" --op setup-denied-user --user-name bench-denied)"
    USER_KEY="$(sed -n 's/^ACCESS_KEY_ID=//p' <<<"$out")"
    USER_SECRET="$(sed -n 's/^SECRET_ACCESS_KEY=//p' <<<"$out")"
    USER_TOKEN="$(sed -n 's/^SESSION_TOKEN=//p' <<<"$out")"
    [[ -n "$USER_KEY" && -n "$USER_SECRET" ]] || { echo "setting up the user failed: $out" >&2; exit 1; }
}

# run_ops LABEL ENDPOINT
run_ops() {
    local op
    for op in $OPS; do
        echo "-- $1 $op"
        local out="$WORK/run-$1-$op.log"
        if ! "$LOAD" --endpoint "$2" --access-key "$USER_KEY" --secret "$USER_SECRET" --session-token "$USER_TOKEN" \
            --op "$op" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
            --threads "$THREADS" --label "$1" >"$out" 2>&1; then
            echo "the load generator failed against $1:" >&2
        fi
        grep -v '^RESULT' "$out" || true
        grep "^RESULT " "$out" >>"$RESULTS" || true
    done
}

stop() { # pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

case " $SERVERS " in *" porteiro "*)
    PORT="$(free_port)"
    "$PORTEIRO" cloud serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/porteiro-data" \
        --account-id "$ACCOUNT_ID" --root-access-key-id "$ROOT_KEY" --root-secret-access-key "$ROOT_SECRET" \
        >"$WORK/porteiro.log" 2>&1 &
    PORTEIRO_PID=$!
    PIDS+=("$PORTEIRO_PID")
    wait_http "http://127.0.0.1:$PORT/" "$WORK/porteiro.log"
    echo "== porteiro cloud serve on 127.0.0.1:$PORT"
    setup_user "http://127.0.0.1:$PORT" "$ROOT_KEY" "$ROOT_SECRET"
    run_ops porteiro "http://127.0.0.1:$PORT"
    stop "$PORTEIRO_PID"
    ;;
esac

if [[ $want_moto == 1 ]]; then
    PORT="$(free_port)"
    moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    PIDS+=("$MOTO_PID")
    wait_http "http://127.0.0.1:$PORT/moto-api/" "$WORK/moto.log"
    MOTO_VERSION="$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
    echo "== moto $MOTO_VERSION server on 127.0.0.1:$PORT"
    # Auth is off until reset-auth: create the user and key first (any credentials work).
    setup_user "http://127.0.0.1:$PORT" "$ROOT_KEY" "$ROOT_SECRET"
    # The body must be raw (not form-encoded) for moto to read it.
    curl -sf -X POST -H "Content-Type: text/plain" --data-binary 0 "http://127.0.0.1:$PORT/moto-api/reset-auth" >/dev/null ||
        { echo "enabling auth in moto (POST /moto-api/reset-auth) failed" >&2; exit 1; }
    run_ops moto "http://127.0.0.1:$PORT"
    stop "$MOTO_PID"
fi

echo
echo "== results ($CONCURRENCY connections, ${DURATION}s, $THREADS client threads, $(nproc) CPUs shared by client and server)"
python3 - "$RESULTS" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
    rows.append(kv)
by = {(r["label"], r["op"]): r for r in rows}
print(f"{'server':<10} {'op':<22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7} {'unexp.':>7}")
for r in rows:
    print(f"{r['label']:<10} {r['op']:<22} {float(r['rps']):>10.1f} {float(r['p50_ms']):>8.3f} {float(r['p99_ms']):>8.3f} "
          f"{float(r['p999_ms']):>9.3f} {r['errors']:>7} {r['unexpected']:>7}")
ops = []
for r in rows:
    if r["op"] not in ops:
        ops.append(r["op"])
for op in ops:
    p, m = by.get(("porteiro", op)), by.get(("moto", op))
    if p and m and float(m["rps"]) > 0:
        print(f"ratio porteiro/moto {op:<22} {float(p['rps']) / float(m['rps']):>8.1f}x req/s")
PY
