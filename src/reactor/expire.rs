//! When a timer-wheel entry fires: a connection's deadline (which the connection checks
//! lazily), a user timer, the end of an accept back-off, or the end of a shutdown's grace;
//! and when a precise user timer is due.

use super::core::Core;
use super::handler::{Handler, TimeoutAction};
use super::timers::Due;
use super::token::{ConnId, Key};
use crate::conn::TimerStep;
use crate::error::CloseReason;
use crate::time::TimerHandle;

impl Core {
    /// Fire every precise timer and wheel entry due by this turn's `now`.
    pub(crate) fn expire<H: Handler>(&mut self, h: &mut H) {
        while let Some(due) = self.timers.poll_precise(self.now) {
            self.fire(h, due);
        }
        while let Some(due) = self.timers.poll_wheel(self.now) {
            self.fire(h, due);
        }
    }

    /// Carry out what a due timer is for.
    fn fire<H: Handler>(&mut self, h: &mut H, due: Due) {
        match due {
            Due::User(id, token) => {
                self.call(h, None, |h, cx| h.on_timer(cx, id, token));
            }
            Due::Conn(handle, key) => self.check_deadlines(h, key, handle),
            Due::ShutdownDeadline => self.finish_shutdown(),
            Due::ResumeAccept(key) => self.resume_accept(key),
        }
    }

    /// `key`'s wheel entry fired: ask the connection what has expired.
    fn check_deadlines<H: Handler>(&mut self, h: &mut H, key: Key, handle: TimerHandle) {
        let now = self.now;
        let Some((_, conn)) = self.sources.conn_mut(key) else {
            return;
        };
        match conn.on_timer(now, handle) {
            TimerStep::Stale => return,
            TimerStep::Rearm => {}
            TimerStep::Close(reason) => return self.close_now(key, reason),
            TimerStep::TimedOut(kind) => {
                self.stats.timeouts += 1;
                let asked = self.call(h, Some(key), |h, cx| h.on_timeout(cx, ConnId(key), kind));
                match asked {
                    // The handler panicked, and its connection is closed already.
                    None => return,
                    Some(TimeoutAction::Close) => {
                        return self.close_now(key, CloseReason::TimedOut(kind))
                    }
                    Some(TimeoutAction::KeepOpen) => {
                        if let Some((_, conn)) = self.sources.conn_mut(key) {
                            conn.keep_open(kind, now);
                        }
                    }
                }
            }
        }
        self.rearm(key);
    }
}
