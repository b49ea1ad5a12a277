//! No descriptor or slab leaks over many connect/close cycles, whichever side closes.

mod util;

use std::io::Write;

use netloop::reactor::Reactor;
use netloop::services::CourseServer;
use util::{connect, Running};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn thousands_of_connect_close_cycles_leave_nothing_behind() {
    let mut reactor = Reactor::new(CourseServer::new()).unwrap();
    let l = reactor.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reactor.listener_addr(l).unwrap();
    let server = Running::start(reactor);
    let before = open_fds();
    for i in 0..3000u32 {
        let mut c = connect(addr);
        match i % 3 {
            // Orderly: talk, then close.
            0 => {
                assert_eq!(
                    util::echo_round_trip(&mut c, &i.to_be_bytes()),
                    i.to_be_bytes()
                );
            }
            // Close with data in flight.
            1 => c.write_all(b"bye").unwrap(),
            // Reset: close with unread data on our side.
            _ => {
                c.write_all(b"x").unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        drop(c);
    }
    assert!(util::wait_until(|| server.handle.stats().active == 0));
    let stats = server.handle.stats();
    assert_eq!(stats.accepted, 3000);
    assert_eq!(stats.closed(), 3000);
    // The reactor's slab is empty again but for the listener.
    let sockets = server.query(|_, cx| cx.connections().count());
    assert_eq!(sockets, 0);
    let reactor = server.stop();
    // The reactor thread's descriptors are this process's too: none left over.
    assert!(
        open_fds() <= before,
        "{} descriptors before, {} after",
        before,
        open_fds()
    );
    drop(reactor);
}
