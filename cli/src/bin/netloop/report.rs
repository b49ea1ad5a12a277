//! How `netloop serve` reports its counters: a log line, or JSON for machines, and how the
//! connections spread over the reactors.

/// How `serve` writes its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    Text,
    Json,
}

/// Write the counters `s` as `format` says (`prefix` names the moment, for the log line).
pub fn report_stats(format: StatsFormat, prefix: &str, s: &netloop::reactor::Stats) {
    match format {
        StatsFormat::Text => log_stats(prefix, s),
        StatsFormat::Json => println!("{}", netloop_cli::metrics::json(s)),
    }
}

/// The counters as one log line.
fn log_stats(prefix: &str, s: &netloop::reactor::Stats) {
    log::info!(
        "{prefix}: {} accepted, {} open, {} closed (peer {}, reset {}, timeout {}, protocol {}, local {}, io {}, panic {}), {} rejected, {} shed, {} accept errors, {} budget waits, {} bytes in, {} bytes out, {} frames in, {} frames out, {} datagrams in, {} datagrams out, {} timeouts (read {}, write {}, idle {}, frame {}, connect {}, handshake {}), {} turns (p50 under {:?}, p99 under {:?}, longest {:?})",
        s.accepted,
        s.active,
        s.closed(),
        s.closed_peer,
        s.closed_reset,
        s.closed_timeout,
        s.closed_protocol,
        s.closed_local,
        s.closed_io,
        s.closed_panic,
        s.rejected,
        s.shed,
        s.accept_errors,
        s.budget_waits,
        s.bytes_in,
        s.bytes_out,
        s.frames_in,
        s.frames_out,
        s.datagrams_in,
        s.datagrams_out,
        s.timeouts,
        s.timeouts_read,
        s.timeouts_write,
        s.timeouts_idle,
        s.timeouts_frame,
        s.timeouts_connect,
        s.timeouts_handshake,
        s.turns.count(),
        s.turns.quantile(0.5).unwrap_or_default(),
        s.turns.quantile(0.99).unwrap_or_default(),
        s.turns.max(),
    );
}

/// With several reactors, how the connections spread over them.
pub fn log_spread<'a>(per: impl Iterator<Item = &'a netloop::reactor::Stats>) {
    let counts: Vec<String> = per.map(|s| s.accepted.to_string()).collect();
    if counts.len() > 1 {
        log::info!("accepted per reactor: {}", counts.join(", "));
    }
}
