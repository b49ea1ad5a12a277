//! The bench's output: a table per workload with netloop's ratio to each peer, JSON, and an
//! SVG chart.

use std::fmt::Write as _;

use crate::peers::Peer;
use crate::{Metric, Sample, Workload};

/// The median of each figure over the runs.
pub fn median(samples: &[Sample]) -> Sample {
    let med = |f: &dyn Fn(&Sample) -> f64| -> f64 {
        // Of the runs that have the figure (NaN: not measured).
        let mut v: Vec<f64> = samples.iter().map(f).filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Sample {
        requests: med(&|s| s.requests as f64) as u64,
        bytes: med(&|s| s.bytes as f64) as u64,
        p50_us: med(&|s| s.p50_us),
        p99_us: med(&|s| s.p99_us),
        user_ns: med(&|s| s.user_ns),
        sys_ns: med(&|s| s.sys_ns),
        rss_per_conn: med(&|s| s.rss_per_conn),
        steal_ms: med(&|s| s.steal_ms),
        waited_ms: (med(&|s| s.waited_ms.0), med(&|s| s.waited_ms.1)),
    }
}

/// The workload's headline figure (lower is better) and its unit.
pub fn headline(w: &Workload, s: &Sample) -> (f64, &'static str) {
    match w.metric {
        Metric::LatencyP50 => (s.p50_us, "p50 latency, µs"),
        Metric::CpuPerFrame => (s.user_ns + s.sys_ns, "server CPU per request, ns"),
        Metric::CpuPerMb => (
            (s.user_ns + s.sys_ns) * 1e6 / w.size as f64 / 1e3,
            "server CPU per MB, µs",
        ),
    }
}

fn describe(w: &Workload) -> String {
    let load = match w.rate {
        Some(r) => format!("open loop, {r:.0} requests/s in all"),
        None => format!("{} in flight each", w.pipeline),
    };
    let proto = if w.proto == netloop_cli::load::Proto::Udp {
        "UDP sockets"
    } else {
        "connections"
    };
    format!("{}: {} {proto}, {load}, {} B", w.name, w.conns, w.size)
}

pub fn print(results: &[(Workload, Vec<(Peer, Sample)>)]) {
    for (w, peers) in results {
        let Some(base) = peers
            .iter()
            .find(|(p, _)| matches!(p, Peer::Netloop | Peer::NetloopSpin))
            .map(|(_, s)| *s)
        else {
            continue;
        };
        let (base_fig, unit) = headline(w, &base);
        println!("\n{}  [{unit}]", describe(w));
        println!(
            "  {:<15} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9} {:>11} {:>13}",
            "server",
            "figure",
            "user ns",
            "sys ns",
            "p50 µs",
            "p99 µs",
            "RSS/conn B",
            "steal ms",
            "waited ms",
            "netloop/this"
        );
        for (peer, s) in peers {
            let (fig, _) = headline(w, s);
            println!(
                "  {:<15} {:>10.1} {:>9.0} {:>9.0} {:>9.1} {:>9.1} {:>11.0} {:>9.0} {:>11} {:>13.2}",
                peer.name(),
                fig,
                s.user_ns,
                s.sys_ns,
                s.p50_us,
                s.p99_us,
                s.rss_per_conn,
                s.steal_ms,
                format!("{:.0}/{:.0}", s.waited_ms.0, s.waited_ms.1),
                base_fig / fig
            );
        }
    }
    for (w, peers) in results.iter().filter(|(w, _)| w.name == "U2") {
        println!("\n{}: datagrams per server CPU-second", w.name);
        for (peer, s) in peers {
            let per_sec = 1e9 / (s.user_ns + s.sys_ns).max(1e-9);
            println!("  {:<16} {per_sec:>12.0}", peer.name());
        }
    }
    println!("\nnetloop/this below 1: netloop needs less (CPU, time) than that server. steal ms: CPU time the hypervisor took from the machine during the run (median), which shows in the tail. waited ms: time the server's threads (summed) / the load generator's thread waited, runnable, for a CPU, behind any task: for the single-threaded servers, someone else's (median; NaN: unknown).");
}

pub fn write_json(
    kernel: &str,
    cpus: usize,
    results: &[(Workload, Vec<(Peer, Sample)>)],
    timers: &[crate::timers::Lateness],
    path: &str,
) -> std::io::Result<()> {
    let mut out = format!(
        "{{\"kernel\":\"{}\",\"cpus\":{cpus},\"workloads\":[",
        kernel.escape_default()
    );
    for (i, (w, peers)) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (_, unit) = headline(w, &Sample::default());
        let _ = write!(
            out,
            "{{\"name\":\"{}\",\"describe\":\"{}\",\"unit\":\"{unit}\",\"servers\":[",
            w.name,
            describe(w)
        );
        for (j, (p, s)) in peers.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"server\":\"{}\",\"figure\":{:.3},\"requests\":{},\"user_ns\":{:.1},\"sys_ns\":{:.1},\"p50_us\":{:.2},\"p99_us\":{:.2},\"rss_per_conn\":{:.0},\"steal_ms\":{:.1},\"waited_ms\":{{\"server\":{},\"load\":{}}}}}",
                p.name(),
                headline(w, s).0,
                s.requests,
                s.user_ns,
                s.sys_ns,
                s.p50_us,
                s.p99_us,
                s.rss_per_conn,
                s.steal_ms,
                json_ms(s.waited_ms.0),
                json_ms(s.waited_ms.1)
            );
        }
        out.push_str("]}");
    }
    out.push_str("],\"timer_lateness_us\":[");
    for (i, l) in timers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"timer\":\"{}\",\"after_us\":{},\"p50\":{:.2},\"p99\":{:.2},\"max\":{:.2}}}",
            l.name,
            crate::timers::AFTER.as_micros(),
            l.p50_us,
            l.p99_us,
            l.max_us
        );
    }
    out.push_str("]}\n");
    std::fs::create_dir_all("target")?;
    std::fs::write(path, out)
}

/// Bars: each server's headline figure divided by netloop's, per workload (netloop = 1; a
/// taller bar is a server that needs more than netloop).
pub fn write_svg(results: &[(Workload, Vec<(Peer, Sample)>)], path: &str) -> std::io::Result<()> {
    use plotters::prelude::*;
    let err = |e: String| std::io::Error::other(e);
    std::fs::create_dir_all("target")?;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let n = results.len().max(1);
    let mut max: f64 = 1.5;
    let mut bars = Vec::new();
    for (i, (w, peers)) in results.iter().enumerate() {
        let Some(base) = peers
            .iter()
            .find(|(p, _)| matches!(p, Peer::Netloop | Peer::NetloopSpin))
            .map(|(_, s)| headline(w, s).0)
        else {
            continue;
        };
        for (p, s) in peers {
            let rel = headline(w, s).0 / base;
            if rel.is_finite() {
                max = max.max(rel);
                bars.push((i, Peer::ALL.iter().position(|q| q == p).unwrap_or(0), rel));
            }
        }
    }
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "server cost relative to netloop (netloop = 1, lower is better)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..n as f64, 0f64..max * 1.1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            results
                .get(x.floor() as usize)
                .map(|(w, _)| w.name.to_string())
                .unwrap_or_default()
        })
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let colors = [RED, BLUE, CYAN, GREEN, MAGENTA];
    let width = 0.8 / Peer::ALL.len() as f64;
    for (k, peer) in Peer::ALL.iter().enumerate() {
        let color = colors[k % colors.len()];
        chart
            .draw_series(bars.iter().filter(|b| b.1 == k).map(|&(i, j, rel)| {
                let x0 = i as f64 + 0.1 + j as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.9, rel)], color.filled())
            }))
            .map_err(|e| err(e.to_string()))?
            .label(peer.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Milliseconds for the JSON: `null` when not measured.
fn json_ms(ms: f64) -> String {
    if ms.is_nan() {
        "null".to_string()
    } else {
        format!("{ms:.1}")
    }
}
