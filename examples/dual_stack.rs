//! AF_INET beside AF_INET6: one dual-stack socket, or two sockets.
//!
//! An IPv6 socket on `[::]` with `IPV6_V6ONLY` off serves IPv4 clients too; the kernel shows
//! them as IPv4-mapped addresses (`::ffff:127.0.0.1`), which netloop reports as the IPv4
//! address they stand for. With `only_v6` on (netloop's default), the IPv6 socket leaves IPv4
//! to a second socket on `0.0.0.0` (or here `127.0.0.1`) with the same port.
//! `netloop serve --tcp [::]:9999` is the first kind; add `--v6-only` for the second.
//!
//! Run: `cargo run --example dual_stack` (binds `[::]` on a free port; all traffic stays on
//! loopback).

#[path = "common/report.rs"]
mod report;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use netloop::reactor::ListenOptions;
use netloop::reactor::{ConnId, Context, Handler, ListenerId, PeerAddr, Reactor};

struct Show;

impl Handler for Show {
    fn on_accept(&mut self, cx: &mut Context<'_>, l: ListenerId, conn: ConnId, peer: &PeerAddr) {
        let on = cx
            .listener_addr(l)
            .map(|a| a.to_string())
            .unwrap_or_default();
        println!("  listener {on} accepted {peer}");
        let _ = cx.write(conn, b"hi");
        cx.close(conn);
    }
}

fn client(addr: SocketAddr) {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(mut s) => {
            let _ = s.write_all(b"x");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
        }
        Err(e) => println!("  client to {addr}: {e}"),
    }
}

fn run(mut reactor: Reactor<Show>, targets: &[SocketAddr]) -> std::io::Result<()> {
    let targets = targets.to_vec();
    let clients = std::thread::spawn(move || targets.into_iter().for_each(client));
    while !clients.is_finished() {
        reactor.turn(Some(Duration::from_millis(50)))?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    report::exit(main_run())
}

fn main_run() -> std::io::Result<()> {
    println!("one dual-stack socket on [::]:");
    let mut reactor = Reactor::new(Show)?;
    let dual = ListenOptions::default().only_v6(false);
    let id = reactor.with_context(|_, cx| cx.listen_with("[::]:0".parse().unwrap(), &dual))?;
    let port = reactor.listener_addr(id)?.port();
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    run(reactor, &[v4, v6])?;

    println!("two sockets, IPv6-only [::] and IPv4 127.0.0.1, same port:");
    let mut reactor = Reactor::new(Show)?;
    let id = reactor.listen("[::]:0".parse().unwrap())?;
    let port = reactor.listener_addr(id)?.port();
    reactor.listen(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    run(reactor, &[v4, v6])
}
