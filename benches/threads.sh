#!/usr/bin/env bash
# Framed-echo throughput of `netloop serve --threads 1` against `--threads 2`, one run each,
# with the load generator `netloop load` on the same machine.
#
#   bash benches/threads.sh [LOADPROCS]
#
# 64 connections in all (split across LOADPROCS load processes, default 1), 64-byte frames,
# 8 frames in flight per connection, 10 s measured after 1 s of warm-up. Prints frames per
# second and the server's CPU time for each thread count, and the ratio. On a machine with
# few cores the load generator competes with the server for them: say so when quoting.
set -euo pipefail
cd "$(dirname "$0")/.."
procs="${1:-1}"
cargo build --release --quiet --bin netloop

run() {
    local threads=$1
    RUST_LOG=warn ./target/release/netloop serve --threads "$threads" \
        --framed 127.0.0.1:19998 --tcp 127.0.0.1:19999 --udp 127.0.0.1:19997 2>/dev/null &
    local server=$!
    sleep 0.5
    local cpu0 cpu1 total=0 pids=() i
    cpu0=$(awk '{print $14+$15}' "/proc/$server/stat")
    for i in $(seq 1 "$procs"); do
        ./target/release/netloop load --addr 127.0.0.1:19998 --conns $((64 / procs)) --duration 10 \
            --size 64 --pipeline 8 --json >"/tmp/netloop-load.$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    cpu1=$(awk '{print $14+$15}' "/proc/$server/stat")
    for i in $(seq 1 "$procs"); do
        total=$((total + $(grep -o '"requests_per_s":[0-9]*' "/tmp/netloop-load.$i" | grep -o '[0-9]*')))
    done
    kill -INT "$server"
    wait "$server"
    echo "$total $(((cpu1 - cpu0)))"
}

read -r one cpu_one < <(run 1)
read -r two cpu_two < <(run 2)
echo "threads=1: $one frames/s, server CPU $((cpu_one / 100)).$((cpu_one % 100)) s"
echo "threads=2: $two frames/s, server CPU $((cpu_two / 100)).$((cpu_two % 100)) s"
awk -v a="$one" -v b="$two" 'BEGIN { printf "ratio threads=2 / threads=1: %.2f\n", b / a }'
