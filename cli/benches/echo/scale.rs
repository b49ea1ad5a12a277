//! S1's accept rate: new connections per second through connect, one framed echo and close,
//! from 4 client threads at once, for each of S1's servers (a fresh one each).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::peers::Peer;
use crate::Server;

const CLIENTS: usize = 4;

/// Connections per second `peer` took through connect, echo, close, over `secs`.
fn accept_rate(peer: Peer, nth: usize, secs: f64) -> std::io::Result<f64> {
    let server = Server::start(peer)?;
    std::thread::sleep(Duration::from_millis(100));
    let addr = server.tcp;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
            // Each client thread from a source address of its own, and each server's clients
            // from addresses of their own (127.0.10+n.x), so that the TIME_WAIT left by one
            // run does not run the next one's ports out.
            let source = std::net::SocketAddr::from(([127, 0, 10 + nth as u8, 1 + i as u8], 0));
            std::thread::spawn(move || -> std::io::Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    let sock =
                        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
                    sock.bind(&source.into())?;
                    sock.connect(&addr.into())?;
                    let mut c = TcpStream::from(sock);
                    c.set_nodelay(true)?;
                    c.write_all(&[0, 0, 0, 2, b'h', b'i'])?;
                    let mut back = [0; 6];
                    c.read_exact(&mut back)?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            eprintln!("S1 accept rate, {}: a client failed: {e}", peer.name());
        }
    }
    Ok(n as f64 / elapsed)
}

/// The accept rate of each of `peers`, and netloop's ratio to each (above 1: netloop takes more).
pub fn run(peers: &[Peer], secs: f64) -> std::io::Result<()> {
    let mut rates = Vec::new();
    for (nth, &p) in peers.iter().enumerate() {
        rates.push((p, accept_rate(p, nth, secs)?));
    }
    let base = rates.iter().find(|(p, _)| *p == Peer::Netloop).map(|r| r.1);
    println!(
        "\nS1 accept rate: new connections per second through connect, one echo, close ({CLIENTS} client threads)"
    );
    for (p, r) in &rates {
        let ratio = base.map_or(String::from("-"), |b| format!("{:.2}", b / r));
        println!("  {:<12} {:>9.0}/s   netloop / this {ratio}", p.name(), r);
    }
    Ok(())
}
