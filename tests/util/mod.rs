//! Helpers shared by the integration tests: a reactor on its own thread, bounded clients.
#![allow(dead_code)]

pub mod privilege;
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netloop::reactor::{Handle, Handler, Reactor};

/// The longest any single blocking step of a test may wait before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// A reactor running `run()` on its own thread; stopped and joined on drop.
pub struct Running<H: Handler + Send + 'static> {
    pub handle: Handle<H>,
    thread: Option<JoinHandle<Reactor<H>>>,
}

impl<H: Handler + Send + 'static> Running<H> {
    pub fn start(mut reactor: Reactor<H>) -> Running<H> {
        let handle = reactor.handle();
        let thread = std::thread::spawn(move || {
            reactor.run().expect("reactor run");
            reactor
        });
        Running {
            handle,
            thread: Some(thread),
        }
    }

    /// Stop the reactor and get it back (to inspect its handler and stats).
    pub fn stop(mut self) -> Reactor<H> {
        self.handle.stop().expect("stop");
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("reactor thread panicked")
    }

    /// Wait for the reactor to stop by itself (a shutdown, a handler's `stop`) and get it back.
    pub fn join(mut self) -> Reactor<H> {
        let thread = self.thread.take().expect("running");
        let start = Instant::now();
        while !thread.is_finished() {
            assert!(start.elapsed() < STEP * 6, "the reactor did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().expect("reactor thread panicked")
    }

    /// Run `f` on the reactor thread and wait for its answer.
    pub fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut H, &mut netloop::Context<'_>) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle
            .run(move |h, cx| {
                let _ = tx.send(f(h, cx));
            })
            .expect("reactor gone");
        rx.recv_timeout(STEP).expect("reactor did not answer")
    }
}

impl<H: Handler + Send + 'static> Drop for Running<H> {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.handle.stop();
            let _ = t.join();
        }
    }
}

/// A TCP client with read and write timeouts of [`STEP`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, STEP).expect("connect");
    s.set_read_timeout(Some(STEP)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    s
}

/// Read exactly `n` bytes (failing the test on timeout or early EOF).
pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read_exact");
    buf
}

/// Read until end of file.
pub fn read_to_eof(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Deterministic pseudo-random bytes (xorshift), so failures can be reproduced.
pub fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Send `data` and read back the same number of bytes.
pub fn echo_round_trip(s: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    s.write_all(data).expect("write");
    read_n(s, data.len())
}

/// Poll `cond` every few milliseconds until it holds, at most `STEP`. Returns whether it held.
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < STEP {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// A log of events a test handler saw, shared with the test thread.
pub type Log<T> = Arc<Mutex<Vec<T>>>;

pub fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Loopback IPv6, if this machine has it.
pub fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "netloop-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
