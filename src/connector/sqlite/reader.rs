//! In-process SQLite reader: rusqlite rows straight into Arrow builders of the declared types.
//!
//! ConnectorX's SQLite source infers the type of a column without a declared type from its
//! first row (and fails when that value is NULL), and reads NUMERIC columns through their text
//! form; SQLite runs in this process, so reading it directly costs no network and gives exact
//! control over types and backpressure (see docs/decisions/0005-sqlite-in-process-reader.md).

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rusqlite::types::ValueRef;

use crate::error::{Error, Result};
use crate::read::{spawn_reader, BatchReceiver, BatchSender, ReadMetrics, ScanReader, ScanRequest};

/// Reads scan queries from one database file, read-only, on a thread of its own.
#[derive(Debug, Clone)]
pub struct SqliteReader {
    /// The database file.
    pub path: PathBuf,
}

impl ScanReader for SqliteReader {
    fn name(&self) -> &'static str {
        "native"
    }

    fn spawn(
        &self,
        request: ScanRequest,
        metrics: ReadMetrics,
        keep_alive: Option<Arc<dyn Any + Send + Sync>>,
    ) -> BatchReceiver {
        let path = self.path.clone();
        let queries = request.queries.clone();
        spawn_reader(
            "vp-sqlite-reader",
            "sqlite",
            &queries,
            keep_alive,
            move |tx| read_all(&path, &request, &metrics, tx),
        )
    }
}

fn value_err(column: &str, message: String) -> Error {
    Error::Value {
        column: column.to_string(),
        message,
    }
}

pub(super) fn sqlite_err(e: rusqlite::Error) -> Error {
    Error::Source {
        backend: "sqlite",
        code: match &e {
            rusqlite::Error::SqliteFailure(err, _) => Some(err.extended_code.to_string()),
            _ => None,
        },
        message: e.to_string(),
        retryable: false,
    }
}

fn describe(v: &ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("integer {i}"),
        ValueRef::Real(f) => format!("real {f}"),
        ValueRef::Text(t) => format!("text '{}'", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob of {} bytes", b.len()),
    }
}

fn parse_date(s: &str) -> Option<i32> {
    // The whole text: a DATE holding a time of day is an error, not silently truncated.
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some((d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

fn parse_time(s: &str) -> Option<i64> {
    let t = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    (t - chrono::NaiveTime::MIN).num_microseconds()
}

fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

/// One column's builder, converting SQLite's dynamic values into its declared type.
enum Col {
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder),
}

impl Col {
    fn new(dt: &DataType, cap: usize) -> Result<Col> {
        Ok(match dt {
            DataType::Int16 => Col::I16(Int16Builder::with_capacity(cap)),
            DataType::Int32 => Col::I32(Int32Builder::with_capacity(cap)),
            DataType::Int64 => Col::I64(Int64Builder::with_capacity(cap)),
            DataType::Float32 => Col::F32(Float32Builder::with_capacity(cap)),
            DataType::Float64 => Col::F64(Float64Builder::with_capacity(cap)),
            DataType::Boolean => Col::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Utf8 => Col::Str(StringBuilder::with_capacity(cap, cap * 16)),
            DataType::Binary => Col::Bin(BinaryBuilder::with_capacity(cap, cap * 16)),
            DataType::Date32 => Col::Date(Date32Builder::with_capacity(cap)),
            DataType::Time64(TimeUnit::Microsecond) => {
                Col::Time(Time64MicrosecondBuilder::with_capacity(cap))
            }
            DataType::Timestamp(TimeUnit::Microsecond, None) => {
                Col::Ts(TimestampMicrosecondBuilder::with_capacity(cap))
            }
            other => {
                return Err(Error::Config(format!(
                    "the SQLite reader cannot produce {other}"
                )));
            }
        })
    }

    fn push(&mut self, name: &str, v: ValueRef<'_>) -> Result<()> {
        let bad = |v: &ValueRef<'_>, what: &str| {
            value_err(name, format!("{} is not {what}", describe(v)))
        };
        let int = |v: &ValueRef<'_>| -> Result<i64> {
            match v {
                ValueRef::Integer(i) => Ok(*i),
                ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| bad(v, "an integer")),
                _ => Err(bad(v, "an integer")),
            }
        };
        let float = |v: &ValueRef<'_>| -> Result<f64> {
            match v {
                // Only integers a double holds exactly (|i| <= 2^53).
                ValueRef::Integer(i) if i.unsigned_abs() <= 1 << 53 => Ok(*i as f64),
                ValueRef::Integer(_) => Err(bad(v, "exactly representable as a 64-bit float")),
                ValueRef::Real(f) => Ok(*f),
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| bad(v, "a number")),
                _ => Err(bad(v, "a number")),
            }
        };
        let text = |v: &ValueRef<'_>| -> Result<String> {
            match v {
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .map(str::to_string)
                    .map_err(|_| bad(v, "UTF-8 text")),
                ValueRef::Integer(i) => Ok(i.to_string()),
                ValueRef::Real(f) => Ok(f.to_string()),
                ValueRef::Blob(_) | ValueRef::Null => Err(bad(v, "text")),
            }
        };
        if matches!(v, ValueRef::Null) {
            match self {
                Col::I16(b) => b.append_null(),
                Col::I32(b) => b.append_null(),
                Col::I64(b) => b.append_null(),
                Col::F32(b) => b.append_null(),
                Col::F64(b) => b.append_null(),
                Col::Bool(b) => b.append_null(),
                Col::Str(b) => b.append_null(),
                Col::Bin(b) => b.append_null(),
                Col::Date(b) => b.append_null(),
                Col::Time(b) => b.append_null(),
                Col::Ts(b) => b.append_null(),
            }
            return Ok(());
        }
        match self {
            Col::I16(b) => {
                b.append_value(i16::try_from(int(&v)?).map_err(|_| bad(&v, "a 16-bit integer"))?)
            }
            Col::I32(b) => {
                b.append_value(i32::try_from(int(&v)?).map_err(|_| bad(&v, "a 32-bit integer"))?)
            }
            Col::I64(b) => b.append_value(int(&v)?),
            Col::F32(b) => b.append_value(float(&v)? as f32),
            Col::F64(b) => b.append_value(float(&v)?),
            Col::Bool(b) => b.append_value(int(&v)? != 0),
            Col::Str(b) => match v {
                ValueRef::Text(t) => {
                    b.append_value(std::str::from_utf8(t).map_err(|_| bad(&v, "UTF-8 text"))?)
                }
                _ => b.append_value(text(&v)?),
            },
            Col::Bin(b) => match v {
                ValueRef::Blob(x) | ValueRef::Text(x) => b.append_value(x),
                _ => return Err(bad(&v, "a blob")),
            },
            Col::Date(b) => b.append_value(
                parse_date(&text(&v)?).ok_or_else(|| bad(&v, "a date (YYYY-MM-DD)"))?,
            ),
            Col::Time(b) => {
                b.append_value(parse_time(&text(&v)?).ok_or_else(|| bad(&v, "a time (HH:MM:SS)"))?)
            }
            Col::Ts(b) => {
                b.append_value(parse_timestamp(&text(&v)?).ok_or_else(|| bad(&v, "a timestamp"))?)
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Str(b) => Arc::new(b.finish()),
            Col::Bin(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
        }
    }
}

/// Interrupts the connection's statement once the consumer has gone; stops with the reader.
struct Watcher {
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Watcher {
    const POLL: std::time::Duration = std::time::Duration::from_millis(100);

    fn start(handle: rusqlite::InterruptHandle, gone: impl Fn() -> bool + Send + 'static) -> Self {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        // Without the thread the reader still stops at its next send.
        let _ = std::thread::Builder::new()
            .name("vp-sqlite-watch".into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if gone() {
                        handle.interrupt();
                        return;
                    }
                    std::thread::sleep(Self::POLL);
                }
            });
        Self { done }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn read_all(
    path: &std::path::Path,
    req: &ScanRequest,
    metrics: &ReadMetrics,
    tx: &BatchSender,
) -> Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err)?;
    // A query can work for long without producing a row (a filter that passes nothing): a
    // watcher interrupts it when the consumer goes.
    let _watcher = Watcher::start(conn.get_interrupt_handle(), tx.watch());
    let gone = tx.watch();
    let step = |e: rusqlite::Error| -> Error {
        if gone() {
            Error::Cancelled
        } else {
            sqlite_err(e)
        }
    };
    let names: Vec<String> = req
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut remaining = req.limit.unwrap_or(usize::MAX);
    for query in &req.queries {
        let mut stmt = conn.prepare(query).map_err(sqlite_err)?;
        let mut rows = stmt.query([]).map_err(sqlite_err)?;
        loop {
            if remaining == 0 {
                return Ok(());
            }
            let cap = req.batch_size.min(remaining);
            let mut cols = req
                .schema
                .fields()
                .iter()
                .map(|f| Col::new(f.data_type(), cap))
                .collect::<Result<Vec<_>>>()?;
            let mut n = 0;
            let waited = Instant::now();
            while n < cap {
                let Some(row) = rows.next().map_err(step)? else {
                    break;
                };
                for (i, col) in cols.iter_mut().enumerate() {
                    col.push(&names[i], row.get_ref(i).map_err(sqlite_err)?)?;
                }
                n += 1;
            }
            metrics.wait.add_duration(waited.elapsed());
            if n == 0 {
                break;
            }
            remaining -= n;
            let arrays: Vec<ArrayRef> = cols.iter_mut().map(Col::finish).collect();
            let batch = RecordBatch::try_new_with_options(
                req.schema.clone(),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )?;
            metrics.rows.add(n);
            metrics.bytes.add(batch.get_array_memory_size());
            if !tx.send_blocking(batch) {
                return Ok(());
            }
            if n < cap {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_date_and_time_text() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("1969-12-31 10:00"), None);
        assert_eq!(parse_date("31/12/1969"), None);
        assert_eq!(parse_time("00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_time("01:02"), Some(3_720_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp("never"), None);
    }

    #[test]
    fn builders_convert_dynamic_values() {
        let mut c = Col::new(&DataType::Int16, 4).unwrap();
        c.push("c", ValueRef::Integer(5)).unwrap();
        c.push("c", ValueRef::Real(6.0)).unwrap();
        c.push("c", ValueRef::Null).unwrap();
        assert!(c.push("c", ValueRef::Integer(70000)).is_err());
        assert!(c.push("c", ValueRef::Real(1.5)).is_err());
        assert_eq!(c.finish().len(), 3);
        let mut s = Col::new(&DataType::Utf8, 2).unwrap();
        s.push("s", ValueRef::Integer(7)).unwrap();
        s.push("s", ValueRef::Text(b"x")).unwrap();
        let a = s.finish();
        assert_eq!(
            arrow::util::display::array_value_to_string(&a, 0).unwrap(),
            "7"
        );
        let mut d = Col::new(&DataType::Date32, 1).unwrap();
        let e = d.push("d", ValueRef::Text(b"soon")).unwrap_err();
        assert!(
            e.to_string().contains("column `d`") && e.to_string().contains("'soon'"),
            "{e}"
        );
        assert!(Col::new(&DataType::Decimal128(10, 2), 1).is_err());
        let mut f = Col::new(&DataType::Float64, 2).unwrap();
        f.push("f", ValueRef::Text(b" 2.5 ")).unwrap();
        f.push("f", ValueRef::Integer(1 << 53)).unwrap();
        assert!(f.push("f", ValueRef::Integer((1 << 53) + 1)).is_err());
        assert!(f.push("f", ValueRef::Blob(b"x")).is_err());
    }
}
