//! [`Outside`]: what the reactor does for a program beyond serving its sockets: watch the
//! program's own descriptors (`Context::watch`), run its blocking work off the loop
//! (`Context::submit`, `Context::resolve`) and connect to hosts by name
//! (`Context::connect_host`).
//!
//! It is a view, made for one call, over the owners these change: the slab (watched
//! descriptors and a dial's attempts are entries in it, `registry.rs`), the wheel (a dial's
//! next step), the worker pool (`workers.rs`), the dials (`dial.rs`), the read list (a
//! `notify`) and the counters. The state stays with those owners; this holds the glue
//! between them, so that `Core` does not.
//!
//! Data flows in three ways. A watched descriptor's event reaches the turn, which offers it
//! to the dials first ([`dial_ready`](Outside::dial_ready)) and otherwise to
//! `Handler::on_ready`. A job's result comes back from the workers through
//! [`next_finished`](Outside::next_finished): a dial's look-up goes to its dial, a job of a
//! connection closed since is dropped, anything else goes to `Handler::on_work_done`. A
//! dial's outcome waits in the dials until the core serves its connection
//! (`Core::next_dialed`).

use std::any::Any;
use std::io;
use std::os::fd::OwnedFd;

use super::config::Config;
use super::dial::{self, DialIo, Dials};
use super::ids::{DialId, Readiness, WatchId, WorkId};
use super::registry::{Key, Kind, Source};
use super::stats::Stats;
use super::work::Work;
use super::workers::{Output, Resolver, Workers};
use crate::error::stale;

/// The owners beyond the sockets, borrowed for one call (see the module docs).
pub(crate) struct Outside<'a> {
    io: DialIo<'a>,
    workers: &'a mut Workers,
    dials: &'a mut Dials,
    work: &'a mut Work,
    stats: &'a mut Stats,
    config: &'a Config,
}

impl<'a> Outside<'a> {
    /// A view over the slab and the wheel (`io`) and the other owners it changes.
    pub(crate) fn new(
        io: DialIo<'a>,
        workers: &'a mut Workers,
        dials: &'a mut Dials,
        work: &'a mut Work,
        stats: &'a mut Stats,
        config: &'a Config,
    ) -> Outside<'a> {
        Outside {
            io,
            workers,
            dials,
            work,
            stats,
            config,
        }
    }

    // ----- the program's own descriptors -------------------------------------------------------

    /// Watch `fd` for `interest` (see `Context::watch`); the reactor owns it until
    /// [`unwatch`](Outside::unwatch).
    pub(crate) fn watch(self, fd: OwnedFd, interest: Readiness) -> io::Result<WatchId> {
        let interest = interest.interest()?;
        self.io
            .sources
            .insert(Source::Watch(fd), interest)
            .map(WatchId)
    }

    /// Stop watching `key` and hand its descriptor back; `None` if stale, or an attempt of a
    /// dial (the reactor's own).
    pub(crate) fn unwatch(self, key: Key) -> Option<OwnedFd> {
        if self.io.sources.kind(key) != Some(Kind::Watch) || self.dials.owns_attempt(key) {
            return None;
        }
        match self.io.sources.remove(key) {
            Some(Source::Watch(fd)) => Some(fd),
            _ => None,
        }
    }

    /// Tell the handler again, next turn, that `key` is readable (see `Context::notify`).
    pub(crate) fn notify(self, key: Key) -> io::Result<()> {
        if self.io.sources.kind(key) != Some(Kind::Watch) || self.dials.owns_attempt(key) {
            return Err(stale());
        }
        if self.io.sources.mark_read(key) {
            self.work.push_read(key);
        }
        Ok(())
    }

    // ----- blocking work ---------------------------------------------------------------------------

    /// Queue `work` on the workers, for the connection `conn` if any (see `Context::submit`).
    pub(crate) fn submit(
        self,
        conn: Option<Key>,
        work: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>,
    ) -> io::Result<WorkId> {
        if conn.is_some_and(|key| self.io.sources.conn(key).is_none()) {
            return Err(stale());
        }
        self.workers.submit(conn, work)
    }

    /// Look `host` up on the workers with the resolver (see `Context::resolve`).
    pub(crate) fn resolve(self, host: &str, port: u16) -> io::Result<WorkId> {
        let (resolver, host) = (self.workers.resolver(), host.to_owned());
        self.workers
            .submit(None, Box::new(move || Box::new(resolver(&host, port))))
    }

    /// Look host names up with `resolver` from now on.
    pub(crate) fn set_resolver(self, resolver: Resolver) {
        self.workers.set_resolver(resolver);
    }

    /// Run the jobs waiting, here and now, when they run inline (once per turn, before its
    /// results are delivered: a job submitted meanwhile waits for the next turn).
    pub(crate) fn run_inline(self) {
        self.workers.run_inline();
    }

    /// The next finished job whose result the handler is to get: a dial's look-up goes to
    /// its dial, and a job of a connection closed since is dropped (and counted).
    pub(crate) fn next_finished(self) -> Option<(WorkId, Output)> {
        loop {
            let (id, conn, output) = self.workers.next_finished()?;
            match conn {
                Some(key) if self.io.sources.conn(key).is_none() => {
                    self.stats.work_cancelled += 1;
                }
                None if self.dials.owns_work(id) => {
                    let io = DialIo {
                        sources: &mut *self.io.sources,
                        timers: &mut *self.io.timers,
                        now: self.io.now,
                    };
                    self.dials.resolved(id, output, io);
                }
                _ => return Some((id, output)),
            }
        }
    }

    // ----- connecting by name --------------------------------------------------------------------

    /// Look `target` up on the workers, then race its addresses (see `Context::connect_host`).
    pub(crate) fn connect_host(self, target: &str) -> io::Result<DialId> {
        if self.io.sources.net().is_some() {
            let why = "the simulation has no names to look up";
            return Err(io::Error::new(io::ErrorKind::Unsupported, why));
        }
        let (host, service) = crate::conn::race::split_target(target)?;
        let job = dial::lookup(self.workers.resolver(), host.into(), service.into());
        let work = self
            .workers
            .submit(None, Box::new(move || Box::new(job())))?;
        let timeout = self.config.timeouts.connect;
        let delay = self.config.connect_attempt_delay;
        Ok(self.dials.start(target, work, timeout, delay, self.io))
    }

    /// The watched descriptor `key` is ready: `true` if it is a dial's attempt (then served
    /// here, and not the handler's).
    pub(crate) fn dial_ready(self, key: Key) -> bool {
        self.dials.ready(key, self.io)
    }

    /// Dial `id`'s wheel entry fired.
    pub(crate) fn dial_timer(self, id: DialId) {
        self.dials.timer_fired(id, self.io);
    }

    /// Give dial `id` up, unreported (see `Context::cancel_dial`).
    pub(crate) fn cancel_dial(self, id: DialId) -> bool {
        self.dials.cancel(id, self.io)
    }

    /// A fresh dial id (for a dial that fails before it starts).
    pub(crate) fn new_dial_id(self) -> DialId {
        self.dials.new_id()
    }
}
