//! A Snowflake URL, read once into the options its source, connector and readers share.
//!
//! `snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA?warehouse=W&role=R&...`

use std::path::PathBuf;

use crate::connector::options::UrlOptions;
use crate::connector::PoolOptions;
use crate::error::{redact_url, Error, Result};

/// The environment variable that holds the private key's passphrase unless the URL names
/// another one (`private_key_passphrase_env=`).
pub const PASSPHRASE_ENV: &str = "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE";

/// Rows per chunk query of a partitioned scan unless the URL says otherwise: no chunking.
pub const DEFAULT_CHUNK_ROWS: i64 = i64::MAX;

/// How a Snowflake URL authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    /// User and password.
    Password(String),
    /// Key-pair (JWT) authentication with a PKCS#8 private key file.
    KeyPair {
        /// The key file.
        path: PathBuf,
        /// Its passphrase, read from the environment.
        passphrase: Option<String>,
    },
}

/// Everything a Snowflake URL says.
#[derive(Clone)]
pub(crate) struct SfOptions {
    /// The login name.
    pub(crate) user: String,
    /// How the login is proven.
    pub(crate) auth: Auth,
    /// The account identifier (`orgname-account` or a locator); the URL's host.
    pub(crate) account: String,
    /// The database the connection starts in (the first path segment).
    pub(crate) database: String,
    /// The schema two-part names resolve in (the second path segment, default `PUBLIC`).
    pub(crate) schema: String,
    /// The warehouse queries run on.
    pub(crate) warehouse: Option<String>,
    /// The role the session takes.
    pub(crate) role: Option<String>,
    /// `https` (default) or `http` (the emulator).
    pub(crate) protocol: Option<String>,
    /// Another endpoint than the account's (a private link, the emulator).
    pub(crate) host: Option<String>,
    /// The endpoint's port.
    pub(crate) port: Option<u16>,
    /// The `QUERY_TAG` every statement carries.
    pub(crate) query_tag: Option<String>,
    /// The ADBC driver library named by the URL (`driver=`).
    pub(crate) driver: Option<PathBuf>,
    /// How long one request to Snowflake may take (`request_timeout`, driver default).
    pub(crate) request_timeout: Option<String>,
    /// How long logging in may take, retries included (`login_timeout`, driver default).
    pub(crate) login_timeout: Option<String>,
    /// Rows per chunk query of a partitioned scan.
    pub(crate) chunk_rows: i64,
    /// The connector's and readers' pool.
    pub(crate) pool: PoolOptions,
    /// The URL with its credentials masked, for messages.
    pub(crate) redacted: String,
}

impl std::fmt::Debug for SfOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfOptions")
            .field("url", &self.redacted)
            .field("account", &self.account)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("warehouse", &self.warehouse)
            .field("role", &self.role)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl SfOptions {
    /// Reads `url`; its pool options override `pool`. An unknown option is an error that
    /// lists the valid ones.
    pub(crate) fn parse(url: &str, mut pool: PoolOptions) -> Result<Self> {
        let redacted = redact_url(url);
        let bad = |reason: &str| Error::InvalidUrl {
            url: redacted.clone(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "snowflake" {
            return Err(Error::UnsupportedScheme {
                scheme: parsed.scheme().to_string(),
                known: "snowflake://".into(),
            });
        }
        let account = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .map(decode)
            .ok_or_else(|| bad("no account: snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA"))?;
        let user = decode(parsed.username());
        if user.is_empty() {
            return Err(bad(
                "no user: snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA",
            ));
        }
        let segments: Vec<String> = parsed
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(decode).collect())
            .unwrap_or_default();
        let (database, schema) = match segments.as_slice() {
            [db] => (db.clone(), "PUBLIC".to_string()),
            [db, schema] => (db.clone(), schema.clone()),
            [] => return Err(bad("no database: snowflake://USER@ACCOUNT/DATABASE/SCHEMA")),
            _ => return Err(bad("the path is DATABASE/SCHEMA, nothing more")),
        };
        let mut options = UrlOptions::new(url, &parsed);
        let warehouse = options.take("warehouse");
        let role = options.take("role");
        let protocol = options
            .choice("protocol", &[("https", "https"), ("http", "http")])?
            .map(str::to_string);
        let host = options.take("host");
        let port = options.parse("port", "a port number", |v| v.parse::<u16>().ok())?;
        let query_tag = options.take("query_tag");
        let driver = options.take("driver").map(PathBuf::from);
        let request_timeout = options.parse("request_timeout", "a duration like 30s", |v| {
            crate::connector::executor::parse_duration(v).map(|_| v.to_string())
        })?;
        let login_timeout = options.parse("login_timeout", "a duration like 30s", |v| {
            crate::connector::executor::parse_duration(v).map(|_| v.to_string())
        })?;
        let chunk_rows = options
            .positive("chunk_rows")?
            .unwrap_or(DEFAULT_CHUNK_ROWS);
        let key_path = options.take("private_key_path");
        let passphrase_env = options.take("private_key_passphrase_env");
        options.pool(&mut pool)?;
        options.finish()?;
        let password = parsed.password().map(decode);
        let auth = match (key_path, password) {
            (Some(path), None) => {
                let var = passphrase_env.unwrap_or_else(|| PASSPHRASE_ENV.to_string());
                Auth::KeyPair {
                    path: PathBuf::from(path),
                    passphrase: std::env::var(&var).ok(),
                }
            }
            (Some(_), Some(_)) => return Err(bad("give a password or private_key_path, not both")),
            (None, Some(p)) => Auth::Password(p),
            (None, None) => {
                return Err(bad(
                    "no credentials: give USER:PASSWORD@ or private_key_path=",
                ))
            }
        };
        Ok(Self {
            user,
            auth,
            account,
            database,
            schema,
            warehouse,
            role,
            protocol,
            host,
            port,
            query_tag,
            driver,
            request_timeout,
            login_timeout,
            chunk_rows,
            pool,
            redacted,
        })
    }

    /// The password, when there is one (to scrub from messages).
    pub(crate) fn secret(&self) -> Option<&str> {
        match &self.auth {
            Auth::Password(p) => Some(p),
            Auth::KeyPair { passphrase, .. } => passphrase.as_deref(),
        }
    }

    /// Where the driver connects, for messages.
    pub(crate) fn target(&self) -> String {
        match (&self.host, self.port) {
            (Some(h), Some(p)) => format!("snowflake account {} at {h}:{p}", self.account),
            (Some(h), None) => format!("snowflake account {} at {h}", self.account),
            _ => format!("snowflake account {}", self.account),
        }
    }

    /// The ADBC database options (keys of the Snowflake driver).
    pub(crate) fn driver_options(&self) -> Result<Vec<(String, String)>> {
        let mut o: Vec<(String, String)> = vec![];
        let mut set = |k: &str, v: &str| o.push((k.to_string(), v.to_string()));
        set("adbc.snowflake.sql.account", &self.account);
        set("username", &self.user);
        set("adbc.snowflake.sql.db", &self.database);
        set("adbc.snowflake.sql.schema", &self.schema);
        if let Some(w) = &self.warehouse {
            set("adbc.snowflake.sql.warehouse", w);
        }
        if let Some(r) = &self.role {
            set("adbc.snowflake.sql.role", r);
        }
        if let Some(p) = &self.protocol {
            set("adbc.snowflake.sql.uri.protocol", p);
        }
        if let Some(h) = &self.host {
            set("adbc.snowflake.sql.uri.host", h);
        }
        if let Some(p) = self.port {
            set("adbc.snowflake.sql.uri.port", &p.to_string());
        }
        if let Some(t) = &self.request_timeout {
            set("adbc.snowflake.sql.client_option.request_timeout", t);
        }
        if let Some(t) = &self.login_timeout {
            set("adbc.snowflake.sql.client_option.login_timeout", t);
        }
        // Nanosecond timestamps wrap after 2262; microseconds are what Arrow columns here hold.
        set(
            "adbc.snowflake.sql.client_option.max_timestamp_precision",
            "microseconds",
        );
        match &self.auth {
            Auth::Password(p) => set("password", p),
            Auth::KeyPair { path, passphrase } => {
                set("adbc.snowflake.sql.auth_type", "auth_jwt");
                let path = path.to_str().ok_or_else(|| Error::InvalidUrl {
                    url: self.redacted.clone(),
                    reason: "private_key_path is not valid UTF-8".into(),
                })?;
                set("adbc.snowflake.sql.client_option.jwt_private_key", path);
                if let Some(pass) = passphrase {
                    set(
                        "adbc.snowflake.sql.client_option.jwt_private_key_pkcs8_password",
                        pass,
                    );
                }
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_path_and_options() {
        let o = SfOptions::parse(
            "snowflake://me:s3cr%40t@myorg-acct/SALES/RAW?warehouse=WH&role=ANALYST\
             &protocol=http&host=127.0.0.1&port=8080&query_tag=vp&pool_size=2&chunk_rows=50",
            PoolOptions::default(),
        )
        .unwrap();
        assert_eq!(o.user, "me");
        assert_eq!(o.account, "myorg-acct");
        assert_eq!((o.database.as_str(), o.schema.as_str()), ("SALES", "RAW"));
        assert_eq!(o.warehouse.as_deref(), Some("WH"));
        assert_eq!(o.role.as_deref(), Some("ANALYST"));
        assert_eq!(o.port, Some(8080));
        assert_eq!(o.pool.pool_size, 2);
        assert_eq!(o.chunk_rows, 50);
        assert!(matches!(&o.auth, Auth::Password(p) if p == "s3cr@t"));
        let driver = o.driver_options().unwrap();
        assert!(driver.contains(&("adbc.snowflake.sql.uri.host".into(), "127.0.0.1".into())));
        assert!(driver.contains(&("password".into(), "s3cr@t".into())));
        assert!(!format!("{o:?}").contains("s3cr"));
        assert_eq!(o.target(), "snowflake account myorg-acct at 127.0.0.1:8080");
        let d = SfOptions::parse("snowflake://me:x@acct/DB", PoolOptions::default()).unwrap();
        assert_eq!(d.schema, "PUBLIC");
    }

    #[test]
    fn key_pair_reads_the_passphrase_from_the_environment() {
        let o = SfOptions::parse(
            "snowflake://me@acct/DB/S?private_key_path=/keys/rsa.p8&private_key_passphrase_env=VP_TEST_NO_SUCH_VAR",
            PoolOptions::default(),
        )
        .unwrap();
        assert!(matches!(
            &o.auth,
            Auth::KeyPair {
                passphrase: None,
                ..
            }
        ));
        let driver = o.driver_options().unwrap();
        assert!(driver.contains(&("adbc.snowflake.sql.auth_type".into(), "auth_jwt".into())));
    }

    #[test]
    fn bad_urls_say_what_is_missing() {
        let err = |u: &str| {
            SfOptions::parse(u, PoolOptions::default())
                .unwrap_err()
                .to_string()
        };
        assert!(err("snowflake://me:pw@acct").contains("no database"));
        assert!(err("snowflake://me@acct/DB").contains("no credentials"));
        assert!(err("snowflake://:pw@acct/DB").contains("no user"));
        let e = err("snowflake://me:pw@acct/DB?warehous=X");
        assert!(
            e.contains("unknown option `warehous`") && e.contains("warehouse"),
            "{e}"
        );
        assert!(!e.contains("pw@"), "{e}");
        assert!(err("snowflake://me:pw@acct/DB?protocol=ftp").contains("protocol takes"));
    }
}
