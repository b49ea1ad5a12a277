//! Waiting for readiness: `epoll_wait` through mio, or, in the simulation, the in-memory
//! network's edges. Both come out as the same [`Ready`] events, and both give the turn its
//! `now` (the real clock, or the virtual one).

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry};

use crate::memnet::{Net, Ready};

pub(crate) struct Poller {
    poll: Poll,
    events: Events,
    /// The simulation's network, when this reactor runs on one.
    net: Option<Net>,
    /// The events of the last poll, in a simulation (mio keeps the real ones).
    ready: Vec<Ready>,
}

impl Poller {
    pub(crate) fn new(capacity: usize, net: Option<Net>) -> io::Result<Poller> {
        Ok(Poller {
            poll: Poll::new()?,
            events: Events::with_capacity(capacity),
            net,
            ready: Vec::new(),
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// The epoll descriptor.
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.poll)
    }

    /// The epoll descriptor, borrowed for as long as the poller.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // The registry shares the poll's descriptor and lends it out.
        std::os::fd::AsFd::as_fd(self.poll.registry())
    }

    /// Is this reactor simulated (its sockets in memory, its clock virtual)?
    pub(crate) fn is_simulated(&self) -> bool {
        self.net.is_some()
    }

    /// The current time: the only place a reactor reads a clock.
    pub(crate) fn now(&self) -> Instant {
        match &self.net {
            Some(net) => net.now(),
            None => Instant::now(),
        }
    }

    /// Wait up to `timeout` for events. `EINTR` is a poll with no events. Returns how many
    /// events there are; [`for_each`](Poller::for_each) visits them.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        if let Some(net) = &self.net {
            net.poll(&mut self.ready, timeout);
            return Ok(self.ready.len());
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => Ok(self.events.iter().count()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Visit the events of the last poll, in order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Ready)) {
        if self.net.is_some() {
            self.ready.iter().copied().for_each(f);
            return;
        }
        for e in self.events.iter() {
            f(Ready {
                token: e.token(),
                readable: e.is_readable(),
                writable: e.is_writable() || e.is_write_closed() || e.is_error(),
                // Errors and hang-ups are surfaced by the read or write they make fail.
                hup: e.is_read_closed() || e.is_error() || e.is_priority(),
            });
        }
    }
}
