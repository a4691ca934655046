//! A MySQL URL, read once into the options its source, connector and readers share.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use super::error::Target;
use super::types::ZeroDates;
use super::DEFAULT_CHUNK_ROWS;
use crate::connector::options::UrlOptions;
use crate::connector::tls::{Roots, TlsSpec, Verify};
use crate::connector::PoolOptions;
use crate::error::{redact_url, scrub, Error, Result};

/// URL options mysql_async 0.34 reads; they go to it unchanged. Its pool options (`pool_min`,
/// `pool_max`, `conn_ttl`, `abs_conn_ttl`, `abs_conn_ttl_jitter`, `inactive_connection_ttl`,
/// `ttl_check_interval`, `reset_connection`) are not among them: [`PoolOptions`] replaces them.
const DRIVER_OPTIONS: &[&str] = &[
    "client_found_rows",
    "compression",
    "enable_cleartext_plugin",
    "max_allowed_packet",
    "prefer_socket",
    "secure_auth",
    "socket",
    "stmt_cache_size",
    "tcp_keepalive",
    "tcp_nodelay",
    "wait_timeout",
];

/// Statements every pooled connection runs first.
const SESSION_SETUP: &[&str] = &["SET time_zone = '+00:00'", "SET NAMES utf8mb4"];

/// What `ssl-mode` (alias `sslmode`) asks for: ConnectorX's parameter, read the same way here
/// so that data and metadata connections agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disabled,
    /// Encrypted without verification, as `Required` (the drivers have no fallback to plain
    /// text).
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    const TAKES: &'static str = "disabled, preferred, required, verify_ca or verify_identity";

    /// A mode in any case, `-` or `_` between words (as ConnectorX reads it).
    fn parse(v: &str) -> Option<Self> {
        Some(
            match v.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "disabled" => Self::Disabled,
                "preferred" => Self::Preferred,
                "required" => Self::Required,
                "verify_ca" => Self::VerifyCa,
                "verify_identity" => Self::VerifyIdentity,
                _ => return None,
            },
        )
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Preferred => "preferred",
            Self::Required => "required",
            Self::VerifyCa => "verify_ca",
            Self::VerifyIdentity => "verify_identity",
        }
    }
}

/// TLS: `ssl-mode` (alias `sslmode`), `ssl-ca`, `ssl-cert`, `ssl-key`, with the MySQL client's
/// semantics (see docs/mysql.md): the default is `PREFERRED`, `ssl-ca` without a mode means
/// `VERIFY_CA`, and `PREFERRED`/`REQUIRED` never check the certificate.
#[derive(Debug, Clone)]
pub(crate) struct TlsOptions {
    /// The mode in force.
    pub(crate) mode: SslMode,
    /// `ssl-ca`: the CA certificate that verifies the server (without it, the `VERIFY_*`
    /// modes trust the system's roots).
    pub(crate) ca: Option<PathBuf>,
    /// `ssl-cert` and `ssl-key`: the client's certificate and key (PEM).
    pub(crate) client: Option<(PathBuf, PathBuf)>,
    /// The rustls configuration of the native reader, built at its first connection.
    config: Arc<OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>>>,
    /// For `PREFERRED`: whether the server turned out to offer TLS (0 unknown, 1 no, 2 yes).
    negotiated: Arc<AtomicU8>,
}

impl PartialEq for TlsOptions {
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode && self.ca == other.ca && self.client == other.client
    }
}

impl TlsOptions {
    /// mysql_async's TLS settings; `None` for `DISABLED` (and for `PREFERRED` once the server
    /// turned out not to offer TLS).
    pub(crate) fn ssl_opts(&self) -> Option<mysql_async::SslOpts> {
        let (accept_invalid, skip_domain) = match self.mode {
            SslMode::Disabled => return None,
            SslMode::Preferred if self.negotiated() == Some(false) => return None,
            SslMode::Preferred | SslMode::Required => (true, true),
            SslMode::VerifyCa => (false, true),
            SslMode::VerifyIdentity => (false, false),
        };
        let mut ssl = mysql_async::SslOpts::default()
            .with_danger_accept_invalid_certs(accept_invalid)
            .with_danger_skip_domain_validation(skip_domain);
        if let Some(ca) = &self.ca {
            ssl = ssl.with_root_certs(vec![ca.clone().into()]);
        }
        if let Some((cert, key)) = &self.client {
            ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        Some(ssl)
    }

    /// The rustls configuration for the native reader.
    pub(crate) fn rustls_config(&self) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
        self.config
            .get_or_init(|| {
                let verify = match self.mode {
                    SslMode::VerifyIdentity => Verify::Full,
                    SslMode::VerifyCa => Verify::Chain,
                    _ => Verify::Nothing,
                };
                let roots = match (&self.ca, verify) {
                    (_, Verify::Nothing) => None,
                    (Some(ca), _) => Some(Roots::File(ca.clone())),
                    (None, _) => Some(Roots::System),
                };
                TlsSpec {
                    verify,
                    roots,
                    client: self.client.clone(),
                }
                .client_config()
            })
            .clone()
    }

    /// Records whether the server offered TLS (for `PREFERRED`).
    pub(crate) fn set_negotiated(&self, encrypted: bool) {
        self.negotiated
            .store(if encrypted { 2 } else { 1 }, Ordering::Relaxed);
    }

    /// Whether the server offered TLS, once a connection has found out.
    pub(crate) fn negotiated(&self) -> Option<bool> {
        match self.negotiated.load(Ordering::Relaxed) {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        }
    }

    /// The options again, as ConnectorX reads them (its `mysql` crate has no fallback for
    /// `PREFERRED`: it is told what this crate's connections found).
    fn url_options(&self) -> Vec<(String, String)> {
        let mode = match (self.mode, self.negotiated()) {
            (SslMode::Preferred, Some(false)) => SslMode::Disabled,
            (mode, _) => mode,
        };
        let mut out = vec![("ssl-mode".to_string(), mode.name().to_string())];
        if let Some(ca) = &self.ca {
            out.push(("ssl-ca".to_string(), ca.to_string_lossy().into_owned()));
        }
        out
    }
}

/// Which reader scans use (`reader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReaderKind {
    /// The crate's own binary-protocol reader (`native`, the default).
    Native,
    /// ConnectorX (`connectorx`).
    ConnectorX,
}

/// Everything a MySQL URL says, read once: the source's options, the connector's pool, TLS, and
/// the options passed to the drivers. An unknown option is an error that lists the valid ones.
#[derive(Clone)]
pub(crate) struct MySqlOptions {
    /// The database of the URL's path (empty when it names none: a source needs one, a
    /// connector does not).
    pub(crate) database: String,
    /// Read `tinyint(1)` as Boolean (`tinyint1_as_bool`).
    pub(crate) tinyint1_as_bool: bool,
    /// What zero dates become (`zero_dates`).
    pub(crate) zero_dates: ZeroDates,
    /// Split scans by ranges of an integer primary key (`partition=key`, the default), or not
    /// (`none`).
    pub(crate) partition: bool,
    /// Key values per chunk query (`chunk_rows`).
    pub(crate) chunk_rows: i64,
    /// The reader asked for (`reader`); see [`native_reader`](Self::native_reader).
    pub(crate) reader: ReaderKind,
    /// The connector's pool.
    pub(crate) pool: PoolOptions,
    /// TLS of this crate's connections and ConnectorX's.
    pub(crate) tls: TlsOptions,
    /// Host, port and user (percent-decoded) of the native reader.
    pub(crate) endpoint: (String, u16, String),
    /// The server and its secret, for errors; its `url` is the URL mysql_async reads (scheme
    /// `mysql`, [`driver`](Self::driver) options only).
    pub(crate) target: Target,
    /// The driver URL without TLS options (see [`cx_url`](Self::cx_url)).
    base_url: String,
    /// `socket`: the Unix socket to connect through instead of TCP.
    pub(crate) socket: Option<PathBuf>,
    /// mysql_async's settings: the driver URL, the pool, the session setup and TLS.
    pub(crate) opts: mysql_async::Opts,
}

impl std::fmt::Debug for MySqlOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlOptions")
            .field("url", &redact_url(&self.base_url))
            .field("tinyint1_as_bool", &self.tinyint1_as_bool)
            .field("zero_dates", &self.zero_dates)
            .field("partition", &self.partition)
            .field("chunk_rows", &self.chunk_rows)
            .field("reader", &self.reader)
            .field("pool", &self.pool)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// `url` without its query, with the scheme the drivers know: `mariadb://` is the same
/// protocol, but they accept only `mysql://`.
fn mysql_scheme(url: &url::Url) -> std::result::Result<url::Url, url::ParseError> {
    let mut u = url.clone();
    u.set_query(None);
    if u.scheme() == "mysql" {
        return Ok(u);
    }
    let rest = u.as_str().split_once("://").map_or("", |(_, r)| r);
    url::Url::parse(&format!("mysql://{rest}"))
}

/// `base` with `options` as its query.
fn with_options(base: &url::Url, options: &[(String, String)]) -> String {
    let mut u = base.clone();
    crate::connector::set_url_options(&mut u, options);
    let mut s = u.to_string();
    if s.ends_with('?') {
        s.pop();
    }
    s
}

impl MySqlOptions {
    /// Reads `url`; its pool options override `pool`.
    pub(crate) fn parse(url: &str, mut pool: PoolOptions) -> Result<Self> {
        let bad = |reason: String| Error::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let mut options = UrlOptions::new(url, &parsed);
        let tinyint1_as_bool = options.boolean("tinyint1_as_bool")?.unwrap_or(false);
        let zero_dates = options
            .choice(
                "zero_dates",
                &[("null", ZeroDates::Null), ("error", ZeroDates::Error)],
            )?
            .unwrap_or(ZeroDates::Null);
        let partition = options
            .choice("partition", &[("key", true), ("none", false)])?
            .unwrap_or(true);
        let chunk_rows = options
            .positive("chunk_rows")?
            .unwrap_or(DEFAULT_CHUNK_ROWS);
        let reader = options
            .choice(
                "reader",
                &[
                    ("native", ReaderKind::Native),
                    ("connectorx", ReaderKind::ConnectorX),
                ],
            )?
            .unwrap_or(ReaderKind::Native);
        options.pool(&mut pool)?;
        let ssl_mode = options.parse("ssl-mode", SslMode::TAKES, SslMode::parse)?;
        let sslmode = options.parse("sslmode", SslMode::TAKES, SslMode::parse)?;
        // mysql_async's own TLS switches, read as the mode they amount to.
        let require_ssl = options.boolean("require_ssl")?;
        let verify_ca = options.boolean("verify_ca")?;
        let verify_identity = options.boolean("verify_identity")?;
        let ca = options.take("ssl-ca").map(PathBuf::from);
        let cert = options.take("ssl-cert").map(PathBuf::from);
        let key = options.take("ssl-key").map(PathBuf::from);
        let client = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(options.bad("ssl-cert and ssl-key go together: give both")),
        };
        let mode = match ssl_mode.or(sslmode) {
            Some(mode) => {
                if ca.is_some() && matches!(mode, SslMode::Preferred | SslMode::Required) {
                    log::warn!(
                        "ssl-mode={} does not verify the server's certificate: ssl-ca is not \
                         used (use ssl-mode=VERIFY_CA or VERIFY_IDENTITY)",
                        mode.name()
                    );
                }
                mode
            }
            None if require_ssl == Some(true) => match (verify_ca, verify_identity) {
                (Some(false), _) => SslMode::Required,
                (_, Some(false)) => SslMode::VerifyCa,
                _ => SslMode::VerifyIdentity,
            },
            None if ca.is_some() => SslMode::VerifyCa,
            None => SslMode::Preferred,
        };
        let tls = TlsOptions {
            mode,
            ca,
            client,
            config: Arc::default(),
            negotiated: Arc::default(),
        };
        let driver = options.driver(DRIVER_OPTIONS);
        options.finish()?;

        let mut password = crate::connector::url_password(&parsed);
        let base = mysql_scheme(&parsed).map_err(|e| bad(e.to_string()))?;
        let driver_url = with_options(&base, &driver);

        let url_opts = mysql_async::Opts::from_url(&driver_url)
            .map_err(|e| bad(scrub(&e.to_string(), password.as_deref())))?;
        let constraints = mysql_async::PoolConstraints::new(
            pool.min_idle as usize,
            pool.pool_size.max(1) as usize,
        )
        .ok_or_else(|| bad("min_idle cannot exceed pool_size".into()))?;
        let mut pool_opts = mysql_async::PoolOpts::default()
            .with_constraints(constraints)
            .with_abs_conn_ttl(pool.max_lifetime)
            .with_reset_connection(false);
        if let Some(idle) = pool.idle_timeout {
            pool_opts = pool_opts.with_inactive_connection_ttl(idle);
        }
        let mut builder = mysql_async::OptsBuilder::from_opts(url_opts);
        // The MySQL client's order: the URL, then `MYSQL_PWD`.
        if password.is_none() {
            if let Some(pw) = std::env::var("MYSQL_PWD").ok().filter(|p| !p.is_empty()) {
                builder = builder.pass(Some(pw.clone()));
                password = Some(pw);
            }
        }
        let socket = driver
            .iter()
            .find(|(k, _)| k == "socket")
            .map(|(_, v)| PathBuf::from(v));
        let mut builder = builder.pool_opts(pool_opts).init(
            SESSION_SETUP
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        // No TLS through a Unix socket (mysql_async would still ask for it).
        crate::connector::tls::install_default_provider();
        builder = builder.ssl_opts(tls.ssl_opts().filter(|_| socket.is_none()));

        let host = parsed.host_str().unwrap_or("localhost").to_string();
        let port = parsed.port().unwrap_or(3306);
        let user = percent_encoding::percent_decode_str(parsed.username())
            .decode_utf8_lossy()
            .into_owned();
        let base_url = match &password {
            Some(pw) => crate::connector::url_with_password(&driver_url, pw),
            None => driver_url.clone(),
        };
        Ok(Self {
            database: parsed.path().trim_start_matches('/').to_string(),
            tinyint1_as_bool,
            zero_dates,
            partition,
            chunk_rows,
            reader,
            pool,
            tls,
            target: Target {
                target: format!("mysql at {host}:{port}{}", parsed.path()),
                password,
                url: driver_url,
            },
            endpoint: (host, port, user),
            base_url,
            socket,
            opts: builder.into(),
        })
    }

    /// Whether scans read through the native reader (it speaks TLS and Unix sockets too).
    pub(crate) fn native_reader(&self) -> bool {
        self.reader == ReaderKind::Native
    }

    /// The URL ConnectorX reads: the driver URL with the password and the TLS options.
    pub(crate) fn cx_url(&self) -> String {
        let Ok(mut u) = url::Url::parse(&self.base_url) else {
            return self.base_url.clone();
        };
        let mut pairs = crate::connector::url_options(&u);
        pairs.extend(self.tls.url_options());
        u.set_query(None);
        crate::connector::set_url_options(&mut u, &pairs);
        u.to_string()
    }

    /// mysql_async's settings again, without TLS (`PREFERRED` against a server that does not
    /// offer it).
    pub(crate) fn plain_opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::from_opts(self.opts.clone())
            .ssl_opts(None)
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<MySqlOptions> {
        MySqlOptions::parse(url, PoolOptions::default())
    }

    #[test]
    fn one_reading_for_source_connector_and_drivers() {
        let o = parse(
            "mariadb://u:s3cret@db.example:3307/shop?tinyint1_as_bool=yes&zero_dates=error\
             &partition=none&chunk_rows=5&reader=connectorx&pool_size=3&Tcp_Nodelay=false\
             &ssl-mode=verify-ca&ssl-ca=/ca.pem&compression=fast",
        )
        .unwrap();
        assert_eq!(o.database, "shop");
        assert!(o.tinyint1_as_bool);
        assert_eq!(o.zero_dates, ZeroDates::Error);
        assert!(!o.partition);
        assert_eq!(o.chunk_rows, 5);
        assert_eq!(o.reader, ReaderKind::ConnectorX);
        assert_eq!(o.pool.pool_size, 3);
        assert_eq!(o.tls.mode, SslMode::VerifyCa);
        assert_eq!(
            o.endpoint,
            ("db.example".to_string(), 3307, "u".to_string())
        );
        assert_eq!(o.target.target, "mysql at db.example:3307/shop");
        // Keys and values percent-encoded (the drivers decode them).
        assert_eq!(
            o.target.url,
            "mysql://u:s3cret@db.example:3307/shop?tcp%5Fnodelay=false&compression=fast"
        );
        assert_eq!(
            o.cx_url(),
            "mysql://u:s3cret@db.example:3307/shop?tcp%5Fnodelay=false&compression=fast\
             &ssl%2Dmode=verify%5Fca&ssl%2Dca=%2Fca%2Epem"
        );
        assert!(!o.opts.tcp_nodelay());
        assert_eq!(o.opts.pool_opts().constraints().max(), 3);
        let ssl = o.opts.ssl_opts().expect("TLS on");
        assert!(!ssl.accept_invalid_certs() && ssl.skip_domain_validation());
        assert!(!format!("{o:?}").contains("s3cret"));
        // The defaults.
        let o = parse("mysql://u@h/db").unwrap();
        assert!(!o.tinyint1_as_bool && o.partition);
        assert_eq!(o.zero_dates, ZeroDates::Null);
        assert_eq!(o.chunk_rows, DEFAULT_CHUNK_ROWS);
        assert_eq!(o.pool, PoolOptions::default());
        assert_eq!(o.target.url, "mysql://u@h/db");
        assert!(o.native_reader());
        // The MySQL client's default: TLS when the server offers it, unverified.
        assert_eq!(o.tls.mode, SslMode::Preferred);
        // PREFERRED against a server without TLS: ConnectorX is told to use none.
        o.tls.set_negotiated(false);
        assert!(o.opts.ssl_opts().is_some() && o.plain_opts().ssl_opts().is_none());
        assert!(
            o.cx_url().ends_with("?ssl%2Dmode=disabled"),
            "{}",
            o.cx_url()
        );
    }

    #[test]
    fn tls_options() {
        let ssl = |url: &str| parse(url).unwrap().opts.ssl_opts().cloned();
        assert!(ssl("mysql://u@h/db?sslmode=required")
            .unwrap()
            .accept_invalid_certs());
        let strict = ssl("mysql://u@h/db?ssl-mode=VERIFY_IDENTITY").unwrap();
        assert!(!strict.accept_invalid_certs() && !strict.skip_domain_validation());
        assert!(ssl("mysql://u@h/db?ssl-mode=disabled").is_none());
        // `ssl-mode` wins over `sslmode`, as in ConnectorX.
        assert!(ssl("mysql://u@h/db?sslmode=required&ssl-mode=disabled").is_none());
        // Without `ssl-mode`: mysql_async's own switches, read as the mode they amount to, and
        // `ssl-ca` alone means VERIFY_CA (as in the MySQL client).
        let mode = |url: &str| parse(url).unwrap().tls.mode;
        assert_eq!(
            mode("mysql://u@h/db?require_ssl=true"),
            SslMode::VerifyIdentity
        );
        assert_eq!(
            mode("mysql://u@h/db?require_ssl=true&verify_identity=false"),
            SslMode::VerifyCa
        );
        assert_eq!(
            mode("mysql://u@h/db?require_ssl=true&verify_ca=false"),
            SslMode::Required
        );
        assert_eq!(mode("mysql://u@h/db?ssl-ca=/ca.pem"), SslMode::VerifyCa);
        assert_eq!(
            mode("mysql://u@h/db?ssl-ca=/ca.pem&ssl-mode=required"),
            SslMode::Required
        );
        let o = parse("mysql://u@h/db?ssl-cert=/c.pem&ssl-key=/c.key").unwrap();
        assert_eq!(o.tls.client, Some(("/c.pem".into(), "/c.key".into())));
        let err = parse("mysql://u@h/db?ssl-cert=/c.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ssl-cert and ssl-key go together"), "{err}");
        let err = parse("mysql://u:pw@h/db?ssl-mode=sometimes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "ssl-mode takes disabled, preferred, required, verify_ca or verify_identity, \
                 not `sometimes`"
            ),
            "{err}"
        );
    }

    #[test]
    fn tls_and_sockets_read_through_the_native_reader() {
        let native = |url: &str| parse(url).unwrap().native_reader();
        assert!(native("mysql://u@h/db?ssl-mode=disabled&sslmode=DISABLED"));
        assert!(native("mysql://u@h/db?ssl-mode=verify_identity"));
        assert!(native("mysql://u@h/db?ssl-ca=/ca.pem"));
        let o = parse("mysql://u@h/db?socket=/tmp/mysql.sock").unwrap();
        assert!(o.native_reader());
        assert_eq!(o.socket, Some(PathBuf::from("/tmp/mysql.sock")));
        assert!(!native("mysql://u@h/db?reader=connectorx"));
    }

    #[test]
    fn unknown_options_list_the_valid_ones() {
        let err = parse("mysql://u:s3cret@h/db?chunk_row=5")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "unknown option `chunk_row`; valid options: acquire_timeout, chunk_rows, \
                 client_found_rows, compression, enable_cleartext_plugin, idle_timeout, \
                 max_allowed_packet, max_lifetime, min_idle, partition, pool_size, \
                 prefer_socket, reader, require_ssl, secure_auth, socket, ssl-ca, ssl-cert, \
                 ssl-key, ssl-mode, sslmode, stmt_cache_size, tcp_keepalive, tcp_nodelay, \
                 tinyint1_as_bool, verify_ca, verify_identity, wait_timeout, zero_dates"
            ),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        // mysql_async's pool options are ours.
        let err = parse("mysql://u@h/db?pool_max=5").unwrap_err().to_string();
        assert!(err.contains("unknown option `pool_max`"), "{err}");
    }

    #[test]
    fn bad_values_say_what_the_option_takes() {
        for (url, says) in [
            (
                "mysql://u@h/db?zero_dates=maybe",
                "zero_dates takes null or error, not `maybe`",
            ),
            (
                "mysql://u@h/db?tinyint1_as_bool=2",
                "tinyint1_as_bool takes true or false, not `2`",
            ),
            (
                "mysql://u@h/db?partition=ctid",
                "partition takes key or none, not `ctid`",
            ),
            (
                "mysql://u@h/db?chunk_rows=-1",
                "chunk_rows takes a positive integer, not `-1`",
            ),
            (
                "mysql://u@h/db?reader=odbc",
                "reader takes native or connectorx, not `odbc`",
            ),
            (
                "mysql://u@h/db?min_idle=5&pool_size=2",
                "min_idle (5) cannot exceed pool_size (2)",
            ),
        ] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err:?}");
            assert!(err.to_string().contains(says), "{url}: {err}");
        }
        // The driver's own options are checked by the driver, without the password.
        let err = parse("mysql://u:s3cret@h/db?tcp_nodelay=maybe").unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
        assert!(err.to_string().contains("tcp_nodelay"), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err}");
    }
}
