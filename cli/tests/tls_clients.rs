//! `tcp-client --tls` and `framed-client --tls` against Python's `ssl` module (a TLS stack not
//! written here) serving an echo, with a certificate made at test time; the reason when the
//! client trusts another authority, or the certificate has expired; and `netloop serve
//! --tls-cert --tls-key`, which Python's `ssl` and netloop's own clients talk to.

mod serving;
#[path = "../../tests/util/mod.rs"]
mod util;

use std::process::{Child, Command, Output};

use util::tls::{python_client, python_server, Pki, HELLO_CLIENT};

const BIN: &str = env!("CARGO_BIN_EXE_netloop");

fn netloop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run netloop")
}

/// `netloop ARGS --server SERVER --tls --ca CA` (ARGS: the client and its messages).
fn tls_client(args: &[&str], server: &str, ca: &str) -> Output {
    let mut all = args.to_vec();
    all.extend(["--server", server, "--tls", "--ca", ca]);
    netloop(&all)
}

fn python_output(child: Child) -> String {
    let out = child.wait_with_output().expect("python");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn tcp_client_speaks_tls_to_python() {
    let pki = Pki::new("cli-tcp", false);
    let (child, port) = python_server(&pki, false);
    let server = format!("localhost:{port}");
    let ca = pki.path("ca.pem");
    let out = tls_client(&["tcp-client", "Hello, TLS"], &server, ca.to_str().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("received Hello, TLS from"),
        "{}",
        text(&out)
    );
    // The client's end of input became close_notify: Python saw a clean TLS shutdown.
    assert!(python_output(child).contains("closed cleanly"));
}

#[test]
fn framed_client_speaks_tls_to_python() {
    let pki = Pki::new("cli-framed", false);
    let (child, port) = python_server(&pki, false);
    let server = format!("127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    let out = tls_client(
        &["framed-client", "one", "two"],
        &server,
        ca.to_str().unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("received one from") && t.contains("received two from"),
        "{t}"
    );
    python_output(child);
}

#[test]
fn a_client_that_trusts_another_authority_fails_and_says_why() {
    let pki = Pki::new("cli-wrong-ca", false);
    let other = Pki::new("cli-other-ca", false);
    let (child, port) = python_server(&pki, false);
    let server = format!("localhost:{port}");
    let ca = other.path("ca.pem");
    let out = tls_client(&["tcp-client", "x"], &server, ca.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("UnknownIssuer"), "{}", text(&out));
    python_output(child);
}

#[test]
fn an_expired_certificate_fails_and_says_why() {
    let pki = Pki::new("cli-expired", true);
    let (child, port) = python_server(&pki, false);
    let server = format!("localhost:{port}");
    let ca = pki.path("ca.pem");
    let out = tls_client(&["framed-client", "x"], &server, ca.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("expired"), "{}", text(&out));
    python_output(child);
}

#[test]
fn ca_without_tls_is_a_usage_error() {
    let out = netloop(&["tcp-client", "x", "--ca", "/nonexistent.pem"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn three_mebibytes_through_tls_come_back_whole() {
    // More than the socket buffers hold: the relay must carry both ways at once.
    let pki = Pki::new("cli-big", false);
    let (child, port) = python_server(&pki, false);
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let input = pki.path("input.bin");
    std::fs::write(&input, &data).unwrap();
    let server = format!("localhost:{port}");
    let ca = pki.path("ca.pem");
    let out = netloop(&[
        "tcp-client",
        "--server",
        &server,
        "--tls",
        "--ca",
        ca.to_str().unwrap(),
        "--file",
        input.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "{} bytes back", out.stdout.len());
    python_output(child);
}

#[test]
fn serve_with_tls_answers_python_and_netloops_clients() {
    let pki = Pki::new("cli-serve", false);
    let (cert, key, ca) = (
        pki.path("cert.pem"),
        pki.path("key.pem"),
        pki.path("ca.pem"),
    );
    let server = serving::serve(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let (tcp, framed) = (server.tcp[0], server.framed[0]);
    // Python's ssl, on the stream echo.
    let out = python_client(HELLO_CLIENT, &ca, tcp.port(), &[])
        .wait_with_output()
        .expect("python3");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("from python TLSv1.3"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // netloop's clients, on both echoes (`localhost`: the certificate's name).
    let ca = ca.to_str().unwrap();
    let at = |a: std::net::SocketAddr| format!("localhost:{}", a.port());
    let out = tls_client(&["tcp-client", "plain text, encrypted"], &at(tcp), ca);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("received plain text, encrypted from"),
        "{}",
        text(&out)
    );
    let out = tls_client(&["framed-client", "one", "two"], &at(framed), ca);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("received two from"), "{}", text(&out));
    // A plain client on the TLS port gets no echo: the server closes with a reason.
    let out = netloop(&[
        "tcp-client",
        "not tls",
        "--server",
        &at(tcp),
        "--timeout",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
