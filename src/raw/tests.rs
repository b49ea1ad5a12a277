//! The pure pinger: requests, matching, and the statistics, without a socket.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::ping::{NotOurs, Pinger};
use super::socket::IcmpKind;
use crate::wire::{checksum, IcmpEcho, IcmpVersion, WireError};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The reply a host would send to `request`: type changed, checksum recomputed (v4).
fn reply_to(request: &[u8], version: IcmpVersion) -> Vec<u8> {
    let mut r = request.to_vec();
    r[0] = version.reply();
    r[2] = 0;
    r[3] = 0;
    if version == IcmpVersion::V4 {
        let sum = checksum(&r);
        r[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    r
}

/// `icmp` behind a 20-byte IPv4 header with `ttl`, as a raw IPv4 socket receives it.
fn with_ipv4_header(icmp: &[u8], ttl: u8) -> Vec<u8> {
    let total = (20 + icmp.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, ttl, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    let sum = checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(icmp);
    p
}

#[test]
fn requests_count_up_from_one_and_carry_ident_cookie_and_pattern() {
    let t0 = Instant::now();
    let mut p = Pinger::new(
        IcmpVersion::V4,
        IcmpKind::Raw,
        0x1234,
        0x0102_0304_0506_0708,
        56,
    );
    let (seq, msg) = p.request(t0);
    assert_eq!(seq, 1);
    assert_eq!(msg.len(), 64);
    let echo = IcmpEcho::new_checked(&msg[..], IcmpVersion::V4).unwrap();
    assert_eq!((echo.kind(), echo.ident(), echo.seq()), (8, 0x1234, 1));
    assert!(echo.verify_checksum());
    assert_eq!(&echo.data()[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(echo.data()[8], 8);
    assert_eq!(p.request(t0).0, 2);
    assert_eq!(p.waiting(), 2);
    assert_eq!(p.summary().transmitted, 2);
}

#[test]
fn a_raw_ipv4_reply_matches_with_ttl_and_rtt() {
    let t0 = Instant::now();
    let mut p = Pinger::new(IcmpVersion::V4, IcmpKind::Raw, 7, 42, 56);
    let (_, req) = p.request(t0);
    let packet = with_ipv4_header(&reply_to(&req, IcmpVersion::V4), 61);
    let reply = p
        .on_packet(&packet, LOCAL, t0 + Duration::from_micros(250))
        .unwrap();
    assert_eq!(reply.seq, 1);
    assert_eq!(reply.len, 64);
    assert_eq!(reply.ttl, Some(61));
    assert_eq!(reply.rtt, Duration::from_micros(250));
    assert_eq!(p.waiting(), 0);
    assert_eq!(p.summary().received, 1);
}

#[test]
fn datagram_and_ipv6_replies_have_no_ip_header() {
    for (version, kind) in [
        (IcmpVersion::V4, IcmpKind::Datagram),
        (IcmpVersion::V6, IcmpKind::Raw),
        (IcmpVersion::V6, IcmpKind::Datagram),
    ] {
        let t0 = Instant::now();
        let mut p = Pinger::new(version, kind, 9, 1, 16);
        let (_, req) = p.request(t0);
        let reply = p
            .on_packet(
                &reply_to(&req, version),
                LOCAL,
                t0 + Duration::from_millis(1),
            )
            .unwrap();
        assert_eq!(
            (reply.seq, reply.len, reply.ttl),
            (1, 24, None),
            "{version:?} {kind:?}"
        );
    }
}

#[test]
fn everything_that_is_not_our_reply_is_ignored_with_its_reason() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_millis(1);
    let mut p = Pinger::new(IcmpVersion::V4, IcmpKind::Raw, 7, 42, 56);
    let (_, req) = p.request(t0);
    let reply = reply_to(&req, IcmpVersion::V4);

    // Our own request, looped back on lo to every raw socket.
    let own = with_ipv4_header(&req, 64);
    assert_eq!(p.on_packet(&own, LOCAL, t1), Err(NotOurs::NotEchoReply(8)));
    // Another process's reply.
    let mut other = reply.clone();
    other[4..6].copy_from_slice(&8u16.to_be_bytes());
    other[2..4].copy_from_slice(&[0, 0]);
    let sum = checksum(&other);
    other[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        p.on_packet(&with_ipv4_header(&other, 64), LOCAL, t1),
        Err(NotOurs::OtherIdent(8))
    );
    // A corrupted reply.
    let mut corrupt = reply.clone();
    corrupt[20] ^= 0xff;
    assert_eq!(
        p.on_packet(&with_ipv4_header(&corrupt, 64), LOCAL, t1),
        Err(NotOurs::BadChecksum)
    );
    // Our ident and seq but someone else's data (checksum fixed up).
    let mut foreign = reply.clone();
    foreign[8] ^= 0xff;
    foreign[2..4].copy_from_slice(&[0, 0]);
    let sum = checksum(&foreign);
    foreign[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        p.on_packet(&with_ipv4_header(&foreign, 64), LOCAL, t1),
        Err(NotOurs::WrongData)
    );
    // Not ICMP at all.
    let mut udp = with_ipv4_header(&reply, 64);
    udp[9] = 17;
    assert_eq!(p.on_packet(&udp, LOCAL, t1), Err(NotOurs::NotIcmp(17)));
    // Truncated.
    assert!(matches!(
        p.on_packet(&with_ipv4_header(&reply, 64)[..30], LOCAL, t1),
        Err(NotOurs::Malformed(WireError::Truncated { .. }))
    ));
    // None of that counted; the real reply still matches, once.
    assert_eq!(p.summary().received, 0);
    assert!(p
        .on_packet(&with_ipv4_header(&reply, 64), LOCAL, t1)
        .is_ok());
    assert_eq!(
        p.on_packet(&with_ipv4_header(&reply, 64), LOCAL, t1),
        Err(NotOurs::NotWaiting(1))
    );
    assert_eq!(p.summary().received, 1);
}

#[test]
fn a_reply_after_its_timeout_is_not_counted() {
    let t0 = Instant::now();
    let mut p = Pinger::new(IcmpVersion::V6, IcmpKind::Datagram, 3, 5, 8);
    let (seq, req) = p.request(t0);
    assert!(p.expire(seq));
    assert!(!p.expire(seq), "a request times out once");
    let late = reply_to(&req, IcmpVersion::V6);
    assert_eq!(
        p.on_packet(&late, LOCAL, t0 + Duration::from_secs(11)),
        Err(NotOurs::NotWaiting(1))
    );
    let s = p.summary();
    assert_eq!((s.transmitted, s.received, s.timed_out), (1, 0, 1));
    assert_eq!(s.loss_percent(), 100.0);
}

#[test]
fn statistics_are_pings() {
    let t0 = Instant::now();
    let mut p = Pinger::new(IcmpVersion::V4, IcmpKind::Datagram, 1, 1, 8);
    for ms in [1, 2, 3] {
        let (_, req) = p.request(t0);
        p.on_packet(
            &reply_to(&req, IcmpVersion::V4),
            LOCAL,
            t0 + Duration::from_millis(ms),
        )
        .unwrap();
    }
    let _ = p.request(t0); // unanswered
    let s = p.summary();
    assert_eq!((s.transmitted, s.received), (4, 3));
    assert_eq!(s.loss_percent(), 25.0);
    assert_eq!(s.min, Duration::from_millis(1));
    assert_eq!(s.max, Duration::from_millis(3));
    assert!((s.avg().as_secs_f64() - 0.002).abs() < 1e-9);
    // sqrt(((1 + 4 + 9) / 3) - 4) ms = sqrt(2/3) ms
    assert!((s.mdev().as_secs_f64() * 1e3 - (2.0f64 / 3.0).sqrt()).abs() < 1e-6);
}

#[test]
fn sizes_below_the_cookie_still_work() {
    let t0 = Instant::now();
    let mut p = Pinger::new(IcmpVersion::V4, IcmpKind::Datagram, 1, u64::MAX, 0);
    let (_, req) = p.request(t0);
    assert_eq!(req.len(), 8);
    assert!(p
        .on_packet(&reply_to(&req, IcmpVersion::V4), LOCAL, t0)
        .is_ok());
}

#[test]
fn sequence_numbers_wrap_around_requests_still_waiting() {
    let t0 = Instant::now();
    let mut p = Pinger::new(IcmpVersion::V4, IcmpKind::Datagram, 1, 9, 8);
    // Request 3 stays unanswered through a whole cycle of sequence numbers.
    for _ in 0..70_000 {
        let (seq, req) = p.request(t0);
        if seq != 3 {
            p.on_packet(&reply_to(&req, IcmpVersion::V4), LOCAL, t0)
                .unwrap();
        }
    }
    assert_eq!(p.waiting(), 1, "only request 3 waits");
    assert_eq!(p.summary().received, 69_999);
    // A sent request that failed is forgotten, not counted as a timeout.
    let (seq, _) = p.request(t0);
    assert!(p.forget(seq));
    assert_eq!(p.summary().timed_out, 0);
}
