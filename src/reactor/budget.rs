//! [`Admission`]: the input budget all of a reactor's connections share, and its waiting line.
//!
//! It owns the budget (`conn::Budget`: bytes of input memory connections hold beyond one
//! read block each) and the line of connections that stopped reading because the budget
//! could not admit the memory they need next. A connection's own rules (what a message
//! costs, when it must wait) are `Conn`'s; this room lends the budget to it, keeps the line in
//! order, and admits from its front as memory frees up: the turn asks once, after the closes
//! are reaped, for [`next_admitted`](Admission::next_admitted) until it says no.

use std::collections::VecDeque;
use std::time::Instant;

use super::registry::Key;
use super::registry::Sources;
use crate::conn::Budget;

/// The shared input budget and the connections waiting for it (see the module docs).
#[derive(Debug)]
pub(crate) struct Admission {
    budget: Budget,
    /// Connections waiting for the budget, in the order they began to wait.
    waiting: VecDeque<Key>,
}

impl Admission {
    /// A budget of `limit` bytes, with nobody waiting.
    pub(crate) fn new(limit: usize) -> Admission {
        Admission {
            budget: Budget::new(limit),
            waiting: VecDeque::new(),
        }
    }

    /// The budget, lent to a connection for one decision.
    #[inline]
    pub(crate) fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }

    /// Bytes charged to the budget now.
    pub(crate) fn used(&self) -> usize {
        self.budget.used()
    }

    /// `key` waits for the budget, behind every connection already waiting.
    pub(crate) fn wait(&mut self, key: Key) {
        self.waiting.push_back(key);
    }

    /// Is `key` in the line?
    pub(crate) fn is_waiting(&self, key: Key) -> bool {
        self.waiting.contains(&key)
    }

    /// Admit the connection at the front of the line if the budget now allows what it
    /// waits for (`block`: the standard read block): it is taken off the line and returned,
    /// to read again (its bytes waited in the kernel, with no new event to come for them).
    /// Connections closed meanwhile, or admitted another way, leave the line on the way.
    /// `None` when the line is empty or its front still does not fit: the order is kept, so a
    /// large message is not starved by a stream of small ones.
    pub(crate) fn next_admitted(
        &mut self,
        sources: &mut Sources,
        now: Instant,
        block: usize,
    ) -> Option<Key> {
        while let Some(&key) = self.waiting.front() {
            match sources.conn_mut(key) {
                Some((_, conn)) if conn.status().starved => {
                    if !conn.admit(now, &mut self.budget, block) {
                        return None;
                    }
                    self.waiting.pop_front();
                    return Some(key);
                }
                // Closed, or admitted another way.
                _ => {
                    self.waiting.pop_front();
                }
            }
        }
        None
    }
}
