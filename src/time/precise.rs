//! [`PreciseTimers`]: a small heap of timers with exact deadlines, for the reactor's
//! sub-millisecond timers.
//!
//! The [`TimerWheel`](super::TimerWheel) counts whole ticks (a millisecond in the reactor),
//! which is right for many cheap timeouts that only need to be roughly on time. A program
//! that needs a timer 250 µs out needs the deadline kept exactly, and such timers are few.
//! So they live here: a binary heap ordered by deadline, with the timers themselves in a slab
//! so that a handle can cancel one in O(1).
//!
//! # Data flow
//!
//! [`insert`](PreciseTimers::insert) puts the timer in a slab entry and pushes
//! `(deadline, key, generation)` on the heap. [`cancel`](PreciseTimers::cancel) empties the
//! slab entry only; its heap entry stays, now stale, and is dropped when it reaches the top
//! (lazy deletion: `cancel` and `poll` leave a live entry, or none, on top).
//! [`next_deadline`](PreciseTimers::next_deadline) reports the top's deadline, which the
//! reactor turns into its wait
//! (see `reactor::timers`: a `timerfd` when the wait must be finer than a millisecond);
//! [`poll`](PreciseTimers::poll) hands out the due timers one at a time, earliest first.
//! Ties go in insertion order.
//!
//! Like the wheel, this is pure data: it never reads a clock. Deadlines are any ordered,
//! copyable value (`Instant` in the reactor, integers in tests).
//!
//! # Costs
//!
//! `insert` and `poll` are O(log n). `cancel` is O(1) plus, amortised, the O(log n) removal
//! of its stale heap entry; stale entries are also swept all at once whenever they outnumber
//! the live ones (and there are more than a few), so the heap stays within about twice the
//! live count.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Handle to a timer in a [`PreciseTimers`]: its slab key and that entry's generation, so a
/// handle to a timer that fired or was cancelled never reaches a newer timer in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PreciseHandle {
    key: u32,
    gen: u32,
}

#[derive(Debug)]
struct Slot<D, T> {
    deadline: D,
    gen: u32,
    value: Option<T>,
}

/// A heap entry: ordered by deadline, then by insertion sequence (ties in insertion order).
type HeapEntry<D> = Reverse<(D, u64, u32, u32)>;

/// Timers with exact deadlines (see the module docs).
#[derive(Debug)]
pub struct PreciseTimers<D, T> {
    heap: BinaryHeap<HeapEntry<D>>,
    slots: Vec<Slot<D, T>>,
    /// Vacant slot keys, reused last-in first-out.
    free: Vec<u32>,
    live: usize,
    /// Insertion counter: orders equal deadlines.
    seq: u64,
}

impl<D: Ord + Copy, T> Default for PreciseTimers<D, T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Sweep stale heap entries once there are more than this many and more than live ones.
const SWEEP_MIN: usize = 64;

impl<D: Ord + Copy, T> PreciseTimers<D, T> {
    /// An empty set; allocates nothing until the first insert.
    pub fn new() -> Self {
        PreciseTimers {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            seq: 0,
        }
    }

    /// Live timers (inserted, not yet fired or cancelled).
    pub fn len(&self) -> usize {
        self.live
    }

    /// No live timers?
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Add a timer due at `deadline`. A deadline already passed fires at the next `poll`.
    ///
    /// # Panics
    ///
    /// If more than `u32::MAX` timers are live at once.
    pub fn insert(&mut self, deadline: D, value: T) -> PreciseHandle {
        let key = match self.free.pop() {
            Some(key) => {
                let slot = &mut self.slots[key as usize];
                slot.deadline = deadline;
                slot.value = Some(value);
                key
            }
            None => {
                let key = u32::try_from(self.slots.len()).expect("too many precise timers");
                self.slots.push(Slot {
                    deadline,
                    gen: 0,
                    value: Some(value),
                });
                key
            }
        };
        let gen = self.slots[key as usize].gen;
        self.seq += 1;
        self.heap.push(Reverse((deadline, self.seq, key, gen)));
        self.live += 1;
        PreciseHandle { key, gen }
    }

    /// Cancel a timer, returning its value; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, handle: PreciseHandle) -> Option<T> {
        let value = self.vacate(handle)?;
        let stale = self.heap.len() - self.live;
        if stale > SWEEP_MIN && stale > self.live {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse((_, _, key, gen))| Self::is_live(slots, *key, *gen));
        }
        self.prune_top();
        Some(value)
    }

    /// The deadline of a live timer.
    pub fn deadline(&self, handle: PreciseHandle) -> Option<D> {
        let slot = self.slots.get(handle.key as usize)?;
        (slot.gen == handle.gen && slot.value.is_some()).then_some(slot.deadline)
    }

    /// The value of a live timer.
    pub fn get(&self, handle: PreciseHandle) -> Option<&T> {
        let slot = self.slots.get(handle.key as usize)?;
        if slot.gen == handle.gen {
            slot.value.as_ref()
        } else {
            None
        }
    }

    /// The earliest deadline of a live timer.
    pub fn next_deadline(&self) -> Option<D> {
        // The top is always live (see `prune_top`).
        self.heap.peek().map(|Reverse((deadline, ..))| *deadline)
    }

    /// The earliest timer due by `now` (deadline `<= now`), removed; `None` if none is due.
    pub fn poll(&mut self, now: D) -> Option<(PreciseHandle, T)> {
        let Reverse((deadline, _, key, gen)) = *self.heap.peek()?;
        if deadline > now {
            return None;
        }
        self.heap.pop();
        let handle = PreciseHandle { key, gen };
        let value = self.vacate(handle);
        self.prune_top();
        value.map(|v| (handle, v))
    }

    /// Drop stale entries from the top of the heap, so that the top is live (or none is left).
    fn prune_top(&mut self) {
        while let Some(Reverse((_, _, key, gen))) = self.heap.peek() {
            if Self::is_live(&self.slots, *key, *gen) {
                break;
            }
            self.heap.pop();
        }
    }

    fn is_live(slots: &[Slot<D, T>], key: u32, gen: u32) -> bool {
        slots
            .get(key as usize)
            .is_some_and(|s| s.gen == gen && s.value.is_some())
    }

    /// Empty a live timer's slot and put it on the free list.
    fn vacate(&mut self, handle: PreciseHandle) -> Option<T> {
        let slot = self.slots.get_mut(handle.key as usize)?;
        if slot.gen != handle.gen {
            return None;
        }
        let value = slot.value.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(handle.key);
        self.live -= 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn fires_in_deadline_order_ties_in_insertion_order() {
        let mut t = PreciseTimers::new();
        t.insert(30u64, "c");
        t.insert(10, "a");
        t.insert(30, "d");
        t.insert(20, "b");
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(t.poll(9), None);
        let fired: Vec<_> = std::iter::from_fn(|| t.poll(30).map(|(_, v)| v)).collect();
        assert_eq!(fired, ["a", "b", "c", "d"]);
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn stale_handles_reach_nothing() {
        let mut t = PreciseTimers::new();
        let a = t.insert(5u64, 1);
        assert_eq!(t.cancel(a), Some(1));
        assert_eq!(t.cancel(a), None);
        // The slot is reused; the old handle must not cancel the new timer.
        let b = t.insert(7, 2);
        assert_eq!(t.cancel(a), None);
        assert_eq!(t.get(a), None);
        assert_eq!(t.deadline(b), Some(7));
        assert_eq!(t.next_deadline(), Some(7));
        let (h, v) = t.poll(7).expect("due");
        assert_eq!((h, v), (b, 2));
        assert_eq!(t.cancel(b), None);
    }

    #[test]
    fn cancelled_entries_are_swept() {
        let mut t = PreciseTimers::new();
        let hs: Vec<_> = (0..1000u64).map(|i| t.insert(i, i)).collect();
        for h in &hs[..990] {
            t.cancel(*h);
        }
        assert_eq!(t.len(), 10);
        assert!(t.heap.len() <= 2 * SWEEP_MIN + 10, "heap {}", t.heap.len());
        assert_eq!(t.next_deadline(), Some(990));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Cancel(usize),
        Poll(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u16>().prop_map(Op::Insert),
            any::<usize>().prop_map(Op::Cancel),
            any::<u16>().prop_map(Op::Poll),
        ]
    }

    proptest! {
        /// Against a sorted map of (deadline, insertion number): the same timers fire in the
        /// same order, cancels agree, and the next deadline agrees after every step.
        #[test]
        fn agrees_with_a_sorted_map(ops in proptest::collection::vec(op(), 1..300)) {
            let mut t = PreciseTimers::new();
            let mut model = BTreeMap::new();
            let mut handles = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(d) => {
                        let h = t.insert(u64::from(d), n);
                        model.insert((u64::from(d), n), n);
                        handles.push((h, u64::from(d), n));
                    }
                    Op::Cancel(i) if !handles.is_empty() => {
                        let (h, d, id) = handles[i % handles.len()];
                        prop_assert_eq!(t.cancel(h), model.remove(&(d, id)));
                    }
                    Op::Cancel(_) => {}
                    Op::Poll(now) => {
                        let now = u64::from(now);
                        loop {
                            let want = model.first_key_value()
                                .filter(|((d, _), _)| *d <= now)
                                .map(|(k, v)| (*k, *v));
                            let got = t.poll(now).map(|(_, v)| v);
                            prop_assert_eq!(got, want.map(|(_, v)| v));
                            match want {
                                Some((k, _)) => { model.remove(&k); }
                                None => break,
                            }
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                prop_assert_eq!(t.next_deadline(), model.keys().next().map(|(d, _)| *d));
            }
        }
    }
}
