//! Frames instead of bytes: the [`framing`](crate::framing) codecs on the reactor.
//!
//! A handler that wants whole messages implements [`FrameHandler`] (a [`Handler`] with frame
//! callbacks) and either wraps itself in
//! [`Framed`] (every connection framed with one codec) or, when one reactor serves framed and
//! unframed connections side by side (as `netloop serve` does), keeps a [`FrameDecoders`]
//! table and hands it the bytes of the connections it frames.
//!
//! The path of one frame: the reactor reads into the connection's buffer and calls
//! `on_data(data)`; [`FrameDecoders::on_data`] runs the connection's [`Decoder`] over `data`,
//! calls [`FrameHandler::on_frame`] with each whole frame **as a slice of the read buffer**
//! (no copy), and returns how many bytes the frames used. A partial frame stays in the buffer
//! until the rest arrives. [`send_frame`] queues a reply: header, payload and trailer in one
//! unit, sent with one vectored write.
//!
//! A final decoding error (a frame over the maximum under [`OnTooLong::Fail`], a malformed
//! header) closes that one connection with [`CloseReason::Protocol`] carrying the
//! [`FrameError`]; the others carry on. A peer that closes in the middle of a frame gets its
//! connection closed with a [`Truncated`] protocol error, so no partial message disappears
//! silently.
//!
//! [`OnTooLong::Fail`]: crate::framing::OnTooLong::Fail

use std::fmt;
use std::io;

use log::warn;

use super::context::Context;
use super::handler::{Handler, TimeoutAction};
use super::ids::{ConnId, DgramId, ListenerId, TimerId};
use crate::addr::PeerAddr;
use crate::error::{CloseReason, TimeoutKind};
use crate::framing::{Codec, ConfigError, Decoded, Decoder, FrameError};

/// A [`Handler`] that takes whole frames: the frame callbacks, added to the handler's own.
///
/// Everything else (`on_accept`, `on_connect`, `on_close`, `on_drained`, `on_timeout`, ...)
/// is the [`Handler`] vocabulary, implemented on the same type; [`Framed`] calls those as the
/// reactor would. Its `on_data` is never called: the frames arrive through
/// [`on_frame`](FrameHandler::on_frame) instead.
#[allow(unused_variables)]
pub trait FrameHandler: Handler {
    /// A whole frame arrived on `conn`. `frame` borrows the connection's read buffer.
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]);

    /// Under [`OnTooLong::Discard`](crate::framing::OnTooLong::Discard): a frame was too long
    /// and is being skipped; the connection carries on. The default logs a warning.
    fn on_frame_skipped(&mut self, cx: &mut Context<'_>, conn: ConnId, error: &FrameError) {
        warn!("{conn}: skipping a frame: {error}");
    }
}

/// The peer closed its side with part of a frame unreceived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated {
    /// Bytes of the incomplete frame that had arrived.
    pub buffered: usize,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "peer closed in the middle of a frame ({} bytes of it received)",
            self.buffered
        )
    }
}

impl std::error::Error for Truncated {}

/// One [`Decoder`] per framed connection, found by the connection id's index.
#[derive(Debug)]
pub struct FrameDecoders {
    codec: Codec,
    /// The codec writes frames back as read (see `echoes_as_read`), worked out once.
    echoes_as_read: bool,
    slots: Vec<Option<(ConnId, Decoder)>>,
}

impl FrameDecoders {
    /// A table for connections framed with `codec`.
    ///
    /// # Errors
    ///
    /// If the codec's configuration is invalid.
    pub fn new(codec: Codec) -> Result<FrameDecoders, ConfigError> {
        codec.validate()?;
        Ok(FrameDecoders {
            codec,
            echoes_as_read: codec == Codec::length_prefixed(codec.max_frame()),
            slots: Vec::new(),
        })
    }

    /// The codec.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Start framing `conn` (call from `on_accept` or `on_connect`).
    pub fn open(&mut self, conn: ConnId) {
        let i = conn.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        // Validated in `new`, so this cannot fail.
        if let Ok(d) = self.codec.decoder() {
            self.slots[i] = Some((conn, d));
        }
    }

    /// Stop framing `conn` (call from `on_close`).
    pub fn close(&mut self, conn: ConnId) {
        if let Some(slot) = self.slots.get_mut(conn.index()) {
            if matches!(slot, Some((c, _)) if *c == conn) {
                *slot = None;
            }
        }
    }

    /// Is `conn` framed by this table?
    pub fn contains(&self, conn: ConnId) -> bool {
        matches!(self.slots.get(conn.index()), Some(Some((c, _))) if *c == conn)
    }

    fn decoder(&mut self, conn: ConnId) -> Option<&mut Decoder> {
        match self.slots.get_mut(conn.index()) {
            Some(Some((c, d))) if *c == conn => Some(d),
            _ => None,
        }
    }

    /// Decode `data` (the connection's unconsumed input, as given to
    /// [`Handler::on_data`]), call `h.on_frame` for every whole frame, and return the bytes
    /// used, which is what `on_data` must return. On a final error the connection is closed
    /// with the error as its [`CloseReason::Protocol`] and all of `data` counts as used.
    pub fn on_data<H: FrameHandler + ?Sized>(
        &mut self,
        h: &mut H,
        cx: &mut Context<'_>,
        conn: ConnId,
        data: &[u8],
    ) -> usize {
        let Some(decoder) = self.decoder(conn) else {
            // Not ours: drop nothing silently.
            return 0;
        };
        let mut used = 0;
        // Counted here and added once, not per frame.
        let mut frames = 0;
        let used = loop {
            match decoder.decode(&data[used..]) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    let start = used;
                    used += consumed;
                    frames += 1;
                    h.on_frame(cx, conn, &data[start..][frame]);
                    if !cx.is_open(conn) {
                        break data.len();
                    }
                }
                Ok(Decoded::Skipped { error }) => {
                    h.on_frame_skipped(cx, conn, &error);
                    if !cx.is_open(conn) {
                        break data.len();
                    }
                }
                Ok(Decoded::Discarded { consumed }) => used += consumed,
                Ok(Decoded::Incomplete { consumed }) => {
                    // A frame whose header is here: reserve its memory whole (see
                    // `Config::max_buffered`), so that it can always complete.
                    let rest = &data[used + consumed..];
                    if let Some(total) = decoder.pending_frame_len(rest) {
                        if total > rest.len() {
                            cx.expect_input(conn, total);
                        }
                    }
                    break used + consumed;
                }
                Err(error) => {
                    cx.abort_with(conn, CloseReason::protocol(error));
                    break data.len();
                }
            }
        };
        cx.stats_mut().frames_in += frames;
        used
    }

    /// Decode `data` as [`on_data`](FrameDecoders::on_data) does, then send every whole frame
    /// back unchanged: an echo. Where the codec writes a frame exactly as it was read (a
    /// plain length prefix: [`echoes_as_read`](FrameDecoders::echoes_as_read)), all the whole
    /// frames of the read go back with one [`Context::write_now`] straight from `data`, with no
    /// re-encoding and no copy unless the kernel leaves some; otherwise each is re-encoded with
    /// [`send_frame`]. Returns the bytes used (what `on_data` must return), the bytes of the
    /// answer, and the write's result (`Ok` when there was nothing to send; `BrokenPipe` when
    /// `conn` is closing and takes no more output; nothing is sent if decoding closed it).
    pub fn echo(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        data: &[u8],
    ) -> (usize, usize, io::Result<()>) {
        if !self.echoes_as_read() {
            let mut each = Reencode {
                codec: self.codec,
                len: 0,
                sent: Ok(()),
            };
            let used = self.on_data(&mut each, cx, conn, data);
            return (used, each.len, each.sent);
        }
        // The whole frames at the front in one pass; the decoder, frame by frame, for
        // whatever follows them (an incomplete frame, or one it refuses).
        let Some(decoder) = self.decoder(conn) else {
            return (0, 0, Ok(()));
        };
        let (scanned, scanned_end) = decoder.scan_whole_frames(data);
        let mut wire = WireEnd {
            data,
            frames: scanned,
            end: scanned_end,
        };
        let decoded = scanned_end < data.len();
        let used = if decoded {
            scanned_end + self.on_data(&mut wire, cx, conn, &data[scanned_end..])
        } else {
            scanned_end
        };
        cx.stats_mut().frames_in += scanned;
        // Decoding may have closed the connection (a malformed frame); the scan cannot, and
        // `write_now` refuses a connection that is closing anyway.
        if wire.frames == 0 || (decoded && !cx.is_open(conn)) {
            return (used, 0, Ok(()));
        }
        let sent = cx.write_now(conn, &data[..wire.end]);
        if sent.is_ok() {
            cx.stats_mut().frames_out += wire.frames;
        }
        (used, wire.end, sent)
    }

    /// Does the codec write a frame back exactly as it was read (a plain 4-byte length
    /// prefix, nothing stripped differently), so that an echo is the input's own bytes?
    pub fn echoes_as_read(&self) -> bool {
        self.echoes_as_read
    }

    /// Is `conn`'s decoder in the middle of a frame it consumes as it arrives (skipping an
    /// oversize one)? Call from [`Handler::in_message`]: a partial frame waiting whole in the
    /// read buffer is the reactor's to see already, so this adds only what it cannot see.
    pub fn in_message(&self, conn: ConnId) -> bool {
        matches!(self.slots.get(conn.index()), Some(Some((c, d))) if *c == conn && !d.is_idle())
    }

    /// The peer finished sending (call from [`Handler::on_read_closed`]). Returns `true` if
    /// the stream ended on a frame boundary (the caller then closes as it likes, usually with
    /// [`Context::close`]); if a frame was left incomplete, closes `conn` at once with a
    /// [`Truncated`] protocol error and returns `false`.
    #[must_use = "on a clean end the connection is still open: close it (or keep writing)"]
    pub fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) -> bool {
        let buffered = cx.unconsumed(conn);
        let idle = self.decoder(conn).map_or(true, |d| d.is_idle());
        if buffered > 0 || !idle {
            cx.abort_with(conn, CloseReason::protocol(Truncated { buffered }));
            return false;
        }
        true
    }
}

/// Queue `payload` on `conn` as one frame of `codec` (header, payload, trailer), copying the
/// payload into pooled blocks.
///
/// # Errors
///
/// `InvalidInput` carrying the [`EncodeError`](crate::framing::EncodeError) if the payload
/// cannot be framed (too long, say); otherwise as for [`Context::write`].
pub fn send_frame(
    cx: &mut Context<'_>,
    conn: ConnId,
    codec: &Codec,
    payload: &[u8],
) -> io::Result<()> {
    let env = codec
        .envelope(payload)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    cx.write_parts(conn, &[env.prefix(), payload, env.suffix()])?;
    cx.stats_mut().frames_out += 1;
    Ok(())
}

/// Like [`send_frame`], but the payload is queued without copying: best for large payloads.
///
/// # Errors
///
/// As for [`send_frame`].
pub fn send_frame_owned(
    cx: &mut Context<'_>,
    conn: ConnId,
    codec: &Codec,
    payload: Vec<u8>,
) -> io::Result<()> {
    let env = codec
        .envelope(&payload)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    cx.write_around(conn, env.prefix(), payload, env.suffix())?;
    cx.stats_mut().frames_out += 1;
    Ok(())
}

/// A [`Handler`] that frames every connection with one codec and passes whole frames to a
/// [`FrameHandler`].
///
/// The reactor's [`Config::max_read_buffer`](super::Config::max_read_buffer) must hold one
/// whole frame: at least the codec's [`max_frame`](Codec::max_frame) (the defaults match).
///
/// # Examples
///
/// A framed echo server:
///
/// ```
/// use netloop::framing::Codec;
/// use netloop::reactor::framed::{send_frame, FrameHandler, Framed};
/// use netloop::reactor::{ConnId, Context, Handler, Reactor};
///
/// struct Echo(Codec);
/// impl Handler for Echo {}
/// impl FrameHandler for Echo {
///     fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
///         let _ = send_frame(cx, conn, &self.0, frame);
///     }
/// }
///
/// let codec = Codec::default();
/// let reactor = Reactor::new(Framed::new(codec, Echo(codec)).unwrap()).unwrap();
/// # drop(reactor);
/// ```
#[derive(Debug)]
pub struct Framed<H> {
    decoders: FrameDecoders,
    inner: H,
}

impl<H: FrameHandler> Framed<H> {
    /// Frame every connection with `codec` and hand the frames to `inner`.
    ///
    /// # Errors
    ///
    /// If the codec's configuration is invalid.
    pub fn new(codec: Codec, inner: H) -> Result<Framed<H>, ConfigError> {
        Ok(Framed {
            decoders: FrameDecoders::new(codec)?,
            inner,
        })
    }

    /// The frame handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The frame handler, mutably.
    pub fn inner_mut(&mut self) -> &mut H {
        &mut self.inner
    }
}

impl<H: FrameHandler> Handler for Framed<H> {
    fn on_accept(&mut self, cx: &mut Context<'_>, l: ListenerId, conn: ConnId, peer: &PeerAddr) {
        self.decoders.open(conn);
        self.inner.on_accept(cx, l, conn, peer);
    }

    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        self.decoders.open(conn);
        self.inner.on_connect(cx, conn);
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        self.decoders.on_data(&mut self.inner, cx, conn, data)
    }

    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if self.decoders.on_read_closed(cx, conn) {
            self.inner.on_read_closed(cx, conn);
        }
    }

    fn on_close(&mut self, cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.decoders.close(conn);
        self.inner.on_close(cx, conn, reason);
    }

    fn in_message(&mut self, _cx: &mut Context<'_>, conn: ConnId) -> bool {
        self.decoders.in_message(conn)
    }

    // The rest passes through unchanged: framing has nothing to add.

    fn on_drained(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        self.inner.on_drained(cx, conn);
    }

    fn on_timeout(
        &mut self,
        cx: &mut Context<'_>,
        conn: ConnId,
        kind: TimeoutKind,
    ) -> TimeoutAction {
        self.inner.on_timeout(cx, conn, kind)
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
        self.inner.on_datagram(cx, socket, data, peer);
    }

    fn on_timer(&mut self, cx: &mut Context<'_>, timer: TimerId, token: u64) {
        self.inner.on_timer(cx, timer, token);
    }

    fn on_signal(&mut self, cx: &mut Context<'_>, signal: i32) {
        self.inner.on_signal(cx, signal);
    }
}

/// For [`FrameDecoders::echo`]: notes where the last whole frame ends in the input.
struct WireEnd<'a> {
    data: &'a [u8],
    frames: u64,
    end: usize,
}

impl Handler for WireEnd<'_> {}

impl FrameHandler for WireEnd<'_> {
    fn on_frame(&mut self, _: &mut Context<'_>, _: ConnId, frame: &[u8]) {
        // The frame is a slice of `data`: its end is an offset into it.
        self.end = frame.as_ptr() as usize + frame.len() - self.data.as_ptr() as usize;
        self.frames += 1;
    }
}

/// For [`FrameDecoders::echo`] with a codec that re-encodes: each frame sent back alone.
struct Reencode {
    codec: Codec,
    len: usize,
    sent: io::Result<()>,
}

impl Handler for Reencode {}

impl FrameHandler for Reencode {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        if self.sent.is_ok() {
            self.len += frame.len();
            self.sent = send_frame(cx, conn, &self.codec, frame);
        }
    }
}
