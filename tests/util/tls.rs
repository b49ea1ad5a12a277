//! TLS test helpers: certificates made at test time (rcgen), and Python's `ssl` module as the
//! peer, a TLS stack not written here.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// A certificate authority, and a server certificate it signed for `localhost` and
/// 127.0.0.1, as PEM files in a directory of their own.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Make the files; `expired`: the server's certificate ran out in 2001.
    pub fn new(name: &str, expired: bool) -> Pki {
        let dir = std::env::temp_dir().join(format!("netloop-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each authority a name of its own: a client that trusts another one finds no issuer.
        let ca_name = format!("netloop test CA {name}");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name.as_str());
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        Pki { dir }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Python's `ssl` echo server on 127.0.0.1, with `pki`'s certificate (one connection: each
/// message back, upper-cased if `upper`), and its port. It prints "handshake failed: ..."
/// or, after the client's `close_notify`, "closed cleanly".
pub fn python_server(pki: &Pki, upper: bool) -> (Child, u16) {
    let script = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
srv.settimeout(20)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.settimeout(20)
try:
    tls = ctx.wrap_socket(conn, server_side=True)
except (ssl.SSLError, OSError) as e:
    print("handshake failed:", e, flush=True)
    sys.exit(0)
while True:
    data = tls.recv(4096)
    if not data:
        break
    tls.sendall(data.upper() if sys.argv[3] == "upper" else data)
tls.unwrap().close()
print("closed cleanly", flush=True)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(pki.path("cert.pem"))
        .arg(pki.path("key.pem"))
        .arg(if upper { "upper" } else { "echo" })
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = child.stdout.as_mut().unwrap();
    BufReader::new(out).read_line(&mut line).unwrap();
    (child, line.trim().parse().expect("a port"))
}

/// A Python client that sends "from python" over TLS and prints the reply and the version.
pub const HELLO_CLIENT: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"from python")
        print(tls.recv(100).decode(), tls.version(), flush=True)
"#;

/// Python's `ssl` as a client: `script` run with the CA file `ca` and `port` as its first
/// arguments, then `extra`; its standard output and error piped.
pub fn python_client(script: &str, ca: &Path, port: u16, extra: &[&str]) -> Child {
    Command::new("python3")
        .args(["-c", script])
        .arg(ca)
        .arg(port.to_string())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3")
}
