//! [`Core`]: the reactor's state apart from the poller and the handler.
//!
//! `Core` composes the owners of the reactor's state, each a type with private fields in a
//! file of its own: `Sources` (the slab, `registry.rs`), `Timers` (the wheel, the precise
//! timers and the clock), `Admission` (the input budget and its waiting line, `budget.rs`),
//! `Work` (the read, flush and closed lists), `Scratch` (buffers lent to one call), `Life`
//! (running, shutting down, stopped), `Door` (the connection limit and the reserve
//! descriptor) and `Stats`; beside them the buffer pool, the config and `now`. This file
//! holds the glue that moves data between owners without calling the handler (`queue_read`, `schedule_flush`, `rearm`,
//! `admit_waiting`). The rooms beside it still add behaviour in `impl Core` blocks of their
//! own: `open` adds sockets, `close` ends connections, `turn` routes events, fires timers and
//! calls the handler, and the I/O rooms (`stream`, `accept`, `dgram`) move each kind of
//! socket's bytes both ways. A `Context` is a
//! `&mut Core` with a public face.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::budget::Admission;
use super::config::Config;
use super::door::Door;
use super::life::Life;
use super::limit::ConnectionLimit;
use super::registry::{Batch, Key, Source, Sources};
use super::scratch::Scratch;
use super::stats::Stats;
use super::timers::{TimerTarget, Timers};
use super::work::Work;
use crate::buf::BufPool;

/// The reactor's state (see the module docs).
pub(crate) struct Core {
    pub(crate) sources: Sources,
    pub(crate) timers: Timers,
    pub(crate) pool: BufPool,
    pub(crate) config: Config,
    /// The instant this turn started dispatching: every callback in a turn sees it.
    pub(crate) now: Instant,
    /// What to read again, flush and reap (see `work.rs`).
    pub(crate) work: Work,
    pub(crate) stats: Stats,
    /// Running, shutting down, or asked to stop (see `life.rs`).
    pub(crate) life: Life,
    /// The connection limit and the reserve descriptor (see `door.rs`).
    pub(crate) door: Door,
    /// The input memory budget all connections share (`Config::max_buffered`), and the
    /// connections waiting for it.
    pub(crate) admission: Admission,
    /// Descriptors queued to be sent, per connection (`fds.rs`); empty for most reactors.
    pub(crate) fds_out: std::collections::HashMap<Key, super::fds::FdsOut>,
    /// The I/O space lent to one call at a time (see `scratch.rs`).
    pub(crate) scratch: Scratch,
}

/// Places taken in a shared connection limit go back when the reactor goes, with connections
/// still open (a reactor stopped on its own, or one whose thread ended).
impl Drop for Core {
    fn drop(&mut self) {
        for _ in 0..self.stats.active {
            self.door.give_back();
        }
    }
}

impl Core {
    /// The state of a new reactor polling `sources`, with `config`.
    pub(crate) fn new(sources: Sources, config: Config) -> Core {
        let now = sources.now();
        Core {
            sources,
            timers: Timers::new(config.events_capacity, now),
            pool: BufPool::new(
                config.read_buffer_size,
                config.write_buffer_size,
                config.max_pooled_buffers,
            ),
            now,
            work: Work::new(),
            stats: Stats::default(),
            life: Life::default(),
            door: Door::new(config.max_connections),
            admission: Admission::new(config.max_buffered),
            fds_out: Default::default(),
            scratch: Scratch::default(),
            config,
        }
    }

    /// Wait for events, for no longer than the timers and `max_wait` allow (see
    /// [`poll_timeout`](Core::poll_timeout)), and read the clock for the turn. Returns the
    /// events, lent until [`give_back`](Core::give_back), and how many there are.
    pub(crate) fn poll(&mut self, max_wait: Option<Duration>) -> io::Result<(Batch, usize)> {
        let timeout = self.poll_timeout(self.sources.now(), max_wait);
        if let Some(wait) = timeout {
            if !self.sources.is_simulated() {
                self.timers.wake_on_time(self.sources.registry(), wait);
            }
        }
        let (batch, events) = self.sources.poll(timeout)?;
        if batch.timer_woke() {
            self.timers.woke();
        }
        self.now = self.sources.now();
        Ok((batch, events))
    }

    /// Take back the events lent by [`poll`](Core::poll).
    pub(crate) fn give_back(&mut self, batch: Batch) {
        self.sources.give_back(batch);
    }

    /// Read the clock: callbacks from now on see this instant (for calls made outside a
    /// turn).
    pub(crate) fn read_clock(&mut self) {
        self.now = self.sources.now();
    }

    /// How long an embedding program may wait before the next turn (see
    /// `Reactor::next_timeout`).
    pub(crate) fn next_timeout(&self, max_wait: Option<Duration>) -> Option<Duration> {
        self.poll_timeout(self.sources.now(), max_wait)
    }

    /// The epoll descriptor.
    pub(crate) fn poll_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.sources.as_fd()
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Sources in the slab.
    pub(crate) fn socket_count(&self) -> usize {
        self.sources.len()
    }

    /// Timers of every kind.
    pub(crate) fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// Has the reactor been asked to stop?
    pub(crate) fn is_stopped(&self) -> bool {
        self.life.is_stopped()
    }

    /// Ask the reactor to stop after this turn.
    pub(crate) fn stop(&mut self) {
        self.life.stop();
    }

    /// Forget a stop once `run` has returned for it.
    pub(crate) fn clear_stop(&mut self) {
        self.life.clear_stop();
    }

    /// Do the turns never wait (`Config::busy_poll`)?
    pub(crate) fn busy_polls(&self) -> bool {
        self.config.busy_poll
    }

    /// Use `limit` for the connections of this reactor, moving the ones open now onto it.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<ConnectionLimit>>) {
        self.door.set_limit(limit, self.stats.active);
    }

    /// Is work left for the next turn that no event will announce?
    pub(crate) fn has_work(&self) -> bool {
        self.work.has_work()
    }

    /// The read list as it stood at the start of the turn (served after the events, see
    /// `serve_read_list`).
    pub(crate) fn take_read_list(&mut self) -> Vec<Key> {
        self.work.take_reads()
    }

    /// Put `key` on the read list, to be served next turn without waiting for an event
    /// (once, however often it is queued).
    pub(crate) fn queue_read(&mut self, key: Key) {
        if self.sources.mark_read(key) {
            self.work.push_read(key);
        }
    }

    /// Take `key` off the read list; `false` if it is stale.
    pub(crate) fn unqueue_read(&mut self, key: Key) -> bool {
        self.sources.unmark_read(key)
    }

    /// Put `key` on the flush list, to be written at the end of this turn.
    pub(crate) fn schedule_flush(&mut self, key: Key) {
        if self.sources.mark_flush(key) {
            self.work.push_flush(key);
        }
    }

    /// Make sure `key`'s wheel entry fires no later than its earliest deadline (the
    /// connection says when that is, and whether its entry must move).
    pub(crate) fn rearm(&mut self, key: Key) {
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        let Some(at) = conn.arm_at() else {
            return;
        };
        if let Some(old) = conn.armed() {
            self.timers.cancel(old);
        }
        let handle = self.timers.arm_at(at, TimerTarget::Conn(key));
        conn.set_armed(handle, at);
        self.stats.timeout_arms += 1;
    }

    /// How long the next poll may wait: zero if work is left over, else until the timers
    /// next need a turn (measured from `now`), capped by `max_wait`.
    pub(crate) fn poll_timeout(
        &self,
        now: Instant,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        if self.has_work() {
            return Some(Duration::ZERO);
        }
        self.timers.next_wait(now, max_wait)
    }

    /// `key` stops reading until the budget admits what it needs next.
    pub(crate) fn wait_for_budget(&mut self, key: Key) {
        self.admission.wait(key);
        self.stats.budget_waits += 1;
    }

    /// Admit the connections waiting for the budget, in order, as far as it now allows;
    /// each admitted one reads again next turn.
    pub(crate) fn admit_waiting(&mut self) {
        let block = self.pool.read_size();
        while let Some(key) = self
            .admission
            .next_admitted(&mut self.sources, self.now, block)
        {
            self.queue_read(key);
            self.rearm(key);
        }
    }

    /// Check the invariants that must hold between turns (the simulation runs this after
    /// every step: no slab or timer entry leaked, no deadline left unserved past its tick).
    /// It reads and changes nothing. Returns a description of the first one broken.
    pub(crate) fn audit(&self) -> Result<(), String> {
        let mut conns = 0;
        let mut charged = 0;
        let mut armed = 0;
        let mut paused = 0;
        let late_by = |d: std::time::Instant| self.now.saturating_duration_since(d);
        for (key, source) in self.sources.iter() {
            match source {
                Source::Conn { conn, .. } => {
                    conns += 1;
                    charged += conn.charge();
                    if conn.is_starved() && !self.admission.is_waiting(key) {
                        return Err(format!(
                            "conn#{}.{}: waits for the budget but is not on the waiting list",
                            key.index, key.gen
                        ));
                    }
                    if let Some(h) = conn.armed() {
                        armed += 1;
                        match self.timers.target(h) {
                            Some(TimerTarget::Conn(k)) if *k == key => {}
                            other => {
                                return Err(format!(
                                    "conn#{}.{}: its armed entry holds {other:?}",
                                    key.index, key.gen
                                ))
                            }
                        }
                    }
                    if let Some(d) = conn.next_deadline() {
                        // Served at the latest in the turn whose (rounded-down) tick reaches
                        // the deadline's (rounded-up) tick: less than one tick late.
                        if late_by(d) >= Duration::from_millis(1) {
                            return Err(format!(
                                "conn#{}.{}: a deadline passed {:?} ago and was not served",
                                key.index,
                                key.gen,
                                late_by(d)
                            ));
                        }
                        if conn.armed().is_none() {
                            return Err(format!(
                                "conn#{}.{}: a deadline and no wheel entry",
                                key.index, key.gen
                            ));
                        }
                    }
                }
                Source::Listener {
                    paused: Some(h), ..
                } => {
                    paused += 1;
                    if !matches!(self.timers.target(*h), Some(TimerTarget::ResumeAccept(k)) if *k == key)
                    {
                        return Err(format!(
                            "listener#{}.{}: paused with no resume entry",
                            key.index, key.gen
                        ));
                    }
                }
                Source::Closed => {
                    return Err(format!(
                        "conn#{}.{}: closed but not reaped by the end of the turn",
                        key.index, key.gen
                    ))
                }
                _ => {}
            }
        }
        if charged != self.admission.used() {
            return Err(format!(
                "the budget counts {} bytes used, the connections hold {charged}",
                self.admission.used()
            ));
        }
        if conns as u64 != self.stats.active {
            return Err(format!(
                "{conns} connections in the slab, {} counted open",
                self.stats.active
            ));
        }
        let expected =
            armed + paused + usize::from(self.life.has_grace_end()) + self.timers.user_timers();
        if self.timers.wheel_len() != expected {
            return Err(format!(
                "{} wheel entries; expected {expected} ({armed} armed connections, {paused} paused listeners, {} user timers, shutdown timer: {})",
                self.timers.wheel_len(),
                self.timers.user_timers(),
                self.life.has_grace_end()
            ));
        }
        Ok(())
    }
}
