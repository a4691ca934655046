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

/// `INSERT ... SELECT` from another source loads through the Storage Write API; `UPDATE` and
/// `DELETE` through the engine run as query jobs with bound parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_writes_through_storage_write_and_dml_jobs() {
    let bq = BigQueryNamespace::new("engine_dml").await;
    bq.exec("CREATE TABLE items (id INT64 PRIMARY KEY, name STRING, qty INT64)")
        .await;
    let pg = PgNamespace::new("bq_engine_dml_pg").await;
    pg.exec(
        "CREATE TABLE src_items (id int PRIMARY KEY, name text, qty int);
         INSERT INTO src_items VALUES (1, 'apple', 3), (2, 'pear', NULL), (3, 'it''s', 5)",
    )
    .await;
    let e = Engine::builder().build();
    e.register_source("bq", &bq.url("")).await.unwrap();
    e.register_source("pg", &pg.url("")).await.unwrap();
    let plan = explain(
        &e,
        &format!(
            "INSERT INTO bq.{}.items SELECT id, name, qty FROM pg.{}.src_items",
            bq.dataset,
            pg.qualifier()
        ),
    )
    .await;
    assert!(plan.contains("Storage Write API"), "{plan}");
    let inserted = query(
        &e,
        &format!(
            "INSERT INTO bq.{}.items SELECT id, name, qty FROM pg.{}.src_items",
            bq.dataset,
            pg.qualifier()
        ),
    )
    .await;
    assert_eq!(inserted, vec!["3"]);
    let updated = query(
        &e,
        &format!(
            "UPDATE bq.{}.items SET qty = 9 WHERE name = 'pear'",
            bq.dataset
        ),
    )
    .await;
    assert_eq!(updated, vec!["1"]);
    let deleted = query(
        &e,
        &format!("DELETE FROM bq.{}.items WHERE id = 1", bq.dataset),
    )
    .await;
    assert_eq!(deleted, vec!["1"]);
    assert_eq!(
        query(
            &e,
            &format!("SELECT * FROM bq.{}.items ORDER BY id", bq.dataset)
        )
        .await,
        vec!["2|pear|9", "3|it's|5"]
    );
    // A load that fails part-way leaves the table as it was.
    let err = e
        .sql_collect(&format!(
            "INSERT INTO bq.{}.items SELECT id, name, CAST(100 / (id - 3) AS BIGINT) FROM pg.{}.src_items",
            bq.dataset,
            pg.qualifier()
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("divide by zero"), "{err}");
    assert_eq!(
        query(&e, &format!("SELECT count(*) FROM bq.{}.items", bq.dataset)).await,
        vec!["2"]
    );
    bq.cleanup().await;
    pg.cleanup().await;
}

/// The command line joins a BigQuery table with a PostgreSQL one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_federates_bigquery_and_postgres() {
    let bq = BigQueryNamespace::new("cli").await;
    bq.exec(
        "CREATE TABLE orders (id INT64, customer_id INT64, total NUMERIC);
         INSERT INTO orders VALUES (1, 1, 10.50), (2, 1, 4.25), (3, 2, 7.00)",
    )
    .await;
    let pg = PgNamespace::new("bq_cli_pg").await;
    pg.exec(
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         INSERT INTO customers VALUES (1, 'ada'), (2, 'bob')",
    )
    .await;
    let sql = format!(
        "SELECT c.name, sum(o.total) AS total FROM bq.{}.orders o JOIN pg.{}.customers c \
         ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name",
        bq.dataset,
        pg.qualifier()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
        .args([
            "sql",
            "--source",
            &format!("bq={}", bq.url("")),
            "--source",
            &format!("pg={}", pg.url("")),
            "--format",
            "csv",
            &sql,
        ])
        .output()
        .expect("run vibe-piper");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "name,total\nada,14.750000000\nbob,7.000000000"
    );
    bq.cleanup().await;
    pg.cleanup().await;
}

/// A wrong endpoint is a connection error naming it; an unknown dataset or table says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoints_and_unknown_tables_say_what_to_check() {
    let err = vibe_piper::connector::bigquery::BigQueryConnector::connect(
        "bigquery://p/ds?endpoint=http://127.0.0.1:9&grpc_endpoint=http://127.0.0.1:9",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, vibe_piper::Error::Connection { .. })
            && err.to_string().contains("127.0.0.1:9"),
        "{err}"
    );
    let ns = BigQueryNamespace::new("errors").await;
    let e = engine(&ns, Engine::builder(), "").await;
    let err = e
        .sql("SELECT * FROM src.nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    let err = e
        .sql_collect(&format!("SELECT * FROM src.{}_missing.t", ns.dataset))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
    ns.cleanup().await;
}

/// A token endpoint and a REST endpoint of the test's own: the endpoint checks the JWT the
/// service-account key signed (with `openssl`, against the key's public half) and issues a
/// token; the REST endpoint answers only requests that carry it.
struct FakeGoogle {
    port: u16,
    tokens_issued: Arc<std::sync::atomic::AtomicUsize>,
    authorized: Arc<std::sync::atomic::AtomicUsize>,
}

const ISSUED: &str = "vp-test-token-1";

async fn fake_google(dir: &std::path::Path, email: &'static str) -> FakeGoogle {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tokens_issued = Arc::new(AtomicUsize::new(0));
    let authorized = Arc::new(AtomicUsize::new(0));
    let (issued, seen) = (tokens_issued.clone(), authorized.clone());
    let public = dir.join("public.pem");
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (issued, seen, public, dir) =
                (issued.clone(), seen.clone(), public.clone(), dir.clone());
            tokio::spawn(async move {
                let mut buf = vec![];
                let mut chunk = [0u8; 8192];
                // One request per connection (the reply closes it).
                let (head, body) = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break (head, text[end + 4..end + 4 + length].to_string());
                        }
                    }
                };
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let bearer = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                });
                let (status, reply) = if path == "/token" {
                    token_reply(&body, &public, &dir, email, port, &issued)
                } else if bearer.as_deref() != Some(&format!("Bearer {ISSUED}")) {
                    (
                        "401 Unauthorized",
                        r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#.to_string(),
                    )
                } else {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let reply = if path.contains("/queries") {
                        r#"{"jobComplete":true,"jobReference":{"jobId":"job-1"},"schema":{"fields":[{"name":"f0_","type":"INTEGER"}]},"rows":[{"f":[{"v":"1"}]}],"totalRows":"1"}"#
                    } else {
                        r#"{"tables":[]}"#
                    };
                    ("200 OK", reply.to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    FakeGoogle {
        port,
        tokens_issued,
        authorized,
    }
}

/// Checks a JWT-bearer grant: the signature against the public key, the issuer, audience and
/// scope; a token when all hold.
fn token_reply(
    body: &str,
    public: &std::path::Path,
    dir: &std::path::Path,
    email: &str,
    port: u16,
    issued: &std::sync::atomic::AtomicUsize,
) -> (&'static str, String) {
    use base64::Engine as _;
    let refuse = |why: &str| {
        (
            "400 Bad Request",
            format!(r#"{{"error":"invalid_grant","error_description":"{why}"}}"#),
        )
    };
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse("wrong grant type");
    }
    let jwt = form.get("assertion").cloned().unwrap_or_default();
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return refuse("not a JWT");
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[0]).unwrap_or_default()).unwrap_or_default();
    let claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap_or_default()).unwrap_or_default();
    if header["alg"] != "RS256" {
        return refuse("not RS256");
    }
    if claims["iss"] != email
        || claims["aud"] != format!("http://127.0.0.1:{port}/token")
        || !claims["scope"]
            .as_str()
            .unwrap_or("")
            .contains("https://www.googleapis.com/auth/bigquery")
    {
        return refuse("wrong claims");
    }
    let n = issued.load(std::sync::atomic::Ordering::SeqCst);
    let signed = dir.join(format!("signed-{n}"));
    let signature = dir.join(format!("signature-{n}"));
    std::fs::write(&signed, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(
        &signature,
        b64.decode(parts[2].trim_end_matches('='))
            .unwrap_or_default(),
    )
    .unwrap();
    let verified = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&signature)
        .arg(&signed)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !verified {
        return refuse("bad signature");
    }
    issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    (
        "200 OK",
        format!(r#"{{"access_token":"{ISSUED}","expires_in":3600,"token_type":"Bearer"}}"#),
    )
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The whole service-account flow, offline: the key file's JWT is signed and checked, the
/// token it buys is on every request, and a key the endpoint does not accept is an
/// authentication error that shows no key material.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_keys_sign_a_jwt_for_a_token_that_requests_carry() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let email = "loader@test-project.iam.gserviceaccount.com";
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
        dir.path(),
    );
    openssl(
        &["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"],
        dir.path(),
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "other.pem",
        ],
        dir.path(),
    );
    let google = fake_google(dir.path(), email).await;
    let key_file = |pem: &str, name: &str| {
        let private_key = std::fs::read_to_string(dir.path().join(pem)).unwrap();
        let key = serde_json::json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "k1",
            "private_key": private_key,
            "client_email": email,
            "client_id": "1",
            "token_uri": format!("http://127.0.0.1:{}/token", google.port),
        });
        let path = dir.path().join(name);
        std::fs::write(&path, key.to_string()).unwrap();
        path
    };
    let url = |key: &std::path::Path| {
        format!(
            "bigquery://test-project/ds?credentials={}&endpoint=http://127.0.0.1:{p}&grpc_endpoint=http://127.0.0.1:{p}",
            key.display(),
            p = google.port
        )
    };
    let good = key_file("key.pem", "good.json");
    let connector = vibe_piper::connector::bigquery::BigQueryConnector::connect(&url(&good))
        .await
        .expect("the signed JWT buys a token");
    connector.ping().await.unwrap();
    assert_eq!(
        google.tokens_issued.load(Ordering::SeqCst),
        1,
        "the token is cached"
    );
    assert!(google.authorized.load(Ordering::SeqCst) >= 2);
    assert!(!format!("{connector:?}").contains("PRIVATE KEY"));

    // Application-default credentials: GOOGLE_APPLICATION_CREDENTIALS names the key (each
    // test runs in a process of its own, so the variable stays here).
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &good);
    vibe_piper::connector::bigquery::BigQueryConnector::connect(&format!(
        "bigquery://test-project/ds?credentials=default&endpoint=http://127.0.0.1:{p}&grpc_endpoint=http://127.0.0.1:{p}",
        p = google.port
    ))
    .await
    .expect("application-default credentials from GOOGLE_APPLICATION_CREDENTIALS");
    assert_eq!(google.tokens_issued.load(Ordering::SeqCst), 2);
    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    // Then the gcloud application-default credentials file.
    let gcloud = dir.path().join("gcloud");
    std::fs::create_dir(&gcloud).unwrap();
    std::fs::copy(&good, gcloud.join("application_default_credentials.json")).unwrap();
    std::env::set_var("CLOUDSDK_CONFIG", &gcloud);
    vibe_piper::connector::bigquery::BigQueryConnector::connect(&format!(
        "bigquery://test-project/ds?credentials=default&endpoint=http://127.0.0.1:{p}&grpc_endpoint=http://127.0.0.1:{p}",
        p = google.port
    ))
    .await
    .expect("application-default credentials from the gcloud file");
    assert_eq!(google.tokens_issued.load(Ordering::SeqCst), 3);
    std::env::remove_var("CLOUDSDK_CONFIG");

    let wrong = key_file("other.pem", "wrong.json");
    let err = vibe_piper::connector::bigquery::BigQueryConnector::connect(&url(&wrong))
        .await
        .unwrap_err();
    assert!(
        matches!(err, vibe_piper::Error::Authentication { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("bad signature") && text.contains("wrong.json"),
        "{text}"
    );
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains(ISSUED),
        "{text}"
    );

    // Without credentials the endpoint refuses: an authentication error saying what to check.
    let err = vibe_piper::connector::bigquery::BigQueryConnector::connect(&format!(
        "bigquery://test-project/ds?endpoint=http://127.0.0.1:{p}&grpc_endpoint=http://127.0.0.1:{p}",
        p = google.port
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, vibe_piper::Error::Authentication { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("credentials="), "{err}");
    let err = vibe_piper::connector::bigquery::BigQueryConnector::connect(&format!(
        "bigquery://test-project/ds?credentials={}",
        dir.path().join("public.pem").display()
    ))
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not a BigQuery credentials file"),
        "{err}"
    );
}

/// Decimal literals reach BigQuery as `NUMERIC` values (a bare `99999.99` would be a FLOAT64
/// there) and timestamps without a zone as `DATETIME`s; both answer exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_and_datetime_literals_are_typed_in_row_restrictions() {
    let ns = BigQueryNamespace::new("typed_literals").await;
    ns.exec(
        "CREATE TABLE m (id INT64 PRIMARY KEY, amount NUMERIC, placed DATETIME);
         INSERT INTO m VALUES (1, 99999.99, '2024-03-02 10:00:00.123'), (2, 0.1, '2024-03-02 10:00:00')",
    )
    .await;
    let e = engine(&ns, Engine::builder(), "").await;
    let sql = "SELECT id FROM src.m WHERE amount = 99999.99";
    let plan = explain(&e, sql).await;
    assert!(
        plan.contains("row_restriction=(`amount` = NUMERIC '99999.990000000')")
            && !plan.contains("FilterExec"),
        "{plan}"
    );
    assert_eq!(query(&e, sql).await, vec!["1"]);
    let sql = "SELECT id FROM src.m WHERE placed > TIMESTAMP '2024-03-02 10:00:00.100'";
    let plan = explain(&e, sql).await;
    assert!(plan.contains("AS DATETIME)"), "{plan}");
    assert_eq!(query(&e, sql).await, vec!["1"]);
    ns.cleanup().await;
}

/// A result of many pages comes back whole and in order: from the job's destination table
/// through the Storage Read API on BigQuery, from the REST pages where the endpoint cannot
/// read it (the emulator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_query_results_come_back_whole_and_in_order() {
    use vibe_piper::connector::ExecutorExt;
    let ns = BigQueryNamespace::new("large_result").await;
    let table = TableName::new(ns.dataset.as_str(), "seq");
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(1..=1000))],
    )
    .unwrap();
    ns.connector
        .bulk_insert(
            &table,
            stream_of_batches(schema, vec![batch]),
            &BulkOptions {
                create_if_missing: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let small_pages = vibe_piper::connector::bigquery::BigQueryConnector::connect(
        &BigQueryNamespace::url_for(&ns.dataset, "page_rows=100"),
    )
    .await
    .unwrap();
    let batches = small_pages
        .fetch_all(
            &format!("SELECT id FROM {}.seq ORDER BY id DESC", ns.dataset),
            &[],
        )
        .await
        .unwrap();
    let ids: Vec<i64> = rows(&batches).iter().map(|r| r.parse().unwrap()).collect();
    assert_eq!(ids, (1..=1000).rev().collect::<Vec<_>>());
    ns.cleanup().await;
}

/// Load jobs from CSV, JSON lines and Parquet files append their rows; a file with a bad row
/// fails the job with its id and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_jobs_from_files_are_all_or_nothing() {
    use vibe_piper::connector::bigquery::LoadFormat;
    use vibe_piper::connector::CsvOptions;
    let ns = BigQueryNamespace::new("load_jobs").await;
    ns.exec("CREATE TABLE f (id INT64 PRIMARY KEY, name STRING)")
        .await;
    let table = TableName::new(ns.dataset.as_str(), "f");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("a.csv");
    std::fs::write(&csv, "id,name\n1,ada\n2,\n").unwrap();
    let json = dir.path().join("b.jsonl");
    std::fs::write(
        &json,
        "{\"id\": 3, \"name\": \"bob\"}\n{\"id\": 4, \"name\": null}\n",
    )
    .unwrap();
    let parquet = dir.path().join("c.parquet");
    {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![5, 6])),
                Arc::new(StringArray::from(vec![Some("cy"), Some("dee")])),
            ],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&parquet).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    for (path, format) in [
        (&csv, LoadFormat::Csv(CsvOptions::default())),
        (&json, LoadFormat::JsonLines),
        (&parquet, LoadFormat::Parquet),
    ] {
        let outcome = ns.connector.load_file(&table, path, format).await.unwrap();
        assert!(outcome.job_id.is_some());
        // The emulator reports the table's rows after the load, BigQuery the rows loaded.
        if !bigquery_is_emulator() {
            assert_eq!(outcome.affected_rows, Some(2));
        }
    }
    assert_eq!(
        ns.text_rows(&format!(
            "SELECT id, name FROM {}.f ORDER BY id",
            ns.dataset
        ))
        .await,
        vec!["1|ada", "2|NULL", "3|bob", "4|NULL", "5|cy", "6|dee"]
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,name\n7,ok\nnot a number,x\n").unwrap();
    let err = ns
        .connector
        .load_file(&table, &bad, LoadFormat::Csv(CsvOptions::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("(job "), "{err}");
    assert_eq!(
        ns.text_rows(&format!("SELECT count(*) FROM {}.f", ns.dataset))
            .await,
        vec!["6"]
    );
    let err = ns
        .connector
        .load_file(
            &TableName::new(ns.dataset.as_str(), "nope"),
            &csv,
            LoadFormat::Csv(CsvOptions::default()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    ns.cleanup().await;
}

/// `bq.query('...')` runs GoogleSQL as written (a query job, described first by a dry run) and
/// its result joins like any table; a source that cannot describe a query says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_table_function_runs_googlesql_as_written() {
    let bq = BigQueryNamespace::new("query_fn").await;
    bq.exec(
        "CREATE TABLE t (id INT64 PRIMARY KEY, tag STRING);
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'a')",
    )
    .await;
    let pg = PgNamespace::new("bq_query_fn_pg").await;
    pg.exec(
        "CREATE TABLE tags (tag text PRIMARY KEY, label text);
         INSERT INTO tags VALUES ('a', 'alpha'), ('b', 'beta')",
    )
    .await;
    let e = Engine::builder().build();
    e.register_source("bq", &bq.url("")).await.unwrap();
    e.register_source("pg", &pg.url("")).await.unwrap();
    let sql = format!(
        "SELECT q.tag, q.n, g.label FROM bq.query('SELECT tag, COUNT(*) AS n FROM `{}`.t GROUP BY tag') q \
         JOIN pg.{}.tags g ON g.tag = q.tag ORDER BY q.tag",
        bq.dataset,
        pg.qualifier()
    );
    assert_eq!(query(&e, &sql).await, vec!["a|2|alpha", "b|1|beta"]);
    let plan = explain(&e, &sql).await;
    assert!(
        plan.contains("the query as written") && plan.contains("GROUP BY tag"),
        "{plan}"
    );
    let err = e
        .sql("SELECT * FROM pg.query('SELECT 1')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot run a query of its own SQL"), "{err}");
    let err = e
        .sql(&format!(
            "SELECT * FROM bq.query('SELEC 1 FROM {}.t')",
            bq.dataset
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("syntax"), "{err}");
    bq.cleanup().await;
    pg.cleanup().await;
}
