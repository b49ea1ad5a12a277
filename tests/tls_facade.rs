//! TLS on the blocking facade (`socket::tls`), against Python's `ssl` module, a TLS stack not
//! written here: Python serves and netloop connects, netloop serves and Python connects, and
//! a client that trusts another authority, or meets an expired certificate, fails with the
//! reason. The certificates are made at test time (rcgen), in a temporary directory.
#![cfg(feature = "tls")]

mod util;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use netloop::socket::tls::{client_config, server_config, TlsStream};
use netloop::socket::{Family, SockType, Socket};
use util::tls::{python_client, python_server, Pki, HELLO_CLIENT};

fn connect(port: u16) -> Socket {
    let mut s = Socket::new(Family::Inet, SockType::Stream, None).unwrap();
    s.settimeout(Some(Duration::from_secs(10))).unwrap();
    s.connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    s
}

fn rest_of(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn python_serves_and_netloop_connects() {
    let pki = Pki::new("py-serves", false);
    let (child, port) = python_server(&pki, true);
    let config = client_config(Some(&pki.path("ca.pem"))).unwrap();
    let mut tls = TlsStream::connect(connect(port), "localhost", config).unwrap();
    assert!(tls.protocol_version().is_some());
    tls.sendall(b"hello over tls").unwrap();
    let mut got = Vec::new();
    while got.len() < 14 {
        let part = tls.recv(4096).unwrap();
        assert!(!part.is_empty(), "the server closed early");
        got.extend(part);
    }
    assert_eq!(got, b"HELLO OVER TLS");
    // close_notify: Python's `unwrap` sees a clean TLS shutdown.
    tls.close().unwrap();
    assert!(rest_of(child).contains("closed cleanly"));
}

#[test]
fn an_ip_address_is_a_server_name_too() {
    let pki = Pki::new("py-ip", false);
    let (child, port) = python_server(&pki, true);
    let config = client_config(Some(&pki.path("ca.pem"))).unwrap();
    let mut tls = TlsStream::connect(connect(port), "127.0.0.1", config).unwrap();
    tls.sendall(b"ip").unwrap();
    assert_eq!(tls.recv(16).unwrap(), b"IP");
    tls.close().unwrap();
    rest_of(child);
}

#[test]
fn a_client_that_trusts_another_authority_fails_with_unknown_issuer() {
    let pki = Pki::new("py-wrong-ca", false);
    let other = Pki::new("other-ca", false);
    let (child, port) = python_server(&pki, true);
    let config = client_config(Some(&other.path("ca.pem"))).unwrap();
    let e = TlsStream::connect(connect(port), "localhost", config).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("TLS handshake with localhost failed"), "{msg}");
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    assert!(rest_of(child).contains("handshake failed"));
}

#[test]
fn an_expired_certificate_fails_with_the_reason() {
    let pki = Pki::new("py-expired", true);
    let (child, port) = python_server(&pki, true);
    let config = client_config(Some(&pki.path("ca.pem"))).unwrap();
    let e = TlsStream::connect(connect(port), "localhost", config).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("expired"), "{msg}");
    rest_of(child);
}

#[test]
fn a_name_the_certificate_does_not_carry_fails() {
    let pki = Pki::new("py-name", false);
    let (child, port) = python_server(&pki, true);
    let config = client_config(Some(&pki.path("ca.pem"))).unwrap();
    let e = TlsStream::connect(connect(port), "example.invalid", config).unwrap_err();
    assert!(e.to_string().contains("not valid for name"), "{e}");
    rest_of(child);
}

#[test]
fn netloop_serves_and_python_connects() {
    let pki = Pki::new("nl-serves", false);
    let listener = Socket::new(Family::Inet, SockType::Stream, None).unwrap();
    listener
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap();
    listener.listen(1).unwrap();
    let port = netloop::socket::inet(&listener.getsockname().unwrap())
        .unwrap()
        .port();
    let config = server_config(&pki.path("cert.pem"), &pki.path("key.pem")).unwrap();
    let child = python_client(HELLO_CLIENT, &pki.path("ca.pem"), port, &[]);
    let (mut sock, _) = listener.accept().unwrap();
    sock.settimeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = TlsStream::accept(sock, config).unwrap();
    let got = tls.recv(100).unwrap();
    assert_eq!(got, b"from python");
    tls.write_all(b"FROM NETLOOP").unwrap();
    tls.flush().unwrap();
    let out = rest_of(child);
    assert!(out.starts_with("FROM NETLOOP TLSv1.3"), "{out}");
    let _ = tls.close();
}

#[test]
fn bad_files_are_named_in_the_error() {
    let missing = Path::new("/nonexistent/ca.pem");
    let e = client_config(Some(missing)).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let pki = Pki::new("bad-files", false);
    // A key file given as the certificate: no certificate in it.
    let e = server_config(&pki.path("key.pem"), &pki.path("key.pem")).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    // Another key than the certificate's.
    let other = Pki::new("bad-files-other", false);
    let e = server_config(&pki.path("cert.pem"), &other.path("key.pem")).unwrap_err();
    assert!(e.to_string().contains("cert.pem"), "{e}");
}
