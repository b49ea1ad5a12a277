//! The input budget's waiting line: connections that stopped reading because the budget could
//! not admit the memory they need next (see `conn::Budget`), admitted again in order as it
//! frees up. The turn runs this once, after the closes are reaped.

use super::core::Core;

impl Core {
    /// Admit the connections waiting for the budget, in order, as far as it now allows; each
    /// admitted one reads again next turn (its bytes waited in the kernel, with no new event
    /// to come for them).
    pub(crate) fn admit_starving(&mut self) {
        while let Some(&key) = self.starving.front() {
            match self.sources.conn_mut(key) {
                Some((_, conn)) if conn.is_starved() => {
                    if !conn.admit(self.now, &mut self.budget, self.pool.read_size()) {
                        return;
                    }
                    self.starving.pop_front();
                    self.queue_read(key);
                    self.rearm(key);
                }
                // Closed, or admitted another way.
                _ => {
                    self.starving.pop_front();
                }
            }
        }
    }
}
