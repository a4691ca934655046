//! Helpers shared by the benchmarks: process CPU and peak memory, arguments, medians.
#![allow(dead_code)] // Each bench uses some of these.

/// CPU seconds of this process and its finished children (a database client run as the
/// floor), and peak RSS in MiB: this process's own high-water mark (`VmHWM`, fresh after exec,
/// unlike `ru_maxrss`), or the client's for a floor run as a child process.
pub fn rusage() -> (f64, f64) {
    let get = |who| {
        // SAFETY: getrusage writes into the struct we pass.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let cpu = u.ru_utime.tv_sec as f64
            + u.ru_utime.tv_usec as f64 / 1e6
            + u.ru_stime.tv_sec as f64
            + u.ru_stime.tv_usec as f64 / 1e6;
        (cpu, u.ru_maxrss as f64 / 1024.0)
    };
    let (self_cpu, _) = get(libc::RUSAGE_SELF);
    let (child_cpu, child_rss) = get(libc::RUSAGE_CHILDREN);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .unwrap_or(0.0)
        / 1024.0;
    (self_cpu + child_cpu, hwm.max(child_rss))
}

pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
