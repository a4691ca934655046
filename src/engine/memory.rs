//! The memory budget of an engine: a limit on what its queries hold, enforced by DataFusion's
//! fair spill pool, with sorts, aggregates and joins spilling to a temporary directory.
//!
//! The default is 80 % of the machine's memory (the smaller of the physical memory and a
//! cgroup limit), as DuckDB's `memory_limit`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use crate::error::{Error, Result};

/// The share of the machine's memory an engine uses when no limit is given.
pub const DEFAULT_FRACTION: f64 = 0.8;

/// How much memory an engine's queries may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum MemoryLimit {
    /// At most this many bytes.
    Bytes(u64),
    /// This share (0 to 1] of the machine's memory (see [`machine_memory`]).
    Fraction(f64),
    /// No limit: nothing spills, and a query that needs more than the machine has is killed
    /// by the operating system.
    Unlimited,
}

impl Default for MemoryLimit {
    fn default() -> Self {
        MemoryLimit::Fraction(DEFAULT_FRACTION)
    }
}

impl MemoryLimit {
    /// The limit in bytes; `None` when unlimited (or a fraction of a memory size this system
    /// does not tell).
    pub fn bytes(&self) -> Option<u64> {
        match *self {
            MemoryLimit::Bytes(n) => Some(n),
            MemoryLimit::Fraction(f) => machine_memory().map(|m| (m as f64 * f) as u64),
            MemoryLimit::Unlimited => None,
        }
    }
}

impl std::fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemoryLimit::Unlimited => write!(f, "unlimited"),
            MemoryLimit::Bytes(n) => write!(f, "{}", format_size(*n)),
            MemoryLimit::Fraction(share) => match self.bytes() {
                Some(n) => write!(f, "{} ({:.0} % of memory)", format_size(n), share * 100.0),
                None => write!(f, "{:.0} % of memory", share * 100.0),
            },
        }
    }
}

impl FromStr for MemoryLimit {
    type Err = Error;

    /// `4GB`, `512MiB`, `1000000` (bytes), `80%`, or `unlimited` / `none`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") {
            return Ok(MemoryLimit::Unlimited);
        }
        if let Some(p) = t.strip_suffix('%') {
            let share: f64 = p.trim().parse().map_err(|_| size_error(s))?;
            if !(share > 0.0 && share <= 100.0) {
                return Err(size_error(s));
            }
            return Ok(MemoryLimit::Fraction(share / 100.0));
        }
        Ok(MemoryLimit::Bytes(parse_size(t)?))
    }
}

fn size_error(s: &str) -> Error {
    Error::Config(format!(
        "memory size `{s}`: use a number of bytes with a unit (512MB, 4GB, 1.5GiB), a share of \
         memory (50%), or unlimited"
    ))
}

/// Parses `4GB`, `512 MiB`, `64mb`, `1.5G` or a plain number of bytes. `KB`/`MB`/`GB`/`TB`
/// and `K`/`M`/`G`/`T` are powers of 1024, as in DuckDB and datafusion-cli; `KiB`... too.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| size_error(s))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(size_error(s)),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(size_error(s));
    }
    Ok(bytes as u64)
}

/// `1.5 GiB`, `64.0 MiB`, `512 B`.
pub fn format_size(n: u64) -> String {
    super::extract::human_bytes(n)
}

/// The memory this process may use: the smaller of the physical memory and the cgroup's
/// limit (a container's), where the system tells them.
pub fn machine_memory() -> Option<u64> {
    #[cfg(unix)]
    let physical = {
        // SAFETY: sysconf only reads system constants.
        let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        (pages > 0 && page > 0).then(|| pages as u64 * page as u64)
    };
    #[cfg(not(unix))]
    let physical: Option<u64> = None;
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (physical, cgroup) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

/// Where and how much queries may spill.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpillSettings {
    pub(crate) temp_directory: Option<PathBuf>,
    pub(crate) disk_limit: Option<u64>,
}

/// DataFusion's runtime for `limit` and `spill`: a fair spill pool (that names its five
/// largest consumers when it refuses one) and a disk manager in `spill.temp_directory`.
/// `partitions` sorts run at once; each merges at most a share of the limit's worth of spill
/// files in one pass, one per 4 MiB of its share (DataFusion's merge takes all the memory it can
/// get, and would starve the other partitions' sorts).
pub(crate) fn runtime(
    limit: MemoryLimit,
    spill: &SpillSettings,
    partitions: usize,
) -> Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new();
    let mut disk = DiskManagerBuilder::default();
    if let Some(bytes) = limit.bytes() {
        let per_partition = bytes / partitions.max(1) as u64;
        disk = disk.with_max_spill_merge_fan_in((per_partition / (4 << 20)).clamp(4, 64) as usize);
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(bytes as usize),
            std::num::NonZeroUsize::new(5).expect("5 is not zero"),
        ));
        builder = builder.with_memory_pool(pool);
    }
    if let Some(dir) = &spill.temp_directory {
        disk = disk.with_mode(DiskManagerMode::Directories(vec![dir.clone()]));
    }
    if let Some(n) = spill.disk_limit {
        disk = disk.with_max_temp_directory_size(n);
    }
    builder
        .with_disk_manager_builder(disk)
        .build_arc()
        .map_err(|e| match &spill.temp_directory {
            Some(dir) => Error::Config(format!(
                "temp directory {}: {e} (it must be a folder this process can create files in)",
                dir.display()
            )),
            None => Error::DataFusion(e),
        })
}

/// The error of a query refused memory or spill space: which operator, the limit, and how to
/// raise it. `None`: `message` is not about memory or spill space.
pub(crate) fn exhausted(message: &str) -> Option<Error> {
    let disk = message.contains("exceeded the allowable limit")
        || message.contains("DiskManager is disabled");
    let memory = message.contains("Failed to allocate");
    if !disk && !memory {
        return None;
    }
    // "Failed to allocate additional 1.2 MB for ExternalSorter[0] with ..."
    let operator = message
        .split_once(" for ")
        .and_then(|(_, rest)| rest.split_once(" with "))
        .map(|(op, _)| op.trim().to_string())
        .filter(|_| memory)
        .unwrap_or_else(|| "spilling".into());
    // "... the total memory pool: fair(pool_size: 64.0 MB)"
    let limit = message
        .split_once("pool_size: ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(size, _)| size.to_string());
    let hint = if disk {
        "raise the disk limit (--disk-limit, VP_DISK_LIMIT, disk_limit in the config file, \
         EngineBuilder::disk_limit) or point --temp-directory at a larger disk"
    } else {
        "raise the memory limit (--memory-limit, VP_MEMORY_LIMIT, memory_limit in the config \
         file, EngineBuilder::memory_limit); sorts and aggregates spill to disk, but this \
         operator needs more than the limit leaves it (a hash join's build side cannot spill: \
         `SET datafusion.optimizer.prefer_hash_join = false` joins by sorting, which can)"
    };
    Some(Error::ResourcesExhausted {
        operator,
        limit,
        // One line: DataFusion lists the largest consumers a line each.
        message: message
            .trim_start_matches("Resources exhausted: ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        hint: hint.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("4GB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        for bad in ["", "GB", "4 XB", "-1GB", "0", "1e99TB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(
            "50%".parse::<MemoryLimit>().unwrap(),
            MemoryLimit::Fraction(0.5)
        );
        assert_eq!(
            "unlimited".parse::<MemoryLimit>().unwrap(),
            MemoryLimit::Unlimited
        );
        assert!("0%".parse::<MemoryLimit>().is_err());
        assert!("150%".parse::<MemoryLimit>().is_err());
        assert_eq!(format_size(64 << 20), "64.0 MiB");
        assert_eq!(format_size(100), "100 B");
    }

    #[test]
    fn the_default_is_a_share_of_the_machine() {
        let total = machine_memory().expect("this system tells its memory");
        let default = MemoryLimit::default().bytes().unwrap();
        assert_eq!(default, (total as f64 * DEFAULT_FRACTION) as u64);
        assert!(MemoryLimit::default()
            .to_string()
            .contains("80 % of memory"));
    }

    #[test]
    fn exhaustion_names_the_operator_and_the_limit() {
        let msg = "Resources exhausted: Failed to allocate additional 1.2 MB for \
                   ExternalSorter[0] with 3.0 MB already allocated for this reservation - 0.5 MB \
                   remain available for the total memory pool: fair(pool_size: 64.0 MB)";
        let Some(Error::ResourcesExhausted {
            operator, limit, ..
        }) = exhausted(msg)
        else {
            panic!("not recognised");
        };
        assert_eq!(operator, "ExternalSorter[0]");
        assert_eq!(limit.as_deref(), Some("64.0 MB"));
        assert!(exhausted("division by zero").is_none());
        let disk = exhausted(
            "The used disk space during the spilling process has exceeded the allowable limit \
             of 1.0 MB",
        )
        .unwrap()
        .to_string();
        assert!(disk.contains("--disk-limit"), "{disk}");
    }
}
