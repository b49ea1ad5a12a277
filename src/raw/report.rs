//! How ping's output reads: one line per reply, and the closing statistics, in the format of
//! iputils' `ping`.

use std::fmt;
use std::time::Duration;

use super::ping::{PingReply, PingSummary};
use super::run::PingRun;

/// Milliseconds with three decimals, as ping prints times.
fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// A percentage the way C's `%g` shows it: no trailing zeros (0, 25, 33.3333).
fn percent(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Display for PingReply {
    /// `64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes from {}: icmp_seq={}",
            self.len, self.from, self.seq
        )?;
        if let Some(ttl) = self.ttl {
            write!(f, " ttl={ttl}")?;
        }
        write!(f, " time={} ms", ms(self.rtt))
    }
}

impl PingSummary {
    /// The closing lines for `host`: counts, loss and time, then the round-trip statistics
    /// (only when a reply came).
    ///
    /// ```text
    /// --- localhost ping statistics ---
    /// 3 packets transmitted, 3 received, 0% packet loss, time 2003ms
    /// rtt min/avg/max/mdev = 0.031/0.045/0.056/0.010 ms
    /// ```
    pub fn report(&self, host: &str, elapsed: Duration) -> String {
        let mut out = format!(
            "--- {host} ping statistics ---\n{} packets transmitted, {} received, {}% packet loss, time {}ms\n",
            self.transmitted,
            self.received,
            percent(self.loss_percent()),
            elapsed.as_millis()
        );
        if self.received > 0 {
            out += &format!(
                "rtt min/avg/max/mdev = {}/{}/{}/{} ms\n",
                ms(self.min),
                ms(self.avg()),
                ms(self.max),
                ms(self.mdev())
            );
        }
        out
    }
}

impl PingRun {
    /// [`PingSummary::report`] for this run.
    pub fn report(&self, host: &str) -> String {
        self.summary.report(host, self.elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn lines_read_like_pings() {
        let r = PingReply {
            seq: 3,
            from: IpAddr::from([127, 0, 0, 1]),
            len: 64,
            ttl: Some(64),
            rtt: Duration::from_micros(45),
        };
        assert_eq!(
            r.to_string(),
            "64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 time=0.045 ms"
        );
        let mut s = PingSummary::default();
        s.transmitted = 3;
        assert_eq!(
            s.report("h", Duration::from_millis(2003)),
            "--- h ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2003ms\n"
        );
        assert_eq!(percent(100.0 / 3.0), "33.3333");
        assert_eq!(percent(25.0), "25");
        assert_eq!(percent(0.0), "0");
    }
}
