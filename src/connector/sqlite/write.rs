//! Writing a new SQLite database file from Arrow batches (the demo data set, test fixtures).

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::reader::sqlite_err;
use crate::error::Result;

/// A SQLite database file being written, table by table.
pub struct SqliteWriter {
    conn: rusqlite::Connection,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens (creating it if needed) the database file at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            conn: rusqlite::Connection::open(path).map_err(sqlite_err)?,
        })
    }

    /// Creates `table` with the columns of `schema` (all NOT NULL) and inserts `batches`, in
    /// one transaction: a failure leaves no table behind.
    pub fn write_table(
        &mut self,
        table: &str,
        schema: &SchemaRef,
        batches: impl Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>,
    ) -> Result<()> {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let cols: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| {
                format!(
                    "{} {} NOT NULL",
                    quote(f.name()),
                    sqlite_decl(f.data_type())
                )
            })
            .collect();
        let tx = self.conn.transaction().map_err(sqlite_err)?;
        tx.execute_batch(&format!(
            "CREATE TABLE {} ({})",
            quote(table),
            cols.join(", ")
        ))
        .map_err(sqlite_err)?;
        {
            let marks = vec!["?"; schema.fields().len()].join(", ");
            let mut stmt = tx
                .prepare(&format!("INSERT INTO {} VALUES ({marks})", quote(table)))
                .map_err(sqlite_err)?;
            for batch in batches {
                let batch = batch?;
                let columns = batch
                    .columns()
                    .iter()
                    .map(|c| sqlite_column(c.as_ref()))
                    .collect::<Result<Vec<_>>>()?;
                for row in 0..batch.num_rows() {
                    let values: Vec<&rusqlite::types::Value> =
                        columns.iter().map(|c| &c[row]).collect();
                    stmt.execute(rusqlite::params_from_iter(values))
                        .map_err(sqlite_err)?;
                }
            }
        }
        tx.commit().map_err(sqlite_err)
    }
}

/// Declared SQLite type for an Arrow type (decimals become DOUBLE: SQLite has no exact decimal).
fn sqlite_decl(dt: &DataType) -> &'static str {
    match dt {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "INTEGER",
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => "DOUBLE",
        DataType::Date32 => "DATE",
        _ => "TEXT",
    }
}

fn sqlite_column(a: &dyn Array) -> Result<Vec<rusqlite::types::Value>> {
    use rusqlite::types::Value;
    let out = match a.data_type() {
        DataType::Int32 => a
            .as_primitive::<Int32Type>()
            .values()
            .iter()
            .map(|v| Value::Integer(*v as i64))
            .collect(),
        DataType::Int64 => a
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|v| Value::Integer(*v))
            .collect(),
        DataType::Decimal128(..) => {
            let f = cast(a, &DataType::Float64)?;
            f.as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|v| Value::Real(*v))
                .collect()
        }
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| match v.and_then(Date32Type::to_naive_date_opt) {
                Some(d) => Value::Text(d.format("%Y-%m-%d").to_string()),
                None => Value::Null,
            })
            .collect(),
        _ => {
            let s = cast(a, &DataType::Utf8)?;
            s.as_string::<i32>()
                .iter()
                .map(|v| v.map(|t| Value::Text(t.to_string())).unwrap_or(Value::Null))
                .collect()
        }
    };
    Ok(out)
}
