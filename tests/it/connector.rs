//! The connector contract, written once and run per backend (PostgreSQL, MariaDB): statements
//! with bound parameters, transactions, bulk loads, pools, errors, and writes through the
//! engine's SQL.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{
    self, BulkOptions, Connector, Executor, ExecutorExt, TableName, Value,
};
use vibe_piper::error::ConstraintKind;
use vibe_piper::{params, Engine, Error};

use crate::common::{rows, sorted_rows, Fixture, Namespace};

/// Strings that would break SQL if they were spliced into it.
pub const INJECTIONS: &[&str] = &[
    "Robert'); DROP TABLE people; --",
    "' OR '1'='1",
    "\\'; SELECT 1; --",
    "`; DROP DATABASE x; --",
    "\"quoted\" $1 ? %s",
];

pub struct Db {
    pub ns: Arc<dyn Namespace>,
    pub conn: Arc<dyn Connector>,
    pub q: String,
    pub pg: bool,
}

impl Db {
    pub async fn new(fixture: &dyn Fixture, test: &str, options: &str) -> Db {
        let ns = fixture.namespace(test).await;
        let conn = connector::connect(&ns.url(options)).await.expect("connect");
        let pg = conn.backend() == "postgres";
        Db {
            q: ns.qualifier(),
            ns,
            conn,
            pg,
        }
    }

    /// Placeholder `i` (1-based).
    pub fn p(&self, i: usize) -> String {
        if self.pg {
            format!("${i}")
        } else {
            "?".into()
        }
    }

    /// A qualified table name.
    pub fn t(&self, name: &str) -> String {
        format!("{}.{name}", self.q)
    }

    pub fn name(&self, table: &str) -> TableName {
        TableName::new(self.q.clone(), table)
    }

    pub async fn people(&self) {
        let text = if self.pg { "text" } else { "VARCHAR(200)" };
        self.ns
            .exec(&format!(
                "CREATE TABLE {} (id BIGINT PRIMARY KEY, name {text} NOT NULL, score DOUBLE PRECISION, ok BOOLEAN)",
                self.t("people")
            ))
            .await;
    }

    pub async fn count(&self, table: &str) -> i64 {
        let b = self
            .conn
            .query_one(&format!("SELECT COUNT(*) AS n FROM {}", self.t(table)), &[])
            .await
            .expect("count");
        rows(&[b])[0].parse().expect("a number")
    }
}

pub fn people_batch(ids: &[i64]) -> RecordBatch {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
    ]));
    let names: Vec<String> = ids
        .iter()
        .map(|i| INJECTIONS[*i as usize % INJECTIONS.len()].to_string() + &i.to_string())
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(StringArray::from(names)),
        Arc::new(Float64Array::from(
            ids.iter()
                .map(|i| (i % 3 != 0).then_some(*i as f64 / 4.0))
                .collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            ids.iter().map(|i| Some(i % 2 == 0)).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, cols).expect("batch")
}

pub async fn statements_bind_parameters(f: &dyn Fixture) {
    let db = Db::new(f, "conn_params", "").await;
    db.people().await;
    let insert = format!(
        "INSERT INTO {} (id, name, score, ok) VALUES ({}, {}, {}, {})",
        db.t("people"),
        db.p(1),
        db.p(2),
        db.p(3),
        db.p(4)
    );
    for (i, s) in INJECTIONS.iter().enumerate() {
        let n = db
            .conn
            .execute(&insert, &params![i as i64, *s, 0.5, None::<bool>])
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(n, 1);
    }
    // Stored as data: every string comes back unchanged, and the table is still there.
    let b = db
        .conn
        .fetch_all(
            &format!(
                "SELECT id, name, score, ok FROM {} ORDER BY id",
                db.t("people")
            ),
            &[],
        )
        .await
        .unwrap();
    let got = rows(&b);
    assert_eq!(got.len(), INJECTIONS.len());
    for (i, s) in INJECTIONS.iter().enumerate() {
        assert_eq!(got[i], format!("{i}|{s}|0.5|NULL"));
    }
    // A parameter in a WHERE clause matches only itself.
    let one = db
        .conn
        .query_one(
            &format!("SELECT id FROM {} WHERE name = {}", db.t("people"), db.p(1)),
            &params![INJECTIONS[1]],
        )
        .await
        .unwrap();
    assert_eq!(rows(&[one]), vec!["1"]);
    let none = db
        .conn
        .query_one(
            &format!("SELECT id FROM {} WHERE name = {}", db.t("people"), db.p(1)),
            &params!["nobody"],
        )
        .await;
    assert!(matches!(none, Err(Error::RowNotFound)), "{none:?}");
    // Updates and deletes count their rows.
    let n = db
        .conn
        .execute(
            &format!(
                "UPDATE {} SET score = {} WHERE id >= {}",
                db.t("people"),
                db.p(1),
                db.p(2)
            ),
            &params![2.0, 3],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    // execute_many: prepared once, one transaction, injection strings as data.
    let many: Vec<Vec<Value>> = (100..150)
        .map(|i| params![i as i64, format!("{}{i}", INJECTIONS[i % 5]), 1.0, true])
        .collect();
    assert_eq!(db.conn.execute_many(&insert, &many).await.unwrap(), 50);
    assert_eq!(db.count("people").await, 55);
    // A failing row rolls the whole batch back.
    let bad = vec![
        params![200, "fine", 1.0, true],
        params![100, "duplicate key", 1.0, true],
    ];
    assert!(db.conn.execute_many(&insert, &bad).await.is_err());
    assert_eq!(db.count("people").await, 55);
    db.ns.cleanup().await;
}

pub async fn transactions_commit_rollback_and_drop(f: &dyn Fixture) {
    let db = Db::new(f, "conn_tx", "").await;
    db.people().await;
    let insert = format!(
        "INSERT INTO {} (id, name) VALUES ({}, {})",
        db.t("people"),
        db.p(1),
        db.p(2)
    );
    let tx = db.conn.transaction().await.unwrap();
    tx.execute(&insert, &params![1, "a"]).await.unwrap();
    // Visible inside, not outside.
    let inside = tx
        .fetch_all(&format!("SELECT name FROM {}", db.t("people")), &[])
        .await
        .unwrap();
    assert_eq!(rows(&inside), vec!["a"]);
    assert_eq!(db.count("people").await, 0);
    tx.rollback().await.unwrap();
    assert_eq!(db.count("people").await, 0);

    let tx = db.conn.transaction().await.unwrap();
    tx.execute(&insert, &params![2, "b"]).await.unwrap();
    tx.execute_many(&insert, &[params![3, "c"], params![4, "d"]])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.count("people").await, 3);

    {
        let tx = db.conn.transaction().await.unwrap();
        tx.execute(&insert, &params![5, "dropped"]).await.unwrap();
        // A query left unread does not keep the connection from rolling back.
        let _unread = tx
            .query(&format!("SELECT * FROM {}", db.t("people")), &[])
            .await
            .unwrap();
    }
    // Rolled back on drop (asynchronously): the row never appears, and the pool still works.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(db.count("people").await, 3);
    db.conn.ping().await.unwrap();
    db.ns.cleanup().await;
}

pub async fn bulk_insert_is_all_or_nothing(f: &dyn Fixture) {
    let db = Db::new(f, "conn_bulk", "").await;
    db.people().await;
    let table = db.name("people");
    let batches = vec![
        people_batch(&(0..1000).collect::<Vec<_>>()),
        people_batch(&(1000..2500).collect::<Vec<_>>()),
    ];
    let schema = batches[0].schema();
    let n = db
        .conn
        .bulk_insert(
            &table,
            stream_of_batches(schema.clone(), batches),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 2500);
    assert_eq!(db.count("people").await, 2500);
    let b = db
        .conn
        .fetch_all(
            &format!(
                "SELECT id, name, score, ok FROM {} WHERE id IN (1, 3, 1001) ORDER BY id",
                db.t("people")
            ),
            &[],
        )
        .await
        .unwrap();
    // MySQL's BOOLEAN is tinyint(1): a query result reads it as a number.
    let no = if db.pg { "false" } else { "0" };
    assert_eq!(
        rows(&b),
        vec![
            format!("1|{}1|0.25|{no}", INJECTIONS[1]),
            format!("3|{}3|NULL|{no}", INJECTIONS[3]),
            format!("1001|{}1001|250.25|{no}", INJECTIONS[1]),
        ]
    );

    // A stream that fails in the middle leaves the table exactly as it was.
    let failing = futures::stream::iter(vec![
        Ok(people_batch(&(5000..6000).collect::<Vec<_>>())),
        Err(datafusion::error::DataFusionError::Execution(
            "the producer failed".into(),
        )),
        Ok(people_batch(&[7000])),
    ]);
    let e = db
        .conn
        .bulk_insert(
            &table,
            Box::pin(RecordBatchStreamAdapter::new(schema.clone(), failing)),
            &BulkOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the producer failed"), "{e}");
    assert_eq!(db.count("people").await, 2500);

    // A duplicate key in the second batch: nothing of the first batch stays either.
    let dup = vec![
        people_batch(&(9000..9100).collect::<Vec<_>>()),
        people_batch(&[1]),
    ];
    let e = db
        .conn
        .bulk_insert(
            &table,
            stream_of_batches(schema.clone(), dup),
            &BulkOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Constraint {
                kind: ConstraintKind::Unique,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(db.count("people").await, 2500);

    // Inside a transaction, a failed load leaves the transaction's earlier work alone.
    let tx = db.conn.transaction().await.unwrap();
    tx.bulk_insert(
        &table,
        stream_of_batches(schema.clone(), vec![people_batch(&[20_000])]),
        &BulkOptions::default(),
    )
    .await
    .unwrap();
    assert!(tx
        .bulk_insert(
            &table,
            stream_of_batches(schema.clone(), vec![people_batch(&[20_001, 1])]),
            &BulkOptions::default(),
        )
        .await
        .is_err());
    tx.commit().await.unwrap();
    assert_eq!(db.count("people").await, 2501);

    // A column the table does not have is a schema mismatch naming it.
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("nope", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let e = db
        .conn
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

    // create_if_missing: the table is made from the Arrow schema and reads back the same.
    let fresh = db.name("fresh");
    let missing = db
        .conn
        .bulk_insert(
            &fresh,
            stream_of_batches(schema.clone(), vec![people_batch(&[1, 2])]),
            &BulkOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::UnknownTable(_)), "{missing}");
    db.conn
        .bulk_insert(
            &fresh,
            stream_of_batches(schema.clone(), vec![people_batch(&[1, 2, 3])]),
            &BulkOptions {
                create_if_missing: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let read = db
        .conn
        .table_schema(&fresh)
        .await
        .unwrap()
        .expect("created");
    let types: Vec<_> = read
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let expected_bool = if db.pg {
        DataType::Boolean
    } else {
        DataType::Int8
    };
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Utf8,
            DataType::Float64,
            expected_bool
        ]
    );
    let b = db
        .conn
        .fetch_all(
            &format!("SELECT id, name FROM {} ORDER BY id", db.t("fresh")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows(&b)[2], format!("3|{}3", INJECTIONS[3]));
    db.ns.cleanup().await;
}

pub async fn errors_are_actionable(f: &dyn Fixture) {
    let db = Db::new(f, "conn_errors", "").await;
    db.people().await;
    let insert = format!(
        "INSERT INTO {} (id, name) VALUES ({}, {})",
        db.t("people"),
        db.p(1),
        db.p(2)
    );
    db.conn.execute(&insert, &params![1, "a"]).await.unwrap();
    let e = db
        .conn
        .execute(&insert, &params![1, "b"])
        .await
        .unwrap_err();
    match &e {
        Error::Constraint {
            kind: ConstraintKind::Unique,
            constraint: Some(c),
            code,
            ..
        } => {
            assert!(c.to_lowercase().contains("pkey") || c == "PRIMARY", "{c}");
            assert_eq!(code, if db.pg { "23505" } else { "1062" });
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    let e = db
        .conn
        .execute(&insert, &params![2, None::<String>])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Constraint {
                kind: ConstraintKind::NotNull,
                ..
            }
        ),
        "{e:?}"
    );
    let e = db.conn.execute("SELEC 1", &[]).await.unwrap_err();
    assert!(matches!(e, Error::Syntax { .. }), "{e:?}");
    let e = db
        .conn
        .fetch_all(&format!("SELECT * FROM {}", db.t("missing")), &[])
        .await
        .unwrap_err();
    assert!(e.code().is_some(), "{e:?}");
    db.ns.cleanup().await;
}

pub async fn pools_time_out_and_heal(f: &dyn Fixture) {
    let db = Db::new(f, "conn_pool", "pool_size=1&acquire_timeout=300ms").await;
    assert_eq!(db.conn.pool_status().connections, 1);
    // The only connection is held by a transaction: the next caller times out, it does not hang.
    let tx = db.conn.transaction().await.unwrap();
    let started = std::time::Instant::now();
    let e = db.conn.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(
        matches!(e, Error::PoolTimeout { pool_size: 1, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
    tx.rollback().await.unwrap();

    // Kill the pooled connection from outside: the pool replaces it.
    let id_sql = if db.pg {
        "SELECT pg_backend_pid()::bigint AS id"
    } else {
        "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id"
    };
    let before = rows(&[db.conn.query_one(id_sql, &[]).await.unwrap()])[0].clone();
    let killer = connector::connect(&db.ns.url("")).await.unwrap();
    if db.pg {
        killer
            .execute(
                "SELECT pg_terminate_backend($1::int)",
                &params![before.parse::<i64>().unwrap()],
            )
            .await
            .unwrap();
    } else {
        killer
            .execute(&format!("KILL {}", before.parse::<i64>().unwrap()), &[])
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rows(&[db.conn.query_one(id_sql, &[]).await.unwrap()])[0].clone();
    assert_ne!(before, after, "a new connection replaced the killed one");

    db.conn.disconnect().await.unwrap();
    let e = db.conn.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(e.to_string().contains("disconnected"), "{e}");
    db.ns.cleanup().await;
}

pub async fn engine_writes_through_sql(f: &dyn Fixture) {
    let db = Db::new(f, "conn_engine", "").await;
    db.people().await;
    let engine = Engine::new();
    engine.register_source("dst", &db.ns.url("")).await.unwrap();
    // A second source to copy from: an in-memory table through DataFusion.
    let batch = people_batch(&(0..300).collect::<Vec<_>>());
    engine.context().register_batch("staging", batch).unwrap();
    let t = format!("dst.{}.people", db.q);
    let out = engine
        .sql_collect(&format!(
            "INSERT INTO {t} SELECT * FROM staging WHERE id < 200"
        ))
        .await
        .unwrap();
    assert_eq!(rows(&out), vec!["200"]);
    assert_eq!(db.count("people").await, 200);
    let plan =
        crate::common::explain(&engine, &format!("INSERT INTO {t} SELECT * FROM staging")).await;
    assert!(plan.contains("RemoteInsert"), "{plan}");

    // A failing insert (duplicate keys at the end) leaves the table as it was.
    let e = engine
        .sql_collect(&format!(
            "INSERT INTO {t} SELECT * FROM staging WHERE id >= 150"
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("duplicate"), "{e}");
    assert_eq!(db.count("people").await, 200);

    // UPDATE and DELETE run at the source with their filters, literals bound.
    let out = engine
        .sql_collect(&format!(
            "UPDATE {t} SET name = 'x''; DROP TABLE people; --', score = score + 1 WHERE id >= 190"
        ))
        .await
        .unwrap();
    assert_eq!(rows(&out), vec!["10"]);
    let check = db
        .conn
        .fetch_all(
            &format!("SELECT name, score FROM {} WHERE id = 191", db.t("people")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows(&check), vec!["x'; DROP TABLE people; --|48.75"]);
    let out = engine
        .sql_collect(&format!("DELETE FROM {t} WHERE id < 50 AND score IS NULL"))
        .await
        .unwrap();
    assert_eq!(rows(&out), vec!["17"]);
    assert_eq!(db.count("people").await, 183);

    // A filter the source cannot evaluate exactly is refused, not dropped: nothing changes.
    let e = engine
        .sql_collect(&format!("DELETE FROM {t} WHERE name LIKE 'X%'"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    assert_eq!(db.count("people").await, 183);
    // An assignment the source might compute differently is refused too.
    let e = engine
        .sql_collect(&format!("UPDATE {t} SET score = score / 2 WHERE id = 60"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not something the source"), "{e}");
    let after = engine
        .sql_collect(&format!("SELECT count(*) FROM {t} WHERE id < 100"))
        .await
        .unwrap();
    assert_eq!(sorted_rows(&after), vec!["83"]);

    // Columns an INSERT leaves out get the source's defaults (serial / AUTO_INCREMENT, DEFAULT).
    let ddl = if db.pg {
        "id bigserial PRIMARY KEY, name text NOT NULL, tag text NOT NULL DEFAULT 'fresh', note text"
    } else {
        "id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, \
         tag VARCHAR(20) NOT NULL DEFAULT 'fresh', note TEXT"
    };
    db.ns
        .exec(&format!("CREATE TABLE {} ({ddl})", db.t("serials")))
        .await;
    let engine = Engine::new();
    engine.register_source("dst", &db.ns.url("")).await.unwrap();
    let s = format!("dst.{}.serials", db.q);
    let out = engine
        .sql_collect(&format!("INSERT INTO {s} (name) VALUES ('a'), ('b')"))
        .await
        .unwrap();
    assert_eq!(rows(&out), vec!["2"]);
    engine
        .sql_collect(&format!(
            "INSERT INTO {s} (name, tag, note) VALUES ('c', 'given', NULL)"
        ))
        .await
        .unwrap();
    let got = engine
        .sql_collect(&format!(
            "SELECT id > 0, name, tag, note FROM {s} ORDER BY id"
        ))
        .await
        .unwrap();
    // (MySQL's AUTO_INCREMENT may leave gaps after a bulk load: the ids are only checked set.)
    assert_eq!(
        rows(&got),
        vec![
            "true|a|fresh|NULL",
            "true|b|fresh|NULL",
            "true|c|given|NULL"
        ]
    );
    let plan =
        crate::common::explain(&engine, &format!("INSERT INTO {s} (name) VALUES ('d')")).await;
    assert!(plan.contains("server defaults for id, tag"), "{plan}");
    db.ns.cleanup().await;
}

/// The suite, instantiated per backend.
#[macro_export]
macro_rules! connector_suite {
    ($fixture:expr) => {
        #[tokio::test]
        async fn statements_bind_parameters() {
            $crate::connector::statements_bind_parameters(&$fixture).await;
        }
        #[tokio::test]
        async fn transactions_commit_rollback_and_drop() {
            $crate::connector::transactions_commit_rollback_and_drop(&$fixture).await;
        }
        #[tokio::test]
        async fn bulk_insert_is_all_or_nothing() {
            $crate::connector::bulk_insert_is_all_or_nothing(&$fixture).await;
        }
        #[tokio::test]
        async fn errors_are_actionable() {
            $crate::connector::errors_are_actionable(&$fixture).await;
        }
        #[tokio::test]
        async fn pools_time_out_and_heal() {
            $crate::connector::pools_time_out_and_heal(&$fixture).await;
        }
        #[tokio::test]
        async fn engine_writes_through_sql() {
            $crate::connector::engine_writes_through_sql(&$fixture).await;
        }
    };
}

#[tokio::test]
async fn postgres_copy_from_csv_and_files() {
    let db = Db::new(&crate::common::PgFixture, "conn_pg_csv", "").await;
    db.people().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "id;name;score;ok\n1;\"semi;colon\";1.5;true\n2;\"quote \"\"q\"\"\";NA;false\n3;plain;2;NA\n",
    )
    .unwrap();
    let pg = vibe_piper::connector::postgres::PostgresConnector::connect(&db.ns.url(""))
        .await
        .unwrap();
    let n = pg
        .copy_from_csv(
            &db.name("people"),
            &format!("file://{}", csv.display()),
            &connector::CsvOptions {
                delimiter: b';',
                null: "NA".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    let b = pg
        .fetch_all(
            &format!("SELECT * FROM {} ORDER BY id", db.t("people")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&b),
        vec![
            "1|semi;colon|1.5|true",
            "2|quote \"q\"|NULL|false",
            "3|plain|2.0|NULL"
        ]
    );
    // A bad row fails the whole file.
    std::fs::write(&csv, "id;name;score;ok\n10;a;1;true\nx;b;1;true\n").unwrap();
    let e = pg
        .copy_from_csv(
            &db.name("people"),
            csv.to_str().unwrap(),
            &connector::CsvOptions {
                delimiter: b';',
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("22P02"), "{e}");
    assert_eq!(db.count("people").await, 3);

    // Parquet into any table, through the bulk path.
    let parquet = dir.path().join("people.parquet");
    let batch = people_batch(&[100, 101, 102]);
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let stream = connector::executor::file_batches(parquet.to_str().unwrap())
        .await
        .unwrap();
    let n = pg
        .bulk_insert(&db.name("people"), stream, &BulkOptions::default())
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(db.count("people").await, 6);
    assert!(connector::executor::file_batches("x.json").await.is_err());

    // Query results: arrays, numerics, intervals, uuids and jsonb decode to Arrow.
    let b = pg
        .query_one(
            "SELECT ARRAY[1, NULL, 3]::int[] AS a, ARRAY['x', 'y'] AS t, \
                    ARRAY[1.50, -2]::numeric(5,2)[] AS n, 12345678901234.5678::numeric(20,4) AS big, \
                    interval '1 mon 2 days 00:00:03.5' AS i, \
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '{\"k\": 1}'::jsonb AS j, \
                    'pad  '::char(6) AS c, DATE '1500-01-01' AS d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(std::slice::from_ref(&b)),
        vec!["[1, NULL, 3]|[x, y]|[1.50, -2.00]|12345678901234.5678|1 mons 2 days 3.500000000 secs|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"k\": 1}|pad|1500-01-01"]
    );
    assert_eq!(
        b.schema().field(3).data_type(),
        &DataType::Decimal128(20, 4)
    );
    let e = pg
        .query_one("SELECT '127.0.0.1'::inet AS addr", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedType { ref column, .. } if column == "addr"),
        "{e}"
    );
    db.ns.cleanup().await;
}

#[tokio::test]
async fn mysql_load_data_infile() {
    let db = Db::new(&crate::common::MySqlFixture, "conn_my_csv", "").await;
    db.people().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "id,name,score,ok\n1,\"comma, inside\",1.5,1\n2,\"emoji 🎉\",,0\n3,plain,2,\n",
    )
    .unwrap();
    let my = vibe_piper::connector::mysql::MySqlConnector::connect(&db.ns.url(""))
        .await
        .unwrap();
    let n = my
        .load_data_infile(
            &db.name("people"),
            csv.to_str().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    let b = my
        .fetch_all(
            &format!("SELECT * FROM {} ORDER BY id", db.t("people")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&b),
        vec![
            "1|comma, inside|1.5|1",
            "2|emoji 🎉|NULL|0",
            "3|plain|2.0|NULL"
        ]
    );
    // A value the server would silently change (text in a number column) fails the load.
    std::fs::write(&csv, "id,name,score,ok\n10,a,1,1\n11,b,not a number,1\n").unwrap();
    let e = my
        .load_data_infile(
            &db.name("people"),
            csv.to_str().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap_err();
    assert!(e.code().is_some(), "{e}");
    assert_eq!(db.count("people").await, 3);
    db.ns.cleanup().await;
}

#[tokio::test]
async fn federated_insert_from_mysql_into_postgres() {
    let pg = Db::new(&crate::common::PgFixture, "conn_fed", "").await;
    let my = Db::new(&crate::common::MySqlFixture, "conn_fed", "").await;
    pg.people().await;
    my.people().await;
    my.conn
        .bulk_insert(
            &my.name("people"),
            stream_of_batches(
                people_batch(&[0]).schema(),
                vec![people_batch(&(0..500).collect::<Vec<_>>())],
            ),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    let engine = Engine::new();
    engine.register_source("pg", &pg.ns.url("")).await.unwrap();
    engine.register_source("my", &my.ns.url("")).await.unwrap();
    let out = engine
        .sql_collect(&format!(
            "INSERT INTO pg.{}.people SELECT id, name, score, ok FROM my.{}.people WHERE id % 2 = 1",
            pg.q, my.q
        ))
        .await
        .unwrap();
    assert_eq!(rows(&out), vec!["250"]);
    let same = engine
        .sql_collect(&format!(
            "SELECT count(*) FROM pg.{}.people p JOIN my.{}.people m \
             ON p.id = m.id AND p.name = m.name AND (p.score IS NOT DISTINCT FROM m.score) AND p.ok = m.ok",
            pg.q, my.q
        ))
        .await
        .unwrap();
    assert_eq!(rows(&same), vec!["250"]);
    pg.ns.cleanup().await;
    my.ns.cleanup().await;
}

#[test]
fn blocking_facade() {
    let url = std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let db = vibe_piper::blocking::Connector::connect(&url).unwrap();
    db.execute("DROP TABLE IF EXISTS vp_blocking", &[]).unwrap();
    db.execute("CREATE TABLE vp_blocking (id int, name text)", &[])
        .unwrap();
    assert_eq!(
        db.execute_many(
            "INSERT INTO vp_blocking VALUES ($1, $2)",
            &[params![1, "a"], params![2, INJECTIONS[0]]],
        )
        .unwrap(),
        2
    );
    let tx = db.transaction().unwrap();
    tx.execute("DELETE FROM vp_blocking", &[]).unwrap();
    assert!(tx
        .query("SELECT * FROM vp_blocking", &[])
        .unwrap()
        .is_empty());
    drop(tx); // rolled back
    let b = db
        .query("SELECT id, name FROM vp_blocking ORDER BY id", &[])
        .unwrap();
    assert_eq!(
        rows(&b),
        vec!["1|a".to_string(), format!("2|{}", INJECTIONS[0])]
    );
    let tx = db.transaction().unwrap();
    tx.execute("DELETE FROM vp_blocking WHERE id = $1", &params![1])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        db.bulk_insert("vp_blocking", vec![], &BulkOptions::default())
            .unwrap(),
        0
    );
    let one = db
        .query_one("SELECT count(*) AS n FROM vp_blocking", &[])
        .unwrap();
    assert_eq!(rows(&[one]), vec!["1"]);
    db.execute("DROP TABLE vp_blocking", &[]).unwrap();
    assert!(format!("{db:?}").contains("postgres"));
    db.disconnect().unwrap();
}

#[tokio::test]
async fn sqlite_sources_are_read_only() {
    let ns = crate::common::SqliteFixture.namespace("ro").await;
    ns.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a')")
        .await;
    let engine = Engine::new();
    engine.register_source("lite", &ns.url("")).await.unwrap();
    for sql in [
        "INSERT INTO lite.t VALUES (2, 'b')",
        "DELETE FROM lite.t WHERE id = 1",
        "UPDATE lite.t SET name = 'c' WHERE id = 1",
    ] {
        let e = engine.sql_collect(sql).await.unwrap_err();
        assert!(e.to_string().contains("read-only"), "{sql}: {e}");
    }
    let still = engine
        .sql_collect("SELECT count(*) FROM lite.t")
        .await
        .unwrap();
    assert_eq!(rows(&still), vec!["1"]);
}

#[tokio::test]
async fn mysql_row_insert_fallback() {
    let db = Db::new(&crate::common::MySqlFixture, "conn_my_rows", "").await;
    db.people().await;
    let rows_only = BulkOptions {
        row_inserts: true,
        ..Default::default()
    };
    let schema = people_batch(&[0]).schema();
    let n = db
        .conn
        .bulk_insert(
            &db.name("people"),
            stream_of_batches(
                schema.clone(),
                vec![
                    people_batch(&(0..1500).collect::<Vec<_>>()),
                    people_batch(&(1500..1600).collect::<Vec<_>>()),
                ],
            ),
            &rows_only,
        )
        .await
        .unwrap();
    assert_eq!(n, 1600);
    let b = db
        .conn
        .fetch_all(
            &format!(
                "SELECT id, name, score FROM {} WHERE id IN (3, 1501) ORDER BY id",
                db.t("people")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&b),
        vec![
            format!("3|{}3|NULL", INJECTIONS[3]),
            format!("1501|{}1501|375.25", INJECTIONS[1]),
        ]
    );
    // A duplicate in the second batch: nothing of the first stays.
    let e = db
        .conn
        .bulk_insert(
            &db.name("people"),
            stream_of_batches(
                schema,
                vec![people_batch(&[5000, 5001]), people_batch(&[3])],
            ),
            &rows_only,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Constraint {
                kind: ConstraintKind::Unique,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(db.count("people").await, 1600);
    db.ns.cleanup().await;
}
