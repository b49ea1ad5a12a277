//! The helpers against hand-checked values (the comparison with Python itself is in
//! `tests/python_compat.rs`).

use super::*;
use crate::addr::Family;

#[test]
fn byte_order_round_trips() {
    assert_eq!(htonl(1).to_ne_bytes(), [0, 0, 0, 1]);
    assert_eq!(htons(0x1234).to_ne_bytes(), [0x12, 0x34]);
    assert_eq!(ntohl(htonl(0xdead_beef)), 0xdead_beef);
    assert_eq!(ntohs(htons(80)), 80);
}

#[test]
fn inet_aton_takes_every_c_form() {
    let ok = |s: &str| inet_aton(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert_eq!(ok("127.0.0.1"), [127, 0, 0, 1]);
    assert_eq!(ok("127.1"), [127, 0, 0, 1]);
    assert_eq!(ok("0x7f.1"), [127, 0, 0, 1]);
    assert_eq!(ok("0177.0.0.1"), [127, 0, 0, 1]);
    assert_eq!(ok("1"), [0, 0, 0, 1]);
    assert_eq!(ok("1.2.3"), [1, 2, 0, 3]);
    assert_eq!(ok("1.2.65535"), [1, 2, 255, 255]);
    assert_eq!(ok("4294967295"), [255; 4]);
    assert_eq!(ok("0xFFFFFFFF"), [255; 4]);
    assert_eq!(ok("1.2.3.4 trailing"), [1, 2, 3, 4]);
    assert_eq!(ok("1.2.3.4\n"), [1, 2, 3, 4]);
    for bad in [
        "",
        " 1.2.3.4",
        "256.1.1.1",
        "1.2.3.4.5",
        "4294967296",
        "09.1.1.1",
        "1..2",
        "1.2.3.",
        "0x",
        "0x100.1.1.1",
        "1.2.65536",
        "-1",
        "+1",
        "1.2.3.4x",
        "a.b.c.d",
        "1.2.3.256",
        "99999999999999999999999",
    ] {
        let e = inet_aton(bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "illegal IP address string passed to inet_aton",
            "{bad:?}"
        );
    }
    assert_eq!(inet_ntoa([10, 0, 0, 255]), "10.0.0.255");
}

#[test]
fn inet_pton_and_ntop() {
    assert_eq!(
        inet_pton(Family::Inet, "1.2.3.4").unwrap(),
        vec![1, 2, 3, 4]
    );
    assert!(inet_pton(Family::Inet, "01.2.3.4").is_err());
    assert!(inet_pton(Family::Inet, "1.2.3").is_err());
    assert_eq!(inet_pton(Family::Inet6, "::1").unwrap()[15], 1);
    assert!(inet_pton(Family::Inet6, ":::").is_err());
    let mapped = inet_pton(Family::Inet6, "::ffff:1.2.3.4").unwrap();
    assert_eq!(inet_ntop(Family::Inet6, &mapped).unwrap(), "::ffff:1.2.3.4");
    let compat = inet_pton(Family::Inet6, "::1.2.3.4").unwrap();
    assert_eq!(inet_ntop(Family::Inet6, &compat).unwrap(), "::1.2.3.4");
    let e = inet_ntop(Family::Inet6, &[0; 5]).unwrap_err();
    assert_eq!(e.to_string(), "invalid length of packed IP address string");
    assert!(inet_pton(Family::Unix, "x").is_err());
}

#[test]
fn services_and_protocols() {
    assert_eq!(getservbyname("ftp", None).unwrap(), 21);
    assert_eq!(getservbyname("telnet", Some("tcp")).unwrap(), 23);
    assert_eq!(getservbyname("http", Some("tcp")).unwrap(), 80);
    assert_eq!(getservbyport(80, None).unwrap(), "http");
    assert_eq!(getprotobyname("icmp").unwrap(), 1);
    let e = getservbyname("no-such-service", None).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ResolveErrorKind::NotInDatabase, "service/proto not found")
    );
    assert!(getprotobyname("no-such-proto").is_err());
}

#[test]
fn lookups_on_loopback_names() {
    let lo = gethostbyname("localhost").unwrap();
    assert!(lo.is_loopback());
    assert_eq!(gethostbyname("").unwrap(), std::net::Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        gethostbyname("<broadcast>").unwrap(),
        std::net::Ipv4Addr::BROADCAST
    );
    let ex = gethostbyname_ex("127.0.0.1").unwrap();
    assert_eq!(ex.addrs, vec![std::net::IpAddr::from([127, 0, 0, 1])]);
    let found = getaddrinfo(
        Some("127.0.0.1"),
        Some("80"),
        Some(Family::Inet),
        Some(crate::addr::SockType::Stream),
        0,
        AiFlags::NUMERICHOST,
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].addr, "127.0.0.1:80".parse().unwrap());
    let (host, serv) = getnameinfo(
        &"127.0.0.1:80".parse().unwrap(),
        NiFlags::NUMERICHOST | NiFlags::NUMERICSERV,
    )
    .unwrap();
    assert_eq!((host.as_str(), serv.as_str()), ("127.0.0.1", "80"));
    // A name that cannot exist (the .invalid domain is reserved), numeric-only so that no
    // query leaves the machine.
    let e = getaddrinfo(
        Some("no-such-host.invalid"),
        None,
        None,
        None,
        0,
        AiFlags::NUMERICHOST,
    )
    .unwrap_err();
    assert_eq!(e.kind, ResolveErrorKind::HostNotFound);
    assert!(!e.message.is_empty());
}
