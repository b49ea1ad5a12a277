//! The course's UDP upper-casing server and client, on the blocking facade:
//!
//! ```python
//! # server                                  # client
//! s = socket(AF_INET, SOCK_DGRAM)           s = socket(AF_INET, SOCK_DGRAM)
//! s.bind(('127.0.0.1', 11111))              s.bind(('127.0.0.1', 0))
//! while True:                               print "using", s.getsockname()
//!     data, addr = s.recvfrom(1024)         s.sendto("MixedCaseString", server)
//!     print "Connection from", addr         data, addr = s.recvfrom(1024)
//!     s.sendto(data.upper(), addr)          print "received", data, "from", addr
//! ```
//!
//! The server answers one datagram here (on a free port) and ends.
//!
//! Run: `cargo run --example blocking_udp`

#[path = "common/report.rs"]
mod report;

use std::time::Duration;

use netloop::socket::{Family, SockType, Socket};

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let mut s = Socket::new(Family::Inet, SockType::Dgram, None)?;
    s.settimeout(Some(Duration::from_secs(5)))?;
    s.bind(("127.0.0.1", 0))?;
    let server_addr = s.getsockname()?.inet().expect("an IP address");

    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (data, addr) = s.recvfrom(1024)?;
        println!("Connection from {addr}");
        let reply = data.to_ascii_uppercase();
        match addr.inet() {
            Some(a) => s.sendto(&reply, a).map(|_| ()),
            None => Ok(()),
        }
    });

    let mut c = Socket::new(Family::Inet, SockType::Dgram, None)?;
    c.settimeout(Some(Duration::from_secs(5)))?;
    c.bind(("127.0.0.1", 0))?;
    println!("using {}", c.getsockname()?);
    c.sendto(b"MixedCaseString", server_addr)?;
    let (data, addr) = c.recvfrom(1024)?;
    println!("received {} from {addr}", String::from_utf8_lossy(&data));

    server.join().expect("server thread")
}
