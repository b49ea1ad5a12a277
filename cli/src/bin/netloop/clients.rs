//! The client commands' shared flags, and running them: where the message comes from and
//! where the reply goes.

use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use netloop::socket::Family;
use netloop_cli::client::{self, ClientOptions, FrameSplit, Input, Output};

/// The flags every IP client takes.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// The server: HOST:PORT, with a host name or an address ([::1]:9999), and a port
    /// number or a service name (default: the course's address of the service).
    #[arg(long, value_name = "ADDR", value_parser = super::parse_addr)]
    server: Option<String>,
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "v6")]
    v4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    v6: bool,
    /// Send this file instead of standard input when no MESSAGE is given.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Give up after SECS seconds without progress.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = super::parse_secs)]
    timeout: Duration,
}

/// The TLS flags of the stream clients.
#[derive(Args, Debug, Default)]
pub struct TlsArgs {
    /// Speak TLS: the server's certificate must be signed by a trusted authority and name
    /// the host in --server.
    #[arg(long)]
    tls: bool,
    /// Trust the authorities in this PEM file (default: the system's).
    #[arg(long, value_name = "PEM", requires = "tls")]
    ca: Option<PathBuf>,
}

impl ClientArgs {
    fn options(&self, tls: &TlsArgs) -> ClientOptions {
        ClientOptions {
            family: match (self.v4, self.v6) {
                (true, _) => Some(Family::Inet),
                (_, true) => Some(Family::Inet6),
                _ => None,
            },
            timeout: self.timeout,
            tls: tls.tls.then(|| tls.ca.clone()),
        }
    }
}

/// The message: the arguments as text, else the file's or standard input's bytes.
pub fn input(messages: Vec<String>, file: Option<&PathBuf>) -> Result<Input, String> {
    if !messages.is_empty() {
        return Ok(Input::Text(messages));
    }
    let mut bytes = Vec::new();
    match file {
        Some(path) => {
            bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        None => {
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
        }
    }
    Ok(Input::Bytes(bytes))
}

/// Run `f` with report lines on standard output for text input; for byte input the reply
/// goes raw to standard output and the report to standard error.
fn with_output(
    message: &Input,
    f: impl FnOnce(Output<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let (mut stdout, mut stderr) = (io::stdout().lock(), io::stderr().lock());
    let result = match message {
        Input::Text(_) => {
            let mut sink = io::sink();
            f(Output {
                report: &mut stdout,
                data: &mut sink,
            })
        }
        Input::Bytes(_) => f(Output {
            report: &mut stderr,
            data: &mut stdout,
        }),
    };
    let _ = io::Write::flush(&mut stdout);
    result
}

/// Which client.
pub enum Which {
    Udp,
    Tcp,
    Framed { whole: bool, max_frame: usize },
}

/// Run an IP client.
pub fn run(
    which: Which,
    messages: Vec<String>,
    args: &ClientArgs,
    tls: &TlsArgs,
) -> Result<(), String> {
    let message = input(messages, args.file.as_ref())?;
    let opts = args.options(tls);
    let default = match which {
        Which::Udp => "127.0.0.1:11111",
        Which::Tcp => "127.0.0.1:9999",
        Which::Framed { .. } => "127.0.0.1:9998",
    };
    let server = args.server.as_deref().unwrap_or(default);
    with_output(&message, |out| match which {
        Which::Udp => client::udp_client(out, &message, server, &opts),
        Which::Tcp => client::tcp_client(out, &message, server, &opts),
        Which::Framed { whole, max_frame } => {
            let split = if whole {
                FrameSplit::Whole
            } else {
                FrameSplit::Lines
            };
            client::framed_client(out, &message, split, server, max_frame, &opts)
        }
    })
}

/// Run the Unix client.
pub fn run_unix(
    messages: Vec<String>,
    server: &netloop::addr::UnixAddr,
    whole: bool,
    file: Option<&PathBuf>,
    max_frame: usize,
    timeout: Duration,
) -> Result<(), String> {
    let message = input(messages, file)?;
    let split = if whole {
        FrameSplit::Whole
    } else {
        FrameSplit::Lines
    };
    with_output(&message, |out| {
        client::unix_client(out, &message, split, server, max_frame, timeout)
    })
}
