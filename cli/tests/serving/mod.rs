//! Starting `netloop serve` for a test: on free loopback ports, its addresses read from its
//! log, killed if the test ends early.

// Each test binary that includes this uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::util::STEP;

pub const BIN: &str = env!("CARGO_BIN_EXE_netloop");

/// A `netloop serve` process, killed if the test ends early.
pub struct Server {
    pub child: Child,
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub framed: Vec<SocketAddr>,
    pub stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `netloop serve ARGS` and wait until it has logged every address it serves. Each
/// service not named in ARGS is put on a free loopback port, never on its default port.
pub fn serve(args: &[&str]) -> Server {
    let mut args: Vec<&str> = args.to_vec();
    for flag in ["--udp", "--tcp", "--framed"] {
        if !args.contains(&flag) {
            args.extend([flag, "127.0.0.1:0"]);
        }
    }
    let count = |flag: &str| args.iter().filter(|a| **a == flag).count();
    let (n_udp, n_tcp, n_framed) = (count("--udp"), count("--tcp"), count("--framed"));
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(&args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netloop serve");
    let rx = log_lines(&mut child);
    let mut server = Server {
        child,
        udp: Vec::new(),
        tcp: Vec::new(),
        framed: Vec::new(),
        stderr: rx,
    };
    while server.udp.len() < n_udp || server.tcp.len() < n_tcp || server.framed.len() < n_framed {
        let line = server
            .stderr
            .recv_timeout(STEP)
            .expect("serve did not report its addresses");
        let addr = |l: &str| {
            let after = l.split(" service on ").nth(1).unwrap();
            after
                .split(' ')
                .next()
                .unwrap()
                .parse::<SocketAddr>()
                .unwrap()
        };
        if line.contains("UDP upper-case service on ") {
            server.udp.push(addr(&line));
        } else if line.contains("TCP echo service on ") || line.contains("TLS echo service on ") {
            server.tcp.push(addr(&line));
        } else if line.contains("TCP framed echo service on ")
            || line.contains("TLS framed echo service on ")
        {
            server.framed.push(addr(&line));
        }
    }
    server
}

/// The lines `child` writes to its (piped) standard error, as they come.
pub fn log_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The log lines from `rx` up to the one that follows the services at start-up (or the
/// process's end, or STEP).
pub fn start_up_log(rx: &mpsc::Receiver<String>) -> Vec<String> {
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(STEP) {
        let done = line.contains("reactor thread(s)");
        log.push(line);
        if done {
            break;
        }
    }
    log
}
