//! A PostgreSQL URL, read once into the options its source, connector and readers share.

use std::sync::Arc;

use super::client::Target;
use super::conn::Endpoint;
use super::passfile;
use super::tls::{PgTls, SslMode};
use super::{PartitionMethod, ReaderKind, DEFAULT_CHUNK_PAGES};
use crate::connector::options::UrlOptions;
use crate::connector::tls::{Roots, Verify};
use crate::connector::PoolOptions;
use crate::error::{redact_url, scrub, Error, Result};

/// URL options tokio-postgres reads; they go to the driver unchanged.
const DRIVER_OPTIONS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// Everything a PostgreSQL URL says.
#[derive(Clone)]
pub(crate) struct PgOptions {
    /// How scans are split (`partition`).
    pub(crate) partition: PartitionMethod,
    /// Pages per chunk query (`chunk_pages`).
    pub(crate) chunk_pages: i64,
    /// The schema two-part names resolve in (`schema`).
    pub(crate) schema: String,
    /// Which reader scans use (`reader`).
    pub(crate) reader: ReaderKind,
    /// The connector's pool.
    pub(crate) pool: PoolOptions,
    /// The driver's connection settings (host, user, password, database, driver options)
    /// and TLS.
    pub(crate) endpoint: Endpoint,
    /// The URL as the driver reads it: scheme `postgresql`, this crate's options removed, the
    /// password found in `PGPASSWORD` or a password file put in (ConnectorX reads it, with the
    /// TLS options of [`cx_url`](Self::cx_url)).
    pub(crate) driver_url: String,
    /// The server and its secret, for errors.
    pub(crate) target: Target,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redact_url(&self.driver_url))
            .field("partition", &self.partition)
            .field("chunk_pages", &self.chunk_pages)
            .field("schema", &self.schema)
            .field("reader", &self.reader)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// Reads `url`; its pool options override `pool`. An unknown option is an error that
    /// lists the valid ones.
    pub(crate) fn parse(url: &str, mut pool: PoolOptions) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })?;
        let mut options = UrlOptions::new(url, &parsed);
        let partition = options
            .choice(
                "partition",
                &[
                    ("ctid", PartitionMethod::Ctid),
                    ("key", PartitionMethod::Key),
                    ("none", PartitionMethod::None),
                ],
            )?
            .unwrap_or(PartitionMethod::Ctid);
        let chunk_pages = options
            .positive("chunk_pages")?
            .unwrap_or(DEFAULT_CHUNK_PAGES);
        let schema = options.take("schema").unwrap_or_else(|| "public".into());
        let reader = options
            .choice(
                "reader",
                &[
                    ("native", ReaderKind::Copy),
                    ("copy", ReaderKind::Copy),
                    ("connectorx", ReaderKind::ConnectorX),
                ],
            )?
            .unwrap_or(ReaderKind::Copy);
        options.pool(&mut pool)?;
        let sslmode = options.parse("sslmode", SslMode::TAKES, SslMode::parse)?;
        let tls = PgTls::new(
            sslmode,
            options.take("sslrootcert"),
            options.take("sslcert"),
            options.take("sslkey"),
        )
        .map_err(|reason| options.bad(reason))?;
        let passfile = options.take("passfile");
        let driver = options.driver(DRIVER_OPTIONS);
        options.finish()?;

        let mut target = Target {
            target: format!(
                "postgres at {}:{}{}",
                parsed.host_str().unwrap_or("localhost"),
                parsed.port().unwrap_or(5432),
                parsed.path()
            ),
            password: crate::connector::url_password(&parsed),
        };
        let mut driver_url = parsed.clone();
        driver_url.set_query(None);
        let _ = driver_url.set_scheme("postgresql");
        crate::connector::set_url_options(&mut driver_url, &driver);
        let mut driver_url = driver_url.to_string();
        if driver_url.ends_with('?') {
            driver_url.pop();
        }
        let mut config: tokio_postgres::Config =
            driver_url
                .parse()
                .map_err(|e: tokio_postgres::Error| Error::InvalidUrl {
                    url: redact_url(url),
                    reason: scrub(&e.to_string(), target.password.as_deref()),
                })?;
        // libpq's order: the URL, `PGPASSWORD`, then the password file.
        if config.get_password().is_none() {
            let found = std::env::var("PGPASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .or_else(|| passfile::lookup(passfile.as_deref(), &config));
            if let Some(password) = found {
                config.password(password.as_str());
                driver_url = crate::connector::url_with_password(&driver_url, &password);
                target.password = Some(password);
            }
        }
        Ok(Self {
            partition,
            chunk_pages,
            schema,
            reader,
            pool,
            endpoint: Endpoint {
                config,
                tls: Arc::new(tls),
            },
            driver_url,
            target,
        })
    }
}

impl PgOptions {
    /// The URL the ConnectorX reader reads: the driver URL with TLS options it understands
    /// (its vendored copy reads `verify-ca` and `verify-full`; see vendor/connectorx). `allow`
    /// and `prefer` decide at connect time: the reader is told what this crate's own
    /// connections found.
    pub(crate) fn cx_url(&self) -> String {
        let tls = &self.endpoint.tls;
        let mode = match (tls.mode, tls.negotiated()) {
            (SslMode::Disable, _) | (SslMode::Allow, Some(false) | None) => "disable",
            (SslMode::Prefer, Some(false)) => "disable",
            (SslMode::Prefer, _) => "prefer",
            (SslMode::Allow, Some(true)) | (SslMode::Require, _) => "require",
            (SslMode::VerifyCa, _) => "verify-ca",
            (SslMode::VerifyFull, _) => "verify-full",
        };
        let mut options = vec![("sslmode".to_string(), mode.to_string())];
        if mode != "disable" {
            match (&tls.root, tls.verify()) {
                (Some(Roots::File(path)), v) if v != Verify::Nothing => {
                    options.push(("sslrootcert".into(), path.to_string_lossy().into_owned()))
                }
                (Some(Roots::System), _) => options.push(("sslrootcert".into(), "system".into())),
                _ => {}
            }
            if let Some((cert, key)) = &tls.client {
                options.push(("sslcert".into(), cert.to_string_lossy().into_owned()));
                options.push(("sslkey".into(), key.to_string_lossy().into_owned()));
            }
        }
        match url::Url::parse(&self.driver_url) {
            Ok(mut u) => {
                let mut pairs: Vec<(String, String)> = crate::connector::url_options(&u);
                pairs.extend(options);
                u.set_query(None);
                crate::connector::set_url_options(&mut u, &pairs);
                u.to_string()
            }
            Err(_) => self.driver_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_for_source_connector_and_driver() {
        let o = PgOptions::parse(
            "postgres://u:s3cret@db.example:6543/shop?partition=key&chunk_pages=8&schema=sales\
             &reader=connectorx&pool_size=3&application_name=vp&connect_timeout=5",
            PoolOptions::default(),
        )
        .unwrap();
        assert_eq!(o.partition, PartitionMethod::Key);
        assert_eq!(o.chunk_pages, 8);
        assert_eq!(o.schema, "sales");
        assert_eq!(o.reader, ReaderKind::ConnectorX);
        assert_eq!(o.pool.pool_size, 3);
        assert!(
            o.driver_url
                .starts_with("postgresql://u:s3cret@db.example:6543/shop?application"),
            "{}",
            o.driver_url
        );
        let config = &o.endpoint.config;
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        assert_eq!(config.get_application_name(), Some("vp"));
        assert_eq!(config.get_dbname(), Some("shop"));
        assert!(!format!("{o:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_options_list_the_valid_ones() {
        let err = PgOptions::parse(
            "postgres://u:s3cret@h/db?chunk_page=8",
            PoolOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown option `chunk_page`"), "{err}");
        assert!(
            err.contains("chunk_pages") && err.contains("pool_size") && err.contains("sslmode"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}
