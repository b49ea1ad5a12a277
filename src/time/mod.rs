//! Hierarchical timer wheel: the reactor's store of pending timeouts; and, beside it,
//! [`PreciseTimers`], a heap for the few timers that must keep exact, sub-millisecond
//! deadlines (`precise.rs`).
//!
//! The reactor needs to (a) schedule and cancel many timeouts cheaply (every connection has an
//! idle timeout that is re-armed on each read), (b) know how long it may block in the OS poll
//! call, and (c) after waking, collect every timeout that has expired. [`TimerWheel`] does this
//! as a pure data structure: it never reads a clock and makes no system calls. Time is an
//! abstract `u64` tick count supplied by the caller.
//!
//! # Data flow
//!
//! [`TimerWheel::insert`] stores the timer in a slab entry and links it into the list of one
//! *slot*, chosen from its deadline and the wheel's current time ([`TimerWheel::elapsed`]).
//! Near deadlines go into fine-grained slots, far ones into coarse slots. As
//! [`TimerWheel::poll`] advances time, each coarse slot that time reaches is *cascaded*: its
//! timers are re-filed into finer slots, until a timer reaches a slot of exactly one tick and
//! time reaches that tick. Then it moves to the *ready queue*, from which `poll` hands out one
//! timer per call. A timer whose deadline is already reached when it is inserted goes straight
//! to the ready queue. [`TimerWheel::cancel`] unlinks a timer from whichever list it is on.
//!
//! # Geometry
//!
//! There are `NUM_LEVELS` = 6 levels of `SLOTS_PER_LEVEL` = 64 slots (`LEVEL_BITS` = 6 bits of
//! the deadline per level). A slot of level `l` spans `64^l` ticks, so level 0 has 1-tick slots
//! and covers 64 ticks, level 1 has 64-tick slots and covers 4096 ticks, ..., and level 5 has
//! 2^30-tick slots and covers `MAX_RANGE` = 2^36 ticks (about 2.2 years at 1 ms per tick).
//! A timer is filed at the lowest level whose slots separate its deadline from the current
//! time: precisely, at the level containing the highest bit in which deadline and current time
//! differ (ignoring bits below 6, so anything in the current 64-tick block goes to level 0),
//! in the slot given by the deadline's 6 bits at that level. The slot that contains the
//! current time is therefore always empty, and every timer at a lower level is due before
//! every timer at a higher level. Each level keeps a `u64` bitmap of its non-empty slots, so
//! the next slot with work is found with a rotate and a `trailing_zeros`.
//!
//! # Costs
//!
//! `insert` and `cancel` are O(1) (bit arithmetic and a linked-list push or unlink by slab
//! key); `insert` allocates only when the slab must grow, and nothing else allocates after
//! construction (`with_capacity` preallocates the slab). `poll` is amortised O(1) per timer:
//! a timer is moved at most once per level on its way down (at most 6 moves), plus an O(levels)
//! bitmap scan per slot processed. `next_deadline` is an O(levels) bitmap scan. Timers beyond
//! the wheel's range add the overflow-list cost described below.
//!
//! # Rounding contract
//!
//! The caller converts `Instant`s to ticks against a fixed origin. A deadline must be rounded
//! **up** to a whole tick and the current time (`now` given to `poll`) rounded **down**, so
//! that `deadline_ticks <= now_ticks` implies the real deadline has passed: a timer may fire up
//! to one tick late, never early. For the same reason, a reactor should block in the OS until
//! the instant of tick [`TimerWheel::next_deadline`] (rounded up), not a tick less.
//!
//! # Far future and wrap-around
//!
//! Any `u64` deadline is accepted, up to and including `u64::MAX`, and arithmetic never
//! overflows. The top level is used as a ring: it holds deadlines up to 63 top-level slots
//! (just under 2^36 ticks) past the top-level slot containing the current time, with slots
//! "behind" the current one meaning the next rotation, so crossing a 2^36 boundary needs no
//! special case. A deadline beyond that (roughly `deadline - elapsed() >= MAX_RANGE`) goes to a
//! separate overflow list, together with a lower bound on the deadlines in it. When time
//! reaches that bound, the overflow list is re-filed as a whole: each entry keeps its exact
//! deadline, so those now within range drop into the ring (or are due), the rest stay in the
//! overflow list with a freshly computed bound. This costs O(overflow list) per re-file, once
//! per distinct far deadline reached (plus once after cancelling the earliest overflow timer),
//! which is cheap because timers more than two years out are rare. Time itself never wraps:
//! once `elapsed()` is `u64::MAX`, every deadline is due.
//!
//! # Order of expiry
//!
//! `poll` returns timers from a FIFO ready queue. When a `poll` call advances time, every
//! timer that has become due is appended to the queue in non-decreasing deadline order (ties
//! in unspecified order). A timer inserted with a deadline `<= elapsed()` is appended at
//! insert time. So a loop `while let Some(..) = wheel.poll(now)` yields first whatever was
//! already queued (timers left over from an earlier, unfinished loop and already-due inserts,
//! in queue order), then the newly due timers sorted by deadline, then any already-due timers
//! inserted during the loop, in insertion order.

mod level;
#[cfg(test)]
mod model_tests;
mod precise;
mod slab;
#[cfg(test)]
mod tests;

pub use precise::{PreciseHandle, PreciseTimers};

use level::{level_for, slot_for, Expiration, Level, LEVEL_BITS, NUM_LEVELS};
use slab::{List, Loc, Slab};

/// Handle to a timer in a [`TimerWheel`], returned by [`TimerWheel::insert`].
///
/// It holds the timer's slab key and that slab entry's generation. The generation changes
/// whenever the entry is vacated, so a stale handle (for a timer that fired or was cancelled,
/// even if its entry now holds another timer) never refers to a different timer: `cancel`,
/// `get` and `deadline` simply return `None` for it. (Generations are 32-bit and wrap; a handle
/// could only alias after its entry has been reused 2^32 times.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    key: u32,
    generation: u32,
}

/// What the wheel must do next as time advances.
#[derive(Clone, Copy, Debug)]
enum Work {
    /// Cascade (or expire) the timers of one slot.
    Slot(Expiration),
    /// Re-file the overflow list; the value is the lower bound of its deadlines.
    Overflow(u64),
}

impl Work {
    /// Tick at which this work must be done.
    fn start(self) -> u64 {
        match self {
            Work::Slot(exp) => exp.start,
            Work::Overflow(floor) => floor,
        }
    }
}

/// A hierarchical timer wheel holding timers with values of type `T`.
///
/// See the [module documentation](self) for the design, costs and the tick rounding contract.
///
/// # Examples
///
/// ```
/// use netloop::time::TimerWheel;
///
/// let mut wheel = TimerWheel::new();
/// let a = wheel.insert(10, "a");
/// let _b = wheel.insert(5, "b");
/// let c = wheel.insert(300, "c");
/// assert_eq!(wheel.len(), 3);
/// assert_eq!(wheel.deadline(a), Some(10));
///
/// // Cancel returns the value while the timer is pending.
/// assert_eq!(wheel.cancel(c), Some("c"));
/// assert_eq!(wheel.cancel(c), None);
///
/// // The earliest timer is within 64 ticks, so the bound is exact.
/// assert_eq!(wheel.next_deadline(), Some(5));
///
/// // Nothing is due before tick 5.
/// assert!(wheel.poll(4).is_none());
///
/// // Collect everything due by tick 10; newly due timers come out in deadline order.
/// let mut fired = Vec::new();
/// while let Some((handle, value)) = wheel.poll(10) {
///     fired.push(value);
///     // The handle is now stale.
///     assert_eq!(wheel.get(handle), None);
/// }
/// assert_eq!(fired, ["b", "a"]);
/// assert_eq!(wheel.elapsed(), 10);
/// assert!(wheel.is_empty());
/// assert_eq!(wheel.next_deadline(), None);
/// ```
pub struct TimerWheel<T> {
    /// Storage for all timers; lists below link entries by slab key.
    slab: Slab<T>,
    /// Level 0 (finest) to `NUM_LEVELS - 1` (coarsest). Boxed to keep the wheel itself small
    /// (the levels are about 3 KiB).
    levels: Box<[Level; NUM_LEVELS]>,
    /// Ready queue: timers with `deadline <= elapsed`, in the order `poll` returns them.
    pending: List,
    /// When `pending` is non-empty: a lower bound on its deadlines (for `next_deadline`).
    pending_floor: u64,
    /// Timers beyond the top level's ring.
    overflow: List,
    /// When `overflow` is non-empty: a lower bound on its deadlines, always `> elapsed`.
    /// Exact after a re-file; may be stale (too low) after a cancel, which is harmless.
    overflow_floor: u64,
    /// Current time in ticks.
    elapsed: u64,
}

// A summary rather than a dump of 384 slot lists, and no `T: Debug` bound, so structs that
// embed a wheel can derive `Debug`.
impl<T> std::fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerWheel<T> {
    /// New, empty wheel whose current time is tick 0.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// New, empty wheel at tick 0 with room for `n` timers preallocated: inserting does not
    /// allocate while at most `n` timers are live.
    pub fn with_capacity(n: usize) -> Self {
        TimerWheel {
            slab: Slab::with_capacity(n),
            levels: Box::new(std::array::from_fn(Level::new)),
            pending: List::EMPTY,
            pending_floor: 0,
            overflow: List::EMPTY,
            overflow_floor: 0,
            elapsed: 0,
        }
    }

    /// Current time of the wheel in ticks: the largest `now` passed to [`poll`](Self::poll)
    /// so far, or 0.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of live timers (not yet returned by `poll` nor cancelled), including due timers
    /// waiting in the ready queue.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True if there are no live timers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedule `value` to fire at tick `deadline` (any `u64`) and return its handle.
    ///
    /// A deadline `<= elapsed()` is due at once: the next `poll` returns it. O(1); allocates
    /// only when the slab of entries must grow.
    ///
    /// # Panics
    ///
    /// If `u32::MAX - 1` timers are already live.
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerHandle {
        let key = self.slab.alloc(deadline, value);
        self.file(key);
        TimerHandle {
            key,
            generation: self.slab.entry(key).generation,
        }
    }

    /// Cancel a timer. Returns its value if the handle was live, `None` if it is stale (the
    /// timer already fired or was cancelled). O(1), never allocates.
    pub fn cancel(&mut self, handle: TimerHandle) -> Option<T> {
        let loc = self.slab.get(handle.key, handle.generation)?.loc;
        self.unlink(handle.key, loc);
        Some(self.slab.free(handle.key))
    }

    /// The exact deadline passed to `insert` for a live timer, `None` if the handle is stale.
    pub fn deadline(&self, handle: TimerHandle) -> Option<u64> {
        self.slab
            .get(handle.key, handle.generation)
            .map(|e| e.deadline)
    }

    /// Borrow a live timer's value, `None` if the handle is stale.
    pub fn get(&self, handle: TimerHandle) -> Option<&T> {
        self.slab
            .get(handle.key, handle.generation)
            .and_then(|e| e.value.as_ref())
    }

    /// The earliest tick at which [`poll`](Self::poll) may have work to do, or `None` if there
    /// are no timers.
    ///
    /// This is a lower bound on the earliest live deadline, never later than it. It is exact
    /// when the earliest timer is within the current 64-tick block (level 0); otherwise it may
    /// be the start of the coarse slot that must be cascaded first, or the (possibly stale)
    /// bound of the overflow list. If timers are already due (waiting for `poll`), the result is
    /// `<= elapsed()`; otherwise it is `> elapsed()`. O(levels), via the occupied bitmaps.
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            return Some(self.pending_floor);
        }
        self.next_work().map(Work::start)
    }

    /// Advance the wheel to `now` (a `now` below `elapsed()` counts as `elapsed()`) and return
    /// one expired timer (deadline `<= now`) with its now-stale handle, or `None` when no more
    /// timers are due.
    ///
    /// Call it in a loop: `while let Some((handle, value)) = wheel.poll(now) { ... }`. Every
    /// timer with deadline `<= now` is returned exactly once before `None`, including timers
    /// inserted (or already due) between the calls; a timer is never returned before its
    /// deadline. See the [module documentation](self#order-of-expiry) for the order.
    ///
    /// The first call with a larger `now` does the cascading for the whole interval, moving
    /// every newly due timer to the ready queue; the later calls just pop from that queue.
    /// Never allocates.
    pub fn poll(&mut self, now: u64) -> Option<(TimerHandle, T)> {
        if now > self.elapsed {
            self.advance(now);
        }
        let key = self.slab.pop_front(&mut self.pending)?;
        // The handle names the entry as it was before `free` bumps the generation.
        let handle = TimerHandle {
            key,
            generation: self.slab.entry(key).generation,
        };
        Some((handle, self.slab.free(key)))
    }

    /// Process, in time order, every slot (and the overflow list) whose start is `<= now`,
    /// then set the time to `now`.
    fn advance(&mut self, now: u64) {
        while let Some(work) = self.next_work() {
            let start = work.start();
            if start > now {
                break;
            }
            debug_assert!(
                start >= self.elapsed,
                "wheel would go back in time: {work:?} starts at {start}, elapsed {}",
                self.elapsed
            );
            // Moving time to the start of the slot keeps every other timer's placement valid:
            // nothing else is due before it. Re-filing relative to this time sends the slot's
            // timers due exactly now to the ready queue and the rest to finer slots, which
            // this loop then visits in order, so the ready queue fills in deadline order.
            self.elapsed = start;
            match work {
                Work::Slot(exp) => {
                    let list = self.levels[exp.level].take_slot(exp.slot);
                    let slot_len = 1u64 << (exp.level * LEVEL_BITS);
                    self.refile(list, start | (slot_len - 1));
                }
                Work::Overflow(_) => {
                    let list = std::mem::replace(&mut self.overflow, List::EMPTY);
                    self.refile(list, u64::MAX);
                }
            }
        }
        // Every slot left starts after `now`; such a slot is where `level_for(now, ..)` would
        // put its timers too, so jumping straight to `now` is safe.
        self.elapsed = now;
    }

    /// Re-file every entry of `list` (just detached from a slot or the overflow list) relative
    /// to the current time. All deadlines lie in `[elapsed, last]`.
    fn refile(&mut self, mut list: List, last: u64) {
        while let Some(key) = self.slab.pop_front(&mut list) {
            let deadline = self.slab.entry(key).deadline;
            debug_assert!(
                (self.elapsed..=last).contains(&deadline),
                "entry {key} with deadline {deadline} found in a list covering [{}, {last}]",
                self.elapsed
            );
            self.file(key);
        }
    }

    /// The earliest pending piece of work: the first occupied slot of the lowest non-empty
    /// level (lower levels are always due first), or the overflow list if its bound is earlier.
    fn next_work(&self) -> Option<Work> {
        let slot = self
            .levels
            .iter()
            .find_map(|level| level.next_expiration(self.elapsed));
        let overflow = if self.overflow.is_empty() {
            None
        } else {
            Some(self.overflow_floor)
        };
        match (slot, overflow) {
            (Some(exp), Some(floor)) if floor < exp.start => Some(Work::Overflow(floor)),
            (Some(exp), _) => Some(Work::Slot(exp)),
            (None, Some(floor)) => Some(Work::Overflow(floor)),
            (None, None) => None,
        }
    }

    /// Link detached entry `key` into the list its deadline calls for at the current time.
    fn file(&mut self, key: u32) {
        let deadline = self.slab.entry(key).deadline;
        if deadline <= self.elapsed {
            if self.pending.is_empty() || deadline < self.pending_floor {
                self.pending_floor = deadline;
            }
            self.slab.push_back(&mut self.pending, key, Loc::Pending);
            return;
        }
        match level_for(self.elapsed, deadline) {
            Some(level) => {
                let slot = slot_for(deadline, level);
                let lvl = &mut self.levels[level];
                let loc = Loc::Slot {
                    level: level as u8,
                    slot: slot as u8,
                };
                self.slab.push_back(&mut lvl.slots[slot], key, loc);
                lvl.set_occupied(slot);
            }
            None => {
                if self.overflow.is_empty() || deadline < self.overflow_floor {
                    self.overflow_floor = deadline;
                }
                self.slab.push_back(&mut self.overflow, key, Loc::Overflow);
            }
        }
    }

    /// Unlink entry `key` from the list `loc` says it is on, leaving it detached.
    fn unlink(&mut self, key: u32, loc: Loc) {
        match loc {
            Loc::Slot { level, slot } => {
                let (level, slot) = (usize::from(level), usize::from(slot));
                let lvl = &mut self.levels[level];
                self.slab.unlink(&mut lvl.slots[slot], key);
                if lvl.slots[slot].is_empty() {
                    lvl.clear_occupied(slot);
                }
            }
            Loc::Pending => self.slab.unlink(&mut self.pending, key),
            // The overflow bound may now be too low; it is still a lower bound, and the next
            // re-file recomputes it.
            Loc::Overflow => self.slab.unlink(&mut self.overflow, key),
            Loc::Free | Loc::Detached => {
                unreachable!("live entry {key} is on no list (loc {loc:?})")
            }
        }
    }
}
