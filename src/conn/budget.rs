//! The input memory budget a reactor's connections share.
//!
//! Every connection may hold one standard read block (the usual size of one read) without
//! asking: that is what reading a header or a small message needs. Input memory beyond it (a
//! buffer grown for a large message) is *charged* to the budget, and must be admitted first.
//! A connection whose next growth does not fit stops reading, so that its bytes wait in the
//! kernel and TCP pushes back on the sender; nothing is dropped and nothing is closed for it.
//!
//! No deadlock: a handler that knows how large the message being received is (a frame whose
//! header has arrived) says so (`Conn::expect_input`), and the
//! connection reserves the whole message at once, before growing at all. A reserved message
//! can always complete; a connection waiting for its reservation holds no more than its free
//! block. Waiting connections are admitted in the order they started waiting, as the budget
//! frees up, so a large message is not starved by a stream of small ones.

/// Bytes of input memory a reactor's connections may hold beyond one read block each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget { limit, used: 0 }
    }

    /// Bytes charged now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Move a connection's charge from `old` to `new` bytes: always when it shrinks; when it
    /// grows, only if the growth fits (`false`, and nothing changed, if not).
    #[inline]
    pub(crate) fn recharge(&mut self, old: usize, new: usize) -> bool {
        if new <= old {
            self.used = self.used.saturating_sub(old - new);
            return true;
        }
        let more = new - old;
        if self.used + more > self.limit {
            return false;
        }
        self.used += more;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_admitted_only_within_the_limit() {
        let mut b = Budget::new(100);
        assert!(b.recharge(0, 60));
        assert!(!b.recharge(0, 50), "60 + 50 > 100");
        assert_eq!(b.used(), 60);
        assert!(b.recharge(0, 40));
        assert!(b.recharge(60, 10), "shrinking always works");
        assert_eq!(b.used(), 50);
        assert!(b.recharge(0, 50));
        assert!(!b.recharge(0, 1));
    }
}
