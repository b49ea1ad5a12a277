//! [`Phase`]: where a connection stands in the [module docs](super)' diagram, with its write
//! side ([`WriteSide`]: open, shut pending, shut); and the read side's states ([`ReadSide`],
//! kept by the input side, `input.rs`).
//!
//! The phase changes on a close asked for, a connect completed, and the steps of a close
//! (flushed, lingered); `Conn` decides when, and the phase keeps the close's reason until
//! the step that ends the connection takes it. The write side travels in the phase's
//! variants, which costs no space (the enum is 40 bytes either way), so a connection stays
//! as small as it was before the phase had one type.

use std::time::Instant;

use super::steps::Opened;
use crate::error::CloseReason;

/// Where the connection stands: the states of the [module docs](super)' diagram. (`Closed`
/// is not among them: a step that closes the connection hands back its reason, and the
/// reactor drops the `Conn`.)
#[derive(Debug)]
pub(super) enum Phase {
    /// An outgoing connect is under way: nothing is read or written yet.
    Connecting { write: WriteSide },
    /// A close was asked for while connecting (`close`): it waits for the connect, then
    /// flushes.
    ConnectingToClose {
        reason: CloseReason,
        write: WriteSide,
    },
    /// Up, and no close asked for: see the read side (`InputSide`) and the write side.
    Open { write: WriteSide },
    /// Close asked for: input is read and dropped, queued output goes out first.
    Flushing {
        reason: CloseReason,
        write: WriteSide,
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
        let write = WriteSide::Open;
        match opened {
            Opened::Connecting => Phase::Connecting { write },
            Opened::Accepted => Phase::Open { write },
        }
    }

    /// May more output be queued (open, or connecting, and the write side open)?
    #[inline]
    pub(super) fn accepts_output(&self) -> bool {
        matches!(
            self,
            Phase::Open {
                write: WriteSide::Open
            } | Phase::Connecting {
                write: WriteSide::Open
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
            Phase::Connecting { write }
            | Phase::ConnectingToClose { write, .. }
            | Phase::Open { write }
            | Phase::Flushing { write, .. } => write,
            Phase::Lingering { .. } => WriteSide::Shut,
        }
    }

    /// The write side moves to `to` (a lingering close's is shut already).
    pub(super) fn set_write_side(&mut self, to: WriteSide) {
        match self {
            Phase::Connecting { write }
            | Phase::ConnectingToClose { write, .. }
            | Phase::Open { write }
            | Phase::Flushing { write, .. } => *write = to,
            Phase::Lingering { .. } => {}
        }
    }

    /// A close with `reason` was asked for: flush (after the connect, if one is under way).
    pub(super) fn close(&mut self, reason: CloseReason) {
        let write = self.write_side();
        *self = if self.is_connecting() {
            Phase::ConnectingToClose { reason, write }
        } else {
            Phase::Flushing { reason, write }
        };
    }

    /// The outgoing connect completed: open, or flushing if a close was asked for meanwhile.
    pub(super) fn connected(&mut self) {
        let write = self.write_side();
        match std::mem::replace(self, Phase::Open { write }) {
            Phase::ConnectingToClose { reason, write } => {
                *self = Phase::Flushing { reason, write };
            }
            Phase::Connecting { .. } => {}
            other => *self = other,
        }
    }

    /// The reason of the close under way, taken out (`Local` if none was asked for): the step
    /// that returns it ends the connection.
    pub(super) fn take_reason(&mut self) -> CloseReason {
        let write = self.write_side();
        let rest = if self.is_connecting() {
            Phase::Connecting { write }
        } else {
            Phase::Open { write }
        };
        match std::mem::replace(self, rest) {
            Phase::Flushing { reason, .. }
            | Phase::Lingering { reason, .. }
            | Phase::ConnectingToClose { reason, .. } => reason,
            Phase::Connecting { .. } | Phase::Open { .. } => CloseReason::Local,
        }
    }
}
