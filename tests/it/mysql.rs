//! MySQL/MariaDB-specific behaviour: the type table, collations, zero dates, federation.

use crate::common::*;
use arrow::datatypes::{DataType, TimeUnit};
use vibe_piper::Engine;

const TYPES_DDL: &str = "
CREATE TABLE types (
  id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, b1 TINYINT(1), si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, d DECIMAL(12,2), dw DECIMAL(65,30),
  f FLOAT, db DOUBLE, bt BIT(8), s VARCHAR(20), sb VARCHAR(20) COLLATE utf8mb4_bin, c CHAR(5),
  tx TEXT, bin BINARY(3), vb VARBINARY(10), bl BLOB, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL,
  tm TIME(6), y YEAR, e ENUM('sad','ok','happy'), st SET('a','b','c'), j JSON);
INSERT INTO types VALUES
 (1, -128, 255, 1, -32768, 65535, -8388608, 4294967295, -9223372036854775808, 18446744073709551615,
  1234567890.12, 12345678901234567890123456789012345.123456789012345678901234567890,
  1.5, -2.25, b'10100101', 'héllo 😀', 'Bin', 'ab', 'long text', 'xyz', 'vb', 'blob',
  '1000-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.000001',
  '-838:59:59.000000', 2155, 'happy', 'a,c', '{\"k\": [1, 2]}'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 0, 0, 7, 0, 0, 0, 0, 0, 0, -0.01, -0.000000000000000000000000000001, 0, 0, b'0', '', '', '', '', '', '', '',
  '2024-02-29', '1970-01-01 00:00:00', '2000-01-01 00:00:00', '25:00:00.5', 1901, 'sad', '', '[]');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_round_trip() {
    type_round_trip_with("native").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_round_trip_connectorx() {
    type_round_trip_with("connectorx").await
}

async fn type_round_trip_with(reader: &str) {
    let ns = MySqlNamespace::new(&format!("my_types_{reader}"));
    ns.exec("SET SESSION time_zone = '+05:00'").await;
    ns.exec(TYPES_DDL).await;
    // Session time zone of the reader is UTC whatever the server's: TIMESTAMP is an instant.
    let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
    let batches = e
        .sql_collect("SELECT * FROM src.types ORDER BY id")
        .await
        .unwrap();
    let schema = batches[0].schema();
    let expect = [
        ("ti", DataType::Int8),
        ("tu", DataType::UInt8),
        ("b1", DataType::Boolean),
        ("si", DataType::Int16),
        ("su", DataType::UInt16),
        ("mi", DataType::Int32),
        ("iu", DataType::UInt32),
        ("bi", DataType::Int64),
        ("bu", DataType::UInt64),
        ("d", DataType::Decimal128(12, 2)),
        ("dw", DataType::Decimal256(65, 30)),
        ("f", DataType::Float32),
        ("db", DataType::Float64),
        ("bt", DataType::Binary),
        ("s", DataType::Utf8),
        ("sb", DataType::Utf8),
        ("bin", DataType::Binary),
        ("dt", DataType::Date32),
        ("dtm", DataType::Timestamp(TimeUnit::Microsecond, None)),
        (
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        ("tm", DataType::Duration(TimeUnit::Microsecond)),
        ("y", DataType::Int16),
        ("e", DataType::Utf8),
        ("st", DataType::Utf8),
    ];
    for (name, dt) in expect {
        assert_eq!(
            schema.field_with_name(name).unwrap().data_type(),
            &dt,
            "{name}"
        );
    }
    let r = rows(&batches);
    let fields: Vec<Vec<&str>> = r.iter().map(|l| l.split('|').collect()).collect();
    let col = |name: &str| schema.index_of(name).unwrap();
    let one = &fields[0];
    let check = [
        ("ti", "-128"),
        ("tu", "255"),
        ("b1", "true"),
        ("su", "65535"),
        ("mi", "-8388608"),
        ("iu", "4294967295"),
        ("bi", "-9223372036854775808"),
        ("bu", "18446744073709551615"),
        ("d", "1234567890.12"),
        (
            "dw",
            "12345678901234567890123456789012345.123456789012345678901234567890",
        ),
        ("f", "1.5"),
        ("db", "-2.25"),
        ("bt", "a5"),
        ("s", "héllo 😀"),
        ("sb", "Bin"),
        ("c", "ab"),
        ("bin", "78797a"),
        ("dt", "1000-01-01"),
        ("dtm", "9999-12-31T23:59:59.999999"),
        ("ts", "2038-01-18T22:14:07.000001Z"),
        ("tm", "-PT3020399S"),
        ("y", "2155"),
        ("e", "happy"),
        ("st", "a,c"),
    ];
    for (name, want) in check {
        assert_eq!(one[col(name)], want, "{name}");
    }
    assert!(one[col("j")].contains("\"k\""), "{}", one[col("j")]);
    assert!(
        fields[1][1..].iter().all(|v| *v == "NULL"),
        "{:?}",
        fields[1]
    );
    let three = &fields[2];
    assert_eq!(three[col("b1")], "true", "tinyint(1) holding 7 is true");
    assert_eq!(three[col("d")], "-0.01");
    assert_eq!(three[col("dw")], "-0.000000000000000000000000000001");
    assert_eq!(three[col("tm")], "PT90000.5S");
    assert_eq!(three[col("ts")], "1999-12-31T19:00:00Z");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collations_trailing_spaces_and_accents() {
    let ns = MySqlNamespace::new("my_collations");
    ns.exec(
        "CREATE TABLE w (id INT PRIMARY KEY, ci VARCHAR(20), bin VARCHAR(20) COLLATE utf8mb4_bin,
                         nopad VARCHAR(20) COLLATE utf8mb4_nopad_bin, b TINYINT(1));
         INSERT INTO w VALUES (1, 'abc', 'abc', 'abc', 0), (2, 'ABC', 'ABC', 'ABC', 1), (3, 'abc ', 'abc ', 'abc ', 2),
                              (4, 'àbc', 'àbc', 'àbc', NULL), (5, 'a%c', 'a%c', 'a%c', 1), (6, NULL, NULL, NULL, -1),
                              (7, 'a\\c', 'a\\c', 'a\\c', 0);",
    )
    .await;
    let on = engine(&ns, Engine::builder(), "").await;
    let off = engine(&ns, Engine::builder().pushdown(false), "").await;
    let mut queries = vec![];
    for c in ["ci", "bin", "nopad"] {
        for pred in [
            "= 'abc'",
            "<> 'abc'",
            "= 'abc '",
            "IN ('abc', 'x')",
            "NOT IN ('abc')",
            "LIKE 'a%'",
            "LIKE 'A_C'",
            "> 'ab'",
            "= 'a\\c'",
            "LIKE '%\\%%'",
        ] {
            queries.push(format!("SELECT id FROM src.w WHERE {c} {pred}"));
        }
    }
    queries.push("SELECT id FROM src.w WHERE b = true".into());
    queries.push("SELECT id FROM src.w WHERE b".into());
    queries.push("SELECT id FROM src.w WHERE NOT b".into());
    for sql in &queries {
        let a = sorted_rows(
            &on.sql_collect(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
        let b = sorted_rows(&off.sql_collect(sql).await.unwrap());
        assert_eq!(a, b, "{sql}");
    }
    assert_eq!(
        query(&on, "SELECT id FROM src.w WHERE ci = 'abc'").await,
        vec!["1"]
    );
    assert_eq!(
        query(&on, "SELECT id FROM src.w WHERE b ORDER BY id").await,
        vec!["2", "3", "5", "6"]
    );
    // Only the NO PAD binary collation is exact; the others are pushed and re-checked.
    let plan = explain(&on, "SELECT id FROM src.w WHERE nopad = 'abc'").await;
    assert!(
        plan.contains("WHERE") && !plan.contains("FilterExec"),
        "{plan}"
    );
    let plan = explain(&on, "SELECT id FROM src.w WHERE bin = 'abc'").await;
    assert!(
        plan.contains("WHERE") && plan.contains("FilterExec"),
        "{plan}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_dates_are_null_or_an_error() {
    let ns = MySqlNamespace::new("my_zero");
    ns.exec(
        "SET SESSION sql_mode = 'ANSI_QUOTES';
         CREATE TABLE z (id INT PRIMARY KEY, d DATE NOT NULL, t DATETIME NOT NULL);
         INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2020-01-02', '2020-01-02 03:04:05');",
    )
    .await;
    let lenient = engine(&ns, Engine::builder(), "").await;
    assert_eq!(
        query(&lenient, "SELECT id, d, t FROM src.z ORDER BY id").await,
        vec!["1|NULL|NULL", "2|2020-01-02|2020-01-02T03:04:05"]
    );
    let tables = lenient.tables("src").await.unwrap();
    let z = &tables
        .iter()
        .find(|(n, _)| *n == format!("{}.z", ns.database))
        .unwrap()
        .1;
    assert!(z.field(1).is_nullable(), "a zero date may become NULL");
    // Filters agree with DataFusion's view (zero date = NULL).
    let off = engine(&ns, Engine::builder().pushdown(false), "").await;
    for sql in [
        "SELECT id FROM src.z WHERE d < DATE '2020-01-01'",
        "SELECT id FROM src.z WHERE d IS NULL",
        "SELECT id FROM src.z WHERE d >= DATE '2020-01-01'",
    ] {
        assert_eq!(
            sorted_rows(&lenient.sql_collect(sql).await.unwrap()),
            sorted_rows(&off.sql_collect(sql).await.unwrap()),
            "{sql}"
        );
    }
    let strict = engine(&ns, Engine::builder(), "zero_dates=error").await;
    let err = strict
        .sql_collect("SELECT d FROM src.z")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("zero date") && err.contains("column `d`"),
        "{err}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_join_matches_the_join_inside_one_database() {
    use arrow::array::RecordBatch;
    // TPC-H orders in PostgreSQL, lineitem in MariaDB (and both in PostgreSQL for the reference).
    let pg = PgNamespace::new("fed").await;
    let my = MySqlNamespace::new("fed");
    let scale = 0.002;
    let orders: Vec<RecordBatch> =
        tpchgen_arrow::OrderArrow::new(tpchgen::generators::OrderGenerator::new(scale, 1, 1))
            .collect::<Result<_, _>>()
            .unwrap();
    let lineitems: Vec<RecordBatch> =
        tpchgen_arrow::LineItemArrow::new(tpchgen::generators::LineItemGenerator::new(scale, 1, 1))
            .collect::<Result<_, _>>()
            .unwrap();
    let ord_rows = rows(&orders);
    let li_rows = rows(&lineitems);
    let ord_ddl = "CREATE TABLE orders (o_orderkey BIGINT PRIMARY KEY, o_custkey BIGINT, o_orderstatus CHAR(1), o_totalprice DECIMAL(15,2), o_orderdate DATE, o_orderpriority VARCHAR(15), o_clerk VARCHAR(15), o_shippriority INT, o_comment VARCHAR(79))";
    let li_ddl = "CREATE TABLE lineitem (l_orderkey BIGINT, l_partkey BIGINT, l_suppkey BIGINT, l_linenumber INT, l_quantity DECIMAL(15,2), l_extendedprice DECIMAL(15,2), l_discount DECIMAL(15,2), l_tax DECIMAL(15,2), l_returnflag CHAR(1), l_linestatus CHAR(1), l_shipdate DATE, l_commitdate DATE, l_receiptdate DATE, l_shipinstruct VARCHAR(25), l_shipmode VARCHAR(10), l_comment VARCHAR(44), PRIMARY KEY (l_orderkey, l_linenumber))";
    let values = |rows: &[String]| {
        rows.iter()
            .map(|r| {
                format!(
                    "({})",
                    r.split('|')
                        .map(|v| format!("'{}'", v.replace('\'', "''")))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect::<Vec<_>>()
    };
    pg.exec(ord_ddl).await;
    pg.exec(li_ddl).await;
    my.exec(li_ddl).await;
    for chunk in values(&ord_rows).chunks(500) {
        pg.exec(&format!("INSERT INTO orders VALUES {}", chunk.join(",")))
            .await;
    }
    for chunk in values(&li_rows).chunks(500) {
        let sql = format!("INSERT INTO lineitem VALUES {}", chunk.join(","));
        pg.exec(&sql).await;
        my.exec(&sql).await;
    }
    let e = Engine::builder().target_partitions(2).build();
    e.register_source("pg", &pg.url("")).await.unwrap();
    e.register_source("my", &my.url("")).await.unwrap();
    let federated = "SELECT o.o_orderpriority, count(*) AS n, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue \
                     FROM pg.orders o JOIN my.lineitem l ON l.l_orderkey = o.o_orderkey \
                     WHERE l.l_shipdate >= DATE '1995-01-01' AND o.o_totalprice > 1000 \
                     GROUP BY o.o_orderpriority ORDER BY o.o_orderpriority";
    let got = query(&e, federated).await;
    let inside = pg
        .client
        .query(
            &format!(
                "SELECT o.o_orderpriority || '|' || count(*) || '|' || sum(l.l_extendedprice * (1 - l.l_discount)) \
                 FROM {s}.orders o JOIN {s}.lineitem l ON l.l_orderkey = o.o_orderkey \
                 WHERE l.l_shipdate >= DATE '1995-01-01' AND o.o_totalprice > 1000 \
                 GROUP BY o.o_orderpriority ORDER BY o.o_orderpriority",
                s = pg.schema
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    assert_eq!(got.len(), 5);
    assert_eq!(got, inside);
    let plan = explain(&e, federated).await;
    assert!(
        plan.contains("source=mysql") && plan.contains("source=postgres"),
        "{plan}"
    );
    assert!(
        plan.contains("`l_shipdate` >= CAST('1995-01-01' AS DATE)"),
        "{plan}"
    );
    pg.cleanup().await;
    my.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors() {
    let e = Engine::new();
    let err = e
        .register_source("m", "mysql://root:hunter2@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, vibe_piper::Error::Connection { .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let err = e
        .register_source("m2", &format!("{}/vp_no_such_db", mysql_base()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("vp_no_such_db"), "{err}");
    let err = e
        .register_source("m3", "mysql://nobody_here:pw@127.0.0.1:3306/test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, vibe_piper::Error::Authentication { .. }),
        "{err:?}"
    );
    for bad in [
        "zero_dates=maybe",
        "tinyint1_as_bool=2",
        "partition=ctid",
        "chunk_rows=-1",
        "reader=odbc",
    ] {
        let err = e
            .register_source("m4", &format!("{}/test?{bad}", mysql_base()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, vibe_piper::Error::InvalidUrl { .. }),
            "{bad}: {err:?}"
        );
    }
    // `mariadb://` is accepted as the same protocol.
    let maria = format!("{}/test", mysql_base()).replacen("mysql://", "mariadb://", 1);
    e.register_source("maria", &maria).await.unwrap();
    assert_eq!(query(&e, "SELECT 1 AS one").await, vec!["1"]);
    let err = e.register_source("m5", &mysql_base()).await.unwrap_err();
    assert!(err.to_string().contains("name the database"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_options_list_the_valid_ones() {
    // The server is never asked: the URL is refused first.
    let url = "mysql://root:s3cret@127.0.0.1:3306/test?chunk_row=5";
    let listing = "unknown option `chunk_row`; valid options: acquire_timeout, chunk_rows, \
                   client_found_rows, compression, enable_cleartext_plugin, idle_timeout, \
                   max_allowed_packet, max_lifetime, min_idle, partition, pool_size, \
                   prefer_socket, reader, require_ssl, secure_auth, socket, ssl-ca, ssl-cert, \
                   ssl-key, ssl-mode, sslmode, stmt_cache_size, tcp_keepalive, tcp_nodelay, \
                   tinyint1_as_bool, verify_ca, verify_identity, wait_timeout, zero_dates";
    let source = Engine::new().register_source("m", url).await.unwrap_err();
    let connector = vibe_piper::connector::connect(url)
        .await
        .map(|_| ())
        .unwrap_err();
    for err in [source, connector] {
        assert!(
            matches!(err, vibe_piper::Error::InvalidUrl { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(listing), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err:?}");
    }
    // The source's options are valid for the connector too (which ignores them).
    let ns = MySqlNamespace::new("my_options");
    let connector = vibe_piper::connector::connect(&ns.url("zero_dates=error&chunk_rows=5"))
        .await
        .unwrap();
    connector.ping().await.unwrap();
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_reader_metrics_errors_and_passwords() {
    let ns = MySqlNamespace::new("my_native");
    ns.exec(
        "CREATE TABLE dg (d INT); INSERT INTO dg VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
         CREATE TABLE m (k INT PRIMARY KEY, s VARCHAR(20));
         INSERT INTO m SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 1, CONCAT('v', a.d)
           FROM dg a, dg b, dg c, dg e;
         CREATE VIEW boom AS SELECT (SELECT k FROM m) AS x FROM m;",
    )
    .await;
    let e = engine(&ns, Engine::builder().target_partitions(2), "").await;
    let scan = analyzed_scan(&e, "SELECT count(*) FROM src.m WHERE k > 1000").await;
    assert!(scan.contains("source_rows=9.00 K"), "{scan}");
    assert!(scan.contains("source_bytes="), "{scan}");
    assert!(scan.contains("decode_time="), "{scan}");
    assert!(scan.contains("source_wait_time="), "{scan}");
    assert_eq!(
        query(
            &e,
            "SELECT s, count(*) FROM src.m WHERE k <= 20 GROUP BY s ORDER BY s"
        )
        .await[..2],
        ["v0|2".to_string(), "v1|2".to_string()]
    );
    // A server error in the middle of the result is an error with the server's code.
    let err = e.sql_collect("SELECT * FROM src.boom").await.unwrap_err();
    assert!(err.to_string().contains("more than 1 row"), "{err}");
    assert_eq!(query(&e, "SELECT count(*) FROM src.m").await, vec!["10000"]);
    // A user with a password (mysql_native_password on MariaDB) reads through the native reader.
    let user = format!("vp_reader_{}", std::process::id());
    ns.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 's3cret!pw';
         GRANT SELECT ON {db}.* TO '{user}'@'%';",
        db = ns.database
    ))
    .await;
    let mut url = url::Url::parse(&ns.url("")).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("s3cret!pw")).unwrap();
    let with_password = Engine::builder().target_partitions(2).build();
    with_password
        .register_source("src", url.as_str())
        .await
        .unwrap();
    assert_eq!(
        query(
            &with_password,
            "SELECT count(*), sum(k) FROM src.m WHERE k > 5000"
        )
        .await,
        vec!["5000|37502500"]
    );
    let plan = query(
        &with_password,
        "EXPLAIN ANALYZE SELECT k FROM src.m WHERE k > 9990",
    )
    .await
    .join("\n");
    assert!(plan.contains("decode_time="), "{plan}");
    assert!(!plan.contains("s3cret"), "{plan}");
    ns.exec(&format!("DROP USER '{user}'@'%'")).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spatial_columns_read_as_wkb() {
    for reader in ["native", "connectorx"] {
        let ns = MySqlNamespace::new(&format!("my_geometry_{reader}"));
        ns.exec(
            "CREATE TABLE places (id INT PRIMARY KEY, name VARCHAR(10), g GEOMETRY, p POINT);
             INSERT INTO places VALUES (1, 'a', ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(3 4)')),
               (2, 'b', ST_GeomFromText('LINESTRING(0 0, 1 1)'), NULL), (3, 'c', NULL, NULL);",
        )
        .await;
        let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
        let batches = e
            .sql_collect("SELECT * FROM src.places ORDER BY id")
            .await
            .unwrap_or_else(|err| panic!("{reader}: {err}"));
        let schema = batches[0].schema();
        assert_eq!(
            schema.field_with_name("g").unwrap().data_type(),
            &DataType::Binary
        );
        // The WKB the server itself gives.
        let want = ns.text_rows(
            "SELECT id, name, HEX(ST_AsBinary(g)), HEX(ST_AsBinary(p)) FROM places ORDER BY id",
        );
        let got = rows(&batches);
        for (g, w) in got.iter().zip(&want) {
            let hex = |c: &Option<String>| c.clone().map_or("NULL".into(), |s| s.to_lowercase());
            let cells: Vec<&str> = g.split('|').collect();
            assert_eq!(cells[2], hex(&w[2]), "{reader}");
            assert_eq!(cells[3], hex(&w[3]), "{reader}");
        }
        // POINT(1 2) as little-endian WKB.
        assert!(
            got[0].contains("|0101000000000000000000f03f0000000000000040|"),
            "{}",
            got[0]
        );
        assert_eq!(got.len(), 3);
        ns.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_on_an_expression_read_column_names_the_column() {
    for reader in ["native", "connectorx"] {
        let ns = MySqlNamespace::new(&format!("my_probe_{reader}"));
        ns.exec(
            "CREATE TABLE places (id INT PRIMARY KEY, name VARCHAR(10), g GEOMETRY);
             INSERT INTO places VALUES (1, 'a', ST_GeomFromText('POINT(1 2)'));",
        )
        .await;
        let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
        assert_eq!(
            e.sql_collect("SELECT id FROM src.places WHERE g IS NOT NULL")
                .await
                .map(|b| rows(&b))
                .unwrap(),
            vec!["1"]
        );
        // The table changes under the engine's catalog: `ST_AsBinary` of an INT fails.
        ns.exec("ALTER TABLE places DROP g, ADD g INT").await;
        let err = e
            .sql_collect("SELECT * FROM src.places")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column `g` (read at the source as `ST_AsBinary(`g`)`)"),
            "{reader}: {err}"
        );
        assert_eq!(
            e.sql_collect("SELECT id, name FROM src.places")
                .await
                .map(|b| rows(&b))
                .unwrap(),
            vec!["1|a"]
        );
        ns.cleanup().await;
    }
}

/// "Too many connections" (here the account's MAX_USER_CONNECTIONS, 1226) is waited out by the
/// pool and by the native reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_is_retried() {
    use mysql::prelude::Queryable;
    let ns = MySqlNamespace::new("my_too_many");
    let user = format!("vp_limited_{}", std::process::id());
    ns.exec(&format!(
        "CREATE TABLE t (id INT PRIMARY KEY);
         INSERT INTO t SELECT seq FROM seq_1_to_1000;
         CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 2;
         GRANT SELECT ON {db}.* TO '{user}'@'%';",
        db = ns.database
    ))
    .await;
    let mut url = url::Url::parse(&ns.url("pool_size=1")).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("pw")).unwrap();
    let mut admin = url::Url::parse(&mysql_base()).unwrap();
    admin.set_username(&user).unwrap();
    admin.set_password(Some("pw")).unwrap();
    let opts = mysql::Opts::from_url(admin.as_str()).unwrap();
    // The engine's pool takes one of the account's two connections; the scan's reader needs
    // the other, which a session holds for 1.5 s.
    let e = Engine::builder().target_partitions(1).build();
    e.register_source("src", url.as_str()).await.unwrap();
    let mut held = mysql::Conn::new(opts.clone()).unwrap();
    held.query_drop("SELECT 1").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(held);
    });
    let started = std::time::Instant::now();
    let got = e
        .sql_collect("SELECT count(*), sum(id) FROM src.t")
        .await
        .map(|b| rows(&b))
        .unwrap();
    assert_eq!(got, vec!["1000|500500"]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000));
    release.join().unwrap();
    drop(e);

    // Both connections held while the pool opens its first: it waits for one to go.
    let first = mysql::Conn::new(opts.clone()).unwrap();
    let second = mysql::Conn::new(opts).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(first);
        drop(second);
    });
    let started = std::time::Instant::now();
    let e = Engine::builder().target_partitions(1).build();
    e.register_source("src", url.as_str()).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000));
    assert_eq!(
        e.sql_collect("SELECT count(*) FROM src.t")
            .await
            .map(|b| rows(&b))
            .unwrap(),
        vec!["1000"]
    );
    release.join().unwrap();
    drop(e);
    ns.exec(&format!("DROP USER '{user}'@'%'")).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_seconds_push_down_exactly() {
    for reader in ["native", "connectorx"] {
        let ns = MySqlNamespace::new(&format!("my_fraction_{reader}"));
        let cols: Vec<String> = (0..=6)
            .flat_map(|p| {
                [
                    format!("dt{p} DATETIME({p})"),
                    format!("ts{p} TIMESTAMP({p}) NULL"),
                    format!("t{p} TIME({p})"),
                ]
            })
            .collect();
        ns.exec(&format!(
            "SET time_zone = '+00:00'; CREATE TABLE f (id INT PRIMARY KEY, {});",
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
            let time = v.split(' ').nth(1).unwrap();
            let cells: Vec<String> = (0..=6)
                .flat_map(|_| [format!("'{v}'"), format!("'{v}'"), format!("'{time}'")])
                .collect();
            ns.exec(&format!(
                "SET time_zone = '+00:00'; INSERT INTO f VALUES ({id}, {});",
                cells.join(", ")
            ))
            .await;
        }
        let options = format!("reader={reader}");
        let on = engine(&ns, Engine::builder(), &options).await;
        let off = engine(&ns, Engine::builder().pushdown(false), &options).await;
        for p in 0..=6 {
            for lit in [
                "2024-03-02 10:00:00.123",
                "2024-03-02 10:00:00.5",
                "2024-03-02 10:00:00",
                "2024-03-02 10:00:00.123456",
            ] {
                for sql in [
                    format!("SELECT id FROM src.f WHERE dt{p} = TIMESTAMP '{lit}'"),
                    format!("SELECT id FROM src.f WHERE dt{p} < TIMESTAMP '{lit}'"),
                    format!("SELECT id FROM src.f WHERE dt{p} >= TIMESTAMP '{lit}'"),
                    format!("SELECT id FROM src.f WHERE ts{p} = TIMESTAMP '{lit}+00:00'"),
                    format!("SELECT id FROM src.f WHERE ts{p} > TIMESTAMP '{lit}+00:00'"),
                ] {
                    let a = sorted_rows(
                        &on.sql_collect(&sql)
                            .await
                            .unwrap_or_else(|e| panic!("{sql}: {e}")),
                    );
                    let b = sorted_rows(&off.sql_collect(&sql).await.unwrap());
                    assert_eq!(a, b, "{reader}: pushdown changed the answer of: {sql}");
                }
            }
            // TIME(n) reads as a duration: compared with an interval, never pushed as a TIME.
            let sql = format!("SELECT id FROM src.f WHERE t{p} = INTERVAL '10 hours'");
            if let (Ok(a), Ok(b)) = (on.sql_collect(&sql).await, off.sql_collect(&sql).await) {
                assert_eq!(sorted_rows(&a), sorted_rows(&b), "{sql}");
            }
        }
        // The example: the row at .123 on a DATETIME(3) column.
        assert_eq!(
            query(
                &on,
                "SELECT id FROM src.f WHERE dt3 = TIMESTAMP '2024-03-02 10:00:00.123'"
            )
            .await,
            vec!["0"]
        );
        let mut below = query(
            &on,
            "SELECT id FROM src.f WHERE dt3 < TIMESTAMP '2024-03-02 10:00:00.500'",
        )
        .await;
        below.sort();
        assert_eq!(below, vec!["0", "2", "3", "4"]);
        let plan = explain(
            &on,
            "SELECT id FROM src.f WHERE dt3 = TIMESTAMP '2024-03-02 10:00:00.123'",
        )
        .await;
        assert!(plan.contains("DATETIME(6)"), "{plan}");
        ns.cleanup().await;
    }
}
