//! netloop's helpers against Python's `socket` module on this machine, for the same inputs:
//! the semantics are shown to be the same, not assumed. Python runs once per test with every
//! input on its standard input and prints one result per line; each line is compared.
//! (Skipped, saying so, where `python3` cannot run.)

use std::io::Write;
use std::process::{Command, Stdio};

use netloop::names;
use netloop::socket::Family;

/// Run `script` with `inputs` (one per line, escaped with `repr`-free `\x` escapes by the
/// script) and return its output lines.
fn python(script: &str, inputs: &[String]) -> Option<Vec<String>> {
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: python3 not runnable: {e}");
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    for i in inputs {
        // Inputs are hex-encoded so that any byte (spaces, tabs) survives the pipe.
        writeln!(stdin, "{}", hex(i.as_bytes())).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect(),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every 1- and 2-part address of interesting pieces, some 3- and 4-part ones, and endings.
fn aton_inputs() -> Vec<String> {
    let pieces = [
        "0",
        "1",
        "127",
        "255",
        "256",
        "0x7f",
        "0X7F",
        "0x",
        "0xg",
        "0177",
        "08",
        "09",
        "00",
        "4294967295",
        "4294967296",
        "65535",
        "65536",
        "16777215",
        "16777216",
        "0x100",
        "1e3",
        "",
        " 1",
        "-1",
        "0xffffffff",
        "077777777777",
        "99999999999999999999",
    ];
    let mut out: Vec<String> = Vec::new();
    for a in pieces {
        out.push(a.to_string());
        for b in pieces {
            out.push(format!("{a}.{b}"));
        }
    }
    for a in ["1", "255", "0x10", "010", "256"] {
        for b in ["2", "0xff", "0377", "65535", "65536"] {
            out.push(format!("{a}.{b}.3"));
            out.push(format!("{a}.2.{b}"));
            out.push(format!("{a}.{b}.3.4"));
            out.push(format!("1.2.{a}.{b}"));
        }
    }
    for tail in [" junk", "\tx", "\n", "x", ".", "..", " ", "\u{b}"] {
        out.push(format!("1.2.3.4{tail}"));
        out.push(format!("127.1{tail}"));
    }
    out.push("1.2.3.4.5".into());
    out
}

#[test]
fn inet_aton_agrees_with_python_on_every_form() {
    let inputs = aton_inputs();
    let script = r#"
import socket, sys
for line in sys.stdin:
    s = bytes.fromhex(line.strip()).decode()
    try:
        print(socket.inet_aton(s).hex())
    except OSError:
        print("ERR")
"#;
    let Some(expected) = python(script, &inputs) else {
        return;
    };
    assert_eq!(expected.len(), inputs.len());
    let mut mismatches = Vec::new();
    for (input, want) in inputs.iter().zip(&expected) {
        let got = match names::inet_aton(input) {
            Ok(b) => hex(&b),
            Err(_) => "ERR".to_string(),
        };
        if &got != want {
            mismatches.push(format!("{input:?}: python {want}, netloop {got}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        inputs.len(),
        mismatches.join("\n")
    );
    // The test has teeth: both valid and invalid forms were among the inputs.
    assert!(expected.iter().filter(|e| *e == "ERR").count() > 100);
    assert!(expected.iter().filter(|e| *e != "ERR").count() > 100);
}

#[test]
fn inet_pton_and_ntop_agree_with_python_for_ipv6() {
    let inputs: Vec<String> = [
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1::8",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:1.2.3.4",
        "fe80::1%lo",
        ":1::",
        "1:::2",
        "12345::",
        "g::",
        "::ffff:1.2.3",
        "1:2:3:4:5:6:7:8:9",
        "",
        "::ffff:01.2.3.4",
        "0:0:0:0:0:0:0:0",
        "1:0:0:2:0:0:0:3",
        "A:B::C",
        "1:0:0:0:1:0:0:0",
        "0:0:1::",
        "::0.0.0.1",
        "::ffff:0:0",
        "2001:db8::ff00:42:8329",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "1:2:3:4:5::7:8",
        "::1:2:3:4:5:6:7",
        "1.2.3.4",
        ":",
        "1:2:3:4:5:6:7:8::",
        "::ffff:256.1.1.1",
        "0::0:0:1",
        "fe80::",
        "::192.168.0.1",
        "64:ff9b::1.2.3.4",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let script = r#"
import socket, sys
for line in sys.stdin:
    s = bytes.fromhex(line.strip()).decode()
    try:
        b = socket.inet_pton(socket.AF_INET6, s)
        print(b.hex() + " " + socket.inet_ntop(socket.AF_INET6, b))
    except OSError:
        print("ERR")
"#;
    let Some(expected) = python(script, &inputs) else {
        return;
    };
    for (input, want) in inputs.iter().zip(&expected) {
        let got = match names::inet_pton(Family::Inet6, input) {
            Ok(b) => format!(
                "{} {}",
                hex(&b),
                names::inet_ntop(Family::Inet6, &b).unwrap()
            ),
            Err(_) => "ERR".to_string(),
        };
        assert_eq!(&got, want, "{input:?}");
    }
}

#[test]
fn name_lookups_agree_with_python() {
    let script = r#"
import socket
def show(f):
    try:
        return repr(f())
    except OSError as e:
        return "ERR"
print(show(lambda: socket.gethostbyname_ex('localhost')))
print(show(lambda: socket.gethostbyname_ex('127.0.0.1')))
print(show(lambda: socket.gethostbyname('localhost')))
for name, proto in [('ftp', None), ('telnet', None), ('http', 'tcp'), ('domain', 'udp'), ('ssh', 'tcp'), ('no-such-service', None)]:
    print(show(lambda: socket.getservbyname(name, proto) if proto else socket.getservbyname(name)))
for port in [21, 23, 80, 53, 1]:
    print(show(lambda: socket.getservbyport(port)))
for name in ['icmp', 'tcp', 'udp', 'ipv6-icmp', 'no-such-proto']:
    print(show(lambda: socket.getprotobyname(name)))
print(repr(socket.gethostname()))
print(repr(socket.getfqdn()))
print(repr(socket.getfqdn('localhost')))
print(repr(socket.getfqdn('127.0.0.1')))
print(show(lambda: socket.gethostbyaddr('127.0.0.1')))
"#;
    let Some(expected) = python(script, &[]) else {
        return;
    };
    let show_entry = |r: Result<names::HostEntry, names::ResolveError>| match r {
        Ok(e) => format!(
            "({:?}, [{}], [{}])",
            e.name,
            e.aliases
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            e.addrs
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .replace('"', "'"),
        Err(_) => "ERR".to_string(),
    };
    let show_num =
        |r: Result<i64, names::ResolveError>| r.map_or("ERR".to_string(), |n| n.to_string());
    let show_str =
        |r: Result<String, names::ResolveError>| r.map_or("ERR".to_string(), |s| format!("'{s}'"));
    let mut got = vec![
        show_entry(names::gethostbyname_ex("localhost")),
        show_entry(names::gethostbyname_ex("127.0.0.1")),
        names::gethostbyname("localhost").map_or("ERR".into(), |a| format!("'{a}'")),
    ];
    for (name, proto) in [
        ("ftp", None),
        ("telnet", None),
        ("http", Some("tcp")),
        ("domain", Some("udp")),
        ("ssh", Some("tcp")),
        ("no-such-service", None),
    ] {
        got.push(show_num(names::getservbyname(name, proto).map(i64::from)));
    }
    for port in [21, 23, 80, 53, 1] {
        got.push(show_str(names::getservbyport(port, None)));
    }
    for name in ["icmp", "tcp", "udp", "ipv6-icmp", "no-such-proto"] {
        got.push(show_num(names::getprotobyname(name).map(i64::from)));
    }
    got.push(format!("'{}'", names::gethostname().unwrap()));
    got.push(format!("'{}'", names::getfqdn("")));
    got.push(format!("'{}'", names::getfqdn("localhost")));
    got.push(format!("'{}'", names::getfqdn("127.0.0.1")));
    got.push(show_entry(names::gethostbyaddr("127.0.0.1")));
    assert_eq!(got, expected);
}
