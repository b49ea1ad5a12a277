//! [`Dials`]: connecting to a host by name without blocking the loop
//! (`Context::connect_host`), with Happy Eyeballs (RFC 8305).
//!
//! A dial goes through three stages, each driven by an event the reactor already has:
//!
//! 1. **The look-up.** `"host:service"` is split here; the service name (if not a number) and
//!    the host are looked up on the reactor's worker threads (`workers.rs`), with the
//!    reactor's resolver. The job's result comes back through `Core::next_finished`, which
//!    hands it here instead of to the handler.
//! 2. **The race.** The addresses are put in Happy Eyeballs order (families interleaved, IPv6
//!    first) and tried one by one: the next attempt starts when the one before it fails, or
//!    when `Config::connect_attempt_delay` has passed with no answer, whichever comes first,
//!    while earlier attempts go on. Each attempt is a non-blocking socket in the slab as a
//!    watched descriptor (`Source::Watch`), writable interest only, which the handler never
//!    sees: the turn offers every watched descriptor's readiness here first
//!    ([`Dials::ready`]). One wheel entry per dial wakes it for the next attempt or its
//!    deadline.
//! 3. **The outcome.** The first attempt to connect wins: the others are closed, and the
//!    winner's socket is handed out ([`Dials::next_done`]) for the core to serve as an
//!    ordinary outgoing connection, whose writable event then brings `Handler::on_connect` as
//!    for `Context::connect`. If every address fails, or the connection's connect timeout
//!    (`Timeouts::connect`, which bounds the whole dial: look-up and every attempt) passes
//!    first, the dial fails with an error naming what was tried. Either way the handler
//!    hears once, through `Handler::on_dialed`.
//!
//! What to do next is decided by `conn::race::Race`, sans-IO (`now` in, one step out), so
//! that its timing is tested on a virtual clock; [`Dials`] carries its steps out on the slab
//! and the wheel.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use mio::Interest;

use super::ids::{DialId, WorkId};
use super::registry::{Key, Source, Sources};
use super::timers::{TimerTarget, Timers};
use super::workers::{Output, Resolver};
use crate::conn::race::{Race, Step};
use crate::time::TimerHandle;

/// The look-up a dial runs on a worker thread: the service's port (a number, or a name looked
/// up in the services database), then the host's addresses with `resolver`.
pub(crate) fn lookup(
    resolver: Resolver,
    host: String,
    service: String,
) -> impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static {
    move || {
        let port = crate::names::service_port(&service)?;
        resolver(&host, port)
    }
}

/// One dial in progress.
#[derive(Debug)]
struct Dial {
    target: String,
    race: Race,
    /// The look-up job, until it answers.
    work: Option<WorkId>,
    /// The attempts under way (watched sockets).
    attempts: Vec<Key>,
    /// The wheel entry that wakes the dial (next attempt or deadline).
    timer: Option<TimerHandle>,
}

/// The owners a dial's step changes: the slab (attempt sockets) and the wheel, at `now`.
pub(crate) struct DialIo<'a> {
    pub(crate) sources: &'a mut Sources,
    pub(crate) timers: &'a mut Timers,
    pub(crate) now: Instant,
}

/// The dials in progress, and the outcomes not yet reported (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Dials {
    next_id: u64,
    dials: HashMap<DialId, Dial>,
    by_work: HashMap<WorkId, DialId>,
    /// Each attempt's socket: its dial and the address it tries.
    by_key: HashMap<Key, (DialId, SocketAddr)>,
    /// Look-ups of dials that ended before they answered: their answers are dropped here,
    /// never handed to the handler as a job of its own.
    orphans: Vec<WorkId>,
    done: VecDeque<(DialId, io::Result<OwnedFd>)>,
}

impl Dials {
    /// Start a dial to `target`, whose look-up is the job `work`; bounded by `timeout`, with
    /// `delay` between attempts.
    pub(crate) fn start(
        &mut self,
        target: &str,
        work: WorkId,
        timeout: Option<Duration>,
        delay: Duration,
        io: DialIo<'_>,
    ) -> DialId {
        let id = self.new_id();
        let dial = Dial {
            target: target.to_owned(),
            race: Race::new(io.now, timeout, delay),
            work: Some(work),
            attempts: Vec::new(),
            timer: None,
        };
        self.dials.insert(id, dial);
        self.by_work.insert(work, id);
        self.drive(id, io);
        id
    }

    /// A fresh id (also for a dial that fails before it starts).
    pub(crate) fn new_id(&mut self) -> DialId {
        self.next_id += 1;
        DialId(self.next_id)
    }

    /// Is `work` a dial's look-up (of a dial under way, or of one that has ended)?
    pub(crate) fn owns_work(&self, work: WorkId) -> bool {
        self.by_work.contains_key(&work) || self.orphans.contains(&work)
    }

    /// Is `key` one of the attempts (the reactor's own, not the program's descriptor)?
    pub(crate) fn owns_attempt(&self, key: Key) -> bool {
        self.by_key.contains_key(&key)
    }

    /// The look-up `work` answered with `output`.
    pub(crate) fn resolved(&mut self, work: WorkId, output: Output, io: DialIo<'_>) {
        let Some(id) = self.by_work.remove(&work) else {
            // A dial that ended first: its answer goes nowhere.
            self.orphans.retain(|&w| w != work);
            return;
        };
        let Some(dial) = self.dials.get_mut(&id) else {
            return;
        };
        dial.work = None;
        let addrs = match output {
            Ok(any) => match any.downcast::<io::Result<Vec<SocketAddr>>>() {
                Ok(addrs) => *addrs,
                Err(_) => Err(io::Error::other("the look-up returned something else")),
            },
            Err(_) => Err(io::Error::other("the resolver panicked")),
        };
        dial.race.resolved(addrs);
        self.drive(id, io);
    }

    /// The watched descriptor `key` is ready: if it is an attempt, see whether it connected
    /// and carry on. `false` if it is not an attempt (a descriptor of the program's own).
    pub(crate) fn ready(&mut self, key: Key, io: DialIo<'_>) -> bool {
        let Some(&(id, addr)) = self.by_key.get(&key) else {
            return false;
        };
        let outcome = match io.sources.get(key) {
            Some(Source::Watch(fd)) => connect_result(fd),
            _ => return true,
        };
        match outcome {
            // Not finished after all (a spurious wake-up).
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                self.drop_attempt(key, io.sources);
                if let Some(dial) = self.dials.get_mut(&id) {
                    log::debug!("{}: {addr}: {e}", dial.target);
                    dial.race.failed(addr, &e, io.now);
                }
                self.drive(id, io);
            }
            Ok(()) => {
                self.by_key.remove(&key);
                if let Some(dial) = self.dials.get_mut(&id) {
                    dial.attempts.retain(|&k| k != key);
                }
                match io.sources.remove(key) {
                    Some(Source::Watch(fd)) => self.finish(id, Ok(fd), io),
                    _ => self.finish(id, Err(io::Error::other("the attempt vanished")), io),
                }
            }
        }
        true
    }

    /// The wheel entry of dial `id` fired.
    pub(crate) fn timer_fired(&mut self, id: DialId, io: DialIo<'_>) {
        if let Some(dial) = self.dials.get_mut(&id) {
            dial.timer = None;
            self.drive(id, io);
        }
    }

    /// Give up dial `id` without reporting it. `false` if it is not in progress.
    pub(crate) fn cancel(&mut self, id: DialId, io: DialIo<'_>) -> bool {
        let Some(dial) = self.dials.remove(&id) else {
            return false;
        };
        self.clear(dial, io);
        true
    }

    /// The next finished dial: the winning socket (connected), or why it failed.
    pub(crate) fn next_done(&mut self) -> Option<(DialId, io::Result<OwnedFd>)> {
        self.done.pop_front()
    }

    /// Carry out dial `id`'s steps until it waits or ends.
    fn drive(&mut self, id: DialId, io: DialIo<'_>) {
        loop {
            let Some(dial) = self.dials.get_mut(&id) else {
                return;
            };
            match dial.race.next(io.now) {
                Step::Start(addr) => {
                    let opened = open(addr)
                        .and_then(|fd| io.sources.insert(Source::Watch(fd), Interest::WRITABLE));
                    match opened {
                        Ok(key) => {
                            dial.attempts.push(key);
                            self.by_key.insert(key, (id, addr));
                        }
                        Err(e) => dial.race.failed(addr, &e, io.now),
                    }
                }
                Step::Wait(at) => {
                    if let Some(old) = dial.timer.take() {
                        io.timers.cancel(old);
                    }
                    dial.timer = at.map(|at| io.timers.arm_at(at, TimerTarget::Dial(id)));
                    return;
                }
                Step::Fail(kind, what) => {
                    let err =
                        io::Error::new(kind, format!("cannot connect to {}: {what}", dial.target));
                    return self.finish(id, Err(err), io);
                }
            }
        }
    }

    /// Dial `id` ends with `outcome`: close what is left of it and queue the report.
    fn finish(&mut self, id: DialId, outcome: io::Result<OwnedFd>, io: DialIo<'_>) {
        if let Some(dial) = self.dials.remove(&id) {
            self.clear(dial, io);
        }
        self.done.push_back((id, outcome));
    }

    /// Close `dial`'s attempts, cancel its wheel entry and forget its look-up (whose result
    /// is then dropped when it comes).
    fn clear(&mut self, dial: Dial, io: DialIo<'_>) {
        for key in dial.attempts {
            self.drop_attempt(key, io.sources);
        }
        if let Some(timer) = dial.timer {
            io.timers.cancel(timer);
        }
        if let Some(work) = dial.work {
            self.by_work.remove(&work);
            self.orphans.push(work);
        }
    }

    /// Deregister and close the attempt `key`.
    fn drop_attempt(&mut self, key: Key, sources: &mut Sources) {
        if let Some((id, _)) = self.by_key.remove(&key) {
            if let Some(dial) = self.dials.get_mut(&id) {
                dial.attempts.retain(|&k| k != key);
            }
        }
        drop(sources.remove(key));
    }
}

/// A non-blocking TCP socket connecting to `addr` (the connect goes on in the background).
fn open(addr: SocketAddr) -> io::Result<OwnedFd> {
    Ok(OwnedFd::from(mio::net::TcpStream::connect(addr)?))
}

/// Has the connect on `fd` finished? `Ok` if it has, `NotConnected` if it is still under way,
/// its error if it failed.
fn connect_result(fd: &OwnedFd) -> io::Result<()> {
    let sock = socket2::SockRef::from(fd);
    match sock.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        // Writable with no error can still be a connect under way; `peer_addr` tells.
        Ok(None) => sock.peer_addr().map(|_| ()),
    }
}
