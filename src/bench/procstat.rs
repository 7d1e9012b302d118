//! CPU time and RSS of a process from `/proc`: `utime + stime` of `/proc/PID/stat` (the whole
//! process, all threads) and `VmRSS` of `/proc/PID/status`.

use std::time::Duration;

use super::BenchError;

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Parses the `utime + stime` of a `/proc/PID/stat` line, in clock ticks.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces: fields are
    // counted from the last ')'. Field 3 (state) is the first one after it; utime is field 14.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Parses `VmRSS` (kB) out of a `/proc/PID/status` text.
pub fn parse_status_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system, all threads) the process has used so far.
pub fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let s = std::fs::read_to_string(&path).map_err(|e| BenchError::Proc(format!("{path}: {e}")))?;
    let ticks =
        parse_stat_ticks(&s).ok_or_else(|| BenchError::Proc(format!("{path}: bad format")))?;
    let hz = clock_ticks();
    Ok(Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz))
}

/// Resident set size in kB.
pub fn rss_kb(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let s = std::fs::read_to_string(&path).map_err(|e| BenchError::Proc(format!("{path}: {e}")))?;
    parse_status_rss_kb(&s).ok_or_else(|| BenchError::Proc(format!("{path}: no VmRSS")))
}

/// CPU time this process (the bench) has used so far, all threads.
pub fn own_cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid rusage to fill.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_the_name() {
        let s = "1234 (rtp engine) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 100 1000 200";
        assert_eq!(parse_stat_ticks(s), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn status_rss() {
        let s = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    4242 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_kb(s), Some(4242));
        assert_eq!(parse_status_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(rss_kb(pid).unwrap() > 0);
        cpu_time(pid).unwrap();
    }
}
