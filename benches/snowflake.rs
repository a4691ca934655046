//! Snowflake against the fakesnow emulator, every contender in one run:
//!
//! ```text
//! bash scripts/bench-snowflake.sh [--rows 1000000] [--runs 3] [--row-inserts 500]
//! ```
//!
//! (the script starts fakesnow and finds the ADBC driver, then runs
//! `cargo bench --bench snowflake`). Contenders:
//!
//! - read: (a) the engine, `SELECT * FROM sf.vp_bench.r` streamed to the end, vs (b) the Python
//!   connector's `cursor.fetch_arrow_all()` (`snowflake-connector-python[pandas]`, in a venv the
//!   script makes);
//! - load: (c) `Connector::bulk_insert` (Parquet, `PUT`, `COPY INTO`) of the same rows into a new
//!   table, vs (d) ADBC `executemany` (the Python ADBC driver, one request per row), run on
//!   `--row-inserts` rows and reported as rows per second (at the measured rate, `--rows` rows
//!   would take hours).
//!
//! Both reads start their clocks logged in (the engine after a first query has read the
//! table's catalog). The emulator runs on the same machine: the figures compare clients, not
//! Snowflake.

use std::time::Instant;

use futures::StreamExt;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::snowflake::SnowflakeConnector;
use vibe_piper::connector::{BulkOptions, Executor, TableName};
use vibe_piper::Engine;

mod common;
use common::{arg, batches, median, python_seconds};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `bash scripts/bench-snowflake.sh`, which starts fakesnow")
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows").map_or(1_000_000, |v| v.parse().unwrap());
    let runs: usize = arg(&args, "--runs").map_or(3, |v| v.parse().unwrap());
    let row_inserts: usize = arg(&args, "--row-inserts").map_or(500, |v| v.parse().unwrap());
    let base = env("VP_SNOWFLAKE_URL");
    let port = env("VP_FAKESNOW_PORT");
    let url = base.replace("/VP_TEST/PUBLIC", "/VP_TEST/VP_BENCH");
    let setup = SnowflakeConnector::connect(&base).await.unwrap();
    setup
        .execute("CREATE SCHEMA IF NOT EXISTS VP_BENCH", &[])
        .await
        .unwrap();
    let conn = SnowflakeConnector::connect(&url).await.unwrap();
    conn.execute("DROP TABLE IF EXISTS R", &[]).await.unwrap();
    let started = Instant::now();
    conn.bulk_insert(
        &TableName::new("VP_BENCH", "R"),
        stream_of_batches(batches(rows)[0].schema(), batches(rows)),
        &BulkOptions {
            create_if_missing: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    eprintln!(
        "loaded {rows} rows into VP_BENCH.R in {:.2?}",
        started.elapsed()
    );

    // (a) the engine reads the table to the end.
    let mut engine_s = vec![];
    for _ in 0..runs {
        let e = Engine::builder().build();
        e.register_source("sf", &url).await.unwrap();
        // Logged in and the table's catalog read, as the Python side is connected before its
        // clock starts.
        e.sql_collect("SELECT count(*) FROM sf.vp_bench.r WHERE id < 0")
            .await
            .unwrap();
        let started = Instant::now();
        let mut stream = e
            .sql("SELECT * FROM sf.vp_bench.r")
            .await
            .unwrap()
            .execute_stream()
            .await
            .unwrap();
        let mut n = 0;
        while let Some(b) = stream.next().await {
            n += b.unwrap().num_rows();
        }
        assert_eq!(n, rows);
        engine_s.push(started.elapsed().as_secs_f64());
    }
    // (b) the Python connector's fetch_arrow_all.
    let py_read = format!(
        "import time, snowflake.connector as sc\n\
         c = sc.connect(account='fakesnow', user='test', password='test', host='127.0.0.1', \
         port={port}, protocol='http', database='VP_TEST', schema='VP_BENCH')\n\
         t = time.perf_counter()\n\
         tbl = c.cursor().execute('SELECT * FROM R').fetch_arrow_all()\n\
         assert tbl.num_rows == {rows}, tbl.num_rows\n\
         print(time.perf_counter() - t)"
    );
    let mut python_s = vec![];
    for _ in 0..runs {
        python_s.push(python_seconds("sf-connector", &py_read));
    }

    // (c) bulk_insert: Parquet, PUT, COPY INTO.
    let mut load_s = vec![];
    for _ in 0..runs {
        conn.execute("DROP TABLE IF EXISTS L", &[]).await.unwrap();
        let data = batches(rows);
        let started = Instant::now();
        let n = conn
            .bulk_insert(
                &TableName::new("VP_BENCH", "L"),
                stream_of_batches(data[0].schema(), data),
                &BulkOptions {
                    create_if_missing: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        load_s.push(started.elapsed().as_secs_f64());
        assert_eq!(n as usize, rows);
    }
    // (d) ADBC executemany, one request per row.
    conn.execute(
        "CREATE OR REPLACE TABLE M (id NUMBER(19,0), v FLOAT, label VARCHAR)",
        &[],
    )
    .await
    .unwrap();
    let py_many = format!(
        "import time, adbc_driver_snowflake.dbapi as d\n\
         c = d.connect(db_kwargs={{'adbc.snowflake.sql.account': 'fakesnow', \
         'adbc.snowflake.sql.uri.protocol': 'http', 'adbc.snowflake.sql.uri.host': '127.0.0.1', \
         'adbc.snowflake.sql.uri.port': '{port}', 'adbc.snowflake.sql.db': 'VP_TEST', \
         'adbc.snowflake.sql.schema': 'VP_BENCH', 'username': 'test', 'password': 'test'}}, \
         autocommit=True)\n\
         rows = [(i, i * 1.5, 'row %d' % i) for i in range({row_inserts})]\n\
         cur = c.cursor()\n\
         t = time.perf_counter()\n\
         cur.executemany('INSERT INTO M VALUES (?, ?, ?)', rows)\n\
         print(time.perf_counter() - t)"
    );
    let many_s = python_seconds("adbc-snowflake", &py_many);
    let many_rate = row_inserts as f64 / many_s;

    let (a, b, c) = (
        median(&mut engine_s),
        median(&mut python_s),
        median(&mut load_s),
    );
    println!("rows: {rows}, runs: {runs} (medians)\n");
    println!("| contender | s | rows/s | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| (a) engine `SELECT *`, streamed | {a:.2} | {:.0} | {:.2} × (b) |",
        rows as f64 / a,
        a / b
    );
    println!(
        "| (b) Python connector `fetch_arrow_all` | {b:.2} | {:.0} | 1.00 |",
        rows as f64 / b
    );
    println!(
        "| (c) `bulk_insert` (Parquet + PUT + COPY INTO) | {c:.2} | {:.0} | {:.0} × (d)'s rate |",
        rows as f64 / c,
        (rows as f64 / c) / many_rate
    );
    println!(
        "| (d) ADBC `executemany`, {row_inserts} rows | {many_s:.2} | {many_rate:.0} | 1.00 |"
    );
}
