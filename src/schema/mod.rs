//! Typed mapping: how a source column becomes a column of its declared Arrow type.
//!
//! A connector describes each column with a [`ColumnSpec`]: the Arrow field the table declares
//! and how the value travels ([`ReadAs`]). Readers deliver whatever the driver produced (e.g.
//! ConnectorX widens int2 to Int64 and reads strings as LargeUtf8); [`conform_batch`] turns that
//! into the declared types losslessly and errors where a value does not fit, never rounding.

use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayRef, AsArray, Decimal128Builder, Decimal256Builder,
    IntervalMonthDayNanoBuilder,
};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{
    i256, DataType, Field, FieldRef, IntervalMonthDayNano, Schema, SchemaRef, TimeUnit,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::util::display::FormatOptions;
use chrono::Datelike;

use crate::error::{Error, Result};

pub mod typed;

/// How a column's values travel from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// As the driver decodes them, then converted losslessly to the declared type.
    Native,
    /// As the source's text form (`CAST(col AS TEXT)` at the source), then parsed: used for
    /// decimals the driver would round, intervals, and types no driver decodes.
    Text,
    /// As the driver decodes them, with trailing spaces removed (blank-padded `char(n)`, which
    /// the source compares ignoring the pad).
    TrimPad,
    /// Like [`ReadAs::Text`], but a zero date (`0000-00-00`, MySQL) is an error instead of NULL.
    TextNoZeroDates,
    /// As the driver decodes them, with the source turning zero dates (`0000-00-00`, MySQL) into
    /// NULL first: `CASE WHEN col = '0000-00-00' THEN NULL ELSE col END`.
    NativeZeroDateNull,
    /// As the value of a function of the source applied to the column (`abbrev(col)` for
    /// PostgreSQL's `inet`, `ST_AsBinary(col)` for MySQL's spatial types), decoded as the declared
    /// type: for values whose own wire or text form is not what the user expects.
    Function(&'static str),
}

impl ReadAs {
    /// Whether the column is selected through its text form.
    pub fn is_text(self) -> bool {
        matches!(self, ReadAs::Text | ReadAs::TextNoZeroDates)
    }
}

/// How the source compares a column's values, relative to DataFusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceCompare {
    /// Exactly as DataFusion does (integers, decimals, dates, byte-wise text).
    Same,
    /// Equality finds a superset of DataFusion's matches (case- or accent-insensitive and
    /// pad-space collations, blank-padded `char(n)`): equality may be pushed as `Inexact`.
    EqualitySuperset,
    /// Not comparable at the source the way DataFusion compares the Arrow value (text forms of
    /// other types, JSON, PostgreSQL `real` against double literals): never pushed.
    Never,
}

/// One column of a source table: its declared Arrow field, its type at the source, and how it
/// is read.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// Name, declared Arrow type and nullability.
    pub field: FieldRef,
    /// The type as the source names it (e.g. `numeric(12,2)`), for display.
    pub source_type: String,
    /// How the value is read.
    pub read: ReadAs,
    /// How the source compares it (decides what filters are pushed).
    pub compare: SourceCompare,
    /// The column's name at the source when it differs from `field`'s name (Snowflake stores
    /// unquoted names upper-cased; the engine shows them as typed, lower case). Statements
    /// sent to the source use this name.
    pub source_name: Option<String>,
}

impl ColumnSpec {
    /// A column read natively.
    pub fn native(
        name: &str,
        data_type: DataType,
        nullable: bool,
        source_type: impl Into<String>,
    ) -> Self {
        Self {
            field: Arc::new(Field::new(name, data_type, nullable)),
            source_type: source_type.into(),
            read: ReadAs::Native,
            compare: SourceCompare::Same,
            source_name: None,
        }
    }

    /// A column read through its text form.
    pub fn text(
        name: &str,
        data_type: DataType,
        nullable: bool,
        source_type: impl Into<String>,
    ) -> Self {
        Self {
            read: ReadAs::Text,
            compare: SourceCompare::Never,
            ..Self::native(name, data_type, nullable, source_type)
        }
    }

    /// The same column with another comparison behaviour.
    pub fn with_compare(mut self, compare: SourceCompare) -> Self {
        self.compare = compare;
        self
    }

    /// The same column with another read path.
    pub fn with_read(mut self, read: ReadAs) -> Self {
        self.read = read;
        self
    }

    /// The same column under another name at the source (see [`ColumnSpec::source_name`]).
    pub fn with_source_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.source_name = (name != *self.field.name()).then_some(name);
        self
    }

    /// The column name.
    pub fn name(&self) -> &str {
        self.field.name()
    }

    /// The column's name at the source.
    pub fn source_name(&self) -> &str {
        self.source_name.as_deref().unwrap_or(self.field.name())
    }
}

/// The Arrow schema of a list of column specs.
pub fn schema_of(columns: &[ColumnSpec]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
    ))
}

/// Converts a batch as delivered by a reader into `schema`, column by column (`specs` in the
/// same order as the batch's columns).
pub fn conform_batch(
    batch: RecordBatch,
    schema: &SchemaRef,
    specs: &[ColumnSpec],
) -> Result<RecordBatch> {
    if schema.fields().is_empty() {
        return Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?);
    }
    if batch.num_columns() != specs.len() {
        return Err(Error::Value {
            column: "*".into(),
            message: format!(
                "source returned {} columns, expected {}",
                batch.num_columns(),
                specs.len()
            ),
        });
    }
    let columns = batch
        .columns()
        .iter()
        .zip(specs)
        .map(|(array, spec)| conform_column(spec.name(), array, spec.field.data_type(), spec.read))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Converts one column to `target`.
pub fn conform_column(
    name: &str,
    array: &ArrayRef,
    target: &DataType,
    read: ReadAs,
) -> Result<ArrayRef> {
    let value_err = |message: String| Error::Value {
        column: name.to_string(),
        message,
    };
    if read == ReadAs::TrimPad {
        return trim_pad(array).map_err(value_err);
    }
    if array.data_type() == target {
        return Ok(array.clone());
    }
    if let (DataType::Decimal128(_, s1), DataType::Decimal128(p2, s2)) = (array.data_type(), target)
    {
        return rescale_decimal128(array, *s1, *p2, *s2).map_err(value_err);
    }
    if read.is_text() || matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8) {
        let zero_is_null = read != ReadAs::TextNoZeroDates;
        match target {
            DataType::List(field) => return parse_text_list(array, field).map_err(value_err),
            DataType::Date32 => {
                return parse_temporal_column(array, target, zero_is_null).map_err(value_err)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                return parse_temporal_column(array, target, zero_is_null).map_err(value_err)
            }
            DataType::Duration(TimeUnit::Microsecond) => {
                return parse_duration_column(array).map_err(value_err)
            }
            DataType::Decimal128(p, s) => {
                return parse_decimal128_column(array, *p, *s).map_err(value_err)
            }
            DataType::Decimal256(p, s) => {
                return parse_decimal256_column(array, *p, *s).map_err(value_err)
            }
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => {
                return parse_interval_column(array).map_err(value_err)
            }
            _ => {}
        }
    }
    // Same physical layout, another time zone label (ConnectorX says "+00:00", we say "UTC").
    if let (DataType::Timestamp(u1, Some(_)), DataType::Timestamp(u2, Some(_))) =
        (array.data_type(), target)
    {
        if u1 == u2 {
            let data = array
                .to_data()
                .into_builder()
                .data_type(target.clone())
                .build()?;
            return Ok(make_array(data));
        }
    }
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    cast_with_options(array, target, &options).map_err(|e| {
        value_err(format!(
            "cannot convert {} to {target}: {e}",
            array.data_type()
        ))
    })
}

/// Removes trailing spaces from every string.
fn trim_pad(array: &ArrayRef) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    if !values.iter().flatten().any(|s| s.ends_with(' ')) {
        return cast_with_options(array, &DataType::Utf8, &CastOptions::default())
            .map_err(|e| e.to_string());
    }
    let bytes: usize = values.iter().map(|v| v.map_or(0, str::len)).sum();
    let mut b = arrow::array::StringBuilder::with_capacity(values.len(), bytes);
    for v in values {
        b.append_option(v.map(|s| s.trim_end_matches(' ')));
    }
    Ok(Arc::new(b.finish()))
}

/// Changes the scale of decimals exactly: a value that would lose a digit, or that does not fit
/// the target precision, is an error.
fn rescale_decimal128(
    array: &ArrayRef,
    from_scale: i8,
    precision: u8,
    scale: i8,
) -> std::result::Result<ArrayRef, String> {
    let input = array.as_primitive::<arrow::datatypes::Decimal128Type>();
    let limit = 10i128
        .checked_pow(precision as u32)
        .ok_or("precision above 38")?;
    let shown = |v: i128| {
        use arrow::datatypes::DecimalType;
        arrow::datatypes::Decimal128Type::format_decimal(v, 38, from_scale)
    };
    let out: arrow::array::Decimal128Array = if scale <= from_scale {
        let div = 10i128
            .checked_pow((from_scale - scale) as u32)
            .ok_or("scale change beyond 38 digits")?;
        // i128 division is slow; most values and divisors fit in 64 bits.
        let div64 = i64::try_from(div).ok();
        input.try_unary(|v| {
            let exact = match (div64, i64::try_from(v)) {
                (Some(d), Ok(x)) => x % d == 0,
                _ => v % div == 0,
            };
            if !exact {
                return Err(arrow::error::ArrowError::ComputeError(format!(
                    "value {} has more than {scale} fractional digits; reading it as Decimal({precision},{scale}) would round it",
                    shown(v)
                )));
            }
            let w = match (div64, i64::try_from(v)) {
                (Some(d), Ok(x)) => (x / d) as i128,
                _ => v / div,
            };
            if w.unsigned_abs() >= limit.unsigned_abs() {
                return Err(arrow::error::ArrowError::ComputeError(format!(
                    "value {} does not fit Decimal({precision},{scale})",
                    shown(v)
                )));
            }
            Ok(w)
        })
    } else {
        let mul = 10i128
            .checked_pow((scale - from_scale) as u32)
            .ok_or("scale change beyond 38 digits")?;
        input.try_unary(|v| {
            v.checked_mul(mul).filter(|w| w.unsigned_abs() < limit.unsigned_abs()).ok_or_else(|| {
                arrow::error::ArrowError::ComputeError(format!("value {} does not fit Decimal({precision},{scale})", shown(v)))
            })
        })
    }
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(
        out.with_precision_and_scale(precision, scale)
            .map_err(|e| e.to_string())?,
    ))
}

/// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`; `Ok(None)` for a zero date (month or day 0).
fn parse_datetime_text(t: &str) -> std::result::Result<Option<(i32, i64)>, ()> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> std::result::Result<u32, ()> {
        let s = b.get(r).ok_or(())?;
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return Err(());
        }
        Ok(s.iter().fold(0u32, |acc, d| acc * 10 + (d - b'0') as u32))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(());
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if m == 0 || d == 0 {
        return Ok(None);
    }
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(())?;
    let days = date.num_days_from_ce() - 719_163;
    let mut micros: i64 = 0;
    if b.len() > 10 {
        if !(b[10] == b' ' || b[10] == b'T') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return Err(());
        }
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || s > 59 {
            return Err(());
        }
        micros = (h as i64 * 3600 + mi as i64 * 60 + s as i64) * 1_000_000;
        if b.len() > 19 {
            if b[19] != b'.' || b.len() > 26 || b.len() == 20 {
                return Err(());
            }
            let frac = num(20..b.len())? as i64;
            micros += frac * 10i64.pow((26 - b.len()) as u32);
        }
    }
    Ok(Some((days, micros)))
}

fn parse_temporal_column(
    array: &ArrayRef,
    target: &DataType,
    zero_is_null: bool,
) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let parsed = values
        .iter()
        .map(|v| match v {
            None => Ok(None),
            // Text forms of timestamptz read in a UTC session end in `+00`.
            Some(t) => match parse_datetime_text(t.strip_suffix("+00").unwrap_or(t)) {
                Ok(Some(x)) => Ok(Some(x)),
                Ok(None) if zero_is_null => Ok(None),
                Ok(None) => Err(format!(
                    "zero date `{t}` (the source option zero_dates=null reads it as NULL)"
                )),
                Err(()) => Err(format!("`{t}` is not a date or timestamp")),
            },
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(match target {
        DataType::Date32 => Arc::new(arrow::array::Date32Array::from(
            parsed
                .into_iter()
                .map(|o| o.map(|(d, _)| d))
                .collect::<Vec<_>>(),
        )),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(
            arrow::array::TimestampMicrosecondArray::from(
                parsed
                    .into_iter()
                    .map(|o| o.map(|(d, us)| d as i64 * 86_400_000_000 + us))
                    .collect::<Vec<_>>(),
            )
            .with_timezone_opt(tz.clone()),
        ),
        other => return Err(format!("cannot read {other} from text")),
    })
}

/// Splits a one-dimensional PostgreSQL array literal (`{1,NULL,"a b"}`) into its elements.
pub fn parse_pg_array(text: &str) -> std::result::Result<Vec<Option<String>>, String> {
    let bad = |why: &str| format!("`{text}` is not an array literal: {why}");
    let t = text.trim();
    // Arrays with other lower bounds print their dimensions first: `[0:1]={1,2}`.
    let body = if t.starts_with('[') {
        t.split_once('=')
            .map(|(_, b)| b)
            .ok_or_else(|| bad("no `=` after the dimensions"))?
    } else {
        t
    };
    let inner = body
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| bad("no braces"))?;
    let mut out = vec![];
    if inner.is_empty() {
        return Ok(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        match chars.peek() {
            Some('{') => return Err(bad("multi-dimensional arrays are not supported")),
            Some('"') => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.push(chars.next().ok_or_else(|| bad("dangling escape"))?),
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err(bad("unterminated quote")),
                    }
                }
                out.push(Some(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                let s = s.trim();
                out.push((!s.eq_ignore_ascii_case("NULL")).then(|| s.to_string()));
            }
        }
        match chars.next() {
            Some(',') => continue,
            None => return Ok(out),
            Some(c) => return Err(bad(&format!("unexpected `{c}`"))),
        }
    }
}

/// Parses arrays read through their text form into a list of the element type.
fn parse_text_list(array: &ArrayRef, field: &FieldRef) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let mut offsets = vec![0i32];
    let mut elements: Vec<Option<String>> = vec![];
    let mut valid = Vec::with_capacity(values.len());
    for v in &values {
        if let Some(t) = v {
            elements.extend(parse_pg_array(t)?);
        }
        valid.push(v.is_some());
        offsets.push(i32::try_from(elements.len()).map_err(|_| "array too large".to_string())?);
    }
    let flat: ArrayRef = Arc::new(arrow::array::StringArray::from(elements));
    let items = conform_column(field.name(), &flat, field.data_type(), ReadAs::Text)
        .map_err(|e| e.to_string())?;
    let list = arrow::array::ListArray::try_new(
        field.clone(),
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        items,
        Some(arrow::buffer::NullBuffer::from(valid)),
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(list))
}

/// Parses `[-]H+:MM:SS[.ffffff]` (MySQL TIME) into microseconds.
pub fn parse_duration_text(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let mut parts = body.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s = parts.next()?;
    let nanos = seconds_to_nanos(s)? as i64;
    if !(0..60).contains(&m) || !(0..60_000_000_000).contains(&nanos) {
        return None;
    }
    let micros = (h * 3600 + m * 60) * 1_000_000 + nanos / 1000;
    Some(if neg { -micros } else { micros })
}

fn parse_duration_column(array: &ArrayRef) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let out = values
        .iter()
        .map(|v| match v {
            None => Ok(None),
            Some(t) => parse_duration_text(t)
                .map(Some)
                .ok_or_else(|| format!("`{t}` is not a time")),
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(Arc::new(arrow::array::DurationMicrosecondArray::from(out)))
}

fn text_values(array: &ArrayRef) -> std::result::Result<Vec<Option<&str>>, String> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.as_string::<i32>().iter().collect()),
        DataType::LargeUtf8 => Ok(array.as_string::<i64>().iter().collect()),
        DataType::Utf8View => Ok(array.as_string_view().iter().collect()),
        other => Err(format!("expected the text form of the value, got {other}")),
    }
}

/// Splits a decimal literal into (negative, integer digits, fraction digits) padded to `scale`,
/// refusing anything that would have to be rounded.
fn decimal_digits(text: &str, precision: u8, scale: i8) -> std::result::Result<String, String> {
    let t = text.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if body.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || (int_part.is_empty() && frac_part.is_empty())
    {
        return Err(format!("`{t}` is not a finite decimal number"));
    }
    let scale_u = scale.max(0) as usize;
    if frac_part.len() > scale_u && frac_part[scale_u..].bytes().any(|b| b != b'0') {
        return Err(format!(
            "value {t} has more than {scale} fractional digits; reading it as Decimal({precision},{scale}) would round it"
        ));
    }
    let int_trim = int_part.trim_start_matches('0');
    let mut digits = String::with_capacity(int_trim.len() + scale_u + 1);
    if neg {
        digits.push('-');
    }
    digits.push_str(int_trim);
    let frac_kept = &frac_part[..frac_part.len().min(scale_u)];
    digits.push_str(frac_kept);
    digits.extend(std::iter::repeat_n('0', scale_u - frac_kept.len()));
    if int_trim.len() + scale_u > precision as usize {
        return Err(format!(
            "value {t} does not fit Decimal({precision},{scale})"
        ));
    }
    if digits.is_empty() || digits == "-" {
        digits.push('0');
    }
    Ok(digits)
}

fn parse_decimal128_column(
    array: &ArrayRef,
    p: u8,
    s: i8,
) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let mut b = Decimal128Builder::with_capacity(values.len());
    for v in values {
        match v {
            None => b.append_null(),
            Some(t) => {
                let digits = decimal_digits(t, p, s)?;
                b.append_value(digits.parse::<i128>().map_err(|e| format!("{t}: {e}"))?)
            }
        }
    }
    Ok(Arc::new(
        b.finish()
            .with_precision_and_scale(p, s)
            .map_err(|e| e.to_string())?,
    ))
}

fn parse_decimal256_column(
    array: &ArrayRef,
    p: u8,
    s: i8,
) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let mut b = Decimal256Builder::with_capacity(values.len());
    for v in values {
        match v {
            None => b.append_null(),
            Some(t) => {
                let digits = decimal_digits(t, p, s)?;
                b.append_value(
                    i256::from_string(&digits)
                        .ok_or_else(|| format!("{t} does not fit Decimal256"))?,
                )
            }
        }
    }
    Ok(Arc::new(
        b.finish()
            .with_precision_and_scale(p, s)
            .map_err(|e| e.to_string())?,
    ))
}

/// Parses an ISO 8601 duration as PostgreSQL prints it with `IntervalStyle = iso_8601`
/// (e.g. `P1Y2M3DT4H5M6.5S`, `P-1Y-2M3DT-4H`, `PT0S`).
pub fn parse_iso_interval(text: &str) -> std::result::Result<IntervalMonthDayNano, String> {
    let bad = || format!("`{text}` is not an ISO 8601 interval");
    let too_big = || {
        format!(
            "interval `{text}` does not fit Arrow's interval (32-bit months and days, 64-bit \
             nanoseconds: ±292 years of hours); read it as text with a cast"
        )
    };
    let rest = text.trim().strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut months: i64 = 0;
    let mut days: i64 = 0;
    let mut nanos: i128 = 0;
    for (part, is_time) in [(date, false), (time, true)] {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '-' || ch == '+' || ch == '.' {
                num.push(ch);
                continue;
            }
            if num.is_empty() {
                return Err(bad());
            }
            let int = |scale: i64| -> std::result::Result<i64, String> {
                num.parse::<i64>()
                    .map_err(|_| bad())?
                    .checked_mul(scale)
                    .ok_or_else(too_big)
            };
            let time = |scale: i128| -> std::result::Result<i128, String> {
                num.parse::<i128>()
                    .map_err(|_| bad())?
                    .checked_mul(scale)
                    .ok_or_else(too_big)
            };
            match (is_time, ch) {
                (false, 'Y') => months = months.checked_add(int(12)?).ok_or_else(too_big)?,
                (false, 'M') => months = months.checked_add(int(1)?).ok_or_else(too_big)?,
                (false, 'W') => days = days.checked_add(int(7)?).ok_or_else(too_big)?,
                (false, 'D') => days = days.checked_add(int(1)?).ok_or_else(too_big)?,
                (true, 'H') => {
                    nanos = nanos
                        .checked_add(time(3_600_000_000_000)?)
                        .ok_or_else(too_big)?
                }
                (true, 'M') => {
                    nanos = nanos
                        .checked_add(time(60_000_000_000)?)
                        .ok_or_else(too_big)?
                }
                (true, 'S') => {
                    nanos = nanos
                        .checked_add(seconds_to_nanos(&num).ok_or_else(bad)?)
                        .ok_or_else(too_big)?
                }
                _ => return Err(bad()),
            }
            num.clear();
        }
        if !num.is_empty() {
            return Err(bad());
        }
    }
    Ok(IntervalMonthDayNano::new(
        i32::try_from(months).map_err(|_| too_big())?,
        i32::try_from(days).map_err(|_| too_big())?,
        i64::try_from(nanos).map_err(|_| too_big())?,
    ))
}

fn seconds_to_nanos(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_n: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let v = whole.checked_mul(1_000_000_000)?.checked_add(frac_n)?;
    Some(if neg { -v } else { v })
}

fn parse_interval_column(array: &ArrayRef) -> std::result::Result<ArrayRef, String> {
    let values = text_values(array)?;
    let mut b = IntervalMonthDayNanoBuilder::with_capacity(values.len());
    for v in values {
        match v {
            None => b.append_null(),
            Some(t) => b.append_value(parse_iso_interval(t)?),
        }
    }
    Ok(Arc::new(b.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Decimal128Array, Int64Array, LargeStringArray, StringArray, TimestampMicrosecondArray,
    };

    #[test]
    fn decimals_parse_exactly_or_fail() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("-12.30"),
            None,
            Some("0.05"),
            Some("99999999.99"),
        ]));
        let out = conform_column("d", &a, &DataType::Decimal128(10, 2), ReadAs::Text).unwrap();
        let d = out.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(d.value(0), -1230);
        assert!(d.is_null(1));
        assert_eq!(d.value(2), 5);
        assert_eq!(d.value(3), 9_999_999_999);
        let round: ArrayRef = Arc::new(StringArray::from(vec!["1.234"]));
        let e =
            conform_column("d", &round, &DataType::Decimal128(10, 2), ReadAs::Text).unwrap_err();
        assert!(e.to_string().contains("would round"), "{e}");
        let big: ArrayRef = Arc::new(StringArray::from(vec!["123456789.5"]));
        let e = conform_column("d", &big, &DataType::Decimal128(10, 2), ReadAs::Text).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        let nan: ArrayRef = Arc::new(StringArray::from(vec!["NaN"]));
        assert!(conform_column("d", &nan, &DataType::Decimal128(10, 2), ReadAs::Text).is_err());
        let trailing: ArrayRef = Arc::new(StringArray::from(vec!["1.5000"]));
        let out =
            conform_column("d", &trailing, &DataType::Decimal128(10, 2), ReadAs::Text).unwrap();
        assert_eq!(
            out.as_any()
                .downcast_ref::<Decimal128Array>()
                .unwrap()
                .value(0),
            150
        );
    }

    #[test]
    fn decimal_rescale_is_exact() {
        let a: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(12_345_000_000_000), None, Some(-500_000_000)])
                .with_precision_and_scale(38, 10)
                .unwrap(),
        );
        let out = conform_column("d", &a, &DataType::Decimal128(15, 2), ReadAs::Native).unwrap();
        let d = out.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!((d.value(0), d.is_null(1), d.value(2)), (123_450, true, -5));
        assert_eq!(d.data_type(), &DataType::Decimal128(15, 2));
        let lossy: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1])
                .with_precision_and_scale(38, 10)
                .unwrap(),
        );
        let e =
            conform_column("d", &lossy, &DataType::Decimal128(15, 2), ReadAs::Native).unwrap_err();
        assert!(e.to_string().contains("would round"), "{e}");
        let big: ArrayRef = Arc::new(
            Decimal128Array::from(vec![10i128.pow(20)])
                .with_precision_and_scale(38, 2)
                .unwrap(),
        );
        assert!(conform_column("d", &big, &DataType::Decimal128(5, 2), ReadAs::Native).is_err());
        let up: ArrayRef = Arc::new(
            Decimal128Array::from(vec![7])
                .with_precision_and_scale(10, 0)
                .unwrap(),
        );
        let out = conform_column("d", &up, &DataType::Decimal128(12, 2), ReadAs::Native).unwrap();
        assert_eq!(
            out.as_any()
                .downcast_ref::<Decimal128Array>()
                .unwrap()
                .value(0),
            700
        );
        assert!(conform_column("d", &up, &DataType::Decimal128(2, 2), ReadAs::Native).is_err());
    }

    #[test]
    fn temporal_text_parses_with_zero_date_policy() {
        let a: ArrayRef = Arc::new(LargeStringArray::from(vec![
            Some("1970-01-02"),
            Some("0000-00-00"),
            None,
            Some("2024-02-29"),
        ]));
        let out = conform_column("d", &a, &DataType::Date32, ReadAs::Text).unwrap();
        assert_eq!(
            (0..4)
                .map(|i| arrow::util::display::array_value_to_string(&out, i).unwrap())
                .collect::<Vec<_>>(),
            ["1970-01-02", "", "", "2024-02-29"]
        );
        assert_eq!(out.null_count(), 2);
        let e = conform_column("d", &a, &DataType::Date32, ReadAs::TextNoZeroDates).unwrap_err();
        assert!(e.to_string().contains("zero date"), "{e}");
        let ts: ArrayRef = Arc::new(StringArray::from(vec![
            "2000-01-01 00:00:01.5",
            "1500-06-01 12:00:00",
            "0000-00-00 00:00:00",
        ]));
        let target = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let out = conform_column("t", &ts, &target, ReadAs::Text).unwrap();
        assert_eq!(out.data_type(), &target);
        assert_eq!(
            arrow::util::display::array_value_to_string(&out, 0).unwrap(),
            "2000-01-01T00:00:01.500Z"
        );
        assert_eq!(
            arrow::util::display::array_value_to_string(&out, 1).unwrap(),
            "1500-06-01T12:00:00Z"
        );
        assert!(out.is_null(2));
        for bad in [
            "2000-13-01",
            "2000/01/01",
            "2000-01-01 25:00:00",
            "2000-01-01 10:00:00.",
            "x",
        ] {
            let a: ArrayRef = Arc::new(StringArray::from(vec![bad]));
            assert!(
                conform_column("t", &a, &target, ReadAs::Text).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_hold_negative_and_long_times() {
        assert_eq!(
            parse_duration_text("838:59:59"),
            Some(((838 * 3600) + 59 * 60 + 59) * 1_000_000)
        );
        assert_eq!(parse_duration_text("-00:00:01.5"), Some(-1_500_000));
        assert_eq!(parse_duration_text("12:61:00"), None);
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("-838:59:59.000000"), None]));
        let out = conform_column(
            "t",
            &a,
            &DataType::Duration(TimeUnit::Microsecond),
            ReadAs::Text,
        )
        .unwrap();
        assert_eq!(out.data_type(), &DataType::Duration(TimeUnit::Microsecond));
        assert!(out.is_null(1));
        let bad: ArrayRef = Arc::new(StringArray::from(vec!["noon"]));
        assert!(conform_column(
            "t",
            &bad,
            &DataType::Duration(TimeUnit::Microsecond),
            ReadAs::Text
        )
        .is_err());
    }

    #[test]
    fn postgres_array_literals() {
        assert_eq!(
            parse_pg_array(r#"{1.5,NULL,"a \"b\"",  x }"#).unwrap(),
            vec![
                Some("1.5".into()),
                None,
                Some("a \"b\"".into()),
                Some("x".into())
            ]
        );
        assert_eq!(parse_pg_array("{}").unwrap(), vec![]);
        assert_eq!(parse_pg_array("[0:1]={1,2}").unwrap().len(), 2);
        assert!(parse_pg_array("{{1},{2}}").is_err());
        assert!(parse_pg_array("1,2").is_err());
        assert!(parse_pg_array(r#"{"open}"#).is_err());
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("{1.50,NULL}"),
            None,
            Some("{}"),
        ]));
        let target = DataType::List(Arc::new(Field::new_list_field(
            DataType::Decimal128(5, 2),
            true,
        )));
        let out = conform_column("l", &a, &target, ReadAs::Text).unwrap();
        assert_eq!(out.data_type(), &target);
        assert_eq!(
            arrow::util::display::array_value_to_string(&out, 0).unwrap(),
            "[1.50, ]"
        );
        assert!(out.is_null(1));
        let bad: ArrayRef = Arc::new(StringArray::from(vec!["{1.555}"]));
        assert!(conform_column("l", &bad, &target, ReadAs::Text).is_err());
    }

    #[test]
    fn padded_text_is_trimmed() {
        let a: ArrayRef = Arc::new(LargeStringArray::from(vec![
            Some("ab   "),
            None,
            Some(" x "),
            Some(""),
        ]));
        let out = conform_column("c", &a, &DataType::Utf8, ReadAs::TrimPad).unwrap();
        let s = out.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            (s.value(0), s.is_null(1), s.value(2), s.value(3)),
            ("ab", true, " x", "")
        );
    }

    #[test]
    fn decimal256_for_wide_precision() {
        let a: ArrayRef = Arc::new(LargeStringArray::from(vec![
            "123456789012345678901234567890123456789012.5",
        ]));
        let out = conform_column("d", &a, &DataType::Decimal256(50, 1), ReadAs::Text).unwrap();
        assert_eq!(
            arrow::util::display::array_value_to_string(&out, 0).unwrap(),
            "123456789012345678901234567890123456789012.5"
        );
    }

    #[test]
    fn intervals_parse_iso() {
        // Beyond Arrow's fields: an error that says so, never a wrapped value or a panic.
        for text in [
            "P9223372036854775807Y",
            "P3000000000M",
            "PT3000000H",
            "PT170141183460469231731687303715884105727H",
            "PT9223372036854775807.5S",
            "P1DT-9223372036854775807H-9223372036854775807H",
        ] {
            let e = parse_iso_interval(text).unwrap_err();
            assert!(e.contains("does not fit"), "{text}: {e}");
        }
        let v = parse_iso_interval("P1Y2M3DT4H5M6.5S").unwrap();
        assert_eq!((v.months, v.days), (14, 3));
        assert_eq!(
            v.nanoseconds,
            ((4 * 3600 + 5 * 60 + 6) * 1_000_000_000) + 500_000_000
        );
        let v = parse_iso_interval("P-1Y-2M3DT-4H-5M-6.25S").unwrap();
        assert_eq!((v.months, v.days), (-14, 3));
        assert_eq!(
            v.nanoseconds,
            -((4 * 3600 + 5 * 60 + 6) * 1_000_000_000) - 250_000_000
        );
        assert_eq!(
            parse_iso_interval("PT0S").unwrap(),
            IntervalMonthDayNano::new(0, 0, 0)
        );
        assert!(parse_iso_interval("1 day").is_err());
        assert!(parse_iso_interval("P1X").is_err());
    }

    #[test]
    fn native_conversions_are_lossless() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(32767), None]));
        let out = conform_column("i", &a, &DataType::Int16, ReadAs::Native).unwrap();
        assert_eq!(out.data_type(), &DataType::Int16);
        let too_big: ArrayRef = Arc::new(Int64Array::from(vec![40000]));
        assert!(conform_column("i", &too_big, &DataType::Int16, ReadAs::Native).is_err());
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![1]).with_timezone("+00:00"));
        let before = ts.to_data().buffers()[0].as_ptr();
        let target =
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
        let out = conform_column("t", &ts, &target, ReadAs::Native).unwrap();
        assert_eq!(out.data_type(), &target);
        assert_eq!(
            out.to_data().buffers()[0].as_ptr(),
            before,
            "relabel must not copy"
        );
    }
}
