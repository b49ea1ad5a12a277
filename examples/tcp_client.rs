//! The course's TCP client, on the reactor:
//!
//! ```python
//! s = socket(AF_INET, SOCK_STREAM)
//! s.connect((HOST, PORT))
//! s.send('Hello, world')
//! data = s.recv(1024)
//! s.close()
//! print 'Received', data
//! ```
//!
//! Run: `cargo run --example tcp_client [SERVER] [MESSAGE]`. Gives up after 5 seconds.

#[path = "common/report.rs"]
mod report;

use std::net::SocketAddr;
use std::time::Duration;

use netloop::reactor::Timeouts;
use netloop::reactor::{Config, ConnId, Context, Handler, Reactor};
use netloop::CloseReason;

struct Client {
    want: usize,
    received: Vec<u8>,
    failure: Option<String>,
}

impl Handler for Client {
    fn on_connect(&mut self, _: &mut Context<'_>, conn: ConnId) {
        println!("{conn}: connected");
    }

    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        self.received.extend_from_slice(data);
        if self.received.len() >= self.want {
            cx.close(conn); // s.close()
        }
        data.len()
    }

    fn on_close(&mut self, cx: &mut Context<'_>, _: ConnId, reason: &CloseReason) {
        if !reason.is_clean() {
            self.failure = Some(reason.to_string());
        }
        cx.stop();
    }
}

fn main() -> std::process::ExitCode {
    report::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9999".into())
        .parse()?;
    let message = args.next().unwrap_or_else(|| "Hello, world".into());

    // settimeout(5): give up if nothing moves for 5 seconds.
    let config = Config::default().timeouts(Timeouts::idle(Duration::from_secs(5)));
    let client = Client {
        want: message.len(),
        received: Vec::new(),
        failure: None,
    };
    let mut reactor = Reactor::with_config(client, config)?;
    reactor.with_context(|_, cx| -> std::io::Result<()> {
        let conn = cx.connect(server)?; // s.connect((HOST, PORT))
        cx.write(conn, message.as_bytes()) // s.send(...): sent once connected
    })?;
    reactor.run()?;
    let client = reactor.handler();
    if let Some(f) = &client.failure {
        return Err(format!("{server}: {f}").into());
    }
    println!("Received {}", String::from_utf8_lossy(&client.received));
    Ok(())
}
