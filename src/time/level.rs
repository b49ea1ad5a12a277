//! One level of the wheel: `SLOTS_PER_LEVEL` slot lists plus a bitmap of the non-empty ones.

use super::slab::List;
use super::{LEVEL_BITS, SLOTS_PER_LEVEL, SLOT_MASK};

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
