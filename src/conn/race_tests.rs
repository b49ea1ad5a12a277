//! Happy Eyeballs' timing, decided by `Race` on a virtual clock: no socket, no sleep.

use std::io::{Error, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::race::{interleave, split_target, Race, Step};

const DELAY: Duration = Duration::from_millis(250);
const TIMEOUT: Duration = Duration::from_secs(5);

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

fn refused() -> Error {
    Error::from(ErrorKind::ConnectionRefused)
}

#[test]
fn families_interleave_ipv6_first_each_in_the_resolvers_order() {
    let got = interleave(vec![
        a("10.0.0.1:1"),
        a("10.0.0.2:1"),
        a("10.0.0.3:1"),
        a("[2001:db8::1]:1"),
        a("[2001:db8::2]:1"),
    ]);
    let want = [
        "[2001:db8::1]:1",
        "10.0.0.1:1",
        "[2001:db8::2]:1",
        "10.0.0.2:1",
        "10.0.0.3:1",
    ];
    assert_eq!(got, want.map(a));
}

#[test]
fn targets_split_into_host_and_service() {
    assert_eq!(
        split_target("example.com:80").unwrap(),
        ("example.com", "80")
    );
    assert_eq!(
        split_target("localhost:http").unwrap(),
        ("localhost", "http")
    );
    assert_eq!(split_target("[::1]:9999").unwrap(), ("::1", "9999"));
    for bad in [
        "example.com",
        "::1:80",
        "[::1]80",
        "[::1:80",
        ":80",
        "host:",
        "",
    ] {
        let e = split_target(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
}

#[test]
fn the_next_address_starts_after_the_delay_beside_the_first() {
    let t0 = Instant::now();
    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    assert_eq!(race.next(t0), Step::Wait(Some(t0 + TIMEOUT)), "looking up");
    race.resolved(Ok(vec![a("127.0.0.1:7"), a("[::1]:7")]));
    assert_eq!(race.next(ms(t0, 1)), Step::Start(a("[::1]:7")));
    assert_eq!(race.next(ms(t0, 1)), Step::Wait(Some(ms(t0, 251))));
    assert_eq!(race.next(ms(t0, 250)), Step::Wait(Some(ms(t0, 251))));
    assert_eq!(race.next(ms(t0, 251)), Step::Start(a("127.0.0.1:7")));
    // Both under way, nothing left to start: only an answer or the deadline.
    assert_eq!(race.next(ms(t0, 251)), Step::Wait(Some(t0 + TIMEOUT)));
}

#[test]
fn a_failure_starts_the_next_address_at_once() {
    let t0 = Instant::now();
    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    let addrs = ["[::1]:7", "127.0.0.1:7", "[::2]:7", "127.0.0.2:7"].map(a);
    race.resolved(Ok(addrs.to_vec()));
    assert_eq!(race.next(t0), Step::Start(addrs[0]));
    // The only attempt fails: the next starts at once.
    race.failed(addrs[0], &refused(), ms(t0, 3));
    assert_eq!(race.next(ms(t0, 3)), Step::Start(addrs[1]));
    // The delay counts again from that start.
    assert_eq!(race.next(ms(t0, 3)), Step::Wait(Some(ms(t0, 253))));
    assert_eq!(race.next(ms(t0, 253)), Step::Start(addrs[2]));
    // One of two under way fails: the next starts at once, beside the other.
    race.failed(addrs[2], &refused(), ms(t0, 300));
    assert_eq!(race.next(ms(t0, 300)), Step::Start(addrs[3]));
}

#[test]
fn every_address_failing_fails_with_each_error() {
    let t0 = Instant::now();
    let mut race = Race::new(t0, None, DELAY);
    race.resolved(Ok(vec![a("[::1]:7"), a("127.0.0.1:7")]));
    assert_eq!(race.next(t0), Step::Start(a("[::1]:7")));
    assert_eq!(race.next(t0), Step::Wait(Some(ms(t0, 250))), "no deadline");
    race.failed(a("[::1]:7"), &refused(), ms(t0, 1));
    assert_eq!(race.next(ms(t0, 1)), Step::Start(a("127.0.0.1:7")));
    assert_eq!(
        race.next(ms(t0, 1)),
        Step::Wait(None),
        "no deadline, nothing left"
    );
    race.failed(a("127.0.0.1:7"), &refused(), ms(t0, 2));
    let Step::Fail(kind, what) = race.next(ms(t0, 2)) else {
        panic!("should fail")
    };
    assert_eq!(kind, ErrorKind::ConnectionRefused);
    assert!(
        what.contains("[::1]:7") && what.contains("127.0.0.1:7"),
        "{what}"
    );
}

#[test]
fn the_timeout_bounds_the_look_up_and_the_attempts() {
    let t0 = Instant::now();
    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    let Step::Fail(kind, what) = race.next(t0 + TIMEOUT) else {
        panic!("should time out")
    };
    assert_eq!(kind, ErrorKind::TimedOut);
    assert!(what.contains("not looked up"), "{what}");

    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    race.resolved(Ok(vec![a("[::1]:7"), a("127.0.0.1:7")]));
    assert_eq!(race.next(ms(t0, 4900)), Step::Start(a("[::1]:7")));
    assert_eq!(race.next(ms(t0, 4900)), Step::Wait(Some(t0 + TIMEOUT)));
    race.failed(a("[::1]:7"), &refused(), ms(t0, 4950));
    assert_eq!(race.next(ms(t0, 4950)), Step::Start(a("127.0.0.1:7")));
    let Step::Fail(kind, what) = race.next(t0 + TIMEOUT) else {
        panic!("should time out")
    };
    assert_eq!(kind, ErrorKind::TimedOut);
    assert!(
        what.contains("no connection within") && what.contains("[::1]:7"),
        "{what}"
    );
}

#[test]
fn a_name_with_no_address_or_a_failed_look_up_fails_at_once() {
    let t0 = Instant::now();
    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    race.resolved(Ok(Vec::new()));
    assert!(matches!(race.next(t0), Step::Fail(ErrorKind::NotFound, _)));

    let mut race = Race::new(t0, Some(TIMEOUT), DELAY);
    race.resolved(Err(Error::other("no such host")));
    let Step::Fail(kind, what) = race.next(t0) else {
        panic!("should fail")
    };
    assert_eq!(kind, ErrorKind::Other);
    assert!(what.contains("no such host"), "{what}");
}
