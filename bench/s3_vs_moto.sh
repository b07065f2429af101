#!/usr/bin/env bash
# S3 throughput, side by side: Porteiro's embedded S3 vs moto's server, same machine, same load.
#
# Runs crates/loadgen/benches/s3.rs (keep-alive HTTP/1.1, every request freshly SigV4-signed with
# a signed payload hash): small-object PutObject and GetObject req/s over CONCURRENCY
# connections, then one BIG_MIB PutObject and GetObject (MiB/s). Porteiro is served in the
# bench process (its own 2-thread runtime, as `porteiro cloud serve`); moto_server runs as
# its own process on 127.0.0.1. Installs nothing.
#
# Usage: bench/s3_vs_moto.sh
#   CONCURRENCY=16 DURATION=5 SIZE=4096 BIG_MIB=64 bench/s3_vs_moto.sh
#   SERVERS=porteiro bench/s3_vs_moto.sh        (skip moto)
set -euo pipefail

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-5}"
SIZE="${SIZE:-4096}"
BIG_MIB="${BIG_MIB:-64}"
SERVERS="${SERVERS:-porteiro moto}"

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

echo "== building (bench profile): the S3 bench"
BENCH="$(cargo bench -p porteiro-loadgen --bench s3 --no-run 2>&1 |
    sed -n 's/.*Executable benches\/s3.rs (\(.*\))/\1/p' | tail -n 1)"
[[ -n "$BENCH" ]] || { echo "could not build the S3 bench" >&2; exit 1; }
[[ "$BENCH" == /* ]] || BENCH="$ROOT_DIR/$BENCH"
ARGS=(--concurrency "$CONCURRENCY" --duration "$DURATION" --size "$SIZE" --big-mib "$BIG_MIB")

case " $SERVERS " in *" porteiro "*)
    "$BENCH" "${ARGS[@]}" --label porteiro ;;
esac

case " $SERVERS " in *" moto "*)
    command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not installed: pip install 'moto[server]'" >&2; exit 1; }
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    LOG="$(mktemp "${TMPDIR:-/tmp}/moto-s3.XXXXXX.log")"
    moto_server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
    MOTO=$!
    trap 'kill "$MOTO" 2>/dev/null || true; wait "$MOTO" 2>/dev/null || true; rm -f "$LOG"' EXIT
    for _ in $(seq 1 300); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
        sleep 0.1
    done
    "$BENCH" "${ARGS[@]}" --endpoint "http://127.0.0.1:$PORT" --access-key AKIAIOSFODNN7EXAMPLE \
        --secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY --label moto ;;
esac
