//! Helpers shared by the benchmarks: process CPU and peak memory, arguments, medians.
#![allow(dead_code)] // Each bench uses some of these.

#[cfg(all(feature = "postgres", feature = "demo"))]
pub mod lineitem;

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

/// The Python of the virtualenv `venv` the bench scripts make.
pub fn venv_python(venv: &str) -> String {
    let base = std::env::var("VP_VENV_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.cache/vibe-piper/venvs",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{base}/{venv}/bin/python")
}

/// Runs a Python snippet in `venv` and returns the seconds it prints last.
pub fn python_seconds(venv: &str, code: &str) -> f64 {
    python_numbers(venv, code)[0]
}

/// Runs a Python snippet in `venv` and returns the numbers of the last line it prints
/// (separated by spaces).
pub fn python_numbers(venv: &str, code: &str) -> Vec<f64> {
    let out = std::process::Command::new(venv_python(venv))
        .args(["-c", code])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// `rows` rows of `(id Int64, v Float64, label Utf8)` in batches of 65,536.
pub fn batches(rows: usize) -> Vec<arrow::record_batch::RecordBatch> {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    (0..rows)
        .step_by(65_536)
        .map(|start| {
            let ids: Vec<i64> = (start as i64..(start + 65_536).min(rows) as i64).collect();
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(Float64Array::from(
                    ids.iter().map(|i| *i as f64 * 1.5).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    ids.iter().map(|i| format!("row {i}")).collect::<Vec<_>>(),
                )),
            ];
            arrow::record_batch::RecordBatch::try_new(schema.clone(), cols).unwrap()
        })
        .collect()
}
