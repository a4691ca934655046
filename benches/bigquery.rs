//! BigQuery against the bqemulator emulator, every contender in one run:
//!
//! ```text
//! bash scripts/bench-bigquery.sh [--rows 1000000] [--runs 3] [--rest-rows 100000] [--json-rows 20000]
//! ```
//!
//! (the script starts the emulator as the tests do, makes the Python client's venv, then runs
//! `cargo bench --bench bigquery`). Contenders:
//!
//! - read a `--rows` table: (a) the engine, `SELECT * FROM bq.ds.r` streamed to the end with 1
//!   and (b) 4 partitions (read-session streams); (c) the Python client's
//!   `list_rows(...).to_arrow(bqstorage_client=...)` (Storage Read API); (d) REST paging, the
//!   Python client's `list_rows(...).to_arrow()` without a Storage client (`tabledata.list`),
//!   and (e) the connector's `query` (`jobs.getQueryResults` pages), both on `--rest-rows` rows
//!   and compared by rate;
//! - load: (f) `Connector::bulk_insert` (Storage Write API, PENDING stream, Arrow) of `--rows`
//!   rows into a new table, vs (g) the Python client's `insert_rows_json` on `--json-rows` rows,
//!   compared by rate.
//!
//! The emulator runs on the same two cores: the figures compare clients against one local
//! server, not BigQuery.

use std::time::Instant;

use futures::StreamExt;
use vibe_piper::connector::bigquery::BigQueryConnector;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{BulkOptions, Executor, TableName};
use vibe_piper::Engine;

mod common;
use common::{arg, batches, median, python_seconds};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `bash scripts/bench-bigquery.sh`, which starts bqemulator")
    })
}

async fn load(conn: &BigQueryConnector, table: &str, rows: usize) -> f64 {
    let name = TableName::new("vp_bench", table);
    conn.drop_table(&name).await.unwrap();
    let data = batches(rows);
    let started = Instant::now();
    let n = conn
        .bulk_insert(
            &name,
            stream_of_batches(data[0].schema(), data),
            &BulkOptions {
                create_if_missing: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(n as usize, rows);
    started.elapsed().as_secs_f64()
}

async fn engine_read(url: &str, partitions: usize, table: &str, rows: usize) -> f64 {
    let e = Engine::builder().target_partitions(partitions).build();
    e.register_source("bq", url).await.unwrap();
    // The catalog read, as the Python client is made before its clock starts.
    e.sql_collect(&format!("SELECT * FROM bq.vp_bench.{table} LIMIT 1"))
        .await
        .unwrap();
    let started = Instant::now();
    let mut stream = e
        .sql(&format!("SELECT * FROM bq.vp_bench.{table}"))
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
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows").map_or(1_000_000, |v| v.parse().unwrap());
    let runs: usize = arg(&args, "--runs").map_or(3, |v| v.parse().unwrap());
    let rest_rows: usize = arg(&args, "--rest-rows").map_or(100_000, |v| v.parse().unwrap());
    let json_rows: usize = arg(&args, "--json-rows").map_or(20_000, |v| v.parse().unwrap());
    let rest = env("VP_BQ_REST_PORT");
    let grpc = env("VP_BQ_GRPC_PORT");
    let url = format!(
        "bigquery://test-project/vp_bench?endpoint=http://127.0.0.1:{rest}&grpc_endpoint=http://127.0.0.1:{grpc}"
    );
    let setup = BigQueryConnector::connect(&env("VP_BIGQUERY_URL"))
        .await
        .unwrap();
    setup
        .execute("DROP SCHEMA IF EXISTS vp_bench CASCADE", &[])
        .await
        .unwrap();
    setup.execute("CREATE SCHEMA vp_bench", &[]).await.unwrap();
    let conn = BigQueryConnector::connect(&url).await.unwrap();
    let loaded = load(&conn, "r", rows).await;
    eprintln!("loaded {rows} rows into vp_bench.r in {loaded:.2} s");
    load(&conn, "small", rest_rows).await;

    let client = format!(
        "import time, grpc\n\
         from google.api_core.client_options import ClientOptions\n\
         from google.auth.credentials import AnonymousCredentials\n\
         from google.cloud import bigquery, bigquery_storage_v1 as bqs\n\
         from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport\n\
         c = bigquery.Client(project='test-project', credentials=AnonymousCredentials(), \
         client_options=ClientOptions(api_endpoint='http://127.0.0.1:{rest}'))\n\
         s = bqs.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=grpc.insecure_channel(\
         '127.0.0.1:{grpc}', options=[('grpc.max_receive_message_length', -1)])))\n\
         t0 = c.get_table('test-project.vp_bench.r')\n"
    );
    let mut a = vec![];
    let mut b = vec![];
    let mut c = vec![];
    for run in 0..runs {
        eprintln!("run {run}: (a) engine, 1 partition");
        a.push(engine_read(&url, 1, "r", rows).await);
        eprintln!("run {run}: (b) engine, 4 partitions");
        b.push(engine_read(&url, 4, "r", rows).await);
        eprintln!("run {run}: (c) Python, Storage Read API");
        c.push(python_seconds(
            "bq-client",
            &format!(
                "{client}t = time.perf_counter()\n\
             tbl = c.list_rows(t0).to_arrow(bqstorage_client=s)\n\
             assert tbl.num_rows == {rows}, tbl.num_rows\n\
             print(time.perf_counter() - t)"
            ),
        ));
    }
    // REST paging, on fewer rows.
    eprintln!("(d) Python, REST pages");
    let d = python_seconds(
        "bq-client",
        &format!(
            "{client}small = c.get_table('test-project.vp_bench.small')\n\
         t = time.perf_counter()\n\
         tbl = c.list_rows(small, page_size=20000).to_arrow(create_bqstorage_client=False)\n\
         assert tbl.num_rows == {rest_rows}, tbl.num_rows\n\
         print(time.perf_counter() - t)"
        ),
    );
    eprintln!("(e) connector, REST pages");
    let started = Instant::now();
    let mut stream = conn
        .query("SELECT * FROM vp_bench.small", &[])
        .await
        .unwrap();
    let mut n = 0;
    while let Some(batch) = stream.next().await {
        n += batch.unwrap().num_rows();
    }
    assert_eq!(n, rest_rows);
    let e = started.elapsed().as_secs_f64();
    drop(stream);

    // Loads.
    eprintln!("(f) loads; (g) insert_rows_json");
    let mut f = vec![];
    for _ in 0..runs {
        f.push(load(&conn, "l", rows).await);
    }
    let g = python_seconds(
        "bq-client",
        &format!(
            "{client}c.delete_table('test-project.vp_bench.j', not_found_ok=True)\n\
         tj = c.create_table(bigquery.Table('test-project.vp_bench.j', schema=[\
         bigquery.SchemaField('id', 'INT64'), bigquery.SchemaField('v', 'FLOAT64'), \
         bigquery.SchemaField('label', 'STRING')]))\n\
         rows = [{{'id': i, 'v': i * 1.5, 'label': 'row %d' % i}} for i in range({json_rows})]\n\
         t = time.perf_counter()\n\
         for k in range(0, len(rows), 500):\n    \
             errors = c.insert_rows_json(tj, rows[k:k + 500], retry=None)\n    \
             assert not errors, errors[:3]\n\
         print(time.perf_counter() - t)"
        ),
    );

    let (a, b, c, f) = (
        median(&mut a),
        median(&mut b),
        median(&mut c),
        median(&mut f),
    );
    let rate = |n: usize, s: f64| n as f64 / s;
    println!("rows: {rows}, runs: {runs} (medians); REST paging on {rest_rows} rows, insert_rows_json on {json_rows}\n");
    println!("| contender | s | rows/s | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| (a) engine `SELECT *`, 1 partition (1 stream) | {a:.2} | {:.0} | {:.2} × (c) |",
        rate(rows, a),
        a / c
    );
    println!(
        "| (b) engine `SELECT *`, 4 partitions (4 streams) | {b:.2} | {:.0} | {:.2} × (c) |",
        rate(rows, b),
        b / c
    );
    println!(
        "| (c) Python `list_rows().to_arrow(bqstorage_client=...)` | {c:.2} | {:.0} | 1.00 |",
        rate(rows, c)
    );
    println!(
        "| (d) Python `list_rows().to_arrow()`, REST pages, {rest_rows} rows | {d:.2} | {:.0} | (c) is {:.1} × its rate |",
        rate(rest_rows, d),
        rate(rows, c) / rate(rest_rows, d)
    );
    println!(
        "| (e) connector `query`, REST pages, {rest_rows} rows | {e:.2} | {:.0} | (b) is {:.1} × its rate |",
        rate(rest_rows, e),
        rate(rows, b) / rate(rest_rows, e)
    );
    println!(
        "| (f) `bulk_insert` (Storage Write API, Arrow) | {f:.2} | {:.0} | {:.0} × (g)'s rate |",
        rate(rows, f),
        rate(rows, f) / rate(json_rows, g)
    );
    println!(
        "| (g) Python `insert_rows_json`, {json_rows} rows in 500s | {g:.2} | {:.0} | 1.00 |",
        rate(json_rows, g)
    );
}
