//! [`SimEvent`]: what the simulation's echo service saw happen to one connection, in order,
//! for the tests to check against the model.

use std::time::Duration;

use crate::error::TimeoutKind;
use crate::memnet::ClientId;

/// What the echo service saw happen to one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEvent {
    /// The connection of `client` was accepted.
    Accepted {
        /// The client.
        client: ClientId,
        /// Virtual time since the start.
        at: Duration,
    },
    /// A timeout fired (the deadline had passed: checked).
    TimedOut {
        /// The client.
        client: ClientId,
        /// Which timeout.
        kind: TimeoutKind,
        /// Virtual time since the start.
        at: Duration,
    },
    /// An outgoing connection to `client` completed.
    Connected {
        /// The client (the remote peer the simulation plays).
        client: ClientId,
        /// Virtual time since the start.
        at: Duration,
    },
    /// The connection closed.
    Closed {
        /// The client.
        client: ClientId,
        /// The reason, as its `Display` prints it.
        reason: String,
        /// Whether the reason is an orderly end (`CloseReason::is_clean`).
        clean: bool,
        /// Virtual time since the start.
        at: Duration,
    },
}
