//! The course's servers, as one [`Handler`]: UDP upper-casing, TCP stream echo, and TCP framed
//! echo.
//!
//! `netloop serve` runs [`CourseServer`] on one reactor. It is also a small, complete example
//! of a handler serving several protocols side by side:
//!
//! * datagrams come in through [`Handler::on_datagram`] and go straight back out, upper-cased,
//!   with [`Context::send_to`];
//! * stream bytes come in through [`Handler::on_data`] and are queued back with
//!   [`Context::write`], which copies them into pooled blocks (no allocation per message);
//! * connections accepted on a *framed* listener go through a [`FrameDecoders`] table instead,
//!   which calls [`FrameEcho::on_frame`] once per whole frame; the frame goes back unchanged
//!   with [`send_frame`]. A malformed or oversize frame closes that connection only, with the
//!   error as its close reason.

use log::{debug, info, warn};

use crate::error::CloseReason;
use crate::framing::{Codec, ConfigError};
use crate::reactor::framed::{send_frame, FrameDecoders, FrameHandler};
use crate::reactor::{ConnId, Context, DgramId, Handler, ListenerId, PeerAddr};

/// Upper-case the ASCII letters of `data` into `out` (replacing its contents), as Python's
/// `bytes.upper()` does: other bytes, UTF-8 included, are copied unchanged.
pub fn uppercase_into(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(data.iter().map(u8::to_ascii_uppercase));
}

/// Sends every frame back unchanged, in order.
#[derive(Debug, Clone, Copy)]
pub struct FrameEcho {
    codec: Codec,
}

impl FrameEcho {
    /// Echo frames of `codec`.
    pub fn new(codec: Codec) -> FrameEcho {
        FrameEcho { codec }
    }
}

impl FrameHandler for FrameEcho {
    fn on_frame(&mut self, cx: &mut Context<'_>, conn: ConnId, frame: &[u8]) {
        if let Err(e) = send_frame(cx, conn, &self.codec, frame) {
            debug!("{conn}: echo of a {}-byte frame dropped: {e}", frame.len());
        }
    }
}

/// UDP: reply to each datagram with the same bytes upper-cased. TCP: echo every byte back,
/// or, on listeners registered with [`serve_framed`](CourseServer::serve_framed), every frame.
#[derive(Debug)]
pub struct CourseServer {
    scratch: Vec<u8>,
    framed_listeners: Vec<ListenerId>,
    framed: FrameDecoders,
    echo: FrameEcho,
}

impl CourseServer {
    /// A server handler whose framed echo uses netloop's wire format (4-byte big-endian
    /// length, 8 MiB maximum frame).
    pub fn new() -> CourseServer {
        CourseServer::with_codec(Codec::default()).expect("the default codec is valid")
    }

    /// A server handler whose framed echo uses `codec`.
    ///
    /// # Errors
    ///
    /// If the codec's configuration is invalid.
    pub fn with_codec(codec: Codec) -> Result<CourseServer, ConfigError> {
        Ok(CourseServer {
            // The largest UDP payload, allocated once here, never per datagram.
            scratch: Vec::with_capacity(65536),
            framed_listeners: Vec::new(),
            framed: FrameDecoders::new(codec)?,
            echo: FrameEcho::new(codec),
        })
    }

    /// Echo frames, not bytes, on connections accepted by `listener`.
    pub fn serve_framed(&mut self, listener: ListenerId) {
        self.framed_listeners.push(listener);
    }
}

impl Default for CourseServer {
    fn default() -> Self {
        CourseServer::new()
    }
}

impl Handler for CourseServer {
    fn on_accept(&mut self, _cx: &mut Context<'_>, l: ListenerId, conn: ConnId, peer: &PeerAddr) {
        let framed = self.framed_listeners.contains(&l);
        if framed {
            self.framed.open(conn);
        }
        debug!(
            "{conn}: {} connection from {peer}",
            if framed { "framed" } else { "stream" }
        );
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if self.framed.contains(conn) {
            return self.framed.on_data(&mut self.echo, cx, conn, data);
        }
        if let Err(e) = cx.write(conn, data) {
            // Only when the connection is already closing: its input is no longer wanted.
            debug!("{conn}: echo dropped {} bytes: {e}", data.len());
        }
        data.len()
    }

    fn on_read_closed(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if self.framed.contains(conn) {
            self.framed.on_read_closed(cx, conn);
        } else {
            cx.close(conn);
        }
    }

    fn on_close(&mut self, _cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        self.framed.close(conn);
        // One line per closed connection: errors at info, orderly closes at debug.
        if reason.is_clean() {
            debug!("{conn}: {reason}");
        } else {
            info!("{conn}: {reason}");
        }
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, socket: DgramId, data: &[u8], peer: &PeerAddr) {
        debug!("{socket}: {} bytes from {peer}", data.len());
        uppercase_into(data, &mut self.scratch);
        if let Err(e) = cx.send_to(socket, &self.scratch, peer) {
            warn!("{socket}: reply to {peer} not sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_matches_python_bytes_upper() {
        let mut out = Vec::new();
        uppercase_into(b"MixedCaseString", &mut out);
        assert_eq!(out, b"MIXEDCASESTRING");
        uppercase_into("héllo, wörld 1!".as_bytes(), &mut out);
        // Python: 'héllo, wörld 1!'.encode().upper() leaves the non-ASCII bytes alone.
        assert_eq!(out, "HéLLO, WöRLD 1!".as_bytes());
        uppercase_into(b"", &mut out);
        assert!(out.is_empty());
    }
}
