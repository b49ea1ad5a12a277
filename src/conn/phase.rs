//! [`Phase`]: where a connection stands in the [module docs](super)' diagram, and the sides
//! of it that move independently ([`ReadSide`], [`WriteSide`]).
//!
//! The phase changes on a close asked for, a connect completed, and the steps of a close
//! (flushed, lingered); `Conn` decides when, and the phase keeps the close's reason until
//! the step that ends the connection takes it.

use std::time::Instant;

use crate::error::CloseReason;

/// Where the connection stands: the states of the [module docs](super)' diagram. (`Closed`
/// is not among them: a step that closes the connection hands back its reason, and the
/// reactor drops the `Conn`.)
#[derive(Debug)]
pub(super) enum Phase {
    /// An outgoing connect is under way: nothing is read or written yet. A close asked for
    /// meanwhile (`close`) waits for the connect, then flushes.
    Connecting { close: Option<CloseReason> },
    /// Up, and no close asked for: see the read and write sides.
    Open,
    /// Close asked for: input is read and dropped, queued output goes out first.
    Flushing(CloseReason),
    /// Output flushed and FIN sent: read and drop input until the peer's end of file or
    /// `until`, then close.
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
    /// An outgoing connect still in progress?
    #[inline]
    pub(super) fn is_connecting(&self) -> bool {
        matches!(self, Phase::Connecting { .. })
    }

    /// A close was asked for (a close waiting for the connect included)?
    #[inline]
    pub(super) fn is_closing(&self) -> bool {
        match self {
            Phase::Connecting { close } => close.is_some(),
            Phase::Open => false,
            Phase::Flushing(_) | Phase::Lingering { .. } => true,
        }
    }

    /// A close with `reason` was asked for: flush (after the connect, if one is under way).
    pub(super) fn close(&mut self, reason: CloseReason) {
        *self = match self {
            Phase::Connecting { .. } => Phase::Connecting {
                close: Some(reason),
            },
            _ => Phase::Flushing(reason),
        };
    }

    /// The outgoing connect completed: open, or flushing if a close was asked for meanwhile.
    pub(super) fn connected(&mut self) {
        if let Phase::Connecting { close } = self {
            *self = match close.take() {
                Some(reason) => Phase::Flushing(reason),
                None => Phase::Open,
            };
        }
    }

    /// The reason of the close under way, taken out (`Local` if none was asked for): the step
    /// that returns it ends the connection.
    pub(super) fn take_reason(&mut self) -> CloseReason {
        let rest = match self {
            Phase::Connecting { .. } => Phase::Connecting { close: None },
            _ => Phase::Open,
        };
        match std::mem::replace(self, rest) {
            Phase::Flushing(reason)
            | Phase::Lingering { reason, .. }
            | Phase::Connecting {
                close: Some(reason),
            } => reason,
            Phase::Connecting { close: None } | Phase::Open => CloseReason::Local,
        }
    }
}
