//! Replays the fuzz targets' corpus (`fuzz/corpus/<target>/`) through the same entry points
//! `cargo fuzz` runs, so every input that ever found a bug, and the seeds, stay covered by the
//! normal suite. Each input must be decoded (to an error or to batches) without a panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{} panicked", path.display());
        // Every prefix too: a stream cut anywhere is an error, not a panic.
        for cut in (0..data.len()).step_by(data.len() / 64 + 1) {
            let outcome = std::panic::catch_unwind(|| run(&data[..cut]));
            assert!(outcome.is_ok(), "{} cut at {cut} panicked", path.display());
        }
        inputs += 1;
    }
    assert!(inputs > 0, "no corpus in {}", dir.display());
}

#[test]
fn pg_copy_corpus() {
    replay(
        "pg_copy",
        vibe_piper::connector::postgres::fuzz::copy_stream,
    );
}

#[test]
fn mysql_rows_corpus() {
    replay(
        "mysql_rows",
        vibe_piper::connector::mysql::fuzz::binary_rows,
    );
}

#[test]
fn url_corpus() {
    replay("url", |data| {
        vibe_piper::connector::postgres::fuzz::url(data);
        vibe_piper::connector::mysql::fuzz::url(data);
        let _ = vibe_piper::error::redact_url(&String::from_utf8_lossy(data));
    });
}

/// The seeds are real streams: decoded whole, they give rows (so the fuzzer starts from
/// inputs that reach the value decoders, not only the framing), or the error a value that
/// has no Arrow form gets.
#[test]
fn pg_seeds_decode_to_rows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/pg_copy");
    let mut report = vec![];
    for name in (0..=20).map(|i| format!("seed-{i}")).chain(
        [
            "seed-multi",
            "seed-11-whole",
            "seed-12-whole",
            "seed-16-whole",
            "seed-18-whole",
        ]
        .map(String::from),
    ) {
        let seed = std::fs::read(dir.join(&name)).unwrap();
        let got = vibe_piper::connector::postgres::fuzz::copy_stream_rows(&seed);
        report.push(format!(
            "{name}: {}",
            match got {
                Ok(n) => format!("{n} rows"),
                Err(e) => e.to_string(),
            }
        ));
    }
    let report = report.join("\n");
    println!("{report}");
    for whole in [
        "seed-multi:",
        "seed-11-whole:",
        "seed-16-whole:",
        "seed-18-whole:",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(whole) && l.ends_with(" rows")),
            "{report}"
        );
    }
    for line in report.lines() {
        assert!(
            line.ends_with(" rows") && !line.ends_with(" 0 rows")
                || line.contains("NaN has no Decimal value")
                || line.contains("infinite")
                || line.contains("2-dimensional arrays"),
            "{report}"
        );
    }
}

#[test]
fn mysql_seeds_decode_to_rows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/mysql_rows");
    for name in [
        "ints",
        "decimal_text",
        "dates",
        "floats",
        "text_read",
        "year_null",
    ] {
        let seed = std::fs::read(dir.join(name)).unwrap();
        let rows = vibe_piper::connector::mysql::fuzz::binary_rows_count(&seed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rows > 0, "{name}");
    }
}
