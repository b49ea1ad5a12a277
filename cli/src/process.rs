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

/// How long the threads of process `pid` have waited for a CPU while runnable (the run
/// queue's delay, the second field of each `/proc/PID/task/TID/schedstat`, summed over the
/// threads alive now). A server that waited has latency it did not cause: another process
/// had its CPU.
///
/// # Errors
///
/// If the process's task directory cannot be read; a thread that exits meanwhile is skipped.
pub fn run_queue_wait(pid: u32) -> io::Result<std::time::Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total = total.saturating_add(schedstat_wait(&text)?);
        }
    }
    Ok(std::time::Duration::from_nanos(total))
}

/// [`run_queue_wait`] for the calling thread alone (`/proc/thread-self/schedstat`).
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
    fn threads_that_share_one_cpu_wait_for_it() {
        // Three threads spinning on one CPU for 100 ms each: two of them are always waiting.
        // Each reads its own wait as it ends; the process's sum is read before and after.
        let pid = std::process::id();
        let before = super::run_queue_wait(pid).expect("schedstat");
        let spinners: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    let pinned = super::pin_to_cpu(0).is_ok();
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_millis(100) {
                        std::hint::spin_loop();
                    }
                    (pinned, super::thread_run_queue_wait().expect("schedstat"))
                })
            })
            .collect();
        let waits: Vec<_> = spinners.into_iter().map(|t| t.join().unwrap()).collect();
        let after = super::run_queue_wait(pid).unwrap();
        assert!(after >= before, "{before:?} then {after:?}");
        if waits.iter().all(|(pinned, _)| *pinned) {
            let total: std::time::Duration = waits.iter().map(|(_, w)| *w).sum();
            assert!(
                total >= std::time::Duration::from_millis(50),
                "three spinners on one CPU waited only {total:?} in all"
            );
        }
    }
}
