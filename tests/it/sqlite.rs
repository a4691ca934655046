//! SQLite-specific behaviour: declared types, SQLite's dynamic values, NULL first rows.

use crate::common::*;
use arrow::datatypes::{DataType, TimeUnit};
use vibe_piper::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_types_and_dynamic_values() {
    let ns = SqliteFixture.namespace("sqlite_types").await;
    ns.exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, small INT2, mid INT4, big BIGINT, r REAL, n NUMERIC, d DECIMAL(15,2),
                         flag BOOLEAN, day DATE, at DATETIME, clock TIME, s VARCHAR(10), b BLOB, anything);
         INSERT INTO t VALUES (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
         INSERT INTO t VALUES (2, -32768, 2147483647, 9223372036854775807, 1.5, 9007199254740992, 10.25, 1,
                               '2024-02-29', '2024-02-29 23:59:59.5', '12:30:00', 'héllo', x'00ff', 42);
         INSERT INTO t VALUES (3, 1, 2, 3, 4, 5.5, 6, 0, '1600-01-01', '1600-01-01T00:00:00', '00:00:00', 7, 'txt', 'word');",
    )
    .await;
    let e = engine(ns.as_ref(), Engine::builder(), "").await;
    let batches = e
        .sql_collect("SELECT * FROM src.t ORDER BY id")
        .await
        .unwrap();
    let schema = batches[0].schema();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Utf8,
            DataType::Binary,
            DataType::Utf8,
        ]
    );
    assert_eq!(
        rows(&batches),
        vec![
            "1|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
            "2|-32768|2147483647|9223372036854775807|1.5|9007199254740992.0|10.25|true|2024-02-29|2024-02-29T23:59:59.500|12:30:00|héllo|00ff|42",
            "3|1|2|3|4.0|5.5|6.0|false|1600-01-01|1600-01-01T00:00:00|00:00:00|7|747874|word",
        ]
    );
    // Untyped columns are not compared at the source; the answer is DataFusion's.
    assert_eq!(
        query(&e, "SELECT id FROM src.t WHERE anything = '42'").await,
        vec!["2"]
    );
    let plan = explain(&e, "SELECT id FROM src.t WHERE anything = '42'").await;
    assert!(plan.contains("FilterExec"), "{plan}");
    // An integer a Float64 cannot hold exactly is an error, not rounded.
    ns.exec("INSERT INTO t (id, n) VALUES (4, 9007199254740993)")
        .await;
    let err = e
        .sql_collect("SELECT n FROM src.t")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column `n`") && err.contains("9007199254740993"),
        "{err}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_avoid_shadowed_rowid_and_without_rowid_tables() {
    let ns = SqliteFixture.namespace("sqlite_rowid").await;
    let values: Vec<String> = (1..=500).map(|i| format!("({i}, {})", 1000 - i)).collect();
    ns.exec(&format!(
        "CREATE TABLE shadow (k INTEGER, rowid INTEGER); INSERT INTO shadow (k, rowid) VALUES {v};
         CREATE TABLE wr (k INTEGER PRIMARY KEY, v INTEGER) WITHOUT
            ROWID; INSERT INTO wr VALUES {v};",
        v = values.join(",")
    ))
    .await;
    let e = engine(
        ns.as_ref(),
        Engine::builder().target_partitions(3),
        "chunk_rows=50",
    )
    .await;
    let plan = explain(&e, "SELECT * FROM src.shadow").await;
    assert!(
        plan.contains("_rowid_") && plan.contains("partitions=3"),
        "{plan}"
    );
    assert_eq!(
        query(&e, "SELECT count(*), sum(k), sum(rowid) FROM src.shadow").await,
        vec!["500|125250|374750"]
    );
    let plan = explain(&e, "SELECT * FROM src.wr").await;
    assert!(plan.contains("partitions=1"), "{plan}");
    assert_eq!(query(&e, "SELECT count(*) FROM src.wr").await, vec!["500"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_name_their_column() {
    let ns = SqliteFixture.namespace("sqlite_bad").await;
    ns.exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, day DATE); INSERT INTO t VALUES (1, 'tomorrow');",
    )
    .await;
    let e = engine(ns.as_ref(), Engine::builder(), "").await;
    let err = e
        .sql_collect("SELECT day FROM src.t")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column `day`") && err.contains("tomorrow"),
        "{err}"
    );
    let err = Engine::new()
        .register_source("s", &ns.url("bogus=1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    let err = Engine::new()
        .register_source("s", &ns.url("chunk_rows=0"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("chunk_rows"), "{err}");
    let err = Engine::new()
        .register_source("s", "sqlite://")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no file path"), "{err}");
    ns.cleanup().await;
}
