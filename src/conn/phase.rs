//! [`Phase`]: where a connection stands in the [module docs](super)' diagram, with its write
//! side ([`WriteSide`]: open, shut pending, shut); and the read side's states ([`ReadSide`],
//! kept by the input side, `input.rs`).
//!
//! The phase changes on a close asked for, a connect completed, and the steps of a close
//! (flushed, lingered); `Conn` decides when, and the phase keeps the close's reason until
//! the step that ends the connection takes it. The write side travels in the phase's
//! variants, which costs no space (the enum is 40 bytes either way), so a connection stays
//! as small as it was before the phase had one type. So does `handshake`: a security
//! handshake (TLS) under the connection has yet to finish, once the connection is up; its
//! clock runs while it is true (up, and not lingering), and the first read that finds the
//! transport's handshake over clears it (`Conn::after_secure_read`).

use std::io;
use std::time::{Duration, Instant};

use super::steps::{AfterFlush, Opened};
use crate::error::CloseReason;

/// Where the connection stands: the states of the [module docs](super)' diagram. (`Closed`
/// is not among them: a step that closes the connection hands back its reason, and the
/// reactor drops the `Conn`.)
#[derive(Debug)]
pub(super) enum Phase {
    /// An outgoing connect is under way: nothing is read or written yet.
    Connecting { write: WriteSide, handshake: bool },
    /// A close was asked for while connecting (`close`): it waits for the connect, then
    /// flushes.
    ConnectingToClose {
        reason: CloseReason,
        write: WriteSide,
        handshake: bool,
    },
    /// Up, and no close asked for: see the read side (`InputSide`) and the write side.
    Open { write: WriteSide, handshake: bool },
    /// Close asked for: input is read and dropped, queued output goes out first.
    Flushing {
        reason: CloseReason,
        write: WriteSide,
        handshake: bool,
    },
    /// Output flushed and FIN sent (the write side is shut): read and drop input until the
    /// peer's end of file or `until`, then close.
    Lingering { reason: CloseReason, until: Instant },
}

/// Where the read side stands, in any phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadSide {
    /// Input is wanted.
    Reading,
    /// Paused by backpressure: queued output passed the high watermark.
    Paused,
    /// The peer has finished sending (end of file).
    Finished,
}

/// Where the write side stands, in any phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteSide {
    /// Open.
    Open,
    /// Shut down once queued output is flushed (a half-close was asked for).
    ShutPending,
    /// Shut down: FIN sent, no more output accepted.
    Shut,
}

impl Phase {
    /// The first phase of a connection `opened` this way.
    pub(super) fn new(opened: Opened) -> Phase {
        let (write, handshake) = (WriteSide::Open, false);
        match opened {
            Opened::Connecting => Phase::Connecting { write, handshake },
            Opened::Accepted => Phase::Open { write, handshake },
        }
    }

    /// May more output be queued (open, or connecting, and the write side open)?
    #[inline]
    pub(super) fn accepts_output(&self) -> bool {
        matches!(
            self,
            Phase::Open {
                write: WriteSide::Open,
                ..
            } | Phase::Connecting {
                write: WriteSide::Open,
                ..
            }
        )
    }

    /// An outgoing connect still in progress?
    #[inline]
    pub(super) fn is_connecting(&self) -> bool {
        matches!(
            self,
            Phase::Connecting { .. } | Phase::ConnectingToClose { .. }
        )
    }

    /// A close was asked for (a close waiting for the connect included)?
    #[inline]
    pub(super) fn is_closing(&self) -> bool {
        match self {
            Phase::Connecting { .. } | Phase::Open { .. } => false,
            Phase::ConnectingToClose { .. } | Phase::Flushing { .. } | Phase::Lingering { .. } => {
                true
            }
        }
    }

    /// Where the write side stands (shut, once lingering).
    #[inline]
    pub(super) fn write_side(&self) -> WriteSide {
        match *self {
            Phase::Connecting { write, .. }
            | Phase::ConnectingToClose { write, .. }
            | Phase::Open { write, .. }
            | Phase::Flushing { write, .. } => write,
            Phase::Lingering { .. } => WriteSide::Shut,
        }
    }

    /// The write side moves to `to` (a lingering close's is shut already).
    pub(super) fn set_write_side(&mut self, to: WriteSide) {
        match self {
            Phase::Connecting { write, .. }
            | Phase::ConnectingToClose { write, .. }
            | Phase::Open { write, .. }
            | Phase::Flushing { write, .. } => *write = to,
            Phase::Lingering { .. } => {}
        }
    }

    /// The handshake flag of any phase but a lingering close's.
    fn handshake_mut(&mut self) -> Option<&mut bool> {
        match self {
            Phase::Connecting { handshake, .. }
            | Phase::ConnectingToClose { handshake, .. }
            | Phase::Open { handshake, .. }
            | Phase::Flushing { handshake, .. } => Some(handshake),
            Phase::Lingering { .. } => None,
        }
    }

    /// A security handshake (TLS) has yet to finish on a connection that is up (its clock
    /// runs), open or flushing.
    #[inline]
    pub(super) fn handshaking(&self) -> bool {
        matches!(
            self,
            Phase::Open {
                handshake: true,
                ..
            } | Phase::Flushing {
                handshake: true,
                ..
            }
        )
    }

    /// Is the handshake flag set, up or still connecting?
    fn has_handshake(&self) -> bool {
        match *self {
            Phase::Connecting { handshake, .. }
            | Phase::ConnectingToClose { handshake, .. }
            | Phase::Open { handshake, .. }
            | Phase::Flushing { handshake, .. } => handshake,
            Phase::Lingering { .. } => false,
        }
    }

    /// Whether a security handshake is yet to finish (see the module docs).
    pub(super) fn set_handshake(&mut self, on: bool) {
        if let Some(handshake) = self.handshake_mut() {
            *handshake = on;
        }
    }

    /// A close with `reason` was asked for: flush (after the connect, if one is under way).
    pub(super) fn close(&mut self, reason: CloseReason) {
        let (write, handshake) = (self.write_side(), self.has_handshake());
        *self = if self.is_connecting() {
            Phase::ConnectingToClose {
                reason,
                write,
                handshake,
            }
        } else {
            Phase::Flushing {
                reason,
                write,
                handshake,
            }
        };
    }

    /// The outgoing connect completed: open, or flushing if a close was asked for meanwhile.
    pub(super) fn connected(&mut self) {
        let (write, handshake) = (self.write_side(), self.has_handshake());
        match std::mem::replace(self, Phase::Open { write, handshake }) {
            Phase::ConnectingToClose { reason, write, .. } => {
                *self = Phase::Flushing {
                    reason,
                    write,
                    handshake,
                };
            }
            Phase::Connecting { .. } => {}
            other => *self = other,
        }
    }

    /// Flushing, the output went out: close at once if the peer has `finished` sending or
    /// there is no `linger`, else linger until `now + linger` (FIN goes out now, unless a
    /// half-close sent it already).
    pub(super) fn flushed(&mut self, now: Instant, finished: bool, linger: Duration) -> AfterFlush {
        if finished || linger.is_zero() {
            return AfterFlush::Close(self.take_reason());
        }
        let shutdown = self.write_side() != WriteSide::Shut;
        let reason = self.take_reason();
        let until = now.checked_add(linger).unwrap_or(now);
        *self = Phase::Lingering { reason, until };
        AfterFlush::Linger { shutdown }
    }

    /// The instant a lingering close ends, if lingering.
    pub(super) fn linger_until(&self) -> Option<Instant> {
        match *self {
            Phase::Lingering { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Shutting the write side down failed with `err`: the reason to close with.
    pub(super) fn shutdown_failed(&mut self, err: io::Error) -> CloseReason {
        if err.kind() == io::ErrorKind::NotConnected && self.is_closing() {
            // The peer is already gone: the close is still the one asked for.
            return self.take_reason();
        }
        CloseReason::from_io(err)
    }

    /// The reason of the close under way, taken out (`Local` if none was asked for): the step
    /// that returns it ends the connection.
    pub(super) fn take_reason(&mut self) -> CloseReason {
        let (write, handshake) = (self.write_side(), self.has_handshake());
        let rest = if self.is_connecting() {
            Phase::Connecting { write, handshake }
        } else {
            Phase::Open { write, handshake }
        };
        match std::mem::replace(self, rest) {
            Phase::Flushing { reason, .. }
            | Phase::Lingering { reason, .. }
            | Phase::ConnectingToClose { reason, .. } => reason,
            Phase::Connecting { .. } | Phase::Open { .. } => CloseReason::Local,
        }
    }
}
