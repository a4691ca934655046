//! Snowflake against the fakesnow emulator (`scripts/test.sh` starts it): types, names, the
//! connector, bulk loads by PUT + COPY INTO, and a federated join with PostgreSQL from the CLI.
//! What the emulator cannot show (collations, PRIMARY KEY not enforced, query ids) is listed
//! in docs/snowflake.md.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{BulkOptions, Connector, Executor, ExecutorExt, TableName};
use vibe_piper::{params, Engine, Error};

use crate::common::{query, rows, Namespace, PgNamespace, SnowflakeFixture, SnowflakeNamespace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_map_exactly_and_nulls_stay_null() {
    let ns = SnowflakeNamespace::new("sf_types").await;
    ns.exec(
        "CREATE TABLE t (n NUMBER(38,0), d NUMBER(10,2), f FLOAT, s VARCHAR(20), b BOOLEAN, \
         dt DATE, ntz TIMESTAMP_NTZ, tz TIMESTAMP_TZ, v VARIANT);
         INSERT INTO t SELECT 9007199254740993, 12345678.91, 1.5, 'zoë', TRUE, '2024-01-02', \
           '2300-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+00:00', PARSE_JSON('{\"a\":1}');
         INSERT INTO t SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
    )
    .await;
    let e = Engine::builder().build();
    e.register_source("sf", &ns.url("")).await.unwrap();
    let batches = e
        .sql_collect(&format!(
            "SELECT * FROM sf.{}.t ORDER BY n NULLS LAST",
            ns.schema
        ))
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
            DataType::Decimal128(38, 0),
            DataType::Decimal128(10, 2),
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Utf8,
        ]
    );
    assert_eq!(
        rows(&batches),
        vec![
            // Past 2^53 and past 2262: exact, not wrapped.
            "9007199254740993|12345678.91|1.5|zoë|true|2024-01-02|2300-01-02T03:04:05.123456|2024-01-02T03:04:05.123456Z|{\"a\":1}",
            "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
        ]
    );
    // Names typed in lower case find what Snowflake stored in upper case; quoted mixed case
    // keeps its case.
    ns.exec("CREATE TABLE \"Mixed\" (\"Id\" INT, plain INT); INSERT INTO \"Mixed\" VALUES (1, 2)")
        .await;
    let e = Engine::builder().build();
    e.register_source("sf", &ns.url("")).await.unwrap();
    assert_eq!(
        query(
            &e,
            &format!(
                "SELECT \"Id\", plain FROM sf.{}.\"Mixed\" WHERE plain = 2",
                ns.schema
            )
        )
        .await,
        vec!["1|2"]
    );
    let plan =
        crate::common::explain(&e, &format!("SELECT n FROM sf.{}.t WHERE n > 5", ns.schema)).await;
    assert!(
        plan.contains("\"T\".\"N\" > 5"),
        "the SQL sent names stored columns: {plan}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_binds_runs_transactions_and_streams() {
    crate::connector::statements_bind_parameters(&SnowflakeFixture).await;
    crate::connector::transactions_commit_rollback_and_drop(&SnowflakeFixture).await;
}

fn batch(ids: &[i64], names: &[Option<&str>]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(names.to_vec())),
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_load_puts_and_copies_all_or_nothing() {
    let ns = SnowflakeNamespace::new("sf_bulk").await;
    ns.exec("CREATE TABLE words (id NUMBER(38,0) NOT NULL, name VARCHAR NOT NULL)")
        .await;
    let conn = &ns.connector;
    assert_eq!(conn.bulk_method(), "PUT + COPY INTO (Parquet)");
    let table = TableName::new(ns.schema.clone(), "words");
    let ids: Vec<i64> = (0..5000).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("w{i}")).collect();
    let names: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
    let good = batch(&ids, &names);
    let n = conn
        .bulk_insert(
            &table,
            stream_of_batches(good.schema(), vec![good.clone()]),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 5000);
    let count = || async {
        ns.text_rows("SELECT COUNT(*), MIN(id), MAX(id) FROM words")
            .await
    };
    assert_eq!(count().await, vec!["5000|0|4999"]);

    // The producer fails: nothing is loaded.
    let failing = futures::stream::iter(vec![
        Ok(batch(&[9000], &[Some("x")])),
        Err(datafusion::error::DataFusionError::Execution(
            "the producer failed".into(),
        )),
    ]);
    let e = conn
        .bulk_insert(
            &table,
            Box::pin(RecordBatchStreamAdapter::new(good.schema(), failing)),
            &BulkOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the producer failed"), "{e}");
    assert_eq!(count().await, vec!["5000|0|4999"]);

    // A NULL into a NOT NULL column fails the COPY, which loads nothing.
    let bad = batch(&[9001, 9002], &[Some("ok"), None]);
    assert!(conn
        .bulk_insert(
            &table,
            stream_of_batches(bad.schema(), vec![bad]),
            &BulkOptions::default(),
        )
        .await
        .is_err());
    assert_eq!(count().await, vec!["5000|0|4999"]);

    // A column the table does not have is named.
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("nope", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef],
    )
    .unwrap();
    let e = conn
        .bulk_insert(
            &table,
            stream_of_batches(other.schema(), vec![other]),
            &BulkOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::SchemaMismatch { ref problems, .. } if problems[0].contains("nope")),
        "{e}"
    );

    // Inside a transaction: committed with it.
    let tx = conn.transaction().await.unwrap();
    tx.bulk_insert(
        &table,
        stream_of_batches(good.schema(), vec![batch(&[20_000], &[Some("t")])]),
        &BulkOptions::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        ns.text_rows("SELECT COUNT(*) FROM words").await,
        vec!["5001"]
    );

    // create_if_missing makes the table from the Arrow schema, as a user would name it.
    let fresh = TableName::new(ns.schema.clone(), "fresh");
    conn.bulk_insert(
        &fresh,
        stream_of_batches(good.schema(), vec![batch(&[1, 2], &[Some("a"), None])]),
        &BulkOptions {
            create_if_missing: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let read = conn.table_schema(&fresh).await.unwrap().expect("created");
    let types: Vec<_> = read
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(types, vec![DataType::Decimal128(19, 0), DataType::Utf8]);
    assert_eq!(
        ns.text_rows("SELECT ID, NAME FROM FRESH ORDER BY ID").await,
        vec!["1|a", "2|NULL"]
    );

    // INSERT ... SELECT through the engine uses the same load.
    let e = Engine::builder().build();
    e.register_source("sf", &ns.url("")).await.unwrap();
    let plan = crate::common::explain(
        &e,
        &format!(
            "INSERT INTO sf.{s}.words SELECT id + 100000, name FROM sf.{s}.fresh",
            s = ns.schema
        ),
    )
    .await;
    assert!(plan.contains("via PUT + COPY INTO (Parquet)"), "{plan}");
    e.sql_collect(&format!(
        "INSERT INTO sf.{s}.words SELECT id + 100000, name FROM sf.{s}.fresh WHERE name IS NOT NULL",
        s = ns.schema
    ))
    .await
    .unwrap();
    assert_eq!(
        ns.text_rows("SELECT NAME FROM WORDS WHERE ID > 100000")
            .await,
        vec!["a"]
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_classified_and_hide_the_password() {
    let ns = SnowflakeNamespace::new("sf_errors").await;
    ns.exec("CREATE TABLE t (id INT NOT NULL)").await;
    // Another schema (and warehouse, role) is another pool on the same account.
    let other = ns
        .connector
        .switch(Some("OTHER_WH"), None, Some("public"))
        .await
        .unwrap();
    let here = ns.connector.fetch_all("SELECT COUNT(*) FROM t", &[]).await;
    assert!(here.is_ok());
    let e = other
        .fetch_all("SELECT COUNT(*) FROM t", &[])
        .await
        .unwrap_err();
    assert!(e.code().is_some(), "t is not in PUBLIC: {e:?}");
    // A query tag is set on every connection.
    let tagged = vibe_piper::connector::snowflake::SnowflakeConnector::connect(
        &ns.url("query_tag=vp_tag&request_timeout=20s"),
    )
    .await
    .unwrap();
    assert_eq!(
        rows(
            &tagged
                .fetch_all("SELECT COUNT(*) FROM t", &[])
                .await
                .unwrap()
        ),
        vec!["0"]
    );
    let e = ns.connector.execute("SELEC 1", &[]).await.unwrap_err();
    assert!(matches!(e, Error::Syntax { .. }), "{e:?}");
    let e = ns
        .connector
        .fetch_all("SELECT * FROM no_such_table", &[])
        .await
        .unwrap_err();
    assert!(e.code().is_some(), "{e:?}");
    assert!(!e.to_string().contains("test:test"), "{e}");
    let e = ns
        .connector
        .execute("INSERT INTO t VALUES (?)", &params![1])
        .await;
    assert_eq!(e.unwrap(), 1);
    // A URL with a wrong option names the valid ones, without the password.
    let err = Engine::builder()
        .build()
        .register_source("sf", &ns.url("warehous=X"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown option `warehous`") && err.contains("warehouse"),
        "{err}"
    );
    assert!(!err.contains(":test@"), "{err}");
    // Nothing listening: a connection error at once, naming the endpoint, not a pool timeout.
    let started = std::time::Instant::now();
    let err = vibe_piper::connector::snowflake::SnowflakeConnector::connect(
        "snowflake://test:s3cret@fakesnow/VP_TEST/PUBLIC?protocol=http&host=127.0.0.1&port=9&request_timeout=2s&login_timeout=3s",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    // No driver where the URL says: the message says how to install it.
    let err = Engine::builder()
        .build()
        .register_source(
            "sf",
            &ns.url("driver=/nonexistent/libadbc_driver_snowflake.so"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("pip install adbc-driver-snowflake"), "{err}");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_federates_snowflake_and_postgres() {
    let sf = SnowflakeNamespace::new("sf_cli").await;
    sf.exec(
        "CREATE TABLE orders (id INT, customer_id INT, total NUMBER(10,2));
             INSERT INTO orders VALUES (1, 1, 10.50), (2, 1, 4.25), (3, 2, 7.00)",
    )
    .await;
    let pg = PgNamespace::new("sf_cli_pg").await;
    pg.exec(
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
             INSERT INTO customers VALUES (1, 'ada'), (2, 'bob')",
    )
    .await;
    let sql = format!(
        "SELECT c.name, sum(o.total) AS total FROM sf.{}.orders o JOIN pg.{}.customers c \
         ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name",
        sf.schema,
        pg.qualifier()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
        .args([
            "sql",
            "--source",
            &format!("sf={}", sf.url("")),
            "--source",
            &format!("pg={}", pg.url("")),
            "--format",
            "csv",
            &sql,
        ])
        .output()
        .expect("run vibe-piper");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "name,total\nada,14.75\nbob,7.00");
    sf.cleanup().await;
    pg.cleanup().await;
}

/// Needs a Snowflake account (`VP_SNOWFLAKE_URL` pointing at one): the emulator has no
/// collations. A case-insensitive column's `=` finds a superset at Snowflake; the engine keeps
/// the filter and re-checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collated_equality_is_rechecked_on_a_real_account() {
    if crate::common::snowflake_url().host_str() == Some("fakesnow") {
        eprintln!("skipped: the emulator has no collations (set VP_SNOWFLAKE_URL to an account)");
        return;
    }
    let ns = SnowflakeNamespace::new("sf_collation").await;
    ns.exec(
        "CREATE TABLE c (id INT, name VARCHAR COLLATE 'en-ci');
         INSERT INTO c VALUES (1, 'alice'), (2, 'ALICE'), (3, 'bob')",
    )
    .await;
    let e = Engine::builder().build();
    e.register_source("sf", &ns.url("")).await.unwrap();
    let sql = format!("SELECT id FROM sf.{}.c WHERE name = 'alice'", ns.schema);
    assert!(crate::common::explain(&e, &sql)
        .await
        .contains("FilterExec"));
    assert_eq!(query(&e, &sql).await, vec!["1"]);
    ns.cleanup().await;
}
