//! Entry storage for the timer wheel: a slab (`Vec` plus free list) whose entries double as the
//! nodes of intrusive doubly linked lists.
//!
//! Links are `u32` keys into the slab rather than pointers, so moving an entry between lists,
//! unlinking it from the middle of a list and recycling its slot are all O(1) without `unsafe`.
//! A list is just a `head`/`tail` pair stored wherever the wheel needs one (a slot, the ready
//! queue, the overflow list); the entry remembers which list it is on (`Loc`) so that `cancel`
//! can unlink it and fix up that list's head, tail and occupied bit.

/// "No entry": end of a list, or end of the free list. `u32::MAX` is therefore never a valid key.
pub(super) const NONE: u32 = u32::MAX;

/// Which list an entry is linked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Loc {
    /// Vacant slab slot (on the free list, `value` is `None`).
    Free,
    /// Linked but not yet on any list: only transiently, while the wheel re-files an entry.
    Detached,
    /// In slot `slot` of level `level`.
    Slot {
        /// Level index, `< NUM_LEVELS`.
        level: u8,
        /// Slot index, `< SLOTS_PER_LEVEL`.
        slot: u8,
    },
    /// In the ready queue: deadline already reached, waiting to be returned by `poll`.
    Pending,
    /// In the overflow list: deadline beyond the range of the top level.
    Overflow,
}

/// One timer (or a vacant slot).
#[derive(Debug)]
pub(super) struct Entry<T> {
    /// The timer's value; `None` exactly when the slot is vacant.
    pub(super) value: Option<T>,
    /// The exact deadline given to `insert`; never rounded, so re-filing is always exact.
    pub(super) deadline: u64,
    /// Bumped every time the slot is vacated, so handles to an earlier occupant miss.
    pub(super) generation: u32,
    /// Previous entry in the same list, or `NONE`.
    pub(super) prev: u32,
    /// Next entry in the same list (or in the free list when vacant), or `NONE`.
    pub(super) next: u32,
    /// The list this entry is on.
    pub(super) loc: Loc,
}

/// Head and tail of an intrusive list of slab entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct List {
    pub(super) head: u32,
    pub(super) tail: u32,
}

impl List {
    /// The empty list.
    pub(super) const EMPTY: List = List {
        head: NONE,
        tail: NONE,
    };

    /// True if the list has no entries.
    pub(super) fn is_empty(&self) -> bool {
        self.head == NONE
    }
}

/// The slab: entries plus a free list threaded through the vacant ones via `next`.
#[derive(Debug)]
pub(super) struct Slab<T> {
    entries: Vec<Entry<T>>,
    /// First vacant entry, or `NONE`. Vacant slots are reused LIFO (the most recently freed
    /// one is still warm in cache).
    free_head: u32,
    /// Number of occupied entries.
    len: usize,
}

impl<T> Slab<T> {
    /// Empty slab with room for `n` entries before the `Vec` has to grow.
    pub(super) fn with_capacity(n: usize) -> Self {
        Slab {
            entries: Vec::with_capacity(n),
            free_head: NONE,
            len: 0,
        }
    }

    /// Number of occupied entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Capacity of the entry `Vec` (tests use it to check that nothing reallocates).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Store a new entry (detached, on no list) and return its key. Reuses a vacant slot when
    /// there is one; only pushing onto a full `Vec` allocates.
    ///
    /// Panics if `u32::MAX` entries would be live at once (the key space is exhausted).
    pub(super) fn alloc(&mut self, deadline: u64, value: T) -> u32 {
        let key = self.alloc_slot(deadline, value);
        self.len += 1;
        key
    }

    /// `alloc` without the bookkeeping of `len`.
    fn alloc_slot(&mut self, deadline: u64, value: T) -> u32 {
        if self.free_head != NONE {
            let key = self.free_head;
            let e = &mut self.entries[key as usize];
            debug_assert!(
                e.loc == Loc::Free && e.value.is_none(),
                "free list points at a live entry: key {key} loc {:?}",
                e.loc
            );
            self.free_head = e.next;
            e.value = Some(value);
            e.deadline = deadline;
            e.prev = NONE;
            e.next = NONE;
            e.loc = Loc::Detached;
            key
        } else {
            // `NONE` (u32::MAX) must never become a real key.
            let key = u32::try_from(self.entries.len())
                .ok()
                .filter(|&k| k != NONE)
                .expect("timer wheel is full: u32::MAX - 1 timers are live");
            self.entries.push(Entry {
                value: Some(value),
                deadline,
                generation: 0,
                prev: NONE,
                next: NONE,
                loc: Loc::Detached,
            });
            key
        }
    }

    /// Vacate a detached entry and return its value. The generation is bumped so that every
    /// handle issued for this occupant becomes stale, even after the slot is reused.
    pub(super) fn free(&mut self, key: u32) -> T {
        let e = &mut self.entries[key as usize];
        debug_assert!(
            e.loc == Loc::Detached && e.prev == NONE && e.next == NONE,
            "freeing entry {key} that is still linked: loc {:?} prev {} next {}",
            e.loc,
            e.prev,
            e.next
        );
        let value = e.value.take().expect("freeing a vacant slab entry");
        e.generation = e.generation.wrapping_add(1);
        e.loc = Loc::Free;
        e.next = self.free_head;
        self.free_head = key;
        self.len -= 1;
        value
    }

    /// The live entry `key` if its generation matches, else `None`.
    pub(super) fn get(&self, key: u32, generation: u32) -> Option<&Entry<T>> {
        self.entries
            .get(key as usize)
            .filter(|e| e.generation == generation && e.value.is_some())
    }

    /// Entry by key; the key must be one the wheel linked (so it exists).
    pub(super) fn entry(&self, key: u32) -> &Entry<T> {
        &self.entries[key as usize]
    }

    /// Append detached entry `key` to `list`, recording `loc` as its location.
    pub(super) fn push_back(&mut self, list: &mut List, key: u32, loc: Loc) {
        let tail = list.tail;
        {
            let e = &mut self.entries[key as usize];
            debug_assert!(
                e.loc == Loc::Detached,
                "pushing entry {key} that is already on list {:?}",
                e.loc
            );
            e.prev = tail;
            e.next = NONE;
            e.loc = loc;
        }
        if tail == NONE {
            list.head = key;
        } else {
            self.entries[tail as usize].next = key;
        }
        list.tail = key;
    }

    /// Unlink `key` from `list` (which must be the list it is on) and leave it detached.
    pub(super) fn unlink(&mut self, list: &mut List, key: u32) {
        let (prev, next) = {
            let e = &mut self.entries[key as usize];
            let links = (e.prev, e.next);
            e.prev = NONE;
            e.next = NONE;
            e.loc = Loc::Detached;
            links
        };
        if prev == NONE {
            debug_assert_eq!(
                list.head, key,
                "entry {key} has no prev but is not the head"
            );
            list.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NONE {
            debug_assert_eq!(
                list.tail, key,
                "entry {key} has no next but is not the tail"
            );
            list.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Detach and return the first entry of `list`, if any.
    pub(super) fn pop_front(&mut self, list: &mut List) -> Option<u32> {
        let key = list.head;
        if key == NONE {
            return None;
        }
        self.unlink(list, key);
        Some(key)
    }
}
