#!/usr/bin/env bash
# The mutant check: does the simulation catch deliberate bugs?
#
# Each mutant below is one small, deliberate bug in the reactor. For each in turn, the
# script applies it, runs the randomized simulation with its targeted tests (`cargo test
# --test sim --test sim_shutdown --test sim_faults --test sim_output`) and then the `sim` fuzz target for FUZZ_SECONDS, reports
# which of them caught it (with the seed, or the executions the fuzzer needed), and puts
# the code back. The working tree is restored even if the script is interrupted.
#
# Run by hand (it is not part of .ci/run: it rebuilds the crate twice per mutant):
#
#     bash .ci/mutants.sh                 # every mutant, 60 s of fuzzing each
#     FUZZ_SECONDS=0 bash .ci/mutants.sh  # the tests only
#     bash .ci/mutants.sh deadline-late   # one mutant
#
# It exits non-zero if any mutant survives both, or no longer applies.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}

# Each mutant: a name, a file, the exact text (found once), and what replaces it.
NAMES=() FILES=() OLDS=() NEWS=()
mutant() { NAMES+=("$1"); FILES+=("$2"); OLDS+=("$3"); NEWS+=("$4"); }

# A deadline a few milliseconds late, then early (every kind of timeout).
mutant deadline-late src/conn/clocks.rs \
    'self.limits.get(kind).and_then(|t| last.checked_add(t))' \
    'self.limits.get(kind).and_then(|t| last.checked_add(t + Duration::from_millis(3)))'
mutant deadline-early src/conn/clocks.rs \
    'self.limits.get(kind).and_then(|t| last.checked_add(t))' \
    'self.limits.get(kind).and_then(|t| last.checked_add(t.saturating_sub(Duration::from_millis(3))))'
# A write interrupted by a signal (EINTR) closes the connection instead of trying again.
mutant eintr-closes-writer src/buf/mod.rs \
    '                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (written, Some(e)),' \
    '                Err(e) => return (written, Some(e)),'
# The poll forgets the precise timers (a timerfd not re-armed, in the simulation's terms):
# it may sleep past their deadlines.
mutant precise-timer-oversleeps src/reactor/timers.rs \
    '[wheel, precise, max_wait].into_iter().flatten().min()' \
    '[wheel, max_wait].into_iter().flatten().min().or(precise.map(|_| Duration::MAX))'
# A closing connection keeps its share of the input budget.
mutant budget-leak-on-close src/conn/input.rs \
    '        budget.recharge(self.charge, 0);' \
    '        let _ = budget;'
# A datagram reply skips the ones queued ahead of it (order lost under a full buffer).
mutant datagram-jumps-the-queue src/reactor/dgram.rs \
    '        if self.queue.is_empty() {' \
    '        if self.queue.len() < usize::MAX {'
# The balance places a connection on the most loaded reactor instead of the least.
mutant balance-picks-the-busiest src/reactor/balance.rs \
    'if load < best_load {' \
    'if best_load == usize::MAX || load > best_load {'
# Descriptors received on a connection that is closing (its input discarded) are never
# closed.
mutant fds-leak-on-close src/reactor/turn.rs \
    '                "{} descriptors closed unread: the connection is not taking input",
                fds.len()
            );' \
    '                "{} descriptors closed unread: the connection is not taking input",
                fds.len()
            );
            std::mem::forget(fds);'
# A short receive batch is taken to prove the socket drained (it does not: an error ends a
# batch early, with datagrams still queued and no new edge).
mutant short-batch-drained src/reactor/turn.rs \
    '            // still queued. So the loop goes on until `WouldBlock`, like the single path.
        }' \
    '            // still queued. So the loop goes on until `WouldBlock`, like the single path.
            if n < 16 {
                break;
            }
        }'

# The read half of a readable-and-writable event forgets the writable half: output waiting
# for room stays queued when the read writes nothing (a line echo given no line end). The
# random sessions rarely make that event; the simulation's targeted test does.
mutant read-forgets-writable src/reactor/core/mod.rs \
    'let flush = writable && conn.wants_flush(&StreamIo::new(sock));' \
    'let flush = writable && conn.wants_flush(&StreamIo::new(sock)) && false;'

restore() {
    if [ -n "${SAVED:-}" ] && [ -f "$SAVED" ]; then
        cp "$SAVED" "$FILE"
        rm -f "$SAVED"
    fi
}
trap restore EXIT INT TERM

apply() { # file old new: replace exactly one occurrence, or fail
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
s = open(path).read()
if s.count(old) != 1:
    sys.exit(f"the text occurs {s.count(old)} times in {path}, not once")
open(path, "w").write(s.replace(old, new))
EOF
}

only=${1:-}
survivors=0
printf '%-26s %-44s %s\n' mutant "simulation tests" "fuzz target sim"
for i in "${!NAMES[@]}"; do
    NAME=${NAMES[$i]} FILE=${FILES[$i]} OLD=${OLDS[$i]} NEW=${NEWS[$i]}
    if [ -n "$only" ] && [ "$only" != "$NAME" ]; then continue; fi
    SAVED=$(mktemp)
    cp "$FILE" "$SAVED"
    if ! apply "$FILE" "$OLD" "$NEW"; then
        printf '%-26s no longer applies\n' "$NAME"
        survivors=$((survivors + 1))
        restore
        continue
    fi
    log=$(mktemp)
    if cargo test -q -p netloop --test sim --test sim_shutdown --test sim_faults --test sim_output >"$log" 2>&1; then
        tests="survived"
    else
        failed=$(grep -oE "^[a-z0-9_]+ --- FAILED" "$log" | wc -l)
        first=$(grep -m1 -oE "^[a-z0-9_]+ --- FAILED" "$log" | cut -d' ' -f1)
        seed=$(grep -m1 -oE "^seed [0-9]+" "$log")
        if [ "$failed" -gt 0 ]; then
            tests="caught by $failed tests, e.g. $first${seed:+ ($seed)}"
        else
            tests="build failed"
        fi
    fi
    fuzz="skipped"
    if [ "$FUZZ_SECONDS" -gt 0 ]; then
        corpus=$(mktemp -d)
        cp tests/corpus/sim/* "$corpus"/ 2>/dev/null
        (cd fuzz && cargo +nightly fuzz run sim "$corpus" -- \
            -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 >"$log.fuzz" 2>&1)
        execs=$(grep -oE "number_of_executed_units: *[0-9]+" "$log.fuzz" | grep -oE "[0-9]+$" | tail -1)
        # A crash prints no final stats: take the last progress line's count.
        [ -n "$execs" ] || execs=$(grep -oE "^#[0-9]+" "$log.fuzz" | tail -1 | tr -d '#')
        if grep -q "panicked at\|deadly signal\|ERROR: libFuzzer" "$log.fuzz"; then
            fuzz="caught after ${execs:-?} executions"
        else
            fuzz="survived ${execs:-?} executions"
        fi
        rm -rf "$corpus" "$log.fuzz" fuzz/artifacts/sim
    fi
    printf '%-26s %-44s %s\n' "$NAME" "$tests" "$fuzz"
    case "$tests $fuzz" in
    *caught*) ;;
    *) survivors=$((survivors + 1)) ;;
    esac
    rm -f "$log"
    restore
done
if [ "$survivors" -gt 0 ]; then
    echo "$survivors mutant(s) survived or no longer apply"
    exit 1
fi
echo "every mutant was caught"
