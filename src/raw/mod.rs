//! Raw sockets: ICMP echo ("ping") over `SOCK_RAW`, or over the unprivileged ICMP datagram
//! socket where raw is not allowed, on the reactor.
//!
//! The course names the socket types STREAM, DGRAM, RAW, SEQPACKET and RDM; this module shows
//! RAW working. Data flows in three layers:
//!
//! 1. [`IcmpSocket`] (`socket.rs`) opens the socket: `SOCK_RAW` if the process has
//!    `CAP_NET_RAW`, else `SOCK_DGRAM` with `IPPROTO_ICMP`/`IPPROTO_ICMPV6` (allowed to the
//!    groups in `net.ipv4.ping_group_range`), else an [`IcmpNotPermitted`] error that says
//!    which was refused and how to allow it.
//! 2. [`Pinger`] (`ping.rs`) is pure: it builds echo requests with [`crate::wire`], and takes
//!    each received packet with the time it arrived, returning the matched [`PingReply`] or
//!    the reason it is [`NotOurs`].
//! 3. [`ping`] (`run.rs`) registers the socket with a [`Reactor`](crate::reactor::Reactor)
//!    (`IcmpSocket::add_to`), sends on a timer, times each request out on the wheel, and feeds
//!    what `on_datagram` receives to the `Pinger`.
//!
//! # What the kernel adds and strips
//!
//! | socket | receives | sends | checksum | identifier |
//! |---|---|---|---|---|
//! | raw, IPv4 | IPv4 header + ICMP, *every* ICMP message to the host | ICMP only (the kernel adds the IP header) | ours to compute and check | ours |
//! | raw, IPv6 | ICMPv6 only (no IPv6 header), every ICMPv6 message | ICMPv6 only | the kernel's (it covers a pseudo-header) | ours |
//! | datagram, IPv4 | ICMP only, replies to this socket only | ICMP only | the kernel fills and checks it | the kernel's (the socket's "port") |
//! | datagram, IPv6 | ICMPv6 only, replies to this socket only | ICMPv6 only | the kernel's | the kernel's |
//!
//! So a raw socket's reader must skip messages that are not echo replies (on loopback it even
//! sees its own requests), replies to other processes (another identifier), duplicates and
//! late replies; the `Pinger` also puts a random cookie in each request's data and checks it
//! comes back.
//!
//! # Privileges
//!
//! `SOCK_RAW` needs `CAP_NET_RAW` (root has it; a program can be given it with
//! `setcap cap_net_raw+ep`). The datagram socket needs no capability, only a group in
//! `net.ipv4.ping_group_range` (which covers both families; many distributions ship
//! `0 2147483647`, the kernel's default `1 0` allows nobody).
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use netloop::raw::{ping, PingEvent, PingOptions};
//!
//! let opts = PingOptions::default().count(3).interval(Duration::from_millis(200));
//! let run = ping("127.0.0.1".parse().unwrap(), &opts, |event| {
//!     if let PingEvent::Reply(r) = event {
//!         println!("{} bytes from {}: icmp_seq={} time={:?}", r.len, r.from, r.seq, r.rtt);
//!     }
//! })?;
//! println!("{} of {} answered", run.summary.received, run.summary.transmitted);
//! # Ok::<(), std::io::Error>(())
//! ```

mod ping;
mod report;
mod run;
mod socket;
#[cfg(test)]
mod tests;

pub use ping::{choose_ident, random_cookie, NotOurs, PingReply, PingSummary, Pinger};
pub use run::{ping, PingEvent, PingOptions, PingRun};
pub use socket::{IcmpKind, IcmpMode, IcmpNotPermitted, IcmpSocket};
