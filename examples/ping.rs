//! SOCK_RAW: ping on the reactor, IPv4 and IPv6 loopback.
//!
//! The course lists SOCK_RAW among the socket types; this is what one looks like at work.
//! A raw ICMP socket (root, or `CAP_NET_RAW`) receives every ICMP message of its family,
//! with the IPv4 header in front for IPv4; the pinger sorts out its own replies by
//! identifier, sequence number and a random cookie in the data. Without the capability the
//! unprivileged ICMP datagram socket is used, where `net.ipv4.ping_group_range` allows it;
//! otherwise the error says how to allow either.
//!
//! Run: `cargo run --example ping [ADDR...]` (default 127.0.0.1 and ::1); as root for
//! SOCK_RAW. The command-line tool has the full version: `netloop ping HOST -c 3`.

use std::net::IpAddr;
use std::time::Duration;

use netloop::raw::{ping, IcmpKind, PingEvent, PingOptions};

fn main() {
    let targets: Vec<String> = std::env::args().skip(1).collect();
    let targets = if targets.is_empty() {
        vec!["127.0.0.1".to_string(), "::1".to_string()]
    } else {
        targets
    };
    let opts = PingOptions::default()
        .count(3)
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_secs(2));
    for target in targets {
        let ip: IpAddr = match target.parse() {
            Ok(ip) => ip,
            Err(_) => {
                eprintln!("{target}: not an IP address");
                continue;
            }
        };
        let result = ping(ip, &opts, |event| match event {
            PingEvent::Reply(reply) => println!("{reply}"),
            PingEvent::Timeout { seq } => println!("icmp_seq={seq}: no reply"),
            PingEvent::SendFailed { seq, error } => println!("icmp_seq={seq}: {error}"),
            _ => {}
        });
        match result {
            Ok(run) => {
                let kind = match run.kind {
                    IcmpKind::Raw => "SOCK_RAW",
                    IcmpKind::Datagram => "SOCK_DGRAM (ICMP datagram socket)",
                };
                println!("(over {kind}, identifier {})", run.ident);
                println!("{}", run.report(&target));
            }
            Err(e) => eprintln!("{target}: {e}"),
        }
    }
}
