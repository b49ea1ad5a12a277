//! Serving one readiness event: by the kind of source its token names, to the room that
//! handles it. Stale tokens (a source closed earlier in the same batch, its slot perhaps
//! reused) find no entry and are dropped here.

use super::core::Core;
use super::handler::Handler;
use super::registry::Source;
use super::token::Key;

impl Core {
    /// Serve a readable source. `hup`: the event also reported the peer's end of file, an
    /// error or urgent data (or we cannot know), so a short read does not prove the socket
    /// drained.
    pub(crate) fn readable<H: Handler>(&mut self, h: &mut H, key: Key, hup: bool) {
        match self.sources.get(key) {
            Some(Source::Conn { .. }) => self.read_conn(h, key, hup),
            Some(Source::Listener { .. }) => self.accept(h, key),
            Some(Source::Dgram { .. }) => self.read_dgram(h, key),
            Some(Source::Signals(_)) => self.read_signals(h, key),
            // Closed earlier in this turn: the event is stale.
            Some(Source::Closed) | None => {}
        }
    }

    /// Serve a writable source.
    pub(crate) fn writable<H: Handler>(&mut self, h: &mut H, key: Key) {
        match self.sources.get(key) {
            Some(Source::Conn { .. }) => self.conn_writable(h, key),
            Some(Source::Dgram { .. }) => self.flush_dgram(key),
            _ => {}
        }
    }

    /// Serve the read list as it stood before this turn's events: sources that used up their
    /// budget, listeners resuming after a back-off, connections whose reading resumed or that
    /// linger in a close. Each is served once; what this serving adds waits for next turn.
    pub(crate) fn serve_read_list<H: Handler>(&mut self, h: &mut H, leftover: Vec<Key>) {
        for &key in &leftover {
            if self.unqueue_read(key) {
                // No event says whether the peer hung up: read until the kernel says
                // WouldBlock.
                self.readable(h, key, true);
            }
        }
        self.work.give_back_reads(leftover);
    }

    /// Write every connection given output this turn.
    pub(crate) fn flush_all<H: Handler>(&mut self, h: &mut H) {
        // Flushing can queue more output (on_drained); that waits for the next turn.
        let mut list = self.work.take_flushes();
        for &key in &list {
            self.flush(h, key);
        }
        self.work.give_back_flushes(std::mem::take(&mut list));
    }
}
