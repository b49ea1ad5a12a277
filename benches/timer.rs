//! The timer wheel against a `BTreeMap` timer set, the usual simple alternative, on the
//! reactor's workloads. Run with `cargo bench --bench timer`.

mod support;

use std::collections::BTreeMap;

use netloop::time::{TimerHandle, TimerWheel};
use support::{measure, report, Rng};

const N: usize = 100_000;

/// The simple alternative: deadlines in a sorted map, cancel by (deadline, seq) key.
#[derive(Default)]
struct TreeTimers {
    map: BTreeMap<(u64, u64), u32>,
    seq: u64,
}

impl TreeTimers {
    fn insert(&mut self, deadline: u64, v: u32) -> (u64, u64) {
        self.seq += 1;
        self.map.insert((deadline, self.seq), v);
        (deadline, self.seq)
    }
    fn cancel(&mut self, k: (u64, u64)) -> Option<u32> {
        self.map.remove(&k)
    }
    fn poll(&mut self, now: u64) -> Option<u32> {
        let (&k, _) = self.map.first_key_value()?;
        if k.0 <= now {
            self.map.remove(&k)
        } else {
            None
        }
    }
}

fn deadlines(seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    // Mostly timeouts of a few seconds to a minute, as a server's connections have.
    (0..N).map(|_| 1 + rng.below(60_000)).collect()
}

fn main() {
    let ds = deadlines(1);

    // Insert N timers, cancel every one (a connection closing before its timeout).
    let insert_cancel = [
        measure("TimerWheel insert+cancel", N as u64, || {
            let mut w = TimerWheel::with_capacity(N);
            let hs: Vec<TimerHandle> = ds.iter().map(|&d| w.insert(d, 0u32)).collect();
            hs.into_iter().filter_map(|h| w.cancel(h)).count()
        }),
        measure("BTreeMap insert+cancel", N as u64, || {
            let mut t = TreeTimers::default();
            let ks: Vec<_> = ds.iter().map(|&d| t.insert(d, 0u32)).collect();
            ks.into_iter().filter_map(|k| t.cancel(k)).count()
        }),
    ];
    report("insert then cancel 100k timers (1..60 s)", &insert_cancel);

    // Insert N timers, then advance time in 1 ms steps until all have fired.
    let expire = [
        measure("TimerWheel insert+expire", N as u64, || {
            let mut w = TimerWheel::with_capacity(N);
            for &d in &ds {
                w.insert(d, 0u32);
            }
            let mut fired = 0;
            for now in (0..=60_000).step_by(1) {
                while w.poll(now).is_some() {
                    fired += 1;
                }
            }
            fired
        }),
        measure("BTreeMap insert+expire", N as u64, || {
            let mut t = TreeTimers::default();
            for &d in &ds {
                t.insert(d, 0u32);
            }
            let mut fired = 0;
            for now in 0..=60_000 {
                while t.poll(now).is_some() {
                    fired += 1;
                }
            }
            fired
        }),
    ];
    report("insert 100k timers, expire them in 1 ms steps", &expire);
}
