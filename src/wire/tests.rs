//! Known packets and hand-computed vectors, paired parse/emit tests, and truncation at every
//! length.

use super::*;

/// RFC 1071 section 3's example, and the odd-length rule (a last byte is padded with zero).
#[test]
fn checksum_matches_rfc_1071_and_pads_odd_lengths() {
    assert_eq!(
        checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
        0x220d
    );
    // 0x0102 + 0x0300 = 0x0402, complemented: 0xfbfd.
    assert_eq!(checksum(&[1, 2, 3]), 0xfbfd);
    assert_eq!(checksum(&[]), 0xffff);
    // Carries fold back in: 0xffff + 0x0001 = 0x1_0000 -> 0x0001 -> !0x0001.
    assert_eq!(checksum(&[0xff, 0xff, 0x00, 0x01]), !0x0001);
}

/// An IPv4 header whose checksum (b861) is well known (Wikipedia's "IPv4 header checksum"
/// example), with a UDP payload behind it.
#[test]
fn ipv4_header_fields_and_checksum() {
    let mut packet = hex("4500007300004000401100 00c0a80001c0a800c7"
        .replace(' ', "")
        .as_str());
    packet.resize(0x73, 0xaa);
    assert_eq!(checksum(&packet[..20]), 0xb861);
    packet[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    let p = Ipv4Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.total_len(), 0x73);
    assert_eq!(p.ttl(), 0x40);
    assert_eq!(p.protocol(), 17);
    assert_eq!(p.src(), std::net::Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(p.dst(), std::net::Ipv4Addr::new(192, 168, 0, 199));
    assert!(p.verify_checksum());
    assert_eq!(p.payload().len(), 0x73 - 20);
    packet[8] = 0x3f; // a changed TTL breaks the checksum
    assert!(!Ipv4Packet::new_checked(&packet[..])
        .unwrap()
        .verify_checksum());
}

#[test]
fn ipv4_rejects_what_it_cannot_read_safely() {
    let good = {
        let mut p = hex("4500001c0000000040010000 7f000001 7f000001"
            .replace(' ', "")
            .as_str());
        p.resize(28, 0);
        p
    };
    assert!(Ipv4Packet::new_checked(&good[..]).is_ok());
    for n in 0..good.len() {
        assert!(
            Ipv4Packet::new_checked(&good[..n]).is_err(),
            "{n} bytes of a 28-byte packet"
        );
    }
    let mut v6 = good.clone();
    v6[0] = 0x65;
    assert_eq!(
        Ipv4Packet::new_checked(&v6[..]),
        Err(WireError::NotIpv4 { version: 6 })
    );
    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    assert_eq!(
        Ipv4Packet::new_checked(&short_ihl[..]),
        Err(WireError::BadHeaderLength { len: 16 })
    );
    let mut short_total = good.clone();
    short_total[3] = 10;
    assert_eq!(
        Ipv4Packet::new_checked(&short_total[..]),
        Err(WireError::BadTotalLength {
            total: 10,
            header: 20
        })
    );
}

/// An echo request built here, byte for byte as computed by hand (Python's own RFC 1071 sum
/// gives 2368 for it), then read back.
#[test]
fn icmpv4_echo_request_round_trip() {
    let req = IcmpEcho::request(IcmpVersion::V4, 0x1234, 1, b"netloop!");
    let bytes = req.into_inner();
    assert_eq!(bytes, hex("08002368123400016e65746c6f6f7021"));
    let p = IcmpEcho::new_checked(&bytes[..], IcmpVersion::V4).unwrap();
    assert!(!p.is_reply(IcmpVersion::V4));
    assert_eq!((p.ident(), p.seq(), p.code()), (0x1234, 1, 0));
    assert_eq!(p.checksum_field(), 0x2368);
    assert!(p.verify_checksum());
    assert_eq!(p.data(), b"netloop!");
    // The same message as a reply: type 0, checksum 8 more (the type is the high byte).
    let mut reply = bytes.clone();
    reply[0] = 0;
    reply[2..4].copy_from_slice(&(0x2368u16 + 0x0800).to_be_bytes());
    let r = IcmpEcho::new_checked(&reply[..], IcmpVersion::V4).unwrap();
    assert!(r.is_reply(IcmpVersion::V4));
    assert!(r.verify_checksum());
}

#[test]
fn icmpv6_echo_leaves_the_checksum_to_the_kernel_and_other_types_are_refused() {
    let req = IcmpEcho::request(IcmpVersion::V6, 7, 9, b"x").into_inner();
    assert_eq!(req, vec![128, 0, 0, 0, 0, 7, 0, 9, b'x']);
    assert!(IcmpEcho::new_checked(&req[..], IcmpVersion::V6).is_ok());
    assert_eq!(
        IcmpEcho::new_checked(&req[..], IcmpVersion::V4),
        Err(WireError::NotEcho { kind: 128 })
    );
    // A destination-unreachable (type 3) is not an echo: a ping skips it.
    assert_eq!(
        IcmpEcho::new_checked(&[3u8, 1, 0, 0, 0, 0, 0, 0][..], IcmpVersion::V4),
        Err(WireError::NotEcho { kind: 3 })
    );
    for n in 0..8 {
        assert!(IcmpEcho::new_checked(&req[..n], IcmpVersion::V6).is_err());
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
