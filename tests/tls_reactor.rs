//! TLS on the reactor's connections (feature `tls`), against Python's `ssl` module: netloop
//! serves and Python connects, netloop connects and Python serves, and a handshake that fails
//! on either side closes the connection with the reason. Certificates are made at test time.
#![cfg(feature = "tls")]

mod util;

use std::net::SocketAddr;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use netloop::reactor::{Config, ConnId, Context, Handler, ListenerId, PeerAddr, Reactor, Timeouts};
use netloop::socket::tls::{client_config, server_config};
use netloop::CloseReason;
use util::tls::{python_client, python_server, Pki};

/// An echo service that records what it saw; as a client, it sends `greeting` on connect.
#[derive(Default)]
struct Echo {
    greeting: Option<Vec<u8>>,
    got: Vec<u8>,
    closed: Vec<String>,
}

impl Handler for Echo {
    fn on_accept(&mut self, _: &mut Context<'_>, _: ListenerId, _: ConnId, _: &PeerAddr) {}

    fn on_connect(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        if let Some(g) = self.greeting.clone() {
            cx.write(conn, &g).unwrap();
        }
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        self.got.extend_from_slice(data);
        if self.greeting.is_none() {
            let _ = cx.write(conn, data);
        } else if self.got.len() >= self.greeting.as_ref().map_or(0, Vec::len) {
            cx.close(conn);
        }
        data.len()
    }

    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

fn turn_until(r: &mut Reactor<Echo>, done: impl Fn(&Echo) -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end && !done(r.handler()) {
        r.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

/// A reactor that connects with TLS to `localhost` on `port`, trusting the authority in
/// `ca`, sends `greeting` and turns until the connection has closed.
fn client_session(port: u16, ca: &std::path::Path, greeting: &[u8]) -> Reactor<Echo> {
    let config = client_config(Some(ca)).unwrap();
    let mut r = Reactor::new(Echo {
        greeting: Some(greeting.to_vec()),
        ..Echo::default()
    })
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    r.with_context(|_, cx| cx.connect_tls(addr, "localhost", config))
        .unwrap();
    turn_until(&mut r, |h| !h.closed.is_empty());
    r
}

/// A reactor of `handler` under `config`, serving TLS on a loopback port with `pki`'s
/// certificate; the port's address.
fn serve_tls<H: Handler>(pki: &Pki, handler: H, config: Config) -> (Reactor<H>, SocketAddr) {
    let tls = server_config(&pki.path("cert.pem"), &pki.path("key.pem")).unwrap();
    let mut r = Reactor::with_config(handler, config).unwrap();
    let l = r
        .with_context(|_, cx| cx.listen_tls("127.0.0.1:0".parse().unwrap(), tls))
        .unwrap();
    let addr = r.listener_addr(l).unwrap();
    (r, addr)
}

/// Turn while `child` (a Python peer) runs, for at most 30 s, then take its output.
fn turn_until_exit<H: Handler>(r: &mut Reactor<H>, mut child: Child) -> Output {
    let end = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < end {
        r.turn(Some(Duration::from_millis(10))).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn netloop_serves_tls_and_python_connects() {
    let pki = Pki::new("rx-serves", false);
    let (mut r, addr) = serve_tls(&pki, Echo::default(), Config::default());
    let port = addr.port();
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        msg = b"x" * 100000
        tls.sendall(msg)
        got = b""
        while len(got) < len(msg):
            got += tls.recv(65536)
        print("echoed" if got == msg else "differs", tls.version(), flush=True)
        tls.unwrap()
"#;
    let child = python_client(script, &pki.path("ca.pem"), port, &[]);
    turn_until(&mut r, |h| !h.closed.is_empty());
    let out = turn_until_exit(&mut r, child);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("echoed TLSv1.3"), "{text}");
    assert_eq!(r.handler().got.len(), 100_000);
}

#[test]
fn netloop_connects_with_tls_to_python() {
    let pki = Pki::new("rx-connects", false);
    let (child, port) = python_server(&pki, true);
    let r = client_session(port, &pki.path("ca.pem"), b"hello over tls");
    assert_eq!(r.handler().got, b"HELLO OVER TLS");
    // The close said close_notify: Python's unwrap saw a clean TLS shutdown.
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("closed cleanly"));
}

#[test]
fn a_reactor_client_that_trusts_another_authority_closes_with_the_reason() {
    let pki = Pki::new("rx-wrong-ca", false);
    let other = Pki::new("rx-other-ca", false);
    let (child, port) = python_server(&pki, true);
    let r = client_session(port, &other.path("ca.pem"), b"x");
    let reason = &r.handler().closed[0];
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    assert!(r.handler().got.is_empty());
    child.wait_with_output().unwrap();
}

#[test]
fn a_python_client_that_refuses_the_certificate_is_a_clear_close_reason() {
    let pki = Pki::new("rx-refused", false);
    let other = Pki::new("rx-refused-other", false);
    let (mut r, addr) = serve_tls(&pki, Echo::default(), Config::default());
    let port = addr.port();
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
        ctx.wrap_socket(raw, server_hostname="localhost")
except ssl.SSLError as e:
    print("refused:", e.reason, flush=True)
"#;
    let child = python_client(script, &other.path("ca.pem"), port, &[]);
    turn_until(&mut r, |h| !h.closed.is_empty());
    let reason = r.handler().closed[0].clone();
    assert!(
        reason.contains("TLS") && reason.contains("alert"),
        "{reason}"
    );
    // Python's own timeout (20 s) bounds this wait.
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused"));
}

/// Sends `size` bytes to each client it accepts, and counts `on_drained`.
struct Sender {
    size: usize,
    drained: usize,
    closed: Vec<String>,
}

impl Handler for Sender {
    fn on_accept(&mut self, cx: &mut Context<'_>, _: ListenerId, conn: ConnId, _: &PeerAddr) {
        cx.write(conn, &vec![b'z'; self.size]).unwrap();
    }

    fn on_drained(&mut self, cx: &mut Context<'_>, conn: ConnId) {
        self.drained += 1;
        cx.close(conn);
    }

    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

#[test]
fn a_large_reply_over_tls_drains_and_closes_with_close_notify() {
    // More than the socket buffers and rustls's own buffer hold: records wait in the session,
    // and the connection counts as drained (on_drained) only once they are out.
    let pki = Pki::new("rx-large", false);
    let sender = Sender {
        size: 8 << 20,
        drained: 0,
        closed: Vec::new(),
    };
    let (mut r, addr) = serve_tls(&pki, sender, Config::default());
    let port = addr.port();
    let script = r#"
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        got = 0
        while True:
            data = tls.recv(65536)
            if not data:
                break
            got += len(data)
        print(got, flush=True)
"#;
    let child = python_client(script, &pki.path("ca.pem"), port, &[]);
    let out = turn_until_exit(&mut r, child);
    // Python read to a clean end of stream (close_notify): every byte.
    let said = String::from_utf8_lossy(&out.stdout);
    let h = r.handler();
    let why = format!(
        "drained {}, closed {:?}, python: {}",
        h.drained,
        h.closed,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.trim(), (8 << 20).to_string(), "{why}");
    assert_eq!(r.handler().drained, 1);
}

/// At a connection's first byte, queues a large reply and aborts (`Context::abort`: the
/// queued output is discarded, no flush, no lingering).
#[derive(Default)]
struct Aborter {
    closed: Vec<String>,
}

impl Handler for Aborter {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, &vec![b'r'; 4 << 20]);
        cx.abort(conn);
        data.len()
    }

    fn on_close(&mut self, _: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        self.closed.push(reason.to_string());
    }
}

/// Python's ssl connects to `port`, optionally sends a byte, and says how the stream ended:
/// "clean end" (close_notify) or "cut off" (none). The reactor turns meanwhile.
fn how_python_sees_the_end<H: Handler>(
    r: &mut Reactor<H>,
    pki: &Pki,
    port: u16,
    send: bool,
) -> String {
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
    # An end without close_notify raises (Python would otherwise read it as b"").
    with ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls:
        if sys.argv[3] == "send":
            tls.sendall(b"x")
        try:
            while tls.recv(65536):
                pass
            print("clean end", flush=True)
        except (ssl.SSLEOFError, ConnectionResetError):
            print("cut off", flush=True)
"#;
    let mode = if send { "send" } else { "wait" };
    let child = python_client(script, &pki.path("ca.pem"), port, &[mode]);
    let out = turn_until_exit(r, child);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Answers a connection's first byte and closes it gracefully (`Context::close`).
struct Closer;

impl Handler for Closer {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let _ = cx.write(conn, b"bye");
        cx.close(conn);
        data.len()
    }
}

#[test]
fn close_notify_ends_an_orderly_close_only() {
    // The peer can tell a whole stream from a cut one: an orderly close (everything queued
    // written) ends with close_notify; an abort that discards output, or a timeout, without.
    let pki = Pki::new("rx-ends", false);

    let (mut r, addr) = serve_tls(&pki, Closer, Config::default());
    let port = addr.port();
    assert_eq!(
        how_python_sees_the_end(&mut r, &pki, port, true),
        "clean end"
    );

    let (mut r, addr) = serve_tls(&pki, Aborter::default(), Config::default());
    let port = addr.port();
    assert_eq!(how_python_sees_the_end(&mut r, &pki, port, true), "cut off");
    assert_eq!(r.handler().closed.len(), 1);

    let timeouts = Timeouts::idle(Duration::from_millis(300));
    let config = Config::default().timeouts(timeouts);
    let (mut r, addr) = serve_tls(&pki, Echo::default(), config);
    let port = addr.port();
    assert_eq!(
        how_python_sees_the_end(&mut r, &pki, port, false),
        "cut off"
    );
    assert!(
        r.handler().closed[0].contains("timed out"),
        "{:?}",
        r.handler().closed
    );
}

#[test]
fn a_handshake_that_never_finishes_times_out_and_one_that_did_is_not_timed() {
    let pki = Pki::new("rx-handshake", false);
    let limit = Duration::from_millis(300);
    let config = Config::default().timeouts(Timeouts::NONE.with_handshake(limit));
    let (mut r, addr) = serve_tls(&pki, Echo::default(), config);
    // A peer that connects and says nothing: its handshake never starts.
    let _silent = std::net::TcpStream::connect(addr).unwrap();
    turn_until(&mut r, |h| !h.closed.is_empty());
    assert_eq!(r.handler().closed, ["timed out (handshake timeout)"]);
    assert_eq!(r.stats().timeouts_handshake, 1);
    // A Python client that finishes its handshake, then waits three times the limit before
    // it sends: the handshake's clock stopped when the handshake was over.
    let script = r#"
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        time.sleep(0.9)
        tls.sendall(b"late")
        print("echoed" if tls.recv(16) == b"late" else "differs", flush=True)
        tls.unwrap()
"#;
    let child = python_client(script, &pki.path("ca.pem"), addr.port(), &[]);
    let out = turn_until_exit(&mut r, child);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("echoed"), "{text}");
    assert_eq!(r.stats().timeouts_handshake, 1, "{:?}", r.handler().closed);
}
