//! The timer wheel's model test: random sequences of inserts, cancels and advances (far
//! deadlines, cascades and overflow included), run on the wheel and on a sorted map, which
//! must agree after every step; the wheel's invariants are checked throughout.

use super::tests::{drain, T30, T36, T40};
use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// One step of a model test.
#[derive(Clone, Debug)]
pub(super) enum Op {
    /// Insert a timer `delta` ticks after the current time (`past`: before it), saturating.
    Insert { delta: u64, past: bool },
    /// Cancel the timer of the `index % len`-th handle ever issued (it may be stale).
    Cancel { index: usize },
    /// Advance by `delta` and drain the poll loop. If `insert_during` is set, the first
    /// returned timer triggers an insert that far before the new `now`, which the same loop must
    /// return.
    Advance {
        delta: u64,
        insert_during: Option<u64>,
    },
    /// Advance by `delta` but poll at most `polls` times, leaving due timers queued.
    AdvancePartial { delta: u64, polls: u8 },
}

type Model = BTreeMap<(u64, u64), ()>;

/// Insert into both the wheel and the model; returns the new timer's sequence number.
fn model_insert(
    wheel: &mut TimerWheel<u64>,
    model: &mut Model,
    handles: &mut Vec<(TimerHandle, u64)>,
    deadline: u64,
) -> u64 {
    let seq = handles.len() as u64;
    let h = wheel.insert(deadline, seq);
    assert_eq!(wheel.deadline(h), Some(deadline));
    handles.push((h, deadline));
    model.insert((deadline, seq), ());
    seq
}

/// Run `ops` on a wheel whose time starts at `start` and on a `BTreeMap` model, asserting
/// after every step that they agree. Panics on the first disagreement.
pub(super) fn run_model(start: u64, ops: &[Op]) {
    let mut wheel: TimerWheel<u64> = TimerWheel::new();
    // (deadline, seq) of every live timer; seq is the index into `handles`.
    let mut model: Model = BTreeMap::new();
    let mut handles: Vec<(TimerHandle, u64)> = Vec::new();
    assert!(wheel.poll(start).is_none());
    let mut now = start;

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert { delta, past } => {
                let d = if past {
                    now.saturating_sub(delta)
                } else {
                    now.saturating_add(delta)
                };
                model_insert(&mut wheel, &mut model, &mut handles, d);
            }
            Op::Cancel { index } => {
                if handles.is_empty() {
                    continue;
                }
                let seq = index % handles.len();
                let (h, d) = handles[seq];
                let live = model.remove(&(d, seq as u64)).is_some();
                assert_eq!(
                    wheel.cancel(h),
                    live.then_some(seq as u64),
                    "step {step}: cancel of timer {seq} (deadline {d}, live {live})"
                );
            }
            Op::Advance { .. } | Op::AdvancePartial { .. } => {
                let (delta, limit, mut insert_during) = match *op {
                    Op::Advance {
                        delta,
                        insert_during,
                    } => (delta, usize::MAX, insert_during),
                    Op::AdvancePartial { delta, polls } => (delta, usize::from(polls), None),
                    _ => unreachable!(),
                };
                let prev = now;
                now = now.saturating_add(delta);
                let mut during = HashSet::new();
                let mut seen_fresh = false;
                let mut last_fresh = 0;
                let mut polled = 0;
                while polled < limit {
                    let Some((h, seq)) = wheel.poll(now) else {
                        break;
                    };
                    polled += 1;
                    let (handle, d) = handles[seq as usize];
                    assert_eq!(h, handle, "step {step}: wrong handle for timer {seq}");
                    assert!(
                        d <= now,
                        "step {step}: timer {seq} due {d} fired early at {now}"
                    );
                    assert!(
                        model.remove(&(d, seq)).is_some(),
                        "step {step}: timer {seq} returned twice or after cancel"
                    );
                    assert_eq!(wheel.get(h), None);
                    // Order: queued-before timers first, then newly due ones by deadline.
                    if !during.contains(&seq) {
                        if d > prev {
                            assert!(
                                !seen_fresh || d >= last_fresh,
                                "step {step}: newly due {d} after {last_fresh}"
                            );
                            seen_fresh = true;
                            last_fresh = d;
                        } else {
                            assert!(!seen_fresh, "step {step}: old timer {d} after new ones");
                        }
                    }
                    if let Some(back) = insert_during.take() {
                        let d = now.saturating_sub(back);
                        let s = model_insert(&mut wheel, &mut model, &mut handles, d);
                        during.insert(s);
                    }
                }
                assert_eq!(wheel.elapsed(), now);
                if limit == usize::MAX {
                    assert!(
                        model.range(..=(now, u64::MAX)).next().is_none(),
                        "step {step}: poll loop at {now} missed due timers {:?}",
                        model.range(..=(now, u64::MAX)).collect::<Vec<_>>()
                    );
                }
                for (seq, &(h, d)) in handles.iter().enumerate() {
                    let live = model.contains_key(&(d, seq as u64));
                    assert_eq!(wheel.deadline(h), live.then_some(d), "step {step}");
                    assert_eq!(wheel.get(h), live.then_some(&(seq as u64)), "step {step}");
                }
            }
        }
        wheel.assert_invariants();
        assert_eq!(wheel.len(), model.len(), "step {step}: len");
        let next = wheel.next_deadline();
        match model.keys().next() {
            None => assert_eq!(next, None, "step {step}: next_deadline of empty wheel"),
            Some(&(min, _)) => {
                let next = next.expect("next_deadline is None but timers are live");
                assert!(next <= min, "step {step}: next_deadline {next} > min {min}");
                // Nothing is due: the reactor must not be told to wake immediately.
                if min > now {
                    assert!(next > now, "step {step}: next_deadline {next} <= now {now}");
                }
            }
        }
    }
    // Finally everything must come out.
    let rest = drain(&mut wheel, u64::MAX);
    assert_eq!(rest.len(), model.len());
}

/// Deltas mixing small, medium and huge values, so every level and the overflow list are used.
fn delta(near_max_weight: u32) -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0..100u64,
        4 => 0..100_000u64,
        3 => 0..T40,
        1 => prop::sample::select(vec![
            63, 64, 65, 4095, 4096, T30 - 1, T30, T36 - 1, T36, T36 + 1, T40,
        ]),
        1 => 0..(1u64 << 62),
        near_max_weight => (u64::MAX - T36)..=u64::MAX,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (delta(1), prop::bool::weighted(0.1))
            .prop_map(|(delta, past)| Op::Insert { delta, past }),
        3 => any::<usize>().prop_map(|index| Op::Cancel { index }),
        4 => (delta(0), prop::option::weighted(0.2, 0..200u64))
            .prop_map(|(delta, insert_during)| Op::Advance { delta, insert_during }),
        1 => (delta(0), 1..5u8).prop_map(|(delta, polls)| Op::AdvancePartial { delta, polls }),
    ]
}

/// Start times: zero, arbitrary, just before a 2^36 boundary, and near the end of time.
fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        any::<u64>().prop_map(|t| t >> 2),
        (1..1000u64, 0..200u64).prop_map(|(k, back)| k * T36 - back),
        (0..T40).prop_map(|back| u64::MAX - back),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn wheel_matches_model(start in start(), ops in prop::collection::vec(op(), 1..400)) {
        run_model(start, &ops);
    }
}

#[test]
fn model_regressions() {
    // Cascade through every level, then a jump far past everything.
    run_model(
        0,
        &[
            Op::Insert {
                delta: 5000,
                past: false,
            },
            Op::Insert {
                delta: T36 + 5,
                past: false,
            },
            Op::Insert {
                delta: u64::MAX,
                past: false,
            },
            Op::Advance {
                delta: 4096,
                insert_during: None,
            },
            Op::Insert {
                delta: 3,
                past: true,
            },
            Op::AdvancePartial {
                delta: 1000,
                polls: 1,
            },
            Op::Cancel { index: 1 },
            Op::Advance {
                delta: T40,
                insert_during: Some(7),
            },
        ],
    );
    // Crossing a 2^36 boundary with ring entries "behind" the current top slot.
    run_model(
        T36 - 10,
        &[
            Op::Insert {
                delta: 20,
                past: false,
            },
            Op::Insert {
                delta: T36 - 1,
                past: false,
            },
            Op::Insert {
                delta: T36 + T30,
                past: false,
            },
            Op::Advance {
                delta: 15,
                insert_during: None,
            },
            Op::Advance {
                delta: T36,
                insert_during: None,
            },
            Op::Advance {
                delta: T36,
                insert_during: None,
            },
        ],
    );
}
