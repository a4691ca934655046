//! TLS with libpq's `sslmode` semantics, on rustls, for every connection this backend opens
//! (the pool's, the snapshot's, every reader's, cancel requests), and the settings the
//! ConnectorX reader is given.
//!
//! | `sslmode` | TLS | server certificate checked |
//! |---|---|---|
//! | `disable` | never | - |
//! | `allow` | only if the server refuses a connection without it | as `require` |
//! | `prefer` (default) | if the server offers it; retried without TLS when the TLS attempt fails | as `require` |
//! | `require` | always | only when a root certificate file exists: then as `verify-ca` |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain and host name |
//!
//! `sslrootcert` defaults to `~/.postgresql/root.crt` (`PGSSLROOTCERT`); `system` takes the
//! operating system's roots and, as in libpq 16, makes `verify-full` the default and weaker
//! modes an error. `sslcert`/`sslkey` default to `~/.postgresql/postgresql.crt`/`.key` when both
//! exist (`PGSSLCERT`, `PGSSLKEY`). Unix-socket connections never use TLS, as in libpq.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::Socket;

use crate::connector::tls::{self as shared, Roots, TlsSpec, Verify};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// What `sslmode` takes, for errors.
    pub(crate) const TAKES: &'static str =
        "disable, allow, prefer, require, verify-ca or verify-full";

    /// libpq's spelling only (it is case-sensitive).
    pub(crate) fn parse(v: &str) -> Option<Self> {
        Some(match v {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The name libpq gives it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Whether a connection used TLS, once one has been made (for `allow` and `prefer`, which
/// decide at connect time; the ConnectorX reader is told the outcome).
const UNKNOWN: u8 = 0;
const PLAIN: u8 = 1;
const ENCRYPTED: u8 = 2;

/// A URL's TLS settings, libpq's defaults applied; the rustls configuration is built at the
/// first connection that needs it (an unreadable file is an error there, as in libpq).
#[derive(Debug)]
pub(crate) struct PgTls {
    /// The mode in force.
    pub(crate) mode: SslMode,
    /// `sslrootcert`, or the default file when it exists.
    pub(crate) root: Option<Roots>,
    /// `sslcert` and `sslkey`, or the default files when both exist.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
    /// Where a missing default root file would have been, for the `verify-*` error.
    default_root: Option<PathBuf>,
    config: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    negotiated: AtomicU8,
}

fn home_file(name: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql").join(name))
}

impl PgTls {
    /// The settings from the URL's options (`None` when absent), then the environment
    /// (`PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`), then libpq's defaults.
    pub(crate) fn new(
        mode: Option<SslMode>,
        root: Option<String>,
        cert: Option<String>,
        key: Option<String>,
    ) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mode = match mode {
            Some(m) => Some(m),
            None => match env("PGSSLMODE") {
                Some(v) => Some(
                    SslMode::parse(&v)
                        .ok_or_else(|| format!("PGSSLMODE takes {}, not `{v}`", SslMode::TAKES))?,
                ),
                None => None,
            },
        };
        let root = root.or_else(|| env("PGSSLROOTCERT"));
        let (root, default_root) = match root.as_deref() {
            Some("system") => (Some(Roots::System), None),
            Some(path) => (Some(Roots::File(PathBuf::from(path))), None),
            None => {
                let default = home_file("root.crt");
                match default {
                    Some(p) if p.is_file() => (Some(Roots::File(p)), None),
                    other => (None, other),
                }
            }
        };
        let mode = match (mode, &root) {
            (None, Some(Roots::System)) => SslMode::VerifyFull,
            (Some(m), Some(Roots::System)) if m != SslMode::VerifyFull => {
                return Err(format!(
                    "weak sslmode \"{}\" may not be used with sslrootcert=system (use \
                     \"verify-full\")",
                    m.name()
                ))
            }
            (m, _) => m.unwrap_or(SslMode::Prefer),
        };
        let cert = cert.or_else(|| env("PGSSLCERT"));
        let key = key.or_else(|| env("PGSSLKEY"));
        let client = match (cert, key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (Some(c), None) => {
                let c = PathBuf::from(c);
                let k = c.with_extension("key");
                Some((c, k))
            }
            (None, Some(_)) => {
                return Err("sslkey is given without sslcert: give both".into());
            }
            (None, None) => match (home_file("postgresql.crt"), home_file("postgresql.key")) {
                (Some(c), Some(k)) if c.is_file() && k.is_file() => Some((c, k)),
                _ => None,
            },
        };
        Ok(Self {
            mode,
            root,
            client,
            default_root,
            config: OnceLock::new(),
            negotiated: AtomicU8::new(UNKNOWN),
        })
    }

    /// How much of the server's certificate is checked: `require` (and the modes that may end
    /// up encrypted) check the chain when a root certificate is there, as libpq does.
    pub(crate) fn verify(&self) -> Verify {
        match self.mode {
            SslMode::VerifyFull => Verify::Full,
            SslMode::VerifyCa => Verify::Chain,
            _ if self.root.is_some() => Verify::Chain,
            _ => Verify::Nothing,
        }
    }

    fn spec(&self) -> Result<TlsSpec, String> {
        let verify = self.verify();
        if verify != Verify::Nothing && self.root.is_none() {
            let at = self
                .default_root
                .as_ref()
                .map(|p| format!(" \"{}\"", p.display()))
                .unwrap_or_default();
            return Err(format!(
                "root certificate file{at} does not exist: give the CA that signed the server's \
                 certificate with sslrootcert=PATH, use the system's trusted roots with \
                 sslrootcert=system, or change sslmode to disable server certificate \
                 verification"
            ));
        }
        Ok(TlsSpec {
            verify,
            roots: self.root.clone(),
            client: self.client.clone(),
        })
    }

    /// The rustls configuration (built once).
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config
            .get_or_init(|| self.spec().and_then(|s| s.client_config()))
            .clone()
    }

    /// Records whether the connection just made is encrypted.
    pub(crate) fn set_negotiated(&self, encrypted: bool) {
        self.negotiated
            .store(if encrypted { ENCRYPTED } else { PLAIN }, Ordering::Relaxed);
    }

    /// Whether the connections made so far were encrypted (`None` before the first).
    pub(crate) fn negotiated(&self) -> Option<bool> {
        match self.negotiated.load(Ordering::Relaxed) {
            PLAIN => Some(false),
            ENCRYPTED => Some(true),
            _ => None,
        }
    }

    /// A connector for one connection attempt.
    pub(crate) fn connector(&self) -> MakeRustls {
        MakeRustls {
            config: self.client_config(),
            mode: self.mode,
            handshake_failed: Arc::new(AtomicU8::new(0)),
        }
    }
}

/// Makes the TLS connection of one attempt (tokio-postgres asks for one per host).
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Result<Arc<rustls::ClientConfig>, String>,
    mode: SslMode,
    /// Set when a handshake was tried and failed (`prefer` then retries without TLS).
    pub(crate) handshake_failed: Arc<AtomicU8>,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let config = self.config.clone().map_err(io::Error::other)?;
        let name = shared::server_name(domain).map_err(io::Error::other)?;
        Ok(RustlsConnect {
            config,
            name,
            host: domain.to_string(),
            mode: self.mode,
            failed: self.handshake_failed.clone(),
        })
    }
}

/// One handshake.
pub(crate) struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    host: String,
    mode: SslMode,
    failed: Arc<AtomicU8>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            match connector.connect(self.name, stream).await {
                Ok(s) => Ok(RustlsStream(s)),
                Err(e) => {
                    self.failed.store(1, Ordering::Relaxed);
                    let hint = if self.mode == SslMode::VerifyFull {
                        "sslmode=verify-ca"
                    } else {
                        "a lower sslmode"
                    };
                    Err(match shared::rustls_error(&e) {
                        Some(tls) => io::Error::other(shared::describe(tls, &self.host, hint)),
                        None => e,
                    })
                }
            }
        })
    }
}

/// An encrypted connection.
pub(crate) struct RustlsStream(tokio_rustls::client::TlsStream<Socket>);

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl TlsStream for RustlsStream {
    /// SCRAM-SHA-256-PLUS binds the authentication to this TLS connection.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, conn) = self.0.get_ref();
        conn.peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| shared::tls_server_end_point(c))
            .map(ChannelBinding::tls_server_end_point)
            .unwrap_or_else(ChannelBinding::none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(mode: Option<&str>, root: Option<&str>) -> Result<PgTls, String> {
        PgTls::new(
            mode.map(|m| SslMode::parse(m).unwrap()),
            root.map(String::from),
            None,
            None,
        )
    }

    #[test]
    fn libpq_modes_and_defaults() {
        // The test process's HOME has no ~/.postgresql (checked, so that the defaults hold).
        if home_file("root.crt").is_some_and(|p| p.exists()) {
            return;
        }
        let t = tls(None, None).unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert_eq!(t.verify(), Verify::Nothing);
        assert_eq!(
            tls(Some("require"), None).unwrap().verify(),
            Verify::Nothing
        );
        // `require` with a root certificate checks the chain, as libpq documents.
        let t = tls(Some("require"), Some("/ca.pem")).unwrap();
        assert_eq!(t.verify(), Verify::Chain);
        assert_eq!(
            tls(Some("verify-ca"), Some("/ca.pem")).unwrap().verify(),
            Verify::Chain
        );
        assert_eq!(
            tls(Some("verify-full"), Some("/ca.pem")).unwrap().verify(),
            Verify::Full
        );
        // `system` means verify-full; weaker modes are refused (libpq 16).
        assert_eq!(tls(None, Some("system")).unwrap().mode, SslMode::VerifyFull);
        let err = tls(Some("require"), Some("system")).unwrap_err();
        assert!(err.contains("weak sslmode \"require\""), "{err}");
        // verify-* without a root certificate: an error at the first connection.
        let t = tls(Some("verify-full"), None).unwrap();
        let err = t.connector().config.err().unwrap();
        assert!(err.contains("root certificate file"), "{err}");
        assert!(err.contains("sslrootcert=PATH"), "{err}");
        // sslcert without sslkey: the key beside it.
        let t = PgTls::new(None, None, Some("/c/client.pem".into()), None).unwrap();
        assert_eq!(
            t.client,
            Some(("/c/client.pem".into(), "/c/client.key".into()))
        );
        assert!(PgTls::new(None, None, None, Some("/k".into())).is_err());
        assert_eq!(t.negotiated(), None);
        t.set_negotiated(true);
        assert_eq!(t.negotiated(), Some(true));
    }

    #[test]
    fn modes_are_spelled_as_libpq_spells_them() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(m).unwrap().name(), m);
        }
        assert_eq!(SslMode::parse("Require"), None);
        assert_eq!(SslMode::parse("verify_full"), None);
    }
}
