//! Results that end early, against the real servers: a connection the server kills in the middle
//! of a result is an error (never a shorter result), and a consumer that stops reading (an
//! unpushed filter under a LIMIT, a dropped stream) stops the query at the server too, leaving
//! nothing running and every pool usable.

use std::time::{Duration, Instant};

use futures::StreamExt;
use vibe_piper::connector::ExecutorExt;
use vibe_piper::Engine;

use crate::common::*;

/// Rows in the tables the early-stop tests read: a few million, so that reading them all
/// takes far longer than the check that nothing is left running.
const MANY: u64 = 2_000_000;

/// Waits (up to 15 s) until `count()` is zero; returns whether it became zero.
async fn until_zero<F, Fut>(mut count: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if count().await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits (up to 15 s) until `count()` is positive.
async fn until_running<F, Fut>(mut count: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let started = Instant::now();
    while count().await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the query never showed up at the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Active statements at the PostgreSQL server (other than the checker's) that mention `marker`.
async fn pg_running(ns: &PgNamespace, marker: &str) -> i64 {
    ns.client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
             AND state = 'active' AND query LIKE '%' || $1 || '%'",
            &[&marker],
        )
        .await
        .unwrap()
        .get(0)
}

/// Running statements at the MySQL server (other than the checker's) that mention `marker`.
fn my_running(ns: &MySqlNamespace, marker: &str) -> i64 {
    let rows = ns.text_rows(&format!(
        "SELECT count(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() \
         AND command <> 'Sleep' AND info LIKE '%{marker}%' AND info NOT LIKE '%processlist%'"
    ));
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

/// The error says the connection went away.
fn assert_lost(msg: &str) {
    let m = msg.to_lowercase();
    assert!(
        [
            "terminat",
            "connection",
            "closed",
            "disconnected",
            "lost",
            "interrupted"
        ]
        .iter()
        .any(|w| m.contains(w)),
        "{msg}"
    );
}

async fn pg_killed_mid_result(options: &str, test: &str) {
    let ns = PgNamespace::new(test).await;
    // 2 ms a row: the result arrives over about 10 seconds.
    ns.exec(
        "CREATE VIEW slow_kill AS SELECT g AS id FROM generate_series(1, 5000) g \
         WHERE length(pg_sleep(0.002)::text) = 0",
    )
    .await;
    let e = engine(&ns, Engine::builder().batch_size(50), options).await;
    let running = tokio::spawn(async move { e.sql_collect("SELECT id FROM src.slow_kill").await });
    until_running(|| pg_running(&ns, "slow_kill")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ns.client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND query LIKE '%slow_kill%'",
            &[],
        )
        .await
        .unwrap();
    match running.await.unwrap() {
        Ok(batches) => panic!(
            "a killed connection gave a result of {} rows",
            batches.iter().map(|b| b.num_rows()).sum::<usize>()
        ),
        Err(e) => assert_lost(&e.to_string()),
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_connection_is_an_error() {
    pg_killed_mid_result("", "kill_pg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connectorx_killed_connection_is_an_error() {
    pg_killed_mid_result("reader=connectorx", "kill_pg_cx").await;
}

async fn my_killed_mid_result(options: &str, test: &str) {
    let ns = std::sync::Arc::new(MySqlNamespace::new(test));
    ns.exec("CREATE VIEW slow_kill AS SELECT seq AS id FROM seq_1_to_5000 WHERE SLEEP(0.002) = 0")
        .await;
    let e = engine(ns.as_ref(), Engine::builder().batch_size(50), options).await;
    let running = tokio::spawn(async move { e.sql_collect("SELECT id FROM src.slow_kill").await });
    let n = ns.clone();
    until_running(move || {
        let n = n.clone();
        async move { my_running(&n, "slow_kill") }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = ns.text_rows(
        "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() \
         AND info LIKE '%slow_kill%' AND info NOT LIKE '%processlist%'",
    );
    assert!(!ids.is_empty());
    for id in ids {
        ns.exec(&format!("KILL {}", id[0].as_deref().unwrap()))
            .await;
    }
    match running.await.unwrap() {
        Ok(batches) => panic!(
            "a killed connection gave a result of {} rows",
            batches.iter().map(|b| b.num_rows()).sum::<usize>()
        ),
        Err(e) => assert_lost(&e.to_string()),
    }
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_killed_connection_is_an_error() {
    my_killed_mid_result("", "kill_my").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_connectorx_killed_connection_is_an_error() {
    my_killed_mid_result("reader=connectorx", "kill_my_cx").await;
}

/// The query every early-stop test runs: the filter is one no source evaluates (so it is not
/// pushed), and the LIMIT above it cannot be pushed either.
const EARLY: &str = "SELECT id FROM src.many_rows WHERE reverse(label) <> '' LIMIT 5";

/// Checks the plan: nothing of the filter or the limit reaches the source.
async fn assert_unpushed(e: &Engine) {
    let plan = explain(e, EARLY).await;
    let scan = plan
        .lines()
        .find(|l| l.contains("RemoteScanExec"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(
        !scan.contains("reverse") && !scan.contains("LIMIT"),
        "{plan}"
    );
}

async fn pg_early_stop(options: &str, test: &str) {
    let ns = PgNamespace::new(test).await;
    ns.exec(&format!(
        "CREATE TABLE many_rows AS SELECT g::bigint AS id, 'row ' || g AS label \
         FROM generate_series(1, {MANY}) g"
    ))
    .await;
    let e = engine(&ns, Engine::builder().target_partitions(2), options).await;
    assert_unpushed(&e).await;
    assert_eq!(query(&e, EARLY).await.len(), 5);
    assert!(
        until_zero(|| pg_running(&ns, "many_rows")).await,
        "the scan kept running at the server"
    );
    // The same engine (and its pool) answers the next query.
    assert_eq!(
        query(&e, "SELECT count(*) FROM src.many_rows WHERE id <= 10").await,
        vec!["10"]
    );
    // A result stream dropped after its first batch stops at the server too, and the
    // connection goes back to the pool idle.
    let connector = e.source("src").await.unwrap().connector().unwrap();
    {
        let sql = format!("SELECT id, label FROM {}.many_rows", ns.schema);
        let mut rows = connector.query(&sql, &[]).await.unwrap();
        assert!(rows.next().await.unwrap().unwrap().num_rows() > 0);
    }
    assert!(
        until_zero(|| pg_running(&ns, "many_rows")).await,
        "the dropped result kept running at the server"
    );
    let one = connector.fetch_all("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows(&one), vec!["1"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_early_limit_stops_the_server() {
    pg_early_stop("", "early_pg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connectorx_early_limit_stops_the_server() {
    pg_early_stop("reader=connectorx", "early_pg_cx").await;
}

async fn my_early_stop(options: &str, test: &str) {
    let ns = std::sync::Arc::new(MySqlNamespace::new(test));
    ns.exec(&format!(
        "CREATE TABLE many_rows (id BIGINT PRIMARY KEY, label VARCHAR(32)) \
         AS SELECT seq AS id, concat('row ', seq) AS label FROM seq_1_to_{MANY}"
    ))
    .await;
    let e = engine(ns.as_ref(), Engine::builder().target_partitions(2), options).await;
    assert_unpushed(&e).await;
    let running = || {
        let n = ns.clone();
        async move { my_running(&n, "many_rows") }
    };
    assert_eq!(query(&e, EARLY).await.len(), 5);
    assert!(
        until_zero(running).await,
        "the scan kept running at the server"
    );
    assert_eq!(
        query(&e, "SELECT count(*) FROM src.many_rows WHERE id <= 10").await,
        vec!["10"]
    );
    let connector = e.source("src").await.unwrap().connector().unwrap();
    {
        let mut rows = connector
            .query("SELECT id, label FROM many_rows", &[])
            .await
            .unwrap();
        assert!(rows.next().await.unwrap().unwrap().num_rows() > 0);
    }
    assert!(
        until_zero(running).await,
        "the dropped result kept running at the server"
    );
    let one = connector.fetch_all("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows(&one), vec!["1"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_early_limit_stops_the_server() {
    my_early_stop("", "early_my").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_connectorx_early_limit_stops_the_server() {
    my_early_stop("reader=connectorx", "early_my_cx").await;
}

/// A view that sends 10000 rows at once (more than a batch), then works for a minute without
/// sending anything (each of 6000 rows sleeps 10 ms and none passes its filter): a server left
/// to run it after its consumer has gone would stay busy long after the check.
const QUIET_PG: &str = "CREATE VIEW quiet_rows AS \
     SELECT g::bigint AS id, 'row ' || g AS label FROM generate_series(1, 10000) g \
     UNION ALL SELECT g::bigint, 'never' FROM generate_series(1, 6000) g \
     WHERE length(pg_sleep(0.01)::text) = 1";
// MariaDB runs a UNION ALL into a temporary table first: one SELECT whose late rows sleep.
const QUIET_MY: &str = "CREATE VIEW quiet_rows AS \
     SELECT seq AS id, concat('row ', seq) AS label FROM seq_1_to_16000 \
     WHERE IF(seq > 10000, SLEEP(0.01) = 1, TRUE)";
const QUIET: &str = "SELECT id FROM src.quiet_rows WHERE reverse(label) <> '' LIMIT 5";

/// Own readers cancel at once (a PostgreSQL cancel request, MySQL `KILL QUERY`) even when the
/// server is not sending: closing the socket alone would leave it working until its next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_quiet_query_stops_when_its_consumer_goes() {
    let ns = PgNamespace::new("quiet_pg").await;
    ns.exec(QUIET_PG).await;
    let e = engine(&ns, Engine::builder(), "").await;
    assert_eq!(query(&e, QUIET).await.len(), 5);
    assert!(
        until_zero(|| pg_running(&ns, "quiet_rows")).await,
        "the scan kept running at the server"
    );
    let connector = e.source("src").await.unwrap().connector().unwrap();
    {
        let sql = format!("SELECT id FROM {}.quiet_rows", ns.schema);
        let mut rows = connector.query(&sql, &[]).await.unwrap();
        assert!(rows.next().await.unwrap().unwrap().num_rows() > 0);
    }
    assert!(
        until_zero(|| pg_running(&ns, "quiet_rows")).await,
        "the dropped result kept running at the server"
    );
    let one = connector.fetch_all("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows(&one), vec!["1"]);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_quiet_query_stops_when_its_consumer_goes() {
    let ns = std::sync::Arc::new(MySqlNamespace::new("quiet_my"));
    ns.exec(QUIET_MY).await;
    let e = engine(ns.as_ref(), Engine::builder(), "").await;
    let running = || {
        let n = ns.clone();
        async move { my_running(&n, "quiet_rows") }
    };
    assert_eq!(query(&e, QUIET).await.len(), 5);
    assert!(
        until_zero(running).await,
        "the scan kept running at the server"
    );
    let connector = e.source("src").await.unwrap().connector().unwrap();
    {
        let mut rows = connector
            .query("SELECT id FROM quiet_rows", &[])
            .await
            .unwrap();
        assert!(rows.next().await.unwrap().unwrap().num_rows() > 0);
    }
    assert!(
        until_zero(running).await,
        "the dropped result kept running at the server"
    );
    let one = connector.fetch_all("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows(&one), vec!["1"]);
    ns.cleanup().await;
}

/// Threads of this test process whose name starts with `prefix` (names are cut to 15 bytes).
fn threads_named(prefix: &str) -> i64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count() as i64
}

/// SQLite runs in this process: a query that works for long without producing a row (10000
/// rows, then a recursive sequence whose next passing row is a billion rows away) is
/// interrupted when its consumer goes, and its reader thread ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_quiet_query_stops_when_its_consumer_goes() {
    let ns = SqliteFixture.namespace("quiet_lite").await;
    ns.exec(
        "CREATE VIEW quiet_rows AS \
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s) \
         SELECT i AS id, 'row ' || i AS label FROM s WHERE i <= 10000 OR i % 1000000007 = 0",
    )
    .await;
    let e = engine(ns.as_ref(), Engine::builder(), "").await;
    assert_eq!(threads_named("vp-sqlite-read"), 0);
    assert_eq!(query(&e, QUIET).await.len(), 5);
    assert!(
        until_zero(|| async { threads_named("vp-sqlite-read") }).await,
        "the SQLite reader kept running"
    );
}

/// A result dropped before its end never harms the pool's next statement: one left mostly
/// unread is cancelled and its connection closed (the cancel request travels apart and could
/// otherwise land on the next statement), one whose rest has already arrived (the first row
/// of a small result) keeps its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropped_results_leave_the_next_statement_alone() {
    let ns = PgNamespace::new("dropped_pg").await;
    let connector = vibe_piper::connector::connect(&ns.url("pool_size=1"))
        .await
        .unwrap();
    let pid = || async {
        let b = connector
            .query_one("SELECT pg_backend_pid() AS pid", &[])
            .await
            .unwrap();
        rows(&[b])[0].clone()
    };
    let first = pid().await;
    for _ in 0..20 {
        assert_eq!(
            pid().await,
            first,
            "a small result's connection was not kept"
        );
    }
    for i in 0..10 {
        {
            let mut rows = connector
                .query("SELECT g FROM generate_series(1, 3000000) g", &[])
                .await
                .unwrap();
            assert!(rows.next().await.unwrap().unwrap().num_rows() > 0);
        }
        let n = connector
            .query_one("SELECT count(*) AS n FROM pg_sleep(0.05)", &[])
            .await
            .unwrap_or_else(|e| panic!("round {i}: {e}"));
        assert_eq!(rows(&[n]), vec!["1"]);
    }
    assert!(connector.pool_status().connections <= 1);
    ns.cleanup().await;
}
