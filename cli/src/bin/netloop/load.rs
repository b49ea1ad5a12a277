//! `netloop load`: flags, live progress, and the report.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{Args, ValueEnum};
use netloop::socket::SockType;
use netloop_cli::load::{self, LoadConfig, Progress, ProgressFn, Proto};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The server: HOST:PORT (a host name, or an address such as [::1]:9998).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9998", value_parser = super::parse_addr)]
    addr: String,
    /// The protocol: framed (4-byte length + payload, echoed), stream (bytes, echoed) or udp
    /// (datagrams, answered upper-cased as netloop serve's UDP service does).
    #[arg(long, value_enum, default_value_t = ProtoArg::Framed)]
    proto: ProtoArg,
    /// Connections (UDP: sockets).
    #[arg(long, value_name = "N", default_value_t = 64)]
    conns: usize,
    /// Requests in flight per connection (closed loop).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pipeline: usize,
    /// Payload bytes per request.
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    size: usize,
    /// Seconds to measure.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = super::parse_secs)]
    duration: Duration,
    /// Seconds to run before measuring.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_warmup)]
    warmup: Duration,
    /// Open loop: total requests per second, on a schedule whatever the server does;
    /// latency counts from each request's due time.
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Spread connections over this many source addresses 127.0.0.1, 127.0.0.2, ...
    /// (loopback servers; beyond one address's ephemeral ports).
    #[arg(long, value_name = "N", default_value_t = 1)]
    sources: usize,
    /// Busy-poll instead of sleeping in epoll_wait (latency floors; uses a whole core).
    #[arg(long)]
    spin: bool,
    /// UDP: the server echoes datagrams unchanged (default: it upper-cases them).
    #[arg(long = "udp-echo")]
    udp_echo: bool,
    /// Report this process's CPU time (user and system) while measuring: the server's pid.
    #[arg(long = "server-pid", value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProtoArg {
    Framed,
    Stream,
    Udp,
}

fn parse_warmup(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    super::parse_secs(s)
}

/// Run `netloop load`.
pub fn run(args: &LoadArgs) -> Result<(), String> {
    let proto = match args.proto {
        ProtoArg::Framed => Proto::Framed,
        ProtoArg::Stream => Proto::Stream,
        ProtoArg::Udp => Proto::Udp,
    };
    let ty = if proto == Proto::Udp {
        SockType::Dgram
    } else {
        SockType::Stream
    };
    let addr = *netloop_cli::client::resolve(&args.addr, None, ty)?
        .first()
        .ok_or_else(|| format!("{}: no address", args.addr))?;
    let mut cfg = LoadConfig::new(addr, proto);
    cfg.conns = args.conns;
    cfg.pipeline = args.pipeline;
    cfg.size = args.size;
    cfg.duration = args.duration;
    cfg.warmup = args.warmup;
    cfg.rate = args.rate;
    cfg.sources = args.sources;
    cfg.spin = args.spin;
    cfg.upper = !args.udp_echo;
    cfg.server_pid = args.server_pid;
    let live = std::io::stderr().is_terminal();
    let progress: Option<ProgressFn> = live.then(|| {
        Box::new(|p: &Progress| {
            let phase = if p.warming_up { " (warming up)" } else { "" };
            eprint!(
                "\r  {:>4.0} s  {:>10} requests  {:>10.0}/s{phase}   ",
                p.elapsed.as_secs_f64(),
                p.requests,
                p.rate
            );
            let _ = std::io::stderr().flush();
        }) as ProgressFn
    });
    let result = load::run(&cfg, progress);
    if live {
        eprintln!();
    }
    let report = result.map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.requests == 0 {
        return Err(format!(
            "no request completed in {:?}: nothing was measured (is a server answering {} at {}?)",
            args.duration,
            match proto {
                Proto::Udp => "UDP",
                _ => "TCP",
            },
            addr
        ));
    }
    Ok(())
}
