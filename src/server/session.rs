//! One handler object per connection, as Python's `socketserver` makes one request handler
//! per client session.
//!
//! [`Sessions`] is a [`Handler`] that calls a factory for every accepted (or connected)
//! connection and keeps the session it returns beside the connection, found by the
//! connection id's index. A session is itself a [`Handler`] (no second callback trait to
//! learn): it gets only its own connection's events, from `on_accept` (or `on_connect`) to
//! `on_close`, with the state it needs in its own fields, and is dropped right after its
//! `on_close`. Events that belong to no connection (`on_datagram`, `on_timer`, `on_signal`)
//! reach no session; a signal stops the reactor, as the default does.

use crate::error::{CloseReason, TimeoutKind};
use crate::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr, TimeoutAction};

/// A [`Handler`] that gives every connection its own session (a `Handler` too), made by a
/// factory from the listener it came in on and the peer's address (`None` for outgoing
/// connections).
///
/// # Examples
///
/// An echo server that counts bytes per client:
///
/// ```
/// use netloop::reactor::{ConnId, Context, Handler, Reactor};
/// use netloop::server::Sessions;
///
/// struct Counter(usize);
/// impl Handler for Counter {
///     fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
///         self.0 += data.len();
///         let _ = cx.write(conn, data);
///         data.len()
///     }
/// }
///
/// let reactor = Reactor::new(Sessions::new(|_listener, _peer| Counter(0))).unwrap();
/// # drop(reactor);
/// ```
pub struct Sessions<F, S> {
    factory: F,
    sessions: Vec<Option<(ConnId, S)>>,
    live: usize,
}

impl<F, S> Sessions<F, S>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    /// Sessions made by `factory`.
    pub fn new(factory: F) -> Sessions<F, S> {
        Sessions {
            factory,
            sessions: Vec::new(),
            live: 0,
        }
    }

    /// The session of `conn`, if it is open.
    pub fn session(&self, conn: ConnId) -> Option<&S> {
        match self.sessions.get(conn.index()) {
            Some(Some((c, s))) if *c == conn => Some(s),
            _ => None,
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.live
    }

    /// No session open?
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Keep `session` for `conn`, and return it.
    fn open(&mut self, conn: ConnId, session: S) -> &mut S {
        let i = conn.index();
        if self.sessions.len() <= i {
            self.sessions.resize_with(i + 1, || None);
        }
        self.live += 1;
        &mut self.sessions[i].insert((conn, session)).1
    }

    fn get(&mut self, conn: ConnId) -> Option<&mut S> {
        match self.sessions.get_mut(conn.index()) {
            Some(Some((c, s))) if *c == conn => Some(s),
            _ => None,
        }
    }
}

impl<F, S> Handler for Sessions<F, S>
where
    F: FnMut(Option<ListenerId>, Option<&PeerAddr>) -> S,
    S: Handler,
{
    fn on_accept(&mut self, cx: &mut Context<'_>, l: ListenerId, conn: ConnId, peer: &PeerAddr) {
        let session = (self.factory)(Some(l), Some(peer));
        self.open(conn, session).on_accept(cx, l, conn, peer);
    }

    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        let session = (self.factory)(None, None);
        self.open(conn, session).on_connect(cx, conn);
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        match self.get(conn) {
            Some(s) => s.on_data(cx, conn, data),
            // No session (it panicked while opening): the input has nowhere to go.
            None => data.len(),
        }
    }

    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        match self.get(conn) {
            Some(s) => s.on_read_closed(cx, conn),
            None => cx.close(conn),
        }
    }

    fn on_drained(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if let Some(s) = self.get(conn) {
            s.on_drained(cx, conn);
        }
    }

    fn on_timeout(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        kind: TimeoutKind,
    ) -> TimeoutAction {
        match self.get(conn) {
            Some(s) => s.on_timeout(cx, conn, kind),
            None => TimeoutAction::Close,
        }
    }

    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        let Some(slot) = self.sessions.get_mut(conn.index()) else {
            return;
        };
        if !matches!(slot, Some((c, _)) if *c == conn) {
            return;
        }
        if let Some((_, mut s)) = slot.take() {
            self.live -= 1;
            s.on_close(cx, conn, reason);
        }
    }
}
