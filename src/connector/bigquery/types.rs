//! BigQuery's types and Arrow's, both ways: the table schema's fields as Arrow fields (the
//! types the Storage Read API sends), REST result rows decoded into those types, engine values
//! as query parameters, and Arrow types as BigQuery columns for tables a load creates.
//!
//! | BigQuery | Arrow |
//! |---|---|
//! | `INT64` | Int64 |
//! | `FLOAT64` | Float64 |
//! | `BOOL` | Boolean |
//! | `STRING` | Utf8 |
//! | `BYTES` | Binary |
//! | `NUMERIC` | Decimal128(38, 9) |
//! | `BIGNUMERIC` | Decimal256(76, 38) |
//! | `DATE` | Date32 |
//! | `DATETIME` | Timestamp(µs) |
//! | `TIMESTAMP` | Timestamp(µs, UTC) |
//! | `TIME` | Time64(µs) |
//! | `JSON`, `GEOGRAPHY` | Utf8 |
//! | `ARRAY<T>` (`REPEATED`) | List(T) |
//! | `STRUCT` (`RECORD`) | Struct |

use std::sync::Arc;

use arrow::array::{
    new_null_array, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Decimal256Builder, Float64Builder, Int64Builder, ListArray, StringBuilder, StructArray,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{json, Value as Json};

use crate::connector::value::{days_of, micros_of_day};
use crate::connector::Value;
use crate::error::{Error, Result};
use crate::schema::{ColumnSpec, SourceCompare};

/// The Arrow type of a BigQuery type name (standard and legacy spellings), without `REPEATED`.
fn scalar_type(ty: &str, fields: Option<&Vec<Json>>) -> Option<DataType> {
    Some(match ty.to_ascii_uppercase().as_str() {
        "INT64" | "INTEGER" => DataType::Int64,
        "FLOAT64" | "FLOAT" => DataType::Float64,
        "BOOL" | "BOOLEAN" => DataType::Boolean,
        "STRING" | "JSON" | "GEOGRAPHY" => DataType::Utf8,
        "BYTES" => DataType::Binary,
        "NUMERIC" | "DECIMAL" => DataType::Decimal128(38, 9),
        "BIGNUMERIC" | "BIGDECIMAL" => DataType::Decimal256(76, 38),
        "DATE" => DataType::Date32,
        "DATETIME" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "TIME" => DataType::Time64(TimeUnit::Microsecond),
        "RECORD" | "STRUCT" => DataType::Struct(
            fields?
                .iter()
                .map(arrow_field)
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        _ => return None,
    })
}

/// The Arrow field of one field of a BigQuery schema (`{"name", "type", "mode", "fields"}`);
/// `None` for a type without an Arrow equivalent here (`INTERVAL`, `RANGE`).
pub(crate) fn arrow_field(f: &Json) -> Option<FieldRef> {
    let name = f["name"].as_str()?;
    let ty = f["type"].as_str()?;
    let dt = scalar_type(ty, f["fields"].as_array())?;
    Some(Arc::new(match f["mode"].as_str() {
        // An array holds no NULLs, and is never NULL itself (NULL reads as []).
        Some("REPEATED") => Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", dt, false))),
            false,
        ),
        Some("REQUIRED") => Field::new(name, dt, false),
        _ => Field::new(name, dt, true),
    }))
}

/// The type as BigQuery writes it (`ARRAY<INT64>`, `STRUCT<a INT64>`), for display.
pub(crate) fn display_type(f: &Json) -> String {
    let ty = f["type"].as_str().unwrap_or("?").to_ascii_uppercase();
    let base = match ty.as_str() {
        "INTEGER" => "INT64".to_string(),
        "FLOAT" => "FLOAT64".to_string(),
        "BOOLEAN" => "BOOL".to_string(),
        "RECORD" | "STRUCT" => {
            let inner: Vec<String> = f["fields"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|c| {
                            format!("{} {}", c["name"].as_str().unwrap_or("?"), display_type(c))
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("STRUCT<{}>", inner.join(", "))
        }
        other => other.to_string(),
    };
    if f["mode"].as_str() == Some("REPEATED") {
        format!("ARRAY<{base}>")
    } else {
        base
    }
}

/// One column of a table: its Arrow field and how BigQuery compares it.
pub(crate) fn column_spec(f: &Json) -> Result<ColumnSpec> {
    let name = f["name"].as_str().unwrap_or("?");
    let shown = display_type(f);
    let field = arrow_field(f).ok_or_else(|| Error::UnsupportedType {
        column: name.to_string(),
        data_type: shown.clone(),
        hint: "select it through a query that casts it (CAST(col AS STRING)) instead".into(),
    })?;
    let compare = match f["type"]
        .as_str()
        .unwrap_or("")
        .to_ascii_uppercase()
        .as_str()
    {
        _ if matches!(field.data_type(), DataType::List(_) | DataType::Struct(_)) => {
            SourceCompare::Never
        }
        // NaN = NaN is false in BigQuery and NaN sorts first; DataFusion says NaN = NaN and
        // sorts it last: comparisons would differ on NaN rows.
        "FLOAT64" | "FLOAT" => SourceCompare::Never,
        // Compared as JSON values / geographies, not as the text the engine holds.
        "JSON" | "GEOGRAPHY" => SourceCompare::Never,
        // An instant against a literal: the literal's zone decides; kept local.
        "TIMESTAMP" => SourceCompare::Never,
        // A collation (`und:ci`) makes equality case-insensitive: a superset.
        "STRING" if f["collation"].as_str().is_some_and(|c| !c.is_empty()) => {
            SourceCompare::EqualitySuperset
        }
        _ => SourceCompare::Same,
    };
    Ok(ColumnSpec {
        field: field.clone(),
        source_type: shown,
        read: crate::schema::ReadAs::Native,
        compare,
        source_name: None,
    })
}

/// The BigQuery column type that reads back as `dt` (for tables a load creates).
pub(crate) fn bigquery_type(dt: &DataType) -> Option<Json> {
    let scalar = |t: &str| Some(json!({ "type": t }));
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => scalar("INT64"),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => scalar("FLOAT64"),
        DataType::Boolean => scalar("BOOL"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => scalar("STRING"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => scalar("BYTES"),
        DataType::Decimal128(p, s) if *s >= 0 && *s <= 9 && (*p as i16 - *s as i16) <= 29 => {
            scalar("NUMERIC")
        }
        DataType::Decimal128(_, s) | DataType::Decimal256(_, s) if *s >= 0 && *s <= 38 => {
            scalar("BIGNUMERIC")
        }
        DataType::Date32 | DataType::Date64 => scalar("DATE"),
        DataType::Timestamp(_, None) => scalar("DATETIME"),
        DataType::Timestamp(_, Some(_)) => scalar("TIMESTAMP"),
        DataType::Time32(_) | DataType::Time64(_) => scalar("TIME"),
        DataType::List(item) | DataType::LargeList(item) => {
            let mut inner = bigquery_type(item.data_type())?;
            if matches!(item.data_type(), DataType::List(_) | DataType::LargeList(_)) {
                // BigQuery has no arrays of arrays.
                return None;
            }
            inner["mode"] = json!("REPEATED");
            Some(inner)
        }
        DataType::Struct(fields) => {
            let children = fields
                .iter()
                .map(|f| schema_field(f))
                .collect::<Option<Vec<_>>>()?;
            Some(json!({ "type": "RECORD", "fields": children }))
        }
        _ => None,
    }
}

/// A BigQuery schema field for an Arrow field.
pub(crate) fn schema_field(f: &Field) -> Option<Json> {
    let mut out = bigquery_type(f.data_type())?;
    out["name"] = json!(f.name());
    if out.get("mode").is_none() {
        out["mode"] = json!(if f.is_nullable() {
            "NULLABLE"
        } else {
            "REQUIRED"
        });
    }
    Some(out)
}

/// A named query parameter (`@name`) for an engine value; NULL takes the type `null_type`
/// (BigQuery types every parameter, and a NULL of the wrong type does not coerce).
pub(crate) fn parameter(name: &str, value: &Value, null_type: &str) -> Result<Json> {
    let (ty, v): (&str, Json) = match value {
        Value::Null => (null_type, Json::Null),
        Value::Bool(b) => ("BOOL", json!(b.to_string())),
        Value::Int(i) => ("INT64", json!(i.to_string())),
        Value::UInt(u) => {
            if *u > i64::MAX as u64 {
                ("BIGNUMERIC", json!(u.to_string()))
            } else {
                ("INT64", json!(u.to_string()))
            }
        }
        Value::Float(f) => (
            "FLOAT64",
            json!(if f.is_nan() {
                "NaN".to_string()
            } else if f.is_infinite() {
                if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
            } else {
                f.to_string()
            }),
        ),
        Value::Text(s) => ("STRING", json!(s)),
        Value::Bytes(b) => (
            "BYTES",
            json!(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        Value::Decimal { value, scale } => {
            let text = crate::connector::value::format_decimal(&value.to_string(), *scale);
            let digits = text.trim_start_matches('-').replace('.', "").len();
            let fits_numeric = *scale <= 9 && (digits as i64 - *scale as i64) <= 29;
            (
                if fits_numeric {
                    "NUMERIC"
                } else {
                    "BIGNUMERIC"
                },
                json!(text),
            )
        }
        Value::Date(d) => ("DATE", json!(d.format("%Y-%m-%d").to_string())),
        Value::Time(t) => ("TIME", json!(t.format("%H:%M:%S%.6f").to_string())),
        Value::Timestamp(t) => (
            "DATETIME",
            json!(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        ),
        Value::TimestampUtc(t) => (
            "TIMESTAMP",
            json!(t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()),
        ),
    };
    Ok(json!({
        "name": name,
        "parameterType": { "type": ty },
        "parameterValue": { "value": v },
    }))
}

/// The Arrow schema of a query result's fields.
pub(crate) fn result_schema(fields: &[Json]) -> Result<SchemaRef> {
    let fields = fields
        .iter()
        .map(|f| {
            arrow_field(f).ok_or_else(|| Error::UnsupportedType {
                column: f["name"].as_str().unwrap_or("?").to_string(),
                data_type: display_type(f),
                hint: "cast it to STRING in the query".into(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// REST result rows (`{"f": [{"v": ...}]}`) as one batch of `schema`.
pub(crate) fn rows_to_batch(schema: &SchemaRef, rows: &[Json]) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let cells: Vec<&Json> = rows.iter().map(|r| &r["f"][i]["v"]).collect();
            decode(field.name(), field.data_type(), &cells)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )?)
}

fn text<'a>(column: &str, v: &'a Json) -> Result<Option<&'a str>> {
    match v {
        Json::Null => Ok(None),
        Json::String(s) => Ok(Some(s)),
        other => Err(bad(column, &format!("expected a string, got {other}"))),
    }
}

fn bad(column: &str, message: &str) -> Error {
    Error::Value {
        column: column.to_string(),
        message: message.to_string(),
    }
}

fn parsed<T>(column: &str, s: &str, what: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| bad(column, &format!("`{s}` is not {what}")))
}

/// Decodes the JSON cells of one column of type `dt`.
fn decode(column: &str, dt: &DataType, cells: &[&Json]) -> Result<ArrayRef> {
    macro_rules! scalar {
        ($builder:expr, $what:expr, $parse:expr) => {{
            let mut b = $builder;
            for cell in cells {
                match text(column, cell)? {
                    None => b.append_null(),
                    Some(s) => b.append_value(parsed(column, s, $what, $parse(s))?),
                }
            }
            Ok(Arc::new(b.finish()) as ArrayRef)
        }};
    }
    match dt {
        DataType::Int64 => scalar!(Int64Builder::new(), "an INT64", |s: &str| s.parse().ok()),
        DataType::Float64 => {
            scalar!(Float64Builder::new(), "a FLOAT64", |s: &str| s.parse().ok())
        }
        DataType::Boolean => scalar!(BooleanBuilder::new(), "a BOOL", |s: &str| match s {
            "true" | "TRUE" => Some(true),
            "false" | "FALSE" => Some(false),
            _ => None,
        }),
        DataType::Utf8 => scalar!(StringBuilder::new(), "text", |s: &str| Some(s.to_string())),
        DataType::Binary => scalar!(BinaryBuilder::new(), "base64", |s: &str| {
            base64::engine::general_purpose::STANDARD.decode(s).ok()
        }),
        DataType::Decimal128(p, s) => scalar!(
            Decimal128Builder::new().with_precision_and_scale(*p, *s)?,
            "a NUMERIC",
            |v: &str| arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(
                v, *p, *s
            )
            .ok()
        ),
        DataType::Decimal256(p, s) => scalar!(
            Decimal256Builder::new().with_precision_and_scale(*p, *s)?,
            "a BIGNUMERIC",
            |v: &str| arrow::compute::kernels::cast_utils::parse_decimal::<Decimal256Type>(
                v, *p, *s
            )
            .ok()
        ),
        DataType::Date32 => scalar!(Date32Builder::new(), "a DATE", |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(days_of)
        }),
        DataType::Time64(TimeUnit::Microsecond) => {
            scalar!(Time64MicrosecondBuilder::new(), "a TIME", |s: &str| {
                NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
                    .ok()
                    .map(micros_of_day)
            })
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            scalar!(
                TimestampMicrosecondBuilder::new(),
                "a DATETIME",
                |s: &str| {
                    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                        .ok()
                        .map(|t| t.and_utc().timestamp_micros())
                }
            )
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => scalar!(
            TimestampMicrosecondBuilder::new().with_timezone(tz.clone()),
            "a TIMESTAMP",
            |s: &str| {
                // Microseconds (useInt64Timestamp), else seconds as a float.
                s.parse::<i64>().ok().or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(|f| (f * 1e6).round() as i64)
                })
            }
        ),
        DataType::List(item) => {
            let mut offsets = Vec::with_capacity(cells.len() + 1);
            offsets.push(0i32);
            let mut children: Vec<&Json> = vec![];
            for cell in cells {
                match cell {
                    Json::Null => {}
                    Json::Array(items) => children.extend(items.iter().map(|i| &i["v"])),
                    other => return Err(bad(column, &format!("expected an array, got {other}"))),
                }
                let n = i32::try_from(children.len())
                    .map_err(|_| bad(column, "more array elements than a list holds"))?;
                offsets.push(n);
            }
            let values = decode(column, item.data_type(), &children)?;
            Ok(Arc::new(ListArray::try_new(
                item.clone(),
                OffsetBuffer::new(offsets.into()),
                values,
                None,
            )?))
        }
        DataType::Struct(fields) => struct_array(column, fields, cells),
        other if cells.iter().all(|c| c.is_null()) => Ok(new_null_array(other, cells.len())),
        other => Err(bad(
            column,
            &format!("cannot decode {other} from a REST row"),
        )),
    }
}

fn struct_array(column: &str, fields: &Fields, cells: &[&Json]) -> Result<ArrayRef> {
    let valid: Vec<bool> = cells.iter().map(|c| !c.is_null()).collect();
    let children = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let values: Vec<&Json> = cells.iter().map(|c| &c["f"][i]["v"]).collect();
            decode(&format!("{column}.{}", f.name()), f.data_type(), &values)
        })
        .collect::<Result<Vec<_>>>()?;
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        children,
        nulls,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::util::display::array_value_to_string;

    #[test]
    fn schema_fields_map_to_arrow() {
        let fields: Vec<Json> = serde_json::from_str(
            r#"[{"name":"id","type":"INTEGER","mode":"REQUIRED"},{"name":"n","type":"NUMERIC"},
                {"name":"bn","type":"BIGNUMERIC"},{"name":"ts","type":"TIMESTAMP"},
                {"name":"arr","type":"INT64","mode":"REPEATED"},
                {"name":"st","type":"RECORD","fields":[{"name":"a","type":"INT64"}]},
                {"name":"iv","type":"INTERVAL"}]"#,
        )
        .unwrap();
        let specs: Vec<_> = fields.iter().map(column_spec).collect();
        let dt = |i: usize| specs[i].as_ref().unwrap().field.data_type().clone();
        assert_eq!(dt(0), DataType::Int64);
        assert!(!specs[0].as_ref().unwrap().field.is_nullable());
        assert_eq!(dt(1), DataType::Decimal128(38, 9));
        assert_eq!(dt(2), DataType::Decimal256(76, 38));
        assert_eq!(
            dt(3),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert!(matches!(dt(4), DataType::List(_)));
        assert_eq!(specs[4].as_ref().unwrap().source_type, "ARRAY<INT64>");
        assert_eq!(specs[5].as_ref().unwrap().source_type, "STRUCT<a INT64>");
        let e = specs[6].as_ref().unwrap_err().to_string();
        assert!(e.contains("INTERVAL") && e.contains("CAST"), "{e}");
    }

    #[test]
    fn rest_rows_decode_exactly() {
        let fields: Vec<Json> = serde_json::from_str(
            r#"[{"name":"i","type":"INTEGER"},{"name":"f","type":"FLOAT"},{"name":"n","type":"NUMERIC"},
                {"name":"by","type":"BYTES"},{"name":"ts","type":"TIMESTAMP"},{"name":"dt","type":"DATETIME"},
                {"name":"t","type":"TIME"},{"name":"arr","type":"INTEGER","mode":"REPEATED"},
                {"name":"st","type":"RECORD","fields":[{"name":"a","type":"INTEGER"},{"name":"b","type":"STRING"}]}]"#,
        )
        .unwrap();
        let rows: Vec<Json> = serde_json::from_str(
            r#"[{"f":[{"v":"9007199254740993"},{"v":"NaN"},{"v":"12345.678901234"},{"v":"AAH/"},
                     {"v":"1709212455123456"},{"v":"2024-02-29T13:14:15.123456"},{"v":"13:14:15.5"},
                     {"v":[{"v":"1"},{"v":"2"}]},{"v":{"f":[{"v":"7"},{"v":"seven"}]}}]},
                {"f":[{"v":null},{"v":"-Infinity"},{"v":null},{"v":null},{"v":"1.7092124551234E9"},
                     {"v":null},{"v":null},{"v":[]},{"v":null}]}]"#,
        )
        .unwrap();
        let schema = result_schema(&fields).unwrap();
        let batch = rows_to_batch(&schema, &rows).unwrap();
        let cell = |c: usize, r: usize| array_value_to_string(batch.column(c), r).unwrap();
        assert_eq!(cell(0, 0), "9007199254740993");
        assert_eq!(cell(1, 0), "NaN");
        assert_eq!(cell(2, 0), "12345.678901234");
        assert_eq!(cell(3, 0), "0001ff");
        assert_eq!(cell(4, 0), "2024-02-29T13:14:15.123456Z");
        assert_eq!(cell(4, 1), "2024-02-29T13:14:15.123400Z");
        assert_eq!(cell(5, 0), "2024-02-29T13:14:15.123456");
        assert_eq!(cell(6, 0), "13:14:15.500");
        assert_eq!(cell(7, 0), "[1, 2]");
        assert_eq!(cell(7, 1), "[]");
        assert_eq!(cell(8, 0), "{a: 7, b: seven}");
        assert!(batch.column(8).is_null(1));
        assert!(batch.column(0).is_null(1));

        let bad: Vec<Json> = serde_json::from_str(r#"[{"f":[{"v":"x"}]}]"#).unwrap();
        let e = rows_to_batch(&result_schema(&fields[..1]).unwrap(), &bad).unwrap_err();
        assert!(e.to_string().contains("`x` is not an INT64"), "{e}");
    }

    #[test]
    fn values_become_typed_parameters() {
        let p = parameter("p1", &Value::Int(5), "STRING").unwrap();
        assert_eq!(p["parameterType"]["type"], "INT64");
        assert_eq!(p["parameterValue"]["value"], "5");
        let p = parameter("p2", &Value::Null, "INT64").unwrap();
        assert_eq!(p["parameterType"]["type"], "INT64");
        assert!(p["parameterValue"]["value"].is_null());
        let p = parameter(
            "p3",
            &Value::Decimal {
                value: 12345,
                scale: 2,
            },
            "STRING",
        )
        .unwrap();
        assert_eq!(p["parameterType"]["type"], "NUMERIC");
        assert_eq!(p["parameterValue"]["value"], "123.45");
        let p = parameter("p4", &Value::Bytes(vec![0, 1, 255]), "STRING").unwrap();
        assert_eq!(p["parameterValue"]["value"], "AAH/");
    }

    #[test]
    fn arrow_types_become_columns() {
        let f = Field::new("x", DataType::Decimal128(12, 2), true);
        assert_eq!(schema_field(&f).unwrap()["type"], "NUMERIC");
        let f = Field::new("x", DataType::Decimal128(38, 20), false);
        let s = schema_field(&f).unwrap();
        assert_eq!(
            (s["type"].as_str(), s["mode"].as_str()),
            (Some("BIGNUMERIC"), Some("REQUIRED"))
        );
        let f = Field::new_list("x", Field::new("item", DataType::Int32, true), true);
        let s = schema_field(&f).unwrap();
        assert_eq!(
            (s["type"].as_str(), s["mode"].as_str()),
            (Some("INT64"), Some("REPEATED"))
        );
        assert!(bigquery_type(&DataType::UInt64).is_none());
    }
}
