//! The course's TCP server and client, on the blocking facade, line for line:
//!
//! ```python
//! # server                              # client
//! s = socket(AF_INET, SOCK_STREAM)      s = socket(AF_INET, SOCK_STREAM)
//! s.bind((HOST, PORT))                  s.connect((HOST, PORT))
//! s.listen(1)                           s.send('Hello, world')
//! conn, addr = s.accept()               data = s.recv(1024)
//! print 'Connected by', addr            s.close()
//! while 1:                              print 'Received', repr(data)
//!     data = conn.recv(1024)
//!     if not data: break
//!     conn.send(data)
//! conn.close()
//! ```
//!
//! Both run here (the server on a thread, on a free port) with a 5-second timeout, as
//! `settimeout(5)` would give them.
//!
//! Run: `cargo run --example blocking_tcp`

#[path = "common/report.rs"]
mod report;

use std::time::Duration;

use netloop::socket::{Family, SockType, Socket};

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> std::io::Result<()> {
    let timeout = Some(Duration::from_secs(5));

    let mut s = Socket::new(Family::Inet, SockType::Stream, None)?;
    s.settimeout(timeout)?;
    s.bind(("127.0.0.1", 0))?;
    s.listen(1)?;
    let port = s.getsockname()?.inet().map_or(0, |a| a.port());

    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut conn, addr) = s.accept()?;
        conn.settimeout(timeout)?;
        println!("Connected by {addr}");
        loop {
            let data = conn.recv(1024)?;
            if data.is_empty() {
                break;
            }
            conn.sendall(&data)?;
        }
        conn.close();
        Ok(())
    });

    let mut c = Socket::new(Family::Inet, SockType::Stream, None)?;
    c.settimeout(timeout)?;
    c.connect(("localhost", port))?;
    c.sendall(b"Hello, world")?;
    let data = c.recv(1024)?;
    c.close();
    println!("Received {:?}", String::from_utf8_lossy(&data));

    server.join().expect("server thread")
}
