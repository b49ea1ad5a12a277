//! `netloop ping`: the raw module's pinger with ping's flags and output.

use std::io::Write;
use std::net::{IpAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use netloop::raw::{self, IcmpMode, PingEvent, PingOptions};

#[derive(Args, Debug)]
pub struct PingArgs {
    /// Host name or address to ping.
    host: String,
    /// Stop after COUNT requests (default: until Ctrl-C).
    #[arg(short = 'c', value_name = "COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    count: Option<u32>,
    /// Seconds between requests (at least 0.001).
    #[arg(short = 'i', value_name = "INTERVAL", default_value = "1", value_parser = parse_interval)]
    interval: Duration,
    /// Seconds to wait for each reply.
    #[arg(short = 'W', value_name = "TIMEOUT", default_value = "10", value_parser = super::parse_secs)]
    timeout: Duration,
    /// Data bytes per request.
    #[arg(short = 's', value_name = "SIZE", default_value_t = 56, value_parser = clap::value_parser!(u16).range(0..=65000))]
    size: u16,
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "v6")]
    v4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    v6: bool,
    /// Which ICMP socket: raw (needs CAP_NET_RAW), dgram (needs a group in
    /// net.ipv4.ping_group_range), or auto (raw if allowed, else dgram).
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    mode: Mode,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Auto,
    Raw,
    Dgram,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = s
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("'{s}' is not an interval in seconds"))?;
    if d < Duration::from_millis(1) {
        return Err(format!(
            "the interval must be at least 0.001 seconds, not {s}"
        ));
    }
    Ok(d)
}

/// The address to ping: `host` itself if it is one, else the first of its addresses of the
/// family asked for (IPv4 first when either will do, as ping does).
fn resolve(host: &str, v4: bool, v6: bool) -> Result<IpAddr, String> {
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .map(|a| a.ip())
        .collect();
    let pick = |want_v6: bool| addrs.iter().copied().find(|a| a.is_ipv6() == want_v6);
    let found = match (v4, v6) {
        (_, true) => pick(true),
        (true, _) => pick(false),
        _ => pick(false).or_else(|| pick(true)),
    };
    found.ok_or_else(|| {
        let family = if v6 { "IPv6" } else { "IPv4" };
        format!("{host}: no {family} address")
    })
}

/// Run `netloop ping`: 0 if a reply came, 1 if none did, 2 on error.
pub fn run(args: &PingArgs) -> ExitCode {
    // A link-local address with its scope: fe80::1%eth0.
    let scoped = args
        .host
        .contains('%')
        .then(|| netloop::addr::parse_socket_addr(&format!("[{}]:0", args.host)));
    let (target, scope_id) = match scoped {
        Some(Ok(std::net::SocketAddr::V6(a))) => (IpAddr::V6(*a.ip()), a.scope_id()),
        Some(Ok(a)) => (a.ip(), 0),
        Some(Err(e)) => {
            eprintln!("netloop ping: {e}");
            return ExitCode::from(2);
        }
        None => match resolve(&args.host, args.v4, args.v6) {
            Ok(ip) => (ip, 0),
            Err(msg) => {
                eprintln!("netloop ping: {msg}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mode = match args.mode {
        Mode::Auto => IcmpMode::Auto,
        Mode::Raw => IcmpMode::Raw,
        Mode::Dgram => IcmpMode::Datagram,
    };
    let mut opts = PingOptions::default()
        .interval(args.interval)
        .timeout(args.timeout)
        .size(usize::from(args.size))
        .mode(mode)
        .scope_id(scope_id)
        .stop_on_signal(true);
    opts.count = args.count;
    println!("PING {} ({target}) {} data bytes", args.host, args.size);
    let mut stdout = std::io::stdout();
    let result = raw::ping(target, &opts, |event| {
        let _ = match event {
            PingEvent::Reply(r) => writeln!(stdout, "{r}"),
            PingEvent::Timeout { seq } => writeln!(stdout, "no answer yet for icmp_seq={seq}"),
            PingEvent::SendFailed { seq, error } => {
                writeln!(stdout, "icmp_seq={seq}: sendto: {error}")
            }
            _ => Ok(()),
        };
    });
    match result {
        Ok(run) => {
            print!("\n{}", run.report(&args.host));
            if run.summary.received > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("netloop ping: {e}");
            ExitCode::FAILURE
        }
    }
}
