//! TLS and authentication against the private servers `scripts/test.sh` starts
//! (`ensure_tls_postgres`, `ensure_tls_mariadb` in scripts/services.sh): a PostgreSQL 15 that
//! takes only TLS connections (SCRAM, md5 and certificate users) and a MariaDB with
//! `require_secure_transport=ON`, both with a certificate that names `localhost` only, signed
//! by a CA made at test time.

use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use vibe_piper::connector::executor::stream_of_batches;
use vibe_piper::connector::{BulkOptions, ExecutorExt, TableName};
use vibe_piper::{Engine, Error};

use crate::common::{rows, Fixture, MySqlNamespace, Namespace, PgNamespace};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `bash scripts/test.sh`, which starts the \
             TLS servers"
        )
    })
}

/// A file of the test certificates' folder.
fn cert(name: &str) -> String {
    format!("{}/{name}", env("VP_TLS_DIR"))
}

const PG_PASSWORD: &str = "p@ss:w/rd%&?é";
const MY_PASSWORD: &str = "n@tive:pw/%";

/// The private PostgreSQL as `user:password@host` with `options` (the password
/// percent-encoded).
fn pg_url(userinfo: &str, host: &str, options: &str) -> String {
    let port = env("VP_TLS_PG_PORT");
    format!("postgres://{userinfo}@{host}:{port}/vp_tls?{options}")
}

fn scram(host: &str, options: &str) -> String {
    pg_url("vp_scram:p%40ss%3Aw%2Frd%25%26%3F%C3%A9", host, options)
}

fn verify_full() -> String {
    format!("sslmode=verify-full&sslrootcert={}", cert("ca.pem"))
}

/// A set-up connection to the private PostgreSQL over its Unix socket (trusted).
async fn pg_admin() -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(env("VP_TLS_PG_SOCKET_DIR"))
        .port(env("VP_TLS_PG_PORT").parse().unwrap())
        .user("postgres")
        .dbname("vp_tls");
    let (client, conn) = config.connect(tokio_postgres::NoTls).await.expect("admin");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// An engine with `url` registered as `name`.
async fn registered(name: &str, url: &str) -> Engine {
    let e = Engine::new();
    e.register_source(name, url)
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    e
}

async fn pg_error(url: &str) -> Error {
    let e = Engine::new();
    e.register_source("s", url)
        .await
        .expect_err("the connection should be refused")
}

async fn count(e: &Engine, sql: &str) -> i64 {
    let b = e
        .sql_collect(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    b[0].column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0)
}

/// The plan `EXPLAIN [ANALYZE] ...` prints, as text.
async fn explain_text(e: &Engine, explain: &str) -> String {
    rows(&e.sql_collect(explain).await.unwrap()).join("\n")
}

/// Asserts that nothing a user sees names the password.
fn no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "the password leaked: {text}");
    let encoded = "p%40ss%3Aw";
    assert!(
        !text.contains(encoded),
        "the encoded password leaked: {text}"
    );
}

#[tokio::test]
async fn postgres_verify_full_on_every_path() {
    let admin = pg_admin().await;
    admin
        .batch_execute(
            "DROP TABLE IF EXISTS public.tls_rows; \
             CREATE TABLE public.tls_rows AS SELECT g AS id, 'row ' || g AS name \
             FROM generate_series(1, 5000) g",
        )
        .await
        .unwrap();
    for reader in ["copy", "connectorx"] {
        let url = scram("localhost", &format!("{}&reader={reader}", verify_full()));
        let e = Engine::new();
        // The catalog (pooled connections).
        e.register_source("s", &url).await.unwrap();
        let tables: Vec<String> = e
            .tables("s")
            .await
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert!(tables.iter().any(|t| t.contains("tls_rows")), "{tables:?}");
        // The scan reader, partitioned, names itself in EXPLAIN, without the password.
        assert_eq!(
            count(&e, "SELECT count(*) FROM s.tls_rows WHERE id > 10").await,
            4990
        );
        let plan = explain_text(&e, "EXPLAIN SELECT name FROM s.tls_rows WHERE id > 10").await;
        let want = if reader == "copy" {
            "reader=copy"
        } else {
            "reader=connectorx"
        };
        assert!(plan.contains(want), "{plan}");
        no_secret(&plan, PG_PASSWORD);
        no_secret(&format!("{:?}", e.source("s").await.unwrap()), PG_PASSWORD);
    }
    // The pool: the connection is encrypted, and SCRAM is bound to the TLS channel.
    let conn = vibe_piper::connector::connect(&scram(
        "localhost",
        &format!("{}&channel_binding=require", verify_full()),
    ))
    .await
    .unwrap();
    let b = conn
        .fetch_all(
            "SELECT ssl::text, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let got = rows(&b);
    assert!(got[0].starts_with("true|TLSv1."), "{got:?}");
    no_secret(&format!("{conn:?}"), PG_PASSWORD);
    // Bulk load (binary COPY FROM) and INSERT through the engine.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS public.tls_load (id bigint)",
        &[],
    )
    .await
    .unwrap();
    conn.execute("TRUNCATE public.tls_load", &[]).await.unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(0..1000))],
    )
    .unwrap();
    let n = conn
        .bulk_insert(
            &TableName::new("public", "tls_load"),
            stream_of_batches(schema, vec![batch]),
            &BulkOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 1000);
    let e = registered("s", &scram("localhost", &verify_full())).await;
    e.sql_collect("INSERT INTO s.public.tls_load SELECT id + 1000 FROM s.tls_rows")
        .await
        .unwrap();
    assert_eq!(count(&e, "SELECT count(*) FROM s.tls_load").await, 6000);
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn postgres_sslmodes_connect_and_refuse_as_libpq_does() {
    let ca = cert("ca.pem");
    let other = cert("other-ca.pem");
    // Connect: the server takes only TLS, so `allow` and `prefer` end up encrypted too.
    for options in [
        "sslmode=allow".to_string(),
        "sslmode=prefer".to_string(),
        String::new(),
        "sslmode=require".to_string(),
        // The certificate names localhost only: verify-ca does not check the name.
        format!("sslmode=verify-ca&sslrootcert={ca}"),
    ] {
        for host in ["localhost", "127.0.0.1"] {
            let url = scram(host, &options);
            let e = Engine::new();
            e.register_source("s", &url)
                .await
                .unwrap_or_else(|err| panic!("{options} to {host}: {err}"));
            assert_eq!(
                count(&e, "SELECT count(*) FROM (VALUES (1), (2)) t(x)").await,
                2
            );
        }
    }
    // Refuse: no TLS against a TLS-only server; the server's answer and what to check.
    let err = pg_error(&scram("localhost", "sslmode=disable")).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no encryption"), "{text}");
    assert!(text.contains("check sslmode"), "{text}");
    no_secret(&text, PG_PASSWORD);
    // verify-full to an address the certificate does not name.
    let err = pg_error(&scram(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the server's certificate does not name `127.0.0.1`"),
        "{err}"
    );
    // An untrusted CA, for verify-ca, verify-full and `require` with a root certificate
    // (libpq: then as verify-ca).
    for mode in ["verify-ca", "verify-full", "require"] {
        let err = pg_error(&scram(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .await;
        assert!(matches!(err, Error::Tls { .. }), "{mode}: {err:?}");
        assert!(
            err.to_string().contains("not signed by a trusted CA"),
            "{mode}: {err}"
        );
    }
    // `prefer` whose TLS attempt fails retries without TLS, which this server refuses: the
    // TLS attempt's error is the one reported.
    let err = pg_error(&scram(
        "localhost",
        &format!("sslmode=prefer&sslrootcert={other}"),
    ))
    .await;
    assert!(
        err.to_string().contains("not signed by a trusted CA"),
        "{err}"
    );
    // verify-* without a root certificate, a missing file.
    let err = pg_error(&scram("localhost", "sslmode=verify-full")).await;
    assert!(err.to_string().contains("root certificate file"), "{err}");
    assert!(err.to_string().contains("sslrootcert=system"), "{err}");
    let err = pg_error(&scram(
        "localhost",
        "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
    ))
    .await;
    assert!(err.to_string().contains("`/nonexistent/ca.pem`"), "{err}");
    // A mode libpq does not know.
    let err = pg_error(&scram("localhost", "sslmode=verify_full")).await;
    assert!(
        err.to_string()
            .contains("sslmode takes disable, allow, prefer, require, verify-ca or verify-full"),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_passwords_scram_md5_certificates_and_files() {
    pg_admin()
        .await
        .batch_execute(
            "DROP TABLE IF EXISTS public.tls_passfile; \
             CREATE TABLE public.tls_passfile AS SELECT g AS id FROM generate_series(1, 300) g",
        )
        .await
        .unwrap();
    let ca = cert("ca.pem");
    let tls = format!("sslmode=verify-full&sslrootcert={ca}");
    // md5, on the pool (registration, catalog) and both readers.
    for reader in ["copy", "connectorx"] {
        let e = registered(
            "s",
            &pg_url(
                "vp_md5:md5-p%40ss",
                "localhost",
                &format!("{tls}&reader={reader}"),
            ),
        )
        .await;
        assert_eq!(
            count(&e, "SELECT count(*) FROM s.tls_passfile WHERE id <= 100").await,
            100
        );
    }
    // A client certificate (pg_hba `cert`: no password).
    let url = pg_url(
        "vp_cert",
        "localhost",
        &format!(
            "{tls}&sslcert={}&sslkey={}",
            cert("client.pem"),
            cert("client.key")
        ),
    );
    let conn = vibe_piper::connector::connect(&url).await.unwrap();
    let got = rows(
        &conn
            .fetch_all("SELECT current_user::text", &[])
            .await
            .unwrap(),
    );
    assert_eq!(got, vec!["vp_cert"]);
    // Without the certificate the server refuses.
    let err = pg_error(&pg_url("vp_cert", "localhost", &tls)).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    // A wrong password: its own variant, what to check, no password in it.
    let err = pg_error(&pg_url("vp_scram:wr0ng-s3cret", "localhost", &tls)).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        text.contains("check the user name and the password"),
        "{text}"
    );
    assert!(!text.contains("wr0ng-s3cret"), "{text}");
    // No password at all: say where one can come from.
    let err = pg_error(&pg_url("vp_scram", "localhost", &tls)).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(err.to_string().contains("PGPASSWORD"), "{err}");
    // A password file (`passfile=`): host:port:db:user:password, with escapes; the ConnectorX
    // reader gets the password found there too.
    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pgpass");
    let port = env("VP_TLS_PG_PORT");
    std::fs::write(
        &passfile,
        format!("# test\nlocalhost:{port}:vp_tls:vp_scram:p@ss\\:w/rd%&?é\n"),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for reader in ["copy", "connectorx"] {
        let url = pg_url(
            "vp_scram",
            "localhost",
            &format!("{tls}&passfile={}&reader={reader}", passfile.display()),
        );
        let e = registered("s", &url).await;
        assert_eq!(count(&e, "SELECT count(*) FROM s.tls_passfile").await, 300);
        let plan = explain_text(&e, "EXPLAIN ANALYZE SELECT * FROM s.tls_passfile").await;
        assert!(plan.contains(&format!("reader={reader}")), "{plan}");
        no_secret(&plan, PG_PASSWORD);
    }
    // A password file others can read is ignored, as libpq does.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let err = pg_error(&pg_url(
        "vp_scram",
        "localhost",
        &format!("{tls}&passfile={}", passfile.display()),
    ))
    .await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}

#[tokio::test]
async fn postgres_password_from_the_environment() {
    // nextest runs every test in a process of its own: the variable is this test's.
    std::env::set_var("PGPASSWORD", PG_PASSWORD);
    let e = registered("s", &pg_url("vp_scram", "localhost", &verify_full())).await;
    assert_eq!(count(&e, "SELECT count(*) FROM (VALUES (1)) t(x)").await, 1);
    std::env::remove_var("PGPASSWORD");
}

/// The MariaDB test server's URL for `userinfo` at `host`, with `options`.
fn my_url(userinfo: &str, host: &str, options: &str) -> String {
    let port = env("VP_TLS_MYSQL_PORT");
    format!("mysql://{userinfo}@{host}:{port}/vp_tls?{options}")
}

fn native(host: &str, options: &str) -> String {
    my_url("vp_native:n%40tive%3Apw%2F%25", host, options)
}

/// Makes `vp_tls.NAME` hold ids 1..=n (and `'row ' || id` names with `names`), through the
/// admin's socket; every statement on its own, so that none fails unseen.
fn my_table(name: &str, n: usize, names: bool) {
    use mysql::prelude::Queryable;
    let mut admin = mysql::Conn::new(my_admin()).unwrap();
    admin
        .query_drop(format!("DROP TABLE IF EXISTS vp_tls.{name}"))
        .unwrap();
    let columns = if names { ", name TEXT" } else { "" };
    admin
        .query_drop(format!(
            "CREATE TABLE vp_tls.{name} (id BIGINT PRIMARY KEY{columns})"
        ))
        .unwrap();
    let values: Vec<String> = (1..=n)
        .map(|i| {
            if names {
                format!("({i}, 'row {i}')")
            } else {
                format!("({i})")
            }
        })
        .collect();
    admin
        .query_drop(format!(
            "INSERT INTO vp_tls.{name} VALUES {}",
            values.join(",")
        ))
        .unwrap();
}

fn my_admin() -> mysql::Opts {
    mysql::OptsBuilder::new()
        .socket(Some(env("VP_TLS_MYSQL_SOCKET")))
        .user(Some("root"))
        .into()
}

#[tokio::test]
async fn mariadb_modes_connect_and_refuse_as_the_mysql_client_does() {
    let ca = cert("ca.pem");
    let other = cert("other-ca.pem");
    my_table("tls_rows", 3000, true);
    // The server takes only encrypted connections: every mode that encrypts connects, and
    // the native reader reads (it does not fall back to ConnectorX).
    for (host, options) in [
        ("localhost", format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}")),
        ("127.0.0.1", format!("ssl-mode=VERIFY_CA&ssl-ca={ca}")),
        ("127.0.0.1", format!("ssl-ca={ca}")),
        ("127.0.0.1", "ssl-mode=REQUIRED".to_string()),
        ("127.0.0.1", "ssl-mode=PREFERRED".to_string()),
        ("127.0.0.1", String::new()),
    ] {
        let e = Engine::new();
        e.register_source("m", &native(host, &options))
            .await
            .unwrap_or_else(|err| panic!("{options} to {host}: {err}"));
        assert_eq!(
            count(&e, "SELECT count(*) FROM m.tls_rows WHERE id > 100").await,
            2900,
            "{options}"
        );
        let plan = explain_text(&e, "EXPLAIN SELECT name FROM m.tls_rows WHERE id > 100").await;
        assert!(plan.contains("reader=native"), "{plan}");
        no_secret(&plan, MY_PASSWORD);
    }
    // The pool's connections are encrypted.
    let conn = vibe_piper::connector::connect(&native(
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    ))
    .await
    .unwrap();
    let got = rows(
        &conn
            .fetch_all("SHOW SESSION STATUS LIKE 'Ssl_version'", &[])
            .await
            .unwrap(),
    );
    assert!(got[0].starts_with("Ssl_version|TLSv1."), "{got:?}");
    assert!(!format!("{conn:?}").contains(MY_PASSWORD));
    // ConnectorX over TLS too.
    let e = registered(
        "m",
        &native(
            "localhost",
            &format!("ssl-mode=VERIFY_CA&ssl-ca={ca}&reader=connectorx"),
        ),
    )
    .await;
    assert_eq!(count(&e, "SELECT count(*) FROM m.tls_rows").await, 3000);

    // Refused: no TLS against a server that requires it (MariaDB answers "access denied").
    let refused = |url: String| async move {
        Engine::new()
            .register_source("m", &url)
            .await
            .expect_err("the connection should be refused")
    };
    let err = refused(native("127.0.0.1", "ssl-mode=DISABLED")).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(err.to_string().contains("ssl-mode"), "{err}");
    assert!(!format!("{err} {err:?}").contains(MY_PASSWORD), "{err}");
    // VERIFY_IDENTITY to an address the certificate does not name.
    let err = refused(native(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    ))
    .await;
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the server's certificate does not name `127.0.0.1`"),
        "{err}"
    );
    // An untrusted CA.
    let err = refused(native(
        "localhost",
        &format!("ssl-mode=VERIFY_CA&ssl-ca={other}"),
    ))
    .await;
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not signed by a trusted CA"),
        "{err}"
    );
    // A wrong password.
    let err = refused(my_url(
        "vp_native:wr0ng-s3cret",
        "localhost",
        "ssl-mode=REQUIRED",
    ))
    .await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("check the user name and the password"),
        "{text}"
    );
    assert!(!text.contains("wr0ng-s3cret"), "{text}");
}

#[tokio::test]
async fn mariadb_unix_socket_and_password_from_the_environment() {
    // The native reader through the Unix socket (no TLS there: the server counts a socket as
    // secure transport).
    let socket = env("VP_TLS_MYSQL_SOCKET");
    my_table("tls_socket", 250, false);
    let e = registered(
        "m",
        &format!("mysql://root@localhost/vp_tls?socket={socket}"),
    )
    .await;
    assert_eq!(
        count(&e, "SELECT count(*) FROM m.tls_socket WHERE id > 50").await,
        200
    );
    let plan = explain_text(
        &e,
        "EXPLAIN ANALYZE SELECT id FROM m.tls_socket WHERE id > 50",
    )
    .await;
    assert!(plan.contains("reader=native"), "{plan}");
    assert!(plan.contains("source_rows=200"), "{plan}");
    // MYSQL_PWD (this test's own process).
    std::env::set_var("MYSQL_PWD", MY_PASSWORD);
    let e = registered("m", &my_url("vp_native", "localhost", "ssl-mode=REQUIRED")).await;
    assert_eq!(
        count(&e, "SELECT count(*) FROM (VALUES (1), (2), (3)) t(x)").await,
        3
    );
    std::env::remove_var("MYSQL_PWD");
}

#[test]
fn cli_reads_over_verify_full_and_verify_identity() {
    let ca = cert("ca.pem");
    my_table("tls_cli", 42, false);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        pg_admin()
            .await
            .batch_execute(
                "DROP TABLE IF EXISTS public.tls_cli; \
                 CREATE TABLE public.tls_cli AS SELECT g AS id FROM generate_series(1, 42) g",
            )
            .await
            .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    for (source, table) in [
        (
            format!(
                "s={}",
                scram(
                    "localhost",
                    &format!("sslmode=verify-full&sslrootcert={ca}")
                )
            ),
            "s.tls_cli",
        ),
        (
            format!(
                "s={}",
                native(
                    "localhost",
                    &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}")
                )
            ),
            "s.tls_cli",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vibe-piper"))
            .args([
                "sql",
                "--source",
                &source,
                "--format",
                "csv",
                &format!("EXPLAIN ANALYZE SELECT count(*) FROM {table}"),
            ])
            .env("VP_CACHE_DIR", dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains("reader=copy") || stdout.contains("reader=native"),
            "{stdout}"
        );
        assert!(stdout.contains("source_rows=42"), "{stdout}");
        no_secret(&stdout, PG_PASSWORD);
        no_secret(&stdout, MY_PASSWORD);
    }
}

/// PostgreSQL over TLS (verify-full, SCRAM), read by the binary COPY reader.
pub struct PgTlsFixture;

#[async_trait]
impl Fixture for PgTlsFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        let base = scram("localhost", &verify_full());
        Arc::new(PgNamespace::on(base, pg_admin().await, &format!("{test}_tls")).await)
    }
}

/// MariaDB over TLS (VERIFY_IDENTITY), read by the native binary-protocol reader.
pub struct MySqlTlsFixture;

#[async_trait]
impl Fixture for MySqlTlsFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        let port = env("VP_TLS_MYSQL_PORT");
        let base = format!(
            "mysql://vp_native:n%40tive%3Apw%2F%25@localhost:{port}?ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
            cert("ca.pem")
        );
        Arc::new(MySqlNamespace::on(base, my_admin(), &format!("{test}_tls")))
    }
}

#[tokio::test]
async fn mariadb_client_certificates() {
    {
        use mysql::prelude::Queryable;
        let mut admin = mysql::Conn::new(my_admin()).unwrap();
        admin
            .query_drop(
                "CREATE USER IF NOT EXISTS 'vp_x509'@'%' IDENTIFIED BY 'x509-pw' \
                 REQUIRE SUBJECT '/CN=vp_cert'",
            )
            .unwrap();
        admin
            .query_drop("GRANT ALL ON *.* TO 'vp_x509'@'%'")
            .unwrap();
    }
    my_table("tls_x509", 77, false);
    let ca = cert("ca.pem");
    let with_cert = format!(
        "ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}&ssl-cert={}&ssl-key={}",
        cert("client.pem"),
        cert("client.key")
    );
    // The pool and the native reader both present the certificate (ConnectorX's `mysql`
    // crate reads none from the URL: not tested).
    {
        let reader = "native";
        let e = registered(
            "m",
            &my_url(
                "vp_x509:x509-pw",
                "localhost",
                &format!("{with_cert}&reader={reader}"),
            ),
        )
        .await;
        assert_eq!(
            count(&e, "SELECT count(*) FROM m.tls_x509 WHERE id > 7").await,
            70
        );
    }
    // Without it the server refuses.
    let err = Engine::new()
        .register_source(
            "m",
            &my_url(
                "vp_x509:x509-pw",
                "localhost",
                &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}
