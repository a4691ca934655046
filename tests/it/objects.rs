//! Folders on object storage as sources, against the S3 emulator `scripts/test.sh` starts
//! (moto; or the endpoint VP_S3_ENDPOINT names): every format, folder tables, hive partitions,
//! row-group pruning, options and their errors.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use vibe_piper::Engine;

use crate::common::{
    assert_nine_of_ten_row_groups_pruned, explain, query, s3_bucket as bucket,
    s3_options as options, s3_store as store, unique as prefix,
};

async fn put(store: &AmazonS3, path: &str, bytes: Vec<u8>) {
    store
        .put(&ObjectPath::from(path), PutPayload::from(bytes))
        .await
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
}

fn parquet(batches: &[RecordBatch], row_group_rows: usize) -> Vec<u8> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut out = vec![];
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut out, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    out
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let ids: Vec<i64> = ids.collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Float64Array::from(
                ids.iter().map(|i| *i as f64 / 2.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                ids.iter().map(|i| format!("n{i}")).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

/// Every file or folder directly under the URL is a table named after it, in each format;
/// `key=value` folders are partition columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_folders_on_s3_are_tables() {
    let s3 = store();
    let p = prefix("tables");
    put(
        &s3,
        &format!("{p}/nation.csv"),
        b"id,name\n1,FRANCE\n2,PERU\n".to_vec(),
    )
    .await;
    put(
        &s3,
        &format!("{p}/events.jsonl"),
        b"{\"id\": 1, \"kind\": \"click\"}\n{\"id\": 2, \"kind\": null}\n".to_vec(),
    )
    .await;
    {
        let b = batch(0..3);
        let mut out = vec![];
        let mut w = arrow::ipc::writer::FileWriter::try_new(&mut out, &b.schema()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        // DataFusion 55 cannot infer the schema of a remote Arrow IPC file (its streaming
        // inference refuses arrow-rs's file format): Arrow files are read from local folders
        // (checked below), and on object storage as IPC streams.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("points.arrow"), &out).unwrap();
        let local = Engine::builder().build();
        local
            .register_source("l", &format!("file://{}/", dir.path().display()))
            .await
            .unwrap();
        assert_eq!(
            query(&local, "SELECT id, v, name FROM l.points ORDER BY id").await,
            vec!["0|0.0|n0", "1|0.5|n1", "2|1.0|n2"]
        );
        let mut stream = vec![];
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut stream, &b.schema()).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        drop(w);
        put(&s3, &format!("{p}/points.arrow"), stream).await;
    }
    put(
        &s3,
        &format!("{p}/lineitem/part-0.parquet"),
        parquet(&[batch(0..500)], 100),
    )
    .await;
    put(
        &s3,
        &format!("{p}/lineitem/part-1.parquet"),
        parquet(&[batch(500..1000)], 100),
    )
    .await;
    put(
        &s3,
        &format!("{p}/sales/region=eu/part.parquet"),
        parquet(&[batch(0..10)], 100),
    )
    .await;
    put(
        &s3,
        &format!("{p}/sales/region=us/part.parquet"),
        parquet(&[batch(10..30)], 100),
    )
    .await;
    put(&s3, &format!("{p}/README.txt"), b"not a table".to_vec()).await;

    let e = Engine::builder().build();
    e.register_source("f", &format!("s3://{}/{p}/?{}", bucket(), options()))
        .await
        .unwrap();
    let mut names: Vec<String> = e
        .tables("f")
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "public.events",
            "public.lineitem",
            "public.nation",
            "public.points",
            "public.sales"
        ]
    );
    assert_eq!(
        query(&e, "SELECT id, name FROM f.nation ORDER BY id").await,
        vec!["1|FRANCE", "2|PERU"]
    );
    assert_eq!(
        query(&e, "SELECT id, kind FROM f.events ORDER BY id").await,
        vec!["1|click", "2|NULL"]
    );
    assert_eq!(
        query(&e, "SELECT id, v, name FROM f.points ORDER BY id").await,
        vec!["0|0.0|n0", "1|0.5|n1", "2|1.0|n2"]
    );
    assert_eq!(
        query(&e, "SELECT count(*), sum(id), max(name) FROM f.lineitem").await,
        vec!["1000|499500|n999"]
    );
    assert_eq!(
        query(
            &e,
            "SELECT region, count(*) FROM f.sales GROUP BY region ORDER BY region"
        )
        .await,
        vec!["eu|10", "us|20"]
    );
    // A partition filter reads only that partition's files.
    let plan = explain(&e, "SELECT id FROM f.sales WHERE region = 'us'").await;
    assert!(
        plan.contains("region=us/part.parquet") && !plan.contains("region=eu"),
        "{plan}"
    );
    assert_eq!(
        query(&e, "SELECT count(*) FROM f.sales WHERE region = 'us'").await,
        vec!["20"]
    );
}

/// A selective filter on a sorted column skips the Parquet row groups whose statistics rule
/// them out (EXPLAIN ANALYZE counts them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_row_groups_are_pruned_on_s3() {
    let s3 = store();
    let p = prefix("pruning");
    let batches: Vec<RecordBatch> = (0..10).map(|i| batch(i * 1000..(i + 1) * 1000)).collect();
    put(&s3, &format!("{p}/sorted.parquet"), parquet(&batches, 1000)).await;
    let e = Engine::builder().build();
    e.register_source("f", &format!("s3://{}/{p}/?{}", bucket(), options()))
        .await
        .unwrap();
    assert_nine_of_ten_row_groups_pruned(&e).await;
}

/// Options come from the URL; a wrong one is named, and no secret reaches an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_options_and_errors() {
    let e = Engine::builder().build();
    let err = e
        .register_source(
            "f",
            &format!("s3://{}/x/?{}&colour=red", bucket(), options()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("colour"), "{err}");
    assert!(!err.contains("vp-secret-123"), "{err}");
    let err = e
        .register_source("g", &format!("s3://no-such-bucket-vp/x/?{}", options()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-bucket-vp"), "{err}");
    assert!(!err.contains("vp-secret-123"), "{err}");
    // An empty prefix is a source without tables, not an error.
    let e = Engine::builder().build();
    e.register_source(
        "h",
        &format!("s3://{}/{}/?{}", bucket(), prefix("empty"), options()),
    )
    .await
    .unwrap();
    assert!(e.tables("h").await.unwrap().is_empty());
}
