//! One level of the wheel: `SLOTS_PER_LEVEL` slot lists plus a bitmap of the non-empty ones,
//! and the wheel's geometry: the named constants, and the pure helpers [`level_for`] and
//! [`slot_for`] that say where a deadline is filed.

use super::slab::List;

/// Bits of a deadline consumed by one level.
pub(super) const LEVEL_BITS: usize = 6;
/// Slots in one level (`2^LEVEL_BITS`); also the width of the occupied bitmap.
pub(super) const SLOTS_PER_LEVEL: usize = 1 << LEVEL_BITS;
/// Number of levels.
pub(super) const NUM_LEVELS: usize = 6;
/// Ticks covered by one full rotation of the top level (`2^36`); deadlines further away than
/// about this much go to the overflow list.
pub(super) const MAX_RANGE: u64 = 1 << (LEVEL_BITS * NUM_LEVELS);
/// Mask selecting a slot number from a shifted deadline.
pub(super) const SLOT_MASK: u64 = SLOTS_PER_LEVEL as u64 - 1;
/// Shift giving a tick's slot number at the top level (30).
const TOP_SHIFT: u32 = (LEVEL_BITS * (NUM_LEVELS - 1)) as u32;

// The occupied bitmap is a u64 and slot/level numbers are stored as u8.
const _: () = assert!(SLOTS_PER_LEVEL == 64 && NUM_LEVELS <= 10);
const _: () = assert!(MAX_RANGE == 1 << (TOP_SHIFT as usize + LEVEL_BITS));

/// Level at which a timer due at `deadline` is filed when the wheel's time is `elapsed`, or
/// `None` if the deadline is beyond the top level's ring (it goes to the overflow list).
///
/// Requires `deadline > elapsed`: due timers go to the ready queue instead.
pub(super) fn level_for(elapsed: u64, deadline: u64) -> Option<usize> {
    debug_assert!(
        deadline > elapsed,
        "level_for: deadline {deadline} is not after elapsed {elapsed}"
    );
    // The highest differing bit decides: below it the two agree, so the deadline lies in the
    // same slot as `elapsed` at every level above; at its level they fall in different slots.
    // OR-ing in SLOT_MASK puts everything within the current 64-tick block at level 0.
    let differing = (elapsed ^ deadline) | SLOT_MASK;
    let highest_bit = 63 - differing.leading_zeros() as usize;
    let level = highest_bit / LEVEL_BITS;
    if level < NUM_LEVELS - 1 {
        return Some(level);
    }
    // Top level (or beyond): it is a ring of 64 slots, of which the one holding `elapsed` is
    // in use by the lower levels, so it reaches 63 slots further. No overflow: deadline > elapsed.
    let top_slots_ahead = (deadline >> TOP_SHIFT) - (elapsed >> TOP_SHIFT);
    if top_slots_ahead < SLOTS_PER_LEVEL as u64 {
        Some(NUM_LEVELS - 1)
    } else {
        None
    }
}

/// Slot of level `level` that holds a timer due at `deadline`: the deadline's `LEVEL_BITS`
/// bits at that level.
pub(super) fn slot_for(deadline: u64, level: usize) -> usize {
    debug_assert!(level < NUM_LEVELS, "slot_for: level {level} out of range");
    ((deadline >> (level * LEVEL_BITS)) & SLOT_MASK) as usize
}

/// A level of the wheel. Slot `s` of level `l` holds timers whose deadline has bits
/// `[l * LEVEL_BITS, (l + 1) * LEVEL_BITS)` equal to `s`; which "rotation" of the level that
/// is follows from the wheel's current time (see the module docs).
#[derive(Debug)]
pub(super) struct Level {
    /// Index of this level (0 = finest).
    level: usize,
    /// Bit `s` is set iff `slots[s]` is non-empty. Finding the next slot with work is then a
    /// rotate plus `trailing_zeros` instead of a walk over 64 slots.
    pub(super) occupied: u64,
    /// Per-slot lists of entries.
    pub(super) slots: [List; SLOTS_PER_LEVEL],
}

/// A slot that holds timers, with the tick at which the wheel must process it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Expiration {
    /// Level index.
    pub(super) level: usize,
    /// Slot index within the level.
    pub(super) slot: usize,
    /// First tick covered by the slot (in the rotation that is current or next for `elapsed`);
    /// no timer in the slot has an earlier deadline.
    pub(super) start: u64,
}

impl Level {
    /// Empty level number `level`.
    pub(super) fn new(level: usize) -> Self {
        Level {
            level,
            occupied: 0,
            slots: [List::EMPTY; SLOTS_PER_LEVEL],
        }
    }

    /// Number of bits to shift a tick right by to get this level's slot number.
    fn shift(&self) -> u32 {
        (self.level * LEVEL_BITS) as u32
    }

    /// The first occupied slot at or after the slot containing `elapsed`, going round the
    /// level as a ring, and the tick at which it starts. `None` if the level is empty.
    ///
    /// Callers keep the slot that contains `elapsed` itself empty (its timers live in lower
    /// levels), so the result always starts strictly after `elapsed`. For levels below the
    /// top one the occupied slots all lie after `elapsed`'s slot in the same rotation; only the
    /// top level wraps, and the ring arithmetic below covers both cases uniformly.
    pub(super) fn next_expiration(&self, elapsed: u64) -> Option<Expiration> {
        if self.occupied == 0 {
            return None;
        }
        let shift = self.shift();
        let now_slot = ((elapsed >> shift) & SLOT_MASK) as u32;
        debug_assert!(
            self.occupied & (1u64 << now_slot) == 0,
            "level {} slot {now_slot} contains elapsed {elapsed} but is occupied \
             (occupied {:#066b})",
            self.level,
            self.occupied
        );
        // Rotating makes bit 0 the slot containing `elapsed`, so the trailing zeros count the
        // slots to skip going forward round the ring.
        let distance = u64::from(self.occupied.rotate_right(now_slot).trailing_zeros());
        let slot = ((u64::from(now_slot) + distance) & SLOT_MASK) as usize;
        // Start of `elapsed`'s slot, plus `distance` slots. It cannot overflow: it equals
        // `(deadline >> shift) << shift` for every timer in that slot.
        let start = ((elapsed >> shift) + distance) << shift;
        Some(Expiration {
            level: self.level,
            slot,
            start,
        })
    }

    /// Mark `slot` as holding timers.
    pub(super) fn set_occupied(&mut self, slot: usize) {
        self.occupied |= 1u64 << slot;
    }

    /// Mark `slot` as empty.
    pub(super) fn clear_occupied(&mut self, slot: usize) {
        self.occupied &= !(1u64 << slot);
    }

    /// Take the whole list out of `slot`, leaving it empty.
    pub(super) fn take_slot(&mut self, slot: usize) -> List {
        self.clear_occupied(slot);
        std::mem::replace(&mut self.slots[slot], List::EMPTY)
    }
}
