//! [`Core`]: the reactor's state apart from the poller and the handler.
//!
//! `Core` owns the slab of sources, the timer wheel, the buffer pool, the counters, and the
//! turn's work lists: the *read list* (sources to read again next turn without waiting for an
//! event), the *flush list* (connections given output this turn) and the *closed list*
//! (connections closed and not yet reported to the handler). The rooms beside this file add
//! behaviour to it, each in one `impl Core` block: `open` adds sockets, `output` queues bytes,
//! `close` ends connections, `timers` arms the wheel and the precise timers, `dispatch` calls the handler, and the
//! I/O rooms (`stream`, `accept`, `dgram`, `expire`) serve events. A `Context` is a
//! `&mut Core` with a public face.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::clock::Clock;
use super::config::Config;
use super::limit::ConnectionLimit;
use super::registry::Sources;
use super::stats::Stats;
use super::token::{ConnId, Key};
use crate::buf::BufPool;
use crate::conn::Budget;
use crate::error::CloseReason;
use crate::time::{PreciseTimers, TimerHandle, TimerWheel};

/// What a timer-wheel entry is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimerTarget {
    /// Check a connection's deadlines.
    Conn(Key),
    /// A user timer with the user's token.
    User(u64),
    /// Resume accepting on a listener paused after running out of descriptors.
    ResumeAccept(Key),
    /// The grace period of a graceful shutdown is over.
    ShutdownDeadline,
}

/// Two vectors used in turn: the one being served and the one being filled. Swapping them
/// each turn means no allocation once both have grown.
#[derive(Debug, Default)]
pub(crate) struct WorkList {
    pub(crate) next: Vec<Key>,
    spare: Vec<Key>,
}

impl WorkList {
    fn with_capacity(n: usize) -> WorkList {
        WorkList {
            next: Vec::with_capacity(n),
            spare: Vec::with_capacity(n),
        }
    }

    /// Take the keys queued so far; what is queued from now on goes to the other vector.
    pub(crate) fn take(&mut self) -> Vec<Key> {
        let spare = std::mem::take(&mut self.spare);
        std::mem::replace(&mut self.next, spare)
    }

    /// Give back a vector that [`take`](WorkList::take) handed out, emptied.
    pub(crate) fn give_back(&mut self, mut v: Vec<Key>) {
        v.clear();
        self.spare = v;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

/// The reactor's state (see the module docs).
pub(crate) struct Core {
    pub(crate) sources: Sources,
    pub(crate) wheel: TimerWheel<TimerTarget>,
    /// User timers with exact deadlines (`Context::set_precise_timer`), by user token.
    pub(crate) precise: PreciseTimers<Instant, u64>,
    pub(crate) clock: Clock,
    pub(crate) pool: BufPool,
    pub(crate) config: Config,
    /// The instant this turn started dispatching: every callback in a turn sees it.
    pub(crate) now: Instant,
    /// Sources with input (or connections to accept) left over after their budget ran out,
    /// or whose reading resumed: served again next turn, without waiting for an event.
    pub(crate) read_list: WorkList,
    /// Connections with output queued this turn, flushed at the end of the turn.
    pub(crate) flush_list: WorkList,
    /// Connections closed but not yet reported to the handler.
    pub(crate) closed: VecDeque<(ConnId, CloseReason)>,
    /// One receive buffer for all datagram sockets, made with the first of them.
    pub(crate) dgram_buf: Vec<u8>,
    pub(crate) stats: Stats,
    pub(crate) stopped: bool,
    /// A graceful shutdown is under way.
    pub(crate) shutting_down: bool,
    /// The wheel entry that ends the shutdown's grace period (none for an unbounded grace).
    pub(crate) shutdown_timer: Option<TimerHandle>,
    /// User timers in the wheel (for the audit's count of its entries).
    pub(crate) user_timers: usize,
    /// The bound on open connections (`Config::max_connections`, or one shared by several
    /// reactors).
    pub(crate) limit: Option<Arc<ConnectionLimit>>,
    /// One descriptor held back for accepting and closing connections when the process runs
    /// out (see `accept`); `None` if it could not be opened.
    pub(crate) reserve: Option<crate::sys::Reserve>,
    /// The input memory budget all connections share (`Config::max_buffered`).
    pub(crate) budget: Budget,
    /// Connections waiting for the budget, in the order they began to wait.
    pub(crate) starving: VecDeque<Key>,
    /// Descriptors queued to be sent, per connection (`fds.rs`); empty for most reactors.
    pub(crate) fds_out: std::collections::HashMap<Key, super::fds::FdsOut>,
    /// Descriptors received by the current read, until they are handed to the handler.
    pub(crate) fds_in: Vec<std::os::fd::OwnedFd>,
    /// Control-message space for reading descriptors, made with the first Unix read.
    pub(crate) cmsg: Vec<u8>,
    /// Buffers for receiving many datagrams per call, made with the first batch.
    pub(crate) recv_batch: Option<Box<crate::sys::RecvBatch>>,
    /// Replies gathered while a batch of datagrams is being handled, and on which socket.
    pub(crate) send_batch: crate::sys::SendBatch,
    pub(crate) batching: Option<Key>,
}

/// Places taken in a shared connection limit go back when the reactor goes, with connections
/// still open (a reactor stopped on its own, or one whose thread ended).
impl Drop for Core {
    fn drop(&mut self) {
        if let Some(limit) = &self.limit {
            for _ in 0..self.stats.active {
                limit.release();
            }
        }
    }
}

impl Core {
    pub(crate) fn new(sources: Sources, config: Config, now: Instant) -> Core {
        Core {
            sources,
            wheel: TimerWheel::with_capacity(config.events_capacity),
            precise: PreciseTimers::new(),
            clock: Clock::new(now),
            pool: BufPool::new(
                config.read_buffer_size,
                config.write_buffer_size,
                config.max_pooled_buffers,
            ),
            now,
            read_list: WorkList::with_capacity(64),
            flush_list: WorkList::with_capacity(64),
            closed: VecDeque::with_capacity(16),
            dgram_buf: Vec::new(),
            stats: Stats::default(),
            stopped: false,
            shutting_down: false,
            shutdown_timer: None,
            user_timers: 0,
            limit: config.max_connections.map(ConnectionLimit::new),
            reserve: crate::sys::Reserve::new().ok(),
            budget: Budget::new(config.max_buffered),
            starving: VecDeque::new(),
            fds_out: Default::default(),
            fds_in: Vec::new(),
            cmsg: Vec::new(),
            recv_batch: None,
            send_batch: Default::default(),
            batching: None,
            config,
        }
    }

    /// Use `limit` for the connections of this reactor, moving the ones open now onto it.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<ConnectionLimit>>) {
        for _ in 0..self.stats.active {
            if let Some(old) = &self.limit {
                old.release();
            }
            if let Some(new) = &limit {
                new.acquire();
            }
        }
        self.limit = limit;
    }

    /// Is work left for the next turn that no event will announce?
    pub(crate) fn has_work(&self) -> bool {
        !self.read_list.is_empty() || !self.flush_list.is_empty()
    }

    /// Put `key` on the read list, to be served next turn without waiting for an event
    /// (once, however often it is queued).
    pub(crate) fn queue_read(&mut self, key: Key) {
        if let Some(e) = self.sources.entry_mut(key) {
            if !e.on_read_list {
                e.on_read_list = true;
                self.read_list.next.push(key);
            }
        }
    }

    /// Take `key` off the read list; `false` if it is stale.
    pub(crate) fn unqueue_read(&mut self, key: Key) -> bool {
        match self.sources.entry_mut(key) {
            Some(e) => {
                e.on_read_list = false;
                true
            }
            None => false,
        }
    }

    /// Put `key` on the flush list, to be written at the end of this turn.
    pub(crate) fn schedule_flush(&mut self, key: Key) {
        if let Some(e) = self.sources.entry_mut(key) {
            if !e.on_flush_list {
                e.on_flush_list = true;
                self.flush_list.next.push(key);
            }
        }
    }
}
