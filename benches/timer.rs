//! Timers on criterion: netloop's timer wheel beside tokio-util's `DelayQueue`, a
//! `BinaryHeap` with lazy deletion (netloop's own `PreciseTimers`, which keeps the reactor's
//! sub-millisecond timers) and a `BTreeMap`, at 1k, 100k and 1M live timers. Run with
//! `cargo bench --bench timer`.
//!
//! Three workloads, each reported per timer (`elements`):
//! * `insert_cancel/N`: insert N timers (deadlines 1 ms..60 s, as connections' timeouts are),
//!   then cancel every one (connections that close before their timeout).
//! * `rearm/N`: N timers live; move each to a new deadline (cancel and insert: a connection's
//!   timeout restarted by traffic, the reactor's commonest timer operation).
//! * `expire/N`: insert N timers, then advance time 1 ms at a time for 60 s, taking out every
//!   timer as it falls due.
//!
//! `DelayQueue` runs on a current-thread tokio runtime with its clock paused, so time moves
//! only when the bench advances it, as for the others; its milliseconds are real
//! `Duration`s from the runtime's start.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use netloop::time::{PreciseHandle, PreciseTimers, TimerHandle, TimerWheel};
use tokio_util::time::{delay_queue, DelayQueue};

/// Deterministic pseudo-random deadlines (xorshift64*), 1..=60,000 ms.
fn deadlines(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            1 + x.wrapping_mul(0x2545_F491_4F6C_DD1D) % 60_000
        })
        .collect()
}

/// What each candidate offers the bench. Deadlines and `now` are milliseconds.
trait Timers {
    type Handle: Copy;
    fn new(capacity: usize) -> Self;
    fn insert(&mut self, deadline: u64) -> Self::Handle;
    fn cancel(&mut self, h: Self::Handle);
    /// Advance 1 ms at a time up to `until`, taking out every due timer; how many fired.
    fn expire_until(&mut self, until: u64) -> usize;
}

struct Wheel(TimerWheel<u32>);

impl Timers for Wheel {
    type Handle = TimerHandle;
    fn new(capacity: usize) -> Self {
        Wheel(TimerWheel::with_capacity(capacity))
    }
    fn insert(&mut self, deadline: u64) -> TimerHandle {
        self.0.insert(deadline, 0)
    }
    fn cancel(&mut self, h: TimerHandle) {
        black_box(self.0.cancel(h));
    }
    fn expire_until(&mut self, until: u64) -> usize {
        step_through(until, |now| self.0.poll(now).is_some())
    }
}

/// Advance 1 ms at a time up to `until`, calling `fire(now)` until it says nothing more is
/// due; how many fired.
fn step_through(until: u64, mut fire: impl FnMut(u64) -> bool) -> usize {
    let mut fired = 0;
    for now in 0..=until {
        while fire(now) {
            fired += 1;
        }
    }
    fired
}

struct Heap(PreciseTimers<u64, u32>);

impl Timers for Heap {
    type Handle = PreciseHandle;
    fn new(_: usize) -> Self {
        Heap(PreciseTimers::new())
    }
    fn insert(&mut self, deadline: u64) -> PreciseHandle {
        self.0.insert(deadline, 0)
    }
    fn cancel(&mut self, h: PreciseHandle) {
        black_box(self.0.cancel(h));
    }
    fn expire_until(&mut self, until: u64) -> usize {
        step_through(until, |now| self.0.poll(now).is_some())
    }
}

/// Deadlines in a sorted map, cancelled by their (deadline, sequence) key.
struct Tree {
    map: BTreeMap<(u64, u64), u32>,
    seq: u64,
}

impl Timers for Tree {
    type Handle = (u64, u64);
    fn new(_: usize) -> Self {
        Tree {
            map: BTreeMap::new(),
            seq: 0,
        }
    }
    fn insert(&mut self, deadline: u64) -> (u64, u64) {
        self.seq += 1;
        self.map.insert((deadline, self.seq), 0);
        (deadline, self.seq)
    }
    fn cancel(&mut self, k: (u64, u64)) {
        black_box(self.map.remove(&k));
    }
    fn expire_until(&mut self, until: u64) -> usize {
        step_through(until, |now| match self.map.first_entry() {
            Some(entry) if entry.key().0 <= now => {
                entry.remove();
                true
            }
            _ => false,
        })
    }
}

/// tokio-util's `DelayQueue` on a paused current-thread runtime.
struct Delay {
    rt: tokio::runtime::Runtime,
    queue: DelayQueue<u32>,
}

impl Timers for Delay {
    type Handle = delay_queue::Key;
    fn new(capacity: usize) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a tokio runtime");
        let queue = {
            let _in_runtime = rt.enter();
            DelayQueue::with_capacity(capacity)
        };
        Delay { rt, queue }
    }
    fn insert(&mut self, deadline: u64) -> delay_queue::Key {
        let _in_runtime = self.rt.enter();
        self.queue.insert(0, Duration::from_millis(deadline))
    }
    fn cancel(&mut self, k: delay_queue::Key) {
        black_box(self.queue.remove(&k));
    }
    fn expire_until(&mut self, until: u64) -> usize {
        let queue = &mut self.queue;
        self.rt.block_on(async {
            let mut fired = 0;
            for _ in 0..=until {
                tokio::time::advance(Duration::from_millis(1)).await;
                std::future::poll_fn(|cx: &mut Context<'_>| {
                    while let Poll::Ready(Some(_)) = queue.poll_expired(cx) {
                        fired += 1;
                    }
                    Poll::Ready(())
                })
                .await;
            }
            fired
        })
    }
}

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn insert_cancel<T: Timers>(g: &mut Group<'_>, name: &str, n: usize) {
    let ds = deadlines(n, 1);
    g.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter(|| {
            let mut t = T::new(n);
            let hs: Vec<T::Handle> = ds.iter().map(|&d| t.insert(d)).collect();
            for h in hs {
                t.cancel(h);
            }
        })
    });
}

fn rearm<T: Timers>(g: &mut Group<'_>, name: &str, n: usize) {
    let first = deadlines(n, 2);
    let next = deadlines(n, 3);
    let mut t = T::new(n);
    let mut hs: Vec<T::Handle> = first.iter().map(|&d| t.insert(d)).collect();
    g.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter(|| {
            for (h, &d) in hs.iter_mut().zip(&next) {
                t.cancel(*h);
                *h = t.insert(d);
            }
        })
    });
}

fn expire<T: Timers>(g: &mut Group<'_>, name: &str, n: usize) {
    let ds = deadlines(n, 4);
    g.bench_function(BenchmarkId::new(name, n), |b| {
        b.iter(|| {
            let mut t = T::new(n);
            for &d in &ds {
                t.insert(d);
            }
            let fired = t.expire_until(60_000);
            assert_eq!(fired, n, "{name}: every timer fires");
        })
    });
}

/// One workload: a group, every candidate at every size.
fn workload(c: &mut Criterion, group: &str, run: [fn(&mut Group<'_>, &str, usize); 4]) {
    let names = [
        "netloop TimerWheel",
        "tokio-util DelayQueue",
        "BinaryHeap lazy (PreciseTimers)",
        "BTreeMap",
    ];
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        g.throughput(Throughput::Elements(n as u64));
        for (f, name) in run.iter().zip(names) {
            f(&mut g, name, n);
        }
    }
    g.finish();
}

fn timers(c: &mut Criterion) {
    workload(
        c,
        "insert_cancel",
        [
            insert_cancel::<Wheel>,
            insert_cancel::<Delay>,
            insert_cancel::<Heap>,
            insert_cancel::<Tree>,
        ],
    );
    workload(
        c,
        "rearm",
        [rearm::<Wheel>, rearm::<Delay>, rearm::<Heap>, rearm::<Tree>],
    );
    workload(
        c,
        "expire",
        [
            expire::<Wheel>,
            expire::<Delay>,
            expire::<Heap>,
            expire::<Tree>,
        ],
    );
}

criterion_group!(benches, timers);
criterion_main!(benches);
