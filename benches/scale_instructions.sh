#!/usr/bin/env bash
# S1's user-space instructions per frame as connections grow (callgrind counts instructions,
# so it repeats on a noisy machine): `netloop serve`'s framed echo under callgrind, with N
# connections open and RATE frames/s in all (open loop). The counters are zeroed once every
# connection is up and the warm-up is over (`callgrind_control -z`), and dumped SECS seconds
# later (`-d`): the instructions in between, over the frames in between (the server's own
# counters, read from its `--stats 1` lines at the two moments), exclude connection setup.
# Each size needs N descriptors on each side, and a few more.
#
#   bash benches/scale_instructions.sh [SECS] [RATE] N...      (default: 20 10000 1000 18000)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"; rate="${2:-10000}"; shift 2 || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 18000)
cargo build --release --quiet --bin netloop
bin=./target/release/netloop
ulimit -n "$(ulimit -Hn)"
frames_in() { grep -o '[0-9]* frames in' "$1" | tail -1 | grep -o '^[0-9]*' || echo 0; }
for n in "${sizes[@]}"; do
    out=$(mktemp -d)
    RUST_LOG=info valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" serve \
        --framed 127.0.0.1:19898 --tcp 127.0.0.1:19899 --udp 127.0.0.1:19897 --stats 1 2>"$out/log" &
    server=$!
    for _ in $(seq 1 200); do grep -q 'framed echo service' "$out/log" 2>/dev/null && break; sleep 0.1; done
    warm=$(( 5 + n / 2000 ))
    sources=$(( (n + 1999) / 2000 ))
    "$bin" load --addr 127.0.0.1:19898 --conns "$n" --pipeline 1 --size 64 --rate "$rate" \
        --sources "$sources" --warmup "$warm" --duration $(( secs + 4 )) >"$out/load" 2>&1 &
    load=$!
    sleep $(( warm + 2 ))
    callgrind_control -z "$server" >/dev/null 2>&1
    f0=$(frames_in "$out/log"); t0=$(date +%s.%N)
    sleep "$secs"
    f1=$(frames_in "$out/log"); t1=$(date +%s.%N)
    callgrind_control -d "$server" >/dev/null 2>&1
    wait "$load" || true
    kill -INT "$server"; wait "$server" || true
    part=$(ls "$out"/cg.* 2>/dev/null | sort | head -1)
    ir=$(grep -E '^(summary|totals):' "$part" | head -1 | awk '{print $2}')
    awk -v n="$n" -v ir="$ir" -v f=$(( f1 - f0 )) -v t="$(echo "$t1 - $t0" | bc)" 'BEGIN{printf "%6d connections: %d frames in %.1f s (stats lines a second apart), %d instructions, %.0f instructions per frame\n", n, f, t, ir, ir/f}'
    rm -rf "$out"
done
