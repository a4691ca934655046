//! The `vibe-piper` command, run as a user would.

use std::process::Command;

use crate::common::Namespace;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
}

fn run(args: &[&str], cache: &std::path::Path) -> (bool, String, String) {
    let out = bin()
        .args(args)
        .env("VP_CACHE_DIR", cache)
        .output()
        .expect("run vibe-piper");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_joins_sqlite_and_parquet_and_shows_pushed_sql() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(&["demo", "--scale", "0.01"], dir.path());
    assert!(ok, "{err}");
    assert!(out.contains("| nation "), "{out}");
    assert!(out.contains("MOROCCO"), "{out}");
    assert!(out.contains("RemoteScanExec: source=sqlite"), "{out}");
    assert!(out.contains("`c_mktsegment` = 'BUILDING'"), "{out}");
    assert!(out.contains("DataSourceExec"), "parquet side: {out}");
    // The data is cached: the second run reuses it.
    let (ok, out2, _) = run(&["demo", "--scale", "0.01"], dir.path());
    assert!(ok);
    assert_eq!(
        out.lines().filter(|l| l.contains("MOROCCO")).count(),
        out2.lines().filter(|l| l.contains("MOROCCO")).count()
    );
}

#[test]
fn sql_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v DOUBLE); INSERT INTO t VALUES (1, 'a', 0.5), (2, NULL, 1.5);")
        .unwrap();
    let src = format!("s=sqlite://{}", db.display());
    let q = "SELECT id, name, v FROM s.t ORDER BY id";
    let (ok, out, err) = run(&["sql", "--source", &src, "--format", "csv", q], dir.path());
    assert!(ok, "{err}");
    assert_eq!(out, "id,name,v\n1,a,0.5\n2,,1.5\n");
    let (ok, out, _) = run(
        &[
            "sql",
            "--source",
            &src,
            "--format",
            "csv",
            "SELECT id, name FROM s.t WHERE id > 5",
        ],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(out, "id,name\n", "a header even without rows");
    let (ok, out, _) = run(
        &["sql", "--source", &src, "--format", "json", q],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(
        out.lines().next().unwrap(),
        r#"{"id":1,"name":"a","v":0.5}"#
    );
    let (ok, out, _) = run(
        &["sql", "--source", &src, "--format", "table", q],
        dir.path(),
    );
    assert!(ok && out.contains("| 1  | a    | 0.5 |"), "{out}");
    for (fmt, file) in [("parquet", "o.parquet"), ("arrow", "o.arrow")] {
        let path = dir.path().join(file);
        let (ok, _, err) = run(
            &[
                "sql",
                "--source",
                &src,
                "--format",
                fmt,
                "--output",
                path.to_str().unwrap(),
                q,
            ],
            dir.path(),
        );
        assert!(ok, "{err}");
        // Read it back through a folder source.
        assert!(path.metadata().unwrap().len() > 0);
    }
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("o.parquet"),
        folder.path().join("out.parquet"),
    )
    .unwrap();
    let (ok, out, err) = run(
        &[
            "sql",
            "--source",
            &format!("f=file://{}/", folder.path().display()),
            "--format",
            "csv",
            "SELECT sum(v) AS s FROM f.out",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "s\n2.0\n");
    // A config file and EXPLAIN.
    let cfg = dir.path().join("sources.toml");
    std::fs::write(
        &cfg,
        format!("[sources]\ns = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let (ok, out, _) = run(
        &[
            "sql",
            "--config",
            cfg.to_str().unwrap(),
            "--partitions",
            "1",
            "--format",
            "csv",
            "EXPLAIN SELECT id FROM s.t WHERE id > 1",
        ],
        dir.path(),
    );
    assert!(ok);
    assert!(
        out.contains("partitions=1") && out.contains("WHERE (`t`.`id` > 1)"),
        "{out}"
    );
    let (ok, out, _) = run(&["tables", "--source", &src], dir.path());
    assert!(ok);
    assert!(
        out.contains("s.main.t")
            && out.contains("id: Int64 not null")
            && out.contains("v: Float64"),
        "{out}"
    );
}

#[test]
fn errors_are_one_clear_line_and_hide_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &[
            "sql",
            "--source",
            "pg=postgres://bob:topsecret@127.0.0.1:1/db",
            "SELECT 1",
        ],
        &["sql", "--source", "nope", "SELECT 1"],
        &[
            "sql",
            "--source",
            "x=mongodb://bob:topsecret@h/db",
            "SELECT 1",
        ],
        &[
            "sql",
            "--source",
            "s=sqlite:///definitely/not/here.db",
            "SELECT 1",
        ],
        &["sql", "SELECT * FROM missing.table"],
        &["tables", "--config", "/no/such/config.toml"],
    ];
    for args in cases {
        let (ok, out, err) = run(args, dir.path());
        assert!(!ok, "{args:?} should fail");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
    }
}

/// Runs the CLI with `input` on standard input (not a terminal: the script mode).
fn run_script(
    args: &[&str],
    input: &str,
    cache: &std::path::Path,
) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = bin()
        .args(args)
        .env("VP_CACHE_DIR", cache)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn piped_statements_stop_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sql = ["sql", "--format", "csv"];
    // Multi-line statements, a `;` inside a string, and a last statement without `;`.
    let (code, out, err) = run_script(
        &sql,
        "SELECT 40 +\n 2 AS answer;\nSELECT 'a;b' AS s; -- a comment; with a semicolon\nSELECT 7 AS last",
        dir.path(),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "answer\n42\ns\na;b\nlast\n7\n");
    // A failing statement stops the run with a non-zero exit, naming its line.
    let (code, out, err) = run_script(
        &sql,
        "SELECT 1 AS a;\nSELEC 2;\nSELECT 3 AS c;\n",
        dir.path(),
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "a\n1\n");
    assert!(
        err.contains("line 2") && err.starts_with("error: "),
        "{err}"
    );
    // --continue-on-error runs the rest and still fails.
    let (code, out, err) = run_script(
        &["sql", "--format", "csv", "--continue-on-error"],
        "SELECT 1 AS a;\nSELEC 2;\nSELECT 3 AS c;\n",
        dir.path(),
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "a\n1\nc\n3\n");
    assert!(err.contains("1 of 3 statements failed"), "{err}");
    // `\q` ends the input.
    let (code, out, _) = run_script(&sql, "SELECT 1 AS a;\n\\q\nSELECT nope;\n", dir.path());
    assert_eq!((code, out.as_str()), (Some(0), "a\n1\n"));
}

#[test]
fn output_file_is_replaced_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2);")
        .unwrap();
    let src = format!("s=sqlite://{}", db.display());
    for fmt in ["parquet", "csv", "arrow", "json"] {
        let keep = dir.path().join(format!("keep.{fmt}"));
        let path = keep.to_str().unwrap();
        let args = |q: &'static str| -> Vec<String> {
            [
                "sql", "--source", &src, "--format", fmt, "--output", path, q,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let a = args("SELECT id FROM s.t");
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (ok, _, err) = run(&a, dir.path());
        assert!(ok, "{err}");
        let good = std::fs::read(&keep).unwrap();
        assert!(!good.is_empty());
        // A query that fails while running, and one that fails while planning.
        for q in ["SELECT id / 0 FROM s.t", "SELECT nope FROM s.t"] {
            let a = args(q);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let (ok, _, _) = run(&a, dir.path());
            assert!(!ok, "{fmt}: {q}");
            assert_eq!(
                std::fs::read(&keep).unwrap(),
                good,
                "{fmt}: {q} changed the file"
            );
        }
        // Piped statements honour --output, under the same rule.
        let (code, _, err) = run_script(
            &["sql", "--source", &src, "--format", fmt, "--output", path],
            "SELECT id FROM s.t WHERE id = 2;",
            dir.path(),
        );
        assert_eq!(code, Some(0), "{err}");
        assert_ne!(
            std::fs::read(&keep).unwrap(),
            good,
            "{fmt}: piped result written"
        );
        let now = std::fs::read(&keep).unwrap();
        let (code, _, _) = run_script(
            &["sql", "--source", &src, "--format", fmt, "--output", path],
            "SELECT id FROM s.t;\nSELECT id / 0 FROM s.t;",
            dir.path(),
        );
        assert_ne!(code, Some(0));
        assert_eq!(
            std::fs::read(&keep).unwrap(),
            now,
            "{fmt}: failed script kept the file"
        );
    }
    // Text formats collect every statement's result.
    let out = dir.path().join("all.csv");
    let (code, _, err) = run_script(
        &["sql", "--format", "csv", "--output", out.to_str().unwrap()],
        "SELECT 1 AS a;\nSELECT 2 AS b;",
        dir.path(),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "a\n1\nb\n2\n");
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_unreadable_file_fails_only_its_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("good.csv"), "id,name\n1,a\n2,b\n").unwrap();
    std::fs::write(folder.path().join("broken.parquet"), b"this is not parquet").unwrap();
    let src = format!("f=file://{}/", folder.path().display());
    let (ok, out, err) = run(
        &[
            "sql",
            "--source",
            &src,
            "--format",
            "csv",
            "SELECT 1 AS one",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "one\n1\n");
    let (ok, out, err) = run(
        &[
            "sql",
            "--source",
            &src,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM f.good",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(out, "n\n2\n");
    let (ok, _, err) = run(
        &["sql", "--source", &src, "SELECT * FROM f.broken"],
        dir.path(),
    );
    assert!(!ok);
    assert!(
        err.contains("broken.parquet") && err.contains("broken"),
        "{err}"
    );
}

/// A PostgreSQL view that takes 10 ms a row (a thousand seconds in all): a query that waits on
/// its source, as a long extraction does.
async fn slow_source(test: &str) -> (crate::common::PgNamespace, String) {
    let ns = crate::common::PgNamespace::new(test).await;
    ns.exec("CREATE VIEW slow AS SELECT g AS id FROM generate_series(1, 100000) g WHERE length(pg_sleep(0.01)::text) = 0")
        .await;
    let url = ns.url("");
    (ns, format!("s={url}"))
}

const SLOW: &str = "SELECT count(*) FROM s.slow";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_running_query() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (ns, src) = slow_source("cli_ctrl_c").await;
    let out_file = dir.path().join("keep.csv");
    std::fs::write(&out_file, "old\n").unwrap();
    let mut child = bin()
        .args([
            "sql",
            "--source",
            &src,
            "--output",
            out_file.to_str().unwrap(),
            SLOW,
        ])
        .env("VP_CACHE_DIR", dir.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the query is still running"
    );
    let sent = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "old\n");

    // At the interactive prompt (a real terminal through `script`), Ctrl-C cancels the query
    // and the prompt takes the next one.
    let mut child = at_a_terminal(&format!("sql --format csv --source '{src}'"), dir.path());
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    writeln!(stdin, "{SLOW};").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    stdin.write_all(b"\x03").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    writeln!(stdin, "SELECT 6 * 7 AS answer;").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    writeln!(stdin, "\\q").unwrap();
    drop(stdin);
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(screen.contains("answer\r\n42"), "{screen}");
    ns.cleanup().await;
}

/// `vibe-piper ARGS` at a real terminal (through `script(1)`), killed after 60 s whatever
/// happens.
fn at_a_terminal(args: &str, cache: &std::path::Path) -> std::process::Child {
    let child = std::process::Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_vibe-piper")))
        .arg("/dev/null")
        .env("VP_CACHE_DIR", cache)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let pid = child.id() as i32;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    child
}

/// Ctrl-C during a join computed in memory (no source to wait on: each step of the nested-loop
/// join runs for a long time without yielding) gives the prompt back, and the next query
/// answers at once although the cancelled operators still hold their workers.
#[test]
fn ctrl_c_during_in_memory_compute_leaves_the_prompt_usable() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = at_a_terminal("sql --format csv", dir.path());
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(1000));
    writeln!(
        stdin,
        "SELECT count(*) FROM generate_series(1, 200000) a, generate_series(1, 200000) b \
         WHERE a.value * b.value = -1;"
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3000));
    stdin.write_all(b"\x03").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let asked = std::time::Instant::now();
    writeln!(stdin, "SELECT 6 * 7 AS answer;").unwrap();
    let mut screen = Vec::new();
    while asked.elapsed() < std::time::Duration::from_secs(30) {
        if let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
            screen.extend(chunk);
        }
        if String::from_utf8_lossy(&screen).contains("answer\r\n42") {
            break;
        }
    }
    let waited = asked.elapsed();
    writeln!(stdin, "\\q").unwrap();
    drop(stdin);
    let _ = child.wait();
    let screen = String::from_utf8_lossy(&screen);
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(screen.contains("answer\r\n42"), "{screen}");
    // Without free workers the answer waited for the cancelled join (over 60 s here).
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
}

/// Ctrl-C in one-shot mode stops the query at the server before the process exits, even a
/// query that sends nothing for a minute (a closed socket alone would leave it running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_query_at_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let ns = crate::common::PgNamespace::new("cli_quiet").await;
    ns.exec(
        "CREATE VIEW quiet_cli AS SELECT g AS id FROM generate_series(1, 6000) g \
         WHERE length(pg_sleep(0.01)::text) = 1",
    )
    .await;
    let running = || async {
        let n: i64 = ns
            .client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                 AND state = 'active' AND query LIKE '%quiet_cli%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n
    };
    let child = bin()
        .args([
            "sql",
            "--source",
            &format!("s={}", ns.url("")),
            "SELECT * FROM s.quiet_cli",
        ])
        .env("VP_CACHE_DIR", dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while running().await == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(15));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    // Gone at the server once the process has exited (allow the server a moment).
    let exited = std::time::Instant::now();
    while running().await > 0 {
        assert!(
            exited.elapsed() < std::time::Duration::from_secs(3),
            "the query kept running at the server after the process exited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    ns.cleanup().await;
}

/// The memory limit comes from `--memory-limit`, else `VP_MEMORY_LIMIT`, else the config
/// file's `memory_limit`; a query that cannot fit names the limit and how to raise it.
#[test]
fn the_memory_limit_comes_from_flag_env_and_config() {
    let dir = tempfile::tempdir().unwrap();
    // One group's 1,000,000 values (8 MB) cannot spill.
    let big = "SELECT cardinality(array_agg(value)) AS n FROM generate_series(1, 1000000)";
    let with = |args: &[&str], env: Option<&str>| {
        let mut cmd = bin();
        cmd.arg("sql").args(args).args(["--format", "csv", big]);
        cmd.env("VP_CACHE_DIR", dir.path())
            .env_remove("VP_MEMORY_LIMIT");
        if let Some(v) = env {
            cmd.env("VP_MEMORY_LIMIT", v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = with(&[], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "n\n1000000\n");
    let (code, _, err) = with(&["--memory-limit", "2MB"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("out of memory budget in "), "{err}");
    assert!(err.contains("(limit 2.0 MB)"), "{err}");
    assert!(err.contains("--memory-limit"), "{err}");
    let (code, _, err) = with(&[], Some("2MB"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("(limit 2.0 MB)"), "{err}");
    // The flag wins over the environment.
    let (code, out, _) = with(&["--memory-limit", "unlimited"], Some("2MB"));
    assert_eq!((code, out.as_str()), (Some(0), "n\n1000000\n"));
    // The config file, below both.
    let cfg = dir.path().join("vp.toml");
    std::fs::write(&cfg, "memory_limit = \"3MB\"\n").unwrap();
    let (code, _, err) = with(&["--config", cfg.to_str().unwrap()], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("(limit 3.0 MB)"), "{err}");
    let (code, _, err) = with(&["--config", cfg.to_str().unwrap()], Some("2MB"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("(limit 2.0 MB)"), "{err}");
    // Bad values and misspelt keys are errors that say what to write.
    let (code, _, err) = with(&["--memory-limit", "lots"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("memory limit: memory size `lots`"), "{err}");
    std::fs::write(&cfg, "memory-limit = \"3MB\"\n").unwrap();
    let (code, _, err) = with(&["--config", cfg.to_str().unwrap()], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("memory-limit"), "{err}");
    // --help shows the default.
    let help = bin().args(["sql", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 80% of memory]"), "{help}");
    assert!(help.contains("--temp-directory"), "{help}");
}
