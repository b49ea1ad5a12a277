//! [`Core`]: the reactor's state, apart from the handler, and every change to it.
//!
//! `Core` composes the owners of the reactor's state, each a type with private fields in a
//! file of its own (DESIGN.md's "Who owns what in the reactor"), with the buffer pool, the
//! config, `now` and the descriptors waiting to be sent; only its two files change its
//! fields. This one holds the owners, the glue between them (the read and flush lists,
//! re-arming a connection's timer, admitting from the budget's line) and the hot path: poll,
//! read, write, flush, send. `lifecycle.rs` adds and removes sockets, accepts, closes and
//! shuts down, and holds the `audit` of the invariants between owners.
//!
//! `Core` never calls the handler. Its steps return what happened, and the turn
//! (`turn.rs`) calls the handler; a [`Context`](super::Context) is a `&mut Core` with a
//! public face, through which the handler acts on it.

mod lifecycle;

pub(crate) use lifecycle::Accepted;

use std::collections::HashMap;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use std::sync::Arc;

use mio::Waker;
use std::time::{Duration, Instant};

use super::balance::{Balance, Spread};
use super::budget::Admission;
use super::closelog::CloseLog;
use super::config::Config;
use super::dial::{DialIo, Dials};
use super::door::Door;
use super::fds::FdsOut;
use super::ids::{ConnId, DialId, TimerId};
use super::life::Life;
use super::limit::ConnectionLimit;
use super::outside::Outside;
use super::registry::{Batch, Key, Kind, Source, Sources};
use super::scratch::Scratch;
use super::stats::Stats;
use super::stream::{Stream, StreamIo};
use super::timers::{Due, TimerTarget, Timers};
use super::work::Work;
use super::workers::Workers;
use crate::buf::{BufPool, ReadBuf, WriteQueue};
use crate::conn::{Conn, FlushStep, InputStep, Opened, Queued, Read, ReadCx, TimerStep, Writable};
use crate::error::{stale, TimeoutKind};
use crate::time::TimerHandle;

/// The reactor's state (see the module docs).
pub(crate) struct Core {
    sources: Sources,
    timers: Timers,
    pool: BufPool,
    config: Config,
    /// The instant this turn started dispatching: every callback in a turn sees it.
    now: Instant,
    work: Work,
    stats: Stats,
    life: Life,
    door: Door,
    admission: Admission,
    /// Descriptors queued to be sent, per connection (`fds.rs`); empty for most reactors.
    fds_out: HashMap<Key, FdsOut>,
    scratch: Scratch,
    close_log: CloseLog,
    workers: Workers,
    dials: Dials,
    spread: Spread,
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
    /// A new reactor polling `sources`, with `config`; `waker` ends its wait from elsewhere.
    pub(crate) fn new(sources: Sources, config: Config, waker: Arc<Waker>) -> Core {
        let now = sources.now();
        // The simulation runs jobs inline: deterministic, on the virtual clock.
        let threads = if sources.net().is_some() {
            0
        } else {
            config.workers
        };
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
            fds_out: HashMap::new(),
            scratch: Scratch::default(),
            close_log: CloseLog::default(),
            workers: Workers::new(threads, config.work_queue, waker),
            dials: Dials::default(),
            spread: Spread::default(),
            config,
        }
    }

    // ----- the turn's frame ------------------------------------------------------------------

    /// Wait for events, for no longer than the timers and `max_wait` allow (see
    /// [`poll_timeout`](Core::poll_timeout)), and read the clock for the turn. Returns the
    /// events, lent until [`give_back`](Core::give_back), and how many there are.
    #[inline]
    pub(crate) fn poll(&mut self, max_wait: Option<Duration>) -> io::Result<(Batch, usize)> {
        let timeout = self.poll_timeout(self.sources.now(), max_wait);
        if let Some(wait) = timeout {
            if self.sources.net().is_none() {
                self.timers.wake_on_time(self.sources.registry(), wait);
            }
        }
        let (batch, events, timer_woke) = self.sources.poll(timeout)?;
        if timer_woke {
            self.timers.woke();
        }
        self.now = self.sources.now();
        Ok((batch, events))
    }

    /// Take back the events lent by [`poll`](Core::poll).
    pub(crate) fn give_back(&mut self, batch: Batch) {
        self.sources.give_back(batch);
    }

    /// How long the next poll may wait: zero if work is left over (or, in a simulation, which
    /// never polls the waker, a connection another reactor handed here waits; a real
    /// reactor's waker ends its wait), else until the timers next need a turn (measured from
    /// `now`), capped by `max_wait`.
    pub(crate) fn poll_timeout(
        &self,
        now: Instant,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        let handed = || self.sources.net().is_some() && self.spread.has_handed();
        if self.work.has_work() || self.workers.has_inline() || handed() {
            return Some(Duration::ZERO);
        }
        self.timers.next_wait(now, max_wait)
    }

    /// The instant the turn started dispatching.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    /// The kind of source `key` names, for routing its event; `None` if stale or closed.
    #[inline]
    pub(crate) fn kind(&self, key: Key) -> Option<Kind> {
        self.sources.kind(key)
    }

    /// The config (read-only: the turn reads its budgets and switches from it).
    #[inline]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    #[inline]
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The counters, for the turn and layers above that count their own events.
    #[inline]
    pub(crate) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// Blocks the buffer pool allocated because none was idle (for the simulation).
    pub(crate) fn pool_dry_takes(&self) -> u64 {
        self.pool.dry_takes()
    }

    /// Has the reactor been asked to stop?
    pub(crate) fn is_stopped(&self) -> bool {
        self.life.is_stopped()
    }

    /// Forget a stop once `run` has returned for it.
    pub(crate) fn clear_stop(&mut self) {
        self.life.clear_stop();
    }

    /// Is a graceful shutdown under way?
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.life.is_shutting_down()
    }

    /// Join a server's group of reactors as its number `me`: connections accepted on shared
    /// listeners are placed on the least loaded (see `balance.rs`).
    pub(crate) fn join_balance(&mut self, balance: Arc<Balance>, me: usize) {
        self.spread.join(balance, me);
    }

    /// Tell the group this reactor's load (at the end of a turn).
    pub(crate) fn publish_load(&self) {
        self.spread.publish(self.stats.active as usize);
    }

    /// Use `limit` for the connections of this reactor, moving the ones open now onto it.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<ConnectionLimit>>) {
        self.door.set_limit(limit, self.stats.active);
    }

    // ----- the work lists ---------------------------------------------------------------------

    /// The work lists, for the turn to take and give back (`Work`).
    pub(crate) fn work(&mut self) -> &mut Work {
        &mut self.work
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
    #[inline]
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
        let timers = &mut self.timers;
        let armed = conn.timers().arm(|old, at| {
            if let Some(old) = old {
                timers.cancel(old);
            }
            timers.arm_at(at, TimerTarget::Conn(key))
        });
        if armed {
            self.stats.timeout_arms += 1;
        }
    }

    /// `key` stops reading until the budget admits what it needs next.
    pub(crate) fn wait_for_budget(&mut self, key: Key) {
        self.admission.wait(key);
        self.stats.budget_waits += 1;
    }

    /// Admit the connections waiting for the budget, in order, as far as it now allows (each
    /// reads again next turn); then record the input held, for the counters.
    pub(crate) fn admit_waiting(&mut self) {
        let block = self.pool.read_size();
        while let Some(key) = self
            .admission
            .next_admitted(&mut self.sources, self.now, block)
        {
            self.queue_read(key);
            self.rearm(key);
        }
        // The turn's last word on the budget, for the published counters.
        self.stats.input_buffered = self.admission.used() as u64;
    }

    // ----- stream connections -------------------------------------------------------------------

    /// One read of the connection `key` (see `Conn::read`), counted against the turn's read
    /// `quota` for it; `None` if `key` is stale. The turn does what the step says. Input to
    /// deliver comes lent out with it (as [`take_input`](Core::take_input) lends it), unless
    /// descriptors came with it: those go to the handler first.
    #[inline(always)]
    pub(crate) fn read_once(
        &mut self,
        key: Key,
        hup: bool,
        quota: &mut usize,
    ) -> Option<(Read, Option<ReadBuf>)> {
        let (sock, conn) = self.sources.conn_mut(key)?;
        let tls = matches!(sock, Stream::Tls(_));
        let (cmsg, fds_in) = self.scratch.fds_space();
        let mut io = StreamIo::new(sock).receiving(cmsg, fds_in);
        let (limit, budget) = (self.config.max_read_buffer, self.admission.budget());
        let cx = ReadCx {
            pool: &mut self.pool,
            budget,
            limit,
            quota,
            hup,
        };
        let read = conn.read(self.now, &mut io, cx);
        self.stats.bytes_in += read.bytes as u64;
        let flush = tls && conn.after_secure_read(&io);
        let lend = matches!(read.step, InputStep::Deliver) && !self.scratch.has_fds_in();
        let lent = lend.then(|| conn.take_input());
        if flush {
            self.schedule_flush(key);
        }
        Some((read, lent))
    }

    /// Descriptors received by the last read, if any (to the handler before the bytes).
    #[inline]
    pub(crate) fn take_fds_in(&mut self) -> Option<Vec<OwnedFd>> {
        if !self.scratch.has_fds_in() {
            return None;
        }
        Some(self.scratch.take_fds_in())
    }

    /// Lend `key`'s unconsumed input to the handler (moved out: no copy, no allocation), so
    /// that it can borrow the bytes while the context borrows the core.
    #[inline]
    pub(crate) fn take_input(&mut self, key: Key) -> Option<ReadBuf> {
        self.sources
            .conn_mut(key)
            .map(|(_, conn)| conn.take_input())
    }

    /// Give back the input lent by [`take_input`](Core::take_input), of which the handler
    /// consumed `used` bytes; `drained`: the read before proved the socket empty. With
    /// `writable` (the event said the socket is writable too), do here what that half of the
    /// event would have done: schedule a flush if the connection has one to make.
    #[inline(always)]
    pub(crate) fn restore_input(
        &mut self,
        key: Key,
        mut rbuf: ReadBuf,
        used: usize,
        (drained, writable): (bool, bool),
    ) {
        match self.sources.conn_mut(key) {
            Some((sock, conn)) => {
                let budget = self.admission.budget();
                let rearm =
                    conn.restore_input(self.now, rbuf, used, drained, &mut self.pool, budget);
                // Up (it just delivered input), so no connect to finish.
                let flush = writable && conn.wants_flush(&StreamIo::new(sock));
                if rearm {
                    self.rearm(key);
                }
                // Shutting down: is the message done? The flush at the end of the turn asks.
                if flush || self.life.is_shutting_down() {
                    self.schedule_flush(key);
                }
            }
            // The handler closed the connection; the slot may even hold a new one now.
            None => rbuf.clear(&mut self.pool),
        }
    }

    /// Write as much of `key`'s queued output as the kernel takes, then do what the
    /// connection says comes next. `true`: the handler must hear that the output drained.
    #[inline]
    pub(crate) fn flush(&mut self, key: Key) -> bool {
        let Some((sock, conn)) = self.sources.conn_to_flush(key) else {
            return false;
        };
        let fds = if self.fds_out.is_empty() {
            None
        } else {
            self.fds_out.get_mut(&key)
        };
        let mut io = StreamIo::new(sock).sending(fds);
        let marks = (self.config.low_watermark, self.config.linger);
        let done = conn.flush(self.now, &mut io, &mut self.pool, marks);
        self.stats.bytes_out += done.written as u64;
        if !self.fds_out.is_empty() {
            if let Some(out) = self.fds_out.get(&key).filter(|out| out.is_done()) {
                self.stats.fds_out += out.fds_sent();
                self.fds_out.remove(&key);
            }
        }
        if done.read_again {
            // Edge-triggered: input that arrived meanwhile raised no event of its own.
            self.queue_read(key);
            self.rearm(key);
        }
        match done.step {
            FlushStep::Drained => true,
            FlushStep::Close(reason) => {
                self.close_now(key, reason);
                false
            }
            _ => false,
        }
    }

    /// A writable event for `key`: finish a connection's connect if one is under way, say
    /// whether a connection has output to flush, or send what a datagram socket queued.
    /// `None` for a watched descriptor: the handler is to hear that it is writable.
    #[inline]
    pub(crate) fn writable(&mut self, key: Key) -> Option<Writable> {
        Some(match self.sources.get_mut(key) {
            Some(Source::Conn { sock, conn }) => {
                match conn.on_writable(self.now, &mut StreamIo::new(sock)) {
                    Writable::Connected => {
                        self.rearm(key);
                        Writable::Connected
                    }
                    Writable::Close(reason) => {
                        self.close_now(key, reason);
                        Writable::Nothing
                    }
                    other => other,
                }
            }
            Some(Source::Dgram(dgram)) => {
                dgram.flush(&mut self.stats);
                Writable::Nothing
            }
            Some(Source::Watch(_)) => return None,
            _ => Writable::Nothing,
        })
    }

    /// Queue output on `key` with `push`, which adds `len` bytes to the queue; the flush at
    /// the end of the turn writes it.
    #[inline]
    pub(crate) fn queue_output(
        &mut self,
        key: Key,
        len: usize,
        push: impl FnOnce(&mut WriteQueue, &mut BufPool),
    ) -> io::Result<()> {
        let (high, cap) = (self.config.high_watermark, self.config.max_queued);
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        match conn.queue(self.now, high, cap, len, &mut self.pool, push)? {
            Queued::Nothing => return Ok(()),
            Queued::Added => {}
            Queued::Started => self.rearm(key),
        }
        self.schedule_flush(key);
        Ok(())
    }

    /// Write `data` on `key` at once if nothing is queued ahead of it, and queue (copy) only
    /// what the kernel does not take.
    #[inline]
    pub(crate) fn write_now(&mut self, key: Key, data: &[u8]) -> io::Result<()> {
        let Some((sock, conn)) = self.sources.conn_mut(key) else {
            return Err(stale());
        };
        let n = conn.write_direct(self.now, &mut StreamIo::new(sock), data);
        self.stats.bytes_out += n as u64;
        let rest = &data[n..];
        if rest.is_empty() {
            return Ok(());
        }
        self.queue_output(key, rest.len(), |q, pool| q.push_copy(rest, pool))
    }

    /// Queue `data` on `key` with duplicates of `fds` to travel with its first byte.
    pub(crate) fn write_with_fds(
        &mut self,
        key: Key,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        let Some((sock, conn)) = self.sources.conn(key) else {
            return Err(stale());
        };
        let before = conn.status().queued as u64;
        let fds = sock.dup_fds_for(data, fds)?;
        self.queue_output(key, data.len(), |q, pool| q.push_copy(data, pool))?;
        self.fds_out.entry(key).or_default().push(before, fds);
        Ok(())
    }

    /// The connection `key`, to read its state (`None` if stale).
    #[inline]
    pub(crate) fn conn(&self, key: Key) -> Option<&Conn> {
        self.sources.conn(key).map(|(_, conn)| conn)
    }

    /// Announce that the message `key` is receiving is `total` bytes in all (see
    /// `Context::expect_input`).
    pub(crate) fn expect_input(&mut self, key: Key, total: usize) {
        let block = self.pool.read_size();
        // A message past the read buffer's limit will close the connection when it arrives;
        // reserving more than that could never be admitted.
        let total = total.min(self.config.max_read_buffer);
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        if conn.expect_input(total, self.admission.budget(), block) {
            self.wait_for_budget(key);
            // Waiting for the budget keeps a partial message's frame clock running, which it
            // may not have been (reading paused by backpressure): its deadline may be the
            // earliest now.
            self.rearm(key);
        }
    }

    // ----- beyond the sockets ----------------------------------------------------------------

    /// The owners that the program's own descriptors, its blocking work and its dials change
    /// (`outside.rs`), for one call.
    pub(crate) fn outside(&mut self) -> Outside<'_> {
        let io = DialIo {
            sources: &mut self.sources,
            timers: &mut self.timers,
            now: self.now,
        };
        let (workers, dials, work) = (&mut self.workers, &mut self.dials, &mut self.work);
        Outside::new(io, workers, dials, work, &mut self.stats, &self.config)
    }

    /// The next dial that ended: the connection it made (served from now on, connecting:
    /// its writable event brings `on_connect`), or why it failed.
    pub(crate) fn next_dialed(&mut self) -> Option<(DialId, io::Result<ConnId>)> {
        let (id, outcome) = self.dials.next_done()?;
        let conn = outcome.and_then(|fd| self.add_conn(Stream::connected(fd), Opened::Connecting));
        Some((id, conn))
    }

    // ----- timers ------------------------------------------------------------------------------

    /// The next precise timer due by this turn's `now`.
    pub(crate) fn next_precise_due(&mut self) -> Option<Due> {
        self.timers.poll_precise(self.now)
    }

    /// The next wheel entry due by this turn's `now`.
    pub(crate) fn next_wheel_due(&mut self) -> Option<Due> {
        self.timers.poll_wheel(self.now)
    }

    /// `key`'s wheel entry `handle` fired: ask the connection what has expired. Returns the
    /// timeout the handler must hear about, if one did; does the rest (re-arm, close).
    pub(crate) fn conn_timer(&mut self, key: Key, handle: TimerHandle) -> Option<TimeoutKind> {
        let (_, conn) = self.sources.conn_mut(key)?;
        match conn.timers().on_timer(self.now, handle) {
            TimerStep::Stale => {}
            TimerStep::Rearm => self.rearm(key),
            TimerStep::Close(reason) => self.close_now(key, reason),
            TimerStep::TimedOut(kind) => {
                self.stats.count_timeout(kind);
                return Some(kind);
            }
        }
        None
    }

    /// The handler kept `key` open after its `kind` timeout: restart that clock.
    pub(crate) fn keep_open(&mut self, key: Key, kind: TimeoutKind) {
        if let Some((_, conn)) = self.sources.conn_mut(key) {
            conn.timers().keep_open(kind, self.now);
        }
        self.rearm(key);
    }

    /// A user timer on the wheel, `after` from now.
    pub(crate) fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.timers.set_user(self.now, after, token)
    }

    /// A precise user timer, `after` from now.
    pub(crate) fn set_precise_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.timers.set_precise(self.now, after, token)
    }

    /// Cancel a user timer; `false` if it fired or was cancelled already.
    pub(crate) fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.timers.cancel_user(timer)
    }

    /// The timeouts connections opened from now on start with.
    pub(crate) fn set_default_timeouts(&mut self, timeouts: crate::conn::Timeouts) {
        self.config.timeouts = timeouts;
    }
}
