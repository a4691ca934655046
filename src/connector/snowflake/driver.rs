//! The one place this backend opens connections: the ADBC Snowflake driver, found and loaded
//! at run time, its database handle, and the pool's connections. ADBC calls block; every one
//! of them runs on a blocking thread ([`blocking`]), never on the async executor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use adbc_core::error::Status;
use adbc_core::options::{AdbcVersion, OptionDatabase, OptionStatement, OptionValue};
use adbc_core::{Connection, Database, Driver, Optionable, Statement};
use adbc_driver_manager::{ManagedConnection, ManagedDatabase, ManagedDriver, ManagedStatement};
use arrow::record_batch::{RecordBatch, RecordBatchReader};

use super::options::SfOptions;
use crate::error::{scrub, Error, Result};

/// The environment variable naming the driver library.
pub const DRIVER_ENV: &str = "VP_SNOWFLAKE_DRIVER";
/// The driver library's file name in the `adbc-driver-snowflake` wheel.
const LIBRARY: &str = "libadbc_driver_snowflake.so";
const ENTRYPOINT: &[u8] = b"AdbcDriverSnowflakeInit";

/// How to get the driver, for errors.
const INSTALL_HINT: &str = "install it with `pip install adbc-driver-snowflake` (the wheel \
    ships libadbc_driver_snowflake.so, which needs only libc), or name the library with \
    driver=PATH in the URL or the VP_SNOWFLAKE_DRIVER environment variable";

/// Finds the driver library: the URL's `driver=`, then [`DRIVER_ENV`], then an installed
/// `adbc_driver_snowflake` Python package (asked of `python3`).
pub(crate) fn locate(named: Option<&Path>) -> Result<PathBuf> {
    let missing = |what: String| Error::Config(format!("{what}: {INSTALL_HINT}"));
    if let Some(p) = named {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing(format!(
                "no Snowflake ADBC driver at {} (driver=)",
                p.display()
            )))
        };
    }
    if let Some(p) = std::env::var_os(DRIVER_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(missing(format!(
                "no Snowflake ADBC driver at {} ({DRIVER_ENV})",
                p.display()
            )))
        };
    }
    for python in ["python3", "python"] {
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import adbc_driver_snowflake, os; print(os.path.dirname(adbc_driver_snowflake.__file__))",
            ])
            .stderr(std::process::Stdio::null())
            .output();
        if let Ok(out) = out {
            if out.status.success() {
                let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let p = Path::new(&dir).join(LIBRARY);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
    }
    Err(missing("the Snowflake ADBC driver was not found".into()))
}

/// Loads the driver library once per path (loading it again would map it again).
fn load(path: &Path) -> Result<ManagedDriver> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, ManagedDriver>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
    let mut loaded = loaded
        .lock()
        .map_err(|_| Error::Config("the Snowflake driver cache is poisoned".into()))?;
    if let Some(d) = loaded.get(path) {
        return Ok(d.clone());
    }
    let driver =
        ManagedDriver::load_dynamic_from_filename(path, Some(ENTRYPOINT), AdbcVersion::V110)
            .map_err(|e| {
                Error::Config(format!(
                    "cannot load the Snowflake ADBC driver {}: {}; {INSTALL_HINT}",
                    path.display(),
                    e.message
                ))
            })?;
    loaded.insert(path.to_path_buf(), driver.clone());
    Ok(driver)
}

/// An ADBC error as this crate's error, scrubbed of the password.
pub(crate) fn adbc_err(e: adbc_core::error::Error, secret: Option<&str>) -> Error {
    let sqlstate: String = e
        .sqlstate
        .iter()
        .map(|c| *c as u8 as char)
        .filter(|c| *c != '\0')
        .collect();
    let message = scrub(&e.message, secret);
    // Snowflake's own error numbers (the vendor code): NULL into a NOT NULL column, and the
    // SQL compiler's syntax error.
    match e.vendor_code {
        100072 => {
            return Error::Constraint {
                backend: "snowflake",
                kind: crate::error::ConstraintKind::NotNull,
                constraint: None,
                code: "100072".into(),
                message,
            }
        }
        1003 if sqlstate == "42000" => {
            return Error::Syntax {
                backend: "snowflake",
                code: "001003".into(),
                message,
            }
        }
        _ => {}
    }
    match e.status {
        Status::Unauthenticated | Status::Unauthorized => Error::Connection {
            target: "snowflake".into(),
            message,
        },
        Status::IO | Status::Timeout => Error::Source {
            backend: "snowflake",
            code: (!sqlstate.is_empty() && sqlstate != "00000").then_some(sqlstate),
            message,
            retryable: true,
        },
        _ => Error::Source {
            backend: "snowflake",
            code: if sqlstate.is_empty() || sqlstate == "00000" {
                (e.vendor_code != 0 && e.vendor_code != i32::MIN)
                    .then(|| format!("{:06}", e.vendor_code))
            } else {
                Some(sqlstate)
            },
            message,
            // Snowflake rolls back a statement that hit a deadlock or lock timeout.
            retryable: false,
        },
    }
}

/// Runs a blocking ADBC call off the async executor.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Source {
            backend: "snowflake",
            code: None,
            message: format!(
                "a Snowflake driver call failed unexpectedly: {}",
                match e.try_into_panic() {
                    Ok(payload) => crate::read::panic_message(&*payload),
                    Err(e) => e.to_string(),
                }
            ),
            retryable: false,
        })?
}

/// The driver's database handle for one URL: every connection of the pool is opened from it.
#[derive(Clone)]
pub(crate) struct SfDatabase {
    db: ManagedDatabase,
    options: Arc<SfOptions>,
}

impl std::fmt::Debug for SfDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfDatabase")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SfDatabase {
    /// Loads the driver and sets up the database handle (no network yet).
    pub(crate) fn open(options: Arc<SfOptions>) -> Result<Self> {
        let path = locate(options.driver.as_deref())?;
        let mut driver = load(&path)?;
        let opts = options
            .driver_options()?
            .into_iter()
            .map(|(k, v)| {
                let key = match k.as_str() {
                    "username" => OptionDatabase::Username,
                    "password" => OptionDatabase::Password,
                    _ => OptionDatabase::Other(k),
                };
                (key, OptionValue::String(v))
            })
            .collect::<Vec<_>>();
        let db = driver
            .new_database_with_opts(opts)
            .map_err(|e| adbc_err(e, options.secret()))?;
        Ok(Self { db, options })
    }

    /// The URL's options.
    pub(crate) fn options(&self) -> &SfOptions {
        &self.options
    }

    /// The temporary stage of this crate's bulk loads, in the URL's database and schema.
    pub(crate) fn load_stage(&self) -> String {
        let q = super::connector::quote_ident;
        format!(
            "{}.{}.{}",
            q(&self.options.database),
            q(&self.options.schema),
            q("VP_LOAD_STAGE")
        )
    }

    /// Opens one connection (blocking: logs in), with the URL's query tag.
    pub(crate) fn connect_blocking(&self) -> Result<SfConn> {
        let secret = self.options.secret();
        let conn = self.db.new_connection().map_err(|e| {
            let e = adbc_err(e, secret);
            Error::Connection {
                target: self.options.target(),
                message: e.to_string(),
            }
        })?;
        let mut conn = SfConn {
            conn,
            secret: secret.map(str::to_string),
            query_tag: None,
            discard: Arc::new(AtomicBool::new(false)),
        };
        // The stage bulk loads go through, made now so that a load inside a transaction
        // runs no DDL (DDL would commit the transaction). Temporary: it goes with the session.
        // A role that may not create stages can still read: the load then says so.
        if let Err(e) = conn.execute_blocking(
            &format!("CREATE TEMPORARY STAGE IF NOT EXISTS {}", self.load_stage()),
            None,
        ) {
            log::warn!("snowflake: no load stage ({e}); bulk loads will fail");
        }
        conn.query_tag = self.options.query_tag.clone();
        Ok(conn)
    }
}

/// A SQL string literal (for session settings, which take no bound parameters).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// One connection to Snowflake.
pub struct SfConn {
    conn: ManagedConnection,
    secret: Option<String>,
    /// The `QUERY_TAG` every statement carries (a statement option of the driver).
    query_tag: Option<String>,
    discard: Arc<AtomicBool>,
}

impl std::fmt::Debug for SfConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SfConn")
    }
}

impl SfConn {
    fn err(&self, e: adbc_core::error::Error) -> Error {
        adbc_err(e, self.secret.as_deref())
    }

    fn statement(&mut self, sql: &str, params: Option<RecordBatch>) -> Result<ManagedStatement> {
        let mut stmt = self.conn.new_statement().map_err(|e| self.err(e))?;
        if let Some(tag) = &self.query_tag {
            stmt.set_option(
                OptionStatement::Other("adbc.snowflake.statement.query_tag".into()),
                OptionValue::String(tag.clone()),
            )
            .map_err(|e| self.err(e))?;
        }
        stmt.set_sql_query(sql).map_err(|e| self.err(e))?;
        if let Some(p) = params {
            stmt.bind(p).map_err(|e| self.err(e))?;
        }
        Ok(stmt)
    }

    /// Runs a query; its batches arrive from the returned iterator (errors scrubbed of the
    /// password), with a handle that cancels the statement from another thread.
    pub(crate) fn query_blocking(
        &mut self,
        sql: &str,
        params: Option<RecordBatch>,
    ) -> Result<(SfRows, Canceller)> {
        let mut stmt = self.statement(sql, params)?;
        let cancel = Canceller(Arc::new(stmt.get_cancel_handle()));
        let reader = stmt.execute().map_err(|e| self.err(e))?;
        Ok((
            SfRows {
                reader,
                secret: self.secret.clone(),
                _stmt: stmt,
            },
            cancel,
        ))
    }

    /// Runs a statement; the number of rows it changed (0 when the driver does not say).
    pub(crate) fn execute_blocking(
        &mut self,
        sql: &str,
        params: Option<RecordBatch>,
    ) -> Result<u64> {
        let mut stmt = self.statement(sql, params)?;
        let n = stmt.execute_update().map_err(|e| self.err(e))?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// Every batch of a query, collected (catalog queries: a few rows).
    pub(crate) fn collect_blocking(
        &mut self,
        sql: &str,
        params: Option<RecordBatch>,
    ) -> Result<Vec<RecordBatch>> {
        let (rows, _) = self.query_blocking(sql, params)?;
        rows.collect()
    }

    /// Another handle on the same connection, for a call on a blocking thread while the
    /// pool's handle stays checked out (calls on one connection run one at a time).
    pub(crate) fn shallow(&self) -> SfConn {
        SfConn {
            conn: self.conn.clone(),
            secret: self.secret.clone(),
            query_tag: self.query_tag.clone(),
            discard: self.discard.clone(),
        }
    }

    /// Marks the connection to be closed instead of going back to the pool.
    pub(crate) fn discard(&self) {
        self.discard.store(true, Ordering::Relaxed);
    }
}

/// Cancels a running statement from another thread.
#[derive(Clone)]
pub(crate) struct Canceller(Arc<Box<dyn adbc_core::CancelHandle>>);

impl Canceller {
    /// Asks the driver to stop the statement; errors are ignored (it may have ended).
    pub(crate) fn cancel(&self) {
        let _ = self.0.try_cancel();
    }
}

/// The batches of one statement's result, as this crate's errors; keeps its statement alive.
pub(crate) struct SfRows {
    reader: Box<dyn RecordBatchReader + Send>,
    secret: Option<String>,
    _stmt: ManagedStatement,
}

impl Iterator for SfRows {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.reader.next()?.map_err(|e| Error::Source {
            backend: "snowflake",
            code: None,
            message: scrub(&e.to_string(), self.secret.as_deref()),
            retryable: false,
        }))
    }
}

/// Opens the pool's connections (the type of [`super::SfPoolConn`]'s pool).
#[derive(Debug, Clone)]
pub struct Manager {
    pub(crate) db: SfDatabase,
}

impl bb8::ManageConnection for Manager {
    type Connection = SfConn;
    type Error = Error;

    async fn connect(&self) -> Result<SfConn> {
        let db = self.db.clone();
        blocking(move || db.connect_blocking()).await
    }

    async fn is_valid(&self, conn: &mut SfConn) -> Result<()> {
        let mut c = conn.shallow();
        blocking(move || c.collect_blocking("SELECT 1", None).map(|_| ())).await
    }

    fn has_broken(&self, conn: &mut SfConn) -> bool {
        conn.discard.load(Ordering::Relaxed)
    }
}
