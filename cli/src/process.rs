//! The process as the kernel reports it: CPU time, time spent waiting for a CPU, and
//! resident memory (from `/proc`), the machine's steal time, and pinning a thread to a CPU. Used by `netloop load` and the benchmarks
//! to measure a server.

use std::io;

/// A process's user and system CPU time so far (`/proc/PID/stat`, fields 14 and 15, in
/// clock ticks).
///
/// # Errors
///
/// If the file cannot be read (no such process) or parsed.
pub fn process_cpu(pid: u32) -> io::Result<(std::time::Duration, std::time::Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat"))
    };
    // Fields 14 and 15 overall are 12 and 13 after the command name (which is field 2).
    let (user, sys) = (ticks(11)?, ticks(12)?);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let as_time = |t: u64| std::time::Duration::from_nanos(t.saturating_mul(1_000_000_000) / hz);
    Ok((as_time(user), as_time(sys)))
}

/// The time the hypervisor has taken from this machine's CPUs so far, all CPUs together
/// (`steal` in the `cpu` line of `/proc/stat`): on a virtual machine, time a process wanted
/// to run and could not, which shows as latency no program can account for.
///
/// # Errors
///
/// If the file cannot be read or has no such field (a kernel older than 2.6.11).
pub fn steal_time() -> io::Result<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks = stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        // user nice system idle iowait irq softirq steal
        .and_then(|l| l.split_whitespace().nth(7)?.parse::<u64>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no steal in /proc/stat"))?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    Ok(std::time::Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / hz,
    ))
}

/// How long each thread of a process has waited for a CPU while runnable, at one moment:
/// the run queue's delay, the second field of each `/proc/PID/task/TID/schedstat`. It counts
/// waiting behind any task, the process's own other threads included. Compare two with
/// [`ThreadWaits::since`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadWaits(Vec<(u32, u64)>);

impl ThreadWaits {
    /// The waits of `pid`'s threads now.
    ///
    /// # Errors
    ///
    /// If the process's task directory cannot be read; a thread that exits meanwhile is left
    /// out.
    pub fn of(pid: u32) -> io::Result<ThreadWaits> {
        let mut waits = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let task = task?;
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                waits.push((tid, schedstat_wait(&text)?));
            }
        }
        waits.sort_unstable();
        Ok(ThreadWaits(waits))
    }

    /// All the threads' waits together.
    pub fn total(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.iter().map(|&(_, w)| w).sum())
    }

    /// How much the threads waited since `earlier`: each thread's growth, and the whole wait
    /// of a thread started since. `None` if a thread of `earlier` is gone: its wait left the
    /// sum with it, so the figure would be short by an unknown amount.
    pub fn since(&self, earlier: &ThreadWaits) -> Option<std::time::Duration> {
        let mut total = 0u64;
        for &(tid, before) in &earlier.0 {
            let i = self.0.binary_search_by_key(&tid, |&(t, _)| t).ok()?;
            total += self.0[i].1.saturating_sub(before);
        }
        for &(tid, now) in &self.0 {
            if earlier.0.binary_search_by_key(&tid, |&(t, _)| t).is_err() {
                total += now;
            }
        }
        Some(std::time::Duration::from_nanos(total))
    }
}

/// How long the calling thread has waited for a CPU while runnable (see [`ThreadWaits`]),
/// from `/proc/thread-self/schedstat`.
///
/// # Errors
///
/// If the file cannot be read or parsed (a kernel without `CONFIG_SCHED_INFO`).
pub fn thread_run_queue_wait() -> io::Result<std::time::Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    Ok(std::time::Duration::from_nanos(schedstat_wait(&text)?))
}

/// The run-queue delay in a `schedstat` line ("on-CPU ns, waiting ns, timeslices").
fn schedstat_wait(text: &str) -> io::Result<u64> {
    text.split_whitespace()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable schedstat"))
}

/// A process's resident memory (`VmRSS` in `/proc/PID/status`), in bytes.
///
/// # Errors
///
/// If the file cannot be read or has no such line.
pub fn process_rss(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))
}

/// Pin the calling thread to CPU `cpu` (`sched_setaffinity`), as `taskset -c` does.
///
/// # Errors
///
/// If the CPU does not exist or is not allowed to this process.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
    Ok(())
}

/// Pin each of `server`'s reactor threads to a CPU of its own, in order, among the CPUs this
/// process may use (each on its own thread, at its next turn); failures are logged.
pub fn pin_reactors<H: netloop::Handler + Send + 'static>(server: &netloop::server::Server<H>) {
    let cpus: Vec<usize> = match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(e) => {
            log::warn!("--pin: cannot read this process's CPUs: {e}");
            return;
        }
    };
    if cpus.is_empty() {
        return;
    }
    for (i, handle) in server.handles().into_iter().enumerate() {
        let cpu = cpus[i % cpus.len()];
        let pinned = handle.run(move |_, _| match pin_to_cpu(cpu) {
            Ok(()) => log::info!("reactor {i} pinned to CPU {cpu}"),
            Err(e) => log::warn!("reactor {i}: cannot pin to CPU {cpu}: {e}"),
        });
        if let Err(e) = pinned {
            log::warn!("reactor {i}: cannot pin: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn steal_time_reads_and_never_goes_back() {
        let a = super::steal_time().expect("Linux's /proc/stat has a steal field");
        let b = super::steal_time().unwrap();
        assert!(b >= a, "{a:?} then {b:?}");
    }

    #[test]
    fn schedstat_gives_its_second_field_and_refuses_what_is_not_one() {
        assert_eq!(super::schedstat_wait("31264 4406 12\n").unwrap(), 4406);
        assert!(super::schedstat_wait("31264").is_err());
        assert!(super::schedstat_wait("1 x 2").is_err());
    }

    #[test]
    fn thread_waits_grow_skip_nothing_and_know_when_a_thread_is_gone() {
        let w = |v: &[(u32, u64)]| super::ThreadWaits(v.to_vec());
        let ms = std::time::Duration::from_millis;
        let before = w(&[(1, 5_000_000), (2, 1_000_000)]);
        // Thread 1 waited 2 ms more, thread 2 nothing, thread 3 is new with 4 ms.
        let after = w(&[(1, 7_000_000), (2, 1_000_000), (3, 4_000_000)]);
        assert_eq!(after.since(&before), Some(ms(6)));
        assert_eq!(after.total(), ms(12));
        // Thread 2 exited: its wait left the sum, so no figure.
        assert_eq!(w(&[(1, 7_000_000)]).since(&before), None);
    }

    #[test]
    fn threads_that_share_one_cpu_wait_for_it() {
        // Three threads spinning for 100 ms on one CPU (the first this process may use): two
        // of them are always waiting. Each reads its own wait when done; the process's, read
        // while they are all still alive, holds theirs.
        use std::sync::{Arc, Barrier};
        let cpu = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .ok()
            .and_then(|set| {
                (0..nix::sched::CpuSet::count()).find(|&c| set.is_set(c).unwrap_or(false))
            })
            .expect("a CPU this process may use");
        let (read, done) = (Arc::new(Barrier::new(4)), Arc::new(Barrier::new(4)));
        let spinners: Vec<_> = (0..3)
            .map(|_| {
                let (read, done) = (Arc::clone(&read), Arc::clone(&done));
                std::thread::spawn(move || {
                    super::pin_to_cpu(cpu).expect("pin to an allowed CPU");
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_millis(100) {
                        std::hint::spin_loop();
                    }
                    let own = super::thread_run_queue_wait().expect("schedstat");
                    read.wait();
                    done.wait();
                    own
                })
            })
            .collect();
        read.wait();
        let process = super::ThreadWaits::of(std::process::id()).expect("schedstat");
        done.wait();
        let own: std::time::Duration = spinners.into_iter().map(|t| t.join().unwrap()).sum();
        if own.is_zero() && process.total().is_zero() {
            eprintln!(
                "this kernel keeps no run-queue delays (schedstat reads 0): nothing to check"
            );
            return;
        }
        assert!(
            own >= std::time::Duration::from_millis(50),
            "three spinners on one CPU waited only {own:?} in all"
        );
        assert!(process.total() >= own, "{process:?} against {own:?}");
    }
}
