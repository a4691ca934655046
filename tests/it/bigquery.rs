//! BigQuery against the emulator `scripts/test.sh` starts (or the project VP_BIGQUERY_URL
//! names): types through the Storage Read API and through REST pages, the connector's
//! statements and parameters, loads through the Storage Write API, errors, federation.

use std::sync::Arc;

use arrow::array::{
    BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, ListArray,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{BulkOptions, Connector, Executor, TableName, Value};
use vibe_piper::Engine;

use crate::common::*;

fn all_types_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("f", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("bt", DataType::Binary, true),
        Field::new("n", DataType::Decimal128(38, 9), true),
        Field::new("d", DataType::Date32, true),
        Field::new("dt", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("t", DataType::Time64(TimeUnit::Microsecond), true),
        Field::new_list("arr", Field::new("item", DataType::Int64, false), false),
    ]))
}

/// Two rows: every value, then NULL wherever the type allows one.
fn all_types_batch() -> RecordBatch {
    let schema = all_types_schema();
    let arr = ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2), Some(3)]),
        Some(vec![]),
    ]);
    let arr = arrow::compute::cast(&arr, schema.field(10).data_type()).unwrap();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![9_007_199_254_740_993, 2])),
            Arc::new(Float64Array::from(vec![Some(1.5), None])),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Arc::new(StringArray::from(vec![Some("héllo"), None])),
            Arc::new(BinaryArray::from(vec![Some(&[0u8, 1, 255][..]), None])),
            Arc::new(
                Decimal128Array::from(vec![Some(12_345_678_901_234i128), None])
                    .with_precision_and_scale(38, 9)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![Some(19_782), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_709_212_455_123_456),
                None,
            ])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1_709_212_455_123_456), None])
                    .with_timezone("UTC"),
            ),
            Arc::new(Time64MicrosecondArray::from(vec![
                Some(47_655_123_456),
                None,
            ])),
            arr,
        ],
    )
    .unwrap()
}

/// Every type but STRUCT loaded through the Storage Write API reads back the same through
/// the Storage Read API (the engine) and through REST pages (the connector). (The emulator
/// cannot commit a write stream to a table with a STRUCT column; see the next test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_round_trip_through_storage_write_read_and_rest() {
    let ns = BigQueryNamespace::new("types").await;
    let table = TableName::new(ns.dataset.as_str(), "all_types");
    let batch = all_types_batch();
    let loaded = ns
        .connector
        .bulk_insert(
            &table,
            stream_of_batches(batch.schema(), vec![batch.clone()]),
            &BulkOptions {
                create_if_missing: true,
                ..Default::default()
            },
        )
        .await
        .expect("load");
    assert_eq!(loaded, 2);
    let schema = ns.connector.table_schema(&table).await.unwrap().unwrap();
    for (got, want) in schema.fields().iter().zip(all_types_schema().fields()) {
        assert_eq!(got.name(), want.name());
        assert_eq!(
            (got.data_type(), got.is_nullable()),
            (want.data_type(), want.is_nullable()),
            "{}",
            got.name()
        );
    }
    let want = vec![
        "9007199254740993|1.5|true|héllo|0001ff|12345.678901234|2024-02-29|2024-02-29T13:14:15.123456|2024-02-29T13:14:15.123456Z|13:14:15.123456|[1, 2, 3]".to_string(),
        "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|[]".to_string(),
    ];
    let e = engine(&ns, Engine::builder(), "").await;
    let engine_rows = query(&e, "SELECT * FROM src.all_types ORDER BY id DESC").await;
    assert_eq!(engine_rows, want);
    let rest_rows = ns
        .text_rows(&format!(
            "SELECT * FROM {}.all_types ORDER BY id DESC",
            ns.dataset
        ))
        .await;
    assert_eq!(rest_rows, want);
    ns.cleanup().await;
}

/// STRUCT and ARRAY columns (rows inserted by DML) read the same through both paths, with a
/// projection of some columns and a pushed filter on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_columns_read_through_both_paths() {
    let ns = BigQueryNamespace::new("nested").await;
    let st = Fields::from(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("c", DataType::Utf8, true),
    ]);
    ns.connector
        .create_table(
            &TableName::new(ns.dataset.as_str(), "nested"),
            &Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new_list("arr", Field::new("item", DataType::Utf8, false), false),
                Field::new_struct("st", st, true),
                Field::new("note", DataType::Utf8, true),
            ]),
        )
        .await
        .unwrap();
    ns.exec(&format!(
        "INSERT INTO {}.nested (id, arr, st, note) VALUES \
         (1, ['x', 'y'], STRUCT(7 AS a, 'seven' AS c), 'n1'), (2, [], NULL, NULL)",
        ns.dataset
    ))
    .await;
    let want = vec!["1|[x, y]|{a: 7, c: seven}", "2|[]|NULL"];
    let e = engine(&ns, Engine::builder(), "").await;
    assert_eq!(
        query(
            &e,
            "SELECT id, arr, st FROM src.nested WHERE id >= 1 ORDER BY id"
        )
        .await,
        want
    );
    assert_eq!(
        ns.text_rows(&format!(
            "SELECT id, arr, st FROM {}.nested ORDER BY id",
            ns.dataset
        ))
        .await,
        want
    );
    // Needs a real BigQuery: the emulator cannot commit a write stream to a table with a
    // STRUCT column.
    if !bigquery_is_emulator() {
        e.sql_collect("INSERT INTO src.nested SELECT id + 10, arr, st, note FROM src.nested")
            .await
            .unwrap();
        assert_eq!(
            query(&e, "SELECT count(*) FROM src.nested WHERE st.a = 7").await,
            vec!["2"]
        );
    }
    // Only the projected fields are read: the session's EXPLAIN line names them.
    let plan = explain(&e, "SELECT note FROM src.nested WHERE id = 2").await;
    assert!(
        plan.contains("selected_fields=[note]") && plan.contains("row_restriction=(`id` = 2)"),
        "{plan}"
    );
    ns.cleanup().await;
}

/// Statements take named parameters; results and errors carry the job's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_bind_parameters_and_name_their_jobs() {
    let ns = BigQueryNamespace::new("params").await;
    ns.exec("CREATE TABLE kv (k INT64 PRIMARY KEY, v STRING)")
        .await;
    let sql = format!("INSERT INTO {}.kv (k, v) VALUES (@p1, @p2)", ns.dataset);
    let n = ns
        .connector
        .execute_many(
            &sql,
            &[
                vec![Value::Int(1), Value::Text("it's; -- not SQL".into())],
                vec![Value::Int(2), Value::Text("two".into())],
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let outcome = ns
        .connector
        .execute_job(
            &format!("UPDATE {}.kv SET v = @p1 WHERE k = @p2", ns.dataset),
            &[Value::Text("deux".into()), Value::Int(2)],
        )
        .await
        .unwrap();
    assert_eq!(outcome.affected_rows, Some(1));
    assert!(outcome.job_id.is_some());
    assert_eq!(
        ns.text_rows(&format!("SELECT k, v FROM {}.kv ORDER BY k", ns.dataset))
            .await,
        vec!["1|it's; -- not SQL", "2|deux"]
    );
    let err = ns
        .connector
        .execute(&format!("SELECT nosuch FROM {}.kv", ns.dataset), &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuch") && err.contains("(job "), "{err}");
    let err = ns.connector.execute("SELEC 1", &[]).await.unwrap_err();
    assert!(matches!(err, vibe_piper::Error::Syntax { .. }), "{err}");
    let err = ns.connector.transaction().await.err().unwrap().to_string();
    assert!(err.contains("no transactions"), "{err}");
    ns.cleanup().await;
}

/// A table over the size BigQuery reads in one stream: the session's streams are the scan's
/// partitions, all from one session, and give the answer one stream gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_session_streams_are_partitions() {
    let ns = BigQueryNamespace::new("streams").await;
    let table = TableName::new(ns.dataset.as_str(), "wide");
    let n = 200_000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
        Field::new("v", DataType::Float64, true),
    ]));
    let batches: Vec<RecordBatch> = (0..4)
        .map(|part| {
            let ids: Vec<i64> = (part * n / 4 + 1..=(part + 1) * n / 4).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(ids.clone())),
                    Arc::new(StringArray::from(
                        ids.iter()
                            .map(|i| (i % 7 != 0).then(|| format!("label number {i:>8}")))
                            .collect::<Vec<_>>(),
                    )),
                    Arc::new(Float64Array::from(
                        ids.iter().map(|i| *i as f64 / 4.0).collect::<Vec<_>>(),
                    )),
                ],
            )
            .unwrap()
        })
        .collect();
    let loaded = ns
        .connector
        .bulk_insert(
            &table,
            stream_of_batches(schema.clone(), batches),
            &BulkOptions {
                create_if_missing: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(loaded, n as u64);
    let one = engine(&ns, Engine::builder().target_partitions(1), "").await;
    let four = engine(&ns, Engine::builder().target_partitions(4), "").await;
    let plan = explain(&four, "SELECT * FROM src.wide").await;
    assert!(
        plan.contains("partitions=4") && plan.contains("streams=4"),
        "{plan}"
    );
    for sql in [
        "SELECT count(*), sum(id), count(label), sum(v) FROM src.wide",
        "SELECT count(*), min(id), max(id) FROM src.wide WHERE id > 150000 AND label IS NOT NULL",
    ] {
        assert_eq!(query(&one, sql).await, query(&four, sql).await, "{sql}");
    }
    assert_eq!(
        query(
            &four,
            "SELECT count(*), sum(id), count(label) FROM src.wide"
        )
        .await,
        vec![format!("{n}|{}|{}", n * (n + 1) / 2, n - n / 7)]
    );
    // A pushed limit reads one stream and stops.
    let plan = explain(&four, "SELECT id FROM src.wide LIMIT 5").await;
    assert!(
        plan.contains("streams=1") && plan.contains("LIMIT 5"),
        "{plan}"
    );
    assert_eq!(
        query(
            &four,
            "SELECT count(*) FROM (SELECT id FROM src.wide LIMIT 5)"
        )
        .await,
        vec!["5"]
    );
    ns.cleanup().await;
}
