//! Test harness: backends as fixtures, so the conformance suite is written once and run per
//! backend (the way object_store's integration tests run per store).

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use vibe_piper::{Engine, EngineBuilder};

/// Logical column types the shared tests use; each backend names them its own way.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    BigInt,
    Int,
    Text,
    Double,
    Bool,
    Date,
    /// An exact decimal with 12 digits, 2 after the point.
    Decimal,
    /// A timestamp with milliseconds.
    Timestamp3,
}

/// A fresh namespace (PostgreSQL schema, SQLite file) owned by one test.
#[async_trait]
pub trait Namespace: Send + Sync {
    /// Runs DDL/DML inside the namespace.
    async fn exec(&self, sql: &str);
    /// The source URL, with extra `options` (`k=v&k2=v2`).
    fn url(&self, options: &str) -> String;
    /// The backend's name for a logical type.
    fn ty(&self, t: Ty) -> &'static str;
    /// Removes the namespace.
    async fn cleanup(&self);
    /// The schema (PostgreSQL) or database (MySQL) that holds the namespace's tables.
    fn qualifier(&self) -> String {
        "main".into()
    }
}

/// A backend under test.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A namespace for the test called `test`.
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace>;
}

/// The PostgreSQL URL the tests use.
pub async fn postgres_url() -> String {
    static URL: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    URL.get_or_init(|| async {
        let url = std::env::var("VP_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_ok()
        {
            return url;
        }
        start_postgres_container().await.unwrap_or(url)
    })
    .await
    .clone()
}

/// With Docker available, starts PostgreSQL 15 through testcontainers (kept for the process).
async fn start_postgres_container() -> Option<String> {
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};
    let container = GenericImage::new("postgres", "15")
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
        .with_env_var("POSTGRES_DB", "test")
        .start()
        .await
        .ok()?;
    let port = container.get_host_port_ipv4(5432).await.ok()?;
    // Keep the container for the life of the test process.
    Box::leak(Box::new(container));
    Some(format!("postgres://postgres@127.0.0.1:{port}/test"))
}

/// Connects a plain client (for setup and for checks behind the engine's back).
pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("postgres reachable");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

pub struct PgFixture;

/// PostgreSQL read through ConnectorX instead of the binary COPY reader.
pub struct PgConnectorXFixture;

pub struct PgNamespace {
    pub base: String,
    pub schema: String,
    pub client: tokio_postgres::Client,
    /// Source options every URL of this namespace carries.
    pub options: String,
}

#[async_trait]
impl Fixture for PgFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        Arc::new(PgNamespace::new(test).await)
    }
}

#[async_trait]
impl Fixture for PgConnectorXFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        let mut ns = PgNamespace::new(&format!("{test}_cx")).await;
        ns.options = "reader=connectorx".into();
        Arc::new(ns)
    }
}

impl PgNamespace {
    pub async fn new(test: &str) -> Self {
        let base = postgres_url().await;
        let client = pg_client(&base).await;
        Self::on(base, client, test).await
    }

    /// A namespace whose sources connect with `base` and whose set-up runs on `client`.
    pub async fn on(base: String, client: tokio_postgres::Client, test: &str) -> Self {
        let schema = format!("vp_{test}");
        client
            .batch_execute(&format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
            ))
            .await
            .expect("create schema");
        Self {
            base,
            schema,
            client,
            options: String::new(),
        }
    }
}

#[async_trait]
impl Namespace for PgNamespace {
    async fn exec(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn url(&self, options: &str) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        let mut u = format!("{}{sep}schema={}", self.base, self.schema);
        if !self.options.is_empty() {
            u.push('&');
            u.push_str(&self.options);
        }
        if !options.is_empty() {
            u.push('&');
            u.push_str(options);
        }
        u
    }

    fn ty(&self, t: Ty) -> &'static str {
        match t {
            Ty::BigInt => "bigint",
            Ty::Int => "integer",
            Ty::Text => "text",
            Ty::Double => "double precision",
            Ty::Bool => "boolean",
            Ty::Date => "date",
            Ty::Decimal => "numeric(12,2)",
            Ty::Timestamp3 => "timestamp(3)",
        }
    }

    async fn cleanup(&self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await;
    }

    fn qualifier(&self) -> String {
        self.schema.clone()
    }
}

/// The MySQL/MariaDB URL the tests use (a server URL without a database).
pub fn mysql_base() -> String {
    std::env::var("VP_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

pub struct MySqlFixture;

/// MySQL read through ConnectorX instead of the native binary-protocol reader.
pub struct MySqlConnectorXFixture;

pub struct MySqlNamespace {
    /// The server URL (without a database) sources connect with.
    pub base: String,
    pub database: String,
    conn: std::sync::Mutex<mysql::Conn>,
    /// Source options every URL of this namespace carries.
    pub options: String,
}

impl MySqlNamespace {
    pub fn new(test: &str) -> Self {
        Self::on(
            mysql_base(),
            mysql::Opts::from_url(&mysql_base()).unwrap(),
            test,
        )
    }

    /// A namespace whose sources connect with `base` and whose set-up connects with `admin`.
    pub fn on(base: String, admin: mysql::Opts, test: &str) -> Self {
        use mysql::prelude::Queryable;
        let database = format!("vp_{test}");
        let mut conn = mysql::Conn::new(admin).expect("MySQL reachable");
        conn.query_drop(format!(
            "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES'; \
             DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database} CHARACTER SET utf8mb4; USE {database}"
        ))
        .expect("create database");
        Self {
            base,
            database,
            conn: std::sync::Mutex::new(conn),
            options: String::new(),
        }
    }
}

impl MySqlNamespace {
    /// Runs a query in the namespace and returns its rows as the server prints them.
    pub fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use mysql::prelude::Queryable;
        let mut conn = self.conn.lock().unwrap();
        let rows: Vec<mysql::Row> = conn.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        mysql::Value::NULL => None,
                        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                        other => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect()
    }
}

#[async_trait]
impl Fixture for MySqlFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        Arc::new(MySqlNamespace::new(test))
    }
}

#[async_trait]
impl Fixture for MySqlConnectorXFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        let mut ns = MySqlNamespace::new(&format!("{test}_cx"));
        ns.options = "reader=connectorx".into();
        Arc::new(ns)
    }
}

#[async_trait]
impl Namespace for MySqlNamespace {
    async fn exec(&self, sql: &str) {
        use mysql::prelude::Queryable;
        let mut conn = self.conn.lock().unwrap();
        let mut result = conn
            .query_iter(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        // Every statement's outcome, so that an error in a later statement is not lost.
        while let Some(set) = result.iter() {
            for row in set {
                row.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    fn url(&self, options: &str) -> String {
        let (server, query) = self.base.split_once('?').unwrap_or((&self.base, ""));
        let mut u = format!("{server}/{}?tinyint1_as_bool=true", self.database);
        if !query.is_empty() {
            u.push('&');
            u.push_str(query);
        }
        if !self.options.is_empty() {
            u.push('&');
            u.push_str(&self.options);
        }
        if !options.is_empty() {
            u.push('&');
            u.push_str(options);
        }
        u
    }

    fn ty(&self, t: Ty) -> &'static str {
        match t {
            Ty::BigInt => "BIGINT",
            Ty::Int => "INT",
            Ty::Text => "TEXT",
            Ty::Double => "DOUBLE",
            Ty::Bool => "BOOLEAN",
            Ty::Date => "DATE",
            Ty::Decimal => "DECIMAL(12,2)",
            Ty::Timestamp3 => "DATETIME(3)",
        }
    }

    async fn cleanup(&self) {
        use mysql::prelude::Queryable;
        let _ = self
            .conn
            .lock()
            .unwrap()
            .query_drop(format!("DROP DATABASE IF EXISTS {}", self.database));
    }

    fn qualifier(&self) -> String {
        self.database.clone()
    }
}

pub struct SqliteFixture;

pub struct SqliteNamespace {
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

#[async_trait]
impl Fixture for SqliteFixture {
    async fn namespace(&self, _test: &str) -> Arc<dyn Namespace> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.db");
        rusqlite::Connection::open(&path).expect("create sqlite file");
        Arc::new(SqliteNamespace { _dir: dir, path })
    }
}

#[async_trait]
impl Namespace for SqliteNamespace {
    async fn exec(&self, sql: &str) {
        let conn = rusqlite::Connection::open(&self.path).expect("open");
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn url(&self, options: &str) -> String {
        if options.is_empty() {
            format!("sqlite://{}", self.path.display())
        } else {
            format!("sqlite://{}?{options}", self.path.display())
        }
    }

    fn ty(&self, t: Ty) -> &'static str {
        match t {
            Ty::BigInt | Ty::Int => "INTEGER",
            Ty::Text => "TEXT",
            Ty::Double => "DOUBLE",
            Ty::Bool => "BOOLEAN",
            Ty::Date => "DATE",
            Ty::Decimal => "DECIMAL(12,2)",
            Ty::Timestamp3 => "TIMESTAMP",
        }
    }

    async fn cleanup(&self) {}
}

/// The Snowflake URL the tests use: `scripts/test.sh` starts the fakesnow emulator and sets it.
pub fn snowflake_url() -> url::Url {
    let u = std::env::var("VP_SNOWFLAKE_URL").expect(
        "VP_SNOWFLAKE_URL is not set: run the tests with `bash scripts/test.sh`, which starts \
         the fakesnow emulator, or point it at a Snowflake account",
    );
    url::Url::parse(&u).expect("VP_SNOWFLAKE_URL is a URL")
}

/// Splits a script into statements at `;` outside quotes.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

pub struct SnowflakeFixture;

pub struct SnowflakeNamespace {
    /// The schema's name as the engine shows it (stored upper-cased).
    pub schema: String,
    pub connector: vibe_piper::connector::snowflake::SnowflakeConnector,
}

impl SnowflakeNamespace {
    pub async fn new(test: &str) -> Self {
        use vibe_piper::connector::Executor;
        let schema = format!("vp_{test}").to_ascii_lowercase();
        let base =
            vibe_piper::connector::snowflake::SnowflakeConnector::connect(snowflake_url().as_str())
                .await
                .expect("Snowflake reachable");
        // A schema left by an earlier run goes first, with its tables.
        for sql in [
            format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            format!("CREATE SCHEMA {schema}"),
        ] {
            base.execute(&sql, &[]).await.expect("create schema");
        }
        let connector = vibe_piper::connector::snowflake::SnowflakeConnector::connect(
            &Self::url_for(&schema, ""),
        )
        .await
        .expect("connect to the test schema");
        Self { schema, connector }
    }

    fn url_for(schema: &str, options: &str) -> String {
        let mut u = snowflake_url();
        let db = u
            .path_segments()
            .and_then(|mut s| s.next().map(str::to_string))
            .unwrap_or_else(|| "VP_TEST".into());
        u.set_path(&format!("/{db}/{}", schema.to_ascii_uppercase()));
        let mut text = u.to_string();
        if !options.is_empty() {
            text.push(if u.query().is_some() { '&' } else { '?' });
            text.push_str(options);
        }
        text
    }

    /// Runs a query and returns its rows as text.
    pub async fn text_rows(&self, sql: &str) -> Vec<String> {
        use vibe_piper::connector::ExecutorExt;
        let batches = self
            .connector
            .fetch_all(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows(&batches)
    }
}

#[async_trait]
impl Fixture for SnowflakeFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        Arc::new(SnowflakeNamespace::new(test).await)
    }
}

#[async_trait]
impl Namespace for SnowflakeNamespace {
    async fn exec(&self, sql: &str) {
        use vibe_piper::connector::Executor;
        for stmt in split_statements(sql) {
            self.connector
                .execute(&stmt, &[])
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
    }

    fn url(&self, options: &str) -> String {
        Self::url_for(&self.schema, options)
    }

    fn ty(&self, t: Ty) -> &'static str {
        match t {
            Ty::BigInt => "BIGINT",
            Ty::Int => "INT",
            Ty::Text => "VARCHAR",
            Ty::Double => "DOUBLE",
            Ty::Bool => "BOOLEAN",
            Ty::Date => "DATE",
            Ty::Decimal => "NUMBER(12,2)",
            Ty::Timestamp3 => "TIMESTAMP_NTZ(3)",
        }
    }

    async fn cleanup(&self) {
        use vibe_piper::connector::Executor;
        let _ = self
            .connector
            .execute(
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
                &[],
            )
            .await;
    }

    fn qualifier(&self) -> String {
        self.schema.clone()
    }
}

/// An engine with the namespace registered as `src`.
pub async fn engine(ns: &dyn Namespace, builder: EngineBuilder, options: &str) -> Engine {
    let engine = builder.build();
    engine
        .register_source("src", &ns.url(options))
        .await
        .expect("register source");
    engine
}

/// Rows as strings (`a|b|c`), in result order.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = vec![];
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                fmts.iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

/// Rows as strings, sorted.
pub fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut r = rows(batches);
    r.sort();
    r
}

/// Runs a query and returns its rows.
pub async fn query(engine: &Engine, sql: &str) -> Vec<String> {
    rows(
        &engine
            .sql_collect(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}")),
    )
}

/// The text of `EXPLAIN <sql>` (both plans).
pub async fn explain(engine: &Engine, sql: &str) -> String {
    let batches = engine
        .sql_collect(&format!("EXPLAIN {sql}"))
        .await
        .expect("explain");
    rows(&batches).join("\n")
}

/// The `RemoteScanExec` line of `EXPLAIN ANALYZE <sql>` (its metrics).
pub async fn analyzed_scan(engine: &Engine, sql: &str) -> String {
    let out = query(engine, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .join("\n");
    out.lines()
        .find(|l| l.contains("RemoteScanExec"))
        .unwrap_or_else(|| panic!("no scan in {out}"))
        .to_string()
}

/// The BigQuery URL the tests use: `scripts/test.sh` starts the bqemulator emulator and sets it.
pub fn bigquery_url() -> url::Url {
    let u = std::env::var("VP_BIGQUERY_URL").expect(
        "VP_BIGQUERY_URL is not set: run the tests with `bash scripts/test.sh`, which starts \
         the bqemulator emulator, or point it at a BigQuery project",
    );
    url::Url::parse(&u).expect("VP_BIGQUERY_URL is a URL")
}

/// Whether the BigQuery under test is the emulator (some assertions need the real service).
pub fn bigquery_is_emulator() -> bool {
    bigquery_url().query_pairs().any(|(k, _)| k == "endpoint")
}

pub struct BigQueryFixture;

pub struct BigQueryNamespace {
    /// The dataset that holds the test's tables.
    pub dataset: String,
    pub connector: vibe_piper::connector::bigquery::BigQueryConnector,
}

/// An Arrow type for a column type of the conformance suite's DDL.
fn bigquery_ddl_type(ty: &str) -> arrow::datatypes::DataType {
    use arrow::datatypes::{DataType, TimeUnit};
    let t = ty.trim().to_ascii_uppercase();
    match t.split('(').next().unwrap_or("").trim() {
        "BIGINT" | "INT64" | "INTEGER" | "INT" => DataType::Int64,
        "TEXT" | "STRING" | "VARCHAR" => DataType::Utf8,
        "DOUBLE" | "FLOAT64" => DataType::Float64,
        "BOOL" | "BOOLEAN" => DataType::Boolean,
        "DATE" => DataType::Date32,
        "NUMERIC" => DataType::Decimal128(12, 2),
        "DATETIME" | "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "BYTES" => DataType::Binary,
        other => panic!("no BigQuery type for `{other}` in the test DDL"),
    }
}

/// Splits at commas outside parentheses and quotes.
fn split_top(defs: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (vec![], String::new(), 0, None::<char>);
    for ch in defs.chars() {
        match (quote, ch) {
            (None, '"' | '`' | '\'') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn unquote(name: &str) -> String {
    name.trim()
        .trim_matches(|c| c == '"' || c == '`')
        .to_string()
}

/// The suite's SQL as GoogleSQL: `"name"` as `` `name` ``, and backslashes in string literals
/// escaped (GoogleSQL reads `\` as an escape).
pub fn google_sql(sql: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (None, '"') => {
                quote = Some('"');
                out.push('`');
            }
            (Some('"'), '"') => {
                quote = None;
                out.push('`');
            }
            (None, '\'') => {
                quote = Some('\'');
                out.push(ch);
            }
            (Some('\''), '\'') => {
                quote = None;
                out.push(ch);
            }
            (Some('\''), '\\') => out.push_str("\\\\"),
            _ => out.push(ch),
        }
    }
    out
}

impl BigQueryNamespace {
    pub async fn new(test: &str) -> Self {
        use vibe_piper::connector::Executor;
        let dataset = format!("vp_{test}").to_ascii_lowercase();
        let base =
            vibe_piper::connector::bigquery::BigQueryConnector::connect(bigquery_url().as_str())
                .await
                .expect("BigQuery reachable");
        // A dataset left by an earlier run goes first, with its tables.
        for sql in [
            format!("DROP SCHEMA IF EXISTS {dataset} CASCADE"),
            format!("CREATE SCHEMA {dataset}"),
        ] {
            base.execute(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let connector = vibe_piper::connector::bigquery::BigQueryConnector::connect(
            &Self::url_for(&dataset, ""),
        )
        .await
        .expect("connect to the test dataset");
        Self { dataset, connector }
    }

    pub fn url_for(dataset: &str, options: &str) -> String {
        let mut u = bigquery_url();
        u.set_path(&format!("/{dataset}"));
        let mut text = u.to_string();
        if !options.is_empty() {
            text.push(if u.query().is_some() { '&' } else { '?' });
            text.push_str(options);
        }
        text
    }

    /// Creates a table through the tables API (the emulator's DDL drifts types).
    async fn create(&self, stmt: &str) {
        use arrow::datatypes::{Field, Schema};
        let open = stmt.find('(').expect("CREATE TABLE name (...)");
        let name = unquote(stmt[..open].trim().rsplit(' ').next().unwrap());
        let defs = &stmt[open + 1..stmt.rfind(')').unwrap()];
        let fields: Vec<Field> = split_top(defs)
            .iter()
            .map(|d| {
                let d = d.trim();
                let (col, rest) = if d.starts_with('"') || d.starts_with('`') {
                    let end = d[1..].find(['"', '`']).unwrap() + 1;
                    (unquote(&d[..=end]), d[end + 1..].trim())
                } else {
                    let (c, r) = d.split_once(' ').unwrap();
                    (c.to_string(), r.trim())
                };
                let key = rest.to_ascii_uppercase().contains("PRIMARY KEY");
                let ty = rest
                    .to_ascii_uppercase()
                    .replace("PRIMARY KEY", "")
                    .replace("NOT NULL", "");
                Field::new(
                    col,
                    bigquery_ddl_type(&ty),
                    !key && !rest.to_ascii_uppercase().contains("NOT NULL"),
                )
            })
            .collect();
        self.connector
            .create_table(
                &vibe_piper::connector::TableName::new(self.dataset.as_str(), name.as_str()),
                &Schema::new(fields),
            )
            .await
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }

    /// Runs a query and returns its rows as text.
    pub async fn text_rows(&self, sql: &str) -> Vec<String> {
        use vibe_piper::connector::ExecutorExt;
        let batches = self
            .connector
            .fetch_all(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows(&batches)
    }
}

#[async_trait]
impl Fixture for BigQueryFixture {
    async fn namespace(&self, test: &str) -> Arc<dyn Namespace> {
        Arc::new(BigQueryNamespace::new(test).await)
    }
}

#[async_trait]
impl Namespace for BigQueryNamespace {
    async fn exec(&self, sql: &str) {
        use vibe_piper::connector::Executor;
        for stmt in split_statements(sql) {
            if stmt.to_ascii_uppercase().starts_with("CREATE TABLE") {
                self.create(&stmt).await;
                continue;
            }
            // The emulator ignores the default dataset: name it.
            let stmt = match stmt.strip_prefix("INSERT INTO ") {
                Some(rest) if !rest.split_whitespace().next().unwrap_or("").contains('.') => {
                    format!("INSERT INTO {}.{rest}", self.dataset)
                }
                _ => stmt,
            };
            let stmt = google_sql(&stmt);
            self.connector
                .execute(&stmt, &[])
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", stmt.chars().take(300).collect::<String>()));
        }
    }

    fn url(&self, options: &str) -> String {
        Self::url_for(&self.dataset, options)
    }

    fn ty(&self, t: Ty) -> &'static str {
        match t {
            Ty::BigInt => "INT64",
            Ty::Int => "INT64",
            Ty::Text => "STRING",
            Ty::Double => "FLOAT64",
            Ty::Bool => "BOOL",
            Ty::Date => "DATE",
            Ty::Decimal => "NUMERIC",
            Ty::Timestamp3 => "DATETIME",
        }
    }

    async fn cleanup(&self) {
        use vibe_piper::connector::Executor;
        let _ = self
            .connector
            .execute(
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.dataset),
                &[],
            )
            .await;
    }

    fn qualifier(&self) -> String {
        self.dataset.clone()
    }
}

// The S3 emulator (moto) `scripts/test.sh` starts, or the endpoint VP_S3_ENDPOINT names.

pub fn s3_endpoint() -> String {
    std::env::var("VP_S3_ENDPOINT").expect(
        "VP_S3_ENDPOINT is not set: run the tests with `bash scripts/test.sh`, which starts \
         the moto S3 emulator",
    )
}

pub fn s3_bucket() -> String {
    std::env::var("VP_S3_BUCKET").unwrap_or_else(|_| "vp-test".into())
}

/// The query options every S3 URL of the tests carries (moto takes any keys).
pub fn s3_options() -> String {
    format!(
        "endpoint={}&allow_http=true&region=us-east-1&access_key_id=test&secret_access_key=vp-secret-123",
        s3_endpoint()
    )
}

/// `s3://bucket/<prefix>/?options` for the emulator.
pub fn s3_url(prefix: &str) -> String {
    format!("s3://{}/{prefix}/?{}", s3_bucket(), s3_options())
}

pub fn s3_store() -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(s3_bucket())
        .with_endpoint(s3_endpoint())
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("vp-secret-123")
        .build()
        .unwrap()
}

/// A prefix no other test run uses.
pub fn unique(test: &str) -> String {
    format!(
        "{test}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// `f.sorted` holds ids 0..10,000 sorted in ten row groups: a filter on the last 500 reads one.
pub async fn assert_nine_of_ten_row_groups_pruned(engine: &Engine) {
    let sql = "SELECT count(*), min(id) FROM f.sorted WHERE id >= 9500";
    assert_eq!(query(engine, sql).await, vec!["500|9500"]);
    let analyzed = query(engine, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .join("\n");
    let pruned = analyzed
        .split("row_groups_pruned_statistics=")
        .nth(1)
        .unwrap_or_else(|| panic!("no pruning metric in {analyzed}"));
    assert!(
        pruned.starts_with("10 total → 1 matched"),
        "nine of ten row groups pruned: {analyzed}"
    );
}
