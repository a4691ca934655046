//! The query builder and typed results, run per backend (PostgreSQL, MariaDB).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::physical_plan::displayable;
use datafusion::prelude::{col, lit, JoinType};
use serde::{Deserialize, Serialize};
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{BulkOptions, ExecutorExt, TableName};
use vibe_piper::schema::typed::{DataFrameExt, FromRows};
use vibe_piper::{params, Engine, Error};

use crate::common::{rows, Fixture};
use crate::connector::{people_batch, Db, INJECTIONS};

async fn setup(f: &dyn Fixture, test: &str) -> (Db, Engine, String) {
    let db = Db::new(f, test, "").await;
    db.people().await;
    db.conn
        .bulk_insert(
            &db.name("people"),
            stream_of_batches(
                people_batch(&[0]).schema(),
                vec![people_batch(&(0..100).collect::<Vec<_>>())],
            ),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    let engine = Engine::builder().target_partitions(2).build();
    engine.register_source("src", &db.ns.url("")).await.unwrap();
    let t = format!("src.{}.people", db.q);
    (db, engine, t)
}

async fn physical(df: datafusion::dataframe::DataFrame) -> String {
    let plan = df.create_physical_plan().await.unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    text
}

pub async fn builder_is_sql(f: &dyn Fixture) {
    let (db, engine, t) = setup(f, "qb_select").await;
    let q = engine
        .from(&t)
        .await
        .filter(col("score").gt(lit(10.0)).and(col("id").lt(lit(60i64))))
        .select([col("id"), col("score")])
        .order_by([col("id").sort(false, true)])
        .limit(3);
    let got = q.clone().collect().await.unwrap();
    assert_eq!(rows(&got), vec!["59|14.75", "58|14.5", "56|14.0"]);
    let sql = format!(
        "SELECT id, score FROM {t} WHERE score > 10.0 AND id < 60 ORDER BY id DESC NULLS FIRST LIMIT 3"
    );
    let from_sql = engine.sql(&sql).await.unwrap();
    // The same plan, pushdown included, for the builder and the SQL text.
    let a = physical(q.clone().into_dataframe().unwrap()).await;
    let b = physical(from_sql).await;
    assert_eq!(a, b);
    assert!(a.contains("RemoteScan"), "{a}");
    assert!(
        q.to_sql().unwrap().contains("LIMIT 3"),
        "{}",
        q.to_sql().unwrap()
    );
    assert!(q.logical_plan().is_ok());

    // group_by + aggregate + join (a self-join through a second builder).
    let agg = engine
        .from(&t)
        .await
        .join(
            engine
                .from(&t)
                .await
                .select([col("id").alias("pid"), col("ok").alias("pok")]),
            JoinType::Inner,
            ["id"],
            ["pid"],
        )
        .group_by(["pok"])
        .aggregate([count(lit(1)).alias("n"), sum(col("score")).alias("total")])
        .order_by([col("pok").sort(true, true)])
        .collect()
        .await
        .unwrap();
    assert_eq!(rows(&agg), vec!["false|50|408.25", "true|50|408.5"]);

    // Typed rows from the builder.
    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        id: i64,
        score: Option<f64>,
    }
    let typed: Vec<Row> = engine
        .from(&t)
        .await
        .filter(col("id").lt(lit(4i64)))
        .select([col("id"), col("score")])
        .order_by([col("id").sort(true, true)])
        .collect_as()
        .await
        .unwrap();
    assert_eq!(
        typed,
        vec![
            Row { id: 0, score: None },
            Row {
                id: 1,
                score: Some(0.25)
            },
            Row {
                id: 2,
                score: Some(0.5)
            },
            Row { id: 3, score: None },
        ]
    );
    // offset + stream_as: rows 2..4 streamed one struct at a time.
    let mut stream = engine
        .from(&t)
        .await
        .select([col("id"), col("score")])
        .order_by([col("id").sort(true, true)])
        .offset(2, Some(2))
        .into_dataframe()
        .unwrap()
        .stream_as::<Row>()
        .await
        .unwrap();
    let mut ids = vec![];
    while let Some(r) = futures::StreamExt::next(&mut stream).await {
        ids.push(r.unwrap().id);
    }
    assert_eq!(ids, vec![2, 3]);
    db.ns.cleanup().await;
}

pub async fn invalid_builders_fail_early(f: &dyn Fixture) {
    let (db, engine, t) = setup(f, "qb_invalid").await;
    let e = engine
        .from(&t)
        .await
        .filter(col("nope").eq(lit(1)))
        .collect()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidQuery { table, column, .. } if column == "nope" && table == &t),
        "{e}"
    );
    let e = engine
        .from(&t)
        .await
        .filter(col("name").eq(lit(5i64)))
        .logical_plan()
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidQuery { column, message, .. } if column == "name" && message.contains("cannot compare")),
        "{e}"
    );
    let e = engine
        .from(&t)
        .await
        .group_by(["ok"])
        .aggregate([col("name")])
        .to_sql()
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidQuery { column, message, .. } if column == "name" && message.contains("neither grouped nor aggregated")),
        "{e}"
    );
    let e = engine
        .from(&t)
        .await
        .group_by(["ok"])
        .collect()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("without aggregate"), "{e}");
    let nested = engine
        .from(&t)
        .await
        .aggregate([count(lit(1)).alias("n").alias("m")])
        .collect()
        .await
        .unwrap();
    assert_eq!(rows(&nested), vec!["100"]);
    let e = engine
        .from("src.nowhere")
        .await
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidQuery { .. }), "{e}");
    // A declared schema that does not match lists every offending column.
    let want = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Int64, true),
    ]));
    let e = engine
        .from(&t)
        .await
        .select([col("id"), col("name")])
        .expect_schema(want, true)
        .collect()
        .await
        .unwrap_err();
    match e {
        Error::SchemaMismatch { problems, .. } => {
            assert_eq!(problems.len(), 2, "{problems:?}");
            assert!(problems[0].contains("`id`: expected Int32, found Int64"));
            assert!(problems[1].contains("`name`: expected Int64, found Utf8"));
        }
        other => panic!("{other}"),
    }
    let widened = Arc::new(Schema::new(vec![Field::new(
        "score",
        DataType::Float64,
        true,
    )]));
    let ok = engine
        .from(&t)
        .await
        .select([col("score")])
        .expect_schema(widened, true)
        .collect()
        .await
        .unwrap();
    assert_eq!(ok.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
    db.ns.cleanup().await;
}

pub async fn write_builders_bind_values(f: &dyn Fixture) {
    let (db, engine, t) = setup(f, "qb_dml").await;
    let n = engine
        .insert_into(&t)
        .await
        .columns(["id", "name", "score"])
        .values(params![1000, INJECTIONS[0], 1.5])
        .values(params![1001, INJECTIONS[1], None::<f64>])
        .execute()
        .await
        .unwrap();
    assert_eq!(n, 2);
    let (sql, params) = engine
        .insert_into(&t)
        .await
        .columns(["id", "name"])
        .values(params![1000, "upserted"])
        .on_conflict(["id"])
        .do_update(["name"])
        .to_sql()
        .unwrap();
    assert!(!sql.contains("upserted") && params.len() == 2, "{sql}");
    let up = engine
        .insert_into(&t)
        .await
        .columns(["id", "name"])
        .values(params![1000, "upserted"])
        .on_conflict(["id"])
        .do_update(["name"])
        .execute()
        .await
        .unwrap();
    assert!(up >= 1);
    engine
        .insert_into(&t)
        .await
        .columns(["id", "name"])
        .values(params![1001, "ignored"])
        .on_conflict(["id"])
        .do_nothing()
        .execute()
        .await
        .unwrap();
    let check = db
        .conn
        .fetch_all(
            &format!(
                "SELECT id, name FROM {} WHERE id >= 1000 ORDER BY id",
                db.t("people")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&check),
        vec![
            "1000|upserted".to_string(),
            format!("1001|{}", INJECTIONS[1])
        ]
    );

    // UPDATE / DELETE: values bound, filters required.
    let e = engine
        .update(&t)
        .await
        .set("score", 0.0)
        .execute()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("all_rows"), "{e}");
    let e = engine.delete_from(&t).await.to_sql().unwrap_err();
    assert!(e.to_string().contains("all_rows"), "{e}");
    let e = engine
        .update(&t)
        .await
        .set("nope", 1)
        .all_rows()
        .to_sql()
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidQuery { column, .. } if column == "nope"),
        "{e}"
    );
    let n = engine
        .update(&t)
        .await
        .set("name", INJECTIONS[2])
        .filter(
            col("id")
                .gt_eq(lit(1000i64))
                .and(col("name").eq(lit("upserted"))),
        )
        .execute()
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = engine
        .delete_from(&t)
        .await
        .filter(col("name").eq(lit(INJECTIONS[2])))
        .execute()
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(db.count("people").await, 101);

    // INSERT ... from a query, through the engine's bulk path.
    let copied = engine
        .insert_into(&t)
        .await
        .from_query(
            engine
                .from(&t)
                .await
                .filter(col("id").lt(lit(10i64)))
                .select([
                    (col("id") + lit(5000i64)).alias("id"),
                    col("name"),
                    col("score"),
                    col("ok"),
                ]),
        )
        .execute()
        .await
        .unwrap();
    assert_eq!(copied, 10);
    assert_eq!(db.count("people").await, 111);
    let all = engine
        .delete_from(&t)
        .await
        .all_rows()
        .execute()
        .await
        .unwrap();
    assert_eq!(all, 111);
    db.ns.cleanup().await;
}

/// Every supported Rust type, with NULLs, through a table and back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Typed {
    id: i64,
    small: Option<i32>,
    ratio: Option<f64>,
    flag: Option<bool>,
    label: Option<String>,
    day: Option<NaiveDate>,
    at: Option<NaiveDateTime>,
    instant: Option<DateTime<Utc>>,
    amount: Option<rust_decimal::Decimal>,
    uid: Option<uuid::Uuid>,
    tiny: Option<i16>,
    uns: Option<u32>,
    single: Option<f32>,
    #[serde(with = "vibe_piper::schema::typed::json_text")]
    doc: serde_json::Value,
}

fn typed_rows() -> Vec<Typed> {
    vec![
        Typed {
            id: 1,
            small: Some(-7),
            ratio: Some(0.125),
            flag: Some(true),
            label: Some(INJECTIONS[0].into()),
            day: NaiveDate::from_ymd_opt(2024, 2, 29),
            at: NaiveDate::from_ymd_opt(2024, 2, 29)
                .and_then(|d| d.and_hms_micro_opt(23, 59, 1, 5)),
            instant: DateTime::from_timestamp_micros(1_700_000_000_123_456),
            amount: Some("12345.67".parse().unwrap()),
            uid: Some(uuid::Uuid::from_u128(
                0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11,
            )),
            tiny: Some(-300),
            uns: Some(4_000_000_000),
            single: Some(1.25),
            doc: serde_json::json!({"k": [1, "two"]}),
        },
        Typed {
            id: 2,
            small: None,
            ratio: None,
            flag: None,
            label: None,
            day: None,
            at: None,
            instant: None,
            amount: None,
            uid: None,
            tiny: None,
            uns: None,
            single: None,
            doc: serde_json::json!([]),
        },
    ]
}

pub async fn typed_round_trip(f: &dyn Fixture) {
    let db = Db::new(f, "qb_typed", "").await;
    let text = if db.pg { "text" } else { "VARCHAR(100)" };
    let ts = if db.pg { "timestamp" } else { "DATETIME(6)" };
    let tstz = if db.pg {
        "timestamptz"
    } else {
        "TIMESTAMP(6) NULL"
    };
    let uuid = if db.pg { "uuid" } else { "CHAR(36)" };
    let json = if db.pg { "jsonb" } else { "JSON" };
    db.ns
        .exec(&format!(
            "CREATE TABLE {} (id BIGINT PRIMARY KEY, small INTEGER, ratio DOUBLE PRECISION, flag BOOLEAN, \
             label {text}, day DATE, at {ts}, instant {tstz}, amount NUMERIC(12,2), uid {uuid}, \
             tiny SMALLINT, uns BIGINT, single REAL, doc {json} NOT NULL)",
            db.t("typed")
        ))
        .await;
    let rows_in = typed_rows();
    let batch = RecordBatch::try_from_rows(&rows_in).unwrap();
    db.conn
        .bulk_insert(
            &TableName::new(db.q.clone(), "typed"),
            stream_of_batches(batch.schema(), vec![batch]),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    let engine = Engine::new();
    engine.register_source("src", &db.ns.url("")).await.unwrap();
    let back: Vec<Typed> = engine
        .sql(&format!("SELECT * FROM src.{}.typed ORDER BY id", db.q))
        .await
        .unwrap()
        .collect_as()
        .await
        .unwrap();
    assert_eq!(back, rows_in);

    // A struct field missing from the result is an error naming it, even an Option.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wider {
        id: i64,
        amount: Option<rust_decimal::Decimal>,
        missing: Option<String>,
    }
    let e = engine
        .sql(&format!("SELECT id, amount FROM src.{}.typed", db.q))
        .await
        .unwrap()
        .collect_as::<Wider>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`missing`"), "{e}");
    db.ns.cleanup().await;
}

/// The suite, instantiated per backend.
#[macro_export]
macro_rules! query_suite {
    ($fixture:expr) => {
        #[tokio::test]
        async fn builder_is_sql() {
            $crate::query::builder_is_sql(&$fixture).await;
        }
        #[tokio::test]
        async fn invalid_builders_fail_early() {
            $crate::query::invalid_builders_fail_early(&$fixture).await;
        }
        #[tokio::test]
        async fn write_builders_bind_values() {
            $crate::query::write_builders_bind_values(&$fixture).await;
        }
        #[tokio::test]
        async fn typed_round_trip() {
            $crate::query::typed_round_trip(&$fixture).await;
        }
    };
}

#[tokio::test]
async fn postgres_lists_and_json() {
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Doc {
        id: i64,
        tags: Option<Vec<i32>>,
        #[serde(with = "vibe_piper::schema::typed::json_text")]
        body: serde_json::Value,
    }
    let db = Db::new(&crate::common::PgFixture, "qb_json", "").await;
    db.ns
        .exec(&format!(
            "CREATE TABLE {} (id bigint PRIMARY KEY, tags int[], body jsonb NOT NULL)",
            db.t("docs")
        ))
        .await;
    let docs = vec![
        Doc {
            id: 1,
            tags: Some(vec![1, 2]),
            body: serde_json::json!({"a": [1, "x"]}),
        },
        Doc {
            id: 2,
            tags: None,
            body: serde_json::json!(null),
        },
    ];
    let batch = RecordBatch::try_from_rows(&docs).unwrap();
    db.conn
        .bulk_insert(
            &TableName::new(db.q.clone(), "docs"),
            stream_of_batches(batch.schema(), vec![batch]),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    let engine = Engine::new();
    engine.register_source("pg", &db.ns.url("")).await.unwrap();
    let back: Vec<Doc> = engine
        .sql(&format!(
            "SELECT id, tags, body FROM pg.{}.docs ORDER BY id",
            db.q
        ))
        .await
        .unwrap()
        .collect_as()
        .await
        .unwrap();
    assert_eq!(back, docs);
    db.ns.cleanup().await;
}
