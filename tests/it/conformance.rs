//! The conformance suite: written once, run for every SQL backend (see the macro at the end).

use crate::common::*;
use vibe_piper::Engine;

/// Creates `people` with NULLs, mixed case, trailing spaces and LIKE metacharacters.
pub async fn people(ns: &dyn Namespace) {
    let (b, i, t, d, bo, dt) = (
        ns.ty(Ty::BigInt),
        ns.ty(Ty::Int),
        ns.ty(Ty::Text),
        ns.ty(Ty::Double),
        ns.ty(Ty::Bool),
        ns.ty(Ty::Date),
    );
    ns.exec(&format!(
        "CREATE TABLE people (id {b} PRIMARY KEY, name {t}, city {t}, score {d}, qty {i}, active {bo}, born {dt});
         INSERT INTO people VALUES
           (1, 'alice', 'Paris', 1.5, 3, TRUE, '1990-05-01'),
           (2, 'Alice', 'paris', 2.5, 7, FALSE, '2001-01-01'),
           (3, 'ALICE', 'Berlin', -1.0, NULL, NULL, NULL),
           (4, 'alice ', 'Berlin', 0.0, 1, TRUE, '1969-12-31'),
           (5, 'bob', NULL, NULL, 2, FALSE, '2000-02-29'),
           (6, 'b_b', 'Rome', 10.25, 6, TRUE, '1850-01-01'),
           (7, '100%', 'Rome', 3.0, 9, NULL, '2100-12-31'),
           (8, NULL, 'Oslo', 4.0, 5, TRUE, '2000-01-01'),
           (9, 'zoë', 'Zürich', 7.5, 4, FALSE, '1999-12-31'),
           (10, 'a\\b', 'Oslo', 2.0, 8, TRUE, '2010-10-10');"
    ))
    .await;
}

/// Queries whose answers must not depend on where the filter runs.
pub const DIFFERENTIAL: &[&str] = &[
    "SELECT id FROM src.people WHERE qty > 5",
    "SELECT id FROM src.people WHERE qty IS NULL",
    "SELECT id FROM src.people WHERE qty IS NOT NULL AND score IS NULL",
    "SELECT id FROM src.people WHERE qty IN (1, 2, NULL)",
    "SELECT id FROM src.people WHERE qty NOT IN (1, 2, NULL)",
    "SELECT id FROM src.people WHERE qty NOT IN (1, 2)",
    "SELECT id FROM src.people WHERE name = 'alice'",
    "SELECT id FROM src.people WHERE name <> 'alice'",
    "SELECT id FROM src.people WHERE name IN ('alice', 'bob')",
    "SELECT id FROM src.people WHERE name NOT IN ('alice', 'bob')",
    "SELECT id FROM src.people WHERE name LIKE 'a%'",
    "SELECT id FROM src.people WHERE name LIKE 'A%'",
    "SELECT id FROM src.people WHERE name LIKE '_ob'",
    "SELECT id FROM src.people WHERE name LIKE 'b_b'",
    "SELECT id FROM src.people WHERE name LIKE 'b\\_b'",
    "SELECT id FROM src.people WHERE name LIKE '%\\%'",
    "SELECT id FROM src.people WHERE name NOT LIKE 'a%'",
    "SELECT id FROM src.people WHERE name ILIKE 'ALICE'",
    "SELECT id FROM src.people WHERE name > 'b'",
    "SELECT id FROM src.people WHERE city = 'paris' OR city = 'Paris'",
    "SELECT id FROM src.people WHERE lower(city) = 'paris'",
    "SELECT id FROM src.people WHERE qty > 3 OR upper(name) = 'BOB'",
    "SELECT id FROM src.people WHERE qty > 3 OR name = 'bob'",
    "SELECT id FROM src.people WHERE NOT (qty > 3)",
    "SELECT id FROM src.people WHERE NOT (qty > 3 AND score > 2)",
    "SELECT id FROM src.people WHERE qty BETWEEN 2 AND 6",
    "SELECT id FROM src.people WHERE qty NOT BETWEEN 2 AND 6",
    "SELECT id FROM src.people WHERE score > 1.5",
    "SELECT id FROM src.people WHERE score = 0",
    "SELECT id FROM src.people WHERE score < 0",
    "SELECT id FROM src.people WHERE score >= 2",
    "SELECT id FROM src.people WHERE score > 2.5 AND qty < 9",
    "SELECT id FROM src.people WHERE score * 2 > 5",
    "SELECT id FROM src.people WHERE CAST(score AS DECIMAL(10,2)) > 2.5",
    "SELECT id FROM src.people WHERE active",
    "SELECT id FROM src.people WHERE NOT active",
    "SELECT id FROM src.people WHERE active = false",
    "SELECT id FROM src.people WHERE active IS NULL",
    "SELECT id FROM src.people WHERE born > DATE '2000-01-01'",
    "SELECT id FROM src.people WHERE born BETWEEN DATE '1900-01-01' AND DATE '2000-12-31'",
    "SELECT id FROM src.people WHERE born < DATE '1970-01-01'",
    "SELECT id FROM src.people WHERE qty = NULL",
    "SELECT count(*) FROM src.people WHERE qty > 2",
    "SELECT count(*) FROM src.people",
    "SELECT id, name FROM src.people WHERE qty > 1 ORDER BY id LIMIT 3",
    "SELECT id FROM src.people WHERE id >= 3 AND id < 8 ORDER BY id DESC LIMIT 2",
];

pub async fn differential_pushdown(f: &dyn Fixture, test: &str) {
    let ns = f.namespace(test).await;
    people(ns.as_ref()).await;
    let on = engine(ns.as_ref(), Engine::builder(), "").await;
    let off = engine(ns.as_ref(), Engine::builder().pushdown(false), "").await;
    for sql in DIFFERENTIAL {
        let a = sorted_rows(
            &on.sql_collect(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
        let b = sorted_rows(
            &off.sql_collect(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
        assert_eq!(a, b, "pushdown changed the answer of: {sql}");
    }
    // Spot-check that the answers are the ones SQL semantics give.
    let ids = |v: Vec<String>| {
        v.into_iter()
            .map(|s| s.parse::<i64>().unwrap())
            .collect::<Vec<_>>()
    };
    let q = |sql: &'static str| {
        let on = &on;
        async move {
            let mut v = ids(query(on, sql).await);
            v.sort();
            v
        }
    };
    assert_eq!(
        q("SELECT id FROM src.people WHERE name = 'alice'").await,
        vec![1]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE qty IN (1, 2, NULL)").await,
        vec![4, 5]
    );
    assert!(q("SELECT id FROM src.people WHERE qty NOT IN (1, 2, NULL)")
        .await
        .is_empty());
    assert_eq!(
        q("SELECT id FROM src.people WHERE name LIKE 'a%'").await,
        vec![1, 4, 10]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE name LIKE '%\\%'").await,
        vec![7]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE NOT (qty > 3)").await,
        vec![1, 4, 5]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE score = 0").await,
        vec![4]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE born < DATE '1970-01-01'").await,
        vec![4, 6]
    );
    assert_eq!(
        q("SELECT id FROM src.people WHERE active IS NULL").await,
        vec![3, 7]
    );
    ns.cleanup().await;
}

pub async fn pushdown_visible_in_explain(f: &dyn Fixture, test: &str) {
    let ns = f.namespace(test).await;
    people(ns.as_ref()).await;
    let e = engine(ns.as_ref(), Engine::builder().target_partitions(1), "").await;
    let plan = explain(&e, "SELECT id, name FROM src.people WHERE qty > 5 LIMIT 2").await;
    let scan = plan
        .lines()
        .find(|l| l.contains("RemoteScanExec"))
        .expect("a remote scan")
        .to_string();
    assert!(scan.contains("partitions=1"), "{scan}");
    // Names reach the source as it stores them (upper case in Snowflake).
    assert!(
        scan.to_lowercase().contains("qty") && scan.contains("> 5"),
        "filter pushed: {scan}"
    );
    assert!(scan.contains("LIMIT 2"), "limit pushed: {scan}");
    assert!(
        !scan.to_lowercase().contains("city"),
        "projection pushed: {scan}"
    );
    // A filter the source cannot evaluate stays in DataFusion, and the limit is not pushed.
    let plan = explain(
        &e,
        "SELECT id FROM src.people WHERE upper(name) = 'BOB' LIMIT 2",
    )
    .await;
    let scan = plan
        .lines()
        .find(|l| l.contains("RemoteScanExec"))
        .unwrap()
        .to_string();
    assert!(!scan.contains("WHERE") && !scan.contains("LIMIT"), "{scan}");
    assert!(plan.contains("FilterExec"), "{plan}");
    // Inexact filters are pushed and re-checked.
    let plan = explain(&e, "SELECT id FROM src.people WHERE name LIKE 'a%'").await;
    let scan = plan
        .lines()
        .find(|l| l.contains("RemoteScanExec"))
        .unwrap()
        .to_string();
    assert!(scan.contains("LIKE 'a%'"), "{scan}");
    assert!(plan.contains("FilterExec"), "{plan}");
    // count(*) asks for no columns.
    assert_eq!(
        query(&e, "SELECT count(*) FROM src.people WHERE qty > 5").await,
        vec!["4"]
    );
    ns.cleanup().await;
}

pub async fn partitioned_equals_unpartitioned(f: &dyn Fixture, test: &str, tiny_chunks: &str) {
    let ns = f.namespace(test).await;
    let (b, t, d) = (ns.ty(Ty::BigInt), ns.ty(Ty::Text), ns.ty(Ty::Double));
    ns.exec(&format!(
        "CREATE TABLE big (id {b} PRIMARY KEY, label {t}, v {d})"
    ))
    .await;
    let values: Vec<String> = (1..=3000)
        .map(|i| {
            let label = if i % 7 == 0 {
                "NULL".to_string()
            } else {
                format!("'row {i}'")
            };
            format!("({i}, {label}, {})", i as f64 / 3.0)
        })
        .collect();
    ns.exec(&format!("INSERT INTO big VALUES {}", values.join(",")))
        .await;
    let one = engine(ns.as_ref(), Engine::builder().target_partitions(1), "").await;
    let four = engine(
        ns.as_ref(),
        Engine::builder().target_partitions(4).batch_size(100),
        tiny_chunks,
    )
    .await;
    let plan = explain(&four, "SELECT * FROM src.big").await;
    // A backend that cannot split a table this small (BigQuery gives a read session of under
    // 1 MB one stream) passes no options; its own tests split larger tables.
    if !tiny_chunks.is_empty() {
        assert!(plan.contains("partitions=4"), "{plan}");
    }
    for sql in [
        "SELECT * FROM src.big",
        "SELECT id, v FROM src.big WHERE v > 500",
        "SELECT count(*), sum(v), count(label) FROM src.big",
        "SELECT label FROM src.big WHERE id % 100 = 0",
    ] {
        let a = sorted_rows(&one.sql_collect(sql).await.unwrap());
        let b = sorted_rows(&four.sql_collect(sql).await.unwrap());
        assert_eq!(a, b, "{sql}");
    }
    assert_eq!(
        query(&four, "SELECT count(*), count(label) FROM src.big").await,
        vec!["3000|2572"]
    );
    // A pushed limit bounds what each partition reads.
    assert_eq!(
        query(
            &four,
            "SELECT count(*) FROM (SELECT id FROM src.big WHERE id > 10 LIMIT 5)"
        )
        .await,
        vec!["5"]
    );
    ns.cleanup().await;
}

pub async fn catalog_and_names(f: &dyn Fixture, test: &str) {
    let ns = f.namespace(test).await;
    people(ns.as_ref()).await;
    ns.exec("CREATE TABLE \"MixedCase\" (\"Id\" INTEGER, \"Some Col\" TEXT); INSERT INTO \"MixedCase\" VALUES (1, 'x')").await;
    let e = engine(ns.as_ref(), Engine::builder(), "").await;
    let tables = e.tables("src").await.unwrap();
    // The source lists every schema of the server: other tests' tables are there too.
    let own = format!("{}.people", ns.qualifier());
    let people = tables
        .iter()
        .find(|(n, _)| *n == own)
        .expect("people listed");
    let names: Vec<&str> = people
        .1
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        ["id", "name", "city", "score", "qty", "active", "born"]
    );
    assert!(!people.1.field(0).is_nullable(), "primary key is NOT NULL");
    assert_eq!(
        query(
            &e,
            "SELECT \"Id\", \"Some Col\" FROM src.\"MixedCase\" WHERE \"Id\" = 1"
        )
        .await,
        vec!["1|x"]
    );
    let err = e
        .sql("SELECT * FROM src.nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    ns.cleanup().await;
}

/// Queries over exact decimals and fractional timestamps whose answers must not depend on
/// where the filter runs (a decimal literal is exact, a pushed timestamp keeps its fraction).
pub const EXACT_LITERALS: &[&str] = &[
    "SELECT id FROM src.amounts WHERE amount = 99999.99",
    "SELECT id FROM src.amounts WHERE amount >= 99999.99",
    "SELECT id FROM src.amounts WHERE amount > 99999.98",
    "SELECT id FROM src.amounts WHERE amount <> 99999.99",
    "SELECT id FROM src.amounts WHERE amount = 1234567890.12",
    "SELECT id FROM src.amounts WHERE amount IN (0.1, 0.3)",
    "SELECT id FROM src.amounts WHERE amount BETWEEN 0.1 AND 0.2",
    "SELECT id FROM src.amounts WHERE amount = 100",
    "SELECT id FROM src.amounts WHERE amount > 100",
    "SELECT id FROM src.amounts WHERE amount = CAST(99999.99 AS DOUBLE)",
    "SELECT id FROM src.amounts WHERE amount < CAST(0.3 AS DOUBLE)",
    "SELECT id FROM src.amounts WHERE amount = -0.01",
    "SELECT id FROM src.amounts WHERE amount * 2 = 0.6",
    "SELECT id FROM src.amounts WHERE placed = TIMESTAMP '2024-03-02 10:00:00.123'",
    "SELECT id FROM src.amounts WHERE placed < TIMESTAMP '2024-03-02 10:00:00.500'",
    "SELECT id FROM src.amounts WHERE placed > TIMESTAMP '2024-03-02 10:00:00.123'",
    "SELECT id FROM src.amounts WHERE placed >= TIMESTAMP '2024-03-02 10:00:00.999'",
    "SELECT id FROM src.amounts WHERE placed = TIMESTAMP '2024-03-02 10:00:00'",
];

pub async fn exact_literals(f: &dyn Fixture, test: &str) {
    use datafusion::prelude::{col, lit};
    let ns = f.namespace(test).await;
    let (i, dec, ts) = (ns.ty(Ty::Int), ns.ty(Ty::Decimal), ns.ty(Ty::Timestamp3));
    ns.exec(&format!(
        "CREATE TABLE amounts (id {i} PRIMARY KEY, amount {dec}, placed {ts});
         INSERT INTO amounts VALUES
           (1, 99999.99, '2024-03-02 10:00:00.123'),
           (2, 1234567890.12, '2024-03-02 10:00:00.000'),
           (3, 0.10, '2024-03-02 10:00:00.999'),
           (4, 0.20, '2024-03-02 10:00:00.500'),
           (5, 0.30, '2024-03-02 10:00:01.000'),
           (6, 100, NULL),
           (7, -0.01, '2024-03-02 09:59:59.999'),
           (8, NULL, '2024-03-02 10:00:00.122');"
    ))
    .await;
    let on = engine(ns.as_ref(), Engine::builder(), "").await;
    let off = engine(ns.as_ref(), Engine::builder().pushdown(false), "").await;
    let ids = |rows: Vec<String>| {
        let mut v: Vec<i64> = rows.iter().map(|s| s.parse().unwrap()).collect();
        v.sort();
        v
    };
    let mut answers = vec![];
    for sql in EXACT_LITERALS {
        let a = ids(query(&on, sql).await);
        let b = ids(query(&off, sql).await);
        assert_eq!(a, b, "pushdown changed the answer of: {sql}");
        answers.push(a);
    }
    // The answers SQL semantics give (PostgreSQL's, MySQL's).
    let want: &[&[i64]] = &[
        &[1],
        &[1, 2],
        &[1, 2],
        &[2, 3, 4, 5, 6, 7],
        &[2],
        &[3, 5],
        &[3, 4],
        &[6],
        &[1, 2],
        &[1],
        &[3, 4, 7],
        &[7],
        &[5],
        &[1],
        &[1, 2, 7, 8],
        &[3, 4, 5],
        &[3, 5],
        &[2],
    ];
    for ((sql, got), want) in EXACT_LITERALS.iter().zip(&answers).zip(want) {
        assert_eq!(got, want, "{sql}");
    }
    // The literal reaches the source as the decimal written, not as a float.
    let plan = explain(&on, "SELECT id FROM src.amounts WHERE amount = 99999.99").await;
    assert!(!plan.contains("99999.98999"), "{plan}");
    // The query builder: a float literal compared with a decimal column is the number written.
    for e in [&on, &off] {
        let got: Vec<String> = rows(
            &e.from("src.amounts")
                .await
                .filter(col("amount").eq(lit(99999.99)))
                .select([col("id")])
                .collect()
                .await
                .unwrap(),
        );
        assert_eq!(got, vec!["1"]);
        let got: Vec<String> = rows(
            &e.from("src.amounts")
                .await
                .filter(col("amount").eq(lit(1234567890.12)))
                .select([col("id")])
                .collect()
                .await
                .unwrap(),
        );
        assert_eq!(got, vec!["2"]);
    }
    ns.cleanup().await;
}

/// A reader that panics or stops without a word in the middle of a result ends the query with
/// an error, never with fewer rows (faults injected through the test-only hook, matched by
/// table name in the scan's SQL).
pub async fn reader_faults(f: &dyn Fixture, test: &str) {
    use vibe_piper::read::fault::{self, Fault};
    let ns = f.namespace(test).await;
    let b = ns.ty(Ty::BigInt);
    let values: Vec<String> = (1..=2000).map(|i| format!("({i})")).collect();
    for t in ["fault_none", "fault_panic", "fault_vanish"] {
        ns.exec(&format!("CREATE TABLE {t} (id {b} PRIMARY KEY)"))
            .await;
        ns.exec(&format!("INSERT INTO {t} VALUES {}", values.join(",")))
            .await;
    }
    fault::inject("fault_panic", Fault::Panic, 3);
    fault::inject("fault_vanish", Fault::Vanish, 3);
    for partitions in [1, 3] {
        let e = engine(
            ns.as_ref(),
            Engine::builder()
                .target_partitions(partitions)
                .batch_size(100),
            "",
        )
        .await;
        assert_eq!(
            query(&e, "SELECT count(id), sum(id) FROM src.fault_none").await,
            vec!["2000|2001000"]
        );
        let err = e
            .sql_collect("SELECT id FROM src.fault_panic")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("injected reader panic"), "{err}");
        let err = e
            .sql_collect("SELECT id FROM src.fault_vanish")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("reader stopped before the end of the result"),
            "{err}"
        );
    }
    fault::clear();
    ns.cleanup().await;
}

/// Instantiates the suite for one backend.
#[macro_export]
macro_rules! conformance_suite {
    ($fixture:expr, $tiny_chunks:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn differential_pushdown() {
            $crate::conformance::differential_pushdown(
                &$fixture,
                concat!(module_path!(), "_diff")
                    .rsplit("::")
                    .next()
                    .unwrap(),
            )
            .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pushdown_visible_in_explain() {
            $crate::conformance::pushdown_visible_in_explain(
                &$fixture,
                concat!(module_path!(), "_explain")
                    .rsplit("::")
                    .next()
                    .unwrap(),
            )
            .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn partitioned_equals_unpartitioned() {
            $crate::conformance::partitioned_equals_unpartitioned(
                &$fixture,
                concat!(module_path!(), "_parts")
                    .rsplit("::")
                    .next()
                    .unwrap(),
                $tiny_chunks,
            )
            .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn exact_literals() {
            $crate::conformance::exact_literals(
                &$fixture,
                concat!(module_path!(), "_literals")
                    .rsplit("::")
                    .next()
                    .unwrap(),
            )
            .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reader_faults() {
            $crate::conformance::reader_faults(
                &$fixture,
                concat!(module_path!(), "_faults")
                    .rsplit("::")
                    .next()
                    .unwrap(),
            )
            .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn catalog_and_names() {
            $crate::conformance::catalog_and_names(
                &$fixture,
                concat!(module_path!(), "_catalog")
                    .rsplit("::")
                    .next()
                    .unwrap(),
            )
            .await
        }
    };
}
