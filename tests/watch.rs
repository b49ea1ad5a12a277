//! Watching descriptors the program owns (`Context::watch`): a pipe, an `eventfd` written from
//! another thread, a child's standard output and a `timerfd` each reach `Handler::on_ready`;
//! `notify` calls again without a new edge; `unwatch` hands the descriptor back and the id is
//! dead from then on.

mod util;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netloop::reactor::{Context, Handler, Reactor, Readiness, WatchId};
use util::STEP;

/// Reads what becomes readable, `per_call` bytes at most each time (asking to be told again
/// when it stopped short), and notes end of file.
#[derive(Default)]
struct Reader {
    got: HashMap<WatchId, Vec<u8>>,
    eof: Vec<WatchId>,
    calls: usize,
    per_call: Option<usize>,
}

impl Handler for Reader {
    fn on_ready(&mut self, cx: &mut Context<'_>, watch: WatchId, ready: Readiness) {
        self.calls += 1;
        assert!(ready.readable, "watched for reading only");
        let Some(fd) = cx.watched(watch) else {
            panic!("on_ready for a stale {watch}");
        };
        let mut buf = [0u8; 4096];
        let limit = self.per_call.unwrap_or(buf.len());
        let mut read = 0;
        loop {
            if read == limit {
                // Stopped short on purpose: the rest is read next turn, without a new edge.
                cx.notify(watch).unwrap();
                return;
            }
            let want = (limit - read).min(buf.len());
            match nix::unistd::read(fd, &mut buf[..want]) {
                Ok(0) => {
                    self.eof.push(watch);
                    let _ = cx.unwatch(watch);
                    return;
                }
                Ok(n) => {
                    read += n;
                    self.got
                        .entry(watch)
                        .or_default()
                        .extend_from_slice(&buf[..n]);
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(e) => panic!("read {watch}: {e}"),
            }
        }
    }
}

/// Turn `reactor` until `done` holds (at most STEP).
fn turn_until(reactor: &mut Reactor<Reader>, done: impl Fn(&Reader) -> bool) {
    let start = Instant::now();
    while !done(reactor.handler()) {
        assert!(start.elapsed() < STEP, "not done within {STEP:?}");
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    use nix::fcntl::OFlag;
    nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).unwrap()
}

fn watch(reactor: &mut Reactor<Reader>, fd: OwnedFd) -> WatchId {
    reactor
        .with_context(|_, cx| cx.watch(fd, Readiness::READABLE))
        .unwrap()
}

#[test]
fn a_pipe_written_from_another_thread_is_read_to_its_end() {
    let mut reactor = Reactor::new(Reader::default()).unwrap();
    let (rx, tx) = pipe();
    let w = watch(&mut reactor, rx);
    let writer = std::thread::spawn(move || {
        for part in [&b"hello, "[..], b"pipe"] {
            std::thread::sleep(Duration::from_millis(20));
            nix::unistd::write(&tx, part).unwrap();
        }
        // Dropping `tx` closes the pipe: end of file.
    });
    turn_until(&mut reactor, |r| r.eof.contains(&w));
    writer.join().unwrap();
    assert_eq!(reactor.handler().got[&w], b"hello, pipe");
}

#[test]
fn an_eventfd_written_from_another_thread_wakes_the_reactor() {
    let mut reactor = Reactor::new(Reader::default()).unwrap();
    // SAFETY: eventfd returns a new descriptor (or -1, checked), owned by nothing else.
    let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(raw >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `raw` was just made and is owned by nothing else.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let other = efd.try_clone().unwrap();
    let w = watch(&mut reactor, efd);
    let poster = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        nix::unistd::write(&other, &3u64.to_ne_bytes()).unwrap();
    });
    turn_until(&mut reactor, |r| {
        r.got.get(&w).is_some_and(|b| b.len() == 8)
    });
    poster.join().unwrap();
    let count = u64::from_ne_bytes(reactor.handler().got[&w][..8].try_into().unwrap());
    assert_eq!(count, 3);
}

#[test]
fn a_childs_output_is_read_until_it_exits() {
    let mut reactor = Reactor::new(Reader::default()).unwrap();
    let mut child = Command::new("sh")
        .args(["-c", "echo from the child; sleep 0.05; echo and again"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = OwnedFd::from(child.stdout.take().unwrap());
    let flags = nix::fcntl::fcntl(out.as_fd(), nix::fcntl::FcntlArg::F_GETFL).unwrap();
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(out.as_fd(), nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    let w = watch(&mut reactor, out);
    turn_until(&mut reactor, |r| r.eof.contains(&w));
    child.wait().unwrap();
    assert_eq!(reactor.handler().got[&w], b"from the child\nand again\n");
}

#[test]
fn a_timerfd_fires_through_the_reactor() {
    let mut reactor = Reactor::new(Reader::default()).unwrap();
    // SAFETY: timerfd_create returns a new descriptor (or -1, checked), owned by nothing else.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    assert!(raw >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: `raw` was just made and is owned by nothing else.
    let tfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: 0,
            tv_nsec: 30_000_000,
        },
    };
    // SAFETY: `tfd` is an open timerfd and `spec` a valid itimerspec for the call's duration.
    let rc = unsafe { libc::timerfd_settime(tfd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    let started = Instant::now();
    let w = watch(&mut reactor, tfd);
    turn_until(&mut reactor, |r| {
        r.got.get(&w).is_some_and(|b| b.len() == 8)
    });
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "fired early"
    );
    let expirations = u64::from_ne_bytes(reactor.handler().got[&w][..8].try_into().unwrap());
    assert_eq!(expirations, 1);
}

#[test]
fn notify_calls_again_without_a_new_edge() {
    let mut reactor = Reactor::new(Reader {
        per_call: Some(1),
        ..Reader::default()
    })
    .unwrap();
    let (rx, tx) = pipe();
    let w = watch(&mut reactor, rx);
    // One write, so one edge: three calls come only because each asks for the next.
    nix::unistd::write(&tx, b"abc").unwrap();
    turn_until(&mut reactor, |r| {
        r.got.get(&w).is_some_and(|b| b.len() == 3)
    });
    assert_eq!(reactor.handler().got[&w], b"abc");
    assert!(reactor.handler().calls >= 3, "{}", reactor.handler().calls);
}

#[test]
fn unwatch_hands_the_descriptor_back_and_the_id_is_dead() {
    let mut reactor = Reactor::new(Reader::default()).unwrap();
    let (rx, tx) = pipe();
    let w = watch(&mut reactor, rx);
    let back = reactor
        .with_context(|_, cx| cx.unwatch(w))
        .expect("handed back");
    assert!(reactor.with_context(|_, cx| cx.unwatch(w)).is_none());
    assert!(reactor.with_context(|_, cx| cx.notify(w)).is_err());
    assert!(reactor.with_context(|_, cx| cx.watched(w).is_none()));
    // Data after that reaches no handler, and the descriptor still works.
    nix::unistd::write(&tx, b"x").unwrap();
    for _ in 0..5 {
        reactor.turn(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(reactor.handler().calls, 0);
    let mut buf = [0u8; 1];
    assert_eq!(nix::unistd::read(back.as_fd(), &mut buf).unwrap(), 1);
    // Watching nothing at all is refused.
    let (rx2, _tx2) = pipe();
    let refused = reactor.with_context(|_, cx| cx.watch(rx2, Readiness::default()));
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}
