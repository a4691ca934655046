//! The `vibe-piper` command, run as a user would.

use std::process::Command;

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

#[test]
fn interactive_prompt_runs_statements() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["sql", "--format", "csv"])
        .env("VP_CACHE_DIR", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"SELECT 40 +\n 2 AS answer;\nSELECT nope;\n\\q\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("answer\n42"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
}
