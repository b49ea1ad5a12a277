//! [`Handle`]: reaching a reactor from other threads, through a channel and a `mio::Waker`.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::Waker;

use super::context::Context;
use super::stats::Stats;

pub(crate) type Job<H> = Box<dyn FnOnce(&mut H, &mut Context<'_>) + Send>;

pub(crate) enum Msg<H> {
    Stop,
    Shutdown(Duration),
    Run(Job<H>),
}

/// A handle to a reactor, usable from any thread: stop it, shut it down gracefully, read its
/// counters, or run code on its thread.
pub struct Handle<H> {
    tx: mpsc::Sender<Msg<H>>,
    waker: Arc<Waker>,
    /// The counters as the reactor last published them.
    stats: Arc<Mutex<Stats>>,
}

impl<H> Handle<H> {
    /// A handle that sends to `tx` and wakes the reactor with `waker`.
    pub(crate) fn new(tx: mpsc::Sender<Msg<H>>, waker: Arc<Waker>) -> Handle<H> {
        Handle {
            tx,
            waker,
            stats: Arc::new(Mutex::new(Stats::default())),
        }
    }

    /// Publish the reactor's counters for [`stats`](Handle::stats) (an uncontended lock and
    /// a copy).
    pub(crate) fn publish(&self, stats: &Stats) {
        if let Ok(mut shared) = self.stats.lock() {
            *shared = *stats;
        }
    }
}

impl<H> Clone for Handle<H> {
    fn clone(&self) -> Self {
        Handle {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            stats: Arc::clone(&self.stats),
        }
    }
}

impl<H> std::fmt::Debug for Handle<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<H> Handle<H> {
    /// Ask the reactor to stop: [`Reactor::run`](super::Reactor::run) returns after the current turn.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn stop(&self) -> io::Result<()> {
        self.send(Msg::Stop)
    }

    /// Shut down gracefully (see [`Context::shutdown`](super::Context::shutdown)): stop
    /// accepting, let each connection finish the message under way and close it cleanly,
    /// cut off what is left when `grace` ends, then stop. [`stop`](Handle::stop) during the
    /// grace cuts the connections off at once.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn shutdown(&self, grace: Duration) -> io::Result<()> {
        self.send(Msg::Shutdown(grace))
    }

    /// The reactor's counters as of the end of its last turn. Reading them never stops or
    /// waits for the reactor.
    pub fn stats(&self) -> Stats {
        // A poisoned lock still holds plain numbers: use them.
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the reactor's thread, with its handler and a context, during its next turn.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the reactor is gone; any error of waking it.
    pub fn run<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce(&mut H, &mut Context<'_>) + Send + 'static,
    {
        self.send(Msg::Run(Box::new(f)))
    }

    /// Connect to `target` by name from any thread (see
    /// [`Context::connect_host`](super::Context::connect_host)): for a [`Server`]'s reactors,
    /// say, each through its handle. The dial starts on the reactor's thread, in its next
    /// turn, and [`Handler::on_dialed`] reports how it ended, with an id the handler sees
    /// there first. A dial that cannot start there (the worker queue is full) is reported the
    /// same way.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a target that is not `host:service`, at once; `BrokenPipe` if the
    /// reactor is gone; any error of waking it.
    ///
    /// [`Server`]: crate::server::Server
    /// [`Handler::on_dialed`]: super::Handler::on_dialed
    pub fn connect_host(&self, target: &str) -> io::Result<()>
    where
        H: super::handler::Handler,
    {
        crate::conn::race::split_target(target)?;
        let target = target.to_owned();
        self.run(move |h, cx| {
            if let Err(e) = cx.connect_host(&target) {
                let dial = cx.new_dial_id();
                h.on_dialed(cx, dial, Err(e));
            }
        })
    }

    /// The reactor's waker.
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    fn send(&self, msg: Msg<H>) -> io::Result<()> {
        self.tx
            .send(msg)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        self.waker.wake()
    }
}
