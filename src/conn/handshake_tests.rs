//! The handshake timeout's rules, on made-up instants: its clock runs from the moment a
//! connection is up until a read finds the transport's handshake (TLS) over, through a close
//! asked for meanwhile, and never on a connection without one.

use super::*;
use crate::buf::BufPool;
use crate::error::TimeoutKind;
use std::io;
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// A transport whose handshake is over once `done` is set; it holds `ready` bytes of
/// plaintext to read.
struct Tls {
    done: bool,
    ready: usize,
}

impl Transport for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.ready.min(buf.len()) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => {
                self.ready -= n;
                Ok(n)
            }
        }
    }
    fn short_read_drains(&self) -> bool {
        true
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn connect_result(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn handshaking(&self) -> bool {
        !self.done
    }
}

fn read(c: &mut Conn, now: Instant, io: &mut Tls, pool: &mut BufPool) -> InputStep {
    let mut budget = Budget::new(1 << 20);
    let mut quota = 1 << 20;
    let cx = ReadCx {
        pool,
        budget: &mut budget,
        limit: 1 << 16,
        quota: &mut quota,
        hup: false,
    };
    let step = c.read(now, io, cx).step;
    c.after_secure_read(io);
    step
}

fn fire(c: &mut Conn, now: Instant) -> TimerStep {
    let mut wheel = crate::time::TimerWheel::new();
    let handle = wheel.insert(1, ());
    c.timers().arm(|_, _| handle);
    c.timers().on_timer(now, handle)
}

fn handshake(limit: Duration) -> Timeouts {
    Timeouts::NONE.with_handshake(limit)
}

/// A connection opened at `t0` with a TLS handshake to come.
fn secured(t0: Instant, timeouts: Timeouts, opened: Opened) -> Conn {
    let mut c = Conn::new(t0, timeouts, opened, false);
    c.expect_handshake();
    c
}

#[test]
fn an_accepted_handshake_is_timed_from_the_accept_until_a_read_finds_it_over() {
    let t0 = Instant::now();
    let mut pool = BufPool::new(64, 64, 4);
    let mut c = secured(t0, handshake(100 * MS), Opened::Accepted);
    assert_eq!(
        c.deadline(Some(TimeoutKind::Handshake)),
        Some(t0 + 100 * MS)
    );
    // Handshake records came and went: the clock does not move (bytes moving are no
    // progress until the handshake is over).
    let mut io = Tls {
        done: false,
        ready: 0,
    };
    let step = read(&mut c, t0 + 60 * MS, &mut io, &mut pool);
    assert!(matches!(step, InputStep::Drained), "{step:?}");
    assert_eq!(c.deadline(None), Some(t0 + 100 * MS));
    assert!(matches!(fire(&mut c, t0 + 99 * MS), TimerStep::Rearm));
    assert!(matches!(
        fire(&mut c, t0 + 100 * MS),
        TimerStep::TimedOut(TimeoutKind::Handshake)
    ));
    // The handler kept the connection: the clock restarts.
    c.timers().keep_open(TimeoutKind::Handshake, t0 + 100 * MS);
    assert_eq!(c.deadline(None), Some(t0 + 200 * MS));
    // A read that finds the handshake over (with the first plaintext) stops the clock.
    io.done = true;
    io.ready = 5;
    assert!(matches!(
        read(&mut c, t0 + 150 * MS, &mut io, &mut pool),
        InputStep::Deliver
    ));
    assert_eq!(c.deadline(Some(TimeoutKind::Handshake)), None);
    assert_eq!(c.deadline(None), None);
}

#[test]
fn an_outgoing_handshake_is_timed_from_the_connect_not_from_the_dial() {
    let t0 = Instant::now();
    let timeouts = handshake(100 * MS).with_connect(50 * MS);
    let mut c = secured(t0, timeouts, Opened::Connecting);
    assert_eq!(c.deadline(Some(TimeoutKind::Handshake)), None);
    assert_eq!(
        c.deadline(None),
        Some(t0 + 50 * MS),
        "the connect clock runs"
    );
    c.on_connected(t0 + 30 * MS);
    assert_eq!(c.deadline(Some(TimeoutKind::Connect)), None);
    assert_eq!(c.deadline(None), Some(t0 + 130 * MS));
    assert!(matches!(
        fire(&mut c, t0 + 130 * MS),
        TimerStep::TimedOut(TimeoutKind::Handshake)
    ));
}

#[test]
fn a_close_asked_for_during_the_handshake_is_still_bounded_by_it() {
    let t0 = Instant::now();
    let mut c = secured(t0, handshake(100 * MS), Opened::Accepted);
    assert!(c.close());
    assert_eq!(c.deadline(None), Some(t0 + 100 * MS));
    assert!(matches!(
        fire(&mut c, t0 + 100 * MS),
        TimerStep::TimedOut(TimeoutKind::Handshake)
    ));
    // So is one asked for while still connecting, once the connect completes.
    let mut c = secured(t0, handshake(100 * MS), Opened::Connecting);
    assert!(c.close());
    assert_eq!(c.deadline(None), None);
    c.on_connected(t0 + 10 * MS);
    assert_eq!(c.deadline(None), Some(t0 + 110 * MS));
}

#[test]
fn a_connection_without_a_handshake_never_times_one() {
    let t0 = Instant::now();
    let mut c = Conn::new(t0, handshake(100 * MS), Opened::Accepted, false);
    assert_eq!(c.deadline(None), None);
    // Setting the timeout on it changes nothing either.
    c.timers()
        .set_timeout(TimeoutKind::Handshake, Some(10 * MS), t0 + 5 * MS);
    assert_eq!(c.deadline(None), None);
    let mut c = Conn::new(t0, handshake(100 * MS), Opened::Connecting, false);
    c.on_connected(t0 + 1 * MS);
    assert_eq!(c.deadline(None), None);
}

#[test]
fn setting_the_handshake_timeout_midway_restarts_its_clock() {
    let t0 = Instant::now();
    let mut c = secured(t0, Timeouts::NONE, Opened::Accepted);
    assert_eq!(c.deadline(None), None, "no handshake timeout: none runs");
    c.timers()
        .set_timeout(TimeoutKind::Handshake, Some(40 * MS), t0 + 20 * MS);
    assert_eq!(c.deadline(None), Some(t0 + 60 * MS));
    assert_eq!(c.status().timeouts.handshake, Some(40 * MS));
}

#[test]
fn clocks_that_share_the_handshakes_instant_leave_it_alone() {
    let t0 = Instant::now();
    let mut pool = BufPool::new(64, 64, 4);
    let mut c = secured(t0, handshake(100 * MS), Opened::Accepted);
    // Setting the frame timeout during the handshake: the handshake's clock goes on.
    c.timers()
        .set_timeout(TimeoutKind::Frame, Some(5 * MS), t0 + 30 * MS);
    assert_eq!(
        c.deadline(Some(TimeoutKind::Handshake)),
        Some(t0 + 100 * MS)
    );
    // Reading paused by output written before the handshake ended, then resumed: no message
    // is partial, and the handshake's deadline stays where it was.
    let queued = c.queue(t0, 10, 1 << 20, 100, &mut pool, |wq, p| {
        wq.push_copy(&[0; 100], p)
    });
    assert!(queued.is_ok());
    c.on_written(t0 + 50 * MS, 100, &mut pool);
    let (read_again, _) = c.after_flush(t0 + 50 * MS, true, false, 0, Duration::ZERO);
    assert!(read_again, "reading resumed");
    assert_eq!(
        c.deadline(Some(TimeoutKind::Handshake)),
        Some(t0 + 100 * MS)
    );
}
