//! The [`Handler`] trait: what the reactor calls when something happens.

use super::context::Context;
use std::io;

use super::ids::{ConnId, DgramId, DialId, ListenerId, Readiness, TimerId, WatchId, WorkId};
use crate::addr::PeerAddr;
use crate::error::{CloseReason, TimeoutKind, UnexpectedInput};

/// What to do after a timeout fired (see [`Handler::on_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutAction {
    /// Close the connection at once with [`CloseReason::TimedOut`], discarding queued output.
    Close,
    /// Keep the connection; the clock of the timeout that fired restarts now.
    KeepOpen,
}

/// Your code, called by the reactor: the one callback vocabulary of netloop. Every method has
/// a default, so a handler implements only what it cares about (a stream service at least
/// [`on_data`](Handler::on_data)).
///
/// The layers above use the same trait rather than restating it: a
/// [`Sessions`](crate::server::Sessions) table gives each connection its own `Handler`
/// object, and [`Framed`](super::framed::Framed) wraps a
/// [`FrameHandler`](super::framed::FrameHandler), which is a `Handler` plus the frame
/// callbacks.
///
/// Each call gets a [`Context`], through which the handler writes, closes and sets timeouts.
/// Calls never overlap and always come from the reactor's thread. Ids passed in are valid for
/// the duration of the call; an id kept after [`on_close`](Handler::on_close) is stale, and
/// `Context` methods given a stale id fail with `NotConnected` instead of touching another
/// connection.
///
/// # Examples
///
/// A TCP echo server: whatever arrives is queued back to the sender.
///
/// ```
/// use netloop::reactor::{ConnId, Context, Handler};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
///         match cx.write(conn, data) {
///             Ok(()) => data.len(),
///             Err(_) => data.len(), // the connection is closing; drop the input
///         }
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait Handler {
    /// A listener accepted a connection from `peer` (an IP address and port, or a Unix
    /// socket address). Comes before any data for `conn`.
    fn on_accept(
        &mut self,
        cx: &mut Context<'_>,
        listener: ListenerId,
        conn: ConnId,
        peer: &PeerAddr,
    ) {
    }

    /// An outgoing connection made with [`Context::connect`] is established. (If it fails,
    /// [`on_close`](Handler::on_close) comes instead, with the error.)
    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {}

    /// Bytes arrived on `conn`. `data` is all the unconsumed input: what the handler left last
    /// time followed by the new bytes. Return how many bytes from the front were used; the
    /// rest stays buffered (without being copied again) and is offered with the next bytes:
    /// only then, so a handler should use every complete message it is given (leave only a
    /// partial one), or it may wait for bytes that never come.
    ///
    /// A handler that keeps leaving input unconsumed until the buffer reaches
    /// [`Config::max_read_buffer`](super::Config::max_read_buffer) gets the connection closed
    /// with a [`ReadBufferFull`](crate::error::ReadBufferFull) protocol error. Returning more
    /// than `data.len()` is a bug; it is treated as `data.len()`.
    ///
    /// The default is for handlers that take no stream input (a datagram service, or an
    /// adapter that handles the bytes itself, as [`Framed`](super::framed::Framed) does): it
    /// closes the connection with an [`UnexpectedInput`] protocol error, so that input is never
    /// dropped without a word.
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        cx.abort_with(
            conn,
            CloseReason::protocol(UnexpectedInput { len: data.len() }),
        );
        data.len()
    }

    /// Descriptors arrived on the Unix connection `conn` (`SCM_RIGHTS`), received
    /// close-on-exec. They came with the bytes of the read just made, which are offered to
    /// [`on_data`](Handler::on_data) right after this call, behind any input left from
    /// before: the descriptors belong to one of those new bytes, but a stream read may join
    /// bytes sent earlier without descriptors to the ones sent with them (a protocol that
    /// must know which message carried them sends one such message at a time, or uses a
    /// seqpacket connection, where a read is one record). Each is an [`OwnedFd`]: keep the
    /// ones wanted (`File::from`, `UnixStream::from`, ...); the rest close when dropped. The
    /// default drops them all, so a descriptor nobody expected is closed, never leaked.
    ///
    /// [`OwnedFd`]: std::os::fd::OwnedFd
    fn on_descriptors(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        fds: Vec<std::os::fd::OwnedFd>,
    ) {
        log::debug!(
            "{} descriptors received on {conn:?} and closed: the handler takes none",
            fds.len()
        );
    }

    /// The peer finished sending (end of file). Unconsumed input, if any, is still buffered.
    /// The default closes the connection after its queued output is flushed, reported as
    /// [`CloseReason::PeerClosed`]; a handler can instead keep writing and close later.
    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        cx.close(conn);
    }

    /// Every byte queued on `conn` has been handed to the kernel (the write queue went from
    /// non-empty to empty). A handler producing a large response writes the next part here.
    fn on_drained(&mut self, cx: &mut Context<'_>, conn: ConnId) {}

    /// A descriptor watched with [`Context::watch`] is `ready`: readable or writable (or at
    /// end of file, or in error: readable then, and a read says which).
    ///
    /// Readiness is reported edge-triggered, as for the reactor's own sockets: once per
    /// change, not again while it lasts. So read (or write) until the descriptor says
    /// `WouldBlock`; or, to read the rest later (one message per turn, say), ask with
    /// [`Context::notify`] to be called again next turn. The default does nothing.
    fn on_ready(&mut self, cx: &mut Context<'_>, watch: WatchId, ready: Readiness) {}

    /// A job submitted with [`Context::submit`] finished: `output` is what it returned (as
    /// `Box<dyn Any + Send>`: downcast it to the type it returns), or the payload of its
    /// panic. Called on the reactor thread, in the order the jobs finished. A job submitted
    /// for a connection that has closed since is not reported. The default drops the output.
    fn on_work_done(
        &mut self,
        cx: &mut Context<'_>,
        work: WorkId,
        output: std::thread::Result<Box<dyn std::any::Any + Send>>,
    ) {
    }

    /// A connection by name ([`Context::connect_host`]) ended its look-up and its attempts:
    /// `result` is the connection made, which is then served like one made with
    /// [`Context::connect`] ([`on_connect`](Handler::on_connect) follows; output may be
    /// queued on it at once), or why none could be made (the error names every address
    /// tried). Called once per dial, unless it was cancelled. The default logs a failure.
    fn on_dialed(&mut self, cx: &mut Context<'_>, dial: DialId, result: io::Result<ConnId>) {
        if let Err(e) = result {
            log::warn!("{dial}: {e}");
        }
    }

    /// During a graceful shutdown ([`Context::shutdown`]): is the handler in the middle of a
    /// message on `conn`? The reactor asks at the end of every turn in which something
    /// happened on the connection. A connection closes (cleanly: its queued output flushed,
    /// then FIN and a lingering close, so that a request racing the close is refused, not
    /// lost) once it is at a message boundary: it holds no unconsumed input, no message was
    /// announced ([`Context::expect_input`]), nothing is queued, and this returns `false`.
    ///
    /// The default is `false`: the reactor's own view decides. That is right for a handler
    /// that leaves a partial message unconsumed until it is whole (the [`framed`](super::framed)
    /// layer does), and for a byte stream with no messages in it (an echo: every byte is
    /// answered as it comes). Return `true` while a request is half-received or a reply
    /// half-made in the handler's own state.
    fn in_message(&mut self, cx: &mut Context<'_>, conn: ConnId) -> bool {
        false
    }

    /// A timeout of `conn` fired. The default returns [`TimeoutAction::Close`].
    fn on_timeout(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        kind: TimeoutKind,
    ) -> TimeoutAction {
        TimeoutAction::Close
    }

    /// `conn` is closed, for `reason`; its socket is gone and its id is now stale. Called
    /// exactly once for every connection that was accepted or connected and then closed.
    /// (Connections still open when a reactor is stopped and dropped are closed by the drop,
    /// without this call; a graceful [`Context::shutdown`] reports every one.)
    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {}

    /// A datagram arrived on `socket` from `peer` (an IP address and port for UDP, a Unix
    /// socket address for a Unix datagram socket). Reply with
    /// [`Context::send_to`]`(socket, reply, peer)`.
    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
    }

    /// A timer set with [`Context::set_timer`] fired; `token` is the value given then.
    fn on_timer(&mut self, cx: &mut Context<'_>, timer: TimerId, token: u64) {}

    /// A signal registered with [`Reactor::add_signals`](super::Reactor::add_signals)
    /// arrived. The default stops the reactor.
    fn on_signal(&mut self, cx: &mut Context<'_>, signal: i32) {
        cx.stop();
    }
}
