//! [`Pinger`]: the pure part of ping. It builds echo requests, matches replies to them and
//! keeps the statistics; the caller does the I/O and supplies the time (`now` in, results
//! out), so that every rule here is tested without a socket.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::socket::IcmpKind;
use crate::wire::{IcmpEcho, IcmpVersion, Ipv4Packet, WireError};

/// One echo reply matched to its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReply {
    /// The request's sequence number.
    pub seq: u16,
    /// Who answered.
    pub from: IpAddr,
    /// The ICMP message's length (header and data), as `ping` prints it.
    pub len: usize,
    /// The reply's time to live, when the socket shows it (raw IPv4 sockets receive the IP
    /// header; the others do not).
    pub ttl: Option<u8>,
    /// From sending the request to receiving the reply.
    pub rtt: Duration,
}

/// Why a received packet was not taken as a reply to one of our requests. A raw socket sees
/// every ICMP message of its family, so most of these are normal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotOurs {
    /// Not a well-formed packet (too short, bad header).
    Malformed(WireError),
    /// The IPv4 header says the payload is not ICMP.
    NotIcmp(u8),
    /// An ICMP message of another type (our own request looped back, an error, ...).
    NotEchoReply(u8),
    /// Another process's echo (another identifier).
    OtherIdent(u16),
    /// Our identifier, but a sequence number with no request waiting: a duplicate, or a
    /// reply that came after its request timed out.
    NotWaiting(u16),
    /// Our identifier and a waiting sequence number, but not the data we sent.
    WrongData,
    /// An ICMPv4 checksum that does not verify.
    BadChecksum,
}

impl fmt::Display for NotOurs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotOurs::Malformed(e) => write!(f, "malformed packet: {e}"),
            NotOurs::NotIcmp(p) => write!(f, "IP protocol {p}, not ICMP"),
            NotOurs::NotEchoReply(t) => write!(f, "ICMP type {t}, not an echo reply"),
            NotOurs::OtherIdent(i) => write!(f, "echo reply for identifier {i}, not ours"),
            NotOurs::NotWaiting(s) => write!(
                f,
                "echo reply for icmp_seq={s}, not waiting (duplicate or late)"
            ),
            NotOurs::WrongData => f.write_str("echo reply with data we did not send"),
            NotOurs::BadChecksum => f.write_str("echo reply with a bad checksum"),
        }
    }
}

/// What a ping run counted, and the round-trip statistics `ping` prints at the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PingSummary {
    /// Requests sent (a request whose send failed counts too, as in iputils' ping).
    pub transmitted: u32,
    /// Replies matched to a waiting request.
    pub received: u32,
    /// Requests whose timeout passed without a reply.
    pub timed_out: u32,
    /// Shortest round trip.
    pub min: Duration,
    /// Longest round trip.
    pub max: Duration,
    sum_us: f64,
    sum_sq_us: f64,
}

impl PingSummary {
    fn record(&mut self, rtt: Duration) {
        if self.received == 0 || rtt < self.min {
            self.min = rtt;
        }
        self.max = self.max.max(rtt);
        self.received += 1;
        let us = rtt.as_secs_f64() * 1e6;
        self.sum_us += us;
        self.sum_sq_us += us * us;
    }

    /// Percentage of requests without a reply (0 when none was sent).
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            return 0.0;
        }
        f64::from(self.transmitted.saturating_sub(self.received)) * 100.0
            / f64::from(self.transmitted)
    }

    /// Mean round trip (zero without replies).
    pub fn avg(&self) -> Duration {
        if self.received == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.sum_us / f64::from(self.received) / 1e6)
    }

    /// Mean deviation as ping computes it: the standard deviation of the round trips,
    /// `sqrt(mean(rtt²) − mean(rtt)²)`.
    pub fn mdev(&self) -> Duration {
        if self.received == 0 {
            return Duration::ZERO;
        }
        let n = f64::from(self.received);
        let mean = self.sum_us / n;
        let var = (self.sum_sq_us / n - mean * mean).max(0.0);
        Duration::from_secs_f64(var.sqrt() / 1e6)
    }
}

/// Builds echo requests and matches replies for one target.
#[derive(Debug)]
pub struct Pinger {
    version: IcmpVersion,
    kind: IcmpKind,
    ident: u16,
    data: Vec<u8>,
    next_seq: u16,
    waiting: BTreeMap<u16, Instant>,
    summary: PingSummary,
}

impl Pinger {
    /// A pinger for a socket of `kind` and `version`. `ident` is the echo identifier: for a
    /// datagram socket, the one the kernel uses ([`IcmpSocket::kernel_ident`]); for a raw
    /// socket, one of our choosing ([`choose_ident`]). Each request carries `size` data
    /// bytes: an 8-byte `cookie` (a random number, so that a reply is known to answer *this*
    /// pinger) and then a fixed pattern.
    ///
    /// [`IcmpSocket::kernel_ident`]: super::IcmpSocket::kernel_ident
    pub fn new(
        version: IcmpVersion,
        kind: IcmpKind,
        ident: u16,
        cookie: u64,
        size: usize,
    ) -> Pinger {
        let mut data: Vec<u8> = cookie
            .to_be_bytes()
            .iter()
            .copied()
            .cycle()
            .take(size.min(8))
            .collect();
        data.extend((8..size).map(|i| (i % 256) as u8));
        Pinger {
            version,
            kind,
            ident,
            data,
            next_seq: 1,
            waiting: BTreeMap::new(),
            summary: PingSummary::default(),
        }
    }

    /// The next echo request (sequence numbers start at 1, as ping's do), sent at `now`.
    /// Returns its sequence number and the ICMP message to send.
    pub fn request(&mut self, now: Instant) -> (u16, Vec<u8>) {
        // After 65,536 requests the numbers wrap: skip those still waiting, so that a late
        // reply to an old request is never taken for a new one. (If all are waiting, the
        // oldest is given up as timed out.)
        if self.waiting.len() > usize::from(u16::MAX) {
            if let Some(oldest) = self.oldest_waiting() {
                self.expire(oldest);
            }
        }
        while self.waiting.contains_key(&self.next_seq) {
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.waiting.insert(seq, now);
        self.summary.transmitted += 1;
        let msg = IcmpEcho::request(self.version, self.ident, seq, &self.data);
        (seq, msg.into_inner())
    }

    /// A packet received from `from` at `now`: our reply, or why it is not one.
    ///
    /// # Errors
    ///
    /// [`NotOurs`] for anything that is not a reply to a waiting request of ours.
    pub fn on_packet(
        &mut self,
        packet: &[u8],
        from: IpAddr,
        now: Instant,
    ) -> Result<PingReply, NotOurs> {
        let (icmp, ttl) = match (self.version, self.kind) {
            // Only a raw IPv4 socket receives the IP header.
            (IcmpVersion::V4, IcmpKind::Raw) => {
                let ip = Ipv4Packet::new_checked(packet).map_err(NotOurs::Malformed)?;
                if ip.protocol() != 1 {
                    return Err(NotOurs::NotIcmp(ip.protocol()));
                }
                let ttl = ip.ttl();
                (&packet[ip.header_len()..ip.total_len()], Some(ttl))
            }
            _ => (packet, None),
        };
        let echo = IcmpEcho::new_checked(icmp, self.version).map_err(NotOurs::Malformed)?;
        if !echo.is_reply(self.version) {
            return Err(NotOurs::NotEchoReply(echo.kind()));
        }
        if echo.ident() != self.ident {
            return Err(NotOurs::OtherIdent(echo.ident()));
        }
        // The kernel checks ICMPv6 checksums (and a datagram socket's ICMPv4 ones) before
        // delivering; a raw IPv4 socket gets the message as it arrived.
        if self.version == IcmpVersion::V4 && !echo.verify_checksum() {
            return Err(NotOurs::BadChecksum);
        }
        let seq = echo.seq();
        if !self.waiting.contains_key(&seq) {
            return Err(NotOurs::NotWaiting(seq));
        }
        if echo.data() != self.data.as_slice() {
            return Err(NotOurs::WrongData);
        }
        let sent = self.waiting.remove(&seq).unwrap_or(now);
        let rtt = now.saturating_duration_since(sent);
        self.summary.record(rtt);
        Ok(PingReply {
            seq,
            from,
            len: icmp.len(),
            ttl,
            rtt,
        })
    }

    /// Request `seq`'s time is up: true if it was still waiting (it now counts as lost, and
    /// a reply that comes later is ignored).
    pub fn expire(&mut self, seq: u16) -> bool {
        let was = self.waiting.remove(&seq).is_some();
        if was {
            self.summary.timed_out += 1;
        }
        was
    }

    /// Request `seq` was never sent (the send failed): it is neither waiting nor lost to a
    /// timeout. Returns whether it was waiting.
    pub fn forget(&mut self, seq: u16) -> bool {
        self.waiting.remove(&seq).is_some()
    }

    fn oldest_waiting(&self) -> Option<u16> {
        self.waiting
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(s, _)| *s)
    }

    /// Requests still waiting for a reply.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The echo identifier in use.
    pub fn ident(&self) -> u16 {
        self.ident
    }

    /// The counts and statistics so far.
    pub fn summary(&self) -> &PingSummary {
        &self.summary
    }
}

/// An echo identifier for a raw socket: the process id mixed with a counter, so that two
/// pingers in one process (or two processes) are unlikely to share one; the cookie in the
/// data tells them apart if they do.
pub fn choose_ident() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (std::process::id() as u16) ^ n.wrapping_mul(0x9e37)
}

/// A random 64-bit cookie (from the standard library's randomly keyed hasher).
pub fn random_cookie() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}
