//! T1: how late a 250 µs timer fires on an otherwise idle reactor.
//!
//! Each candidate sets a timer 250 µs out, records how long after that deadline it ran, and
//! sets the next, `SAMPLES` times, on a thread pinned to CPU 0 (the servers' CPU): netloop's
//! precise timer (`Context::set_precise_timer`, a `timerfd` in the poll set), netloop's wheel
//! timer (`set_timer`, whole milliseconds), tokio's `sleep_until` on a current-thread
//! runtime, and `std::thread::sleep` (a plain `nanosleep`) as the floor.

use std::io;
use std::time::{Duration, Instant};

use netloop::reactor::{Context, Handler, Reactor, TimerId};
use netloop_cli::process as sys;

/// The timer's length.
pub const AFTER: Duration = Duration::from_micros(250);

/// Lateness figures of one candidate, in microseconds.
pub struct Lateness {
    pub name: &'static str,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

fn summarise(name: &'static str, mut late_ns: Vec<u64>) -> Lateness {
    late_ns.sort_unstable();
    let at = |q: f64| late_ns[((late_ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    Lateness {
        name,
        p50_us: at(0.5),
        p99_us: at(0.99),
        max_us: at(1.0),
    }
}

struct Chain {
    precise: bool,
    due: Instant,
    late_ns: Vec<u64>,
    samples: usize,
}

impl Chain {
    fn arm(&mut self, cx: &mut Context<'_>) {
        // The timer counts from the turn's `now`: that is its deadline.
        self.due = cx.now() + AFTER;
        if self.precise {
            cx.set_precise_timer(AFTER, 0);
        } else {
            cx.set_timer(AFTER, 0);
        }
    }
}

impl Handler for Chain {
    fn on_timer(&mut self, cx: &mut Context<'_>, _: TimerId, _: u64) {
        let late = Instant::now().saturating_duration_since(self.due);
        self.late_ns.push(late.as_nanos() as u64);
        if self.late_ns.len() == self.samples {
            cx.stop();
        } else {
            self.arm(cx);
        }
    }
}

fn netloop_chain(precise: bool, samples: usize) -> io::Result<Vec<u64>> {
    let mut reactor = Reactor::new(Chain {
        precise,
        due: Instant::now(),
        late_ns: Vec::with_capacity(samples),
        samples,
    })?;
    reactor.with_context(|h, cx| h.arm(cx));
    reactor.run()?;
    Ok(std::mem::take(&mut reactor.handler_mut().late_ns))
}

fn tokio_chain(samples: usize) -> io::Result<Vec<u64>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    Ok(rt.block_on(async {
        let mut late = Vec::with_capacity(samples);
        for _ in 0..samples {
            let due = Instant::now() + AFTER;
            tokio::time::sleep_until(due.into()).await;
            late.push(Instant::now().saturating_duration_since(due).as_nanos() as u64);
        }
        late
    }))
}

fn sleep_chain(samples: usize) -> Vec<u64> {
    (0..samples)
        .map(|_| {
            let due = Instant::now() + AFTER;
            std::thread::sleep(AFTER);
            Instant::now().saturating_duration_since(due).as_nanos() as u64
        })
        .collect()
}

/// Run every candidate, one after another, on a thread pinned to CPU 0.
pub fn run(samples: usize) -> io::Result<Vec<Lateness>> {
    std::thread::spawn(move || {
        let _ = sys::pin_to_cpu(0);
        Ok(vec![
            summarise("netloop precise", netloop_chain(true, samples)?),
            summarise("netloop wheel", netloop_chain(false, samples)?),
            summarise("tokio-ct sleep", tokio_chain(samples)?),
            summarise("thread::sleep", sleep_chain(samples)),
        ])
    })
    .join()
    .map_err(|_| io::Error::other("the timer bench panicked"))?
}
