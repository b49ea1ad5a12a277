//! Ping on loopback over every kind of ICMP socket, and the permission error, for real.
//!
//! The raw-socket tests need root (`CAP_NET_RAW`), which the test machines have; elsewhere
//! they say so and skip. The datagram-socket and permission tests run in a child process with
//! a private network namespace (its own loopback and `ping_group_range`), so the host's
//! settings are neither needed nor changed.

mod util;

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use netloop::raw::{
    ping, IcmpKind, IcmpMode, IcmpNotPermitted, IcmpSocket, PingEvent, PingOptions, PingRun,
};
use netloop::wire::IcmpVersion;
use util::privilege::{become_nobody, is_child, is_root, private_network, run_child};

const V4: &str = "127.0.0.1";
const V6: &str = "::1";

/// Ping `target` `count` times, checking each reply as it comes: in sequence, from the
/// target, with a plausible round trip.
fn ping_checked(target: &str, mode: IcmpMode, count: u32) -> PingRun {
    let target: IpAddr = target.parse().unwrap();
    let opts = PingOptions::default()
        .count(count)
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(5))
        .mode(mode);
    let mut seqs = Vec::new();
    let run = ping(target, &opts, |event| match event {
        PingEvent::Reply(r) => {
            assert_eq!(r.from, target);
            assert_eq!(r.len, 64);
            assert!(
                r.rtt > Duration::ZERO && r.rtt < Duration::from_secs(5),
                "{:?}",
                r.rtt
            );
            seqs.push(r.seq);
        }
        other => panic!("unexpected {other:?}"),
    })
    .expect("ping");
    assert_eq!(seqs, (1..=count as u16).collect::<Vec<_>>());
    let s = &run.summary;
    assert_eq!((s.transmitted, s.received, s.timed_out), (count, count, 0));
    assert_eq!(s.loss_percent(), 0.0);
    assert!(s.min <= s.avg() && s.avg() <= s.max && s.min > Duration::ZERO);
    run
}

#[test]
fn raw_ping_v4_and_v6_on_loopback() {
    if !is_root() {
        eprintln!("skipped: SOCK_RAW needs CAP_NET_RAW (run as root)");
        return;
    }
    let run = ping_checked(V4, IcmpMode::Raw, 4);
    assert_eq!(run.kind, IcmpKind::Raw);
    let run = ping_checked(V6, IcmpMode::Raw, 4);
    assert_eq!(run.kind, IcmpKind::Raw);
}

/// Two raw pingers at once in one process: each socket sees the other's replies (and both
/// requests), and each must take only its own.
#[test]
fn concurrent_raw_pingers_take_only_their_own_replies() {
    if !is_root() {
        eprintln!("skipped: SOCK_RAW needs CAP_NET_RAW (run as root)");
        return;
    }
    let a = std::thread::spawn(|| ping_checked(V4, IcmpMode::Raw, 10));
    let b = std::thread::spawn(|| ping_checked(V4, IcmpMode::Raw, 10));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_ne!(a.ident, b.ident);
}

#[test]
fn a_late_reply_counts_as_a_timeout() {
    if !is_root() {
        eprintln!("skipped: SOCK_RAW needs CAP_NET_RAW (run as root)");
        return;
    }
    // A timeout shorter than any real round trip can be (the wheel's 1 ms tick still lets a
    // loopback reply win sometimes): every request is either answered or timed out, never
    // both, and the counts add up.
    let opts = PingOptions::default()
        .count(5)
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_nanos(1))
        .mode(IcmpMode::Raw);
    let (mut replies, mut timeouts) = (0, 0);
    let run = ping(V4.parse().unwrap(), &opts, |e| match e {
        PingEvent::Reply(_) => replies += 1,
        PingEvent::Timeout { .. } => timeouts += 1,
        other => panic!("unexpected {other:?}"),
    })
    .unwrap();
    assert_eq!(replies + timeouts, 5);
    assert_eq!(
        (run.summary.received, run.summary.timed_out),
        (replies, timeouts)
    );
}

#[test]
fn datagram_ping_v4_and_v6_in_a_private_network() {
    if !is_root() {
        eprintln!("skipped: a private network namespace needs root");
        return;
    }
    assert!(run_child("child_datagram_ping"));
}

#[test]
#[ignore = "runs only as the child of datagram_ping_v4_and_v6_in_a_private_network"]
fn child_datagram_ping() {
    if !is_child() {
        return;
    }
    private_network((0, 0)).expect("private network");
    let run = ping_checked(V4, IcmpMode::Datagram, 3);
    assert_eq!(run.kind, IcmpKind::Datagram);
    let run = ping_checked(V6, IcmpMode::Datagram, 3);
    assert_eq!(run.kind, IcmpKind::Datagram);
    // Still root: Auto picks raw.
    assert_eq!(ping_checked(V4, IcmpMode::Auto, 1).kind, IcmpKind::Raw);
}

#[test]
fn without_privileges_auto_falls_back_to_datagram_or_fails_clearly() {
    if !is_root() {
        eprintln!("skipped: switching uid and network namespace needs root");
        return;
    }
    assert!(run_child("child_unprivileged"));
}

fn not_permitted(e: &io::Error) -> &IcmpNotPermitted {
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<IcmpNotPermitted>())
        .unwrap_or_else(|| panic!("not an IcmpNotPermitted: {e:?}"))
}

#[test]
#[ignore = "runs only as the child of without_privileges_auto_falls_back_to_datagram_or_fails_clearly"]
fn child_unprivileged() {
    if !is_child() {
        return;
    }
    // Nobody may use the datagram socket here; then we give up every capability.
    private_network((1, 0)).expect("private network");
    become_nobody().expect("setuid");

    for version in [IcmpVersion::V4, IcmpVersion::V6] {
        let err = IcmpSocket::open(version, IcmpMode::Auto).unwrap_err();
        let why = not_permitted(&err);
        assert!(why.raw_refused && why.datagram_refused);
        assert_eq!(why.ping_group_range, Some((1, 0)));
        assert_eq!(why.groups, vec![65534]);
        let msg = err.to_string();
        for needle in [
            "CAP_NET_RAW",
            "net.ipv4.ping_group_range",
            "(now 1 0, an empty range)",
            "65534",
            "sysctl -w",
        ] {
            assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
        }
        let err = IcmpSocket::open(version, IcmpMode::Raw).unwrap_err();
        let why = not_permitted(&err);
        assert!(why.raw_refused && !why.datagram_refused);
        assert!(!err.to_string().contains("ping_group_range"));
    }
    // The same error reaches ping's caller, before anything is sent.
    let err = ping(
        V4.parse().unwrap(),
        &PingOptions::default().count(1),
        |_| {},
    )
    .unwrap_err();
    assert!(not_permitted(&err).raw_refused);
}

#[test]
fn unprivileged_auto_uses_the_datagram_socket_when_allowed() {
    if !is_root() {
        eprintln!("skipped: switching uid and network namespace needs root");
        return;
    }
    assert!(run_child("child_unprivileged_allowed"));
}

#[test]
#[ignore = "runs only as the child of unprivileged_auto_uses_the_datagram_socket_when_allowed"]
fn child_unprivileged_allowed() {
    if !is_child() {
        return;
    }
    private_network((65534, 65534)).expect("private network");
    become_nobody().expect("setuid");
    let run = ping_checked(V4, IcmpMode::Auto, 2);
    assert_eq!(run.kind, IcmpKind::Datagram);
    let run = ping_checked(V6, IcmpMode::Auto, 2);
    assert_eq!(run.kind, IcmpKind::Datagram);
}
