//! `netloop serve --metrics ADDR`: the counters for a monitoring system, in Prometheus' text
//! exposition format (version 0.0.4), answered on `GET /metrics`; and the same counters as one
//! JSON object (`--stats-format json`).
//!
//! The endpoint is a netloop reactor of its own, on its own thread: a slow or stuck scraper
//! never delays the services. Its handler reads the counters every service reactor publishes
//! at the end of each turn (`Handle::stats`: so a scrape shows each reactor as of its last
//! finished turn), adds them up, and answers each request with one
//! response, then closes the connection. It speaks just enough HTTP/1.x for that: one request
//! line and headers, at most 8 KiB of them; `GET /metrics` is answered 200, any other path 404,
//! any other method 405.

use netloop::reactor::{ConnId, Context, Handler, Stats, TurnTimes};

/// The most a request's line and headers may take.
const MAX_REQUEST: usize = 8 * 1024;

/// The endpoint's handler: `source` gives the counters to show, added up over the reactors.
pub struct Metrics<F> {
    source: F,
}

impl<F: FnMut() -> Stats> Metrics<F> {
    /// A handler that shows what `source` returns.
    pub fn new(source: F) -> Metrics<F> {
        Metrics { source }
    }
}

impl<F: FnMut() -> Stats> Handler for Metrics<F> {
    fn on_data(&mut self, cx: &mut Context<'_>, conn: ConnId, data: &[u8]) -> usize {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            if data.len() > MAX_REQUEST {
                let _ = cx.write(conn, &response("431 Request Header Fields Too Large", ""));
                cx.close(conn);
                return data.len();
            }
            // The rest of the headers is still to come.
            return 0;
        };
        let head = String::from_utf8_lossy(&data[..end]);
        let mut request_line = head.lines().next().unwrap_or("").split(' ');
        let (method, path) = (request_line.next(), request_line.next());
        let reply = match (method, path) {
            (Some("GET"), Some("/metrics")) => {
                let body = exposition(&(self.source)());
                ok_response(&body)
            }
            (Some("GET"), _) => response("404 Not Found", "only /metrics is here\n"),
            _ => response("405 Method Not Allowed", "only GET is answered\n"),
        };
        let _ = cx.write(conn, &reply);
        cx.close(conn);
        data.len()
    }
}

fn ok_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The counters: name (without the `netloop_` prefix), help, and value. The gauges are in
/// [`GAUGES`].
fn counters(s: &Stats) -> [(&'static str, &'static str, u64); 32] {
    [
        ("accepted_total", "Connections accepted.", s.accepted),
        (
            "connected_total",
            "Outgoing connections started.",
            s.connected,
        ),
        (
            "closed_peer_total",
            "Connections closed after the peer's end of file.",
            s.closed_peer,
        ),
        (
            "closed_reset_total",
            "Connections closed by a reset.",
            s.closed_reset,
        ),
        (
            "closed_timeout_total",
            "Connections closed by a timeout.",
            s.closed_timeout,
        ),
        (
            "closed_protocol_total",
            "Connections closed for a protocol error.",
            s.closed_protocol,
        ),
        (
            "closed_local_total",
            "Connections closed locally.",
            s.closed_local,
        ),
        (
            "closed_io_total",
            "Connections closed by another I/O error.",
            s.closed_io,
        ),
        (
            "closed_panic_total",
            "Connections closed because the handler panicked.",
            s.closed_panic,
        ),
        (
            "rejected_total",
            "Connections refused at the connection limit.",
            s.rejected,
        ),
        (
            "shed_total",
            "Connections closed at once for want of descriptors.",
            s.shed,
        ),
        (
            "accept_errors_total",
            "accept failures that paused a listener.",
            s.accept_errors,
        ),
        (
            "budget_waits_total",
            "Times a connection waited for the input budget.",
            s.budget_waits,
        ),
        ("timeouts_total", "Timeouts fired, all kinds.", s.timeouts),
        (
            "timeouts_read_total",
            "Read timeouts fired.",
            s.timeouts_read,
        ),
        (
            "timeouts_write_total",
            "Write timeouts fired.",
            s.timeouts_write,
        ),
        (
            "timeouts_idle_total",
            "Idle timeouts fired.",
            s.timeouts_idle,
        ),
        (
            "timeouts_frame_total",
            "Frame timeouts fired.",
            s.timeouts_frame,
        ),
        (
            "timeouts_connect_total",
            "Connect timeouts fired.",
            s.timeouts_connect,
        ),
        (
            "timeouts_handshake_total",
            "TLS handshake timeouts fired.",
            s.timeouts_handshake,
        ),
        ("bytes_in_total", "Bytes received.", s.bytes_in),
        ("bytes_out_total", "Bytes sent.", s.bytes_out),
        ("frames_in_total", "Whole frames received.", s.frames_in),
        (
            "frames_out_total",
            "Frames queued for sending.",
            s.frames_out,
        ),
        ("datagrams_in_total", "Datagrams received.", s.datagrams_in),
        ("datagrams_out_total", "Datagrams sent.", s.datagrams_out),
        (
            "datagrams_glued_in_total",
            "Datagrams that arrived glued in one receive (UDP GRO).",
            s.datagrams_glued_in,
        ),
        (
            "datagrams_segmented_out_total",
            "Datagrams sent in runs the kernel cut (UDP GSO).",
            s.datagrams_segmented_out,
        ),
        (
            "dgram_send_errors_total",
            "Queued datagrams dropped on a send error.",
            s.dgram_send_errors,
        ),
        (
            "handler_panics_total",
            "Panics caught in handler callbacks.",
            s.handler_panics,
        ),
        (
            "shutdown_finished_total",
            "Connections that finished during a shutdown.",
            s.shutdown_finished,
        ),
        (
            "shutdown_cut_off_total",
            "Connections cut off at the end of a shutdown.",
            s.shutdown_cut_off,
        ),
    ]
}

/// The gauges: name, help, and value.
const GAUGES: [(&str, &str); 2] = [
    ("connections_open", "Connections open now."),
    (
        "input_buffered_bytes",
        "Input bytes held beyond one read block per connection.",
    ),
];

/// `s` in the text exposition format: `# HELP`, `# TYPE`, then the sample, for each metric.
pub fn exposition(s: &Stats) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, kind: &str, value: u64| {
        out.push_str(&format!(
            "# HELP netloop_{name} {help}\n# TYPE netloop_{name} {kind}\nnetloop_{name} {value}\n"
        ));
    };
    for (name, help, value) in counters(s) {
        metric(name, help, "counter", value);
    }
    let gauges = [s.active, s.input_buffered];
    for ((name, help), value) in GAUGES.iter().zip(gauges) {
        metric(name, help, "gauge", value);
    }
    turn_histogram(&mut out, &s.turns);
    out
}

/// The turn lengths as a Prometheus histogram, `netloop_turn_seconds`: cumulative buckets
/// with their upper bounds (`le`), the sum and the count.
fn turn_histogram(out: &mut String, t: &TurnTimes) {
    out.push_str(
        "# HELP netloop_turn_seconds How long the reactors' turns took (the loop's lag).\n\
         # TYPE netloop_turn_seconds histogram\n",
    );
    let mut seen = 0;
    for i in 0..TurnTimes::BUCKETS {
        seen += t.bucket(i);
        let le = TurnTimes::bucket_limit(i)
            .map_or("+Inf".to_owned(), |l| format!("{}", l.as_secs_f64()));
        out.push_str(&format!(
            "netloop_turn_seconds_bucket{{le=\"{le}\"}} {seen}\n"
        ));
    }
    out.push_str(&format!(
        "netloop_turn_seconds_sum {}\nnetloop_turn_seconds_count {}\n",
        t.total().as_secs_f64(),
        t.count()
    ));
}

/// `s` as one JSON object on one line, the counters' and gauges' names as in [`exposition`]
/// without the prefix, with `unix_time` (seconds since the epoch) first; the turns as their
/// count (`turns`) and quantiles (`turn_p50_seconds`, `turn_p99_seconds`,
/// `turn_max_seconds`) rather than buckets.
pub fn json(s: &Stats) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut fields = vec![format!("\"unix_time\":{now:.3}")];
    for (name, _, value) in counters(s) {
        fields.push(format!("\"{name}\":{value}"));
    }
    fields.push(format!("\"connections_open\":{}", s.active));
    fields.push(format!("\"input_buffered_bytes\":{}", s.input_buffered));
    let t = &s.turns;
    let secs = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64());
    fields.push(format!("\"turns\":{}", t.count()));
    fields.push(format!("\"turn_p50_seconds\":{}", secs(t.quantile(0.5))));
    fields.push(format!("\"turn_p99_seconds\":{}", secs(t.quantile(0.99))));
    fields.push(format!("\"turn_max_seconds\":{}", t.max().as_secs_f64()));
    format!("{{{}}}", fields.join(","))
}
