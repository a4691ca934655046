//! Bulk loading TPC-H `lineitem` from Parquet into PostgreSQL or MariaDB/MySQL, every contender
//! in one run.
//!
//! ```text
//! cargo bench --bench load -- [--target postgres|mysql] [--scale 1] [--runs 3]
//! ```
//!
//! Each measurement runs in a fresh child process (this binary with `--phase`), so peak memory
//! and CPU belong to that phase alone; the target table is emptied before each. Contenders:
//! (a) the floor: `psql \copy ... FROM file.csv` / `mariadb LOAD DATA LOCAL INFILE file.csv`;
//! (b) the engine: `INSERT INTO dst.vp_load.lineitem SELECT * FROM files.lineitem` (Parquet);
//! (c) `Connector::bulk_insert` fed by `file_batches(lineitem.parquet)`.
//!
//! Data: generated once with `tpchgen-arrow` into `target/vp-load-sf<scale>/` (Parquet and CSV).

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use vibe_piper::connector::{self, BulkOptions, TableName};
use vibe_piper::Engine;

mod common;
use common::{arg, median, rusage};

const SCHEMA: &str = "vp_load";

const PG_DDL: &str = "CREATE TABLE vp_load.lineitem (
   l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
   l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
   l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
   l_tax numeric(15,2) NOT NULL, l_returnflag varchar(1) NOT NULL, l_linestatus varchar(1) NOT NULL,
   l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
   l_shipinstruct varchar(25) NOT NULL, l_shipmode varchar(10) NOT NULL, l_comment varchar(44) NOT NULL)";

fn pg_url() -> String {
    std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_server() -> String {
    std::env::var("VP_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn target_url(target: &str) -> String {
    if target == "mysql" {
        format!("{}/{SCHEMA}", mysql_server())
    } else {
        pg_url()
    }
}

fn data_dir(scale: f64) -> std::path::PathBuf {
    let base = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::PathBuf::from(base)
        .join(format!("vp-load-sf{}", scale.to_string().replace('.', "_")));
    std::env::current_dir().unwrap().join(dir)
}

/// Writes lineitem as Parquet (in `parquet/lineitem.parquet`) and CSV, once.
fn ensure_files(scale: f64) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = data_dir(scale);
    let parquet = dir.join("parquet").join("lineitem.parquet");
    let csv = dir.join("lineitem.csv");
    if parquet.exists() && csv.exists() {
        return (parquet, csv);
    }
    std::fs::create_dir_all(parquet.parent().unwrap()).unwrap();
    eprintln!(
        "generating lineitem at scale {scale} into {}",
        dir.display()
    );
    let mut batches =
        tpchgen_arrow::LineItemArrow::new(tpchgen::generators::LineItemGenerator::new(scale, 1, 1))
            .with_batch_size(65_536)
            .map(|b| b.expect("generated batch"));
    let first = batches.next().expect("rows");
    let mut pw = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        first.schema(),
        None,
    )
    .unwrap();
    let mut cw = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(std::io::BufWriter::new(
            std::fs::File::create(&csv).unwrap(),
        ));
    for b in std::iter::once(first).chain(batches) {
        pw.write(&b).unwrap();
        cw.write(&b).unwrap();
    }
    pw.close().unwrap();
    (parquet, csv)
}

fn mysql_args() -> Vec<String> {
    let u = url::Url::parse(&mysql_server()).expect("mysql URL");
    let mut args = vec![
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
        "--local-infile=1".into(),
    ];
    if let Some(p) = u.password() {
        args.push(format!("--password={p}"));
    }
    args
}

fn run(cmd: &str, args: &[String]) {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn reset(target: &str) {
    if target == "mysql" {
        run(
            "mariadb",
            &[
                mysql_args(),
                vec![
                    "-e".into(),
                    format!(
                        "CREATE DATABASE IF NOT EXISTS {SCHEMA}; DROP TABLE IF EXISTS {SCHEMA}.lineitem; {}",
                        PG_DDL.replace("bigint", "BIGINT")
                    ),
                ],
            ]
            .concat(),
        );
    } else {
        let c = connector::connect(&pg_url()).await.unwrap();
        c.execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"), &[])
            .await
            .unwrap();
        c.execute(&format!("DROP TABLE IF EXISTS {SCHEMA}.lineitem"), &[])
            .await
            .unwrap();
        c.execute(PG_DDL, &[]).await.unwrap();
    }
}

async fn run_phase(target: &str, phase: &str, scale: f64) -> u64 {
    let (parquet, csv) = ensure_files(scale);
    match phase {
        "a" if target == "mysql" => {
            run(
                "mariadb",
                &[
                    mysql_args(),
                    vec![
                        "-e".into(),
                        format!(
                            "LOAD DATA LOCAL INFILE '{}' INTO TABLE {SCHEMA}.lineitem \
                             FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES",
                            csv.display()
                        ),
                    ],
                ]
                .concat(),
            );
            0
        }
        "a" => {
            run(
                "psql",
                &[
                    pg_url(),
                    "-c".into(),
                    format!(
                        "\\copy {SCHEMA}.lineitem FROM '{}' (FORMAT csv, HEADER true)",
                        csv.display()
                    ),
                ],
            );
            0
        }
        "b" => {
            let engine = Engine::new();
            engine
                .register_source("dst", &target_url(target))
                .await
                .unwrap();
            engine
                .register_source(
                    "files",
                    &format!("file://{}/", parquet.parent().unwrap().display()),
                )
                .await
                .unwrap();
            let mut s = engine
                .sql_stream(&format!(
                    "INSERT INTO dst.{SCHEMA}.lineitem SELECT * FROM files.lineitem"
                ))
                .await
                .unwrap();
            let mut n = 0;
            while let Some(b) = s.next().await {
                let b = b.unwrap();
                n += arrow::array::AsArray::as_primitive::<arrow::datatypes::UInt64Type>(
                    b.column(0).as_ref(),
                )
                .value(0);
            }
            n
        }
        _ => {
            let c: Arc<dyn connector::Connector> =
                connector::connect(&target_url(target)).await.unwrap();
            let stream = connector::executor::file_batches(parquet.to_str().unwrap())
                .await
                .unwrap();
            c.bulk_insert(
                &TableName::new(SCHEMA, "lineitem"),
                stream,
                &BulkOptions::default(),
            )
            .await
            .unwrap()
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = arg(&args, "--scale").map_or(1.0, |s| s.parse().expect("--scale F"));
    let runs: usize = arg(&args, "--runs").map_or(3, |s| s.parse().expect("--runs N"));
    let target = arg(&args, "--target").unwrap_or_else(|| "postgres".into());
    assert!(
        target == "postgres" || target == "mysql",
        "--target postgres|mysql"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(phase) = arg(&args, "--phase") {
        let (cpu0, _) = rusage();
        let start = Instant::now();
        rt.block_on(run_phase(&target, &phase, scale));
        let wall = start.elapsed().as_secs_f64();
        let (cpu1, rss) = rusage();
        println!("{wall} {} {rss}", cpu1 - cpu0);
        return;
    }
    let rows = tpchgen::generators::LineItemGenerator::new(scale, 1, 1)
        .iter()
        .count() as f64;
    ensure_files(scale);
    let exe = std::env::current_exe().unwrap();
    let floor = if target == "mysql" {
        "mariadb LOAD DATA LOCAL INFILE (CSV) floor"
    } else {
        "psql \\copy (CSV) floor"
    };
    let names = [
        ("a", floor),
        ("b", "engine INSERT INTO ... SELECT FROM Parquet"),
        ("c", "Connector::bulk_insert(file_batches(Parquet))"),
    ];
    let mut results = vec![];
    for (phase, name) in names {
        let mut samples: Vec<Vec<f64>> = vec![];
        for _ in 0..runs {
            rt.block_on(reset(&target));
            let out = std::process::Command::new(&exe)
                .args([
                    "--phase",
                    phase,
                    "--scale",
                    &scale.to_string(),
                    "--target",
                    &target,
                ])
                .output()
                .expect("run phase");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            samples.push(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect(),
            );
        }
        let col = |i: usize| median(&mut samples.iter().map(|s| s[i]).collect::<Vec<_>>());
        eprintln!("{name}: median {:.2}s", col(0));
        results.push((name, col(0), col(1), col(2)));
    }
    let floor_s = results[0].1;
    println!("TPC-H lineitem ({rows} rows) into {target}, scale {scale}, {runs} runs per contender (medians), one run of this benchmark\n");
    println!("| contender | wall s | / floor | rows/s | client CPU s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for (name, wall, cpu, rss) in &results {
        println!(
            "| {name} | {wall:.2} | {:.2} | {:.0} | {cpu:.2} | {rss:.0} |",
            wall / floor_s,
            rows / wall
        );
    }
}
