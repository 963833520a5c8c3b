//! The server's CPU time and memory, and the machine's, read from `/proc` (Linux).

/// CPU seconds (user + system) used so far by a process and its threads.
#[must_use]
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Kernel clock ticks per second (`USER_HZ`, 100 on Linux).
fn clock_ticks() -> f64 {
    100.0
}

/// CPU seconds the whole machine has spent (busy, not idle or waiting for the disk), and
/// seconds spent waiting for the disk (`iowait`), summed over its cores, from `/proc/stat`.
#[must_use]
pub fn machine_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = cpu.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq (then steal, which is the hypervisor's, not ours)
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    let busy: f64 = ticks.iter().take(7).sum::<f64>() - idle - iowait;
    Some((busy / clock_ticks(), iowait / clock_ticks()))
}

/// (current resident set, peak resident set) in bytes.
#[must_use]
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |name: &str| -> Option<u64> {
        status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse::<u64>().ok().map(|k| k * 1024)
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some_and(|s| s >= 0.0));
        assert!(machine_seconds().is_some_and(|(busy, wait)| busy > 0.0 && wait >= 0.0));
        let (rss, peak) = memory(pid).unwrap_or_default();
        assert!(rss > 0 && peak >= rss);
    }
}
