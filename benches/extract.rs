//! Bulk extraction of TPC-H `lineitem` from PostgreSQL into Arrow, every contender in one run.
//!
//! ```text
//! cargo bench --bench extract -- [--source postgres|mysql] [--scale 1] [--runs 3] [--phases c,d]
//! ```
//!
//! Each measurement runs in a fresh child process (this binary with `--phase`), so peak memory
//! (max RSS) and CPU seconds belong to that phase alone. Contenders:
//! (a) the floor: `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, bytes read and discarded;
//! (b) ConnectorX called directly (its streaming record-batch iterator, one query);
//! (c) `SELECT * FROM pg.lineitem` through the engine, 1 partition;
//! (d) the same with 2 partitions;
//! (e) a selective query: `l_shipdate >= '1998-09-01'`, two columns;
//! (f) as (d) with a consumer slower than the source, to show that memory stays bounded;
//! (g), (h) as (c), (d) with the engine reading through ConnectorX (`reader=connectorx`) instead
//! of its own reader (binary COPY for PostgreSQL, the binary result protocol for MySQL).
//!
//! For `--source mysql` (MariaDB or MySQL, `VP_MYSQL_URL`, default the local server) the floor
//! is the `mariadb --quick` client writing the result to /dev/null, and (e) is left out.
//!
//! PostgreSQL is found through `VP_POSTGRES_URL` (default the local server); the data is
//! generated with `tpchgen` and loaded once into schema (database) `vp_bench`, kept between runs.

use std::time::Instant;

use futures::StreamExt;
use vibe_piper::Engine;

mod common;
use common::lineitem::{copy_binary_floor, ensure_data, table_name, url, SCHEMA};
use common::{arg, median, rusage};

fn mysql_url() -> String {
    format!(
        "{}/{SCHEMA}",
        std::env::var("VP_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
    )
}

fn mysql_cli_args() -> Vec<String> {
    let u = url::Url::parse(&mysql_url()).expect("mysql URL");
    let mut args = vec![
        // TCP even for `localhost` (which the client would take as the Unix socket).
        "--protocol=TCP".to_string(),
        format!("--host={}", u.host_str().unwrap_or("127.0.0.1")),
        format!("--port={}", u.port().unwrap_or(3306)),
        format!(
            "--user={}",
            if u.username().is_empty() {
                "root"
            } else {
                u.username()
            }
        ),
    ];
    if let Some(p) = u.password() {
        let p = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
        args.push(format!("--password={p}"));
    }
    args
}

fn mysql_cli(sql: &str) -> String {
    let out = std::process::Command::new("mariadb")
        .args(mysql_cli_args())
        .args(["--local-infile=1", "-B", "-N", "-e", sql])
        .output()
        .expect("the mariadb client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Loads lineitem into MariaDB/MySQL unless it already holds the expected rows.
fn ensure_mysql_data(scale: f64) {
    let table = table_name(scale);
    let expected = tpchgen::generators::LineItemGenerator::new(scale, 1, 1)
        .iter()
        .count();
    mysql_cli(&format!("CREATE DATABASE IF NOT EXISTS {SCHEMA}"));
    let have = std::process::Command::new("mariadb")
        .args(mysql_cli_args())
        .args([
            "-B",
            "-N",
            "-e",
            &format!("SELECT count(*) FROM {SCHEMA}.{table}"),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<usize>()
                .ok()
        });
    if have == Some(expected) {
        return;
    }
    eprintln!("loading {expected} lineitem rows (scale {scale}) into MySQL {SCHEMA}.{table} ...");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lineitem.tbl");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for row in tpchgen::generators::LineItemGenerator::new(scale, 1, 1).iter() {
            writeln!(f, "{row}").unwrap();
        }
    }
    mysql_cli(&format!(
        "DROP TABLE IF EXISTS {SCHEMA}.{table};
         CREATE TABLE {SCHEMA}.{table} (
           l_orderkey BIGINT NOT NULL, l_partkey BIGINT NOT NULL, l_suppkey BIGINT NOT NULL,
           l_linenumber INT NOT NULL, l_quantity DECIMAL(15,2) NOT NULL,
           l_extendedprice DECIMAL(15,2) NOT NULL, l_discount DECIMAL(15,2) NOT NULL,
           l_tax DECIMAL(15,2) NOT NULL, l_returnflag CHAR(1) NOT NULL, l_linestatus CHAR(1) NOT NULL,
           l_shipdate DATE NOT NULL, l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL,
           l_shipinstruct CHAR(25) NOT NULL, l_shipmode CHAR(10) NOT NULL, l_comment VARCHAR(44) NOT NULL,
           PRIMARY KEY (l_orderkey, l_linenumber)) ENGINE=InnoDB;
         LOAD DATA LOCAL INFILE '{}' INTO TABLE {SCHEMA}.{table} FIELDS TERMINATED BY '|' LINES TERMINATED BY '|\\n';
         ANALYZE TABLE {SCHEMA}.{table};",
        path.display()
    ));
}

/// What one phase reports.
struct Report {
    rows: u64,
    bytes: u64,
    wait_s: f64,
    convert_s: f64,
    wire_bytes: u64,
    decode_s: f64,
}

async fn run_phase(source: &str, phase: &str, scale: f64) -> Report {
    let table = table_name(scale);
    let select_all = format!("SELECT * FROM {SCHEMA}.{table}");
    let mysql = source == "mysql";
    match phase {
        "a" if mysql => {
            let out = std::process::Command::new("mariadb")
                .args(mysql_cli_args())
                .args(["--quick", "-B", "-N", "-e", &select_all])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("the mariadb client");
            assert!(out.success());
            Report {
                rows: 0,
                bytes: 0,
                wait_s: 0.0,
                convert_s: 0.0,
                wire_bytes: 0,
                decode_s: 0.0,
            }
        }
        "a" => {
            let bytes = copy_binary_floor(&select_all).await;
            Report {
                rows: 0,
                bytes: 0,
                wait_s: 0.0,
                convert_s: 0.0,
                wire_bytes: bytes,
                decode_s: 0.0,
            }
        }
        "b" => {
            let u = if mysql { mysql_url() } else { url() };
            tokio::task::spawn_blocking(move || {
                let conn = connectorx::prelude::parse_source(&u, Some("binary")).unwrap();
                let q = [connectorx::sql::CXQuery::naked(select_all)];
                let mut it =
                    connectorx::prelude::new_record_batch_iter(&conn, None, &q, 8192, None)
                        .unwrap();
                it.prepare();
                let (mut rows, mut bytes) = (0u64, 0u64);
                while let Some(b) = it.next_batch() {
                    rows += b.num_rows() as u64;
                    bytes += b.get_array_memory_size() as u64;
                }
                Report {
                    rows,
                    bytes,
                    wait_s: 0.0,
                    convert_s: 0.0,
                    wire_bytes: 0,
                    decode_s: 0.0,
                }
            })
            .await
            .unwrap()
        }
        "c" | "d" | "e" | "f" | "g" | "h" => {
            let partitions = if matches!(phase, "d" | "f" | "h") {
                2
            } else {
                1
            };
            let engine = Engine::builder().target_partitions(partitions).build();
            // Extra source options for experiments, e.g. VP_BENCH_OPTIONS=chunk_pages=16384.
            let mut extra = std::env::var("VP_BENCH_OPTIONS")
                .map(|o| format!("&{o}"))
                .unwrap_or_default();
            if matches!(phase, "g" | "h") {
                // The engine reading through ConnectorX instead of its own reader.
                extra.push_str("&reader=connectorx");
            }
            let source_url = if mysql {
                format!("{}?partition=key{extra}", mysql_url())
            } else {
                format!("{}?schema={SCHEMA}{extra}", url())
            };
            engine.register_source("pg", &source_url).await.unwrap();
            let sql = if phase == "e" {
                format!("SELECT l_orderkey, l_extendedprice FROM pg.{table} WHERE l_shipdate >= DATE '1998-09-01'")
            } else {
                format!("SELECT * FROM pg.{table}")
            };
            let df = engine.sql(&sql).await.unwrap();
            let plan = df.create_physical_plan().await.unwrap();
            let ctx = engine.context().task_ctx();
            let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx).unwrap();
            let mut rows = 0u64;
            while let Some(b) = stream.next().await {
                rows += b.unwrap().num_rows() as u64;
                if phase == "f" {
                    // A consumer slower than the source: memory must stay bounded anyway.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            let mut report = Report {
                rows,
                bytes: 0,
                wait_s: 0.0,
                convert_s: 0.0,
                wire_bytes: 0,
                decode_s: 0.0,
            };
            collect_metrics(plan.as_ref(), &mut report);
            report
        }
        other => panic!("unknown phase {other}"),
    }
}

fn collect_metrics(plan: &dyn datafusion::physical_plan::ExecutionPlan, r: &mut Report) {
    if plan.name() == "RemoteScanExec" {
        if let Some(m) = plan.metrics() {
            let m = m.aggregate_by_name();
            for metric in m.iter() {
                let v = metric.value();
                match v.name() {
                    "arrow_bytes" => r.bytes += v.as_usize() as u64,
                    "source_wait_time" => r.wait_s += v.as_usize() as f64 / 1e9,
                    "convert_time" => r.convert_s += v.as_usize() as f64 / 1e9,
                    "source_bytes" => r.wire_bytes += v.as_usize() as u64,
                    "decode_time" => r.decode_s += v.as_usize() as f64 / 1e9,
                    _ => {}
                }
            }
        }
    }
    for child in plan.children() {
        collect_metrics(child.as_ref(), r);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = arg(&args, "--scale")
        .map(|s| s.parse().expect("--scale F"))
        .unwrap_or(1.0);
    let runs: usize = arg(&args, "--runs")
        .map(|s| s.parse().expect("--runs N"))
        .unwrap_or(3);
    let source = arg(&args, "--source").unwrap_or_else(|| "postgres".into());
    assert!(
        source == "postgres" || source == "mysql",
        "--source postgres|mysql"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(phase) = arg(&args, "--phase") {
        let (cpu0, _) = rusage();
        let start = Instant::now();
        let r = rt.block_on(run_phase(&source, &phase, scale));
        let wall = start.elapsed().as_secs_f64();
        let (cpu1, rss) = rusage();
        println!(
            "{wall} {} {rss} {} {} {} {} {} {}",
            cpu1 - cpu0,
            r.rows,
            r.bytes,
            r.wait_s,
            r.convert_s,
            r.wire_bytes,
            r.decode_s
        );
        return;
    }
    if source == "mysql" {
        ensure_mysql_data(scale);
    } else {
        rt.block_on(ensure_data(scale));
    }
    let exe = std::env::current_exe().unwrap();
    let floor_name = if source == "mysql" {
        "mariadb --quick > /dev/null floor"
    } else {
        "COPY binary floor"
    };
    let mut names = vec![
        ("a", floor_name),
        ("b", "ConnectorX direct"),
        ("c", "engine, 1 partition"),
        ("d", "engine, 2 partitions"),
        ("e", "engine, selective (2 cols, shipdate >= 1998-09-01)"),
        ("f", "engine, 2 partitions, slow consumer (20 ms per batch)"),
        ("g", "engine via ConnectorX reader, 1 partition"),
        ("h", "engine via ConnectorX reader, 2 partitions"),
    ];
    if source == "mysql" {
        names.retain(|(p, _)| *p != "e");
    }
    // `--phases c,d` runs only those contenders after the floor and ConnectorX.
    if let Some(only) = arg(&args, "--phases") {
        names.retain(|(p, _)| matches!(*p, "a" | "b") || only.split(',').any(|o| o == *p));
    }
    let mut results = vec![];
    for (phase, name) in names {
        let mut samples: Vec<Vec<f64>> = vec![];
        for _ in 0..runs {
            let out = std::process::Command::new(&exe)
                .args([
                    "--phase",
                    phase,
                    "--scale",
                    &scale.to_string(),
                    "--source",
                    &source,
                ])
                .output()
                .expect("run phase");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            samples.push(
                line.split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect(),
            );
        }
        let col = |i: usize| median(&mut samples.iter().map(|s| s[i]).collect::<Vec<_>>());
        results.push((
            name,
            [
                col(0),
                col(1),
                col(2),
                col(3),
                col(4),
                col(5),
                col(6),
                col(7),
                col(8),
            ],
        ));
        eprintln!("{name}: median {:.2}s", col(0));
    }
    let floor = results[0].1[0];
    let cx = results[1].1[0];
    println!("TPC-H lineitem from {source}, scale {scale}, {runs} runs per contender (medians), one run of this benchmark\n");
    println!("| contender | wall s | / floor | / ConnectorX | client CPU s | peak RSS MiB | rows | Arrow bytes | wire bytes | wait s | decode s | convert s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, [wall, cpu, rss, rows, bytes, wait, conv, wire, decode]) in &results {
        println!(
            "| {name} | {wall:.2} | {:.2} | {:.2} | {cpu:.2} | {rss:.0} | {rows:.0} | {bytes:.0} | {wire:.0} | {wait:.2} | {decode:.2} | {conv:.2} |",
            wall / floor,
            wall / cx
        );
    }
}
