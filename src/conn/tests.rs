//! Unit tests of the connection state machine: events in, steps out, with made-up instants.

use super::steps::{AfterFlush, Input, NoRoom, ReadMode};
use super::*;
use crate::buf::BufPool;
use crate::error::{CloseReason, TimeoutKind};
use crate::time::TimerHandle;
use std::io;
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

fn pool() -> BufPool {
    BufPool::new(16, 16, 4)
}

fn big_budget() -> Budget {
    Budget::new(usize::MAX / 2)
}

fn dummy_handle() -> TimerHandle {
    let mut w = crate::time::TimerWheel::new();
    w.insert(1, ())
}

/// What the tests read of a connection, through its status and deadlines.
trait Look {
    fn next_deadline(&self) -> Option<Instant>;
    fn armed(&self) -> Option<TimerHandle>;
    fn is_starved(&self) -> bool;
    fn unconsumed(&self) -> usize;
    fn queued(&self) -> usize;
    fn charge(&self) -> usize;
}

impl Look for Conn {
    fn next_deadline(&self) -> Option<Instant> {
        self.deadline(None)
    }
    fn armed(&self) -> Option<TimerHandle> {
        self.status().armed
    }
    fn is_starved(&self) -> bool {
        self.status().starved
    }
    fn unconsumed(&self) -> usize {
        self.status().unconsumed
    }
    fn queued(&self) -> usize {
        self.status().queued
    }
    fn charge(&self) -> usize {
        self.status().charge
    }
}

fn with(t0: Instant, timeouts: Timeouts) -> Conn {
    Conn::new(t0, timeouts, Opened::Accepted, false)
}

fn push(c: &mut Conn, now: Instant, data: &[u8], pool: &mut BufPool) -> Queued {
    c.queue(now, 1 << 20, 1 << 21, data.len(), pool, |wq, p| {
        wq.push_copy(data, p)
    })
    .unwrap()
}

#[test]
fn idle_deadline_moves_with_traffic_without_rearming() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::idle(100 * MS));
    assert_eq!(c.timers().arm_at(), Some(t0 + 100 * MS));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 100 * MS);
    c.input_room(&mut p, 64, None, &mut big_budget()).unwrap();
    assert!(matches!(
        c.on_input(t0 + 50 * MS, Input::Bytes(1), &mut p, &mut big_budget()),
        InputStep::Deliver
    ));
    // Later deadline: the armed entry is early, which is fine (lazy).
    assert_eq!(c.timers().arm_at(), None);
    assert!(matches!(
        c.timers().on_timer(t0 + 100 * MS, h),
        TimerStep::Rearm
    ));
    assert_eq!(c.timers().arm_at(), Some(t0 + 150 * MS));
    c.timers().set_armed(h, t0 + 150 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 150 * MS, h),
        TimerStep::TimedOut(TimeoutKind::Idle)
    ));
}

#[test]
fn a_replaced_entry_is_stale() {
    let t0 = Instant::now();
    let mut c = with(t0, Timeouts::idle(10 * MS));
    let mut w = crate::time::TimerWheel::new();
    let old = w.insert(1, ());
    let new = w.insert(2, ());
    c.timers().set_armed(new, t0 + 10 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 20 * MS, old),
        TimerStep::Stale
    ));
}

#[test]
fn read_timeout_only_while_input_wanted() {
    let t0 = Instant::now();
    let mut p = pool();
    let read = Timeouts {
        read: Some(10 * MS),
        ..Timeouts::NONE
    };
    let mut c = Conn::new(t0, read, Opened::Connecting, false);
    assert_eq!(c.next_deadline(), None, "no read clock while connecting");
    c.on_connected(t0 + 5 * MS);
    assert_eq!(c.next_deadline(), Some(t0 + 15 * MS));
    // Backpressure pauses reading, and the read clock with it.
    let big = vec![0; 64];
    c.queue(t0 + 6 * MS, 32, 1024, big.len(), &mut p, |wq, p| {
        wq.push_copy(&big, p)
    })
    .unwrap();
    assert!(c.is_read_paused());
    assert_eq!(c.read_mode(), ReadMode::Ignore);
    assert_eq!(c.deadline(Some(TimeoutKind::Read)), None);
    // Draining below the low watermark resumes reading and restarts the clock.
    c.on_written(t0 + 8 * MS, 64, &mut p);
    let f = c.after_flush(t0 + 8 * MS, true, false, 16, Duration::ZERO);
    assert!(f.0);
    assert!(matches!(f.1, AfterFlush::Drained));
    assert_eq!(c.deadline(Some(TimeoutKind::Read)), Some(t0 + 18 * MS));
    // End of file: no more input wanted.
    assert!(matches!(
        c.on_input(t0 + 9 * MS, Input::Eof, &mut p, &mut big_budget()),
        InputStep::ReadClosed
    ));
    assert_eq!(c.deadline(Some(TimeoutKind::Read)), None);
}

#[test]
fn write_timeout_only_while_output_queued() {
    let t0 = Instant::now();
    let mut p = pool();
    let write = Timeouts {
        write: Some(10 * MS),
        ..Timeouts::NONE
    };
    let mut c = with(t0, write);
    assert_eq!(c.next_deadline(), None);
    assert_eq!(push(&mut c, t0 + 5 * MS, b"x", &mut p), Queued::Started);
    assert_eq!(push(&mut c, t0 + 6 * MS, b"y", &mut p), Queued::Added);
    assert_eq!(c.next_deadline(), Some(t0 + 15 * MS));
    assert_eq!(c.timers().arm_at(), Some(t0 + 15 * MS));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 15 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 15 * MS, h),
        TimerStep::TimedOut(TimeoutKind::Write)
    ));
}

#[test]
fn earlier_deadline_forces_rearm_and_earliest_kind_wins() {
    let t0 = Instant::now();
    let mut c = with(t0, Timeouts::idle(100 * MS));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 100 * MS);
    c.timers()
        .set_timeout(TimeoutKind::Read, Some(10 * MS), t0 + MS);
    assert_eq!(c.timers().arm_at(), Some(t0 + 11 * MS));
    assert!(matches!(
        c.timers().on_timer(t0 + 200 * MS, h),
        TimerStep::TimedOut(TimeoutKind::Read)
    ));
}

#[test]
fn huge_timeout_is_no_deadline() {
    let t0 = Instant::now();
    let c = with(t0, Timeouts::idle(Duration::MAX));
    assert_eq!(c.next_deadline(), None);
}

#[test]
fn close_flushes_then_lingers_until_the_peer_finishes() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::idle(MS));
    push(&mut c, t0, b"reply", &mut p);
    assert!(c.close());
    assert!(!c.close(), "a second close changes nothing");
    assert_eq!(c.read_mode(), ReadMode::Discard);
    assert!(c.queue(t0, 64, 128, 1, &mut p, |_, _| {}).is_err());
    // Input arriving while flushing is dropped.
    c.input_room(&mut p, 64, None, &mut big_budget()).unwrap();
    assert!(matches!(
        c.on_input(t0, Input::Bytes(3), &mut p, &mut big_budget()),
        InputStep::Discarded
    ));
    assert_eq!(c.unconsumed(), 0);
    c.on_written(t0 + MS, 5, &mut p);
    let f = c.after_flush(t0 + MS, true, false, 0, 2000 * MS);
    assert!(f.0);
    assert!(matches!(f.1, AfterFlush::Linger { shutdown: true }));
    // While lingering only the linger deadline counts.
    assert_eq!(c.next_deadline(), Some(t0 + 2001 * MS));
    match c.on_input(t0 + 2 * MS, Input::Eof, &mut p, &mut big_budget()) {
        InputStep::Close(CloseReason::Local) => {}
        other => panic!("expected a local close, got {other:?}"),
    }
}

#[test]
fn linger_deadline_closes_with_the_reason_asked_for() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::NONE);
    assert!(matches!(
        c.on_input(t0, Input::Eof, &mut p, &mut big_budget()),
        InputStep::ReadClosed
    ));
    c.close();
    // The peer already finished: no linger, and the close is the peer's.
    let f = c.after_flush(t0, false, false, 0, 2000 * MS);
    assert!(matches!(f.1, AfterFlush::Close(CloseReason::PeerClosed)));

    let mut c = with(t0, Timeouts::NONE);
    c.close();
    let f = c.after_flush(t0, false, false, 0, 10 * MS);
    assert!(matches!(f.1, AfterFlush::Linger { shutdown: true }));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 10 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 9 * MS, h),
        TimerStep::Rearm
    ));
    c.timers().set_armed(h, t0 + 10 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 10 * MS, h),
        TimerStep::Close(CloseReason::Local)
    ));
}

#[test]
fn eof_while_flushing_waits_for_the_output() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::NONE);
    push(&mut c, t0, b"reply", &mut p);
    c.close();
    assert!(matches!(
        c.on_input(t0, Input::Eof, &mut p, &mut big_budget()),
        InputStep::Wait
    ));
    c.on_written(t0, 5, &mut p);
    let f = c.after_flush(t0, true, false, 0, 2000 * MS);
    assert!(matches!(f.1, AfterFlush::Close(CloseReason::Local)));
}

#[test]
fn half_close_sends_fin_once_flushed_and_refuses_more_output() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::NONE);
    push(&mut c, t0, b"last words", &mut p);
    c.shutdown_write();
    assert!(c.queue(t0, 64, 128, 1, &mut p, |_, _| {}).is_err());
    let f = c.after_flush(t0, false, false, 0, MS);
    assert!(matches!(f.1, AfterFlush::Wait), "output still queued");
    c.on_written(t0, 10, &mut p);
    let f = c.after_flush(t0, true, false, 0, MS);
    assert!(matches!(f.1, AfterFlush::ShutdownWrite { drained: true }));
    // Reading goes on after a half-close.
    assert_eq!(c.read_mode(), ReadMode::Deliver);
}

#[test]
fn errors_while_lingering_end_the_close_asked_for_but_not_while_flushing() {
    let t0 = Instant::now();
    let mut p = pool();
    let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
    let mut c = with(t0, Timeouts::NONE);
    push(&mut c, t0, b"x", &mut p);
    c.close();
    match c.on_input(t0, Input::Failed(reset()), &mut p, &mut big_budget()) {
        InputStep::Close(CloseReason::Reset) => {}
        other => panic!("a reset while flushing loses output: {other:?}"),
    }
    let mut c = with(t0, Timeouts::NONE);
    c.close();
    c.after_flush(t0, false, false, 0, MS);
    match c.on_input(t0, Input::Failed(reset()), &mut p, &mut big_budget()) {
        InputStep::Close(CloseReason::Local) => {}
        other => panic!("a reset while lingering ends the close: {other:?}"),
    }
    let mut phase = super::phase::Phase::new(Opened::Accepted);
    phase.close(CloseReason::Local);
    phase.flushed(t0, false, MS);
    let gone = io::Error::from(io::ErrorKind::NotConnected);
    assert!(matches!(phase.shutdown_failed(gone), CloseReason::Local));
}

#[test]
fn records_drop_what_the_handler_left() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = Conn::new(t0, Timeouts::NONE, Opened::Accepted, true);
    let room = c
        .input_room(&mut p, 64, Some(40), &mut big_budget())
        .unwrap();
    assert!(room.len() >= 40, "room for the whole record");
    assert!(matches!(
        c.on_input(t0, Input::Bytes(40), &mut p, &mut big_budget()),
        InputStep::Deliver
    ));
    let rbuf = c.take_input();
    assert!(
        !c.restore_input(t0, rbuf, 10, false, &mut p, &mut big_budget()),
        "no frame timeout set"
    );
    assert_eq!(c.unconsumed(), 0);
    assert!(c
        .input_room(&mut p, 64, Some(65), &mut big_budget())
        .is_err());
}

#[test]
fn release_hands_back_the_armed_entry() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::idle(MS));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + MS);
    push(&mut c, t0, b"x", &mut p);
    assert_eq!(c.release(&mut p, &mut big_budget()), Some(h));
    assert_eq!(c.queued(), 0);
    assert_eq!(c.armed(), None);
}

#[test]
fn frame_clock_runs_from_the_first_byte_of_a_partial_message() {
    let t0 = Instant::now();
    let mut p = pool();
    let frame = Timeouts {
        frame: Some(100 * MS),
        ..Timeouts::NONE
    };
    let mut c = with(t0, frame);
    let read = |c: &mut Conn, at: Instant, n: usize, used: usize, p: &mut BufPool| {
        c.input_room(p, 1024, None, &mut big_budget()).unwrap();
        assert!(matches!(
            c.on_input(at, Input::Bytes(n), p, &mut big_budget()),
            InputStep::Deliver
        ));
        let rbuf = c.take_input();
        let _ = c.restore_input(at, rbuf, used, false, p, &mut big_budget());
    };
    assert_eq!(
        c.deadline(Some(TimeoutKind::Frame)),
        None,
        "nothing buffered"
    );
    // A partial message arrives at 10 ms and grows byte by byte: the clock keeps its start.
    read(&mut c, t0 + 10 * MS, 3, 0, &mut p);
    assert_eq!(c.deadline(Some(TimeoutKind::Frame)), Some(t0 + 110 * MS));
    read(&mut c, t0 + 50 * MS, 1, 0, &mut p);
    assert_eq!(c.deadline(Some(TimeoutKind::Frame)), Some(t0 + 110 * MS));
    // It completes at 60 ms, and the next one starts in the same read.
    read(&mut c, t0 + 60 * MS, 4, 6, &mut p);
    assert_eq!(c.deadline(Some(TimeoutKind::Frame)), Some(t0 + 160 * MS));
    // All used: no partial message, no clock.
    read(&mut c, t0 + 70 * MS, 1, 3, &mut p);
    assert_eq!(c.deadline(Some(TimeoutKind::Frame)), None);
    // The clock fires as its own kind.
    read(&mut c, t0 + 80 * MS, 1, 0, &mut p);
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 180 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 180 * MS, h),
        TimerStep::TimedOut(TimeoutKind::Frame)
    ));
}

#[test]
fn connect_clock_runs_only_while_connecting() {
    let t0 = Instant::now();
    let connect = Timeouts {
        connect: Some(100 * MS),
        ..Timeouts::NONE
    };
    let mut c = Conn::new(t0, connect, Opened::Connecting, false);
    assert_eq!(c.next_deadline(), Some(t0 + 100 * MS));
    let h = dummy_handle();
    c.timers().set_armed(h, t0 + 100 * MS);
    assert!(matches!(
        c.timers().on_timer(t0 + 100 * MS, h),
        TimerStep::TimedOut(TimeoutKind::Connect)
    ));
    c.on_connected(t0 + 5 * MS);
    assert_eq!(c.next_deadline(), None);
    let accepted = with(t0, connect);
    assert_eq!(
        accepted.next_deadline(),
        None,
        "an accepted connection never connects"
    );
}

#[test]
fn output_past_the_cap_is_refused_whole() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::NONE);
    let chunk = [1u8; 40];
    let q = |c: &mut Conn, p: &mut BufPool| {
        c.queue(t0, 64, 100, chunk.len(), p, |wq, p| wq.push_copy(&chunk, p))
    };
    assert!(q(&mut c, &mut p).is_ok());
    assert!(q(&mut c, &mut p).is_ok());
    let err = q(&mut c, &mut p).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(err.to_string().contains("past the limit of 100"), "{err}");
    assert_eq!(c.queued(), 80, "nothing of the refused write was queued");
    // Once some is written, there is room again.
    c.on_written(t0, 40, &mut p);
    assert!(q(&mut c, &mut p).is_ok());
}

#[test]
fn a_message_announced_whole_is_admitted_whole_or_waits() {
    let t0 = Instant::now();
    let mut p = BufPool::new(16, 16, 4);
    let mut budget = Budget::new(100);
    let mut a = with(t0, Timeouts::NONE);
    let mut b = with(t0, Timeouts::NONE);
    // One free block each; a message of 90 bytes charges 90 - 16 = 74.
    assert!(!a.expect_input(90, &mut budget, 16), "reserved at once");
    assert_eq!((a.charge(), budget.used()), (74, 74));
    // The second does not fit: it waits, reading stopped.
    assert!(b.expect_input(90, &mut budget, 16), "it begins to wait");
    assert!(!b.expect_input(90, &mut budget, 16), "already waiting");
    assert!(b.is_starved());
    assert_eq!(b.read_mode(), ReadMode::Ignore);
    assert!(!b.admit(t0, &mut budget, 16), "still no room");
    // The first message completes and is consumed: its charge goes back.
    a.input_room(&mut p, 1024, None, &mut budget).unwrap();
    assert!(matches!(
        a.on_input(t0, Input::Bytes(16), &mut p, &mut big_budget()),
        InputStep::Deliver
    ));
    let rbuf = a.take_input();
    // Consumed, and the socket drained: the block goes back and the claim with it.
    let _ = a.restore_input(t0, rbuf, 16, true, &mut p, &mut budget);
    assert_eq!((a.charge(), budget.used()), (0, 0));
    // Now the second is admitted, whole.
    assert!(b.admit(t0, &mut budget, 16));
    assert!(!b.is_starved());
    assert_eq!(budget.used(), 74);
    assert_eq!(b.read_mode(), ReadMode::Deliver);
    // Closing gives everything back.
    b.release(&mut p, &mut budget);
    assert_eq!(budget.used(), 0);
}

#[test]
fn growth_that_does_not_fit_is_undone_and_waits() {
    let t0 = Instant::now();
    let mut p = BufPool::new(16, 16, 4);
    let mut budget = Budget::new(20);
    let mut c = with(t0, Timeouts::NONE);
    // Fill the free block with a partial message the handler keeps.
    c.input_room(&mut p, 1024, None, &mut budget).unwrap();
    let _ = c.on_input(t0, Input::Bytes(16), &mut p, &mut big_budget());
    let rbuf = c.take_input();
    let _ = c.restore_input(t0, rbuf, 0, false, &mut p, &mut big_budget());
    // Growing to 32 bytes charges 16: fits. To 64 would charge 48: does not.
    c.input_room(&mut p, 1024, None, &mut budget).unwrap();
    assert_eq!(budget.used(), 16);
    let _ = c.on_input(t0, Input::Bytes(16), &mut p, &mut big_budget());
    let rbuf = c.take_input();
    let _ = c.restore_input(t0, rbuf, 0, false, &mut p, &mut big_budget());
    assert!(matches!(
        c.input_room(&mut p, 1024, None, &mut budget),
        Err(NoRoom::Wait)
    ));
    assert!(c.is_starved());
    assert_eq!(c.unconsumed(), 32, "nothing lost by the undone growth");
    assert_eq!(budget.used(), 16, "the refused growth charged nothing");
}

#[test]
fn a_reserved_message_grows_to_its_size_not_past_it() {
    let t0 = Instant::now();
    let mut p = BufPool::new(16, 16, 4);
    // Room for exactly one 70-byte message beyond the free block: 54 bytes.
    let mut budget = Budget::new(54);
    let mut c = with(t0, Timeouts::NONE);
    assert!(!c.expect_input(70, &mut budget, 16));
    let mut got = 0;
    while got < 70 {
        let room = match c.input_room(&mut p, 1024, None, &mut budget) {
            Ok(room) => room.len(),
            Err(e) => panic!("after {got} bytes: {e:?}"),
        };
        let n = room.min(70 - got);
        let _ = c.on_input(t0, Input::Bytes(n), &mut p, &mut big_budget());
        got += n;
        let rbuf = c.take_input();
        let _ = c.restore_input(t0, rbuf, 0, false, &mut p, &mut big_budget());
    }
    assert_eq!(
        c.unconsumed(),
        70,
        "the whole message, within what it reserved"
    );
    assert_eq!(budget.used(), 54);
}

#[test]
fn a_flush_is_needed_only_with_something_to_write_or_finish() {
    let t0 = Instant::now();
    let mut p = pool();
    let mut c = with(t0, Timeouts::default());
    assert!(!c.needs_flush(), "idle, nothing queued");
    push(&mut c, t0, b"abc", &mut p);
    assert!(c.needs_flush(), "output queued");
    c.on_written(t0, 3, &mut p);
    assert!(!c.needs_flush(), "all written");
    c.shutdown_write();
    assert!(c.needs_flush(), "a half-close waits for the flush");

    let mut c = with(t0, Timeouts::default());
    assert!(c.close());
    assert!(c.needs_flush(), "a close waits for the flush");

    let c = Conn::new(t0, Timeouts::default(), Opened::Connecting, false);
    assert!(c.needs_flush(), "a connect to finish");
}
