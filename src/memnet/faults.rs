//! The in-memory network's faults: how often each is injected ([`Faults`]), the seeded
//! generator that decides ([`Rng`]), and the count of each fault the reactor really met
//! ([`Seen`]).
//!
//! A fault is counted where the reactor observes it, not where it is scheduled: an injected
//! `EINTR` counts when a call returns it, a reset in the middle of a write counts when the
//! reactor's next call on that socket fails with it, a zero window counts when a write finds
//! the window shut.

/// A small seeded generator (SplitMix64): the same seed gives the same faults.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }
}

/// How often each fault is injected, in percent of the calls that could see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// A read returns fewer bytes than are waiting, and no edge reports the rest, as a Unix
    /// stream's read can stop short. Any value above 0 makes the network's streams behave
    /// that way (so the reactor must read them until `WouldBlock`); at 0 they keep TCP's
    /// promise that a short read means the socket is drained.
    pub short_read: u8,
    /// A write takes fewer bytes than there is room for.
    pub short_write: u8,
    /// A read or write says `WouldBlock` although it could go on, as if the bytes (or the
    /// room) had not arrived yet; an edge follows when they "arrive", at the next poll.
    pub would_block: u8,
    /// `accept` fails with `EMFILE` (out of descriptors); the connection stays waiting.
    pub accept_emfile: u8,
    /// `accept` fails with `ECONNABORTED`: the waiting connection was reset and is gone.
    pub accept_aborted: u8,
    /// An event is reported twice in one batch (readable and writable apart).
    pub split_events: u8,
    /// A read, write, `accept` or poll fails with `EINTR` (a signal arrived): nothing
    /// happened, and the call may be made again at once.
    pub interrupted: u8,
    /// A write takes part of its bytes and then the peer resets the connection: the next
    /// read or write on it fails (`ECONNRESET`, or `EPIPE` for a write).
    pub reset_mid_write: u8,
    /// A batch reports a socket readable and writable with nothing behind it (a spurious
    /// wake-up, as after a wake-up another thread consumed).
    pub spurious: u8,
    /// `accept` fails with `ENFILE` (the system is out of descriptors).
    pub accept_enfile: u8,
    /// `accept` fails with `ENOBUFS` (the kernel is out of socket memory).
    pub accept_enobufs: u8,
    /// A batch carries an event for a socket closed since it was registered: its token names
    /// a slot that was freed, and perhaps given to a new socket, before the event is served.
    pub stale_events: u8,
    /// A new connection's client never reads while faults are on (a zero window): the
    /// server's writes to it fill its queue and then find no room.
    pub zero_window: u8,
    /// A poll that waits for a timer returns late, by 1 to 5 ms more than asked (the process
    /// was descheduled): timers fire late.
    pub late_timers: u8,
    /// A Unix read's descriptors do not all fit in the receiver's descriptor table: the
    /// kernel installs some, closes the rest and sets `MSG_CTRUNC`.
    pub ctrunc: u8,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        short_read: 0,
        short_write: 0,
        would_block: 0,
        accept_emfile: 0,
        accept_aborted: 0,
        split_events: 0,
        interrupted: 0,
        reset_mid_write: 0,
        spurious: 0,
        accept_enfile: 0,
        accept_enobufs: 0,
        stale_events: 0,
        zero_window: 0,
        late_timers: 0,
        ctrunc: 0,
    };

    /// This set with the faults `keep` says no to turned off (for shrinking a failing run).
    pub fn only(self, keep: impl Fn(Fault) -> bool) -> Faults {
        let mut f = self;
        for fault in Fault::ALL {
            if !keep(fault) {
                *f.rate_mut(fault) = 0;
            }
        }
        f
    }

    /// An error for `accept` to fail with now, drawn from `rng`: `EINTR`, `EMFILE`,
    /// `ENFILE` or `ENOBUFS` at their rates, each with its errno.
    pub(crate) fn accept_error(&self, rng: &mut Rng) -> Option<(Fault, i32)> {
        [
            (Fault::Interrupted, crate::sys::EINTR),
            (Fault::AcceptEmfile, crate::sys::EMFILE),
            (Fault::AcceptEnfile, crate::sys::ENFILE),
            (Fault::AcceptEnobufs, crate::sys::ENOBUFS),
        ]
        .into_iter()
        .find(|&(fault, _)| rng.chance(self.rate(fault)))
    }

    /// Descriptors a read takes, now and then cut short as when the receiver's descriptor
    /// table is full: the kernel installs some, closes the rest and says `MSG_CTRUNC`.
    /// `true` if it did.
    pub(crate) fn cut_rights(
        &self,
        rng: &mut Rng,
        seen: &mut Seen,
        fds: &mut Vec<std::os::fd::OwnedFd>,
    ) -> bool {
        if fds.is_empty() || !rng.chance(self.ctrunc) {
            return false;
        }
        fds.truncate(rng.below(fds.len() as u64) as usize);
        seen.add(Fault::ControlTruncated);
        true
    }

    /// The rate of one fault, in percent.
    pub fn rate(&self, fault: Fault) -> u8 {
        let mut f = *self;
        *f.rate_mut(fault)
    }

    fn rate_mut(&mut self, fault: Fault) -> &mut u8 {
        match fault {
            Fault::ShortRead => &mut self.short_read,
            Fault::ShortWrite => &mut self.short_write,
            Fault::WouldBlock => &mut self.would_block,
            Fault::AcceptEmfile => &mut self.accept_emfile,
            Fault::AcceptAborted => &mut self.accept_aborted,
            Fault::SplitEvent => &mut self.split_events,
            Fault::Interrupted => &mut self.interrupted,
            Fault::ResetMidWrite => &mut self.reset_mid_write,
            Fault::Spurious => &mut self.spurious,
            Fault::AcceptEnfile => &mut self.accept_enfile,
            Fault::AcceptEnobufs => &mut self.accept_enobufs,
            Fault::StaleEvent => &mut self.stale_events,
            Fault::ZeroWindow => &mut self.zero_window,
            Fault::LateTimer => &mut self.late_timers,
            Fault::ControlTruncated => &mut self.ctrunc,
        }
    }
}

/// One kind of fault (see the fields of [`Faults`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// See [`Faults::short_read`].
    ShortRead,
    /// See [`Faults::short_write`].
    ShortWrite,
    /// See [`Faults::would_block`].
    WouldBlock,
    /// See [`Faults::accept_emfile`].
    AcceptEmfile,
    /// See [`Faults::accept_aborted`].
    AcceptAborted,
    /// See [`Faults::split_events`].
    SplitEvent,
    /// See [`Faults::interrupted`].
    Interrupted,
    /// See [`Faults::reset_mid_write`].
    ResetMidWrite,
    /// See [`Faults::spurious`].
    Spurious,
    /// See [`Faults::accept_enfile`].
    AcceptEnfile,
    /// See [`Faults::accept_enobufs`].
    AcceptEnobufs,
    /// See [`Faults::stale_events`].
    StaleEvent,
    /// See [`Faults::zero_window`].
    ZeroWindow,
    /// See [`Faults::late_timers`].
    LateTimer,
    /// See [`Faults::ctrunc`].
    ControlTruncated,
}

impl Fault {
    /// Every kind, in a fixed order.
    pub const ALL: [Fault; 15] = [
        Fault::ShortRead,
        Fault::ShortWrite,
        Fault::WouldBlock,
        Fault::AcceptEmfile,
        Fault::AcceptAborted,
        Fault::SplitEvent,
        Fault::Interrupted,
        Fault::ResetMidWrite,
        Fault::Spurious,
        Fault::AcceptEnfile,
        Fault::AcceptEnobufs,
        Fault::StaleEvent,
        Fault::ZeroWindow,
        Fault::LateTimer,
        Fault::ControlTruncated,
    ];

    /// A short name, as the summary prints it.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ShortRead => "short read",
            Fault::ShortWrite => "short write",
            Fault::WouldBlock => "WouldBlock",
            Fault::AcceptEmfile => "accept EMFILE",
            Fault::AcceptAborted => "accept ECONNABORTED",
            Fault::SplitEvent => "split event",
            Fault::Interrupted => "EINTR",
            Fault::ResetMidWrite => "reset mid-write",
            Fault::Spurious => "readiness, nothing behind",
            Fault::AcceptEnfile => "accept ENFILE",
            Fault::AcceptEnobufs => "accept ENOBUFS",
            Fault::StaleEvent => "event for a freed slot",
            Fault::ZeroWindow => "zero window",
            Fault::LateTimer => "timer late",
            Fault::ControlTruncated => "MSG_CTRUNC",
        }
    }
}

/// How many times the reactor met each fault (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen([u64; Fault::ALL.len()]);

impl Seen {
    /// The count for one fault.
    pub fn get(&self, fault: Fault) -> u64 {
        self.0[fault as usize]
    }

    /// Count one more of `fault`.
    pub(crate) fn add(&mut self, fault: Fault) {
        self.0[fault as usize] += 1;
    }

    /// Add another run's counts to these.
    pub fn merge(&mut self, other: &Seen) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}
