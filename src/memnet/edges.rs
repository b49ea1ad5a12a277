//! [`Edges`]: the readiness changes raised in the in-memory network and not yet reported, and
//! the registrations retired since the last poll; [`Edges::batch`] turns the first into one
//! poll set's batch of events, as `epoll_wait` does.

use mio::Token;

use super::faults::{Fault, Faults, Rng, Seen};
use super::Ready;

/// What an edge is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject {
    End(usize),
    Listener(usize),
    Dgram(usize),
}

/// Where a subject is registered, as a poll of one set sees it: its token in that set (if
/// registered there), whether it is registered in another set (its edge waits for that one's
/// poll), and whether its peer finished or reset (a hang-up).
pub(crate) struct Seat {
    pub(crate) token: Option<Token>,
    pub(crate) elsewhere: bool,
    pub(crate) hup: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Edges {
    /// Raised since the last poll: subject, readable, writable.
    raised: Vec<(Subject, bool, bool)>,
    /// Tokens of sockets closed or deregistered since the last poll of their set: what a
    /// stale event names.
    retired: Vec<(usize, Token)>,
}

impl Edges {
    /// Something changed for `subject`.
    pub(crate) fn raise(&mut self, subject: Subject, readable: bool, writable: bool) {
        self.raised.push((subject, readable, writable));
    }

    /// No edge waits for any poll set.
    pub(crate) fn is_empty(&self) -> bool {
        self.raised.is_empty()
    }

    /// A registration ended: its token may turn up in a stale event.
    pub(crate) fn retire(&mut self, reg: Option<(usize, Token)>) {
        self.retired.extend(reg);
    }

    /// The tokens poll set `set` retired since its last poll, taken.
    pub(crate) fn take_retired(&mut self, set: usize) -> Vec<(usize, Token)> {
        let (mine, others) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition::<Vec<_>, _>(|(s, _)| *s == set);
        self.retired = others;
        mine
    }

    /// The edges of the subjects `seat` places in this poll's set, as one batch in `out`:
    /// one event per socket (unless the `split_events` fault splits one); the edges of
    /// another set's subjects wait for its poll, and those of subjects registered nowhere
    /// are dropped, as epoll would not report them.
    pub(crate) fn batch(
        &mut self,
        out: &mut Vec<Ready>,
        seat: impl Fn(Subject) -> Seat,
        (rng, faults, seen): (&mut Rng, &Faults, &mut Seen),
    ) {
        for (subject, readable, writable) in std::mem::take(&mut self.raised) {
            let Seat {
                token,
                elsewhere,
                hup,
            } = seat(subject);
            let Some(token) = token else {
                if elsewhere {
                    self.raised.push((subject, readable, writable));
                }
                continue;
            };
            let earlier = out.iter().position(|r| r.token == token);
            let split = earlier.is_some() && rng.chance(faults.split_events);
            match earlier {
                Some(i) if !split => {
                    let r = &mut out[i];
                    r.readable |= readable;
                    r.writable |= writable;
                    r.hup |= hup;
                }
                _ => out.push(Ready {
                    token,
                    readable,
                    writable,
                    hup,
                }),
            }
            if split {
                seen.add(Fault::SplitEvent);
            }
        }
    }
}
