//! [`CloseLog`]: how closed connections are logged. The ordinary ends (the peer's end of
//! file, a local close, a reset) go to the debug level; the others (a timeout, a protocol
//! error, an I/O error such as a refused connect, a panic) to the info level, but within one
//! turn only the first of them in full, and the rest as one count at the end of the turn: a
//! burst of failures (no server listening, the descriptor limit reached) makes two lines, not
//! one per connection.

use std::fmt::Display;

use log::{log_enabled, Level};

use super::stream::Stream;
use crate::error::CloseReason;

/// The closes logged in this turn (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct CloseLog {
    /// An unusual close was logged in full in this turn.
    shown: bool,
    /// Unusual closes after it, to be summed up at the end of the turn.
    more: u64,
}

impl CloseLog {
    /// Log the close of `conn` on `sock` for `reason`.
    pub(crate) fn log(&mut self, sock: &Stream, conn: impl Display, reason: &CloseReason) {
        let level = match reason {
            CloseReason::PeerClosed | CloseReason::Local | CloseReason::Reset => Level::Debug,
            _ => Level::Info,
        };
        if !log_enabled!(level) {
            return;
        }
        if level == Level::Info && self.shown {
            self.more += 1;
            return;
        }
        self.shown |= level == Level::Info;
        let peer = match sock.peer_addr() {
            Ok(p) => p.to_string(),
            Err(_) => "an unknown peer".to_owned(),
        };
        log::log!(level, "{conn} with {peer} closed: {reason}");
    }

    /// The turn is over: sum up the closes not logged one by one.
    pub(crate) fn end_turn(&mut self) {
        if self.more > 0 {
            log::info!(
                "{} more connection(s) closed in that turn for reasons other than an ordinary end (the first is logged above)",
                self.more
            );
        }
        *self = CloseLog::default();
    }
}
