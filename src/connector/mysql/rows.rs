//! Result rows as Arrow batches: a query's result decoded ([`RowDecoder`]) and streamed from its
//! connection, with the consumer's early exit stopping the statement at the server.

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryBuilder, Decimal128Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::bulk::table_columns;
use super::connector::kill_query;
use super::error::Target;
use super::types::{column_type, decimal_i128};
use crate::connector::executor::{BatchStream, TableName, RESULT_BATCH_ROWS};
use crate::connector::session::Held;
use crate::error::{Error, Result};
use crate::read::{BatchReceiver, BatchSender};
use crate::schema::{conform_column, ReadAs};

/// A value's text form, as the text protocol would send it.
fn value_text(v: &mysql_async::Value) -> Option<Vec<u8>> {
    use mysql_async::Value as V;
    Some(match v {
        V::NULL => return None,
        V::Bytes(b) => b.clone(),
        V::Int(i) => i.to_string().into_bytes(),
        V::UInt(u) => u.to_string().into_bytes(),
        V::Float(f) => f.to_string().into_bytes(),
        V::Double(f) => f.to_string().into_bytes(),
        V::Date(y, m, d, h, i, s, us) => {
            format!("{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}.{us:06}").into_bytes()
        }
        V::Time(neg, days, h, i, s, us) => format!(
            "{}{}:{i:02}:{s:02}.{us:06}",
            if *neg { "-" } else { "" },
            *days as u64 * 24 + *h as u64
        )
        .into_bytes(),
    })
}

/// Turns rows of one result set into Arrow batches.
struct RowDecoder {
    schema: SchemaRef,
}

impl RowDecoder {
    fn new(columns: &[mysql_async::Column]) -> Self {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c.name_str().as_ref(), column_type(c), true))
            .collect();
        Self {
            schema: Arc::new(Schema::new(fields)),
        }
    }

    fn decode(&self, rows: &[mysql_async::Row]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![];
        for (i, field) in self.schema.fields().iter().enumerate() {
            let texts = rows.iter().map(|r| r.as_ref(i).and_then(value_text));
            let array: ArrayRef = if field.data_type() == &DataType::Binary {
                let mut b = BinaryBuilder::new();
                texts.for_each(|t| b.append_option(t));
                Arc::new(b.finish())
            } else if let DataType::Decimal128(p, s) = field.data_type() {
                // The one exact decimal parser, as the native reader reads decimals.
                let mut b = Decimal128Builder::with_capacity(rows.len());
                for t in texts {
                    match t {
                        Some(t) => b.append_value(decimal_i128(&t, *p, *s).map_err(|message| {
                            Error::Value {
                                column: field.name().clone(),
                                message,
                            }
                        })?),
                        None => b.append_null(),
                    }
                }
                Arc::new(b.finish().with_precision_and_scale(*p, *s)?)
            } else {
                let mut b = StringBuilder::new();
                for t in texts {
                    match t {
                        Some(t) => {
                            b.append_value(String::from_utf8(t).map_err(|_| Error::Value {
                                column: field.name().clone(),
                                message: "text that is not UTF-8".into(),
                            })?)
                        }
                        None => b.append_null(),
                    }
                }
                let a: ArrayRef = Arc::new(b.finish());
                // Zero dates read as NULL, as on the read side's default.
                conform_column(field.name(), &a, field.data_type(), ReadAs::Text)?
            };
            columns.push(array);
        }
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}

/// Runs a query on `conn`, sending batches until the receiver goes away (the rest of the
/// result is then read and dropped, so the connection can be reused); returns the connection.
pub(super) async fn run_query(
    mut conn: Held<Conn>,
    target: Target,
    sql: String,
    params: Params,
    out: BatchSender,
    killer: Option<Pool>,
) {
    let id = conn.id();
    // While the statement runs, a consumer that leaves gets it killed at once (the task itself
    // may be waiting on a server that sends nothing). `running` is cleared, under its lock,
    // before the connection is handed back, so a kill never reaches a later statement.
    let running = Arc::new(Mutex::new(true));
    let _watcher = killer.clone().map(|k| {
        let closed = out.closed_owned();
        let running = running.clone();
        AbortOnDrop(tokio::spawn(async move {
            closed.await;
            let still = running.lock().await;
            if *still {
                kill_query(&k, id).await;
            }
        }))
    });
    let kill = killer.map(|k| (k, id));
    let outcome: Result<()> = async {
        match params {
            Params::Empty => {
                let result = conn.query_iter(sql).await.map_err(|e| target.error(e))?;
                send_rows(result, &target, &out, kill).await
            }
            p => {
                let result = conn.exec_iter(sql, p).await.map_err(|e| target.error(e))?;
                send_rows(result, &target, &out, kill).await
            }
        }
    }
    .await;
    *running.lock().await = false;
    match outcome {
        Ok(()) => out.finish().await,
        Err(e) => out.fail(e).await,
    }
    // `conn` goes back to the pool, or unlocks its transaction, only now.
}

/// Aborts a task when dropped (also when the owner unwinds).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the rows of `result` in batches. After the consumer has gone, or a batch failed to
/// decode, the rest is read and dropped (the connection stays usable); a decoding error is
/// returned at the end. With `kill` (a pool and this connection's id), a result the consumer
/// left is first stopped at the server with `KILL QUERY`, so little is left to drop.
async fn send_rows<P: mysql_async::prelude::Protocol>(
    mut result: mysql_async::QueryResult<'_, 'static, P>,
    target: &Target,
    out: &BatchSender,
    kill: Option<(Pool, u32)>,
) -> Result<()> {
    let decoder = RowDecoder::new(result.columns_ref());
    let mut rows = vec![];
    let mut open = true;
    let mut sent = false;
    let mut failed = None;
    while let Some(row) = result.next().await.map_err(|e| target.error(e))? {
        if !open {
            continue;
        }
        rows.push(row);
        if rows.len() == RESULT_BATCH_ROWS {
            sent = true;
            match decoder.decode(&rows) {
                Ok(batch) => open = out.send(batch).await,
                Err(e) => {
                    failed = Some(e);
                    open = false;
                }
            }
            rows.clear();
            if !open && failed.is_none() {
                if let Some((pool, id)) = &kill {
                    kill_query(pool, *id).await;
                    // What follows is the rest of the buffer, then "interrupted".
                    while let Ok(Some(_)) = result.next().await {}
                    return Ok(());
                }
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if open && (!rows.is_empty() || !sent) {
        out.send(decoder.decode(&rows)?).await;
    }
    Ok(())
}

/// Waits for the first answer so that an error in the statement is returned by `query`
/// itself; the rest streams.
pub(super) async fn first_then_rest(mut rx: BatchReceiver) -> Result<BatchStream<'static>> {
    match rx.next().await {
        Some(Err(e)) => Err(e),
        Some(Ok(first)) => Ok(futures::stream::once(async { Ok(first) })
            .chain(rx.into_stream())
            .boxed()),
        None => Ok(futures::stream::empty().boxed()),
    }
}

/// The Arrow schema `table` reads with (as [`RowDecoder`] maps its columns); `None` when it
/// does not exist.
pub(super) async fn table_schema_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
) -> Result<Option<SchemaRef>> {
    if table_columns(conn, target, table).await?.is_empty() {
        return Ok(None);
    }
    let result = conn
        .query_iter(format!("SELECT * FROM {} LIMIT 0", table.quoted('`')))
        .await
        .map_err(|e| target.error(e))?;
    let schema = RowDecoder::new(result.columns_ref()).schema;
    drop(result);
    Ok(Some(schema))
}
