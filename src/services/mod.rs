//! The course's servers, as a [`Handler`]: UDP upper-casing and TCP stream echo.
//!
//! `netloop serve` runs [`CourseServer`] on one reactor. It is also a small, complete example
//! of a handler: datagrams come in through [`Handler::on_datagram`] and go straight back out
//! with [`Context::send_to`]; stream bytes come in through [`Handler::on_data`] and are queued
//! back with [`Context::write`], which copies them into pooled blocks (no allocation per
//! message).

use std::net::SocketAddr;

use log::{debug, info, warn};

use crate::error::CloseReason;
use crate::reactor::{ConnId, Context, DgramId, Handler, ListenerId};

/// Upper-case the ASCII letters of `data` into `out` (replacing its contents), as Python's
/// `bytes.upper()` does: other bytes, UTF-8 included, are copied unchanged.
pub fn uppercase_into(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(data.iter().map(u8::to_ascii_uppercase));
}

/// UDP: reply to each datagram with the same bytes upper-cased. TCP: echo every byte back.
#[derive(Debug)]
pub struct CourseServer {
    scratch: Vec<u8>,
}

impl CourseServer {
    /// A new server handler (it allocates its 64 KiB reply buffer once, here).
    pub fn new() -> CourseServer {
        CourseServer {
            scratch: Vec::with_capacity(65536),
        }
    }
}

impl Default for CourseServer {
    fn default() -> Self {
        CourseServer::new()
    }
}

impl Handler for CourseServer {
    fn on_accept(&mut self, _cx: &mut Context<'_>, _l: ListenerId, conn: ConnId, peer: SocketAddr) {
        debug!("{conn}: connection from {peer}");
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        if let Err(e) = cx.write(conn, data) {
            // Only when the connection is already closing: its input is no longer wanted.
            debug!("{conn}: echo dropped {} bytes: {e}", data.len());
        }
        data.len()
    }

    fn on_close(&mut self, _cx: &mut Context<'_>, conn: ConnId, reason: &CloseReason) {
        if reason.is_clean() {
            debug!("{conn}: {reason}");
        } else {
            info!("{conn}: {reason}");
        }
    }

    fn on_datagram(
        &mut self,
        cx: &mut Context<'_>,
        socket: DgramId,
        data: &[u8],
        peer: SocketAddr,
    ) {
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
