//! Tests for the timer wheel: helpers at their boundaries, and behaviour (the model test is
//! in `model_tests.rs`).

use super::level::{MAX_RANGE, SLOTS_PER_LEVEL};
use super::slab::{List, Loc, NONE};
use super::*;

pub(super) const T30: u64 = 1 << 30;
pub(super) const T36: u64 = 1 << 36;
pub(super) const T40: u64 = 1 << 40;

impl<T> TimerWheel<T> {
    /// Walk one list, checking its links and that every entry says it is on `loc`; returns the
    /// deadlines in list order.
    fn check_list(&self, list: List, loc: Loc) -> Vec<u64> {
        let mut out = Vec::new();
        let mut prev = NONE;
        let mut key = list.head;
        while key != NONE {
            let e = self.slab.entry(key);
            assert!(e.value.is_some(), "vacant entry {key} on list {loc:?}");
            assert_eq!(
                e.loc, loc,
                "entry {key} on list {loc:?} says it is on {:?}",
                e.loc
            );
            assert_eq!(e.prev, prev, "entry {key} on {loc:?}: bad prev link");
            out.push(e.deadline);
            prev = key;
            key = e.next;
            assert!(out.len() <= self.len(), "cycle in list {loc:?}");
        }
        assert_eq!(list.tail, prev, "list {loc:?}: tail is not the last entry");
        out
    }

    /// Check every structural invariant the wheel relies on.
    pub(super) fn assert_invariants(&self) {
        let e = self.elapsed;
        let mut count = 0;
        let pending = self.check_list(self.pending, Loc::Pending);
        for &d in &pending {
            assert!(d <= e, "pending deadline {d} > elapsed {e}");
            assert!(d >= self.pending_floor, "pending deadline {d} below floor");
        }
        count += pending.len();
        let overflow = self.check_list(self.overflow, Loc::Overflow);
        for &d in &overflow {
            assert!(d > e, "overflow deadline {d} <= elapsed {e}");
            assert!(
                d >= self.overflow_floor,
                "overflow deadline {d} below floor"
            );
        }
        if !overflow.is_empty() {
            assert!(self.overflow_floor > e, "overflow floor not after elapsed");
        }
        count += overflow.len();
        let mut last_start = None;
        for (l, level) in self.levels.iter().enumerate() {
            for s in 0..SLOTS_PER_LEVEL {
                let list = level.slots[s];
                assert_eq!(
                    level.occupied & (1 << s) != 0,
                    !list.is_empty(),
                    "level {l} slot {s}: occupied bit disagrees with list"
                );
                let loc = Loc::Slot {
                    level: l as u8,
                    slot: s as u8,
                };
                for d in self.check_list(list, loc) {
                    assert!(d > e, "slot deadline {d} <= elapsed {e}");
                    assert_eq!(level_for(e, d), Some(l), "deadline {d} at wrong level");
                    assert_eq!(slot_for(d, l), s, "deadline {d} in wrong slot");
                    count += 1;
                }
            }
            if let Some(exp) = level.next_expiration(e) {
                assert!(exp.start > e, "level {l} expiration not after elapsed");
                if let Some(prev) = last_start {
                    assert!(prev < exp.start, "level {l} due before a lower level");
                }
                last_start = Some(exp.start);
            }
        }
        assert_eq!(count, self.len(), "entries on lists != len");
    }
}

pub(super) fn drain<T>(wheel: &mut TimerWheel<T>, now: u64) -> Vec<T> {
    let mut out = Vec::new();
    while let Some((_, v)) = wheel.poll(now) {
        out.push(v);
    }
    wheel.assert_invariants();
    out
}

// ---------------------------------------------------------------------------------------------
// Pure helpers.

#[test]
fn level_for_boundaries_from_zero() {
    assert_eq!(level_for(0, 1), Some(0));
    assert_eq!(level_for(0, 63), Some(0));
    assert_eq!(level_for(0, 64), Some(1));
    assert_eq!(level_for(0, 4095), Some(1));
    assert_eq!(level_for(0, 4096), Some(2));
    assert_eq!(level_for(0, T30 - 1), Some(4));
    assert_eq!(level_for(0, T30), Some(5));
    assert_eq!(level_for(0, T36 - 1), Some(5));
    assert_eq!(level_for(0, T36), None);
    assert_eq!(level_for(0, MAX_RANGE), None);
    assert_eq!(level_for(0, u64::MAX), None);
}

#[test]
fn level_for_relative_to_elapsed() {
    // Same 64-tick block: level 0 even when far into time.
    assert_eq!(level_for(64, 127), Some(0));
    assert_eq!(level_for(u64::MAX - 1, u64::MAX), Some(0));
    // One tick away but across a block boundary: level 1.
    assert_eq!(level_for(63, 64), Some(1));
    assert_eq!(level_for(4095, 4096), Some(2));
    // Across a 2^36 boundary the top level acts as a ring.
    assert_eq!(level_for(T36 - 1, T36), Some(5));
    assert_eq!(level_for(T30 + 5, T36 + T30 - 1), Some(5));
    assert_eq!(level_for(T30 + 5, T36 + T30), None);
    // u64::MAX is in top slot 2^34 - 1; the ring reaches 63 top slots ahead.
    assert_eq!(level_for(u64::MAX - T36 + 1, u64::MAX), Some(5));
    assert_eq!(level_for(u64::MAX - T36, u64::MAX), None);
}

#[test]
fn slot_for_boundaries() {
    assert_eq!(slot_for(63, 0), 63);
    assert_eq!(slot_for(64, 0), 0);
    assert_eq!(slot_for(64, 1), 1);
    assert_eq!(slot_for(4095, 1), 63);
    assert_eq!(slot_for(4096, 1), 0);
    assert_eq!(slot_for(4096, 2), 1);
    assert_eq!(slot_for(T36 - 1, 5), 63);
    assert_eq!(slot_for(T36, 5), 0);
    for level in 0..NUM_LEVELS {
        assert_eq!(slot_for(u64::MAX, level), 63);
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour.

#[test]
fn insert_and_poll_simple() {
    let mut w = TimerWheel::new();
    assert!(w.is_empty());
    let h = w.insert(5, 'a');
    assert_eq!(w.len(), 1);
    assert!(w.poll(4).is_none());
    assert_eq!(w.elapsed(), 4);
    assert_eq!(w.poll(5), Some((h, 'a')));
    assert!(w.poll(5).is_none());
    assert!(w.is_empty());
    w.assert_invariants();
}

#[test]
fn deadline_equal_to_now_fires() {
    for d in [1, 63, 64, 65, 4096, T30, T36, T36 + 1] {
        let mut w = TimerWheel::new();
        w.insert(d, d);
        assert!(w.poll(d - 1).is_none(), "deadline {d} fired early");
        assert_eq!(w.poll(d).map(|(_, v)| v), Some(d));
    }
}

#[test]
fn deadline_in_the_past_fires_at_next_poll() {
    let mut w = TimerWheel::new();
    assert!(w.poll(1000).is_none());
    let h = w.insert(50, "past");
    let h0 = w.insert(0, "zero");
    let h_now = w.insert(1000, "now");
    assert_eq!(w.next_deadline(), Some(0));
    // `now` below elapsed counts as elapsed.
    assert_eq!(w.poll(10), Some((h, "past")));
    assert_eq!(w.elapsed(), 1000);
    assert_eq!(w.poll(1000), Some((h0, "zero")));
    assert_eq!(w.poll(1000), Some((h_now, "now")));
    assert!(w.poll(1000).is_none());
}

#[test]
fn cancel_before_fire() {
    let mut w = TimerWheel::new();
    let a = w.insert(10, 1);
    let b = w.insert(5000, 2);
    let c = w.insert(T40, 3);
    let d = w.insert(10, 4);
    assert_eq!(w.cancel(a), Some(1));
    assert_eq!(w.cancel(b), Some(2));
    assert_eq!(w.cancel(c), Some(3));
    w.assert_invariants();
    assert_eq!(w.len(), 1);
    assert_eq!(w.cancel(a), None);
    assert_eq!(drain(&mut w, u64::MAX), vec![4]);
    assert_eq!(w.cancel(d), None);
}

#[test]
fn cancel_a_due_timer_in_the_ready_queue() {
    let mut w = TimerWheel::new();
    let a = w.insert(3, 'a');
    let b = w.insert(3, 'b');
    let c = w.insert(3, 'c');
    let (first, _) = w.poll(3).unwrap();
    let rest = [a, b, c]
        .into_iter()
        .filter(|&h| h != first)
        .collect::<Vec<_>>();
    assert!(w.cancel(rest[0]).is_some());
    w.assert_invariants();
    let (last, _) = w.poll(3).unwrap();
    assert_eq!(last, rest[1]);
    assert!(w.poll(3).is_none());
}

#[test]
fn stale_handles_after_fire_and_slot_reuse() {
    let mut w = TimerWheel::new();
    let h1 = w.insert(1, "first");
    assert_eq!(w.poll(1), Some((h1, "first")));
    assert_eq!(w.get(h1), None);
    assert_eq!(w.deadline(h1), None);
    assert_eq!(w.cancel(h1), None);
    // The vacated entry is reused; the old handle must not reach the new timer.
    let h2 = w.insert(100, "second");
    assert_eq!(h2.key, h1.key, "test expects the slab entry to be reused");
    assert_ne!(h1, h2);
    assert_eq!(w.get(h1), None);
    assert_eq!(w.deadline(h1), None);
    assert_eq!(w.cancel(h1), None);
    assert_eq!(w.get(h2), Some(&"second"));
    // Same after a cancel.
    assert_eq!(w.cancel(h2), Some("second"));
    let h3 = w.insert(7, "third");
    assert_eq!(h3.key, h2.key);
    assert_eq!(w.cancel(h2), None);
    assert_eq!(w.get(h3), Some(&"third"));
}

#[test]
fn get_and_deadline() {
    let mut w = TimerWheel::new();
    let deadlines = [0, 1, 64, 5000, T30 + 7, T36 - 1, T36, T40 + 3, u64::MAX];
    let handles: Vec<_> = deadlines.iter().map(|&d| w.insert(d, d)).collect();
    for (h, &d) in handles.iter().zip(&deadlines) {
        assert_eq!(w.deadline(*h), Some(d));
        assert_eq!(w.get(*h), Some(&d));
    }
    // Deadlines stay exact after cascading.
    drain(&mut w, T30 + 7);
    for (h, &d) in handles.iter().zip(&deadlines) {
        let expect = (d > T30 + 7).then_some(d);
        assert_eq!(w.deadline(*h), expect);
    }
}

#[test]
fn next_deadline_is_a_lower_bound() {
    let mut w = TimerWheel::new();
    assert_eq!(w.next_deadline(), None);
    w.insert(5000, ());
    let nd = w.next_deadline().unwrap();
    assert!(nd <= 5000 && nd > 0, "{nd}");
    w.insert(40, ());
    assert_eq!(w.next_deadline(), Some(40), "level 0 is exact");
    drain(&mut w, 40);
    // Now the 5000 timer is at a higher level: the bound is the slot start 4096.
    assert_eq!(w.next_deadline(), Some(4096));
    drain(&mut w, 4999);
    assert_eq!(w.next_deadline(), Some(5000));
    drain(&mut w, 5000);
    assert_eq!(w.next_deadline(), None);

    // Overflow list: its bound is the earliest far deadline.
    let h = w.insert(T40, ());
    assert_eq!(w.next_deadline(), Some(T40));
    w.insert(u64::MAX, ());
    assert_eq!(w.next_deadline(), Some(T40));
    // After cancelling, the bound is stale (still a lower bound) until time reaches it.
    w.cancel(h);
    assert_eq!(w.next_deadline(), Some(T40));
    assert!(drain(&mut w, T40).is_empty());
    assert_eq!(w.next_deadline(), Some(u64::MAX));
}

#[test]
fn far_future_timers_fire_exactly_on_time() {
    let mut w = TimerWheel::new();
    let a = w.insert(T40, "2^40");
    let b = w.insert(u64::MAX - 1, "max-1");
    let c = w.insert(u64::MAX, "max");
    w.assert_invariants();
    assert!(drain(&mut w, T40 - 1).is_empty());
    assert_eq!(w.poll(T40), Some((a, "2^40")));
    assert!(w.poll(T40).is_none());
    assert!(drain(&mut w, u64::MAX - 2).is_empty());
    assert_eq!(w.poll(u64::MAX - 1), Some((b, "max-1")));
    assert!(w.poll(u64::MAX - 1).is_none());
    assert_eq!(w.poll(u64::MAX), Some((c, "max")));
    assert!(w.poll(u64::MAX).is_none());
    assert!(w.is_empty());
    // At the end of time everything is due at once.
    let d = w.insert(u64::MAX, "late");
    assert_eq!(w.poll(0), Some((d, "late")));
}

#[test]
fn far_future_timer_in_small_steps_is_never_early() {
    let mut w = TimerWheel::new();
    let target = T40 + 12345;
    w.insert(target, ());
    let mut now = 0;
    while now < target - T30 {
        now += T30 / 3 + 17;
        assert!(w.poll(now).is_none(), "fired early at {now}");
        w.assert_invariants();
        let nd = w.next_deadline().unwrap();
        assert!(nd > now && nd <= target);
    }
    assert!(drain(&mut w, target - 1).is_empty());
    assert_eq!(drain(&mut w, target).len(), 1);
}

#[test]
fn jump_far_ahead_returns_everything_in_deadline_order() {
    let mut w = TimerWheel::new();
    let mut deadlines = vec![
        1,
        63,
        64,
        65,
        4095,
        4096,
        T30 - 1,
        T30,
        T36 - 1,
        T36,
        T36 + 1,
        T40,
        T40 + 1,
        3 * T40,
        u64::MAX / 2,
        u64::MAX - T36,
        u64::MAX - 1,
        u64::MAX,
    ];
    // Insert in a scrambled order.
    for (i, &d) in deadlines
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| i % 2 == 0)
    {
        w.insert(d, (d, i));
    }
    for (i, &d) in deadlines.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        w.insert(d, (d, i));
    }
    let fired: Vec<u64> = drain(&mut w, u64::MAX)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    deadlines.sort_unstable();
    assert_eq!(fired, deadlines);

    // Jump partway: exactly the due ones, the rest stay correctly filed.
    let mut w = TimerWheel::new();
    for &d in &deadlines {
        w.insert(d, d);
    }
    let fired = drain(&mut w, T40);
    assert_eq!(
        fired,
        deadlines
            .iter()
            .copied()
            .filter(|&d| d <= T40)
            .collect::<Vec<_>>()
    );
    let fired = drain(&mut w, u64::MAX - 1);
    assert_eq!(fired.len() + 1 + 12, deadlines.len());
    assert_eq!(drain(&mut w, u64::MAX), vec![u64::MAX]);
}

#[test]
fn timers_inserted_during_a_poll_loop_are_returned_by_it() {
    let mut w = TimerWheel::new();
    w.insert(10, 0);
    w.insert(20, 1);
    let mut seen = Vec::new();
    let mut next = 2;
    while let Some((_, v)) = w.poll(20) {
        seen.push(v);
        if next < 5 {
            // Due (<= now) but inserted mid-loop; and one not yet due.
            w.insert(15 + next, next);
            w.insert(21, 100 + next);
            next += 1;
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    assert_eq!(w.len(), 3);
    assert_eq!(drain(&mut w, 21).len(), 3);
}

#[test]
fn newly_due_timers_come_out_in_deadline_order() {
    let mut w = TimerWheel::new();
    let mut ds: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 10_007 + 1).collect();
    for &d in &ds {
        w.insert(d, d);
    }
    let fired = drain(&mut w, 10_007);
    ds.sort_unstable();
    assert_eq!(fired, ds);
}

#[test]
fn with_capacity_does_not_reallocate() {
    let mut w = TimerWheel::with_capacity(16);
    let cap = w.slab.capacity();
    assert!(cap >= 16);
    for round in 0..100u64 {
        let hs: Vec<_> = (0..16u64)
            .map(|i| w.insert(round * 1000 + i * 61, i))
            .collect();
        w.cancel(hs[3]);
        drain(&mut w, round * 1000 + 999);
        assert!(w.is_empty());
    }
    assert_eq!(w.slab.capacity(), cap);
}

#[test]
fn debug_is_a_summary() {
    struct NotDebug;
    let mut w = TimerWheel::default();
    w.insert(5, NotDebug);
    let s = format!("{w:?}");
    assert!(s.contains("elapsed: 0") && s.contains("len: 1"), "{s}");
}
