//! The process as the kernel reports it: CPU time and resident memory (from `/proc`), the
//! machine's steal time, and pinning a thread to a CPU. Used by `netloop load` and the benchmarks
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
}
