//! Entry points for the fuzz targets (`fuzz/`) and the test that replays their corpus: bytes
//! from the wire go through the binary COPY decoder, text through the URL reader. Neither may
//! panic or allocate without bound, whatever the input.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};

use super::copy_out::CopyDecoder;
use super::options::PgOptions;
use crate::connector::PoolOptions;
use crate::error::Result;
use crate::schema::ColumnSpec;

/// The columns a fuzzed COPY stream is decoded as: every decoder the reader has.
fn columns(pick: u8) -> Vec<ColumnSpec> {
    let n = |name: &str, dt: DataType, source: &str| ColumnSpec::native(name, dt, true, source);
    let all = vec![
        n("b", DataType::Boolean, "boolean"),
        n("i2", DataType::Int16, "smallint"),
        n("i4", DataType::Int32, "integer"),
        n("i8", DataType::Int64, "bigint"),
        n("f4", DataType::Float32, "real"),
        n("f8", DataType::Float64, "double precision"),
        n("t", DataType::Utf8, "text"),
        n("c", DataType::Utf8, "character"),
        n("j", DataType::Utf8, "jsonb"),
        n("u", DataType::Utf8, "uuid"),
        n("by", DataType::Binary, "bytea"),
        n("d", DataType::Date32, "date"),
        n(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "timestamp",
        ),
        n(
            "tz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "timestamp with time zone",
        ),
        n("tm", DataType::Time64(TimeUnit::Microsecond), "time"),
        n(
            "iv",
            DataType::Interval(IntervalUnit::MonthDayNano),
            "interval",
        ),
        n("n", DataType::Decimal128(38, 10), "numeric"),
        n("n2", DataType::Decimal128(12, 2), "numeric"),
        n(
            "ai",
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            "integer[]",
        ),
        n(
            "at",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            "text[]",
        ),
        ColumnSpec::text("x", DataType::Utf8, true, "xml"),
    ];
    // One column of each kind, or four of them together.
    let len = all.len();
    if (pick as usize) < len {
        return vec![all[pick as usize].clone()];
    }
    let start = pick as usize % len;
    (0..4).map(|k| all[(start + 3 * k) % len].clone()).collect()
}

/// Decodes `data` as a binary COPY stream: byte 0 picks the columns, byte 1 where the stream
/// is split in two chunks (a tuple across chunks), the rest is the stream.
pub fn copy_stream(data: &[u8]) {
    let _ = copy_stream_rows(data);
}

/// [`copy_stream`], giving the rows decoded (or the error).
pub fn copy_stream_rows(data: &[u8]) -> Result<usize> {
    let [pick, split, stream @ ..] = data else {
        return Ok(0);
    };
    let mut decoder = CopyDecoder::new(&columns(*pick), 7)?;
    let cut = (*split as usize * stream.len()) / 256;
    let mut rows = 0;
    for chunk in [&stream[..cut], &stream[cut..]] {
        decoder.feed(chunk)?;
        while let Some(batch) = decoder.take_batch()? {
            rows += batch.num_rows();
        }
    }
    Ok(rows
        + decoder
            .finish()?
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>())
}

/// Reads `data` (as UTF-8, lossily) as a PostgreSQL URL.
pub fn url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = PgOptions::parse(&text, PoolOptions::default());
    let _ = PgOptions::parse(
        &format!("postgres://u:p@h/db?{text}"),
        PoolOptions::default(),
    );
}
