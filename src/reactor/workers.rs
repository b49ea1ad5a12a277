//! [`Workers`]: the reactor's own threads for blocking work (`Context::submit`), so that a
//! blocking call (a name look-up, a file read, a slow computation) never stalls the loop.
//!
//! A job is a closure; it runs on one of `Config::workers` threads, made on the first
//! submit (a reactor that never submits has none). Its result goes onto a finished list, and
//! the reactor's waker ends the reactor's wait; the turn then hands each result to
//! `Handler::on_work_done` on the reactor thread, in the order the jobs finished.
//!
//! - **Bounded.** At most `Config::work_queue` jobs wait to start; one more is refused
//!   (`WouldBlock`), never queued without limit and never a stall.
//! - **Tied to a connection.** A job submitted for a connection is cancelled when the
//!   connection closes: dropped if it has not started, its result dropped if it has.
//! - **Dropped at the end.** Jobs still waiting when the reactor is dropped are dropped, and
//!   logged with their count; running ones finish, and their results go nowhere. The drop
//!   does not wait for them.
//! - **Inline.** With `Config::workers` zero, and always in the simulation, a job runs on the
//!   reactor thread itself, in submission order, where the next turn delivers results (a job
//!   submitted while results are delivered waits for the turn after): deterministic, and
//!   blocking the loop while it runs.

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use mio::Waker;

use super::ids::WorkId;
use super::registry::Key;

/// Looks a host name up: `(host, port)` to its addresses. The default is `getaddrinfo`;
/// tests and programs with a resolver of their own set another
/// ([`Context::set_resolver`](super::Context::set_resolver)).
pub type Resolver = Arc<dyn Fn(&str, u16) -> io::Result<Vec<std::net::SocketAddr>> + Send + Sync>;

/// `getaddrinfo`, for streams, every family: the default [`Resolver`].
pub(crate) fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        crate::names::stream_addrs(host, port)
            .map_err(|e| io::Error::other(format!("cannot resolve {host}: {e}")))
    })
}

/// What a job gives back: its value, or the payload of its panic.
pub(crate) type Output = std::thread::Result<Box<dyn Any + Send>>;

/// A job waiting to start.
struct Job {
    id: WorkId,
    conn: Option<Key>,
    work: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>,
}

/// What the threads and the reactor share.
#[derive(Default)]
struct Queues {
    waiting: VecDeque<Job>,
    finished: VecDeque<(WorkId, Option<Key>, Output)>,
    stopping: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    /// Signalled when a job is queued, or the threads are to stop.
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A job that panicked did so outside the lock: a poisoned lock still holds whole
        // queues.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The pool (see the module docs).
pub(crate) struct Workers {
    threads: usize,
    capacity: usize,
    waker: Arc<Waker>,
    next_id: u64,
    /// Made on the first submit.
    shared: Option<Arc<Shared>>,
    /// How host names are looked up (see [`Resolver`]).
    resolver: Option<Resolver>,
}

impl Workers {
    /// A pool of `threads` threads (0: inline) with room for `capacity` waiting jobs, waking
    /// the reactor through `waker` when a job finishes.
    pub(crate) fn new(threads: usize, capacity: usize, waker: Arc<Waker>) -> Workers {
        Workers {
            threads,
            capacity,
            waker,
            next_id: 0,
            shared: None,
            resolver: None,
        }
    }

    /// Look host names up with `resolver` from now on.
    pub(crate) fn set_resolver(&mut self, resolver: Resolver) {
        self.resolver = Some(resolver);
    }

    /// The resolver: the one set, or `getaddrinfo`.
    pub(crate) fn resolver(&self) -> Resolver {
        self.resolver.clone().unwrap_or_else(system_resolver)
    }

    /// Queue `work` (for the connection `conn`, if any).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when `Config::work_queue` jobs wait already; a thread that cannot be made.
    pub(crate) fn submit(
        &mut self,
        conn: Option<Key>,
        work: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>,
    ) -> io::Result<WorkId> {
        let shared = self.start()?;
        let mut q = shared.lock();
        if q.waiting.len() >= self.capacity {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} jobs wait already (Config::work_queue)", q.waiting.len()),
            ));
        }
        self.next_id += 1;
        let id = WorkId(self.next_id);
        q.waiting.push_back(Job { id, conn, work });
        drop(q);
        shared.ready.notify_one();
        Ok(id)
    }

    /// The shared queues, and the threads, made on first use.
    fn start(&mut self) -> io::Result<Arc<Shared>> {
        if let Some(shared) = &self.shared {
            return Ok(Arc::clone(shared));
        }
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
        });
        for i in 0..self.threads {
            let (ours, waker) = (Arc::clone(&shared), Arc::clone(&self.waker));
            // Detached: a thread ends after its job once the pool stops (see `Drop`).
            let spawned = std::thread::Builder::new()
                .name(format!("netloop-worker-{i}"))
                .spawn(move || work_loop(&ours, &waker));
            if let Err(e) = spawned {
                // The threads made so far end at once; the next submit starts afresh.
                shared.lock().stopping = true;
                shared.ready.notify_all();
                return Err(e);
            }
        }
        self.shared = Some(Arc::clone(&shared));
        Ok(shared)
    }

    /// Run the waiting jobs here and now, in order, when the pool has no threads.
    pub(crate) fn run_inline(&mut self) {
        if self.threads > 0 {
            return;
        }
        let Some(shared) = &self.shared else { return };
        loop {
            let Some(job) = shared.lock().waiting.pop_front() else {
                return;
            };
            let output = catch_unwind(AssertUnwindSafe(job.work));
            shared.lock().finished.push_back((job.id, job.conn, output));
        }
    }

    /// Is a job waiting to run inline (so that the turn must not sleep)?
    pub(crate) fn has_inline(&self) -> bool {
        self.threads == 0
            && self
                .shared
                .as_ref()
                .is_some_and(|s| !s.lock().waiting.is_empty())
    }

    /// The next finished job: its id, its connection and its output.
    #[inline]
    pub(crate) fn next_finished(&mut self) -> Option<(WorkId, Option<Key>, Output)> {
        self.shared.as_ref()?.lock().finished.pop_front()
    }

    /// The connection `conn` closed: drop its jobs that have not started. Returns how many.
    pub(crate) fn cancel(&mut self, conn: Key) -> usize {
        let Some(shared) = &self.shared else { return 0 };
        let mut q = shared.lock();
        let before = q.waiting.len();
        q.waiting.retain(|job| job.conn != Some(conn));
        before - q.waiting.len()
    }
}

/// The jobs waiting when the reactor goes are dropped (and logged). The threads are not
/// waited for: each ends after the job it is running, whose result goes nowhere, so that a
/// job that never returns (a look-up that hangs) cannot hang the reactor's drop.
impl Drop for Workers {
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        let dropped = {
            let mut q = shared.lock();
            q.stopping = true;
            std::mem::take(&mut q.waiting).len()
        };
        shared.ready.notify_all();
        if dropped > 0 {
            log::warn!("{dropped} submitted job(s) dropped: the reactor stopped before they ran");
        }
    }
}

/// One worker thread: take a job, run it, hand its output back and wake the reactor.
fn work_loop(shared: &Shared, waker: &Waker) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if q.stopping {
                    return;
                }
                if let Some(job) = q.waiting.pop_front() {
                    break job;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let output = catch_unwind(AssertUnwindSafe(job.work));
        shared.lock().finished.push_back((job.id, job.conn, output));
        if let Err(e) = waker.wake() {
            log::warn!("a worker could not wake the reactor: {e}");
        }
    }
}
