//! A property test: one [`Conn`] driven by random events and `now`s, the way the reactor
//! drives it, against a small model of what must hold.
//!
//! The driver below is the reactor's protocol in miniature, through `Conn`'s public calls
//! only: a peer (the connection's `Transport`) whose bytes wait in a "kernel" until the
//! connection reads them, a handler that consumes some of what it is shown
//! (and sometimes announces the size of the message it is receiving), output queued and
//! flushed in pieces, and a timer wheel with the connection's one entry, fired when the clock
//! passes it. After every event it checks:
//!
//! * bytes are delivered in order and once: what the handler is shown always starts at the
//!   first byte it has not consumed, and what it consumed is exactly the peer's stream so far;
//!   what is written is exactly the queued stream, in order;
//! * the budget is never over its limit, always equals the connection's charge, and is fully
//!   returned when the connection closes;
//! * the armed deadline is never in the past once due timers have fired, and never after the
//!   connection's earliest deadline;
//! * every path ends closed, with exactly one reason: at the end of each case the peer goes
//!   quiet and then finishes, the clock runs on, and the connection must close within a
//!   bounded number of steps.

use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{
    Budget, Conn, FlushStep, InputStep, Opened, Queued, ReadCx, Timeouts, TimerStep, Transport,
};
use crate::buf::{BufPool, ReadBuf};
use crate::error::CloseReason;
use crate::time::{TimerHandle, TimerWheel};

const BLOCK: usize = 256;
const LIMIT: usize = 8 * 1024;
const BUDGET: usize = 2 * 1024;
const HIGH: usize = 4 * 1024;
const CAP: usize = 16 * 1024;
const LOW: usize = 1024;
const LINGER: Duration = Duration::from_millis(200);

/// What happens next.
#[derive(Clone, Debug)]
enum Event {
    /// The peer sends `n` bytes.
    Send(usize),
    /// The peer finishes sending (end of file).
    Finish,
    /// The socket is readable (or an earlier read was cut short): read as the reactor does.
    Readable,
    /// The handler queues `n` bytes.
    Queue(usize),
    /// The kernel takes up to `n` bytes of output.
    Writable(usize),
    /// The handler announces a message of `n` bytes in all.
    Expect(usize),
    /// The handler closes the connection.
    Close,
    /// The handler half-closes it.
    ShutdownWrite,
    /// The budget frees up elsewhere: admit the connection if it waits.
    Admit,
    /// Time passes.
    Wait(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (1usize..2000).prop_map(Event::Send),
        1 => Just(Event::Finish),
        4 => Just(Event::Readable),
        3 => (1usize..3000).prop_map(Event::Queue),
        3 => (0usize..4000).prop_map(Event::Writable),
        1 => (1usize..6000).prop_map(Event::Expect),
        1 => Just(Event::Close),
        1 => Just(Event::ShutdownWrite),
        2 => Just(Event::Admit),
        3 => (0u64..400).prop_map(Event::Wait),
    ]
}

/// The byte at `i` of the peer's stream, and of the output stream.
fn in_byte(i: usize) -> u8 {
    (i % 251) as u8
}
fn out_byte(i: usize) -> u8 {
    (i % 241) as u8
}

/// The peer as the connection's transport: the bytes it sent that wait to be read, whether
/// it finished, and the room the kernel has for output this time. It checks the output's
/// order as it takes it.
struct Wire<'a> {
    sent: usize,
    read: &'a mut usize,
    finished: bool,
    room: usize,
    written: &'a mut usize,
}

impl Wire<'_> {
    /// Take up to the room left of `data`, checking each byte is the next of the stream.
    fn take(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.room);
        for (i, &b) in data[..n].iter().enumerate() {
            assert_eq!(
                b,
                out_byte(*self.written + i),
                "output byte {} out of order",
                *self.written + i
            );
        }
        self.room -= n;
        *self.written += n;
        n
    }
}

impl Transport for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = self.sent - *self.read;
        if pending > 0 {
            let n = pending.min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = in_byte(*self.read + i);
            }
            *self.read += n;
            Ok(n)
        } else if self.finished {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    fn short_read_drains(&self) -> bool {
        true
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for s in bufs {
            let took = self.take(s);
            n += took;
            if took < s.len() {
                break;
            }
        }
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn connect_result(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One connection, its peer, its handler and the pieces of the reactor it needs.
struct Driver {
    conn: Conn,
    pool: BufPool,
    budget: Budget,
    wheel: TimerWheel<()>,
    t0: Instant,
    now: Instant,
    /// The connection's armed entry, as the wheel holds it: the handle and its deadline.
    armed: Option<(TimerHandle, Instant)>,
    /// Bytes the peer sent (in `in_byte` order) and that the connection has read.
    sent: usize,
    read: usize,
    peer_finished: bool,
    /// Bytes the handler consumed (checked against `in_byte`), and how much it leaves.
    consumed: usize,
    consume_share: u8,
    /// Output bytes queued and written.
    queued: usize,
    written: usize,
    /// How the connection ended, each time it did.
    closed: Vec<CloseReason>,
}

impl Driver {
    fn new(timeouts: Timeouts, consume_share: u8) -> Driver {
        let t0 = Instant::now();
        let mut d = Driver {
            conn: Conn::new(t0, timeouts, Opened::Accepted, false),
            pool: BufPool::new(BLOCK, BLOCK, 4),
            budget: Budget::new(BUDGET),
            wheel: TimerWheel::new(),
            t0,
            now: t0,
            armed: None,
            sent: 0,
            read: 0,
            peer_finished: false,
            consumed: 0,
            consume_share,
            queued: 0,
            written: 0,
            closed: Vec::new(),
        };
        d.rearm();
        d
    }

    fn is_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    /// The reactor's `rearm`: move the wheel entry when the connection says so.
    fn rearm(&mut self) {
        let (wheel, t0) = (&mut self.wheel, self.t0);
        let mut armed = None;
        self.conn.timers().arm(|old, at| {
            if let Some(old) = old {
                wheel.cancel(old);
            }
            let tick = at.saturating_duration_since(t0).as_millis() as u64;
            let handle = wheel.insert(tick.max(1), ());
            armed = Some((handle, at));
            handle
        });
        if armed.is_some() {
            self.armed = armed;
        }
    }

    /// The connection closes with `reason`: its resources go back at once.
    fn close_now(&mut self, reason: CloseReason) {
        assert!(
            self.closed.is_empty(),
            "closed twice: {:?}, then {reason:?}",
            self.closed
        );
        if let Some(h) = self.conn.release(&mut self.pool, &mut self.budget) {
            self.wheel.cancel(h);
        }
        self.armed = None;
        assert_eq!(
            self.budget.used(),
            0,
            "the budget is not fully returned at close"
        );
        self.closed.push(reason);
    }

    /// Read as the reactor's read loop does, until the connection stops or the peer's bytes
    /// run out.
    fn readable(&mut self) {
        for _ in 0..64 {
            if self.is_closed() {
                return;
            }
            let mut quota = usize::MAX;
            let mut wire = Wire {
                sent: self.sent,
                read: &mut self.read,
                finished: self.peer_finished,
                room: 0,
                written: &mut self.written,
            };
            let cx = ReadCx {
                pool: &mut self.pool,
                budget: &mut self.budget,
                limit: LIMIT,
                quota: &mut quota,
                hup: false,
            };
            let read = self.conn.read(self.now, &mut wire, cx);
            match read.step {
                InputStep::Deliver => {
                    let rbuf = self.conn.take_input();
                    let used = self.handle(&rbuf);
                    if self.conn.restore_input(
                        self.now,
                        rbuf,
                        used,
                        read.drained,
                        &mut self.pool,
                        &mut self.budget,
                    ) {
                        self.rearm();
                    }
                    if read.drained {
                        return self.rearm();
                    }
                }
                InputStep::Discarded => {}
                InputStep::WaitForBudget => {
                    assert!(self.conn.status().starved, "told to wait, and not waiting");
                    return;
                }
                // The handler's default: close when the peer has finished.
                InputStep::ReadClosed => {
                    self.conn.close();
                    return self.flush(0);
                }
                InputStep::Close(reason) => return self.close_now(reason),
                // Not reading now, drained, or (never, with no quota) yielding.
                _ => return,
            }
            self.rearm();
        }
    }

    /// The handler is shown the unconsumed input: it must start at the first byte not yet
    /// consumed. It consumes a share of it (all of it when the share is 100).
    fn handle(&mut self, rbuf: &ReadBuf) -> usize {
        let data = rbuf.data();
        for (i, &b) in data.iter().enumerate() {
            assert_eq!(
                b,
                in_byte(self.consumed + i),
                "byte {} shown to the handler is not the peer's",
                self.consumed + i
            );
        }
        let used = data.len() * usize::from(self.consume_share) / 100;
        self.consumed += used;
        used
    }

    /// The reactor's flush: write what the kernel takes (`room` bytes), then ask what next.
    fn flush(&mut self, room: usize) {
        if self.is_closed() || !self.conn.needs_flush() {
            return;
        }
        let mut wire = Wire {
            sent: self.sent,
            read: &mut self.read,
            finished: self.peer_finished,
            room,
            written: &mut self.written,
        };
        let flushed = self
            .conn
            .flush(self.now, &mut wire, &mut self.pool, (LOW, LINGER));
        if let FlushStep::Close(reason) = flushed.step {
            return self.close_now(reason);
        }
        self.rearm();
        if flushed.read_again {
            self.readable();
        }
    }

    /// Fire the connection's entry while its deadline has passed, as the turn's timer step
    /// does; a timeout closes the connection (the handler's default).
    fn expire(&mut self) {
        for _ in 0..100 {
            let Some((handle, at)) = self.armed else {
                return;
            };
            if self.is_closed() || at > self.now {
                return;
            }
            self.armed = None;
            self.wheel.cancel(handle);
            match self.conn.timers().on_timer(self.now, handle) {
                TimerStep::Stale | TimerStep::Rearm => {}
                TimerStep::TimedOut(kind) => {
                    return self.close_now(CloseReason::TimedOut(kind));
                }
                TimerStep::Close(reason) => return self.close_now(reason),
            }
            self.rearm();
        }
        panic!("the connection's entry keeps falling due at {:?}", self.now);
    }

    fn apply(&mut self, event: &Event) {
        if self.is_closed() {
            return;
        }
        match *event {
            Event::Send(n) if !self.peer_finished => self.sent += n,
            Event::Send(_) => {}
            Event::Finish => self.peer_finished = true,
            Event::Readable => self.readable(),
            Event::Queue(n) => {
                let start = self.queued;
                let data: Vec<u8> = (start..start + n).map(out_byte).collect();
                let queued = self
                    .conn
                    .queue(self.now, HIGH, CAP, n, &mut self.pool, |q, p| {
                        q.push_copy(&data, p)
                    });
                match queued {
                    Ok(Queued::Started) => {
                        self.queued += n;
                        self.rearm();
                    }
                    Ok(_) => self.queued += n,
                    // Refused: closing, shut, or over the cap. Nothing was queued.
                    Err(_) => {}
                }
            }
            Event::Writable(room) => self.flush(room),
            Event::Expect(total) => {
                let total = total.min(LIMIT);
                if self.conn.expect_input(total, &mut self.budget, BLOCK) {
                    assert!(self.conn.status().starved);
                    self.rearm();
                }
            }
            Event::Close => {
                self.conn.close();
                self.flush(0);
            }
            Event::ShutdownWrite => {
                self.conn.shutdown_write();
                self.flush(0);
            }
            Event::Admit => {
                if self.conn.status().starved && self.conn.admit(self.now, &mut self.budget, BLOCK)
                {
                    self.rearm();
                    self.readable();
                }
            }
            Event::Wait(ms) => {
                self.now += Duration::from_millis(ms);
            }
        }
        if !self.is_closed() {
            self.expire();
        }
    }

    /// What must hold between events.
    fn check(&self) {
        assert!(self.consumed <= self.read && self.read <= self.sent);
        assert!(self.written <= self.queued);
        if self.is_closed() {
            assert_eq!(self.budget.used(), 0);
            return;
        }
        assert!(self.budget.used() <= BUDGET, "the budget is over its limit");
        assert_eq!(
            self.budget.used(),
            self.conn.status().charge,
            "the budget and the connection's charge disagree"
        );
        if let Some((_, at)) = self.armed {
            assert!(at > self.now, "the armed deadline {at:?} is in the past");
        }
        if let Some(next) = self.conn.deadline(None) {
            let (_, at) = self.armed.expect("a deadline and no wheel entry");
            assert!(
                at <= next,
                "the wheel entry fires after the earliest deadline"
            );
        }
    }

    /// The end of every path: the peer finishes and reads everything, the clock runs on.
    fn finish(&mut self) {
        self.peer_finished = true;
        for _ in 0..200 {
            if self.is_closed() {
                break;
            }
            self.apply(&Event::Readable);
            self.apply(&Event::Writable(CAP));
            self.apply(&Event::Admit);
            self.apply(&Event::Close);
            self.apply(&Event::Wait(50));
            self.check();
        }
        assert_eq!(
            self.closed.len(),
            1,
            "the connection did not end with one close reason"
        );
    }
}

fn timeouts() -> impl Strategy<Value = Timeouts> {
    let ms = |r: std::ops::Range<u64>| proptest::option::of(r.prop_map(Duration::from_millis));
    (ms(50..2000), ms(50..2000), ms(100..5000), ms(50..2000)).prop_map(
        |(read, write, idle, frame)| {
            let mut t = Timeouts::NONE;
            t.read = read;
            t.write = write;
            t.idle = idle;
            t.frame = frame;
            t
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn a_connection_keeps_its_promises_under_any_events(
        timeouts in timeouts(),
        consume_share in prop_oneof![Just(100u8), 0u8..=100],
        events in proptest::collection::vec(event(), 0..80),
    ) {
        let mut d = Driver::new(timeouts, consume_share);
        d.check();
        for e in &events {
            d.apply(e);
            d.check();
        }
        d.finish();
    }
}
