//! The connection a backup's rows are read on: a second connection to the database, in
//! the snapshot the engine's own transaction exported (`pg_export_snapshot`), so that it
//! reads exactly what the engine would. Each table's rows are streamed inside one run of
//! the client's runtime; the synchronous client enters its runtime once per row, which
//! cost a backup a sixth of its reading.

use std::pin::{Pin, pin};
use std::task::Poll;

use tokio::runtime::Runtime;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket};

/// What stopped a read: the database (or the connection to it), or the caller.
pub(super) enum Stop<E> {
    Database(tokio_postgres::Error),
    Caller(E),
}

impl<E> From<tokio_postgres::Error> for Stop<E> {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Database(error)
    }
}

/// A connection in an imported snapshot, driven by a runtime of its own on the calling
/// thread.
pub(super) struct RowReader {
    runtime: Runtime,
    /// Always there until the reader is dropped.
    client: Option<Client>,
    connection: Pin<Box<Connection<Socket, NoTlsStream>>>,
}

impl RowReader {
    /// Connects with `config` and opens a read-only transaction set up by `setup` (the
    /// snapshot to import first, then settings and locks); `None` when that cannot be
    /// done (a role allowed one connection, a pooler that cannot share a snapshot, a
    /// lock not available at once): the rows are then read on the engine's own
    /// connection.
    pub(super) fn open(config: &Config, setup: &str) -> Option<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let (client, connection) = runtime.block_on(config.connect(NoTls)).ok()?;
        let mut reader = Self {
            runtime,
            client: Some(client),
            connection: Box::pin(connection),
        };
        let begin = format!("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {setup}");
        let in_snapshot: Result<(), Stop<()>> =
            reader.run(async |client| Ok(client.batch_execute(&begin).await?));
        in_snapshot.ok()?;
        Some(reader)
    }

    /// Runs `work` on the client to its end, driving the connection meanwhile; an error
    /// of the connection itself (the server gone) stops it.
    pub(super) fn run<T, E>(
        &mut self,
        work: impl AsyncFnOnce(&Client) -> Result<T, Stop<E>>,
    ) -> Result<T, Stop<E>> {
        let Some(client) = &self.client else {
            unreachable!("the client lives as long as the reader")
        };
        let connection = &mut self.connection;
        let mut work = pin!(work(client));
        self.runtime.block_on(std::future::poll_fn(|cx| {
            loop {
                match connection.as_mut().poll_message(cx) {
                    // Notices (a warning of the server's) tell a backup nothing.
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(Stop::Database(e))),
                    // Closed: the work's own request fails, and says why.
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            work.as_mut().poll(cx)
        }))
    }
}

impl Drop for RowReader {
    /// Ends the transaction and closes the connection: it says goodbye once the client
    /// is gone.
    fn drop(&mut self) {
        self.client = None;
        let _ = self.runtime.block_on(self.connection.as_mut());
    }
}
