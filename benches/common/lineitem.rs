//! TPC-H `lineitem` in PostgreSQL, shared by the benches that read it (`extract`, `parquet`):
//! the server's URL, a client, the table loaded once with `tpchgen` into schema `vp_bench`
//! (kept between runs), and the binary COPY floor.

use std::fmt::Write as _;

use futures::{SinkExt, StreamExt};

/// The schema (PostgreSQL) or database (MySQL) the bench tables live in.
pub const SCHEMA: &str = "vp_bench";

/// `lineitem_sf1`, `lineitem_sf0_1`: the table of a scale factor.
pub fn table_name(scale: f64) -> String {
    format!("lineitem_sf{}", scale.to_string().replace('.', "_"))
}

/// `VP_POSTGRES_URL`, by default the local server.
pub fn url() -> String {
    std::env::var("VP_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A client of [`url`], its connection driven on the current runtime.
pub async fn client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL reachable");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Loads lineitem at `scale` unless the table already holds the expected rows.
pub async fn ensure_data(scale: f64) {
    let c = client().await;
    let table = table_name(scale);
    let expected = tpchgen::generators::LineItemGenerator::new(scale, 1, 1)
        .iter()
        .count() as i64;
    c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .await
        .unwrap();
    let have: i64 = match c
        .query_one(&format!("SELECT count(*) FROM {SCHEMA}.{table}"), &[])
        .await
    {
        Ok(r) => r.get(0),
        Err(_) => -1,
    };
    if have == expected {
        return;
    }
    eprintln!("loading {expected} lineitem rows (scale {scale}) into {SCHEMA}.{table} ...");
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS {SCHEMA}.{table};
         CREATE TABLE {SCHEMA}.{table} (
           l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
           l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
           l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
           l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
           l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
           l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL)"
    ))
    .await
    .unwrap();
    let sink = c
        .copy_in(&format!(
            "COPY {SCHEMA}.{table} FROM STDIN (FORMAT text, DELIMITER '|')"
        ))
        .await
        .unwrap();
    futures::pin_mut!(sink);
    let mut buf = String::with_capacity(1 << 20);
    for row in tpchgen::generators::LineItemGenerator::new(scale, 1, 1).iter() {
        write!(buf, "{row}").unwrap();
        buf.pop(); // the trailing '|'
        buf.push('\n');
        if buf.len() > (1 << 20) {
            sink.send(bytes::Bytes::from(std::mem::take(&mut buf)))
                .await
                .unwrap();
        }
    }
    sink.send(bytes::Bytes::from(buf)).await.unwrap();
    sink.finish().await.unwrap();
    c.batch_execute(&format!("VACUUM ANALYZE {SCHEMA}.{table}"))
        .await
        .unwrap();
}

/// The floor: `COPY (query) TO STDOUT (FORMAT binary)`, every byte read and dropped; returns
/// the bytes received.
pub async fn copy_binary_floor(query: &str) -> u64 {
    let c = client().await;
    let stream = c
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    futures::pin_mut!(stream);
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len() as u64;
    }
    bytes
}
