//! The ids a handler holds: [`ConnId`], [`ListenerId`], [`DgramId`] (each a slab key with its
//! generation, see `registry.rs`) and [`TimerId`].
//!
//! An id whose generation does not match the entry now at its key is stale: every method
//! given one fails with a "stale id" error instead of reaching another socket.

use std::fmt;

use super::registry::Key;
use crate::time::{PreciseHandle, TimerHandle};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub struct $name(pub(crate) Key);

        impl $name {
            /// The slot this id occupies: a small integer, reused after the owner closes, so
            /// that a handler can index its own `Vec` or `Slab` of per-item state by it. Two
            /// live ids never share an index; a closed id and a live one may.
            pub fn index(self) -> usize {
                self.0.index as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}.{}"), self.0.index, self.0.gen)
            }
        }
    };
}

id_type!(
    /// A stream connection (accepted or connected) registered with a reactor.
    ConnId,
    "conn#"
);
id_type!(
    /// A listening socket registered with a reactor.
    ListenerId,
    "listener#"
);
id_type!(
    /// A datagram (UDP) socket registered with a reactor.
    DgramId,
    "dgram#"
);

id_type!(
    /// A descriptor of the program's own that the reactor watches (see
    /// [`Context::watch`](super::Context::watch)).
    WatchId,
    "watch#"
);

/// What a watched descriptor is watched for, and what it is ready for (see
/// [`Context::watch`](super::Context::watch) and
/// [`Handler::on_ready`](super::Handler::on_ready)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Readiness {
    /// Readable (or, when reported, at end of file or in error: a read says which).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
}

impl Readiness {
    /// Readable only.
    pub const READABLE: Readiness = Readiness {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const WRITABLE: Readiness = Readiness {
        readable: false,
        writable: true,
    };
    /// Both.
    pub const BOTH: Readiness = Readiness {
        readable: true,
        writable: true,
    };

    /// The poll's interest for this readiness.
    pub(crate) fn interest(self) -> std::io::Result<mio::Interest> {
        use mio::Interest;
        match (self.readable, self.writable) {
            (true, true) => Ok(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Ok(Interest::READABLE),
            (false, true) => Ok(Interest::WRITABLE),
            (false, false) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "watch a descriptor for reading, writing or both",
            )),
        }
    }
}

/// A job submitted with [`Context::submit`](super::Context::submit), named again when its
/// result comes to [`Handler::on_work_done`](super::Handler::on_work_done).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkId(pub(crate) u64);

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "work#{}", self.0)
    }
}

/// A connection by name under way ([`Context::connect_host`](super::Context::connect_host)),
/// named again when [`Handler::on_dialed`](super::Handler::on_dialed) reports how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DialId(pub(crate) u64);

impl fmt::Display for DialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dial#{}", self.0)
    }
}

/// A user timer (see [`Context::set_timer`](super::Context::set_timer) and
/// [`Context::set_precise_timer`](super::Context::set_precise_timer)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) TimerKey);

/// Where a user timer lives: the millisecond wheel or the precise heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TimerKey {
    Wheel(TimerHandle),
    Precise(PreciseHandle),
}
