//! PostgreSQL's binary wire format: values encoded for bound parameters and binary COPY (one
//! encoder for both), and query results decoded into Arrow arrays.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{
    DataType, Field, FieldRef, IntervalMonthDayNano, Schema, SchemaRef, TimeUnit,
};
use arrow::record_batch::RecordBatch;
use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};

use crate::connector::value::{cell_fn, days_of, micros_of_day, Cell, Value};
use crate::error::{Error, Result};
use crate::schema::{conform_column, ColumnSpec, ReadAs};

/// Days between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds between 1970-01-01 and 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

type Enc = std::result::Result<IsNull, String>;

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        encode(&self.cell(), ty, out).map_err(Into::into)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn int_of(cell: &Cell, lo: i128, hi: i128, ty: &Type) -> std::result::Result<i128, String> {
    let v: i128 = match cell {
        Cell::Int(v) => *v as i128,
        Cell::UInt(v) => *v as i128,
        Cell::Bool(b) => *b as i128,
        Cell::Decimal(v, s) if *s <= 0 => v
            .checked_mul(10i128.pow((-*s) as u32))
            .ok_or_else(|| format!("{v}e{} does not fit {ty}", -s))?,
        Cell::Decimal(v, s) => {
            let p = 10i128.pow(*s as u32);
            if v % p != 0 {
                return Err(format!(
                    "{} is not a whole number ({ty})",
                    cell.text().unwrap_or_default()
                ));
            }
            v / p
        }
        Cell::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 1e38 => *f as i128,
        Cell::Str(s) => s
            .trim()
            .parse::<i128>()
            .map_err(|_| format!("`{s}` is not an integer ({ty})"))?,
        other => return Err(format!("cannot write {other:?} as {ty}")),
    };
    if v < lo || v > hi {
        return Err(format!("{v} is out of range for {ty}"));
    }
    Ok(v)
}

fn float_of(cell: &Cell, ty: &Type) -> std::result::Result<f64, String> {
    Ok(match cell {
        Cell::Float(f) => *f,
        Cell::Int(v) => *v as f64,
        Cell::UInt(v) => *v as f64,
        Cell::Decimal(..) | Cell::DecimalText(_) => {
            let t = cell.text().unwrap_or_default();
            t.parse::<f64>().map_err(|e| format!("{t}: {e}"))?
        }
        Cell::Str(s) => match s.trim() {
            "NaN" => f64::NAN,
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            t => t
                .parse::<f64>()
                .map_err(|_| format!("`{s}` is not a number ({ty})"))?,
        },
        other => return Err(format!("cannot write {other:?} as {ty}")),
    })
}

fn text_of<'a>(
    cell: &'a Cell,
    ty: &Type,
) -> std::result::Result<std::borrow::Cow<'a, str>, String> {
    match cell {
        Cell::Bytes(b) => std::str::from_utf8(b)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|_| format!("bytes that are not UTF-8 cannot be written as {ty}")),
        other => other
            .text()
            .ok_or_else(|| format!("cannot write {other:?} as {ty}")),
    }
}

/// Splits a decimal text (`-12.5`, `1e-7`, `+3`) into sign, integer digits and fraction digits.
pub fn numeric_parts(text: &str) -> std::result::Result<(bool, String, String), String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a number");
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || exp.abs() > 1000
    {
        return Err(bad());
    }
    let mut digits = format!("{int}{frac}");
    let mut point = int.len() as i32 + exp;
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    if point as usize > digits.len() {
        digits += &"0".repeat(point as usize - digits.len());
    }
    let (i, f) = digits.split_at(point as usize);
    Ok((neg, i.to_string(), f.to_string()))
}

/// Writes `v × 10^-scale` as a binary numeric with integer arithmetic (the bulk-load hot path).
fn encode_decimal_numeric(v: i128, scale: u32, out: &mut BytesMut) {
    // The fraction is aligned to whole base-10000 digits: the lowest group holds the lowest
    // `4 - pad` decimal digits followed by `pad` zeros (computed apart, so 38 digits plus the
    // padding never have to fit one integer).
    let pad = (4 - scale % 4) % 4;
    let frac_groups = ((scale + pad) / 4) as i32;
    // Little-endian base-10000 digits (at most 39 decimal digits + 3 of padding).
    let mut groups = [0i16; 12];
    let mut n = 0;
    let mut rest = v.unsigned_abs();
    if pad > 0 && rest > 0 {
        let low = 10u128.pow(4 - pad);
        groups[0] = ((rest % low) * 10u128.pow(pad)) as i16;
        rest /= low;
        n = 1;
    }
    while rest > 0 {
        groups[n] = (rest % 10_000) as i16;
        rest /= 10_000;
        n += 1;
    }
    // Trailing zero groups (the low end) carry no information.
    let mut low = 0;
    while low < n && groups[low] == 0 {
        low += 1;
    }
    let ndigits = n - low;
    let weight = if ndigits == 0 {
        0
    } else {
        n as i32 - frac_groups - 1
    };
    out.put_i16(ndigits as i16);
    out.put_i16(weight as i16);
    out.put_u16(if v < 0 && ndigits > 0 { 0x4000 } else { 0 });
    out.put_u16(scale as u16);
    for g in groups[low..n].iter().rev() {
        out.put_i16(*g);
    }
}

fn encode_numeric(cell: &Cell, out: &mut BytesMut) -> std::result::Result<(), String> {
    if let Cell::Float(f) = cell {
        if f.is_nan() {
            out.put_i16(0);
            out.put_i16(0);
            out.put_u16(0xC000);
            out.put_u16(0);
            return Ok(());
        }
        if f.is_infinite() {
            out.put_i16(0);
            out.put_i16(0);
            out.put_u16(if *f > 0.0 { 0xD000 } else { 0xF000 });
            out.put_u16(0);
            return Ok(());
        }
    }
    match cell {
        Cell::Decimal(v, s) if *s >= 0 => {
            encode_decimal_numeric(*v, *s as u32, out);
            return Ok(());
        }
        Cell::Int(v) => {
            encode_decimal_numeric(*v as i128, 0, out);
            return Ok(());
        }
        _ => {}
    }
    let text = match cell {
        Cell::Bool(_) | Cell::Bytes(_) | Cell::List(_) => {
            return Err(format!("cannot write {cell:?} as numeric"))
        }
        c => c.text().ok_or("NULL")?,
    };
    if text.trim().eq_ignore_ascii_case("nan") {
        return encode_numeric(&Cell::Float(f64::NAN), out);
    }
    let (neg, int, frac) = numeric_parts(&text)?;
    let int = int.trim_start_matches('0');
    let mut digits: Vec<i16> = vec![];
    let ipad = "0".repeat((4 - int.len() % 4) % 4) + int;
    for chunk in ipad.as_bytes().chunks(4) {
        digits.push(
            std::str::from_utf8(chunk)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0),
        );
    }
    let int_groups = digits.len() as i32;
    let fpad = frac.clone() + &"0".repeat((4 - frac.len() % 4) % 4);
    for chunk in fpad.as_bytes().chunks(4) {
        digits.push(
            std::str::from_utf8(chunk)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0),
        );
    }
    let mut weight = int_groups - 1;
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
    weight -= lead as i32;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    if frac.len() > 0x3FFF || digits.len() > i16::MAX as usize || weight.abs() > i16::MAX as i32 {
        return Err(format!("{text} is too large for numeric"));
    }
    out.put_i16(digits.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(if neg && !digits.is_empty() { 0x4000 } else { 0 });
    out.put_u16(frac.len() as u16);
    for d in digits {
        out.put_i16(d);
    }
    Ok(())
}

fn parse_uuid(s: &str) -> std::result::Result<[u8; 16], String> {
    let hex: String = s
        .trim()
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|c| *c != '-')
        .collect();
    if hex.len() != 32 {
        return Err(format!("`{s}` is not a UUID"));
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("`{s}` is not a UUID"))?;
    }
    Ok(out)
}

fn micros_of(cell: &Cell, ty: &Type) -> std::result::Result<i64, String> {
    match cell {
        Cell::Timestamp(us, _) => Ok(*us),
        Cell::Date(d) => Ok(*d as i64 * 86_400_000_000),
        Cell::Str(s) => {
            let s = s.trim();
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                return Ok(t.timestamp_micros());
            }
            for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
                if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
                    return Ok(t.and_utc().timestamp_micros());
                }
            }
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(d
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp_micros());
            }
            Err(format!("`{s}` is not a timestamp ({ty})"))
        }
        other => Err(format!("cannot write {other:?} as {ty}")),
    }
}

/// Encodes one value as PostgreSQL type `ty` in binary format (NULL: `IsNull::Yes`, nothing
/// written). Lossy conversions are errors.
pub fn encode(cell: &Cell, ty: &Type, out: &mut BytesMut) -> Enc {
    if matches!(cell, Cell::Null) {
        return Ok(IsNull::Yes);
    }
    match ty.kind() {
        Kind::Domain(base) => return encode(cell, base, out),
        Kind::Enum(_) => {
            out.put_slice(text_of(cell, ty)?.as_bytes());
            return Ok(IsNull::No);
        }
        Kind::Array(elem) => {
            encode_array(cell, elem, out)?;
            return Ok(IsNull::No);
        }
        _ => {}
    }
    match *ty {
        Type::BOOL => {
            let b = match cell {
                Cell::Bool(b) => *b,
                Cell::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "t" | "true" | "1" | "yes" | "on" => true,
                    "f" | "false" | "0" | "no" | "off" => false,
                    _ => return Err(format!("`{s}` is not a boolean")),
                },
                other => int_of(other, 0, 1, ty)? == 1,
            };
            out.put_u8(b as u8);
        }
        Type::INT2 => out.put_i16(int_of(cell, i16::MIN as i128, i16::MAX as i128, ty)? as i16),
        Type::INT4 => out.put_i32(int_of(cell, i32::MIN as i128, i32::MAX as i128, ty)? as i32),
        Type::INT8 => out.put_i64(int_of(cell, i64::MIN as i128, i64::MAX as i128, ty)? as i64),
        Type::OID => out.put_u32(int_of(cell, 0, u32::MAX as i128, ty)? as u32),
        Type::FLOAT4 => out.put_f32(float_of(cell, ty)? as f32),
        Type::FLOAT8 => out.put_f64(float_of(cell, ty)?),
        Type::NUMERIC => encode_numeric(cell, out)?,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
            out.put_slice(text_of(cell, ty)?.as_bytes())
        }
        Type::JSONB => {
            out.put_u8(1);
            out.put_slice(text_of(cell, ty)?.as_bytes());
        }
        Type::BYTEA => match cell {
            Cell::Bytes(b) => out.put_slice(b),
            Cell::Str(s) => out.put_slice(s.as_bytes()),
            other => return Err(format!("cannot write {other:?} as bytea")),
        },
        Type::UUID => match cell {
            Cell::Bytes(b) if b.len() == 16 => out.put_slice(b),
            Cell::Str(s) => out.put_slice(&parse_uuid(s)?),
            other => return Err(format!("cannot write {other:?} as uuid")),
        },
        Type::DATE => {
            let days = match cell {
                Cell::Date(d) => *d,
                Cell::Str(s) => {
                    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .map_err(|_| format!("`{s}` is not a date"))?;
                    days_of(d)
                }
                Cell::Timestamp(us, _) if us.rem_euclid(86_400_000_000) == 0 => {
                    us.div_euclid(86_400_000_000) as i32
                }
                other => return Err(format!("cannot write {other:?} as date")),
            };
            out.put_i32(days - PG_EPOCH_DAYS);
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => out.put_i64(micros_of(cell, ty)? - PG_EPOCH_MICROS),
        Type::TIME => {
            let us = match cell {
                Cell::Time(us) => *us,
                Cell::Duration(us) if (0..86_400_000_000).contains(us) => *us,
                Cell::Str(s) => {
                    let t = chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                        .map_err(|_| format!("`{s}` is not a time of day"))?;
                    micros_of_day(t)
                }
                other => return Err(format!("cannot write {other:?} as time")),
            };
            out.put_i64(us);
        }
        Type::INTERVAL => {
            let (m, d, us) = match cell {
                Cell::Interval(m, d, ns) if ns % 1000 == 0 => (*m, *d, ns / 1000),
                Cell::Duration(us) => (0, 0, *us),
                other => return Err(format!("cannot write {other:?} as interval")),
            };
            out.put_i64(us);
            out.put_i32(d);
            out.put_i32(m);
        }
        _ if ty.name() == "citext" => out.put_slice(text_of(cell, ty)?.as_bytes()),
        _ => {
            return Err(format!(
                "type {} has no binary encoder here: cast the parameter in SQL ($1::text::{})",
                ty.name(),
                ty.name()
            ))
        }
    }
    Ok(IsNull::No)
}

/// Encodes `cell` with a 4-byte length prefix (-1 for NULL), as fields of COPY and array
/// elements are framed.
pub fn encode_framed(
    cell: &Cell,
    ty: &Type,
    out: &mut BytesMut,
) -> std::result::Result<(), String> {
    let at = out.len();
    out.put_i32(0);
    match encode(cell, ty, out)? {
        IsNull::Yes => {
            out.truncate(at);
            out.put_i32(-1);
        }
        IsNull::No => {
            let len = out.len() - at - 4;
            let len = i32::try_from(len).map_err(|_| "value larger than 2 GiB".to_string())?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

fn encode_array(cell: &Cell, elem: &Type, out: &mut BytesMut) -> std::result::Result<(), String> {
    let Cell::List(values) = cell else {
        return Err(format!("cannot write {cell:?} as {}[]", elem.name()));
    };
    let get = cell_fn("element", values).map_err(|e| e.to_string())?;
    let n = values.len();
    out.put_i32(if n == 0 { 0 } else { 1 });
    out.put_i32((values.null_count() > 0) as i32);
    out.put_u32(elem.oid());
    if n > 0 {
        out.put_i32(n as i32);
        out.put_i32(1);
    }
    for i in 0..n {
        encode_framed(&get(i), elem, out)?;
    }
    Ok(())
}

/// The header of a binary COPY stream.
pub fn copy_header(out: &mut BytesMut) {
    out.put_slice(b"PGCOPY\n\xff\r\n\0");
    out.put_i32(0);
    out.put_i32(0);
}

/// Appends the rows of `batch` to a binary COPY stream whose columns have types `types`.
pub fn copy_rows(batch: &RecordBatch, types: &[Type], out: &mut BytesMut) -> Result<()> {
    let schema = batch.schema_ref();
    let readers = crate::connector::value::batch_cells(batch)?;
    for row in 0..batch.num_rows() {
        out.put_i16(readers.len() as i16);
        for (c, read) in readers.iter().enumerate() {
            encode_framed(&read(row), &types[c], out).map_err(|message| Error::Value {
                column: schema.field(c).name().clone(),
                message,
            })?;
        }
    }
    Ok(())
}

/// A value as it arrived: raw binary bytes, or NULL.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// How a result column is decoded.
#[derive(Debug, Clone)]
pub(super) enum Dec {
    Bool,
    I16,
    I32,
    I64,
    Oid,
    F32,
    F64,
    Text {
        trim: bool,
        jsonb: bool,
    },
    Uuid,
    Bytes,
    Date,
    Ts(bool),
    Time,
    Interval,
    Numeric(DataType),
    /// `numeric` straight into a Decimal128(precision, scale), exact or an error.
    Decimal128(u8, i8),
    /// A one-dimensional array of the inner type.
    List(Box<Dec>, FieldRef),
}

fn decoder(ty: &Type, typmod: i32) -> Option<(Dec, DataType)> {
    match ty.kind() {
        Kind::Domain(base) => return decoder(base, -1),
        Kind::Array(elem) => {
            let (inner, dt) = decoder(elem, typmod)?;
            if matches!(inner, Dec::List(..)) {
                return None;
            }
            let field: FieldRef = Arc::new(Field::new_list_field(dt, true));
            return Some((
                Dec::List(Box::new(inner), field.clone()),
                DataType::List(field),
            ));
        }
        Kind::Enum(_) => {
            return Some((
                Dec::Text {
                    trim: false,
                    jsonb: false,
                },
                DataType::Utf8,
            ))
        }
        _ => {}
    }
    let text = Dec::Text {
        trim: false,
        jsonb: false,
    };
    Some(match *ty {
        Type::BOOL => (Dec::Bool, DataType::Boolean),
        Type::INT2 => (Dec::I16, DataType::Int16),
        Type::INT4 => (Dec::I32, DataType::Int32),
        Type::INT8 => (Dec::I64, DataType::Int64),
        Type::OID => (Dec::Oid, DataType::Int64),
        Type::FLOAT4 => (Dec::F32, DataType::Float32),
        Type::FLOAT8 => (Dec::F64, DataType::Float64),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
            (text, DataType::Utf8)
        }
        Type::BPCHAR => (
            Dec::Text {
                trim: true,
                jsonb: false,
            },
            DataType::Utf8,
        ),
        Type::JSONB => (
            Dec::Text {
                trim: false,
                jsonb: true,
            },
            DataType::Utf8,
        ),
        Type::UUID => (Dec::Uuid, DataType::Utf8),
        Type::BYTEA => (Dec::Bytes, DataType::Binary),
        Type::DATE => (Dec::Date, DataType::Date32),
        Type::TIMESTAMP => (
            Dec::Ts(false),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        Type::TIMESTAMPTZ => (
            Dec::Ts(true),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        Type::TIME => (Dec::Time, DataType::Time64(TimeUnit::Microsecond)),
        Type::INTERVAL => (
            Dec::Interval,
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        ),
        Type::NUMERIC => match super::types::numeric_arrow_type(typmod) {
            DataType::Decimal128(p, s) => (Dec::Decimal128(p, s), DataType::Decimal128(p, s)),
            dt => (Dec::Numeric(dt.clone()), dt),
        },
        _ if ty.name() == "citext" => (text, DataType::Utf8),
        _ => return None,
    })
}

/// How a scan column arrives in binary COPY: text-read columns as text (converted to their
/// declared type afterwards), native ones in the binary form of the source type the declared
/// Arrow type stands for. `None` when no decoder fits (the caller reports the column).
pub(super) fn copy_dec(spec: &ColumnSpec) -> Option<Dec> {
    let text = |trim| Dec::Text { trim, jsonb: false };
    match spec.read {
        ReadAs::Text | ReadAs::TextNoZeroDates => return Some(text(false)),
        ReadAs::TrimPad => return Some(text(true)),
        ReadAs::Native | ReadAs::NativeZeroDateNull | ReadAs::Function(_) => {}
    }
    fn native(dt: &DataType, source_type: &str) -> Option<Dec> {
        Some(match dt {
            DataType::Boolean => Dec::Bool,
            DataType::Int16 => Dec::I16,
            DataType::Int32 => Dec::I32,
            DataType::Int64 => Dec::I64,
            DataType::Float32 => Dec::F32,
            DataType::Float64 => Dec::F64,
            DataType::Utf8 => match source_type {
                "uuid" => Dec::Uuid,
                "jsonb" => Dec::Text {
                    trim: false,
                    jsonb: true,
                },
                "character" => Dec::Text {
                    trim: true,
                    jsonb: false,
                },
                _ => Dec::Text {
                    trim: false,
                    jsonb: false,
                },
            },
            DataType::Binary => Dec::Bytes,
            DataType::Date32 => Dec::Date,
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Dec::Ts(tz.is_some()),
            DataType::Time64(TimeUnit::Microsecond) => Dec::Time,
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => Dec::Interval,
            DataType::Decimal128(p, s) => Dec::Decimal128(*p, *s),
            DataType::List(field) => {
                let elem = source_type.strip_suffix("[]").unwrap_or(source_type);
                let elem = elem.split('(').next().unwrap_or(elem);
                let inner = native(field.data_type(), elem)?;
                if matches!(inner, Dec::List(..)) {
                    return None;
                }
                Dec::List(Box::new(inner), field.clone())
            }
            _ => return None,
        })
    }
    native(spec.field.data_type(), &spec.source_type)
}

fn be<const N: usize>(raw: &[u8]) -> std::result::Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

/// Decodes PostgreSQL's binary numeric into its text form.
pub fn numeric_text(raw: &[u8]) -> std::result::Result<String, String> {
    if raw.len() < 8 {
        return Err("short numeric".into());
    }
    let n = u16::from_be_bytes([raw[0], raw[1]]) as usize;
    let weight = i16::from_be_bytes([raw[2], raw[3]]) as i32;
    let sign = u16::from_be_bytes([raw[4], raw[5]]);
    let dscale = u16::from_be_bytes([raw[6], raw[7]]) as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    if raw.len() < 8 + 2 * n {
        return Err("short numeric".into());
    }
    let digit = |i: i32| -> u16 {
        if i < 0 || i as usize >= n {
            0
        } else {
            let at = 8 + 2 * i as usize;
            u16::from_be_bytes([raw[at], raw[at + 1]])
        }
    };
    let mut int = String::new();
    for g in 0..=weight.max(-1) {
        if weight < 0 {
            break;
        }
        let d = digit(g);
        if int.is_empty() {
            if d != 0 {
                int = d.to_string();
            }
        } else {
            int += &format!("{d:04}");
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut g = weight + 1;
    while frac.len() < dscale {
        frac += &format!("{:04}", digit(g));
        g += 1;
    }
    frac.truncate(dscale);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out += &int;
    if dscale > 0 {
        out.push('.');
        out += &frac;
    }
    Ok(out)
}

/// Powers of ten that fit an i128.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Decodes PostgreSQL's binary `numeric` into the unscaled integer of a Decimal128(precision,
/// scale): exact, or an error when the value would be rounded or does not fit.
pub(super) fn numeric_i128(
    raw: &[u8],
    precision: u8,
    scale: i8,
) -> std::result::Result<i128, String> {
    if raw.len() < 8 {
        return Err("short numeric".into());
    }
    let n = u16::from_be_bytes([raw[0], raw[1]]) as usize;
    let weight = i16::from_be_bytes([raw[2], raw[3]]) as i32;
    let negative = match u16::from_be_bytes([raw[4], raw[5]]) {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Err("NaN has no Decimal value".into()),
        0xD000 | 0xF000 => return Err("infinity has no Decimal value".into()),
        other => return Err(format!("unknown numeric sign {other:#x}")),
    };
    let digits = raw
        .get(8..8 + 2 * n)
        .ok_or_else(|| "short numeric".to_string())?;
    let too_wide = || {
        format!(
            "{} does not fit Decimal({precision},{scale})",
            numeric_text(raw).unwrap_or_default()
        )
    };
    let rounds = || {
        format!(
            "value {} has more than {scale} fractional digits; reading it as Decimal({precision},{scale}) would round it",
            numeric_text(raw).unwrap_or_default()
        )
    };
    // Digit i (base 10000) stands for d * 10^e of the unscaled value, e = 4 * (weight - i) + scale.
    // Digits below the unit of the scale must be zero (else the value would round); the one that
    // straddles it is cut to its significant part. Only the digits that remain are accumulated
    // (Horner, in 64 bits while it fits), so no intermediate is wider than the result.
    let mut small: u64 = 0;
    let mut big: Option<i128> = None;
    let mut any = false;
    // The exponent of the last digit taken into the accumulator.
    let mut last_e = 0i32;
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let mut d = u16::from_be_bytes([pair[0], pair[1]]) as u64;
        if d > 9999 {
            return Err(format!("numeric digit {d} is out of range"));
        }
        let e = 4 * (weight - i as i32) + scale as i32;
        // How far the accumulator moves to make room for this digit.
        let step = if e >= 0 {
            4
        } else if e > -4 {
            let cut = 10u64.pow((-e) as u32);
            if d % cut != 0 {
                return Err(rounds());
            }
            d /= cut;
            4 + e
        } else {
            if d != 0 {
                return Err(rounds());
            }
            continue;
        };
        let m = 10u64.pow(step as u32);
        if !any {
            small = d;
            any = true;
        } else {
            match big {
                None if small < 100_000_000_000_000 => small = small * m + d,
                None => {
                    big = Some(
                        (small as i128)
                            .checked_mul(m as i128)
                            .and_then(|v| v.checked_add(d as i128))
                            .ok_or_else(too_wide)?,
                    )
                }
                Some(v) => {
                    big = Some(
                        v.checked_mul(m as i128)
                            .and_then(|v| v.checked_add(d as i128))
                            .ok_or_else(too_wide)?,
                    )
                }
            }
        }
        last_e = e.max(0);
    }
    let whole = big.unwrap_or(small as i128);
    // Digits beyond the stored ones are zeros: the last one taken still stands for d * 10^last_e.
    let unscaled = if whole == 0 {
        0
    } else {
        let m = POW10.get(last_e as usize).ok_or_else(too_wide)?;
        whole.checked_mul(*m).ok_or_else(too_wide)?
    };
    if precision < 39 && unscaled.unsigned_abs() >= POW10[precision as usize].unsigned_abs() {
        return Err(too_wide());
    }
    Ok(if negative { -unscaled } else { unscaled })
}

pub(super) enum Acc {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder, bool),
    Time(Time64MicrosecondBuilder),
    Iv(IntervalMonthDayNanoBuilder),
    D128(Decimal128Builder),
    List {
        child: Box<Acc>,
        offsets: Vec<i32>,
        valid: Vec<bool>,
    },
}

impl Acc {
    pub(super) fn new(dec: &Dec) -> Acc {
        match dec {
            Dec::Bool => Acc::Bool(BooleanBuilder::new()),
            Dec::I16 => Acc::I16(Int16Builder::new()),
            Dec::I32 => Acc::I32(Int32Builder::new()),
            Dec::I64 | Dec::Oid => Acc::I64(Int64Builder::new()),
            Dec::F32 => Acc::F32(Float32Builder::new()),
            Dec::F64 => Acc::F64(Float64Builder::new()),
            Dec::Text { .. } | Dec::Uuid | Dec::Numeric(_) => Acc::Str(StringBuilder::new()),
            Dec::Bytes => Acc::Bin(BinaryBuilder::new()),
            Dec::Date => Acc::Date(Date32Builder::new()),
            Dec::Ts(utc) => Acc::Ts(TimestampMicrosecondBuilder::new(), *utc),
            Dec::Time => Acc::Time(Time64MicrosecondBuilder::new()),
            Dec::Interval => Acc::Iv(IntervalMonthDayNanoBuilder::new()),
            Dec::Decimal128(..) => Acc::D128(Decimal128Builder::new()),
            Dec::List(inner, _) => Acc::List {
                child: Box::new(Acc::new(inner)),
                offsets: vec![0],
                valid: vec![],
            },
        }
    }

    pub(super) fn push(
        &mut self,
        dec: &Dec,
        raw: Option<&[u8]>,
    ) -> std::result::Result<(), String> {
        let Some(raw) = raw else {
            match self {
                Acc::Bool(b) => b.append_null(),
                Acc::I16(b) => b.append_null(),
                Acc::I32(b) => b.append_null(),
                Acc::I64(b) => b.append_null(),
                Acc::F32(b) => b.append_null(),
                Acc::F64(b) => b.append_null(),
                Acc::Str(b) => b.append_null(),
                Acc::Bin(b) => b.append_null(),
                Acc::Date(b) => b.append_null(),
                Acc::Ts(b, _) => b.append_null(),
                Acc::Time(b) => b.append_null(),
                Acc::Iv(b) => b.append_null(),
                Acc::D128(b) => b.append_null(),
                Acc::List { offsets, valid, .. } => {
                    offsets.push(offsets.last().copied().unwrap_or(0));
                    valid.push(false);
                }
            }
            return Ok(());
        };
        if let (
            Acc::List {
                child,
                offsets,
                valid,
            },
            Dec::List(inner, _),
        ) = (&mut *self, dec)
        {
            let n = push_array_elements(child, inner, raw)?;
            let last = offsets.last().copied().unwrap_or(0);
            offsets.push(
                last.checked_add(n)
                    .ok_or("more array elements in one batch than an Arrow list holds")?,
            );
            valid.push(true);
            return Ok(());
        }
        fn utf8(r: &[u8]) -> std::result::Result<&str, String> {
            std::str::from_utf8(r).map_err(|e| e.to_string())
        }
        match (self, dec) {
            (Acc::Bool(b), _) => b.append_value(be::<1>(raw)?[0] != 0),
            (Acc::I16(b), _) => b.append_value(i16::from_be_bytes(be(raw)?)),
            (Acc::I32(b), _) => b.append_value(i32::from_be_bytes(be(raw)?)),
            (Acc::I64(b), Dec::Oid) => b.append_value(u32::from_be_bytes(be(raw)?) as i64),
            (Acc::I64(b), _) => b.append_value(i64::from_be_bytes(be(raw)?)),
            (Acc::F32(b), _) => b.append_value(f32::from_be_bytes(be(raw)?)),
            (Acc::F64(b), _) => b.append_value(f64::from_be_bytes(be(raw)?)),
            (Acc::Str(b), Dec::Text { trim, jsonb }) => {
                let raw = if *jsonb && !raw.is_empty() {
                    &raw[1..]
                } else {
                    raw
                };
                let s = utf8(raw)?;
                b.append_value(if *trim { s.trim_end_matches(' ') } else { s });
            }
            (Acc::Str(b), Dec::Uuid) => {
                let r = be::<16>(raw)?;
                let h: String = r.iter().map(|x| format!("{x:02x}")).collect();
                b.append_value(format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                ));
            }
            (Acc::Str(b), _) => b.append_value(numeric_text(raw)?),
            (Acc::Bin(b), _) => b.append_value(raw),
            (Acc::Date(b), _) => {
                let d = i32::from_be_bytes(be(raw)?);
                if d == i32::MAX || d == i32::MIN {
                    return Err("infinite dates have no Arrow value".into());
                }
                b.append_value(
                    d.checked_add(PG_EPOCH_DAYS)
                        .ok_or_else(|| format!("date {d} days from 2000-01-01 is out of range"))?,
                )
            }
            (Acc::Ts(b, _), _) => {
                let t = i64::from_be_bytes(be(raw)?);
                if t == i64::MAX || t == i64::MIN {
                    return Err("infinite timestamps have no Arrow value".into());
                }
                b.append_value(
                    t.checked_add(PG_EPOCH_MICROS).ok_or_else(|| {
                        format!("timestamp {t} µs from 2000-01-01 is out of range")
                    })?,
                )
            }
            (Acc::Time(b), _) => b.append_value(i64::from_be_bytes(be(raw)?)),
            (Acc::Iv(b), _) => {
                let r = be::<16>(raw)?;
                let us = i64::from_be_bytes(r[0..8].try_into().unwrap_or_default());
                let d = i32::from_be_bytes(r[8..12].try_into().unwrap_or_default());
                let m = i32::from_be_bytes(r[12..16].try_into().unwrap_or_default());
                // Arrow counts nanoseconds in 64 bits: about 292 years of hours (PostgreSQL
                // keeps microseconds, so `interval '3000000 hours'` is beyond it).
                let ns = us.checked_mul(1000).ok_or_else(|| {
                    format!(
                        "interval of {m} months {d} days {us} µs: its time part does not fit \
                         Arrow's 64-bit nanoseconds (±292 years); read it as text with a cast"
                    )
                })?;
                b.append_value(IntervalMonthDayNano::new(m, d, ns))
            }
            (Acc::D128(b), Dec::Decimal128(p, s)) => b.append_value(numeric_i128(raw, *p, *s)?),
            (Acc::D128(_), _) | (Acc::List { .. }, _) => return Err("decoder mismatch".into()),
        }
        Ok(())
    }

    pub(super) fn finish(self, name: &str, dec: &Dec) -> Result<ArrayRef> {
        let a: ArrayRef = match self {
            Acc::Bool(mut b) => Arc::new(b.finish()),
            Acc::I16(mut b) => Arc::new(b.finish()),
            Acc::I32(mut b) => Arc::new(b.finish()),
            Acc::I64(mut b) => Arc::new(b.finish()),
            Acc::F32(mut b) => Arc::new(b.finish()),
            Acc::F64(mut b) => Arc::new(b.finish()),
            Acc::Str(mut b) => Arc::new(b.finish()),
            Acc::Bin(mut b) => Arc::new(b.finish()),
            Acc::Date(mut b) => Arc::new(b.finish()),
            Acc::Ts(mut b, utc) => Arc::new(b.finish().with_timezone_opt(utc.then_some("UTC"))),
            Acc::Time(mut b) => Arc::new(b.finish()),
            Acc::Iv(mut b) => Arc::new(b.finish()),
            Acc::D128(mut b) => {
                let (p, s) = match dec {
                    Dec::Decimal128(p, s) => (*p, *s),
                    _ => (38, 0),
                };
                Arc::new(b.finish().with_precision_and_scale(p, s)?)
            }
            Acc::List {
                child,
                offsets,
                valid,
            } => {
                let Dec::List(inner, field) = dec else {
                    return Err(Error::Value {
                        column: name.to_string(),
                        message: "array decoder mismatch".into(),
                    });
                };
                let values = child.finish(name, inner)?;
                let field = Arc::new(
                    field
                        .as_ref()
                        .clone()
                        .with_data_type(values.data_type().clone()),
                );
                Arc::new(ListArray::try_new(
                    field,
                    arrow::buffer::OffsetBuffer::new(offsets.into()),
                    values,
                    Some(arrow::buffer::NullBuffer::from(valid)),
                )?)
            }
        };
        match dec {
            Dec::Numeric(dt) => conform_column(name, &a, dt, ReadAs::Text),
            _ => Ok(a),
        }
    }
}

/// Decodes the elements of a one-dimensional binary array into `child`; returns how many.
fn push_array_elements(
    child: &mut Acc,
    inner: &Dec,
    raw: &[u8],
) -> std::result::Result<i32, String> {
    let word = |at: usize| -> std::result::Result<i32, String> {
        raw.get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "short array".to_string())
    };
    let ndim = word(0)?;
    if ndim == 0 {
        return Ok(0);
    }
    if ndim != 1 {
        return Err(format!(
            "{ndim}-dimensional arrays have no Arrow list type here: select a 1-dimensional slice"
        ));
    }
    let n = word(12)?;
    if n < 0 {
        return Err(format!("array of {n} elements"));
    }
    let mut at = 20;
    for _ in 0..n {
        let len = word(at)?;
        at += 4;
        if len < 0 {
            child.push(inner, None)?;
        } else {
            let end = at + len as usize;
            let bytes = raw.get(at..end).ok_or("short array element")?;
            child.push(inner, Some(bytes))?;
            at = end;
        }
    }
    Ok(n)
}

/// Turns rows of one statement into Arrow batches.
pub struct RowDecoder {
    schema: SchemaRef,
    decs: Vec<Dec>,
}

impl RowDecoder {
    /// A decoder for the statement's columns; an error names a column whose type has no
    /// decoder.
    pub fn new(columns: &[tokio_postgres::Column]) -> Result<Self> {
        let mut fields = vec![];
        let mut decs = vec![];
        for c in columns {
            let (dec, dt) =
                decoder(c.type_(), c.type_modifier()).ok_or_else(|| Error::UnsupportedType {
                    column: c.name().to_string(),
                    data_type: c.type_().name().to_string(),
                    hint: format!("select it as text: {}::text", c.name()),
                })?;
            fields.push(Field::new(c.name(), dt, true));
            decs.push(dec);
        }
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            decs,
        })
    }

    /// The result schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Decodes rows into one batch.
    pub fn decode(&self, rows: &[tokio_postgres::Row]) -> Result<RecordBatch> {
        let mut accs: Vec<Acc> = self.decs.iter().map(Acc::new).collect();
        for row in rows {
            for (i, (acc, dec)) in accs.iter_mut().zip(&self.decs).enumerate() {
                let raw: Raw = row.try_get(i).map_err(|e| Error::Value {
                    column: self.schema.field(i).name().clone(),
                    message: e.to_string(),
                })?;
                acc.push(dec, raw.0).map_err(|message| Error::Value {
                    column: self.schema.field(i).name().clone(),
                    message,
                })?;
            }
        }
        let columns = accs
            .into_iter()
            .zip(&self.decs)
            .enumerate()
            .map(|(i, (acc, dec))| acc.finish(self.schema.field(i).name(), dec))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}

/// The PostgreSQL type a column created from an Arrow type gets (the read mapping inverted).
pub fn pg_type_for(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s >= 0 => {
            format!("numeric({p},{s})")
        }
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Duration(_) | DataType::Interval(_) => "interval".into(),
        DataType::List(f) | DataType::LargeList(f) => {
            let inner = pg_type_for(f.data_type())?;
            if inner.ends_with("[]") {
                return None;
            }
            format!("{inner}[]")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(cell: Cell, ty: &Type) -> std::result::Result<Vec<u8>, String> {
        let mut b = BytesMut::new();
        encode(&cell, ty, &mut b)?;
        Ok(b.to_vec())
    }

    /// A Decimal128(p, s) value as text with exactly `s` fraction digits (PostgreSQL's form).
    fn decimal_text(v: i128, s: u32) -> String {
        use arrow::datatypes::DecimalType;
        arrow::datatypes::Decimal128Type::format_decimal(v, 38, s as i8)
    }

    /// Unscaled values of Decimal128(p, s) biased to the edges: all nines, one unit in the last
    /// place, powers of ten, and random digits, each with either sign.
    fn edge_value() -> impl proptest::strategy::Strategy<Value = (u8, u8, i128)> {
        use proptest::prelude::*;
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_flat_map(|(p, s)| {
                let max = POW10[p as usize] - 1;
                let v = prop_oneof![
                    Just(max),
                    Just(max - 1),
                    Just(1i128),
                    Just(0i128),
                    (0..p as usize).prop_map(|k| POW10[k]),
                    0..=max,
                ];
                (Just(p), Just(s), v, any::<bool>())
            })
            .prop_map(|(p, s, v, neg)| (p, s, if neg { -v } else { v }))
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(4096))]

        /// Every value of every Decimal128(p, s) survives the binary numeric both ways, whether
        /// written from the integer or from its text, and reads back as PostgreSQL prints it.
        #[test]
        fn numeric_edges_round_trip((p, s, v) in edge_value()) {
            let mut fast = BytesMut::new();
            encode_decimal_numeric(v, s as u32, &mut fast);
            let text = decimal_text(v, s as u32);
            let slow = enc(Cell::Str(text.clone().into()), &Type::NUMERIC).unwrap();
            for raw in [&fast[..], &slow[..]] {
                proptest::prop_assert_eq!(numeric_i128(raw, p, s as i8).unwrap(), v);
                proptest::prop_assert_eq!(numeric_text(raw).unwrap(), text.clone());
            }
            // One more fraction digit in the target: the same value, ten times the integer.
            if s < p && p < 38 {
                proptest::prop_assert_eq!(numeric_i128(&fast, p + 1, s as i8 + 1).unwrap(), v * 10);
            }
            // One fraction digit fewer: exact only when the last digit is zero.
            if s > 0 {
                let r = numeric_i128(&fast, p, s as i8 - 1);
                if v % 10 == 0 {
                    proptest::prop_assert_eq!(r.unwrap(), v / 10);
                } else {
                    proptest::prop_assert!(r.unwrap_err().contains("would round"));
                }
            }
            // One digit of precision fewer refuses the widest values, and only them.
            if p > 1 && s < p {
                let r = numeric_i128(&fast, p - 1, s as i8);
                if v.unsigned_abs() >= POW10[p as usize - 1] as u128 {
                    proptest::prop_assert!(r.unwrap_err().contains("does not fit"));
                } else {
                    proptest::prop_assert_eq!(r.unwrap(), v);
                }
            }
        }

        /// No byte sequence makes the numeric decoders panic.
        #[test]
        fn numeric_decoders_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), p in 1u8..=38, s in 0i8..=38) {
            let _ = numeric_i128(&raw, p, s.min(p as i8));
            let _ = numeric_text(&raw);
        }
    }

    #[test]
    fn numeric_at_the_edge_of_precision() {
        // Issue: 20 integer and 18 fraction digits (five base-10000 fraction groups, the last
        // with two padding digits) fit Decimal(38,18) exactly.
        let num = |t: &str| enc(Cell::Str(t.into()), &Type::NUMERIC).unwrap();
        let t = "12345678901234567890.123456789012345678";
        let want: i128 = "12345678901234567890123456789012345678".parse().unwrap();
        assert_eq!(numeric_i128(&num(t), 38, 18).unwrap(), want);
        assert_eq!(numeric_i128(&num(&format!("-{t}")), 38, 18).unwrap(), -want);
        let nines = format!("{}.{}", "9".repeat(20), "9".repeat(18));
        assert_eq!(numeric_i128(&num(&nines), 38, 18).unwrap(), POW10[38] - 1);
        // Trailing zeros beyond the scale are no rounding.
        assert_eq!(numeric_i128(&num("1.500000000"), 2, 1).unwrap(), 15);
        // The written side: a 38-digit Decimal with padding in its last group.
        let mut b = BytesMut::new();
        encode_decimal_numeric(want, 18, &mut b);
        assert_eq!(numeric_text(&b).unwrap(), t);
        // A digit out of base-10000 range is bad bytes, not a value.
        let mut bad = num("1");
        let at = bad.len() - 2;
        bad[at..].copy_from_slice(&10_000u16.to_be_bytes());
        assert!(numeric_i128(&bad, 10, 0).is_err());
    }

    #[test]
    fn numeric_decodes_exactly_into_decimal128() {
        let num = |t: &str| enc(Cell::Str(t.into()), &Type::NUMERIC).unwrap();
        for (t, p, s, want) in [
            ("0", 15, 2, 0i128),
            ("12345.67", 15, 2, 1_234_567),
            ("-12345.6", 15, 2, -1_234_560),
            ("0.01", 15, 2, 1),
            ("10000", 15, 2, 1_000_000),
            ("-99999999.1234567891", 38, 10, -999_999_991_234_567_891),
            ("3.14159", 38, 10, 31_415_900_000),
            (
                "12345678901234567890123456.12",
                28,
                2,
                1_234_567_890_123_456_789_012_345_612,
            ),
            (
                "99999999999999999999999999999999999999",
                38,
                0,
                i128::pow(10, 38) - 1,
            ),
            ("5.00", 1, 0, 5),
        ] {
            assert_eq!(numeric_i128(&num(t), p, s).unwrap(), want, "{t}");
        }
        let err = numeric_i128(&num("0.123"), 15, 2).unwrap_err();
        assert!(err.contains("would round"), "{err}");
        let err = numeric_i128(&num("0.00001"), 38, 0).unwrap_err();
        assert!(err.contains("would round"), "{err}");
        let err = numeric_i128(&num("1000"), 4, 2).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        let err = numeric_i128(&num("1e40"), 38, 0).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        let err = numeric_i128(&num("NaN"), 38, 0).unwrap_err();
        assert!(err.contains("NaN"), "{err}");
        assert!(numeric_i128(&[0, 1], 10, 0).is_err());
    }

    #[test]
    fn numeric_round_trip() {
        for t in [
            "0",
            "1",
            "-12.50",
            "10000",
            "0.0001",
            "123456789.987654321",
            "-0.5",
        ] {
            let raw = enc(Cell::Str(t.into()), &Type::NUMERIC).unwrap();
            assert_eq!(numeric_text(&raw).unwrap(), t, "{t}");
        }
        let raw = enc(Cell::Decimal(-1250, 2), &Type::NUMERIC).unwrap();
        assert_eq!(numeric_text(&raw).unwrap(), "-12.50");
        // The integer path agrees with the text path.
        for (v, s) in [
            (0i128, 2i8),
            (1, 0),
            (123_456_789, 4),
            (-5, 7),
            (10_000, 0),
            (i128::MAX / 7, 20),
            (100, 3),
        ] {
            let fast = enc(Cell::Decimal(v, s), &Type::NUMERIC).unwrap();
            let text = crate::connector::value::format_decimal(&v.to_string(), s);
            let slow = enc(Cell::Str(text.clone().into()), &Type::NUMERIC).unwrap();
            assert_eq!(numeric_text(&fast).unwrap(), text);
            assert_eq!(fast, slow, "{text}");
        }
        let raw = enc(Cell::Float(1e-7), &Type::NUMERIC).unwrap();
        assert_eq!(numeric_text(&raw).unwrap(), "0.0000001");
        let raw = enc(Cell::Float(f64::NAN), &Type::NUMERIC).unwrap();
        assert_eq!(numeric_text(&raw).unwrap(), "NaN");
        assert!(enc(Cell::Str("1x".into()), &Type::NUMERIC).is_err());
        assert_eq!(
            numeric_parts("1.5e3").unwrap(),
            (false, "1500".into(), "".into())
        );
    }

    #[test]
    fn lossy_writes_are_errors() {
        assert!(enc(Cell::Int(40_000), &Type::INT2).is_err());
        assert!(enc(Cell::Decimal(15, 1), &Type::INT4).is_err());
        assert_eq!(
            enc(Cell::Decimal(20, 1), &Type::INT4).unwrap(),
            2i32.to_be_bytes()
        );
        assert!(enc(Cell::Str("abc".into()), &Type::INT8).is_err());
        assert!(enc(Cell::Interval(0, 0, 1), &Type::INTERVAL).is_err());
        assert!(enc(Cell::Str("x".into()), &Type::UUID).is_err());
        assert!(enc(Cell::Str("x".into()), &Type::INET).is_err());
        assert_eq!(enc(Cell::Str("t".into()), &Type::BOOL).unwrap(), vec![1u8]);
    }

    /// Encodes `cell` as `ty`, then decodes it as a query result would.
    fn round(cell: Cell, ty: &Type) -> String {
        let mut b = BytesMut::new();
        encode(&cell, ty, &mut b).unwrap_or_else(|e| panic!("{ty}: {e}"));
        let (dec, _) = decoder(ty, -1).unwrap();
        let mut acc = Acc::new(&dec);
        acc.push(&dec, Some(&b)).unwrap();
        acc.push(&dec, None).unwrap();
        let a = acc.finish("c", &dec).unwrap();
        assert!(a.is_null(1));
        let text = arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
            .unwrap()
            .value(0)
            .to_string();
        text
    }

    #[test]
    fn every_type_encodes_and_decodes() {
        let s = |t: &str| Cell::Str(t.to_string().into());
        assert_eq!(round(Cell::Bool(true), &Type::BOOL), "true");
        assert_eq!(round(s("off"), &Type::BOOL), "false");
        assert_eq!(round(Cell::Int(1), &Type::BOOL), "true");
        assert_eq!(round(Cell::Int(-5), &Type::INT2), "-5");
        assert_eq!(round(s("77"), &Type::INT4), "77");
        assert_eq!(round(Cell::UInt(9), &Type::INT8), "9");
        assert_eq!(round(Cell::Float(3.0), &Type::INT8), "3");
        assert_eq!(round(Cell::Decimal(5, -2), &Type::INT8), "500");
        assert_eq!(round(Cell::Int(7), &Type::OID), "7");
        assert_eq!(round(Cell::Int(2), &Type::FLOAT4), "2.0");
        assert_eq!(round(s("-Infinity"), &Type::FLOAT8), "-inf");
        assert_eq!(round(Cell::Decimal(125, 2), &Type::FLOAT8), "1.25");
        assert_eq!(round(Cell::UInt(4), &Type::FLOAT8), "4.0");
        assert_eq!(round(Cell::Int(12), &Type::NUMERIC), "12.0000000000");
        let num = |c: Cell| numeric_text(&enc(c, &Type::NUMERIC).unwrap()).unwrap();
        assert_eq!(num(s("NaN")), "NaN");
        assert_eq!(num(Cell::Float(f64::INFINITY)), "Infinity");
        assert_eq!(num(Cell::Float(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(num(Cell::DecimalText("1.5".into())), "1.5");
        assert_eq!(round(s("x"), &Type::TEXT), "x");
        assert_eq!(round(Cell::Int(3), &Type::VARCHAR), "3");
        assert_eq!(round(s("ab  "), &Type::BPCHAR), "ab");
        assert_eq!(round(Cell::Bytes(b"j"), &Type::JSON), "j");
        assert_eq!(round(s("{}"), &Type::JSONB), "{}");
        assert_eq!(round(Cell::Bytes(&[1, 2]), &Type::BYTEA), "0102");
        assert_eq!(round(s("ab"), &Type::BYTEA), "6162");
        let u = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        assert_eq!(round(s(u), &Type::UUID), u);
        assert_eq!(
            round(Cell::Bytes(&[0u8; 16]), &Type::UUID),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(round(Cell::Date(0), &Type::DATE), "1970-01-01");
        assert_eq!(round(s("2024-02-29"), &Type::DATE), "2024-02-29");
        assert_eq!(
            round(Cell::Timestamp(86_400_000_000, false), &Type::DATE),
            "1970-01-02"
        );
        assert_eq!(
            round(Cell::Timestamp(1, false), &Type::TIMESTAMP),
            "1970-01-01T00:00:00.000001"
        );
        assert_eq!(
            round(Cell::Date(1), &Type::TIMESTAMP),
            "1970-01-02T00:00:00"
        );
        assert_eq!(
            round(s("2024-01-01 10:00:00.5"), &Type::TIMESTAMP),
            "2024-01-01T10:00:00.500"
        );
        assert_eq!(
            round(s("2024-01-01T10:00:00+02:00"), &Type::TIMESTAMPTZ),
            "2024-01-01T08:00:00Z"
        );
        assert_eq!(
            round(s("2024-01-01"), &Type::TIMESTAMP),
            "2024-01-01T00:00:00"
        );
        assert_eq!(round(Cell::Time(1_000_000), &Type::TIME), "00:00:01");
        assert_eq!(round(Cell::Duration(2_000_000), &Type::TIME), "00:00:02");
        assert_eq!(round(s("12:30:00"), &Type::TIME), "12:30:00");
        assert!(round(Cell::Interval(1, 2, 3_000), &Type::INTERVAL).contains("1 mons 2 days"));
        assert!(round(Cell::Duration(5), &Type::INTERVAL).contains("0.000005"));
        assert_eq!(round(s("x"), &Type::NAME), "x");

        let mut b = BytesMut::new();
        for (cell, ty) in [
            (Cell::Float(1.5), &Type::INT4),
            (s("maybe"), &Type::BOOL),
            (Cell::Bytes(b"x"), &Type::INT4),
            (s("x"), &Type::FLOAT8),
            (Cell::Bool(true), &Type::FLOAT8),
            (Cell::Bool(true), &Type::NUMERIC),
            (Cell::Bytes(&[0xff]), &Type::TEXT),
            (Cell::Int(1), &Type::BYTEA),
            (Cell::Int(1), &Type::UUID),
            (s("nope"), &Type::DATE),
            (Cell::Int(1), &Type::DATE),
            (s("nope"), &Type::TIMESTAMP),
            (Cell::Int(1), &Type::TIMESTAMP),
            (s("nope"), &Type::TIME),
            (Cell::Int(1), &Type::TIME),
            (Cell::Int(1), &Type::INTERVAL),
            (Cell::Int(1), &Type::INT4_ARRAY),
            (Cell::Int(-1), &Type::OID),
        ] {
            assert!(encode(&cell, ty, &mut b).is_err(), "{cell:?} as {ty}");
        }
        assert!(matches!(
            encode(&Cell::Null, &Type::INT4, &mut b),
            Ok(IsNull::Yes)
        ));
        assert!(numeric_text(&[0, 1]).is_err());
        assert!(numeric_parts("1e5000").is_err());
        assert!(be::<4>(&[1]).is_err());
    }

    #[test]
    fn arrays_round_trip() {
        use arrow::datatypes::Int32Type;
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![
            Some(1),
            None,
            Some(3),
        ])]);
        let arr: ArrayRef = Arc::new(list);
        let f = cell_fn("a", &arr).unwrap();
        let mut b = BytesMut::new();
        encode(&f(0), &Type::INT4_ARRAY, &mut b).unwrap();
        let (dec, dt) = decoder(&Type::INT4_ARRAY, -1).unwrap();
        let mut acc = Acc::new(&dec);
        acc.push(&dec, Some(&b)).unwrap();
        acc.push(&dec, None).unwrap();
        let out = acc.finish("a", &dec).unwrap();
        assert_eq!(out.data_type(), &dt);
        let l = out.as_list::<i32>();
        assert_eq!(
            l.value(0)
                .as_primitive::<Int32Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(1), None, Some(3)]
        );
        assert!(l.is_null(1));
        assert!(decoder(&Type::INET, -1).is_none());
    }

    #[test]
    fn arrow_types_map_to_ddl() {
        assert_eq!(pg_type_for(&DataType::UInt64).unwrap(), "numeric(20,0)");
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        assert_eq!(pg_type_for(&list).unwrap(), "integer[]");
        assert!(pg_type_for(&DataType::Null).is_none());
    }
}
