//! What the processes cost: CPU time and memory, from `/proc` for the
//! server and from `getrusage` for ourselves.
//!
//! Both are sampled before and after the measured phase, and the
//! difference is reported, so setting up a thousand connections does not
//! count against the message rate.

use std::fs;
use std::time::Duration;

/// A process's CPU time and memory at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Resident memory now (`VmRSS`), in KiB.
    pub rss_kb: u64,
    /// The most it was ever resident (`VmHWM`), in KiB.
    pub peak_rss_kb: u64,
}

/// The kernel's clock ticks per second, the unit of `/proc/<pid>/stat`.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// User and system time, in ticks, from the text of `/proc/<pid>/stat`.
///
/// The second field is the command name in parentheses, and a name may
/// hold spaces and parentheses itself, so fields are counted from the
/// *last* `)`: after it come state (field 3), ..., utime (14), stime (15).
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The value in KiB of `key` (e.g. `VmRSS`) in the text of
/// `/proc/<pid>/status`.
pub fn parse_status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Samples process `pid`; `None` if it is gone or not ours to read.
pub fn sample_pid(pid: u32) -> Option<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ticks = parse_stat_ticks(&stat)?;
    let hz = ticks_per_second();
    Some(Sample {
        cpu: Duration::from_nanos(ticks * 1_000_000_000 / hz),
        rss_kb: parse_status_kb(&status, "VmRSS").unwrap_or(0),
        peak_rss_kb: parse_status_kb(&status, "VmHWM").unwrap_or(0),
    })
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Our own CPU time, user and system apart, from `getrusage`: finer than
/// the clock ticks of `/proc`, which matters for short runs. Over loopback
/// most of the system part is TCP itself: a write runs the receiving
/// side's protocol work too, and a read sends the ACK.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnCpu {
    pub user: Duration,
    pub system: Duration,
}

impl OwnCpu {
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// The CPU time used between `earlier` and `self`.
    pub fn since(self, earlier: OwnCpu) -> OwnCpu {
        OwnCpu {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

pub fn own_cpu() -> OwnCpu {
    // SAFETY: getrusage fills the struct we pass; zeroed is a valid start.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return OwnCpu::default();
    }
    OwnCpu {
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
    }
}

/// Raises our limit on open files to at least `want` (root may raise the
/// hard limit too), so that thousands of sockets can be opened. A server
/// we start inherits the limit. Returns the soft limit now in force.
pub fn raise_open_files(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur >= want {
        return limit.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: limit.rlim_max.max(want),
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want;
    }
    // Not allowed past the hard limit: take what we may.
    let capped = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } == 0 {
        limit.rlim_max
    } else {
        limit.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        // A name with a space and a parenthesis, as a process may have.
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    37 5 0 0 20 0 1 0 12345 1000000 300 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(42));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn status_values_are_read_by_key() {
        let status = "Name:\tpollchat-server\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(4096));
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(5120));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn we_can_sample_ourselves() {
        let me = sample_pid(std::process::id()).expect("read /proc/self");
        assert!(me.rss_kb > 0 && me.peak_rss_kb >= me.rss_kb);
    }
}
