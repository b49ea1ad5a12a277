//! [`Life`]: whether the reactor runs, is shutting down gracefully, or has been asked to stop.
//!
//! It owns the stop flag that ends [`Reactor::run`](super::Reactor::run) after the turn, and
//! the state of a graceful shutdown: under way or not, and the wheel entry that ends its
//! grace period (none for a grace too long to represent). The core decides when (a signal,
//! `Context::stop`, the last connection gone, the grace over); this room keeps the answer.

use std::collections::BTreeSet;

use super::registry::Key;
use crate::time::TimerHandle;

/// The reactor's run state (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Life {
    stopped: bool,
    /// A graceful shutdown is under way, with the entry that ends its grace, if any.
    shutdown: Option<Option<TimerHandle>>,
    /// During a shutdown, the connections found in the middle of a message, to ask again at
    /// the end of the turn (each once, in slot order: an ordered set, since a hash set's
    /// order differs from run to run and would break the simulation's replay).
    unfinished: BTreeSet<Key>,
}

impl Life {
    /// Stop after this turn.
    #[inline]
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    /// Has the reactor been asked to stop?
    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// `run` returned: a later `run` starts afresh.
    pub(crate) fn clear_stop(&mut self) {
        self.stopped = false;
    }

    /// Is a graceful shutdown under way?
    #[inline]
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Begin a graceful shutdown (the wheel entry that ends its grace, if any, follows with
    /// [`set_grace_end`](Life::set_grace_end)); `false`, and nothing changed, if one is under
    /// way already.
    pub(crate) fn begin_shutdown(&mut self) -> bool {
        if self.shutdown.is_some() {
            return false;
        }
        self.shutdown = Some(None);
        true
    }

    /// During a shutdown, `key` was found in the middle of a message: ask it again at the
    /// end of the turn.
    pub(crate) fn ask_again(&mut self, key: Key) {
        if self.shutdown.is_some() {
            self.unfinished.insert(key);
        }
    }

    /// The connections to ask again (see [`ask_again`](Life::ask_again)), each once.
    pub(crate) fn take_unfinished(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.unfinished).into_iter().collect()
    }

    /// The wheel entry that ends the grace period of the shutdown under way.
    pub(crate) fn set_grace_end(&mut self, entry: TimerHandle) {
        if let Some(end) = &mut self.shutdown {
            *end = Some(entry);
        }
    }

    /// Is a wheel entry armed for the end of a grace period (for the audit's count)?
    pub(crate) fn has_grace_end(&self) -> bool {
        matches!(self.shutdown, Some(Some(_)))
    }

    /// The shutdown is done (no connection left): leave shutdown mode and stop. Returns the
    /// grace period's wheel entry, to cancel.
    pub(crate) fn finish_shutdown(&mut self) -> Option<TimerHandle> {
        let end = self.shutdown.take().flatten();
        self.unfinished.clear();
        self.stopped = true;
        end
    }

    /// The grace period's entry fired: it is no longer armed. Returns whether a shutdown is
    /// under way (it ends now).
    pub(crate) fn grace_over(&mut self) -> bool {
        match &mut self.shutdown {
            Some(end) => {
                *end = None;
                true
            }
            None => false,
        }
    }
}
