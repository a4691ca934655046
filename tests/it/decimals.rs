//! Exact decimals at the edges of precision, through the real servers: every `numeric(p,s)`
//! (1 <= p <= 76, Decimal128 up to 38 digits and Decimal256 beyond) and every MySQL
//! `DECIMAL(p,s)` up to (65,30), read by every reader and written by every write path, compared
//! digit for digit with what the server itself prints for the value.
//!
//! Each column gets the edge values (all nines, one unit in the last place, the largest power of
//! ten, zero with its scale, each with either sign) and `VP_DECIMAL_ROUNDS` rows of random
//! values (default 2: about 6,000 random values a backend on top of 20,000 edge values).
//! `VP_DECIMAL_SEED` replays a run; a failure names its seed.

use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Decimal256Array, Int32Array};
use arrow::datatypes::{i256, DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{connect, BulkOptions, TableName, Value};
use vibe_piper::Engine;

use crate::common::*;

/// Columns a table holds (kept well below both servers' row-size limits).
const COLUMNS_PER_TABLE: usize = 50;

#[derive(Debug, Clone, Copy)]
struct Col {
    p: u8,
    s: u8,
}

impl Col {
    /// Decimal128 up to 38 digits, Decimal256 beyond (the read mapping of both backends).
    fn arrow_type(self) -> DataType {
        if self.p <= 38 {
            DataType::Decimal128(self.p, self.s as i8)
        } else {
            DataType::Decimal256(self.p, self.s as i8)
        }
    }
}

/// A decimal as the servers print it: `s` fraction digits, no leading zeros, `0` before the
/// point, no sign on zero.
fn text(neg: bool, int: &str, frac: &str) -> String {
    let int = int.trim_start_matches('0');
    let zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
    let mut t = String::new();
    if neg && !zero {
        t.push('-');
    }
    t.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        t.push('.');
        t.push_str(frac);
    }
    t
}

/// Edge values of a column.
fn edge_values(c: Col) -> Vec<String> {
    let (i, s) = ((c.p - c.s) as usize, c.s as usize);
    let nines = |n| "9".repeat(n);
    let mut ulp = "0".repeat(s);
    let ulp_int = if s == 0 { "1" } else { "" };
    if s > 0 {
        ulp.replace_range(s - 1.., "1");
    }
    // All nines but the last digit an 8.
    let mut below = format!("{}{}", nines(i), nines(s));
    below.replace_range(below.len() - 1.., "8");
    let (below_int, below_frac) = below.split_at(i);
    let mut v = vec![
        text(false, &nines(i), &nines(s)),
        text(true, &nines(i), &nines(s)),
        text(false, ulp_int, &ulp),
        text(true, ulp_int, &ulp),
        text(false, "", &"0".repeat(s)),
        text(true, below_int, below_frac),
    ];
    if i > 0 {
        v.push(text(
            false,
            &format!("1{}", "0".repeat(i - 1)),
            &"0".repeat(s),
        ));
    }
    v
}

/// A small seeded generator (SplitMix64): the same seed gives the same cases.
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn upto(&mut self, max: usize) -> usize {
        (self.next() % (max as u64 + 1)) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// A random value of a column: a random count of integer digits, random digits.
fn random_value(c: Col, rng: &mut TestRng) -> String {
    let (i, s) = ((c.p - c.s) as usize, c.s as usize);
    let int_len = rng.upto(i);
    let digit = |rng: &mut TestRng| char::from(b'0' + rng.upto(9) as u8);
    let int: String = (0..int_len).map(|_| digit(rng)).collect();
    let frac: String = (0..s).map(|_| digit(rng)).collect();
    text(rng.coin(), &int, &frac)
}

/// One test table: its columns and rows of values (`rows[r][c]`).
struct Table {
    name: String,
    cols: Vec<Col>,
    rows: Vec<Vec<String>>,
}

fn seed() -> u64 {
    std::env::var("VP_DECIMAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

fn rounds() -> usize {
    std::env::var("VP_DECIMAL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

/// Every column of `(p, s)` with `max_s` as the largest scale, in tables of
/// [`COLUMNS_PER_TABLE`], each column with its edge values and `rounds()` random ones.
fn tables(prefix: &str, max_p: u8, max_s: u8, seed: u64) -> Vec<Table> {
    let mut rng = TestRng(seed);
    let cols: Vec<Col> = (1..=max_p)
        .flat_map(|p| (0..=p.min(max_s)).map(move |s| Col { p, s }))
        .collect();
    let rounds = rounds();
    cols.chunks(COLUMNS_PER_TABLE)
        .enumerate()
        .map(|(t, cols)| {
            let edges: Vec<Vec<String>> = cols.iter().map(|c| edge_values(*c)).collect();
            let n_edge = edges.iter().map(Vec::len).max().unwrap_or(0);
            let mut rows = vec![];
            for r in 0..n_edge {
                // A column with fewer edges repeats its first one.
                rows.push(
                    edges
                        .iter()
                        .map(|e| e.get(r).unwrap_or(&e[0]).clone())
                        .collect(),
                );
            }
            for _ in 0..rounds {
                rows.push(cols.iter().map(|c| random_value(*c, &mut rng)).collect());
            }
            // Shuffle rows a little so that ids do not follow the edges' order.
            if rng.coin() {
                rows.reverse();
            }
            Table {
                name: format!("{prefix}{t}"),
                cols: cols.to_vec(),
                rows,
            }
        })
        .collect()
}

fn ddl(t: &Table, decimal: &str) -> String {
    let cols: Vec<String> = t
        .cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("c{i} {decimal}({},{})", c.p, c.s))
        .collect();
    format!(
        "CREATE TABLE {} (id int PRIMARY KEY, {});",
        t.name,
        cols.join(", ")
    )
}

fn inserts(t: &Table) -> String {
    let rows: Vec<String> = t
        .rows
        .iter()
        .enumerate()
        .map(|(id, r)| format!("({id}, {})", r.join(", ")))
        .collect();
    format!("INSERT INTO {} VALUES {};", t.name, rows.join(", "))
}

/// The values of `t` as an Arrow batch (id, then one decimal column each).
fn batch(t: &Table) -> RecordBatch {
    let mut fields = vec![Field::new("id", DataType::Int32, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int32Array::from_iter_values(
        0..t.rows.len() as i32,
    ))];
    for (i, c) in t.cols.iter().enumerate() {
        fields.push(Field::new(format!("c{i}"), c.arrow_type(), true));
        let digits = t.rows.iter().map(|r| r[i].replace('.', ""));
        arrays.push(if c.p <= 38 {
            Arc::new(
                Decimal128Array::from_iter_values(digits.map(|d| d.parse::<i128>().unwrap()))
                    .with_precision_and_scale(c.p, c.s as i8)
                    .unwrap(),
            )
        } else {
            Arc::new(
                Decimal256Array::from_iter_values(digits.map(|d| i256::from_string(&d).unwrap()))
                    .with_precision_and_scale(c.p, c.s as i8)
                    .unwrap(),
            )
        });
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

/// The values of `t` as statement parameters (decimals of up to 38 digits as
/// [`Value::Decimal`], wider ones as text).
fn params(t: &Table) -> Vec<Vec<Value>> {
    t.rows
        .iter()
        .enumerate()
        .map(|(id, r)| {
            let mut row = vec![Value::Int(id as i64)];
            for (c, v) in t.cols.iter().zip(r) {
                row.push(if c.p <= 38 {
                    Value::Decimal {
                        value: v.replace('.', "").parse().unwrap(),
                        scale: c.s as i8,
                    }
                } else {
                    Value::Text(v.clone())
                });
            }
            row
        })
        .collect()
}

/// Compares rows (`id|c0|c1…`, as printed) with what the table was filled with.
fn check(what: &str, seed: u64, t: &Table, got: &[String]) {
    assert_eq!(
        got.len(),
        t.rows.len(),
        "{what} {}: row count (seed {seed})",
        t.name
    );
    for (id, (row, want)) in got.iter().zip(&t.rows).enumerate() {
        let cells: Vec<&str> = row.split('|').collect();
        assert_eq!(cells[0], id.to_string(), "{what} {}: ids", t.name);
        for (i, (c, w)) in t.cols.iter().zip(want).enumerate() {
            assert_eq!(
                cells[i + 1],
                w,
                "{what} {}.c{i} decimal({},{}) row {id} (seed {seed})",
                t.name,
                c.p,
                c.s
            );
        }
    }
}

/// Rows as PostgreSQL prints them (the simple query protocol returns its text form).
async fn pg_text(client: &tokio_postgres::Client, table: &str) -> Vec<String> {
    let msgs = client
        .simple_query(&format!("SELECT * FROM {table} ORDER BY id"))
        .await
        .unwrap();
    msgs.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

/// Reads every table through the engine with `reader` and compares with the inserted values.
async fn read_all(url: &str, reader: &str, seed: u64, tables: &[Table]) {
    let e = Engine::new();
    e.register_source("src", &format!("{url}&reader={reader}"))
        .await
        .unwrap();
    for t in tables {
        let got = query(&e, &format!("SELECT * FROM src.{} ORDER BY id", t.name)).await;
        check(&format!("read with {reader}"), seed, t, &got);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_numeric_edges_read_exactly() {
    let seed = seed();
    let ns = PgNamespace::new("decimal_read").await;
    let tables = tables("n", 76, 76, seed);
    for t in &tables {
        ns.exec(&format!("{}{}", ddl(t, "numeric"), inserts(t)))
            .await;
        // The server holds exactly the generated values.
        check("server", seed, t, &pg_text(&ns.client, &t.name).await);
    }
    let url = ns.url("");
    for reader in ["native", "connectorx"] {
        read_all(&url, reader, seed, &tables).await;
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unconstrained_numeric_reads_exactly_or_refuses() {
    let ns = PgNamespace::new("decimal_unconstrained").await;
    // Unconstrained numeric reads as Decimal128(38,10): what fits comes back digit for digit.
    let fits = [
        ("0", "0.0000000000"),
        ("1", "1.0000000000"),
        ("-1", "-1.0000000000"),
        ("0.0000000001", "0.0000000001"),
        ("-0.0000000001", "-0.0000000001"),
        ("12.5", "12.5000000000"),
        (
            "1234567890123456789012345678.1234567890",
            "1234567890123456789012345678.1234567890",
        ),
        (
            "-9999999999999999999999999999.9999999999",
            "-9999999999999999999999999999.9999999999",
        ),
        (
            "1000000000000000000000000000",
            "1000000000000000000000000000.0000000000",
        ),
    ];
    let values: Vec<String> = fits
        .iter()
        .enumerate()
        .map(|(i, (v, _))| format!("({i}, {v})"))
        .collect();
    ns.exec(&format!(
        "CREATE TABLE u (id int, n numeric); INSERT INTO u VALUES {}; \
         CREATE TABLE r (n numeric); INSERT INTO r VALUES (0.00000000001); \
         CREATE TABLE w (n numeric); INSERT INTO w VALUES (1e30);",
        values.join(", ")
    ))
    .await;
    let want: Vec<String> = fits.iter().map(|(_, w)| w.to_string()).collect();
    for reader in ["native", "connectorx"] {
        let e = engine(&ns, Engine::builder(), &format!("reader={reader}")).await;
        let got = query(&e, "SELECT n FROM src.u ORDER BY id").await;
        assert_eq!(got, want, "{reader}");
        // More fraction digits than the scale, or more integer digits than fit: an error
        // that says so, never a rounded or truncated value.
        let err = e
            .sql_collect("SELECT n FROM src.r")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("would round") || err.contains("does not fit"),
            "{reader}: {err}"
        );
        let err = e
            .sql_collect("SELECT n FROM src.w")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit"), "{reader}: {err}");
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_numeric_edges_write_exactly() {
    let seed = seed();
    let ns = PgNamespace::new("decimal_write").await;
    let tables = tables("w", 76, 76, seed);
    let db = connect(&ns.url("")).await.unwrap();
    for t in &tables {
        // Binary COPY.
        ns.exec(&ddl(t, "numeric")).await;
        let b = batch(t);
        let n = db
            .bulk_insert(
                &TableName::new(&ns.schema, &t.name),
                stream_of_batches(b.schema(), vec![b]),
                &BulkOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("COPY into {}: {e} (seed {seed})", t.name));
        assert_eq!(n as usize, t.rows.len());
        check("binary COPY", seed, t, &pg_text(&ns.client, &t.name).await);
        // Prepared INSERT with bound parameters.
        ns.exec(&format!("TRUNCATE {}", t.name)).await;
        let marks: Vec<String> = (1..=t.cols.len() + 1).map(|i| format!("${i}")).collect();
        db.execute_many(
            &format!(
                "INSERT INTO {}.{} VALUES ({})",
                ns.schema,
                t.name,
                marks.join(", ")
            ),
            &params(t),
        )
        .await
        .unwrap_or_else(|e| panic!("INSERT into {}: {e} (seed {seed})", t.name));
        check("INSERT", seed, t, &pg_text(&ns.client, &t.name).await);
    }
    ns.cleanup().await;
}

/// Rows as MariaDB prints them (its text protocol).
fn my_text(ns: &MySqlNamespace, table: &str) -> Vec<String> {
    ns.text_rows(&format!("SELECT * FROM {table} ORDER BY id"))
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_decimal_edges_read_exactly() {
    let seed = seed();
    let ns = MySqlNamespace::new("decimal_read");
    let tables = tables("d", 65, 30, seed);
    for t in &tables {
        ns.exec(&format!("{}{}", ddl(t, "DECIMAL"), inserts(t)))
            .await;
        check("server", seed, t, &my_text(&ns, &t.name));
    }
    let url = ns.url("");
    for reader in ["native", "connectorx"] {
        read_all(&url, reader, seed, &tables).await;
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_decimal_edges_write_exactly() {
    let seed = seed();
    let ns = MySqlNamespace::new("decimal_write");
    let tables = tables("w", 65, 30, seed);
    let db = connect(&ns.url("")).await.unwrap();
    for t in &tables {
        ns.exec(&ddl(t, "DECIMAL")).await;
        // LOAD DATA LOCAL INFILE, then multi-row prepared INSERTs.
        for (what, row_inserts) in [("LOAD DATA", false), ("INSERT", true)] {
            ns.exec(&format!("TRUNCATE TABLE {}", t.name)).await;
            let b = batch(t);
            let n = db
                .bulk_insert(
                    &TableName::new(&ns.database, &t.name),
                    stream_of_batches(b.schema(), vec![b]),
                    &BulkOptions {
                        row_inserts,
                        ..Default::default()
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{what} into {}: {e} (seed {seed})", t.name));
            assert_eq!(n as usize, t.rows.len());
            check(what, seed, t, &my_text(&ns, &t.name));
        }
        // Statement parameters.
        ns.exec(&format!("TRUNCATE TABLE {}", t.name)).await;
        let marks = vec!["?"; t.cols.len() + 1].join(", ");
        db.execute_many(
            &format!("INSERT INTO {}.{} VALUES ({marks})", ns.database, t.name),
            &params(t),
        )
        .await
        .unwrap_or_else(|e| panic!("parameters into {}: {e} (seed {seed})", t.name));
        check("parameters", seed, t, &my_text(&ns, &t.name));
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_decimals_compare_with_exact_literals() {
    use datafusion::prelude::{col, lit};
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("amount", DataType::Decimal128(12, 2), true),
        Field::new("f", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1, 2, 3])),
            Arc::new(
                Decimal128Array::from(vec![Some(9_999_999), Some(123_456_789_012), None])
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
            Arc::new(arrow::array::Float64Array::from(vec![0.1, 0.3, 2.5])),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.path().join("orders.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let e = Engine::new();
    e.register_source("files", &format!("file://{}/", dir.path().display()))
        .await
        .unwrap();
    for (sql, want) in [
        (
            "SELECT id FROM files.orders WHERE amount = 99999.99",
            vec!["1"],
        ),
        (
            "SELECT id FROM files.orders WHERE amount >= 99999.99 ORDER BY id",
            vec!["1", "2"],
        ),
        (
            "SELECT id FROM files.orders WHERE amount = 1234567890.12",
            vec!["2"],
        ),
        (
            "SELECT id FROM files.orders WHERE amount = CAST(99999.99 AS DOUBLE)",
            vec!["1"],
        ),
        // A float column compared with a decimal literal compares as floats.
        ("SELECT id FROM files.orders WHERE f = 0.1", vec!["1"]),
        (
            "SELECT id FROM files.orders WHERE f IN (0.3, 2.5) ORDER BY id",
            vec!["2", "3"],
        ),
        (
            "SELECT id FROM files.orders WHERE f BETWEEN 0.1 AND 0.3 ORDER BY id",
            vec!["1", "2"],
        ),
        ("SELECT 0.1 + 0.2 = 0.3", vec!["true"]),
    ] {
        assert_eq!(query(&e, sql).await, want, "{sql}");
    }
    let got = rows(
        &e.from("files.orders")
            .await
            .filter(col("amount").eq(lit(99999.99)))
            .select([col("id")])
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(got, vec!["1"]);
}
