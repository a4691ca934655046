//! The one place this backend opens a connection (the pool's, the snapshot's and every
//! reader's) and sends a cancel request: TLS is added here.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

/// Opens one connection; its protocol task runs on the current runtime until the client is
/// dropped (or the task is aborted).
pub(crate) async fn open(
    config: &Config,
) -> std::result::Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

/// Asks the server to stop what `client`'s connection is running (a new connection of its
/// own, as the protocol has it); errors are ignored: the query may have ended already.
pub(crate) async fn cancel(client: &Client) {
    let _ = client.cancel_token().cancel_query(NoTls).await;
}

/// A pooled connection: the client, and whether it must not go back to the pool.
pub struct PgClient {
    client: Client,
    discard: AtomicBool,
}

impl PgClient {
    /// Marks the connection to be closed instead of going back to the pool (a cancel request
    /// may still be on its way to it).
    pub(crate) fn discard(&self) {
        self.discard.store(true, Ordering::Relaxed);
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
    config: Config,
}

impl Manager {
    pub(crate) fn new(config: Config) -> Self {
        Self { config }
    }
}

impl bb8::ManageConnection for Manager {
    type Connection = PgClient;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> std::result::Result<PgClient, tokio_postgres::Error> {
        let (client, _) = open(&self.config).await?;
        Ok(PgClient {
            client,
            discard: AtomicBool::new(false),
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
