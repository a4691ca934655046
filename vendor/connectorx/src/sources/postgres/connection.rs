use crate::sources::postgres::errors::PostgresSourceError;
use crate::utils::remove_query_params;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use postgres::{config::SslMode, Config};
use postgres_openssl::MakeTlsConnector;
use std::collections::HashMap;
use std::convert::TryFrom;
use std::path::PathBuf;
use url::Url;

#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// Postgres config, pg_config.sslmode (`sslmode`).
    pub pg_config: Config,
    /// `sslmode=verify-ca` or `verify-full` (read here: the driver knows neither): whether the
    /// chain and the host name are checked (vibe-piper's change).
    pub verify: Option<(bool, bool)>,
    /// Location of the client cert and key (`sslcert`, `sslkey`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Location of the root certificate (`sslrootcert`).
    pub root_cert: Option<PathBuf>,
}

impl TryFrom<TlsConfig> for MakeTlsConnector {
    type Error = PostgresSourceError;
    // The logic of this function adapted primarily from:
    // https://github.com/sfackler/rust-postgres/pull/774
    // We only support server side authentication (`sslrootcert`) for now
    fn try_from(tls_config: TlsConfig) -> Result<Self, Self::Error> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())?;
        let ssl_mode = tls_config.pg_config.get_ssl_mode();
        let (verify_ca, verify_hostname) = match ssl_mode {
            _ if tls_config.verify.is_some() => tls_config.verify.unwrap_or_default(),
            SslMode::Disable | SslMode::Prefer => (false, false),
            SslMode::Require => match tls_config.root_cert {
                // If a root CA file exists, the behavior of sslmode=require will be the same as
                // that of verify-ca, meaning the server certificate is validated against the CA.
                //
                // For more details, check out the note about backwards compatibility in
                // https://postgresql.org/docs/current/libpq-ssl.html#LIBQ-SSL-CERTIFICATES.
                Some(_) => (true, false),
                None => (false, false),
            },
            // vibe-piper's change: no panic on a mode a newer driver may add.
            _ => (true, true),
        };

        if let Some((cert, key)) = tls_config.client_cert {
            builder.set_certificate_file(cert, SslFiletype::PEM)?;
            builder.set_private_key_file(key, SslFiletype::PEM)?;
        }

        match tls_config.root_cert {
            // libpq's `sslrootcert=system` (vibe-piper's change).
            Some(root_cert) if root_cert.as_os_str() == "system" => {
                builder.set_default_verify_paths()?
            }
            Some(root_cert) => builder.set_ca_file(root_cert)?,
            None => {}
        }

        if !verify_ca {
            builder.set_verify(SslVerifyMode::NONE); // do not verify CA
        }

        let mut tls_connector = MakeTlsConnector::new(builder.build());

        if !verify_hostname {
            tls_connector.set_callback(|connect, _| {
                connect.set_verify_hostname(false);
                Ok(())
            });
        }

        Ok(tls_connector)
    }
}

// Strip URL params not accepted by upstream rust-postgres
fn strip_bad_opts(url: &Url) -> Url {
    remove_query_params(url, &["sslkey", "sslcert", "sslrootcert", "sslmode"])
}

pub fn rewrite_tls_args(
    conn: &Url,
) -> Result<(Config, Option<MakeTlsConnector>), PostgresSourceError> {
    // We parse the config, then strip unsupported SSL opts and rewrite the URI
    // before calling conn.parse().
    //
    // For more details on this approach, see the conversation here:
    // https://github.com/sfackler/rust-postgres/pull/774#discussion_r641784774

    let params: HashMap<String, String> = conn.query_pairs().into_owned().collect();

    let sslcert = params.get("sslcert").map(PathBuf::from);
    let sslkey = params.get("sslkey").map(PathBuf::from);
    let root_cert = params.get("sslrootcert").map(PathBuf::from);
    let client_cert = match (sslcert, sslkey) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };

    let stripped_url = strip_bad_opts(conn);
    let mut pg_config: Config = stripped_url.as_str().parse()?;
    // vibe-piper's change: `verify-ca` and `verify-full` are read here, as libpq reads them.
    let verify = match params.get("sslmode").map(String::as_str) {
        None | Some("prefer") => {
            pg_config.ssl_mode(SslMode::Prefer);
            None
        }
        Some("disable") => {
            pg_config.ssl_mode(SslMode::Disable);
            None
        }
        Some("require") => {
            pg_config.ssl_mode(SslMode::Require);
            None
        }
        Some("verify-ca") => {
            pg_config.ssl_mode(SslMode::Require);
            Some((true, false))
        }
        Some("verify-full") => {
            pg_config.ssl_mode(SslMode::Require);
            Some((true, true))
        }
        Some(_) => {
            // Let the driver refuse it with its own message.
            let _: Config = conn.as_str().parse()?;
            None
        }
    };

    let tls_config = TlsConfig {
        verify,
        pg_config: pg_config.clone(),
        client_cert,
        root_cert,
    };

    let tls_connector = match pg_config.get_ssl_mode() {
        SslMode::Disable => None,
        _ => Some(MakeTlsConnector::try_from(tls_config)?),
    };

    Ok((pg_config, tls_connector))
}
