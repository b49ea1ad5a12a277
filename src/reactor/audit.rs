//! [`Audit`]: the invariants that must hold between the reactor's owners between turns, checked
//! by reading every owner and changing nothing. The simulation runs it after every step: no
//! slab or timer entry leaked, no deadline left unserved past its tick, the budget's count
//! equal to what the connections hold.

use std::time::{Duration, Instant};

use super::budget::Admission;
use super::life::Life;
use super::registry::{Source, Sources};
use super::stats::Stats;
use super::timers::{TimerTarget, Timers};

/// A read-only view of the owners an audit compares (see the module docs).
pub(crate) struct Audit<'a> {
    sources: &'a Sources,
    timers: &'a Timers,
    admission: &'a Admission,
    stats: &'a Stats,
    life: &'a Life,
    now: Instant,
}

impl<'a> Audit<'a> {
    /// A view of the owners, at the turn's `now`.
    pub(crate) fn new(
        sources: &'a Sources,
        timers: &'a Timers,
        admission: &'a Admission,
        stats: &'a Stats,
        life: &'a Life,
        now: Instant,
    ) -> Audit<'a> {
        Audit {
            sources,
            timers,
            admission,
            stats,
            life,
            now,
        }
    }

    /// Check the invariants. Returns a description of the first one broken.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut conns = 0;
        let mut charged = 0;
        let mut armed = 0;
        let mut paused = 0;
        let late_by = |d: std::time::Instant| self.now.saturating_duration_since(d);
        for (key, source) in self.sources.iter() {
            match source {
                Source::Conn { conn, .. } => {
                    let status = conn.status();
                    conns += 1;
                    charged += status.charge;
                    if status.starved && !self.admission.is_waiting(key) {
                        return Err(format!(
                            "conn#{}.{}: waits for the budget but is not on the waiting list",
                            key.index, key.gen
                        ));
                    }
                    if let Some(h) = status.armed {
                        armed += 1;
                        match self.timers.target(h) {
                            Some(TimerTarget::Conn(k)) if *k == key => {}
                            other => {
                                return Err(format!(
                                    "conn#{}.{}: its armed entry holds {other:?}",
                                    key.index, key.gen
                                ))
                            }
                        }
                    }
                    if let Some(d) = conn.deadline(None) {
                        // Served at the latest in the turn whose (rounded-down) tick reaches
                        // the deadline's (rounded-up) tick: less than one tick late.
                        if late_by(d) >= Duration::from_millis(1) {
                            return Err(format!(
                                "conn#{}.{}: a deadline passed {:?} ago and was not served",
                                key.index,
                                key.gen,
                                late_by(d)
                            ));
                        }
                        if status.armed.is_none() {
                            return Err(format!(
                                "conn#{}.{}: a deadline and no wheel entry",
                                key.index, key.gen
                            ));
                        }
                    }
                }
                Source::Listener {
                    paused: Some(h), ..
                } => {
                    paused += 1;
                    if !matches!(self.timers.target(*h), Some(TimerTarget::ResumeAccept(k)) if *k == key)
                    {
                        return Err(format!(
                            "listener#{}.{}: paused with no resume entry",
                            key.index, key.gen
                        ));
                    }
                }
                Source::Closed => {
                    return Err(format!(
                        "conn#{}.{}: closed but not reaped by the end of the turn",
                        key.index, key.gen
                    ))
                }
                _ => {}
            }
        }
        if charged != self.admission.used() {
            return Err(format!(
                "the budget counts {} bytes used, the connections hold {charged}",
                self.admission.used()
            ));
        }
        if conns as u64 != self.stats.active {
            return Err(format!(
                "{conns} connections in the slab, {} counted open",
                self.stats.active
            ));
        }
        let expected =
            armed + paused + usize::from(self.life.has_grace_end()) + self.timers.user_timers();
        if self.timers.wheel_len() != expected {
            return Err(format!(
                "{} wheel entries; expected {expected} ({armed} armed connections, {paused} paused listeners, {} user timers, shutdown timer: {})",
                self.timers.wheel_len(),
                self.timers.user_timers(),
                self.life.has_grace_end()
            ));
        }
        Ok(())
    }
}
