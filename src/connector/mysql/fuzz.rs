//! Entry points for the fuzz targets (`fuzz/`) and the test that replays their corpus: bytes
//! from the wire go through the binary-protocol row decoder, text through the URL reader.
//! Neither may panic or allocate without bound, whatever the input.

use arrow::datatypes::{DataType, TimeUnit};
use mysql_common::constants::{ColumnFlags, ColumnType};

use super::options::MySqlOptions;
use super::wire_reader::RowDecoder;
use crate::connector::PoolOptions;
use crate::error::Result;
use crate::schema::ColumnSpec;

fn specs() -> Vec<ColumnSpec> {
    let n = |name: &str, dt: DataType, source: &str| ColumnSpec::native(name, dt, true, source);
    vec![
        n("b", DataType::Boolean, "tinyint(1)"),
        n("i1", DataType::Int8, "tinyint"),
        n("i2", DataType::Int16, "smallint"),
        n("i4", DataType::Int32, "int"),
        n("i8", DataType::Int64, "bigint"),
        n("u1", DataType::UInt8, "tinyint unsigned"),
        n("u8", DataType::UInt64, "bigint unsigned"),
        n("f4", DataType::Float32, "float"),
        n("f8", DataType::Float64, "double"),
        n("d", DataType::Decimal128(15, 2), "decimal(15,2)"),
        n("d38", DataType::Decimal128(38, 10), "decimal(38,10)"),
        n("s", DataType::Utf8, "varchar(10)"),
        n("by", DataType::Binary, "blob"),
        n("dt", DataType::Date32, "date"),
        n(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "datetime(6)",
        ),
        n("tm", DataType::Time64(TimeUnit::Microsecond), "time(6)"),
        ColumnSpec::text("x", DataType::Int64, true, "bigint"),
    ]
}

fn defs() -> Vec<(ColumnType, ColumnFlags)> {
    use ColumnType::*;
    let u = ColumnFlags::UNSIGNED_FLAG;
    let e = ColumnFlags::empty();
    vec![
        (MYSQL_TYPE_TINY, e),
        (MYSQL_TYPE_TINY, u),
        (MYSQL_TYPE_SHORT, e),
        (MYSQL_TYPE_LONG, e),
        (MYSQL_TYPE_LONGLONG, e),
        (MYSQL_TYPE_LONGLONG, u),
        (MYSQL_TYPE_FLOAT, e),
        (MYSQL_TYPE_DOUBLE, e),
        (MYSQL_TYPE_NEWDECIMAL, e),
        (MYSQL_TYPE_VAR_STRING, e),
        (MYSQL_TYPE_BLOB, e),
        (MYSQL_TYPE_DATE, e),
        (MYSQL_TYPE_DATETIME, e),
        (MYSQL_TYPE_TIMESTAMP, e),
        (MYSQL_TYPE_TIME, e),
        (MYSQL_TYPE_YEAR, u),
        (MYSQL_TYPE_NULL, e),
    ]
}

/// Decodes `data` as binary-protocol row packets: byte 0 says how many columns (1 to 3),
/// then for each a byte picking its declared type and one picking its wire type (any pair,
/// matching or not), then rows, each a one-byte length and that many bytes.
pub fn binary_rows(data: &[u8]) {
    let _ = binary_rows_count(data);
}

/// [`binary_rows`], giving the rows decoded (or the error).
pub fn binary_rows_count(data: &[u8]) -> Result<usize> {
    let Some((&width, rest)) = data.split_first() else {
        return Ok(0);
    };
    let width = 1 + width as usize % 3;
    let Some((picks, mut rows)) = rest.split_at_checked(2 * width) else {
        return Ok(0);
    };
    let (specs, defs) = (specs(), defs());
    let columns: Vec<ColumnSpec> = picks
        .chunks_exact(2)
        .map(|p| specs[p[0] as usize % specs.len()].clone())
        .collect();
    let wire: Vec<(ColumnType, ColumnFlags)> = picks
        .chunks_exact(2)
        .map(|p| defs[p[1] as usize % defs.len()])
        .collect();
    let mut decoder = RowDecoder::new(&columns, &wire, 3)?;
    let (mut pushed, mut decoded) = (0, 0);
    while let Some((&len, more)) = rows.split_first() {
        let len = (len as usize).min(more.len());
        let (row, after) = more.split_at(len);
        rows = after;
        decoder.push(row)?;
        pushed += 1;
        if pushed % 3 == 0 {
            decoded += decoder.flush()?.num_rows();
        }
    }
    Ok(decoded + decoder.flush()?.num_rows())
}

/// Reads `data` (as UTF-8, lossily) as a MySQL URL.
pub fn url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = MySqlOptions::parse(&text, PoolOptions::default());
    let _ = MySqlOptions::parse(&format!("mysql://u:p@h/db?{text}"), PoolOptions::default());
}
