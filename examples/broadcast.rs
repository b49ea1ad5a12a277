//! UDP "can broadcast" (the course): one datagram, sent once to a broadcast address, reaches
//! every socket listening there, and each answers it upper-cased, as the course's UDP server
//! does.
//!
//! Three upper-casing servers share one port on the loopback's broadcast address,
//! 127.255.255.255 (each binds it with `SO_REUSEPORT`), in one reactor. A client socket of
//! the blocking facade is refused at first (`EACCES`: a socket must ask to broadcast), then
//! sets `SO_BROADCAST` and sends `hello, everyone` once. It collects one reply from each
//! server, then the example ends. Nothing leaves the host: 127.255.255.255 is the broadcast
//! address of the loopback network. Run: `cargo run --example broadcast`.

#[path = "common/report.rs"]
mod report;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netloop::addr::{set_broadcast, Family, SockType};
use netloop::reactor::{Context, DgramId, Handler, ListenOptions, PeerAddr, Reactor};
use netloop::socket::Socket;

/// The course's UDP server: each datagram back, upper-cased.
struct Upper {
    /// The servers' sockets, in order: a server's number is its place here.
    sockets: Vec<DgramId>,
}

impl Handler for Upper {
    fn on_datagram(&mut self, cx: &mut Context<'_>, sock: DgramId, data: &[u8], from: &PeerAddr) {
        let server = self.sockets.iter().position(|s| *s == sock).unwrap_or(0);
        let text = String::from_utf8_lossy(data);
        println!("server {server} got {text:?} from {from}");
        let reply = format!("server {server}: {}", text.to_uppercase());
        if let Err(e) = cx.send_to(sock, reply.as_bytes(), from) {
            eprintln!("reply to {from} failed: {e}");
        }
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> io::Result<()> {
    let mut reactor = Reactor::new(Upper {
        sockets: Vec::new(),
    })?;
    let shared = ListenOptions::default().reuse_port(true);
    let first: SocketAddr = "127.255.255.255:0".parse().expect("an address");
    let mut sockets = vec![reactor.with_context(|_, cx| cx.bind_udp_with(first, &shared))?];
    let to = reactor.udp_addr(sockets[0])?;
    for _ in 1..3 {
        sockets.push(reactor.with_context(|_, cx| cx.bind_udp_with(to, &shared))?);
    }
    reactor.handler_mut().sockets = sockets.clone();
    println!("three servers on {to}");

    let client = Socket::new(Family::Inet, SockType::Dgram, None)?;
    client.bind("127.0.0.1:0".parse::<SocketAddr>().expect("an address"))?;
    match client.sendto(b"too early", to) {
        Err(e) => println!("before SO_BROADCAST: {e}"),
        Ok(_) => return Err(io::Error::other("a broadcast went without SO_BROADCAST")),
    }
    set_broadcast(&client, true)?;
    client.sendto(b"hello, everyone", to)?;
    println!("client sent one datagram to {to}");

    // The reactor answers; the client collects the three replies (within 10 s).
    let mut client = client;
    client.settimeout(Some(Duration::ZERO))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut replies = Vec::new();
    while replies.len() < sockets.len() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} of {} replies", replies.len(), sockets.len()),
            ));
        }
        reactor.turn(Some(Duration::from_millis(10)))?;
        while let Ok((reply, from)) = client.recvfrom(2048) {
            println!(
                "client got {:?} from {from}",
                String::from_utf8_lossy(&reply)
            );
            replies.push(reply);
        }
    }
    replies.sort();
    replies.dedup();
    if replies.len() != sockets.len() {
        return Err(io::Error::other("a server answered twice"));
    }
    println!("one datagram, {} servers answered", replies.len());
    Ok(())
}
