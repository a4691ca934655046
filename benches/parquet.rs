//! Extraction of TPC-H `lineitem` from PostgreSQL to Parquet (zstd) files (issue 13), every
//! contender in one interleaved run:
//!
//! ```text
//! bash scripts/bench-parquet.sh [--scale 1] [--runs 3] [--phases c,d,i] [--out DIR]
//!     [--part-size BYTES] [--upload-concurrency N] [--row-group-rows N]
//! ```
//!
//! (the script makes the peers' Python venvs, starts the S3 emulator moto as the tests do, then
//! runs `cargo bench --bench parquet`). Each measurement runs in a fresh child process (this
//! binary with `--phase`), so that CPU seconds and peak RSS belong to it alone; the Python peers
//! run in a Python process of their own under that child, whose peak RSS is theirs. The runs are
//! interleaved: round 1 runs every contender once, then round 2, and so on, so that a machine
//! that slows down or speeds up in the middle touches them all alike. Contenders:
//!
//! - (a) the floor: `COPY (SELECT * FROM lineitem) TO STDOUT (FORMAT binary)`, bytes dropped;
//! - (b) the engine streaming `SELECT *` into Arrow (1 partition), nothing written: the time to
//!   beat for a writer, and the table's Arrow size (`get_array_memory_size` of every batch);
//! - (c), (d) `Engine::extract("SELECT * FROM pg.lineitem", "DIR/", zstd)` with 1 and 2
//!   partitions (one writer, one file, per partition), with the default Parquet row groups
//!   of 256 Ki rows unless `--row-group-rows` says otherwise;
//! - (e), (f) ConnectorX (`cx.read_sql(..., return_type="arrow")`, (f) with
//!   `partition_on="l_orderkey", partition_num=2`) then `pyarrow.parquet.write_table(...,
//!   compression="zstd")`;
//! - (g) DuckDB's postgres scanner: `ATTACH ... (TYPE postgres, READ_ONLY)` then
//!   `COPY (SELECT * FROM pg.vp_bench.lineitem) TO 'x.parquet' (FORMAT parquet, COMPRESSION
//!   zstd)` (DuckDB's default zstd level, 3); (h) the same with `COMPRESSION_LEVEL 1`, the level
//!   the engine and pyarrow use;
//! - (i) as (d) to S3 (`s3://bucket/prefix/` on moto, `VP_S3_ENDPOINT`, `VP_S3_BUCKET`), with
//!   `--part-size` (default 8 MiB) and `--upload-concurrency` (default 4 parts in flight per
//!   file); the sizes of the parts actually uploaded are read back from moto
//!   (`HeadObject ?partNumber=N`). Left out when `VP_S3_ENDPOINT` is not set.
//!
//! The Python peers time themselves after their imports (wall and `time.process_time()`); the
//! engine's clock includes building the engine and reading the source's catalog, as the
//! peers' clocks include connecting. Written files stay in the page cache (no fsync by anyone).
//! Every output is checked afterwards: the rows in a local output's Parquet footers (for the
//! engine also those of its summary) and the rows of S3's summary must be the same for every
//! contender.
//!
//! PostgreSQL is found through `VP_POSTGRES_URL` (default the local server); the data is
//! generated with `tpchgen` and loaded once into schema `vp_bench`, kept between runs (shared
//! with `benches/extract.rs`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use vibe_piper::engine::ExtractOptions;
use vibe_piper::Engine;

mod common;
use common::lineitem::{copy_binary_floor, ensure_data, table_name, url, SCHEMA};
use common::{arg, median, python_numbers, rusage, venv_python};

/// The venvs `scripts/bench-parquet.sh` makes.
const CX_VENV: &str = "cx-pyarrow";
const DUCKDB_VENV: &str = "duckdb-postgres";
const MOTO_VENV: &str = "moto";

/// What one phase reports, in the order of its output line.
#[derive(Default, Clone, Copy)]
struct Report {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    rows: f64,
    /// Bytes of the files written.
    bytes: f64,
    files: f64,
    row_groups: f64,
    /// Arrow bytes: (b) the engine's batches, (e), (f) pyarrow's `Table.nbytes`.
    arrow_bytes: f64,
    /// Multipart upload parts of (i): how many, the smallest and the largest.
    parts: f64,
    min_part: f64,
    max_part: f64,
}

impl Report {
    const FIELDS: usize = 11;

    fn line(&self) -> String {
        [
            self.wall,
            self.cpu,
            self.rss_mib,
            self.rows,
            self.bytes,
            self.files,
            self.row_groups,
            self.arrow_bytes,
            self.parts,
            self.min_part,
            self.max_part,
        ]
        .map(|v| v.to_string())
        .join(" ")
    }

    fn parse(line: &str) -> Self {
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("a number"))
            .collect();
        assert_eq!(v.len(), Self::FIELDS, "a phase's line: {line}");
        Self {
            wall: v[0],
            cpu: v[1],
            rss_mib: v[2],
            rows: v[3],
            bytes: v[4],
            files: v[5],
            row_groups: v[6],
            arrow_bytes: v[7],
            parts: v[8],
            min_part: v[9],
            max_part: v[10],
        }
    }
}

/// Settings every phase gets from the command line.
struct Settings {
    scale: f64,
    out: PathBuf,
    part_size: usize,
    upload_concurrency: usize,
    /// `ExtractOptions::row_group_rows`, when given.
    row_group_rows: Option<usize>,
}

fn s3_env() -> Option<(String, String)> {
    let endpoint = std::env::var("VP_S3_ENDPOINT").ok()?;
    let bucket = std::env::var("VP_S3_BUCKET").unwrap_or_else(|_| "vp-test".into());
    Some((endpoint, bucket))
}

/// The `sslmode` every contender connects with (`VP_BENCH_SSLMODE`, default `disable`): the
/// floor reads without TLS, and libpq (DuckDB), ConnectorX and this crate all default to
/// `prefer`, which encrypts against a server that offers TLS.
fn sslmode() -> String {
    std::env::var("VP_BENCH_SSLMODE").unwrap_or_else(|_| "disable".into())
}

/// The libpq key-value string of [`url`], for DuckDB's `ATTACH`.
fn libpq_conninfo() -> String {
    let u = url::Url::parse(&url()).expect("a PostgreSQL URL");
    let mut parts = vec![
        format!("host={}", u.host_str().unwrap_or("127.0.0.1")),
        format!("port={}", u.port().unwrap_or(5432)),
        format!("dbname={}", u.path().trim_start_matches('/')),
        format!(
            "user={}",
            if u.username().is_empty() {
                "postgres"
            } else {
                u.username()
            }
        ),
    ];
    if let Some(p) = u.password() {
        parts.push(format!("password={p}"));
    }
    parts.push(format!("sslmode={}", sslmode()));
    parts.join(" ")
}

/// Rows, bytes, files and row groups of the Parquet files in `dir`, from their footers.
fn parquet_outputs(dir: &Path) -> (u64, u64, u64, u64) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let (mut rows, mut bytes, mut files, mut groups) = (0, 0, 0, 0);
    for entry in std::fs::read_dir(dir).expect("the output folder") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        bytes += std::fs::metadata(&path).unwrap().len();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        rows += reader.metadata().file_metadata().num_rows() as u64;
        groups += reader.metadata().num_row_groups() as u64;
        files += 1;
    }
    (rows, bytes, files, groups)
}

/// The sizes of the parts of every object below `prefix`, read back from the S3 emulator.
fn uploaded_parts(endpoint: &str, bucket: &str, prefix: &str) -> Vec<f64> {
    python_numbers(
        MOTO_VENV,
        &format!(
            "import os, boto3\n\
             os.environ.setdefault('AWS_ACCESS_KEY_ID', 'test')\n\
             os.environ.setdefault('AWS_SECRET_ACCESS_KEY', 'test')\n\
             s3 = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1')\n\
             sizes = []\n\
             for o in s3.list_objects_v2(Bucket='{bucket}', Prefix='{prefix}').get('Contents', []):\n\
             \x20   if not o['Key'].endswith('.parquet'):\n\
             \x20       continue\n\
             \x20   h = s3.head_object(Bucket='{bucket}', Key=o['Key'], PartNumber=1)\n\
             \x20   sizes.append(h['ContentLength'])\n\
             \x20   for n in range(2, h.get('PartsCount', 1) + 1):\n\
             \x20       sizes.append(s3.head_object(Bucket='{bucket}', Key=o['Key'], PartNumber=n)['ContentLength'])\n\
             print(' '.join(map(str, sizes)))"
        ),
    )
}

async fn engine_extract(partitions: usize, destination: &str, s: &Settings) -> Report {
    let engine = Engine::builder().target_partitions(partitions).build();
    engine
        .register_source(
            "pg",
            &format!("{}?schema={SCHEMA}&sslmode={}", url(), sslmode()),
        )
        .await
        .unwrap();
    let mut options = ExtractOptions::new()
        .partitions(partitions)
        .compression("zstd")
        .part_size(s.part_size)
        .upload_concurrency(s.upload_concurrency)
        .overwrite(true);
    if let Some(n) = s.row_group_rows {
        options = options.row_group_rows(n);
    }
    let summary = engine
        .extract(
            &format!("SELECT * FROM pg.{}", table_name(s.scale)),
            destination,
            &options,
        )
        .await
        .unwrap();
    Report {
        rows: summary.rows as f64,
        bytes: summary.bytes as f64,
        files: summary.files.len() as f64,
        ..Report::default()
    }
}

/// Runs a Python peer: the snippet prints `wall cpu [arrow_bytes]` last.
fn python_peer(venv: &str, code: &str) -> Report {
    let v = python_numbers(venv, code);
    Report {
        wall: v[0],
        cpu: v[1],
        arrow_bytes: v.get(2).copied().unwrap_or(0.0),
        ..Report::default()
    }
}

fn connectorx_peer(partitions: usize, file: &Path, s: &Settings) -> Report {
    let partitioning = if partitions > 1 {
        format!(", partition_on='l_orderkey', partition_num={partitions}")
    } else {
        String::new()
    };
    python_peer(
        CX_VENV,
        &format!(
            "import time\n\
             import connectorx as cx, pyarrow.parquet as pq\n\
             t0, c0 = time.perf_counter(), time.process_time()\n\
             t = cx.read_sql('{url}?sslmode={sslmode}', 'SELECT * FROM {SCHEMA}.{table}', return_type='arrow'{partitioning})\n\
             pq.write_table(t, '{file}', compression='zstd')\n\
             print(time.perf_counter() - t0, time.process_time() - c0, t.nbytes)",
            url = url(),
            sslmode = sslmode(),
            table = table_name(s.scale),
            file = file.display(),
        ),
    )
}

fn duckdb_peer(level: Option<u32>, file: &Path, s: &Settings) -> Report {
    let level = level
        .map(|l| format!(", COMPRESSION_LEVEL {l}"))
        .unwrap_or_default();
    python_peer(
        DUCKDB_VENV,
        &format!(
            "import os, time\n\
             import duckdb, duckdb_extension_postgres_scanner as ext\n\
             c = duckdb.connect(config={{'autoinstall_known_extensions': False, 'autoload_known_extensions': False}})\n\
             c.execute(\"LOAD '\" + os.path.join(os.path.dirname(ext.__file__), 'extensions', 'v' + duckdb.__version__, 'postgres_scanner.duckdb_extension') + \"'\")\n\
             t0, c0 = time.perf_counter(), time.process_time()\n\
             c.execute(\"ATTACH '{conninfo}' AS pg (TYPE postgres, READ_ONLY)\")\n\
             c.execute(\"COPY (SELECT * FROM pg.{SCHEMA}.{table}) TO '{file}' (FORMAT parquet, COMPRESSION zstd{level})\")\n\
             print(time.perf_counter() - t0, time.process_time() - c0)",
            conninfo = libpq_conninfo(),
            table = table_name(s.scale),
            file = file.display(),
        ),
    )
}

/// Runs one phase in this process and returns what it measured.
async fn run_phase(phase: &str, s: &Settings) -> Report {
    let table = table_name(s.scale);
    let local = format!("{}/", s.out.display());
    let file = s.out.join("lineitem.parquet");
    let s3_prefix = "vp-bench-parquet";
    let (cpu0, _) = rusage();
    let start = Instant::now();
    let mut r = match phase {
        "a" => {
            copy_binary_floor(&format!("SELECT * FROM {SCHEMA}.{table}")).await;
            Report::default()
        }
        "b" => {
            let engine = Engine::builder().target_partitions(1).build();
            engine
                .register_source(
                    "pg",
                    &format!("{}?schema={SCHEMA}&sslmode={}", url(), sslmode()),
                )
                .await
                .unwrap();
            let mut stream = engine
                .sql(&format!("SELECT * FROM pg.{table}"))
                .await
                .unwrap()
                .execute_stream()
                .await
                .unwrap();
            let (mut rows, mut arrow) = (0u64, 0u64);
            while let Some(b) = stream.next().await {
                let b = b.unwrap();
                rows += b.num_rows() as u64;
                arrow += b.get_array_memory_size() as u64;
            }
            Report {
                rows: rows as f64,
                arrow_bytes: arrow as f64,
                ..Report::default()
            }
        }
        "c" => engine_extract(1, &local, s).await,
        "d" => engine_extract(2, &local, s).await,
        "e" => connectorx_peer(1, &file, s),
        "f" => connectorx_peer(2, &file, s),
        "g" => duckdb_peer(None, &file, s),
        "h" => duckdb_peer(Some(1), &file, s),
        "i" => {
            let (endpoint, bucket) = s3_env().expect("VP_S3_ENDPOINT");
            let destination = format!(
                "s3://{bucket}/{s3_prefix}/?endpoint={endpoint}&allow_http=true&region=us-east-1\
                 &access_key_id=test&secret_access_key=test"
            );
            engine_extract(2, &destination, s).await
        }
        other => panic!("unknown phase {other}"),
    };
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, rss) = rusage();
    r.rss_mib = rss;
    if !matches!(phase, "e" | "f" | "g" | "h") {
        // The Python peers time themselves.
        r.wall = wall;
        r.cpu = cpu1 - cpu0;
    }
    // Checks, after the clock: the files hold every row.
    if matches!(phase, "c" | "d" | "e" | "f" | "g" | "h") {
        let (rows, bytes, files, groups) = parquet_outputs(&s.out);
        if r.rows > 0.0 {
            assert_eq!(
                r.rows as u64, rows,
                "the summary's rows against the footers'"
            );
        }
        r.rows = rows as f64;
        r.bytes = bytes as f64;
        r.files = files as f64;
        r.row_groups = groups as f64;
    }
    if phase == "i" {
        let (endpoint, bucket) = s3_env().expect("VP_S3_ENDPOINT");
        let parts = uploaded_parts(&endpoint, &bucket, s3_prefix);
        r.parts = parts.len() as f64;
        r.min_part = parts.iter().copied().fold(f64::INFINITY, f64::min);
        r.max_part = parts.iter().copied().fold(0.0, f64::max);
    }
    r
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = arg(&args, "--scale").map_or(1.0, |s| s.parse().expect("--scale F"));
    let runs: usize = arg(&args, "--runs").map_or(3, |s| s.parse().expect("--runs N"));
    let part_size: usize =
        arg(&args, "--part-size").map_or(8 << 20, |s| s.parse().expect("--part-size BYTES"));
    let upload_concurrency: usize = arg(&args, "--upload-concurrency")
        .map_or(4, |s| s.parse().expect("--upload-concurrency N"));
    let row_group_rows: Option<usize> =
        arg(&args, "--row-group-rows").map(|s| s.parse().expect("--row-group-rows N"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(phase) = arg(&args, "--phase") {
        let settings = Settings {
            scale,
            out: PathBuf::from(arg(&args, "--out").expect("--out DIR")),
            part_size,
            upload_concurrency,
            row_group_rows,
        };
        let r = rt.block_on(run_phase(&phase, &settings));
        println!("{}", r.line());
        return;
    }
    rt.block_on(ensure_data(scale));
    let out = arg(&args, "--out").map_or_else(
        || std::env::temp_dir().join("vp-bench-parquet"),
        PathBuf::from,
    );
    let mut contenders = vec![
        ("a", "COPY binary floor".to_string()),
        ("b", "engine → Arrow, 1 partition, nothing written".into()),
        ("c", "engine → Parquet, 1 partition".into()),
        ("d", "engine → Parquet, 2 partitions".into()),
        (
            "e",
            "ConnectorX → pyarrow → write_table, 1 partition".into(),
        ),
        (
            "f",
            "ConnectorX → pyarrow → write_table, 2 partitions".into(),
        ),
        ("g", "DuckDB postgres scanner COPY TO (zstd level 3)".into()),
        ("h", "DuckDB postgres scanner COPY TO, zstd level 1".into()),
    ];
    for venv in [CX_VENV, DUCKDB_VENV] {
        if !Path::new(&venv_python(venv)).exists() {
            eprintln!(
                "no venv `{venv}` ({}): run `bash scripts/bench-parquet.sh`; its peers are left out",
                venv_python(venv)
            );
            contenders.retain(|(p, _)| {
                !(venv == CX_VENV && matches!(*p, "e" | "f")
                    || venv == DUCKDB_VENV && matches!(*p, "g" | "h"))
            });
        }
    }
    if s3_env().is_some() {
        contenders.push((
            "i",
            format!(
                "engine → Parquet on S3 (moto), 2 partitions, {} MiB parts, {upload_concurrency} in flight per file",
                part_size as f64 / (1u64 << 20) as f64
            ),
        ));
    } else {
        eprintln!(
            "VP_S3_ENDPOINT is not set (run `bash scripts/bench-parquet.sh`): no S3 contender"
        );
    }
    // `--phases c,d` runs only those contenders beside the floor.
    if let Some(only) = arg(&args, "--phases") {
        contenders.retain(|(p, _)| *p == "a" || only.split(',').any(|o| o == *p));
    }
    let exe = std::env::current_exe().unwrap();
    let mut samples: Vec<Vec<Report>> = vec![vec![]; contenders.len()];
    let mut expected_rows: Option<f64> = None;
    for run in 0..runs {
        for (i, (phase, name)) in contenders.iter().enumerate() {
            let dir = out.join(phase);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let child = std::process::Command::new(&exe)
                .args(["--phase", phase, "--scale", &scale.to_string()])
                .args(["--part-size", &part_size.to_string()])
                .args(["--upload-concurrency", &upload_concurrency.to_string()])
                .args(
                    row_group_rows
                        .map(|n| vec!["--row-group-rows".to_string(), n.to_string()])
                        .unwrap_or_default(),
                )
                .arg("--out")
                .arg(&dir)
                .output()
                .expect("run phase");
            assert!(
                child.status.success(),
                "({phase}) {name}: {}",
                String::from_utf8_lossy(&child.stderr)
            );
            let r = Report::parse(String::from_utf8_lossy(&child.stdout).trim());
            // Every contender but the floor must have handed on (written) the same rows.
            if *phase != "a" {
                let rows = *expected_rows.get_or_insert(r.rows);
                assert_eq!(r.rows, rows, "({phase}) {name}: rows");
            }
            eprintln!(
                "run {run}: ({phase}) {name}: {:.2} s, {:.2} CPU s, {:.0} MiB",
                r.wall, r.cpu, r.rss_mib
            );
            samples[i].push(r);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    // Medians, field by field.
    let med =
        |rs: &[Report], f: fn(&Report) -> f64| median(&mut rs.iter().map(f).collect::<Vec<_>>());
    let results: Vec<(&str, &str, Report)> = contenders
        .iter()
        .zip(&samples)
        .map(|((phase, name), rs)| {
            (
                *phase,
                name.as_str(),
                Report {
                    wall: med(rs, |r| r.wall),
                    cpu: med(rs, |r| r.cpu),
                    rss_mib: med(rs, |r| r.rss_mib),
                    rows: med(rs, |r| r.rows),
                    bytes: med(rs, |r| r.bytes),
                    files: med(rs, |r| r.files),
                    row_groups: med(rs, |r| r.row_groups),
                    arrow_bytes: med(rs, |r| r.arrow_bytes),
                    parts: med(rs, |r| r.parts),
                    min_part: med(rs, |r| r.min_part),
                    max_part: med(rs, |r| r.max_part),
                },
            )
        })
        .collect();
    let get = |p: &str| results.iter().find(|(q, ..)| *q == p).map(|(_, _, r)| *r);
    let floor = get("a").expect("the floor").wall;
    // The table's Arrow size: the engine's batches (b), else the issue's estimate.
    let arrow_size = get("b").map_or(1.094e9, |r| r.arrow_bytes);
    println!(
        "TPC-H lineitem from PostgreSQL to Parquet (zstd), scale {scale}, {runs} interleaved rounds \
         (medians); Arrow size {arrow_size:.0} bytes ({:.0} MiB), 25% = {:.0} MiB; engine row groups: {}\n",
        arrow_size / (1u64 << 20) as f64,
        arrow_size / 4.0 / (1u64 << 20) as f64,
        row_group_rows.map_or("256 Ki rows (the default)".to_string(), |n| format!("{n} rows"))
    );
    println!("| contender | wall s | / floor | CPU s | peak RSS MiB | RSS % of Arrow | rows | Parquet bytes | files | row groups |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (phase, name, r) in &results {
        println!(
            "| ({phase}) {name} | {:.2} | {:.2} | {:.2} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.wall,
            r.wall / floor,
            r.cpu,
            r.rss_mib,
            100.0 * r.rss_mib * (1u64 << 20) as f64 / arrow_size,
            r.rows,
            r.bytes,
            r.files,
            r.row_groups
        );
    }
    let engines: Vec<_> = ["c", "d"]
        .into_iter()
        .filter_map(|p| get(p).map(|r| (p, r.wall)))
        .collect();
    if !engines.is_empty() {
        println!("\nRatios, peer time / engine time (above 1: the engine is faster):\n");
        println!(
            "| peer | {} |",
            engines
                .iter()
                .map(|(p, _)| format!("/ ({p})"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        println!("|---|{}", "---|".repeat(engines.len()));
        for (phase, name, r) in results
            .iter()
            .filter(|(p, ..)| matches!(*p, "e" | "f" | "g" | "h"))
        {
            println!(
                "| ({phase}) {name} | {} |",
                engines
                    .iter()
                    .map(|(_, w)| format!("{:.2}", r.wall / w))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
    for (phase, _, r) in &results {
        if r.arrow_bytes > 0.0 && *phase != "b" {
            println!("\n({phase}) pyarrow Table.nbytes: {:.0}", r.arrow_bytes);
        }
    }
    if let Some(r) = get("i") {
        println!(
            "\n(i) S3: part size {part_size} bytes, {upload_concurrency} parts in flight per file, \
             {:.0} files; parts uploaded: {:.0}, from {:.0} to {:.0} bytes",
            r.files, r.parts, r.min_part, r.max_part
        );
    }
}
