//! Snowflake's types as Arrow types, from `INFORMATION_SCHEMA.COLUMNS`; names as the engine
//! shows them; result batches conformed to the declared types (strictly: a type the catalog
//! did not promise is an error, never a reinterpretation).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::connector::Value;
use crate::error::{Error, Result};
use crate::schema::{ColumnSpec, SourceCompare};

/// One row of `INFORMATION_SCHEMA.COLUMNS`.
#[derive(Debug, Clone)]
pub struct SfColumn {
    /// The name as stored (unquoted names are stored upper-cased).
    pub name: String,
    /// `DATA_TYPE`: `NUMBER`, `TEXT`, `TIMESTAMP_NTZ`, ...
    pub data_type: String,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// `NUMERIC_PRECISION`.
    pub precision: Option<i64>,
    /// `NUMERIC_SCALE`.
    pub scale: Option<i64>,
    /// `CHARACTER_MAXIMUM_LENGTH`.
    pub length: Option<i64>,
    /// `COLLATION_NAME`: a text column with a collation compares case- or
    /// accent-insensitively.
    pub collation: Option<String>,
}

/// Whether `stored` is what Snowflake makes of an unquoted identifier (upper case letters,
/// digits, `_` and `$`, not starting with a digit or `$`): the engine shows it in lower case,
/// as a user types it.
pub fn folded(stored: &str) -> bool {
    let mut chars = stored.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

/// The engine's name for a stored name: lower case when Snowflake folded it.
pub fn display_name(stored: &str) -> String {
    if folded(stored) {
        stored.to_ascii_lowercase()
    } else {
        stored.to_string()
    }
}

/// The stored names an engine name may stand for, most specific first: itself, and, for a
/// name in lower case (as the engine reads an unquoted identifier), the upper case Snowflake
/// folds it to.
pub fn stored_candidates(name: &str) -> Vec<String> {
    let upper = name.to_ascii_uppercase();
    if upper != name && name == name.to_ascii_lowercase() && folded(&upper) {
        vec![name.to_string(), upper]
    } else {
        vec![name.to_string()]
    }
}

/// The declared column for one catalog row; its engine name is [`display_name`] unless that
/// would collide with another column's (`taken`).
pub fn column_spec(c: &SfColumn, taken: &dyn Fn(&str) -> bool) -> ColumnSpec {
    let display = display_name(&c.name);
    let name = if display != c.name && taken(&display) {
        c.name.clone()
    } else {
        display
    };
    let ty = c.data_type.to_ascii_uppercase();
    let source_type = match (c.precision, c.scale) {
        (Some(p), Some(s)) if ty == "NUMBER" => format!("NUMBER({p},{s})"),
        _ => ty.clone(),
    };
    let native = |dt: DataType| ColumnSpec::native(&name, dt, c.nullable, source_type.clone());
    let spec = match ty.as_str() {
        "NUMBER" | "DECIMAL" | "NUMERIC" => {
            let p = c.precision.unwrap_or(38).clamp(1, 38) as u8;
            let s = c.scale.unwrap_or(0).clamp(0, p as i64) as i8;
            native(DataType::Decimal128(p, s))
        }
        "FLOAT" | "FLOAT4" | "FLOAT8" | "DOUBLE" | "DOUBLE PRECISION" | "REAL" => {
            native(DataType::Float64)
        }
        "TEXT" | "VARCHAR" | "STRING" | "CHAR" | "CHARACTER" => {
            let compare = if c.collation.as_deref().is_some_and(|s| !s.is_empty()) {
                SourceCompare::EqualitySuperset
            } else {
                SourceCompare::Same
            };
            native(DataType::Utf8).with_compare(compare)
        }
        "BOOLEAN" => native(DataType::Boolean),
        "DATE" => native(DataType::Date32),
        "TIME" => native(DataType::Time64(TimeUnit::Nanosecond)).with_compare(SourceCompare::Never),
        "TIMESTAMP_NTZ" | "DATETIME" | "TIMESTAMP" => {
            native(DataType::Timestamp(TimeUnit::Microsecond, None))
        }
        // Instants: their comparisons at the source depend on the session's time zone.
        "TIMESTAMP_LTZ" | "TIMESTAMP_TZ" => native(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some(Arc::from("UTC")),
        ))
        .with_compare(SourceCompare::Never),
        "BINARY" | "VARBINARY" => native(DataType::Binary).with_compare(SourceCompare::Never),
        // Semi-structured values and the rest arrive as their JSON or WKT text.
        _ => native(DataType::Utf8).with_compare(SourceCompare::Never),
    };
    spec.with_source_name(c.name.clone())
}

/// What Snowflake stores an Arrow type as (a load that creates its table).
pub fn snowflake_type(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            "NUMBER(19,0)".into()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            "NUMBER(20,0)".into()
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "FLOAT".into(),
        DataType::Decimal128(p, s) if *s >= 0 && *p <= 38 => format!("NUMBER({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BINARY".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time64(_) | DataType::Time32(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP_TZ".into(),
        _ => return None,
    })
}

/// Whether an array the driver returned as `got` may become `want` without changing a value
/// (or failing loudly if one does not fit).
fn compatible(got: &DataType, want: &DataType) -> bool {
    use DataType::*;
    match (got, want) {
        (a, b) if a == b => true,
        (Int8 | Int16 | Int32 | Int64 | Decimal128(..), Decimal128(..)) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8) => true,
        (Binary | LargeBinary | BinaryView, Binary) => true,
        (Timestamp(_, a), Timestamp(TimeUnit::Microsecond, b)) => a.is_some() == b.is_some(),
        (Time64(_) | Time32(_), Time64(_)) => true,
        (Date32 | Date64, Date32) => true,
        (Float32, Float64) => true,
        (Null, _) => true,
        _ => false,
    }
}

/// One result batch in the declared types; a column whose type the catalog did not promise is
/// an error that names it.
pub fn conform(
    batch: &RecordBatch,
    columns: &[ColumnSpec],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    // A scan that needs no columns (`count(*)`) selects a constant: only the rows count.
    if columns.is_empty() {
        return Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?);
    }
    if batch.num_columns() != columns.len() {
        return Err(Error::Source {
            backend: "snowflake",
            code: None,
            message: format!(
                "the query returned {} columns, the catalog declares {}",
                batch.num_columns(),
                columns.len()
            ),
            retryable: false,
        });
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let arrays = batch
        .columns()
        .iter()
        .zip(columns)
        .map(|(array, spec)| -> Result<ArrayRef> {
            let want = spec.field.data_type();
            if array.data_type() == want {
                return Ok(array.clone());
            }
            if !compatible(array.data_type(), want) {
                return Err(Error::Value {
                    column: spec.name().to_string(),
                    message: format!(
                        "the Snowflake driver returned {} where the catalog declares {} ({}): \
                         the table changed since it was read, or the type map is wrong",
                        array.data_type(),
                        want,
                        spec.source_type
                    ),
                });
            }
            cast_with_options(array, want, &strict).map_err(|e| Error::Value {
                column: spec.name().to_string(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Bound parameters as one row the driver binds: integers, floats, booleans and text go as
/// themselves, every other value as the text Snowflake reads it from (the driver binds no
/// other types).
pub fn params_batch(params: &[Value]) -> Result<Option<RecordBatch>> {
    if params.is_empty() {
        return Ok(None);
    }
    let mut fields = vec![];
    let mut arrays: Vec<ArrayRef> = vec![];
    for (i, v) in params.iter().enumerate() {
        let name = format!("{}", i + 1);
        let (dt, array): (DataType, ArrayRef) = match v {
            Value::Int(n) => (
                DataType::Int64,
                Arc::new(arrow::array::Int64Array::from(vec![*n])),
            ),
            Value::Float(f) => (
                DataType::Float64,
                Arc::new(arrow::array::Float64Array::from(vec![*f])),
            ),
            Value::Bool(b) => (
                DataType::Boolean,
                Arc::new(arrow::array::BooleanArray::from(vec![*b])),
            ),
            Value::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                (DataType::Utf8, Arc::new(StringArray::from(vec![hex])))
            }
            other => {
                let text = other.cell().text().map(|t| t.into_owned());
                (DataType::Utf8, Arc::new(StringArray::from(vec![text])))
            }
        };
        fields.push(Field::new(name, dt, true));
        arrays.push(array);
    }
    Ok(Some(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        arrays,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, p: Option<i64>, s: Option<i64>) -> SfColumn {
        SfColumn {
            name: name.into(),
            data_type: ty.into(),
            nullable: true,
            precision: p,
            scale: s,
            length: None,
            collation: None,
        }
    }

    #[test]
    fn names_fold_as_snowflake_folds_them() {
        assert!(folded("WORDS") && folded("_X1$") && !folded("Words") && !folded("1A"));
        assert_eq!(display_name("WORDS"), "words");
        assert_eq!(display_name("MixedCase"), "MixedCase");
        assert_eq!(display_name("SOME COL"), "SOME COL");
        assert_eq!(stored_candidates("words"), ["words", "WORDS"]);
        assert_eq!(stored_candidates("MixedCase"), ["MixedCase"]);
        assert_eq!(stored_candidates("some col"), ["some col"]);
    }

    #[test]
    fn types_map_exactly() {
        let none = |_: &str| false;
        let n = column_spec(&col("ID", "NUMBER", Some(38), Some(0)), &none);
        assert_eq!(n.name(), "id");
        assert_eq!(n.source_name(), "ID");
        assert_eq!(n.field.data_type(), &DataType::Decimal128(38, 0));
        let d = column_spec(&col("P", "NUMBER", Some(10), Some(2)), &none);
        assert_eq!(d.field.data_type(), &DataType::Decimal128(10, 2));
        let ts = column_spec(&col("T", "TIMESTAMP_TZ", None, None), &none);
        assert_eq!(
            ts.field.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let v = column_spec(&col("V", "VARIANT", None, None), &none);
        assert_eq!(v.field.data_type(), &DataType::Utf8);
        assert_eq!(v.compare, SourceCompare::Never);
        let mut c = col("NAME", "TEXT", None, None);
        c.collation = Some("en-ci".into());
        assert_eq!(
            column_spec(&c, &none).compare,
            SourceCompare::EqualitySuperset
        );
        // A lower-case twin keeps the stored name.
        let clash = column_spec(&col("ID", "NUMBER", Some(38), Some(0)), &|n| n == "id");
        assert_eq!(clash.name(), "ID");
        assert_eq!(clash.source_name, None);
    }

    #[test]
    fn conform_refuses_what_the_catalog_did_not_promise() {
        let spec = column_spec(&col("ID", "NUMBER", Some(38), Some(0)), &|_: &str| false);
        let schema = crate::schema::schema_of(std::slice::from_ref(&spec));
        let ints = RecordBatch::try_from_iter([(
            "ID",
            Arc::new(arrow::array::Int64Array::from(vec![1, 2])) as ArrayRef,
        )])
        .unwrap();
        let out = conform(&ints, std::slice::from_ref(&spec), &schema).unwrap();
        assert_eq!(out.column(0).data_type(), &DataType::Decimal128(38, 0));
        let text = RecordBatch::try_from_iter([(
            "ID",
            Arc::new(StringArray::from(vec!["1"])) as ArrayRef,
        )])
        .unwrap();
        let err = conform(&text, &[spec], &schema).unwrap_err().to_string();
        assert!(
            err.contains("returned Utf8 where the catalog declares Decimal128(38, 0)"),
            "{err}"
        );
    }

    #[test]
    fn parameters_bind_as_the_driver_takes_them() {
        let b = params_batch(&[
            Value::Int(1),
            Value::Text("x".into()),
            Value::Null,
            Value::Decimal {
                value: 1250,
                scale: 2,
            },
            Value::Date(chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(b.num_columns(), 5);
        let s = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .iter()
                .next()
                .unwrap()
                .map(str::to_string)
        };
        assert_eq!(s(2), None);
        assert_eq!(s(3).as_deref(), Some("12.50"));
        assert_eq!(s(4).as_deref(), Some("2024-01-31"));
        assert!(params_batch(&[]).unwrap().is_none());
    }
}
