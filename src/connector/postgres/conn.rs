//! The one place this backend opens a connection (the pool's, the snapshot's and every
//! reader's) and sends a cancel request: TLS, with libpq's `sslmode` semantics, is added here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode as DriverMode};
use tokio_postgres::{Client, Config, NoTls};

use super::tls::{PgTls, SslMode};

/// Where and how to connect: the driver's settings and the TLS settings.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Host, port, user, password, database and the driver's own options.
    pub(crate) config: Config,
    /// `sslmode` and certificates.
    pub(crate) tls: Arc<PgTls>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("user", &self.config.get_user())
            .field("dbname", &self.config.get_dbname())
            .field("sslmode", &self.tls.mode)
            .finish_non_exhaustive()
    }
}

type Opened = (Client, JoinHandle<()>);

async fn connect_plain(config: &Config) -> Result<Opened, tokio_postgres::Error> {
    let mut config = config.clone();
    config.ssl_mode(DriverMode::Disable);
    let (client, connection) = config.connect(NoTls).await?;
    Ok((client, spawn(connection)))
}

/// Connects with TLS as `mode` asks (`Prefer`: only if the server offers it); the flag says
/// whether a handshake was tried and failed.
async fn connect_tls(
    config: &Config,
    tls: &PgTls,
    mode: DriverMode,
) -> (Result<Opened, tokio_postgres::Error>, bool) {
    let mut config = config.clone();
    config.ssl_mode(mode);
    let connector = tls.connector();
    let failed = connector.handshake_failed.clone();
    let result = match config.connect(connector).await {
        Ok((client, connection)) => Ok((client, spawn(connection))),
        Err(e) => Err(e),
    };
    (result, failed.load(Ordering::Relaxed) != 0)
}

fn spawn<F: std::future::Future + Send + 'static>(connection: F) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = connection.await;
    })
}

/// Opens one connection; its protocol task runs on the current runtime until the client is
/// dropped (or the task is aborted).
///
/// As libpq: `allow` connects without TLS and, when the server refuses that, once more with
/// TLS; `prefer` connects with TLS when the server offers it and, when the TLS handshake fails
/// or the server refuses the encrypted connection, once more without. When both attempts fail,
/// the error of the encrypted one is returned (it says more: a certificate or a password).
///
/// A server that refuses for now (`53300` too many clients, `57P03` starting up) is asked
/// again with jittered, growing pauses until the connect timeout (`connect_timeout`, default
/// [`RETRY_BUDGET`]) has passed; its last refusal is then returned.
pub(crate) async fn open(endpoint: &Endpoint) -> Result<Opened, tokio_postgres::Error> {
    let budget = endpoint
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(RETRY_BUDGET);
    let mut backoff = crate::connector::Backoff::new(budget);
    loop {
        match open_once(endpoint).await {
            Err(e) if refused_for_now(&e) => match backoff.next_pause() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// How long a connection refused for now is retried when the URL sets no `connect_timeout`.
pub(crate) const RETRY_BUDGET: std::time::Duration = crate::connector::REFUSED_RETRY_BUDGET;

/// `53300` (too many clients) and `57P03` (the server is starting): worth asking again.
pub(crate) fn refused_for_now(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|db| matches!(db.code().code(), "53300" | "57P03"))
}

async fn open_once(endpoint: &Endpoint) -> Result<Opened, tokio_postgres::Error> {
    let config = &endpoint.config;
    let tls = &endpoint.tls;
    // libpq never uses TLS on Unix-domain sockets.
    let unix_only = config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, Host::Unix(_)))
        && !config.get_hosts().is_empty();
    let (result, encrypted) = match tls.mode {
        _ if unix_only => (connect_plain(config).await, false),
        SslMode::Disable => (connect_plain(config).await, false),
        SslMode::Allow => match connect_plain(config).await {
            Err(e) if e.as_db_error().is_some() => {
                (connect_tls(config, tls, DriverMode::Require).await.0, true)
            }
            other => (other, false),
        },
        SslMode::Prefer => match connect_tls(config, tls, DriverMode::Prefer).await {
            (Err(e), failed) if failed || e.as_db_error().is_some() => {
                match connect_plain(config).await {
                    Ok(opened) => (Ok(opened), false),
                    Err(_) => (Err(e), true),
                }
            }
            // Whether the server offered TLS is not visible here: the cancel request and the
            // ConnectorX reader use `prefer` again, which finds the same answer.
            (other, _) => (other, true),
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            (connect_tls(config, tls, DriverMode::Require).await.0, true)
        }
    };
    if result.is_ok() {
        tls.set_negotiated(encrypted);
    }
    result
}

/// Asks the server to stop what `client`'s connection is running (a new connection of its
/// own, as the protocol has it, encrypted as the client's was); errors are ignored: the query
/// may have ended already.
pub(crate) async fn cancel(client: &Client, tls: &PgTls) {
    let _ = client.cancel_token().cancel_query(tls.connector()).await;
}

/// A pooled connection: the client, and whether it must not go back to the pool.
pub struct PgClient {
    client: Client,
    discard: AtomicBool,
    tls: Arc<PgTls>,
}

impl PgClient {
    /// Marks the connection to be closed instead of going back to the pool (a cancel request
    /// may still be on its way to it).
    pub(crate) fn discard(&self) {
        self.discard.store(true, Ordering::Relaxed);
    }

    /// Asks the server to stop what this connection is running.
    pub(crate) async fn cancel(&self) {
        cancel(&self.client, &self.tls).await
    }
}

impl std::ops::Deref for PgClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens the pool's connections through [`open`] (the type of [`super::PgConn`]'s pool).
#[derive(Debug)]
pub struct Manager {
    endpoint: Endpoint,
}

impl Manager {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }
}

impl bb8::ManageConnection for Manager {
    type Connection = PgClient;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> std::result::Result<PgClient, tokio_postgres::Error> {
        let (client, _) = open(&self.endpoint).await?;
        Ok(PgClient {
            client,
            discard: AtomicBool::new(false),
            tls: self.endpoint.tls.clone(),
        })
    }

    async fn is_valid(
        &self,
        conn: &mut PgClient,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        conn.simple_query("").await.map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgClient) -> bool {
        conn.is_closed() || conn.discard.load(Ordering::Relaxed)
    }
}
