#!/usr/bin/env bash
# Server instructions per echoed frame (valgrind --tool=callgrind: a count, not a time, so it
# repeats on a noisy machine) for each `netloop` binary given: the framed echo under
# `netloop load` (64 connections x 8 in flight x 64 B) for SECS seconds, then SIGINT. The
# server's own exit log gives the frames it echoed; startup and shutdown are included, which
# a run of 100k+ frames makes small. PROTO=udp measures the UDP service instead (64 sockets x
# 4 in flight x 64 B, per datagram); PIPELINE sets the frames in flight per connection.
#
#   [PROTO=udp] [PIPELINE=16] bash benches/instructions_per_frame.sh [SECS] BIN...
set -euo pipefail
cd "$(dirname "$0")/.."
secs="$1"; shift
load=./target/release/netloop
[ -x "$load" ] || cargo build --release --quiet --bin netloop
for bin in "$@"; do
    out=$(mktemp -d)
    RUST_LOG=info valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" serve \
        --framed 127.0.0.1:19798 --tcp 127.0.0.1:19799 --udp 127.0.0.1:19797 2>"$out/log" &
    server=$!
    for _ in $(seq 1 100); do grep -q 'framed echo service' "$out/log" 2>/dev/null && break; sleep 0.1; done
    if [ "${PROTO:-framed}" = udp ]; then
        "$load" load --proto udp --addr 127.0.0.1:19797 --conns 64 --pipeline 4 --size 64 \
            --duration "$secs" --warmup 1 >/dev/null
        unit='datagrams in'
    else
        "$load" load --addr 127.0.0.1:19798 --conns 64 --pipeline "${PIPELINE:-8}" --size 64 \
            --duration "$secs" --warmup 1 >/dev/null
        unit='frames in'
    fi
    kill -INT "$server"; wait "$server" || true
    frames=$(grep -o 'stopped: .*' "$out/log" | grep -o "[0-9]* $unit" | grep -o '^[0-9]*')
    ir=$(grep -E '^(summary|totals):' "$out/cg" | head -1 | awk '{print $2}')
    awk -v ir="$ir" -v f="$frames" -v b="$bin" 'BEGIN{printf "%s: %d messages, %d instructions, %.0f instructions per message\n", b, f, ir, ir/f}'
    rm -rf "$out"
done
