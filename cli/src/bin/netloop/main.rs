//! The `netloop` command: the course's servers on one reactor, and their clients.
//!
//! ```text
//! netloop serve [--udp ADDR]... [--tcp ADDR]... [--framed ADDR]... [--max-frame BYTES] [--timeout SECS]
//!               [--frame-timeout SECS] [--threads N] [--pin] [--max-buffered BYTES] [--max-conns N]
//!               [--grace SECS] [--stats SECS]
//!               [--unix PATH]... [--tls-cert PEM --tls-key PEM]
//! netloop udp-client [MESSAGE] [--server HOST:PORT] [-4|-6] [--file PATH] [--timeout SECS]
//! netloop tcp-client [MESSAGE] [--server HOST:PORT] [-4|-6] [--file PATH] [--timeout SECS] [--tls [--ca PEM]]
//! netloop framed-client [MESSAGE...] [--whole] [--server HOST:PORT] [-4|-6] [--file PATH] [--max-frame BYTES] [--timeout SECS]
//!                       [--tls [--ca PEM]]
//! netloop unix-client [MESSAGE...] --server PATH|@NAME [--whole] [--file PATH] [--max-frame BYTES] [--timeout SECS]
//! netloop load [--addr HOST:PORT] [--proto framed|stream|udp] [--conns N] [--pipeline N] [--size BYTES]
//!              [--duration SECS] [--warmup SECS] [--rate PER_SEC] [--sources N] [--spin] [--server-pid PID] [--json]
//! netloop resolve NAME | --reverse ADDR
//! netloop services PORT|NAME
//! netloop ping HOST [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-4|-6] [--mode auto|raw|dgram]
//! ```
//!
//! Errors are printed as one line naming the problem. The exit status is the same for every
//! command ([`EXIT_STATUS`], also in `--help` and the README).

// Nothing newer than the declared `rust-version` (see `.ci/msrv.py`).
#![warn(clippy::incompatible_msrv)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

mod clients;
mod load;
mod lookup;
mod ping;
mod report;

use clients::ClientArgs;
use report::{log_spread, report_stats, StatsFormat};

use clap::{Args, Parser, Subcommand};
use netloop::framing::DEFAULT_MAX_FRAME;
use netloop::server::Server;
use netloop::server::Signals;
use netloop_cli::services::{self, CourseConfig};

/// The exit status of every `netloop` command: `--help` prints it, and the README holds the
/// same table.
const EXIT_STATUS: &str = "Exit status (every command):
  0  success; for serve, also a shutdown asked for by a signal, whether or not the grace
     cut connections off (the log says how many finished and how many were cut off)
  1  the command failed at run time (an address in use, no server answering, a mismatch,
     nothing measured, no ping reply)
  2  usage error (an unknown flag, a malformed argument)";

#[derive(Parser, Debug)]
#[command(
    name = "netloop",
    version,
    about = "An event-loop reactor on raw readiness APIs, and the socket course's servers and clients",
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the servers until Ctrl-C or SIGTERM (one reactor, or one per --threads).
    ///
    /// With no address flags: UDP upper-casing on 127.0.0.1:11111, TCP stream echo on
    /// 127.0.0.1:9999 and TCP framed echo on 127.0.0.1:9998. Naming any service (--udp,
    /// --tcp, --framed or --unix) serves only the services named. An address is HOST:PORT:
    /// a host name binds every address it resolves to; IPv6 is written [::1]:9999.
    ///
    /// Framed echo: each frame is a 4-byte big-endian length N, then N payload bytes; every
    /// frame is sent back unchanged and in order. A frame over --max-frame closes that
    /// connection (logged with the reason); other connections carry on.
    #[command(
        after_help = "Examples:\n  netloop serve\n  netloop serve --tcp 127.0.0.1:9999 --tcp [::1]:9999 --timeout 30\n  netloop serve --framed 127.0.0.1:7000 --max-frame 65536\n  netloop serve --threads 2 --stats 10 --max-conns 10000\n  netloop serve --unix /tmp/netloop.sock --unix @netloop   (a file, and an abstract name)\n  netloop serve --tcp [::]:9999 --framed [::]:9998   (each one socket for IPv4 and IPv6)\n  RUST_LOG=debug netloop serve --udp 0.0.0.0:11111"
    )]
    Serve(ServeOpts),
    /// Send MESSAGE in one datagram and print the reply (the course's UDP client). Without
    /// MESSAGE, the datagram is standard input (or --file), and the reply is written raw to
    /// standard output.
    #[command(
        after_help = "Examples:\n  netloop udp-client MixedCaseString --server 127.0.0.1:11111\n  netloop udp-client hello --server localhost:11111 -6\n  printf 'binary\\0data' | netloop udp-client --server 127.0.0.1:11111 > reply"
    )]
    UdpClient {
        /// The message to send (none: standard input, or --file).
        message: Option<String>,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Send MESSAGE over TCP and print what comes back (the course's TCP client). Without
    /// MESSAGE, standard input (or --file) is sent, any size, and the echo is written raw to
    /// standard output.
    #[command(
        after_help = "Examples:\n  netloop tcp-client 'Hello, world' --server 127.0.0.1:9999\n  netloop tcp-client --server localhost:9999 < file.bin > echo.bin"
    )]
    TcpClient {
        /// The message to send (none: standard input, or --file).
        message: Option<String>,
        #[command(flatten)]
        common: ClientArgs,
        #[command(flatten)]
        tls: clients::TlsArgs,
    },
    /// Send each MESSAGE as one frame and print each echoed frame. Without MESSAGE, standard
    /// input (or --file) is sent one frame per line, or as one frame with --whole, and the
    /// echoed frames are written to standard output.
    #[command(
        after_help = "Examples:\n  netloop framed-client Hi! \"Hope you're well\" --server 127.0.0.1:9998\n  netloop framed-client --server localhost:9998 < lines.txt\n  netloop framed-client --whole --file image.png --server 127.0.0.1:9998 > copy.png"
    )]
    FramedClient {
        /// The messages: one frame each, sent back to back (none: standard input or --file).
        messages: Vec<String>,
        /// Byte input as one frame instead of one per line.
        #[arg(long)]
        whole: bool,
        /// Largest frame accepted back, counted on the wire.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        #[command(flatten)]
        common: ClientArgs,
        #[command(flatten)]
        tls: clients::TlsArgs,
    },
    /// Like framed-client, over a Unix stream socket (netloop serve --unix PATH).
    #[command(
        after_help = "Example:\n  netloop unix-client hello --server /tmp/netloop.sock\n  netloop unix-client hello --server @netloop"
    )]
    UnixClient {
        /// The messages: one frame each, sent back to back (none: standard input or --file).
        messages: Vec<String>,
        /// The server's socket file, or @NAME for an abstract name.
        #[arg(long, value_name = "PATH", value_parser = parse_unix)]
        server: netloop::addr::UnixAddr,
        /// Byte input as one frame instead of one per line.
        #[arg(long)]
        whole: bool,
        /// Send this file instead of standard input when no MESSAGE is given.
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
        /// Largest frame accepted back, counted on the wire.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
        max_frame: usize,
        /// Give up after SECS seconds without progress.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// Put load on an echo server and measure it: throughput, latency percentiles, and the
    /// server's CPU per request. Every echoed byte is checked: a difference is an error.
    #[command(
        after_help = "Examples:\n  netloop load                                   (framed, 127.0.0.1:9998, 64 x 16 x 64 B, 10 s)\n  netloop load --addr localhost:9998 --conns 8 --pipeline 1 --size 4096 --duration 5\n  netloop load --proto stream --addr 127.0.0.1:9999 --rate 50000 --json\n  netloop load --proto udp --addr 127.0.0.1:11111 --conns 16 --pipeline 4\n  netloop load --conns 100000 --sources 8 --pipeline 1   (needs ulimit -n above 100000)\n  netloop load --server-pid $(pidof netloop)"
    )]
    Load(load::LoadArgs),
    /// Look a name up as Python's gethostbyname_ex and getaddrinfo do (or an address, with
    /// --reverse, as gethostbyaddr and getnameinfo do).
    #[command(
        after_help = "Examples:\n  netloop resolve localhost\n  netloop resolve --reverse 127.0.0.1"
    )]
    Resolve {
        /// The host name (or, with --reverse, the address).
        name: String,
        /// Find the names of an address.
        #[arg(long)]
        reverse: bool,
    },
    /// Look a service up by port or name in the services database (getservbyport,
    /// getservbyname), for TCP and UDP.
    #[command(after_help = "Examples:\n  netloop services 80\n  netloop services ftp")]
    Services {
        /// A port number or a service name.
        what: String,
    },
    /// Send ICMP echo requests to HOST and print the replies and a summary, as ping does.
    ///
    /// Uses a raw socket (SOCK_RAW) when the process has CAP_NET_RAW, else the unprivileged
    /// ICMP datagram socket (allowed to the groups in net.ipv4.ping_group_range). Stops after
    /// COUNT requests, or on Ctrl-C. Exit status: 0 if any reply came, 1 if none, 2 on error.
    #[command(
        after_help = "Examples:\n  netloop ping 127.0.0.1 -c 3\n  netloop ping -6 localhost -c 5 -i 0.2\n  netloop ping ::1 --mode dgram"
    )]
    Ping(ping::PingArgs),
}

/// An address as every command takes one (see `client::check_addr`): checked now, so that a
/// mistake is a usage error; looked up when the command runs.
fn parse_addr(s: &str) -> Result<String, String> {
    netloop_cli::client::check_addr(s)?;
    Ok(s.to_owned())
}

fn parse_unix(s: &str) -> Result<netloop::addr::UnixAddr, String> {
    if s.is_empty() || s == "@" {
        return Err("a Unix socket needs a path, or @NAME for an abstract name".into());
    }
    Ok(netloop::addr::UnixAddr::parse(s))
}

/// Every address of every `serve` flag value in `values`, looked up for `ty`.
fn bind_addrs(values: &[String], ty: netloop::socket::SockType) -> Result<Vec<SocketAddr>, String> {
    let mut all = Vec::new();
    for v in values {
        all.extend(netloop_cli::client::resolve(v, None, ty)?);
    }
    Ok(all)
}

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a number of threads from 1 to 1024")),
    }
}

fn parse_max_frame(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of bytes"))?;
    if n < 4 {
        return Err(format!(
            "the maximum frame must be at least 4 bytes (its header), not {n}"
        ));
    }
    Ok(n)
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if secs <= 0.0 {
        return Err(format!("the time must be more than 0 seconds, not {s}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' seconds is out of range"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    let result = match cli.command {
        Command::Ping(args) => return ping::run(&args),
        Command::Load(args) => load::run(&args),
        Command::Resolve { name, reverse } => lookup::resolve(&name, reverse),
        Command::Services { what } => lookup::services(&what),
        Command::Serve(opts) => serve(opts),
        Command::FramedClient {
            messages,
            whole,
            max_frame,
            common,
            tls,
        } => clients::run(
            clients::Which::Framed { whole, max_frame },
            messages,
            &common,
            &tls,
        ),
        Command::UnixClient {
            messages,
            server,
            whole,
            file,
            max_frame,
            timeout,
        } => clients::run_unix(messages, &server, whole, file.as_ref(), max_frame, timeout),
        Command::UdpClient { message, common } => clients::run(
            clients::Which::Udp,
            message.into_iter().collect(),
            &common,
            &clients::TlsArgs::default(),
        ),
        Command::TcpClient {
            message,
            common,
            tls,
        } => clients::run(
            clients::Which::Tcp,
            message.into_iter().collect(),
            &common,
            &tls,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("netloop: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Start the metrics endpoint (see `netloop_cli::metrics`) on `addr`, reading the counters
/// through `handles`; returns what stops it, and its thread.
fn start_metrics(
    addr: &str,
    public: bool,
    handles: Vec<netloop::reactor::Handle<services::CourseServer>>,
) -> Result<(impl FnOnce(), std::thread::JoinHandle<()>), String> {
    let addrs = netloop_cli::client::resolve(addr, None, netloop::socket::SockType::Stream)?;
    if !public {
        if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(format!(
                "--metrics {a} is reachable from other machines: add --metrics-public to allow it"
            ));
        }
    }
    let source = move || {
        handles
            .iter()
            .fold(netloop::reactor::Stats::default(), |sum, h| {
                sum.add(&h.stats())
            })
    };
    let mut reactor = netloop::reactor::Reactor::new(netloop_cli::metrics::Metrics::new(source))
        .map_err(|e| format!("cannot start the metrics endpoint: {e}"))?;
    for a in addrs {
        let bound = reactor
            .listen(a)
            .and_then(|l| reactor.listener_addr(l))
            .map_err(|e| format!("cannot listen for --metrics on {a}: {e}"))?;
        log::info!("metrics on http://{bound}/metrics");
    }
    let handle = reactor.handle();
    let thread = std::thread::spawn(move || {
        if let Err(e) = reactor.run() {
            log::error!("the metrics endpoint failed: {e}");
        }
    });
    let stop = move || {
        // Already gone: nothing to stop.
        let _ = handle.stop();
    };
    Ok((stop, thread))
}

/// What `serve` was asked to do: its command-line flags.
#[derive(Args, Debug)]
struct ServeOpts {
    /// UDP upper-casing service address (repeatable; a host name binds every address it
    /// resolves to).
    #[arg(long = "udp", value_name = "ADDR", value_parser = parse_addr)]
    udp: Vec<String>,
    /// TCP stream echo service address (repeatable; as --udp).
    #[arg(long = "tcp", value_name = "ADDR", value_parser = parse_addr)]
    tcp: Vec<String>,
    /// TCP framed echo service address (repeatable; as --udp).
    #[arg(long = "framed", value_name = "ADDR", value_parser = parse_addr)]
    framed: Vec<String>,
    /// Framed echo on a Unix socket too (repeatable; served by the first reactor): a file
    /// (a stale file left by a dead server is replaced; the file is removed at exit), or
    /// @NAME for a Linux abstract name (no file).
    #[arg(long = "unix", value_name = "PATH", value_parser = parse_unix)]
    unix: Vec<netloop::addr::UnixAddr>,
    /// Largest frame accepted, counted on the wire (4-byte header included).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_max_frame)]
    max_frame: usize,
    /// Close a connection when no byte has moved either way for SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,
    /// Close a connection whose frame is not complete SECS seconds after its first byte
    /// (a peer trickling bytes).
    #[arg(long = "frame-timeout", value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    frame_timeout: Duration,
    /// Reactor threads, all serving the same sockets (each connection goes to the one with
    /// the fewest connections).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_threads)]
    threads: usize,
    /// Pin reactor thread i to CPU i (modulo the CPUs this process may use).
    #[arg(long)]
    pin: bool,
    /// Input memory per reactor thread for messages being received: past it, connections
    /// that need more wait (their bytes stay in the kernel) instead of growing memory.
    /// At least --max-frame.
    #[arg(long = "max-buffered", value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    max_buffered: usize,
    /// Most connections open at once, across all threads; more are accepted and closed at
    /// once.
    #[arg(long = "max-conns", value_name = "N")]
    max_conns: Option<usize>,
    /// After Ctrl-C or SIGTERM: the most seconds that connections in the middle of a frame
    /// get to finish it and receive its echo (idle ones close at once; the process exits
    /// when the last is done). What is left then is cut off; a second signal cuts it off
    /// at once.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    grace: Duration,
    /// Log the counters every SECS seconds (they are always logged at shutdown).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    stats: Option<Duration>,
    /// How the counters are written: text (a log line) or json (one JSON object per
    /// interval on standard output, for machines).
    #[arg(long = "stats-format", value_enum, default_value_t = StatsFormat::Text)]
    stats_format: StatsFormat,
    /// Answer `GET /metrics` on ADDR (HOST:PORT) with the counters in Prometheus' text
    /// format, from a reactor of its own. Loopback addresses only, unless --metrics-public.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    metrics: Option<String>,
    /// Allow --metrics on an address other machines can reach.
    #[arg(long = "metrics-public", requires = "metrics")]
    metrics_public: bool,
    /// Make [::] addresses IPv6-only. By default `--tcp [::]:9999` is one dual-stack
    /// socket that serves IPv4 clients too (shown as their IPv4 addresses); with this flag
    /// `--tcp 0.0.0.0:9999 --tcp [::]:9999` binds two sockets instead.
    #[arg(long = "v6-only")]
    v6_only: bool,
    /// Busy-poll: each reactor thread spins instead of sleeping in epoll_wait, for the
    /// lowest latency, at the cost of a whole core per thread even when idle.
    #[arg(long = "busy-poll")]
    busy_poll: bool,
    /// Serve the stream and framed echoes over TLS with the certificate chain in this PEM
    /// file (the server's own first); UDP stays plain.
    #[arg(long = "tls-cert", value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert, in PEM.
    #[arg(long = "tls-key", value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// Raise the soft descriptor limit to the hard one (see `sys::raise_fd_limit`), and say so.
fn raise_fd_limit() {
    match netloop::server::raise_fd_limit() {
        Ok((before, after)) if before < after => {
            log::info!("descriptor limit raised from {before} to {after}")
        }
        Ok((limit, _)) => log::info!("descriptor limit {limit}"),
        Err(e) => log::warn!("descriptor limit not raised: {e}"),
    }
}

fn serve(o: ServeOpts) -> Result<(), String> {
    // First, before any thread exists: block SIGINT/SIGTERM in this thread, so that every
    // thread started later inherits the mask and the signals arrive through the descriptor.
    let mut signals = Signals::termination().map_err(|e| format!("cannot set up signals: {e}"))?;
    raise_fd_limit();
    let mut cfg = CourseConfig::default();
    // Naming any service serves only the services named; naming none serves the three
    // defaults.
    if !(o.udp.is_empty() && o.tcp.is_empty() && o.framed.is_empty() && o.unix.is_empty()) {
        use netloop::socket::SockType::{Dgram, Stream};
        cfg.udp = bind_addrs(&o.udp, Dgram)?;
        cfg.tcp = bind_addrs(&o.tcp, Stream)?;
        cfg.framed = bind_addrs(&o.framed, Stream)?;
    }
    cfg.unix = o.unix;
    cfg.max_frame = o.max_frame;
    cfg.timeout = o.timeout;
    cfg.frame_timeout = Some(o.frame_timeout);
    cfg.threads = o.threads;
    cfg.max_conns = o.max_conns;
    cfg.max_buffered = o.max_buffered;
    cfg.dual_stack = !o.v6_only;
    cfg.busy_poll = o.busy_poll;
    if let (Some(cert), Some(key)) = (&o.tls_cert, &o.tls_key) {
        let tls =
            netloop::socket::tls::server_config(cert, key).map_err(|e| format!("TLS: {e}"))?;
        cfg.tls = Some(tls);
    }
    // Socket activation: a service manager's sockets, served instead of binding anything.
    let fds = netloop::server::listen_fds().map_err(|e| format!("socket activation: {e}"))?;
    let handed = if fds.is_empty() {
        Vec::new()
    } else {
        // The service flags (or the defaults) only help to tell the handed sockets apart.
        let placed = services::place_handed(fds, &cfg)?;
        log::info!(
            "socket activation: serving the {} socket(s) the service manager handed over, binding nothing",
            placed.len()
        );
        cfg.udp.clear();
        cfg.tcp.clear();
        cfg.framed.clear();
        cfg.unix.clear();
        placed
    };
    let (reactors, bound) =
        services::course_reactors_with(&cfg, handed).map_err(|e| e.to_string())?;
    for b in &bound {
        log::info!("{} service on {}", b.service, b.addr);
    }
    log::info!("max frame {} bytes", o.max_frame);
    if let Some(t) = o.timeout {
        log::info!("idle timeout: {t:?}");
    }
    log::info!("frame timeout: {:?}", o.frame_timeout);
    if let Some(m) = o.max_conns {
        log::info!("at most {m} connections");
    }
    log::info!("{} reactor thread(s); Ctrl-C or SIGTERM stops", o.threads);
    let server = Server::start(reactors).map_err(|e| format!("cannot start: {e}"))?;
    if o.pin {
        netloop_cli::process::pin_reactors(&server);
    }
    let metrics = match &o.metrics {
        Some(addr) => match start_metrics(addr, o.metrics_public, server.handles()) {
            Ok(m) => Some(m),
            Err(e) => {
                server.stop();
                let _ = server.join();
                return Err(e);
            }
        },
        None => None,
    };
    let format = o.stats_format;
    let signo = server
        .serve_until_signal(&mut signals, o.stats, |server| {
            report_stats(format, "stats", &server.stats());
            log_spread(server.stats_per_reactor().iter());
        })
        .map_err(|e| format!("waiting for signals failed: {e}"));
    match &signo {
        Ok(n) => log::info!(
            "signal {n}: shutting down: no new connections, each open one closes at its next message boundary, within {:?} (a second signal cuts them off now)",
            o.grace
        ),
        Err(e) => log::error!("{e}"),
    }
    server.shutdown(o.grace);
    // A second signal during the grace period ends it at once.
    while !server.is_finished() {
        match signals.wait(Some(Duration::from_millis(50))) {
            Ok(Some(n)) => {
                log::warn!("signal {n} again: cutting off every connection now");
                server.stop();
                break;
            }
            Ok(None) => {}
            Err(e) => {
                log::error!("waiting for signals failed: {e}");
                break;
            }
        }
    }
    let reactors = server.join().map_err(|e| format!("reactor failed: {e}"))?;
    let total = reactors
        .iter()
        .fold(netloop::reactor::Stats::default(), |sum, r| {
            sum.add(r.stats())
        });
    if signo.is_ok() {
        log::info!(
            "shutdown: {} connection(s) finished, {} cut off",
            total.shutdown_finished,
            total.shutdown_cut_off
        );
    }
    report_stats(format, "stopped", &total);
    log_spread(reactors.iter().map(|r| r.stats()));
    if let Some((stop, thread)) = metrics {
        stop();
        let _ = thread.join();
    }
    signo.map(|_| ())
}
