//! Bulk loads: `LOAD DATA LOCAL INFILE` fed from memory (batches encoded as its tab-separated
//! text) or from a CSV file, multi-row prepared INSERTs where the server forbids local files,
//! and `CREATE TABLE` for an Arrow schema.

use std::io::Write as _;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::Timelike;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};
use tokio::sync::mpsc;

use super::error::Target;
use super::params::my_value;
use super::types::mysql_type_for;
use super::MySqlConnector;
use crate::connector::executor::{column_definitions, BulkOptions, CsvOptions, TableName};
use crate::connector::session::{commit_or_rollback, Session};
use crate::connector::value::{cell_fn, Cell};
use crate::error::{Error, Result};

/// `CREATE TABLE` for an Arrow schema.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef) -> Result<String> {
    let cols = column_definitions(schema, "MySQL", mysql_type_for, super::quote_ident)?;
    Ok(format!(
        "CREATE TABLE {} ({cols}) DEFAULT CHARSET = utf8mb4",
        table.quoted('`')
    ))
}

/// Appends one cell to a `LOAD DATA` stream (tab-separated, backslash escapes, `\N` for NULL).
pub fn write_infile_cell(cell: &Cell, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let escape = |bytes: &[u8], out: &mut Vec<u8>| {
        for &b in bytes {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0 => out.extend_from_slice(b"\\0"),
                _ => out.push(b),
            }
        }
    };
    match cell {
        Cell::Null => out.extend_from_slice(b"\\N"),
        Cell::Bool(b) => out.push(if *b { b'1' } else { b'0' }),
        Cell::Bytes(b) => escape(b, out),
        Cell::Str(s) => escape(s.as_bytes(), out),
        Cell::Float(f) if !f.is_finite() => return Err(format!("MySQL cannot store {f}")),
        Cell::List(_) => return Err("MySQL has no array type".into()),
        Cell::Interval(..) => return Err("MySQL has no interval type".into()),
        // Numbers and dates are written without an intermediate String (the bulk-load hot path);
        // their text never needs escaping.
        Cell::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::UInt(v) => {
            let _ = write!(out, "{v}");
        }
        Cell::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        Cell::Decimal(v, s) if *s >= 0 => write_decimal(out, *v, *s as usize),
        Cell::Date(d) => {
            let date = crate::connector::value::date_of(*d).ok_or("date out of range")?;
            write_date(out, date);
        }
        Cell::Timestamp(us, _) => {
            let t = crate::connector::value::timestamp_of(*us).ok_or("timestamp out of range")?;
            write_date(out, t.date());
            let _ = write!(
                out,
                " {:02}:{:02}:{:02}.{:06}",
                t.hour(),
                t.minute(),
                t.second(),
                t.nanosecond() / 1000
            );
        }
        other => escape(other.text().unwrap_or_default().as_bytes(), out),
    }
    Ok(())
}

fn write_date(out: &mut Vec<u8>, d: chrono::NaiveDate) {
    use chrono::Datelike;
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// `v × 10^-scale` in plain notation.
fn write_decimal(out: &mut Vec<u8>, v: i128, scale: usize) {
    if v < 0 {
        out.push(b'-');
    }
    let start = out.len();
    let _ = write!(out, "{}", v.unsigned_abs());
    if scale == 0 {
        return;
    }
    let len = out.len() - start;
    if len <= scale {
        // 0.00ddd: zeros go in front of the digits.
        let zeros = scale - len + 1;
        out.splice(start..start, std::iter::repeat_n(b'0', zeros));
    }
    let point = out.len() - scale;
    out.insert(point, b'.');
}

fn infile_rows(batch: &RecordBatch) -> Result<Vec<u8>> {
    let schema = batch.schema_ref();
    let readers = crate::connector::value::batch_cells(batch)?;
    let mut out = Vec::with_capacity(batch.get_array_memory_size());
    for row in 0..batch.num_rows() {
        for (c, read) in readers.iter().enumerate() {
            if c > 0 {
                out.push(b'\t');
            }
            write_infile_cell(&read(row), &mut out).map_err(|message| Error::Value {
                column: schema.field(c).name().clone(),
                message,
            })?;
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// After a `LOAD DATA`: warnings mean rows were changed or skipped (LOCAL turns errors into
/// warnings), which a load must not do silently.
pub(super) async fn check_warnings(conn: &mut Conn, target: &Target) -> Result<()> {
    if conn.get_warnings() == 0 {
        return Ok(());
    }
    let warnings: Vec<(String, u16, String)> = conn
        .query("SHOW WARNINGS LIMIT 3")
        .await
        .map_err(|e| target.error(e))?;
    let Some((_, code, message)) = warnings.into_iter().next() else {
        return Ok(());
    };
    Err(
        target.error(mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message,
            state: "HY000".into(),
        })),
    )
}

/// The quoted column names of `schema`, comma-separated.
fn column_list(schema: &arrow::datatypes::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| super::quote_ident(f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `table` takes the columns of `schema`, or creates it (`create_if_missing`).
pub(super) async fn prepare_target(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    schema: &SchemaRef,
    options: &BulkOptions,
) -> Result<()> {
    let existing = table_columns(conn, target, table).await?;
    if existing.is_empty() {
        if !options.create_if_missing {
            return Err(Error::UnknownTable(table.to_string()));
        }
        // DDL commits implicitly in MySQL: the table is created before the load begins.
        return conn
            .query_drop(create_table_sql(table, schema)?)
            .await
            .map_err(|e| target.error(e));
    }
    crate::connector::executor::check_load_columns(table, schema, |name| {
        existing.iter().any(|c| c.eq_ignore_ascii_case(name))
    })?;
    Ok(())
}

/// The columns of `table` in order (none when it does not exist).
pub(super) async fn table_columns(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
) -> Result<Vec<String>> {
    conn.exec(
        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (table.schema.clone(), table.table.clone()),
    )
    .await
    .map_err(|e| target.error(e))
}

/// Loads `batches` into `table` on `conn` (inside the caller's transaction, after
/// [`prepare_target`]).
pub(super) async fn load_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    mut batches: SendableRecordBatchStream,
    options: &BulkOptions,
) -> Result<u64> {
    let schema = batches.schema();
    // MySQL 8 ships with local_infile off: then multi-row prepared INSERTs.
    let local: Option<i64> = conn
        .query_first("SELECT @@GLOBAL.local_infile")
        .await
        .map_err(|e| target.error(e))?;
    if local != Some(1) || options.row_inserts {
        return insert_rows_on(conn, target, table, batches).await;
    }
    let cols = column_list(&schema);
    let sql = format!(
        "LOAD DATA LOCAL INFILE 'vibe-piper-stream' INTO TABLE {} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({cols})",
        table.quoted('`')
    );
    // Encoding runs in the handler's stream; an encoding error ends the file early and is
    // reported after the server answers (the load is then rolled back).
    let (err_tx, mut err_rx) = mpsc::channel::<Error>(1);
    let (tx, rx) = mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let feeder = tokio::spawn(async move {
        while let Some(batch) = batches.next().await {
            let encoded = batch
                .map_err(Error::from_datafusion)
                .and_then(|b| infile_rows(&b));
            match encoded {
                Ok(bytes) => {
                    if tx.send(Ok(bytes.into())).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = err_tx.send(e).await;
                    let _ = tx
                        .send(Err(std::io::Error::other("the input stream failed")))
                        .await;
                    return;
                }
            }
        }
    });
    let data =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let handler = async move { Ok::<_, mysql_async::Error>(data.boxed()) };
    conn.set_infile_handler(handler);
    let loaded = conn.query_drop(&sql).await;
    let _ = feeder.await;
    if let Ok(e) = err_rx.try_recv() {
        return Err(e);
    }
    loaded.map_err(|e| target.error(e))?;
    let n = conn.affected_rows();
    check_warnings(conn, target).await?;
    Ok(n)
}

/// Loads `batches` with multi-row prepared INSERTs (for servers that refuse local files).
async fn insert_rows_on(
    conn: &mut Conn,
    target: &Target,
    table: &TableName,
    mut batches: SendableRecordBatchStream,
) -> Result<u64> {
    let schema = batches.schema();
    let ncols = schema.fields().len().max(1);
    let per_stmt = (60_000 / ncols).clamp(1, 1000);
    let cols = column_list(&schema);
    let row_marks = format!("({})", vec!["?"; ncols].join(","));
    let mut total = 0;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(Error::from_datafusion)?;
        let readers = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(a, f)| cell_fn(f.name(), a))
            .collect::<Result<Vec<_>>>()?;
        let mut start = 0;
        while start < batch.num_rows() {
            let end = (start + per_stmt).min(batch.num_rows());
            let mut values = Vec::with_capacity((end - start) * ncols);
            for row in start..end {
                for (c, read) in readers.iter().enumerate() {
                    values.push(my_value(&read(row), schema.field(c).name())?);
                }
            }
            let sql = format!(
                "INSERT INTO {} ({cols}) VALUES {}",
                table.quoted('`'),
                vec![row_marks.as_str(); end - start].join(",")
            );
            conn.exec_drop(sql, Params::Positional(values))
                .await
                .map_err(|e| target.error(e))?;
            total += conn.affected_rows();
            check_warnings(conn, target).await?;
            start = end;
        }
    }
    Ok(total)
}

impl MySqlConnector {
    /// Loads a CSV file with `LOAD DATA LOCAL INFILE` (read by this process and streamed to the
    /// server); returns the number of rows. All or nothing: a row the server would change or
    /// skip (a warning) fails the load.
    pub async fn load_data_infile(
        &self,
        table: &TableName,
        path: &str,
        options: &CsvOptions,
    ) -> Result<u64> {
        let path = crate::connector::local_path(path)?;
        let file = tokio::fs::File::open(&path).await?;
        let mut conn = self.acquire().await?;
        let t = self.target();
        let lit = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
        let columns = match &options.columns {
            Some(c) => c.clone(),
            None => table_columns(&mut conn, t, table).await?,
        };
        if columns.is_empty() {
            return Err(Error::UnknownTable(table.to_string()));
        }
        // Every field goes through a variable so that `options.null` becomes NULL.
        let vars = (0..columns.len())
            .map(|i| format!("@vp{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sets = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{} = NULLIF(@vp{i}, {})",
                    super::quote_ident(c),
                    lit(&options.null)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'vibe-piper-file' INTO TABLE {} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY {} OPTIONALLY ENCLOSED BY {} ESCAPED BY '' \
             LINES TERMINATED BY '\\n' {} ({vars}) SET {sets}",
            table.quoted('`'),
            lit(&(options.delimiter as char).to_string()),
            lit(&(options.quote as char).to_string()),
            if options.header { "IGNORE 1 LINES" } else { "" },
        );
        let chunks = crate::connector::file_chunks(file);
        conn.set_infile_handler(async move { Ok::<_, mysql_async::Error>(chunks.boxed()) });
        let session = self.session();
        session.simple(&mut conn, session.begin_sql()).await?;
        let outcome = async {
            conn.query_drop(&sql).await.map_err(|e| t.error(e))?;
            let n = conn.affected_rows();
            check_warnings(&mut conn, t).await?;
            Ok(n)
        }
        .await;
        commit_or_rollback(session, &mut conn, outcome).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn infile_escaping() {
        let mut out = vec![];
        write_infile_cell(&Cell::Str("a\tb\\c\nd\0".into()), &mut out).unwrap();
        assert_eq!(out, b"a\\tb\\\\c\\nd\\0");
        out.clear();
        write_infile_cell(&Cell::Null, &mut out).unwrap();
        assert_eq!(out, b"\\N");
        assert!(write_infile_cell(&Cell::Float(f64::NAN), &mut out).is_err());
        for (v, s, text) in [
            (-5i128, 3i8, "-0.005"),
            (12345, 2, "123.45"),
            (7, 0, "7"),
            (100, 2, "1.00"),
        ] {
            let mut out = vec![];
            write_infile_cell(&Cell::Decimal(v, s), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        let mut out = vec![];
        write_infile_cell(&Cell::Timestamp(-1, false), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1969-12-31 23:59:59.999999"
        );
        let mut out = vec![];
        write_infile_cell(&Cell::Date(-719_162), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "0001-01-01");
    }

    #[test]
    fn ddl_from_arrow() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        assert_eq!(
            create_table_sql(&TableName::new("d", "x"), &schema).unwrap(),
            "CREATE TABLE `d`.`x` (`id` bigint NOT NULL, `t` timestamp(6) NULL) DEFAULT CHARSET = utf8mb4"
        );
    }
}
