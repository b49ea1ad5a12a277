//! Steady-state echo (TCP stream, UDP, framed) allocates nothing on the heap per message.
//!
//! A counting global allocator counts allocations made on the reactor's thread while it runs
//! turns; clients run on other threads and are not counted.

// The library's test helpers, shared rather than copied.
#[path = "../../tests/util/mod.rs"]
mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netloop::reactor::Reactor;
use netloop_cli::services::CourseServer;
use util::{connect, pattern, STEP};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNT_HERE.try_with(|c| c.get()).unwrap_or(false)
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// the only addition is an atomic counter increment, which cannot allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, passed through.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARMUP: usize = 500;
const MEASURED: usize = 5000;

#[test]
fn steady_state_echo_allocates_nothing_per_message() {
    use std::io::Write;

    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let tcp = reactor.listener_addr(l).unwrap();
    let u = reactor.bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    let udp = reactor.udp_addr(u).unwrap();
    let f = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    reactor.handler_mut().serve_framed(f);
    let framed = reactor.listener_addr(f).unwrap();

    // Messages done by each client; clients ping-pong so each message is one round trip.
    let progress: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    let failed = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..2 {
        let progress = Arc::clone(&progress);
        let failed = Arc::clone(&failed);
        clients.push(std::thread::spawn(move || {
            let mut c = connect(tcp);
            for n in 0..WARMUP + MEASURED {
                // Sizes from 1 byte to 20 KiB, so replies span several pooled blocks.
                let len = 1 + (n * 7919) % (20 * 1024);
                let msg = pattern((i * 100_000 + n) as u64, len);
                c.write_all(&msg).unwrap();
                if util::read_n(&mut c, len) != msg {
                    failed.store(true, Ordering::SeqCst);
                    return;
                }
                progress[i].store(n + 1, Ordering::SeqCst);
            }
        }));
    }
    {
        let progress = Arc::clone(&progress);
        let failed = Arc::clone(&failed);
        clients.push(std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(STEP)).unwrap();
            let mut buf = vec![0; 2048];
            for n in 0..WARMUP + MEASURED {
                let msg = pattern(n as u64, 1 + n % 1400);
                s.send_to(&msg, udp).unwrap();
                let (len, _) = s.recv_from(&mut buf).unwrap();
                let upper: Vec<u8> = msg.iter().map(u8::to_ascii_uppercase).collect();
                if buf[..len] != upper[..] {
                    failed.store(true, Ordering::SeqCst);
                    return;
                }
                progress[2].store(n + 1, Ordering::SeqCst);
            }
        }));
    }

    {
        // Framed echo: several frames per write, so one read holds whole and partial frames.
        let progress = Arc::clone(&progress);
        let failed = Arc::clone(&failed);
        clients.push(std::thread::spawn(move || {
            let mut c = connect(framed);
            let codec = netloop::framing::Codec::default();
            for n in 0..WARMUP + MEASURED {
                let payloads: Vec<Vec<u8>> = (0..3)
                    .map(|k| pattern((n * 3 + k) as u64, (n * 131 + k * 977) % 9000))
                    .collect();
                let mut wire = Vec::new();
                for p in &payloads {
                    codec.encode_to_vec(p, &mut wire).unwrap();
                }
                c.write_all(&wire).unwrap();
                if util::read_n(&mut c, wire.len()) != wire {
                    failed.store(true, Ordering::SeqCst);
                    return;
                }
                progress[3].store(n + 1, Ordering::SeqCst);
            }
        }));
    }

    let done = |p: &[AtomicUsize; 4]| {
        p.iter()
            .all(|a| a.load(Ordering::SeqCst) == WARMUP + MEASURED)
    };
    let warm = |p: &[AtomicUsize; 4]| p.iter().all(|a| a.load(Ordering::SeqCst) >= WARMUP);
    let start = Instant::now();
    let mut measured_turns = 0u64;
    let mut allocs_in_turns = 0usize;
    while !done(&progress) && !failed.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "clients stalled"
        );
        let measure = warm(&progress);
        let before = ALLOCS.load(Ordering::SeqCst);
        COUNT_HERE.with(|c| c.set(measure));
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
        COUNT_HERE.with(|c| c.set(false));
        if measure {
            measured_turns += 1;
            allocs_in_turns += ALLOCS.load(Ordering::SeqCst) - before;
        }
    }
    for c in clients {
        c.join().unwrap();
    }
    assert!(!failed.load(Ordering::SeqCst), "an echo came back wrong");
    let stats = *reactor.stats();
    assert!(measured_turns > 100, "only {measured_turns} turns measured");
    assert!(stats.datagrams_in >= (WARMUP + MEASURED) as u64);
    assert_eq!(
        allocs_in_turns, 0,
        "{allocs_in_turns} heap allocations in {measured_turns} steady-state turns"
    );
}
