//! The memory budget: sorts and aggregates over more data than the limit spill and give the
//! same answer; what cannot fit fails with an error naming the operator and the limit.

use crate::common::*;
use vibe_piper::engine::MemoryLimit;
use vibe_piper::{Engine, Error};

/// 600,000 rows of 64 bytes of text each (about 50 MB as Arrow), in an order unlike `s`'s.
/// As `Utf8` (DataFusion's `md5` gives `Utf8View`, whose sorts its accounting over-counts:
/// docs/decisions/0017-memory-budget.md).
const WIDE: &str = "SELECT value AS id, arrow_cast(md5(CAST(value AS VARCHAR)) || md5(CAST(value * 7 AS VARCHAR)), 'Utf8') AS s \
                    FROM generate_series(1, 600000)";

/// One partition: with several, DataFusion's sorts under a limit this close to the data size
/// are refused in some runs (one partition's spill merge takes memory the other's needs;
/// docs/reliability.md).
fn limited(limit: &str, dir: &std::path::Path) -> Engine {
    Engine::builder()
        .target_partitions(1)
        .memory_limit(limit.parse().unwrap())
        .temp_directory(dir)
        .try_build()
        .unwrap()
}

/// The spill count EXPLAIN ANALYZE shows, summed over operators.
async fn spills(engine: &Engine, sql: &str) -> u64 {
    let text = rows(
        &engine
            .sql_collect(&format!("EXPLAIN ANALYZE {sql}"))
            .await
            .unwrap(),
    )
    .join("\n");
    text.split("spill_count=")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorts_and_aggregates_spill_under_the_limit_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let free = Engine::builder()
        .memory_limit(MemoryLimit::Unlimited)
        .build();
    let tight = limited("64MB", dir.path());
    assert_eq!(tight.memory_limit(), MemoryLimit::Bytes(64 << 20));
    // DataFusion's hash join does not spill; its sort-merge join does.
    tight
        .sql_collect("SET datafusion.optimizer.prefer_hash_join = false")
        .await
        .unwrap();
    for sql in [
        format!("SELECT id, s FROM ({WIDE}) ORDER BY s"),
        format!("SELECT s, count(*) AS n, sum(id) AS total FROM ({WIDE}) GROUP BY s ORDER BY s"),
        format!(
            "SELECT a.id, b.s FROM ({WIDE}) a JOIN ({WIDE}) b ON a.s = b.s ORDER BY a.id DESC LIMIT 5"
        ),
    ] {
        let want = query(&free, &sql).await;
        let got = query(&tight, &sql).await;
        assert_eq!(got.len(), want.len(), "{sql}");
        assert!(got == want, "{sql}: answers differ");
    }
    assert_eq!(
        query(&free, &format!("SELECT count(*) FROM ({WIDE})")).await,
        vec!["600000"]
    );
    // The sort did spill (with no limit it does not).
    let sort = format!("SELECT id, s FROM ({WIDE}) ORDER BY s");
    assert!(spills(&tight, &sort).await > 0);
    assert_eq!(spills(&free, &sort).await, 0);
    // Spill files go away with the query.
    let left: Vec<_> = walk(dir.path());
    assert!(left.is_empty(), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_fit_fails_naming_the_operator_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Spilling turned off (no disk at all): the sort cannot stay within 4 MB.
    let no_disk = Engine::builder()
        .memory_limit("16MB".parse().unwrap())
        .temp_directory(dir.path())
        .disk_limit(0)
        .try_build()
        .unwrap();
    let err = no_disk
        .sql_collect(&format!("SELECT id, s FROM ({WIDE}) ORDER BY s"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::ResourcesExhausted { .. }), "{err:?}");
    assert!(text.contains("--disk-limit"), "{text}");

    // One group's values cannot spill: the aggregate is refused, with its name and the limit.
    let tight = limited("4MB", dir.path());
    let err = tight
        .sql_collect(&format!("SELECT array_agg(s) FROM ({WIDE})"))
        .await
        .unwrap_err();
    let Error::ResourcesExhausted {
        operator, limit, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(!operator.is_empty() && operator != "spilling", "{err}");
    assert_eq!(limit.as_deref(), Some("4.0 MB"), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("out of memory budget in "), "{text}");
    assert!(text.contains("--memory-limit"), "{text}");
    assert!(text.contains("VP_MEMORY_LIMIT"), "{text}");

    // A temp directory that cannot be created is an error at once.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = Engine::builder()
        .temp_directory(file.join("sub"))
        .try_build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("temp directory"), "{err}");
}

/// A Parquet file's text column sorted under a limit below its size: strings are read as
/// `Utf8` under a limit (with `Utf8View`, DataFusion's accounting refused this sort).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_sort_spills_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let free = Engine::builder()
        .memory_limit(MemoryLimit::Unlimited)
        .build();
    free.extract(
        &format!("SELECT * FROM ({WIDE})"),
        &format!("{}/wide.parquet", data.display()),
        &Default::default(),
    )
    .await
    .unwrap();
    let url = format!("file://{}/", data.display());
    free.register_source("f", &url).await.unwrap();
    let tight = limited("64MB", &dir.path().join("spill"));
    tight.register_source("f", &url).await.unwrap();
    let sql = "SELECT id FROM f.wide ORDER BY s";
    let want = query(&free, sql).await;
    let got = query(&tight, sql).await;
    assert_eq!(got.len(), 600_000);
    assert!(got == want, "the orders differ");
    assert!(spills(&tight, sql).await > 0);
}

/// A PostgreSQL table sorted under a limit far below its size gives the server's own order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_scan_sorted_under_the_limit_matches_the_server() {
    let ns = PgNamespace::new("memory_sort").await;
    ns.exec(
        "CREATE TABLE wide AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS s \
         FROM generate_series(1, 400000) g;",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        &ns,
        Engine::builder()
            .target_partitions(1)
            .memory_limit("64MB".parse().unwrap())
            .temp_directory(dir.path()),
        "",
    )
    .await;
    let got = query(&e, "SELECT id FROM src.wide ORDER BY s").await;
    let want: Vec<String> = ns
        .client
        .query("SELECT id FROM wide ORDER BY s COLLATE \"C\"", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0).to_string())
        .collect();
    assert_eq!(got.len(), 400_000);
    assert!(got == want, "the orders differ");
    ns.cleanup().await;
}
