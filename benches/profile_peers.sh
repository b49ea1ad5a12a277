#!/usr/bin/env bash
# Instructions and system calls per echoed frame for the echo bench's servers, under
# valgrind --tool=callgrind (counts, not times, so they repeat on a noisy machine): each
# server (the bench binary re-executed as NETLOOP_BENCH_SERVE=<peer>) serves W2's load, 64
# connections x 16 in flight x 64 B from `netloop load`, for SECS seconds. System calls are
# the calls into the C library's entry points (benches/syscalls_from_callgrind.py). Under
# valgrind a server runs some 50x slower, so each read finds more frames waiting than it
# would natively: compare the servers with each other, not with the native bench.
#
#   bash benches/profile_peers.sh [SECS] [PEER...]      (default: 3 netloop tokio-ct mio-loop)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-3}"
shift || true
peers="${*:-netloop tokio-ct mio-loop}"
cargo build --release --quiet --bin netloop
cargo bench --bench echo --no-run --quiet 2>/dev/null
bin=$(ls -t target/release/deps/echo-* | grep -v '\.d$' | head -1)
for peer in $peers; do
    out=$(mktemp -d)
    NETLOOP_BENCH_SERVE="$peer" valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        "$bin" >"$out/ready" 2>"$out/vg" &
    server=$!
    for _ in $(seq 1 200); do grep -q READY "$out/ready" 2>/dev/null && break; sleep 0.1; done
    addr=$(awk '{print $2}' "$out/ready")
    ./target/release/netloop load --addr "$addr" --conns 64 --pipeline 16 --size 64 \
        --duration "$secs" --warmup 0 --json >"$out/load.json"
    kill -TERM "$server"; wait "$server" || true
    frames=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'])" "$out/load.json")
    ir=$(grep -E '^(summary|totals):' "$out/cg" | head -1 | awk '{print $2}')
    calls=$(python3 benches/syscalls_from_callgrind.py "$out/cg" | awk '/^total/{print $2}')
    awk -v p="$peer" -v f="$frames" -v ir="$ir" -v c="$calls" 'BEGIN{printf "%-12s %9d frames  %6.1f instructions/frame  %6.3f syscalls/frame\n", p, f, ir/f, c/f}'
    rm -rf "$out"
done
