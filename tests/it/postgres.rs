//! PostgreSQL-specific behaviour: the type table, snapshots, ctid ranges, errors.

use crate::common::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use futures::StreamExt;
use vibe_piper::{Engine, Error};

pub(crate) const TYPES_DDL: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE types (
  id int8 PRIMARY KEY, i2 int2, i4 int4, f4 float4, f8 float8, n numeric(12,2), nu numeric, nw numeric(50,5),
  b bool, t text, vc varchar(10), c char(5), d date, ts timestamp, tz timestamptz, tm time, iv interval,
  u uuid, j json, jb jsonb, by bytea, ai int4[], at text[], m mood, ip inet,
  an numeric(6,2)[], ad date[], atz timestamptz[], au uuid[], aiv interval[]);
INSERT INTO types VALUES
 (1, 32767, -2147483648, 1.5, 'NaN', 1234567890.12, 3.14159, 123456789012345678901234567890123456789012345.12345,
  true, 'héllo 😀', 'x', 'ab', '1600-01-01', '2500-06-01 12:00:00.123456', '1500-01-01 00:00:00+00', '23:59:59.999999',
  '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}', '{\"b\": [1, 2]}',
  '\\xdeadbeef', '{1,NULL,3}', '{a,NULL}', 'happy', '10.0.0.1',
  '{1.50,NULL}', '{2020-01-01,NULL}', '{\"2020-01-01 00:00:00+02\"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{\"1 day\"}'),
 (2, -32768, 2147483647, '-Infinity', 'Infinity', -0.01, -99999999.1234567891, 0, false, '', '', '', '9999-12-31',
  '1000-01-01 00:00:00', '3000-01-01 12:00:00+02', '00:00:00', '-1 day -02:00:00', NULL, 'null', '[]', '',
  '{}', '{}', 'sad', NULL, '{}', '{}', '{}', '{}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_round_trip() {
    type_round_trip_with("native").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_round_trip_connectorx() {
    type_round_trip_with("connectorx").await
}

async fn type_round_trip_with(reader: &str) {
    let ns = PgNamespace::new(&format!("pg_types_{reader}")).await;
    ns.exec(TYPES_DDL).await;
    let options = format!("reader={reader}");
    let e = engine(&ns, Engine::builder(), &options).await;
    let batches = e
        .sql_collect("SELECT * FROM src.types ORDER BY id")
        .await
        .unwrap();
    let schema = batches[0].schema();
    let expect = [
        ("i2", DataType::Int16),
        ("i4", DataType::Int32),
        ("f4", DataType::Float32),
        ("f8", DataType::Float64),
        ("n", DataType::Decimal128(12, 2)),
        ("nu", DataType::Decimal128(38, 10)),
        ("nw", DataType::Decimal256(50, 5)),
        ("b", DataType::Boolean),
        ("t", DataType::Utf8),
        ("c", DataType::Utf8),
        ("d", DataType::Date32),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        (
            "tz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        ("tm", DataType::Time64(TimeUnit::Microsecond)),
        ("iv", DataType::Interval(IntervalUnit::MonthDayNano)),
        ("u", DataType::Utf8),
        ("jb", DataType::Utf8),
        ("by", DataType::Binary),
        ("m", DataType::Utf8),
        ("ip", DataType::Utf8),
    ];
    for (name, dt) in expect {
        assert_eq!(
            schema.field_with_name(name).unwrap().data_type(),
            &dt,
            "{name}"
        );
    }
    assert!(
        matches!(schema.field_with_name("ai").unwrap().data_type(), DataType::List(f) if f.data_type() == &DataType::Int32)
    );
    let r = rows(&batches);
    let fields: Vec<Vec<&str>> = r.iter().map(|l| l.split('|').collect()).collect();
    let col = |name: &str| schema.index_of(name).unwrap();
    let row1 = &fields[0];
    assert_eq!(row1[col("i2")], "32767");
    assert_eq!(row1[col("i4")], "-2147483648");
    assert_eq!(row1[col("f4")], "1.5");
    assert_eq!(row1[col("f8")], "NaN");
    assert_eq!(row1[col("n")], "1234567890.12");
    assert_eq!(row1[col("nu")], "3.1415900000");
    assert_eq!(
        row1[col("nw")],
        "123456789012345678901234567890123456789012345.12345"
    );
    assert_eq!(row1[col("t")], "héllo 😀");
    assert_eq!(row1[col("c")], "ab", "char(n) without its pad");
    assert_eq!(row1[col("d")], "1600-01-01");
    assert_eq!(row1[col("ts")], "2500-06-01T12:00:00.123456");
    assert_eq!(row1[col("tz")], "1500-01-01T00:00:00Z");
    assert_eq!(row1[col("tm")], "23:59:59.999999");
    assert_eq!(row1[col("u")], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    // jsonb: PostgreSQL's own text form through COPY (as `jb::text` gives it); ConnectorX
    // re-serialises it compactly.
    let jsonb = if reader == "native" {
        "{\"b\": [1, 2]}"
    } else {
        "{\"b\":[1,2]}"
    };
    assert_eq!(row1[col("jb")], jsonb);
    assert_eq!(row1[col("by")], "deadbeef");
    assert_eq!(row1[col("ai")], "[1, NULL, 3]");
    assert_eq!(row1[col("at")], "[a, NULL]");
    assert_eq!(row1[col("m")], "happy");
    assert_eq!(row1[col("ip")], "10.0.0.1");
    // Arrays of other scalar types, through their text form.
    assert_eq!(row1[col("an")], "[1.50, NULL]");
    assert_eq!(row1[col("ad")], "[2020-01-01, NULL]");
    assert_eq!(row1[col("atz")], "[2019-12-31T22:00:00Z]");
    assert_eq!(row1[col("au")], "[a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11]");
    assert_eq!(row1[col("aiv")], "[1 days]");
    assert_eq!(fields[1][col("an")], "[]");
    assert!(
        matches!(schema.field_with_name("an").unwrap().data_type(), DataType::List(f) if f.data_type() == &DataType::Decimal128(6, 2))
    );
    let row2 = &fields[1];
    assert_eq!(row2[col("f4")], "-inf");
    assert_eq!(row2[col("f8")], "inf");
    assert_eq!(row2[col("n")], "-0.01");
    assert_eq!(row2[col("nu")], "-99999999.1234567891");
    assert_eq!(row2[col("tz")], "3000-01-01T10:00:00Z");
    assert_eq!(row2[col("ts")], "1000-01-01T00:00:00");
    assert_eq!(row2[col("by")], "");
    assert_eq!(row2[col("ai")], "[]");
    // The interval keeps months, days and nanoseconds apart.
    let iv = batches[0]
        .column(col("iv"))
        .as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>();
    let v = iv.value(0);
    assert_eq!(
        (v.months, v.days, v.nanoseconds),
        (14, 3, 14_706_500_000_000)
    );
    let v = iv.value(1);
    assert_eq!(
        (v.months, v.days, v.nanoseconds),
        (0, -1, -7_200_000_000_000)
    );
    // Row 3: NULL everywhere but the key.
    let third: Vec<&str> = fields[2].clone();
    assert!(third[1..].iter().all(|v| *v == "NULL"), "{third:?}");
    for c in batches[0].columns().iter().skip(1) {
        assert!(c.is_null(2));
    }
    // char(n) compares like PostgreSQL whether the filter runs there or here.
    let off = engine(&ns, Engine::builder().pushdown(false), &options).await;
    for sql in [
        "SELECT id FROM src.types WHERE c = 'ab'",
        "SELECT id FROM src.types WHERE c = 'ab   '",
        "SELECT id FROM src.types WHERE c LIKE 'ab'",
        "SELECT id FROM src.types WHERE c LIKE 'a%'",
        "SELECT id FROM src.types WHERE c <> t",
    ] {
        assert_eq!(
            sorted_rows(&e.sql_collect(sql).await.unwrap()),
            sorted_rows(&off.sql_collect(sql).await.unwrap()),
            "{sql}"
        );
    }
    assert_eq!(
        query(&e, "SELECT id FROM src.types WHERE c = 'ab'").await,
        vec!["1"]
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_fit_are_errors_not_rounded() {
    let ns = PgNamespace::new("pg_overflow").await;
    ns.exec("CREATE TABLE n (id int PRIMARY KEY, v numeric); INSERT INTO n VALUES (1, 1.5), (2, 0.123456789012345)").await;
    let e = engine(&ns, Engine::builder(), "").await;
    assert_eq!(
        query(&e, "SELECT v FROM src.n WHERE id = 1").await,
        vec!["1.5000000000"]
    );
    let err = e
        .sql_collect("SELECT v FROM src.n")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("would round"), "{err}");
    // An interval whose time part is beyond Arrow's 64-bit nanoseconds (found by fuzzing the
    // COPY decoder) is an error naming the column, never a wrapped value.
    ns.exec(
        "CREATE TABLE iv (id int PRIMARY KEY, d interval); \
         INSERT INTO iv VALUES (1, interval '2000000 hours'), (2, interval '3000000 hours')",
    )
    .await;
    assert_eq!(
        query(&e, "SELECT d FROM src.iv WHERE id = 1").await.len(),
        1
    );
    let err = e
        .sql_collect("SELECT d FROM src.iv")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`d`") && err.contains("does not fit Arrow"),
        "{err}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_compare_across_time_zones() {
    let ns = PgNamespace::new("pg_tz").await;
    ns.exec(
        "SET TIME ZONE 'America/New_York';
         CREATE TABLE ev (id int PRIMARY KEY, at timestamptz, local timestamp, amount numeric(10,2), ratio float8);
         INSERT INTO ev VALUES (1, '2024-03-10 01:30:00-05', '2024-03-10 01:30:00', 10.10, 10.1),
                               (2, '2024-03-10 03:30:00-04', '2024-03-10 03:30:00', 10.25, 10.25),
                               (3, '2024-03-10 12:00:00+00', '2024-03-10 12:00:00', 0.10, 0.1),
                               (4, NULL, NULL, NULL, NULL);",
    )
    .await;
    let on = engine(&ns, Engine::builder(), "").await;
    let off = engine(&ns, Engine::builder().pushdown(false), "").await;
    let queries = [
        "SELECT id FROM src.ev WHERE at > '2024-03-10T07:00:00Z'",
        "SELECT id FROM src.ev WHERE at >= '2024-03-10T03:30:00-04:00'",
        "SELECT id FROM src.ev WHERE at < '2024-03-10T12:00:00+01:00'",
        "SELECT id FROM src.ev WHERE local > '2024-03-10T02:00:00'",
        "SELECT id FROM src.ev WHERE local BETWEEN '2024-03-10T00:00:00' AND '2024-03-10T04:00:00'",
        "SELECT id FROM src.ev WHERE amount > 10.1",
        "SELECT id FROM src.ev WHERE amount = 10.10",
        "SELECT id FROM src.ev WHERE amount > ratio",
        "SELECT id FROM src.ev WHERE ratio = 0.1",
        "SELECT id FROM src.ev WHERE amount IN (0.1, 10.25)",
        "SELECT id FROM src.ev WHERE CAST(amount AS DOUBLE) = 0.1",
    ];
    for sql in queries {
        let a = sorted_rows(
            &on.sql_collect(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
        let b = sorted_rows(&off.sql_collect(sql).await.unwrap());
        assert_eq!(a, b, "{sql}");
    }
    assert_eq!(
        query(
            &on,
            "SELECT id FROM src.ev WHERE at > '2024-03-10T07:00:00Z' ORDER BY id"
        )
        .await,
        vec!["2", "3"]
    );
    assert_eq!(
        query(
            &on,
            "SELECT id FROM src.ev WHERE amount IN (0.1, 10.25) ORDER BY id"
        )
        .await,
        vec!["2", "3"]
    );
    let plan = explain(
        &on,
        "SELECT id FROM src.ev WHERE at > '2024-03-10T07:00:00Z'",
    )
    .await;
    assert!(
        plan.contains("WHERE"),
        "timestamptz comparison pushed: {plan}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctid_partitions_read_each_page_once() {
    let ns = PgNamespace::new("pg_ctid").await;
    ns.exec(
        "CREATE TABLE wide (k int, pad text);
         INSERT INTO wide SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
         ANALYZE wide;",
    )
    .await;
    let e = engine(&ns, Engine::builder().target_partitions(3), "").await;
    let df = e
        .sql("SELECT k FROM src.wide WHERE k % 1000 = 7")
        .await
        .unwrap();
    let plan = df.clone().create_physical_plan().await.unwrap();
    let mut scans = vec![];
    datafusion::physical_plan::accept(plan.as_ref(), &mut Collect(&mut scans)).unwrap();
    assert_eq!(scans.len(), 1);
    let queries = &scans[0];
    assert_eq!(queries.len(), 3, "three partitions");
    // Each partition's query is a TID range scan: the server reads its pages and no others.
    for q in queries.iter().flatten() {
        let rows = ns.client.query(&format!("EXPLAIN {q}"), &[]).await.unwrap();
        let text: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        assert!(
            text.iter().any(|l| l.contains("Tid Range Scan")),
            "{q}\n{}",
            text.join("\n")
        );
    }
    let got = sorted_rows(&df.collect().await.unwrap());
    assert_eq!(got.len(), 20);
    ns.cleanup().await;
}

struct Collect<'a>(&'a mut Vec<Vec<Vec<String>>>);

impl datafusion::physical_plan::ExecutionPlanVisitor for Collect<'_> {
    type Error = datafusion::error::DataFusionError;
    fn pre_visit(
        &mut self,
        plan: &dyn datafusion::physical_plan::ExecutionPlan,
    ) -> Result<bool, Self::Error> {
        if let Some(scan) =
            (plan as &dyn std::any::Any).downcast_ref::<vibe_piper::provider::RemoteScanExec>()
        {
            self.0.push(scan.queries().to_vec());
        }
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_share_one_snapshot() {
    let ns = PgNamespace::new("pg_snapshot").await;
    ns.exec(
        "CREATE TABLE s (k int, pad text);
         INSERT INTO s SELECT g, repeat('y', 500) FROM generate_series(1, 4000) g;",
    )
    .await;
    // One page per chunk and tiny batches: many queries, started one after the other.
    let e = engine(
        &ns,
        Engine::builder().target_partitions(2).batch_size(16),
        "chunk_pages=1",
    )
    .await;
    let mut stream = e.sql_stream("SELECT k FROM src.s").await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let mut count = first.num_rows();
    // Committed behind the scan's back: must not be seen by chunks that start later.
    ns.exec("DELETE FROM s WHERE k > 100; INSERT INTO s SELECT g, 'new' FROM generate_series(5001, 5500) g;").await;
    while let Some(b) = stream.next().await {
        count += b.unwrap().num_rows();
    }
    assert_eq!(
        count, 4000,
        "every partition and chunk read the snapshot taken at the start"
    );
    // A new query sees the change.
    assert_eq!(query(&e, "SELECT count(*) FROM src.s").await, vec!["600"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_reports_source_metrics() {
    let ns = PgNamespace::new("pg_metrics").await;
    ns.exec("CREATE TABLE m (k int); INSERT INTO m SELECT generate_series(1, 5000);")
        .await;
    let e = engine(&ns, Engine::builder().target_partitions(2), "").await;
    let scan = analyzed_scan(&e, "SELECT count(*) FROM src.m WHERE k > 1000").await;
    assert!(scan.contains("source_rows=4.00 K"), "{scan}");
    assert!(scan.contains("source_wait_time="), "{scan}");
    assert!(scan.contains("decode_time="), "{scan}");
    assert!(scan.contains("convert_time="), "{scan}");
    assert!(scan.contains("arrow_bytes="), "{scan}");
    // Bytes on the wire: 4000 tuples of one int4 constant (the scan needs no column) are 10
    // bytes each, plus the header and trailer.
    assert!(scan.contains("source_bytes=40.0"), "{scan}");
    // ConnectorX fuses network and decoding, so that reader shows neither.
    let cx = engine(
        &ns,
        Engine::builder().target_partitions(2),
        "reader=connectorx",
    )
    .await;
    let scan = analyzed_scan(&cx, "SELECT count(*) FROM src.m WHERE k > 1000").await;
    assert!(scan.contains("source_rows=4.00 K"), "{scan}");
    assert!(!scan.contains("source_bytes"), "{scan}");
    assert!(!scan.contains("decode_time"), "{scan}");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_mid_stream_are_errors_not_panics() {
    let ns = PgNamespace::new("pg_errors").await;
    ns.exec(
        "CREATE TABLE d (k int); INSERT INTO d SELECT generate_series(0, 100);
         CREATE VIEW boom AS SELECT 100 / (k - 50) AS x FROM d;",
    )
    .await;
    let e = engine(&ns, Engine::builder(), "").await;
    let err = e.sql_collect("SELECT * FROM src.boom").await.unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
    // The engine still works afterwards.
    assert_eq!(query(&e, "SELECT count(*) FROM src.d").await, vec!["101"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_are_clear_and_hide_the_password() {
    let e = Engine::new();
    let err = e
        .register_source("pg", "postgres://alice:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    let base = postgres_url().await;
    let missing_db = format!("{}/vp_no_such_db", base.rsplit_once('/').unwrap().0);
    let err = e.register_source("pg2", &missing_db).await.unwrap_err();
    assert!(err.to_string().contains("vp_no_such_db"), "{err}");
    let err = e
        .register_source("pg3", &format!("{base}?partition=sideways"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    let err = e
        .register_source("pg4", &format!("{base}?chunk_pages=0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("chunk_pages takes a positive integer, not `0`"),
        "{err}"
    );
    // An unknown option is the same error on the source and the connector, listing the
    // valid ones, without the password.
    let secret = "postgres://alice:hunter2@127.0.0.1:5432/db?chunk_page=8";
    let on_source = e.register_source("pg5", secret).await.unwrap_err();
    let Err(on_connector) = vibe_piper::connector::connect(secret).await else {
        panic!("an unknown option was accepted");
    };
    for err in [on_source, on_connector] {
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(text.contains("unknown option `chunk_page`"), "{text}");
        assert!(
            text.contains("valid options: acquire_timeout, application_name")
                && text.contains("chunk_pages")
                && text.contains("sslmode"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_range_partitions() {
    let ns = PgNamespace::new("pg_keys").await;
    ns.exec("CREATE TABLE kr (id bigint PRIMARY KEY, v int); INSERT INTO kr SELECT g, g % 10 FROM generate_series(-500, 1500) g;")
        .await;
    let e = engine(&ns, Engine::builder().target_partitions(4), "partition=key").await;
    let plan = explain(&e, "SELECT * FROM src.kr").await;
    assert!(
        plan.contains("key id ranges") && plan.contains("partitions=4"),
        "{plan}"
    );
    assert_eq!(
        query(&e, "SELECT count(*), sum(id), min(id), max(id) FROM src.kr").await,
        vec!["2001|1000500|-500|1500"]
    );
    let none = engine(
        &ns,
        Engine::builder().target_partitions(4),
        "partition=none",
    )
    .await;
    assert!(explain(&none, "SELECT * FROM src.kr")
        .await
        .contains("partitions=1"));
    assert_eq!(
        query(&none, "SELECT count(*) FROM src.kr").await,
        vec!["2001"]
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_part_names_resolve_to_the_default_schema() {
    let ns = PgNamespace::new("pg_names").await;
    ns.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);")
        .await;
    let e = engine(&ns, Engine::builder(), "").await;
    assert_eq!(query(&e, "SELECT sum(x) FROM src.t").await, vec!["3"]);
    assert_eq!(
        query(&e, &format!("SELECT sum(x) FROM src.{}.t", ns.schema)).await,
        vec!["3"]
    );
    assert!(e.source("src").await.is_some());
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inet_reads_as_postgres_prints_it() {
    for reader in ["native", "connectorx"] {
        let ns = PgNamespace::new(&format!("pg_inet_{reader}")).await;
        ns.exec(
            "CREATE TABLE hosts (id int, ip inet, net cidr);
             INSERT INTO hosts VALUES (1, '10.0.0.1', '10.0.0.0/8'), (2, '::1', '::/0'),
               (3, '192.168.1.5/24', '192.168.1.0/24'), (4, '2001:db8::ff00:42:8329', '2001:db8::/32'), (5, NULL, NULL);",
        )
        .await;
        let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
        let got = query(&e, "SELECT id, ip, net FROM src.hosts ORDER BY id").await;
        // What psql shows for the same rows.
        let printed: Vec<String> = ns
            .client
            .simple_query("SELECT id, ip, net FROM hosts ORDER BY id")
            .await
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..3)
                        .map(|i| r.get(i).unwrap_or("NULL"))
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(got, printed, "{reader}");
        assert_eq!(got[0], "1|10.0.0.1|10.0.0.0/8");
        assert_eq!(got[1], "2|::1|::/0");
        assert_eq!(
            query(&e, "SELECT id FROM src.hosts WHERE ip = '10.0.0.1'").await,
            vec!["1"],
            "{reader}"
        );
        assert_eq!(
            query(&e, "SELECT id FROM src.hosts WHERE ip = '::1'").await,
            vec!["2"]
        );
        ns.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_on_an_expression_read_column_names_the_column() {
    for reader in ["native", "connectorx"] {
        let ns = PgNamespace::new(&format!("pg_probe_{reader}")).await;
        ns.exec(
            "CREATE TABLE hosts (id int, name text, ip inet);
             INSERT INTO hosts VALUES (1, 'a', '10.0.0.1');",
        )
        .await;
        let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
        assert_eq!(
            query(&e, "SELECT id, ip FROM src.hosts").await,
            vec!["1|10.0.0.1"]
        );
        // The table changes under the engine's catalog: `abbrev(ip)` no longer exists.
        ns.exec("ALTER TABLE hosts ALTER COLUMN ip TYPE int USING 7")
            .await;
        let err = e
            .sql_collect("SELECT * FROM src.hosts")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column `ip` (read at the source as `abbrev(\"ip\")`)"),
            "{reader}: {err}"
        );
        assert!(
            err.contains("abbrev(integer) does not exist"),
            "{reader}: {err}"
        );
        if reader == "native" {
            assert!(err.contains("[42883]"), "{err}");
        }
        // Columns read as they are still work.
        assert_eq!(
            query(&e, "SELECT id, name FROM src.hosts").await,
            vec!["1|a"]
        );
        ns.cleanup().await;
    }
}

/// "Too many connections" (53300, here a role's CONNECTION LIMIT) is waited out until the
/// connect timeout; when it does not clear, the error says it was retried and what to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_is_retried_until_the_connect_timeout() {
    let ns = PgNamespace::new("pg_too_many").await;
    ns.exec(
        "DROP ROLE IF EXISTS vp_limited; CREATE ROLE vp_limited LOGIN CONNECTION LIMIT 2;
         CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;",
    )
    .await;
    ns.exec(&format!(
        "GRANT USAGE ON SCHEMA {0} TO vp_limited; GRANT SELECT ON ALL TABLES IN SCHEMA {0} TO vp_limited;",
        ns.schema
    ))
    .await;
    let mut url = url::Url::parse(&ns.url("pool_size=1")).unwrap();
    url.set_username("vp_limited").unwrap();
    let holder_url = {
        let mut u = url::Url::parse(&ns.base).unwrap();
        u.set_username("vp_limited").unwrap();
        u.to_string()
    };
    // The engine's pool takes one of the role's two connections; the scan's reader needs the
    // other, which a session holds for 1.5 s.
    let (holder, conn) = tokio_postgres::connect(&holder_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        drop(holder);
    });
    let started = std::time::Instant::now();
    let e = Engine::builder().target_partitions(1).build();
    e.register_source("src", url.as_str()).await.unwrap();
    assert_eq!(
        query(&e, "SELECT count(*), sum(id) FROM src.t").await,
        vec!["1000|500500"]
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000));
    release.await.unwrap();
    let _ = conn.await;
    drop(e);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Held for good: the connect timeout (2 s) runs out, and the error says so.
    let (_holder, conn) = tokio_postgres::connect(&holder_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let short = format!("{url}&connect_timeout=2");
    let e = Engine::builder().target_partitions(1).build();
    e.register_source("src", &short).await.unwrap();
    let started = std::time::Instant::now();
    let err = e
        .sql_collect("SELECT count(*) FROM src.t")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}: {err}",
        started.elapsed()
    );
    assert!(err.contains("[53300], still after retrying"), "{err}");
    assert!(err.contains("max_connections"), "{err}");
    drop(_holder);
    ns.exec("DROP OWNED BY vp_limited; DROP ROLE vp_limited")
        .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_options_are_decoded_as_uri_components() {
    let ns = PgNamespace::new("pg_url_decode").await;
    ns.exec("CREATE TABLE one (id int); INSERT INTO one VALUES (1);")
        .await;
    // `%20` is a space and `+` a plus, as psql reads the same URL.
    let url = ns.url("application_name=my%20app+1&options=-c%20statement_timeout%3D1234");
    let db = vibe_piper::connector::connect(&url).await.unwrap();
    use vibe_piper::connector::ExecutorExt;
    let b = db
        .query_one(
            "SELECT current_setting('application_name') AS a, current_setting('statement_timeout') AS t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows(&[b]), vec!["my app+1|1234ms"]);
    let e = Engine::new();
    e.register_source("src", &url).await.unwrap();
    assert_eq!(query(&e, "SELECT id FROM src.one").await, vec!["1"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_timestamps_push_down_exactly() {
    let ns = PgNamespace::new("pg_fraction").await;
    let cols: Vec<String> = (0..=6)
        .flat_map(|p| {
            [
                format!("ts{p} timestamp({p})"),
                format!("tz{p} timestamptz({p})"),
                format!("t{p} time({p})"),
            ]
        })
        .collect();
    ns.exec(&format!(
        "CREATE TABLE f (id int PRIMARY KEY, {});",
        cols.join(", ")
    ))
    .await;
    let values = [
        "2024-03-02 10:00:00.123456",
        "2024-03-02 10:00:00.5",
        "2024-03-02 10:00:00",
        "2024-03-02 09:59:59.999999",
        "2024-03-02 10:00:00.000001",
    ];
    for (id, v) in values.iter().enumerate() {
        let cells: Vec<String> = (0..=6)
            .flat_map(|_| {
                let time = v.split(' ').nth(1).unwrap();
                [format!("'{v}'"), format!("'{v}+00'"), format!("'{time}'")]
            })
            .collect();
        ns.exec(&format!(
            "INSERT INTO f VALUES ({id}, {});",
            cells.join(", ")
        ))
        .await;
    }
    let on = engine(&ns, Engine::builder(), "").await;
    let off = engine(&ns, Engine::builder().pushdown(false), "").await;
    for p in 0..=6 {
        for lit in [
            "2024-03-02 10:00:00.123",
            "2024-03-02 10:00:00.5",
            "2024-03-02 10:00:00",
            "2024-03-02 10:00:00.123456",
        ] {
            let time = lit.split(' ').nth(1).unwrap();
            for sql in [
                format!("SELECT id FROM src.f WHERE ts{p} = TIMESTAMP '{lit}'"),
                format!("SELECT id FROM src.f WHERE ts{p} < TIMESTAMP '{lit}'"),
                format!("SELECT id FROM src.f WHERE tz{p} >= TIMESTAMP '{lit}+00:00'"),
                format!("SELECT id FROM src.f WHERE tz{p} = TIMESTAMP '{lit}+00:00'"),
                format!(
                    "SELECT id FROM src.f WHERE t{p} = arrow_cast('{time}', 'Time64(Microsecond)')"
                ),
                format!(
                    "SELECT id FROM src.f WHERE t{p} > arrow_cast('{time}', 'Time64(Microsecond)')"
                ),
            ] {
                let a = sorted_rows(
                    &on.sql_collect(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}")),
                );
                let b = sorted_rows(&off.sql_collect(&sql).await.unwrap());
                assert_eq!(a, b, "pushdown changed the answer of: {sql}");
            }
        }
    }
    assert_eq!(
        query(
            &on,
            "SELECT id FROM src.f WHERE ts6 = TIMESTAMP '2024-03-02 10:00:00.123456'"
        )
        .await,
        vec!["0"]
    );
    assert_eq!(
        query(
            &on,
            "SELECT id FROM src.f WHERE ts3 = TIMESTAMP '2024-03-02 10:00:00.123'"
        )
        .await,
        vec!["0"]
    );
    ns.cleanup().await;
}
