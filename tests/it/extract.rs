//! Bulk extraction (`Engine::extract`, SQL `COPY ... TO`, `vibe-piper extract`) against real
//! PostgreSQL and MariaDB, local folders and the S3 emulator (moto, started by
//! `scripts/test.sh`): round trips of every conformance type, formats, hive folders, file
//! rotation, overwriting, failures and a killed process that leave nothing complete.

use arrow::datatypes::SchemaRef;
use futures::TryStreamExt;
use object_store::ObjectStore;
use std::path::Path;
use std::process::Command;
use vibe_piper::engine::{ExtractOptions, OutputFormat};
use vibe_piper::Engine;

use crate::common::*;

async fn s3_objects(prefix: &str) -> Vec<String> {
    let store = s3_store();
    let p = object_store::path::Path::from(prefix);
    let mut names: Vec<String> = store
        .list(Some(&p))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

/// Every file below `dir`, relative, sorted.
fn local_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Field types, DataFusion's view types as the plain ones (its Parquet reader hands strings
/// and binaries over as views; the values are the same).
fn types(schema: &SchemaRef) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let t = f
                .data_type()
                .to_string()
                .replace("Utf8View", "Utf8")
                .replace("BinaryView", "Binary");
            format!("{}: {t}", f.name())
        })
        .collect()
}

/// The conformance types (PostgreSQL's type table) through Parquet: `out` is where the
/// extraction wrote, `folder` the URL of the folder holding it, `table` its name there.
async fn assert_round_trip(engine: &Engine, folder: &str, table: &str, columns: &str) {
    engine.register_source("back", folder).await.unwrap();
    let source = engine
        .sql_collect(&format!("SELECT {columns} FROM src.types ORDER BY id"))
        .await
        .unwrap();
    let back = engine
        .sql_collect(&format!("SELECT {columns} FROM back.{table} ORDER BY id"))
        .await
        .unwrap();
    assert_eq!(types(&source[0].schema()), types(&back[0].schema()));
    assert_eq!(rows(&source), rows(&back));
}

/// The columns of the type table Parquet stores (intervals have no Arrow-to-Parquet mapping).
pub(crate) const PARQUET_COLUMNS: &str = "id, i2, i4, f4, f8, n, nu, nw, b, t, vc, c, d, ts, tz, tm, u, j, jb, by, ai, at, m, ip, an, ad, atz, au";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_local_parquet_round_trips_every_type() {
    let ns = PgNamespace::new("x_types_local").await;
    ns.exec(crate::postgres::TYPES_DDL).await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/types/", dir.path().display());
    let summary = engine
        .extract(
            &format!("SELECT {PARQUET_COLUMNS} FROM src.types"),
            &out,
            &ExtractOptions::new().partitions(2),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.manifest.as_deref(), Some("_vp_manifest.json"));
    assert!(summary.files.iter().all(|f| f.path.ends_with(".parquet")));
    assert_eq!(summary.files.iter().map(|f| f.rows).sum::<u64>(), 3);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("types/_vp_manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["rows"], 3);
    assert_eq!(manifest["format"], "parquet");
    assert_eq!(
        manifest["files"].as_array().unwrap().len(),
        summary.files.len()
    );
    assert_eq!(manifest["schema"]["fields"][5]["type"], "Decimal128(12, 2)");
    let folder = format!("file://{}/", dir.path().display());
    assert_round_trip(&engine, &folder, "types", PARQUET_COLUMNS).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_s3_parquet_round_trips_every_type() {
    let ns = PgNamespace::new("x_types_s3").await;
    ns.exec(crate::postgres::TYPES_DDL).await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let prefix = unique("extract-types");
    let summary = engine
        .extract(
            &format!("SELECT {PARQUET_COLUMNS} FROM src.types"),
            &s3_url(&format!("{prefix}/types")),
            &ExtractOptions::new().partitions(2),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 3);
    assert!(
        !summary.destination.contains("vp-secret-123"),
        "{}",
        summary.destination
    );
    let objects = s3_objects(&prefix).await;
    assert!(
        objects.contains(&format!("{prefix}/types/_vp_manifest.json")),
        "{objects:?}"
    );
    assert_round_trip(&engine, &s3_url(&prefix), "types", PARQUET_COLUMNS).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_are_refused_by_parquet_with_the_column_named() {
    let ns = PgNamespace::new("x_interval").await;
    ns.exec("CREATE TABLE iv (id int, d interval); INSERT INTO iv VALUES (1, '1 day')")
        .await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/iv/", dir.path().display());
    let e = engine
        .extract("SELECT * FROM src.iv", &out, &ExtractOptions::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("parquet"), "{e}");
    assert!(local_files(dir.path()).is_empty());
    // Other formats take them.
    let summary = engine
        .extract(
            "SELECT * FROM src.iv",
            &out,
            &ExtractOptions::new().format(OutputFormat::JsonLines),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 1);
    ns.cleanup().await;
}

async fn people_engine(test: &str) -> (PgNamespace, Engine) {
    let ns = PgNamespace::new(test).await;
    crate::conformance::people(&ns).await;
    let e = engine(&ns, Engine::builder(), "").await;
    (ns, e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_reads_back_equal() {
    let (ns, engine) = people_engine("x_formats").await;
    let dir = tempfile::tempdir().unwrap();
    let columns = "id, name, city, qty, active";
    for format in [
        OutputFormat::Parquet,
        OutputFormat::Csv,
        OutputFormat::JsonLines,
        OutputFormat::Arrow,
    ] {
        let out = format!("{}/{}/", dir.path().display(), format.name());
        let summary = engine
            .extract(
                &format!("SELECT {columns} FROM src.people"),
                &out,
                &ExtractOptions::new().format(format).partitions(2),
            )
            .await
            .unwrap();
        assert_eq!(summary.rows, 10, "{format:?}");
        assert!(summary
            .files
            .iter()
            .all(|f| f.path.ends_with(&format!(".{}", format.extension()))));
    }
    engine
        .register_source("f", &format!("file://{}/", dir.path().display()))
        .await
        .unwrap();
    let expected = query(
        &engine,
        &format!("SELECT {columns} FROM src.people ORDER BY id"),
    )
    .await;
    for table in ["parquet", "csv", "jsonl", "arrow"] {
        let back = query(
            &engine,
            &format!("SELECT {columns} FROM f.{table} ORDER BY id"),
        )
        .await;
        assert_eq!(back, expected, "{table}");
    }
    // One file, its format from the extension.
    let one = format!("{}/single/people.csv", dir.path().display());
    let summary = engine
        .extract(
            "SELECT id, name FROM src.people WHERE id > 100",
            &one,
            &ExtractOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 0);
    assert_eq!(summary.manifest, None);
    assert_eq!(std::fs::read_to_string(&one).unwrap(), "id,name\n");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_folders_and_file_rotation() {
    let (ns, engine) = people_engine("x_hive").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/by_city/", dir.path().display());
    let summary = engine
        .extract(
            "SELECT id, name, city FROM src.people",
            &out,
            &ExtractOptions::new()
                .partition_by(["city"])
                .max_rows_per_file(1)
                .partitions(1),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 10);
    // One row per file, in a folder per city (NULL in Hive's default partition).
    assert_eq!(summary.files.len(), 10);
    let folders: std::collections::BTreeSet<String> = summary
        .files
        .iter()
        .map(|f| f.path.split('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        folders.into_iter().collect::<Vec<_>>(),
        vec![
            "city=Berlin",
            "city=Oslo",
            "city=Paris",
            "city=Rome",
            "city=Zürich",
            "city=__HIVE_DEFAULT_PARTITION__",
            "city=paris",
        ]
    );
    engine
        .register_source("f", &format!("file://{}/", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(
        query(
            &engine,
            "SELECT id, name FROM f.by_city WHERE city = 'Rome' ORDER BY id"
        )
        .await,
        vec!["6|b_b", "7|100%"]
    );
    assert_eq!(
        query(&engine, "SELECT count(*) FROM f.by_city").await,
        vec!["10"]
    );
    // Max rows per file without hive folders: ceil(10 / 4) files.
    let summary = engine
        .extract(
            "SELECT * FROM src.people",
            &format!("{}/rotated/", dir.path().display()),
            &ExtractOptions::new().max_rows_per_file(4).partitions(1),
        )
        .await
        .unwrap();
    assert_eq!(
        summary.files.iter().map(|f| f.rows).collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    let e = engine
        .extract(
            "SELECT * FROM src.people",
            &format!("{}/x/", dir.path().display()),
            &ExtractOptions::new().partition_by(["nope"]),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`nope`"), "{e}");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_in_sql() {
    let (ns, engine) = people_engine("x_copy").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/copied/", dir.path().display());
    let result = query(
        &engine,
        &format!(
            "COPY (SELECT id, city FROM src.people WHERE qty > 2) TO '{out}' \
             (FORMAT parquet, COMPRESSION 'zstd(3)', PARTITIONS 2)"
        ),
    )
    .await;
    assert_eq!(result.len(), 1);
    assert!(result[0].starts_with("7|"), "{result:?}");
    assert!(Path::new(&format!("{out}_vp_manifest.json")).exists());
    // DataFusion's spelling, and a table instead of a query.
    let csv = format!("{}/people.csv", dir.path().display());
    let result = query(
        &engine,
        &format!("COPY src.people TO '{csv}' STORED AS CSV"),
    )
    .await;
    assert!(result[0].starts_with("10|1|"), "{result:?}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 11);
    let e = engine
        .extract(
            "SELECT 1",
            &s3_url("never"),
            &ExtractOptions::new().part_size(1 << 20),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("5 MiB"), "{e}");
    let e = engine
        .sql(&format!("COPY (SELECT 1) TO '{out}' (COLOUR red)"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown extraction option"), "{e}");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_destination_needs_overwrite_which_replaces_it_whole() {
    let (ns, engine) = people_engine("x_overwrite").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/o/", dir.path().display());
    let first = ExtractOptions::new().max_rows_per_file(3).partitions(1);
    engine
        .extract("SELECT * FROM src.people", &out, &first)
        .await
        .unwrap();
    assert_eq!(
        local_files(&dir.path().join("o")).len(),
        5,
        "4 files + manifest"
    );
    let e = engine
        .extract("SELECT * FROM src.people", &out, &ExtractOptions::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--overwrite"), "{e}");
    let summary = engine
        .extract(
            "SELECT * FROM src.people WHERE id <= 2",
            &out,
            &ExtractOptions::new().overwrite(true).partitions(1),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 2);
    assert_eq!(
        local_files(&dir.path().join("o")),
        vec!["_vp_manifest.json", "part-00000-00000.parquet"]
    );
    engine
        .register_source("f", &format!("file://{}/", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(query(&engine, "SELECT count(*) FROM f.o").await, vec!["2"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_leaves_nothing_locally_or_on_s3() {
    let ns = PgNamespace::new("x_failing").await;
    ns.exec("CREATE TABLE n (k int); INSERT INTO n SELECT generate_series(1, 50000);")
        .await;
    let engine = engine(&ns, Engine::builder(), "").await;
    // Fails at k = 40000, after many rows have been written.
    let failing = "SELECT k, 1000000 / (k - 40000) AS q FROM src.n";
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/f/", dir.path().display());
    let options = ExtractOptions::new().max_rows_per_file(5000).partitions(2);
    let e = engine.extract(failing, &out, &options).await.unwrap_err();
    assert!(
        e.to_string().to_lowercase().contains("divide by zero"),
        "{e}"
    );
    assert_eq!(local_files(dir.path()), Vec::<String>::new());
    let prefix = unique("extract-failing");
    let e = engine
        .extract(failing, &s3_url(&prefix), &options)
        .await
        .unwrap_err();
    assert!(
        e.to_string().to_lowercase().contains("divide by zero"),
        "{e}"
    );
    assert_eq!(s3_objects(&prefix).await, Vec::<String>::new());
    ns.cleanup().await;
}

/// Runs `vibe-piper extract` on a table large enough to take a while, kills the process once
/// it has started writing, and checks that nothing complete-looking is left.
async fn killed_midway(test: &str, output: &str, look: impl Fn() -> Vec<String>) {
    let ns = PgNamespace::new(test).await;
    ns.exec(
        "CREATE TABLE big (k int, pad text); \
         INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 2000000) g;",
    )
    .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
        .args([
            "extract",
            "--source",
            &format!("pg={}", ns.url("")),
            "--query",
            "SELECT * FROM pg.big",
            "--output",
            output,
            "--max-rows-per-file",
            "100000",
            "--partitions",
            "2",
            "--quiet",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once a file is under way (or give up waiting after 60 s).
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the extraction ended ({status}) before it could be killed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let seen = look();
        if seen.len() >= 2 || started.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = look();
    assert!(
        !left
            .iter()
            .any(|f| f.ends_with(".parquet") || f.ends_with("_vp_manifest.json")),
        "complete-looking output after a kill: {left:?}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_extraction_leaves_nothing_complete_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let out = format!("{}/big/", root.display());
    killed_midway("x_killed_local", &out, || local_files(&root)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_extraction_leaves_nothing_on_s3() {
    let prefix = unique("extract-killed");
    // Uploads in progress are not objects: kill it a few seconds in instead.
    let started = std::time::Instant::now();
    killed_midway("x_killed_s3", &s3_url(&prefix), move || {
        if started.elapsed() > std::time::Duration::from_secs(4) {
            vec!["a".into(), "b".into()]
        } else {
            vec![]
        }
    })
    .await;
    assert_eq!(s3_objects(&prefix).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_extracts_with_a_one_line_summary() {
    let ns = PgNamespace::new("x_cli").await;
    crate::conformance::people(&ns).await;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
        .args([
            "extract",
            "--source",
            &format!("pg={}", ns.url("")),
            "--query",
            "SELECT id, city FROM pg.people",
            "--output",
            &format!("{}/cli/", dir.path().display()),
            "--format",
            "csv",
            "--partition-by",
            "city",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("10 rows, 7 files"), "{stdout}");
    // Not a terminal: no progress bar.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = local_files(&dir.path().join("cli"));
    assert!(
        files.contains(&"city=Rome/part-00000-00000.csv".to_string())
            || files.iter().any(|f| f.starts_with("city=Rome/")),
        "{files:?}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_parquet_round_trip() {
    let ns = MySqlNamespace::new("x_mysql");
    crate::conformance::people(&ns).await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let dir = tempfile::tempdir().unwrap();
    engine
        .extract(
            "SELECT * FROM src.people",
            &format!("{}/people/", dir.path().display()),
            &ExtractOptions::new().partitions(2),
        )
        .await
        .unwrap();
    engine
        .register_source("f", &format!("file://{}/", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(
        query(&engine, "SELECT * FROM f.people ORDER BY id").await,
        query(&engine, "SELECT * FROM src.people ORDER BY id").await
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_rows_bytes_files_and_knows_the_estimate() {
    let ns = PgNamespace::new("x_progress").await;
    ns.exec("CREATE TABLE p (k int, v text); INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 3000) g; ANALYZE p;")
        .await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let progress = vibe_piper::engine::Progress::new();
    let summary = engine
        .extract(
            "SELECT * FROM src.p",
            &format!("{}/p/", dir.path().display()),
            &ExtractOptions::new()
                .partitions(2)
                .max_rows_per_file(1000)
                .progress(progress.clone()),
        )
        .await
        .unwrap();
    assert_eq!(progress.rows(), 3000);
    // PostgreSQL's estimate of a whole table (reltuples, exact after ANALYZE).
    assert_eq!(progress.expected_rows(), Some(3000));
    assert_eq!(progress.bytes(), summary.bytes);
    assert_eq!(progress.files(), summary.files.len() as u64);
    assert!(progress.elapsed() > std::time::Duration::ZERO);
    // A filtered query has no estimate: the bar shows no percentage.
    let filtered = vibe_piper::engine::Progress::new();
    engine
        .extract(
            "SELECT * FROM src.p WHERE k > 2000",
            &format!("{}/q/", dir.path().display()),
            &ExtractOptions::new().progress(filtered.clone()),
        )
        .await
        .unwrap();
    assert_eq!(filtered.rows(), 1000);
    assert_eq!(filtered.expected_rows(), None);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_through_the_engine_count_their_rows_as_progress() {
    let ns = PgNamespace::new("x_load_progress").await;
    ns.exec("CREATE TABLE dst (k int, v text);").await;
    let progress = vibe_piper::engine::Progress::new();
    let engine = engine(&ns, Engine::builder().progress(progress.clone()), "").await;
    let out = query(
        &engine,
        "INSERT INTO src.dst SELECT CAST(value AS INT), 'v' FROM generate_series(1, 2500)",
    )
    .await;
    assert_eq!(out, vec!["2500"]);
    assert_eq!(progress.rows(), 2500);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extracted_parquet_prunes_row_groups_on_a_sorted_column() {
    let ns = PgNamespace::new("x_pruning").await;
    ns.exec("CREATE TABLE s (id bigint, v text); INSERT INTO s SELECT g, md5(g::text) FROM generate_series(0, 9999) g;")
        .await;
    let engine = engine(&ns, Engine::builder(), "").await;
    let prefix = unique("extract-pruning");
    engine
        .extract(
            "SELECT * FROM src.s ORDER BY id",
            &s3_url(&format!("{prefix}/sorted")),
            &ExtractOptions::new().row_group_rows(1000),
        )
        .await
        .unwrap();
    engine.register_source("f", &s3_url(&prefix)).await.unwrap();
    assert_nine_of_ten_row_groups_pruned(&engine).await;
    ns.cleanup().await;
}
