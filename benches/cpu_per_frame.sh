#!/usr/bin/env bash
# Server CPU per echoed frame of two `netloop` binaries, side by side in one run: for each
# round, a fresh server of each binary (pinned to CPU 0) serves the framed echo to the load
# generator `netloop load` of this tree (pinned to CPU 1): 64 connections x 8 frames in flight x 64 B,
# SECS seconds. Prints, per binary, the median over ROUNDS of server CPU (user+system) per
# frame, and the ratio. Rounds alternate A and B so that drift on a shared machine hits both.
#
#   bash benches/cpu_per_frame.sh A_BIN B_BIN [ROUNDS] [SECS]
#
# Example, this tree against an older build:
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
#   cargo build --release --bin netloop
#   bash benches/cpu_per_frame.sh /tmp/old/target/release/netloop target/release/netloop
set -euo pipefail
cd "$(dirname "$0")/.."
a="$1"; b="$2"; rounds="${3:-5}"; secs="${4:-5}"
load=./target/release/netloop
[ -x "$load" ] || cargo build --release --quiet --bin netloop
tick=$(getconf CLK_TCK)

one() {  # one run of binary $1: prints "frames cpu_ticks"
    RUST_LOG=warn taskset -c 0 "$1" serve --framed 127.0.0.1:19898 --tcp 127.0.0.1:19899 \
        --udp 127.0.0.1:19897 2>/dev/null &
    local server=$!
    sleep 0.5
    local c0 c1 out frames loadpid tmp
    tmp=$(mktemp)
    taskset -c 1 "$load" load --addr 127.0.0.1:19898 --conns 64 --pipeline 8 --size 64 \
        --duration "$secs" --warmup 1 --json >"$tmp" &
    loadpid=$!
    # The load generator warms up for one second before it counts frames: so does this.
    sleep 1
    c0=$(awk '{print $14+$15}' "/proc/$server/stat")
    wait "$loadpid"
    c1=$(awk '{print $14+$15}' "/proc/$server/stat")
    out=$(cat "$tmp"); rm -f "$tmp"
    kill -INT "$server"; wait "$server" || true
    frames=$(echo "$out" | grep -o '"requests":[0-9]*' | grep -o '[0-9]*')
    echo "$frames $((c1 - c0))"
}

ra=(); rb=(); rr=()
for i in $(seq 1 "$rounds"); do
    read -r f t < <(one "$a"); ra+=("$(awk -v f="$f" -v t="$t" -v k="$tick" 'BEGIN{printf "%.1f", t/k*1e9/f}')")
    read -r f t < <(one "$b"); rb+=("$(awk -v f="$f" -v t="$t" -v k="$tick" 'BEGIN{printf "%.1f", t/k*1e9/f}')")
    rr+=("$(awk -v a="${ra[-1]}" -v b="${rb[-1]}" 'BEGIN{printf "%.3f", b/a}')")
    echo "round $i: A ${ra[-1]} ns/frame, B ${rb[-1]} ns/frame, B/A ${rr[-1]}"
done
med() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
ma=$(med "${ra[@]}"); mb=$(med "${rb[@]}")
echo "A ($a): median server CPU per frame $ma ns"
echo "B ($b): median server CPU per frame $mb ns"
awk -v a="$ma" -v b="$mb" 'BEGIN{printf "ratio of the medians B/A: %.3f\n", b/a}'
# Each round's pair ran back to back, so the median of the per-round ratios is less
# sensitive to the machine's load drifting between rounds.
echo "median of the per-round ratios B/A: $(med "${rr[@]}")"
