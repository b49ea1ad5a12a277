//! Ids and tokens: a slab key plus a generation.
//!
//! Slab keys are reused as soon as an entry is removed, and epoll may still hold an event for
//! the old socket in the batch being dispatched. So every registration gets a fresh generation
//! number, the mio [`Token`] carries both, and an event (or an id held by a handler) whose
//! generation does not match the entry now at that key is stale and is ignored.

use std::fmt;

use mio::Token;

use crate::time::{PreciseHandle, TimerHandle};

/// A slab key with the generation of the entry it was issued for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

// The token packs 32 bits of index and 32 bits of generation.
const _: () = assert!(
    usize::BITS >= 64,
    "netloop needs a 64-bit usize for its tokens"
);

/// The token reserved for the reactor's waker. No slab key reaches it: the slab refuses to
/// grow past `MAX_INDEX`.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// The token reserved for the precise timer's `timerfd` (index `u32::MAX`, which no slab
/// key reaches, and generation 0, which `WAKER` does not use).
pub(crate) const PRECISE_TIMER: Token = Token(u32::MAX as usize);

/// The largest slab index handed out.
pub(crate) const MAX_INDEX: usize = u32::MAX as usize - 1;

impl Key {
    pub(crate) fn token(self) -> Token {
        Token(((self.gen as usize) << 32) | self.index as usize)
    }

    pub(crate) fn from_token(token: Token) -> Key {
        Key {
            index: (token.0 & 0xffff_ffff) as u32,
            gen: (token.0 >> 32) as u32,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_waker_is_unreachable() {
        for key in [
            Key { index: 0, gen: 0 },
            Key {
                index: 7,
                gen: u32::MAX,
            },
            Key {
                index: MAX_INDEX as u32,
                gen: u32::MAX,
            },
        ] {
            assert_eq!(Key::from_token(key.token()), key);
            assert_ne!(key.token(), WAKER);
            assert_ne!(key.token(), PRECISE_TIMER);
        }
    }
}
