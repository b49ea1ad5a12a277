//! Calling the handler: every callback goes through [`Core::call`], which lends the handler a
//! [`Context`] and catches its panics, and closed connections are reported in one place,
//! [`Core::reap`], the last step of every turn.
//!
//! This room sits below the I/O rooms (`stream`, `accept`, `dgram`, `expire`), which call the
//! handler through it, and above the rooms a `Context` acts through (`open`, `output`,
//! `close`, `timers`), which never call the handler. That order is what keeps the imports
//! free of circles.

use log::error;

use super::context::Context;
use super::core::Core;
use super::handler::Handler;
use super::token::Key;
use crate::error::CloseReason;

impl Core {
    /// Call the handler through `f`. Unless `Config::catch_panics` is off, a panic in it is
    /// caught: it is logged and counted, and `conn` (the connection the call was about, if
    /// any) is closed with [`CloseReason::Panicked`], so that one faulty request cannot take
    /// the whole reactor down. Returns `None` if the handler panicked.
    pub(crate) fn call<H: Handler, R>(
        &mut self,
        h: &mut H,
        conn: Option<Key>,
        f: impl FnOnce(&mut H, &mut Context<'_>) -> R,
    ) -> Option<R> {
        if !self.config.catch_panics {
            return Some(f(h, &mut Context { core: self }));
        }
        // AssertUnwindSafe: after a panic the handler's state may be half-updated; the handler
        // learns of it through on_close(CloseReason::Panicked) and can repair its state there.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(h, &mut Context { core: self })
        }));
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                let msg = panic_message(payload.as_ref());
                self.stats.handler_panics += 1;
                match conn {
                    Some(key) => {
                        error!(
                            "handler panicked on conn#{}.{}: {msg}; closing it",
                            key.index, key.gen
                        );
                        self.close_now(key, CloseReason::Panicked(msg));
                    }
                    None => error!("handler panicked: {msg}"),
                }
                None
            }
        }
    }

    /// The turn's last step: tell the handler about every connection closed since the last
    /// reap (its `on_close`, in the order they closed), free their slots, and finish a
    /// graceful shutdown that has no connection left. A close made inside `on_close` is
    /// reported in the same reap.
    pub(crate) fn reap<H: Handler>(&mut self, h: &mut H) {
        while let Some((id, reason)) = self.work.pop_closed() {
            self.call(h, None, |h, cx| h.on_close(cx, id, &reason));
            // Only now: a socket opened inside on_close must not take this id's slot.
            self.sources.free(id.0);
        }
        self.check_shutdown_done();
    }
}

/// The text of a panic's payload (what `panic!` was given), or a placeholder.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-text payload)".to_owned()
    }
}
