#!/usr/bin/env bash
# TLS's cost on the server, beside plaintext, with Python's ssl as the client (a TLS stack
# not written here): server instructions per framed-echo frame under callgrind (a count,
# not a time, so it repeats on a noisy machine), and resident memory per idle connection.
#
#   bash benches/tls_cost.sh [BIN] [FRAMES] [CONNS]
#
# BIN is a `netloop` built with the `tls` feature (the CLI's default build); FRAMES and then
# 3 x FRAMES 64-byte frames go over one connection, 16 in flight (the difference is the
# frames' own cost); CONNS idle connections are held open.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-./target/release/netloop}"
frames="${2:-20000}"
conns="${3:-500}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
port=19896
for mode in plain tls; do
    tls=()
    [ "$mode" = tls ] && tls=(--tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem")
    # Instructions per frame: two runs, FRAMES and 3 x FRAMES, so that the difference is the
    # frames' own cost (startup, the handshake and shutdown cancel out).
    counts=()
    for n in "$frames" $((3 * frames)); do
        RUST_LOG=info valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$mode" "$bin" serve \
            --framed "127.0.0.1:$port" "${tls[@]}" 2>"$dir/log.$mode" &
        server=$!
        for _ in $(seq 1 200); do grep -q 'framed echo service' "$dir/log.$mode" 2>/dev/null && break; sleep 0.1; done
        python3 benches/tls_peer.py echo "$mode" "$port" "$dir/cert.pem" "$n" >/dev/null
        kill -INT "$server"; wait "$server" || true
        counts+=("$( (callgrind_annotate "$dir/cg.$mode" 2>/dev/null || true) | grep 'PROGRAM TOTALS' | head -n1 | grep -oE '^[0-9,]+' | tr -d ,)")
    done
    per=$(( (counts[1] - counts[0]) / (2 * frames) ))
    fixed=$(( counts[0] - per * frames ))
    echo "$mode: $per server instructions per frame; $fixed for startup, handshake and shutdown"
    # Memory per idle connection.
    RUST_LOG=info "$bin" serve --framed "127.0.0.1:$port" "${tls[@]}" 2>"$dir/log2.$mode" &
    server=$!
    for _ in $(seq 1 100); do grep -q 'framed echo service' "$dir/log2.$mode" 2>/dev/null && break; sleep 0.1; done
    before=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    exec 3> >(python3 benches/tls_peer.py idle "$mode" "$port" "$dir/cert.pem" "$conns" > "$dir/idle.$mode")
    for _ in $(seq 1 600); do grep -q '^open' "$dir/idle.$mode" 2>/dev/null && break; sleep 0.1; done
    after=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    echo "$mode: $conns idle connections, $(( (after - before) * 1024 / conns )) bytes of server RSS each"
    echo >&3; exec 3>&-
    kill -INT "$server"; wait "$server" || true
done
