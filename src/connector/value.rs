//! Values bound as statement parameters ([`Value`]) and cells read out of Arrow arrays
//! ([`Cell`]). Both meet in one encoder per backend, so a parameter and a bulk-loaded value of
//! the same type are written the same way.

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::*;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::error::{Error, Result};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// A statement parameter. Parameters are always sent to the driver as bound values, never
/// formatted into the SQL text.
///
/// ```
/// use vibe_piper::connector::Value;
/// let params: Vec<Value> = vec![1.into(), "O'Brien".into(), None::<i64>.into()];
/// assert_eq!(params[2], Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A double-precision float.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An exact decimal: `value × 10^-scale`.
    Decimal {
        /// The unscaled value.
        value: i128,
        /// Digits after the point.
        scale: i8,
    },
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A timestamp without time zone.
    Timestamp(NaiveDateTime),
    /// An instant (timestamp with time zone).
    TimestampUtc(DateTime<Utc>),
}

macro_rules! from_int {
    ($($t:ty => $v:ident as $c:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$v(v as $c) }
        }
    )*};
}
from_int!(i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt as u64,
    f32 => Float as f64, f64 => Float as f64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}
impl From<NaiveTime> for Value {
    fn from(v: NaiveTime) -> Self {
        Value::Time(v)
    }
}
impl From<NaiveDateTime> for Value {
    fn from(v: NaiveDateTime) -> Self {
        Value::Timestamp(v)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::TimestampUtc(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// Builds a `Vec<Value>` of parameters: `params![1, "x", None::<i32>]`.
#[macro_export]
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        ::std::vec::Vec::<$crate::connector::Value>::from([$($crate::connector::Value::from($v)),*])
    };
}

/// One value as an encoder sees it: borrowed from a [`Value`] or an Arrow array.
/// Temporal values are counted from the Unix epoch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// Text.
    Str(Cow<'a, str>),
    /// Bytes.
    Bytes(&'a [u8]),
    /// `value × 10^-scale`.
    Decimal(i128, i8),
    /// A decimal too wide for i128, as text.
    DecimalText(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00:00; `true` when the value is an instant (UTC).
    Timestamp(i64, bool),
    /// A signed duration in microseconds.
    Duration(i64),
    /// Months, days and nanoseconds.
    Interval(i32, i32, i64),
    /// The elements of one list value.
    List(ArrayRef),
}

impl Value {
    /// This value as a [`Cell`].
    pub fn cell(&self) -> Cell<'_> {
        match self {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Int(v) => Cell::Int(*v),
            Value::UInt(v) => Cell::UInt(*v),
            Value::Float(v) => Cell::Float(*v),
            Value::Text(s) => Cell::Str(Cow::Borrowed(s)),
            Value::Bytes(b) => Cell::Bytes(b),
            Value::Decimal { value, scale } => Cell::Decimal(*value, *scale),
            Value::Date(d) => Cell::Date(days_of(*d)),
            Value::Time(t) => Cell::Time(micros_of_day(*t)),
            Value::Timestamp(t) => Cell::Timestamp(t.and_utc().timestamp_micros(), false),
            Value::TimestampUtc(t) => Cell::Timestamp(t.timestamp_micros(), true),
        }
    }
}

/// Days from 1970-01-01 to `d`.
pub fn days_of(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_CE_DAYS
}

/// Microseconds from midnight to `t`.
pub fn micros_of_day(t: NaiveTime) -> i64 {
    t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64
}

/// Reads cell `i` of one Arrow column.
pub type CellFn<'a> = Box<dyn Fn(usize) -> Cell<'a> + Send + Sync + 'a>;

fn unit_to_micros(v: i64, unit: TimeUnit) -> std::result::Result<i64, String> {
    match unit {
        TimeUnit::Second => v
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{v} s is out of range")),
        TimeUnit::Millisecond => v
            .checked_mul(1_000)
            .ok_or_else(|| format!("{v} ms is out of range")),
        TimeUnit::Microsecond => Ok(v),
        TimeUnit::Nanosecond => {
            if v % 1000 != 0 {
                Err(format!(
                    "{v} ns has sub-microsecond digits the target cannot hold"
                ))
            } else {
                Ok(v / 1000)
            }
        }
    }
}

/// Readers for the cells of every column of `batch` (bulk loads encode rows with them).
pub fn batch_cells(batch: &arrow::record_batch::RecordBatch) -> Result<Vec<CellFn<'_>>> {
    batch
        .columns()
        .iter()
        .zip(batch.schema_ref().fields())
        .map(|(a, f)| cell_fn(f.name(), a))
        .collect()
}

/// A reader for the cells of `array`, for the column `name` (named in errors).
pub fn cell_fn<'a>(name: &str, array: &'a ArrayRef) -> Result<CellFn<'a>> {
    macro_rules! prim {
        ($t:ty, $f:expr) => {{
            let a = array.as_primitive::<$t>();
            let f = $f;
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    f(a.value(i))
                }
            })
        }};
    }
    macro_rules! checked {
        ($t:ty, $unit:expr, $wrap:expr) => {{
            let a = array.as_primitive::<$t>();
            let unit = $unit;
            // Checked once per batch so the per-cell reader cannot fail.
            for v in a.iter().flatten() {
                unit_to_micros(v as i64, unit).map_err(|message| Error::Value {
                    column: name.to_string(),
                    message,
                })?;
            }
            let wrap = $wrap;
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    wrap(unit_to_micros(a.value(i) as i64, unit).unwrap_or_default())
                }
            })
        }};
    }
    let f: CellFn<'a> = match array.data_type() {
        DataType::Null => Box::new(|_| Cell::Null),
        DataType::Boolean => {
            let a = array.as_boolean();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bool(a.value(i))
                }
            })
        }
        DataType::Int8 => prim!(Int8Type, |v: i8| Cell::Int(v as i64)),
        DataType::Int16 => prim!(Int16Type, |v: i16| Cell::Int(v as i64)),
        DataType::Int32 => prim!(Int32Type, |v: i32| Cell::Int(v as i64)),
        DataType::Int64 => prim!(Int64Type, Cell::Int),
        DataType::UInt8 => prim!(UInt8Type, |v: u8| Cell::UInt(v as u64)),
        DataType::UInt16 => prim!(UInt16Type, |v: u16| Cell::UInt(v as u64)),
        DataType::UInt32 => prim!(UInt32Type, |v: u32| Cell::UInt(v as u64)),
        DataType::UInt64 => prim!(UInt64Type, Cell::UInt),
        DataType::Float32 => prim!(Float32Type, |v: f32| Cell::Float(v as f64)),
        DataType::Float64 => prim!(Float64Type, Cell::Float),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Str(Cow::Borrowed(a.value(i)))
                }
            })
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Str(Cow::Borrowed(a.value(i)))
                }
            })
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Str(Cow::Borrowed(a.value(i)))
                }
            })
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bytes(a.value(i))
                }
            })
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bytes(a.value(i))
                }
            })
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bytes(a.value(i))
                }
            })
        }
        DataType::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bytes(a.value(i))
                }
            })
        }
        DataType::Decimal128(_, s) => {
            let s = *s;
            prim!(Decimal128Type, move |v: i128| Cell::Decimal(v, s))
        }
        DataType::Decimal256(_, s) => {
            let s = *s;
            prim!(Decimal256Type, move |v: i256| match v.to_i128() {
                Some(v) => Cell::Decimal(v, s),
                None => Cell::DecimalText(format_decimal(&v.to_string(), s)),
            })
        }
        DataType::Date32 => prim!(Date32Type, Cell::Date),
        DataType::Date64 => prim!(Date64Type, |v: i64| Cell::Date(
            v.div_euclid(86_400_000) as i32
        )),
        DataType::Time32(TimeUnit::Second) => {
            checked!(Time32SecondType, TimeUnit::Second, Cell::Time)
        }
        DataType::Time32(_) => checked!(Time32MillisecondType, TimeUnit::Millisecond, Cell::Time),
        DataType::Time64(TimeUnit::Microsecond) => prim!(Time64MicrosecondType, Cell::Time),
        DataType::Time64(_) => checked!(Time64NanosecondType, TimeUnit::Nanosecond, Cell::Time),
        DataType::Timestamp(unit, tz) => {
            let utc = tz.is_some();
            match unit {
                TimeUnit::Second => checked!(TimestampSecondType, *unit, move |v| {
                    Cell::Timestamp(v, utc)
                }),
                TimeUnit::Millisecond => checked!(TimestampMillisecondType, *unit, move |v| {
                    Cell::Timestamp(v, utc)
                }),
                TimeUnit::Microsecond => {
                    prim!(TimestampMicrosecondType, move |v| Cell::Timestamp(v, utc))
                }
                TimeUnit::Nanosecond => checked!(TimestampNanosecondType, *unit, move |v| {
                    Cell::Timestamp(v, utc)
                }),
            }
        }
        DataType::Duration(unit) => match unit {
            TimeUnit::Second => checked!(DurationSecondType, *unit, Cell::Duration),
            TimeUnit::Millisecond => checked!(DurationMillisecondType, *unit, Cell::Duration),
            TimeUnit::Microsecond => prim!(DurationMicrosecondType, Cell::Duration),
            TimeUnit::Nanosecond => checked!(DurationNanosecondType, *unit, Cell::Duration),
        },
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            prim!(IntervalMonthDayNanoType, |v: IntervalMonthDayNano| {
                Cell::Interval(v.months, v.days, v.nanoseconds)
            })
        }
        DataType::Interval(IntervalUnit::YearMonth) => {
            prim!(IntervalYearMonthType, |v: i32| Cell::Interval(v, 0, 0))
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            prim!(IntervalDayTimeType, |v: IntervalDayTime| Cell::Interval(
                0,
                v.days,
                v.milliseconds as i64 * 1_000_000
            ))
        }
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::List(a.value(i))
                }
            })
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            Box::new(move |i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::List(a.value(i))
                }
            })
        }
        other => {
            return Err(Error::UnsupportedType {
                column: name.to_string(),
                data_type: other.to_string(),
                hint: "cast it to a supported type (text, a number, a date or timestamp) first"
                    .into(),
            })
        }
    };
    Ok(f)
}

/// Writes an unscaled integer's digits with `scale` digits after the point.
pub fn format_decimal(digits: &str, scale: i8) -> String {
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits),
    };
    let mut out = String::with_capacity(digits.len() + 3);
    if neg {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(digits);
        for _ in 0..(-scale as i32) {
            out.push('0');
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        for _ in 0..(scale - digits.len()) {
            out.push('0');
        }
        out.push_str(digits);
    }
    out
}

/// The date `days` after 1970-01-01.
pub fn date_of(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_CE_DAYS)?)
}

/// The timestamp `micros` after 1970-01-01 00:00:00.
pub fn timestamp_of(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}

impl Cell<'_> {
    /// The value's text form as SQL databases read it (`true`, `12.50`, `2024-01-31`,
    /// `2024-01-31 12:00:00.000001`, `-838:59:59`); `None` for NULL, bytes and lists.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Cell::Null | Cell::Bytes(_) | Cell::List(_) => return None,
            Cell::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Cell::Int(v) => Cow::Owned(v.to_string()),
            Cell::UInt(v) => Cow::Owned(v.to_string()),
            Cell::Float(v) => Cow::Owned(if v.is_nan() {
                "NaN".into()
            } else if v.is_infinite() {
                if *v > 0.0 { "Infinity" } else { "-Infinity" }.into()
            } else {
                format!("{v:?}")
            }),
            Cell::Str(s) => Cow::Borrowed(s.as_ref()),
            Cell::Decimal(v, s) => Cow::Owned(format_decimal(&v.to_string(), *s)),
            Cell::DecimalText(s) => Cow::Borrowed(s.as_str()),
            Cell::Date(d) => Cow::Owned(date_of(*d)?.format("%Y-%m-%d").to_string()),
            Cell::Time(us) => Cow::Owned(format_time(*us)),
            Cell::Timestamp(us, _) => Cow::Owned(
                timestamp_of(*us)?
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string(),
            ),
            Cell::Duration(us) => Cow::Owned(format_time(*us)),
            Cell::Interval(m, d, ns) => {
                Cow::Owned(format!("{m} mons {d} days {}", format_time(ns / 1000)))
            }
        })
    }
}

/// `[-]H:MM:SS.ffffff` for a signed number of microseconds.
pub fn format_time(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    format!(
        "{sign}{:02}:{:02}:{:02}.{frac:06}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::*;
    use std::sync::Arc;

    #[test]
    fn values_convert() {
        let v: Vec<Value> = crate::params![1i32, "a", None::<i64>, 2.5f64, true, 7u8];
        assert_eq!(
            v,
            vec![
                Value::Int(1),
                Value::Text("a".into()),
                Value::Null,
                Value::Float(2.5),
                Value::Bool(true),
                Value::UInt(7)
            ]
        );
        let d = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
        assert!(matches!(Value::Date(d).cell(), Cell::Date(1)));
        let t = NaiveTime::from_hms_micro_opt(1, 0, 0, 5).unwrap();
        assert!(matches!(Value::Time(t).cell(), Cell::Time(3_600_000_005)));
        assert_eq!(date_of(1), Some(d));
    }

    #[test]
    fn text_forms() {
        assert_eq!(format_decimal("-5", 3), "-0.005");
        assert_eq!(format_decimal("12345", 2), "123.45");
        assert_eq!(format_decimal("12", -2), "1200");
        assert_eq!(Cell::Decimal(-1250, 2).text().unwrap(), "-12.50");
        assert_eq!(
            Cell::Duration(-3_020_000_001).text().unwrap(),
            "-00:50:20.000001"
        );
        assert_eq!(
            Cell::Timestamp(1_000_001, true).text().unwrap(),
            "1970-01-01 00:00:01.000001"
        );
        assert_eq!(Cell::Float(f64::NEG_INFINITY).text().unwrap(), "-Infinity");
        assert_eq!(Cell::Float(0.1).text().unwrap(), "0.1");
        assert!(Cell::Null.text().is_none());
    }

    #[test]
    fn every_arrow_type_reads_and_prints() {
        use arrow::datatypes::i256;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(NullArray::new(1)),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Arc::new(Int8Array::from(vec![Some(-1), None])),
            Arc::new(Int16Array::from(vec![Some(-2), None])),
            Arc::new(Int32Array::from(vec![Some(-3), None])),
            Arc::new(Int64Array::from(vec![Some(-4), None])),
            Arc::new(UInt8Array::from(vec![Some(1), None])),
            Arc::new(UInt16Array::from(vec![Some(2), None])),
            Arc::new(UInt32Array::from(vec![Some(3), None])),
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), None])),
            Arc::new(Float32Array::from(vec![Some(1.5), None])),
            Arc::new(Float64Array::from(vec![Some(f64::NAN), None])),
            Arc::new(StringArray::from(vec![Some("s"), None])),
            Arc::new(LargeStringArray::from(vec![Some("l"), None])),
            Arc::new(StringViewArray::from(vec![Some("v"), None])),
            Arc::new(BinaryArray::from(vec![Some(&b"b"[..]), None])),
            Arc::new(LargeBinaryArray::from(vec![Some(&b"lb"[..]), None])),
            Arc::new(BinaryViewArray::from(vec![Some(&b"bv"[..]), None])),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some(vec![1u8, 2]), None].into_iter(),
                    2,
                )
                .unwrap(),
            ),
            Arc::new(
                Decimal128Array::from(vec![Some(12345), None])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(
                Decimal256Array::from(vec![Some(i256::from_i128(-5)), Some(i256::MAX), None])
                    .with_precision_and_scale(76, 3)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![Some(19_000), None])),
            Arc::new(Date64Array::from(vec![Some(86_400_000), None])),
            Arc::new(Time64MicrosecondArray::from(vec![Some(1), None])),
            Arc::new(Time64NanosecondArray::from(vec![Some(1000), None])),
            Arc::new(TimestampSecondArray::from(vec![Some(1), None])),
            Arc::new(TimestampMillisecondArray::from(vec![Some(1), None]).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1), None])),
            Arc::new(DurationSecondArray::from(vec![Some(-1), None])),
            Arc::new(DurationMillisecondArray::from(vec![Some(1), None])),
            Arc::new(DurationMicrosecondArray::from(vec![Some(1), None])),
            Arc::new(DurationNanosecondArray::from(vec![Some(1000), None])),
            Arc::new(IntervalMonthDayNanoArray::from(vec![
                Some(IntervalMonthDayNano::new(1, 2, 3_000)),
                None,
            ])),
            Arc::new(IntervalYearMonthArray::from(vec![Some(14), None])),
            Arc::new(IntervalDayTimeArray::from(vec![
                Some(IntervalDayTime::new(1, 5)),
                None,
            ])),
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(1)]),
                None,
            ])),
            Arc::new(LargeListArray::from_iter_primitive::<Int32Type, _, _>(
                vec![Some(vec![Some(1)]), None],
            )),
        ];
        let mut texts = vec![];
        for a in &arrays {
            let f = cell_fn("c", a).unwrap_or_else(|e| panic!("{}: {e}", a.data_type()));
            texts.push(f(0).text().map(|t| t.into_owned()));
            if a.len() > 1 {
                assert!(matches!(f(a.len() - 1), Cell::Null), "{}", a.data_type());
            }
        }
        let shown: Vec<String> = texts.into_iter().flatten().collect();
        for expected in [
            "true",
            "-1",
            "18446744073709551615",
            "1.5",
            "NaN",
            "s",
            "v",
            "123.45",
            "-0.005",
            "2022-01-08",
            "1970-01-02",
            "00:00:00.000001",
            "1970-01-01 00:00:01.000000",
            "-00:00:01.000000",
            "1 mons 2 days 00:00:00.000003",
            "14 mons 0 days 00:00:00.000000",
        ] {
            assert!(
                shown.iter().any(|s| s == expected),
                "{expected} not in {shown:?}"
            );
        }
        // Decimal256 too wide for i128 travels as text.
        let wide = cell_fn("c", &arrays[20]).unwrap()(1);
        assert!(
            matches!(wide, Cell::DecimalText(ref t) if t.len() > 70),
            "{wide:?}"
        );
        // Every Value converts to a cell.
        let values: Vec<Value> = vec![
            Value::from(1u16),
            Value::from(2u32),
            Value::from(3u64),
            Value::from(1.5f32),
            Value::from(String::from("x")),
            Value::from(&String::from("y")),
            Value::from(vec![1u8]),
            Value::from(&b"z"[..]),
            Value::from(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()),
            Value::from(
                NaiveDate::from_ymd_opt(2000, 1, 1)
                    .unwrap()
                    .and_hms_opt(1, 2, 3)
                    .unwrap(),
            ),
            Value::from(DateTime::from_timestamp(0, 0).unwrap()),
            Value::Decimal { value: 5, scale: 1 },
        ];
        let cells: Vec<String> = values
            .iter()
            .map(|v| format!("{:?}", v.cell().text()))
            .collect();
        assert_eq!(cells[11], "Some(\"0.5\")");
        assert_eq!(cells[10], "Some(\"1970-01-01 00:00:00.000000\")");
        assert!(Value::from(vec![1u8]).cell().text().is_none());
        assert!(timestamp_of(i64::MAX).is_none());
    }

    #[test]
    fn reads_arrow_cells() {
        let ts: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![Some(2_000), None]));
        let f = cell_fn("t", &ts).unwrap();
        assert!(matches!(f(0), Cell::Timestamp(2, false)));
        assert!(matches!(f(1), Cell::Null));
        let bad: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_999]));
        assert!(matches!(cell_fn("t", &bad), Err(Error::Value { .. })));
        let t32: ArrayRef = Arc::new(Time32MillisecondArray::from(vec![1_500]));
        assert!(matches!(
            cell_fn("t", &t32).unwrap()(0),
            Cell::Time(1_500_000)
        ));
        let t32s: ArrayRef = Arc::new(Time32SecondArray::from(vec![2]));
        assert!(matches!(
            cell_fn("t", &t32s).unwrap()(0),
            Cell::Time(2_000_000)
        ));
        let dict: ArrayRef = Arc::new(
            vec!["a"]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        assert!(matches!(
            cell_fn("d", &dict),
            Err(Error::UnsupportedType { .. })
        ));
    }
}
