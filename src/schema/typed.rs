//! Typed results: declared schemas checked against batches ([`ExpectedSchema`]), rows mapped to
//! Rust structs and back with `serde_arrow` ([`from_batches`], [`FromRows`], [`DataFrameExt`]).
//!
//! ```no_run
//! # async fn demo(engine: vibe_piper::Engine) -> vibe_piper::Result<()> {
//! use vibe_piper::schema::typed::DataFrameExt;
//! #[derive(serde::Deserialize)]
//! struct Customer { id: i64, name: String, email: Option<String> }
//! let customers: Vec<Customer> = engine
//!     .sql("SELECT id, name, email FROM pg.customers WHERE active = true").await?
//!     .collect_as().await?;
//! # Ok(()) }
//! ```
//!
//! Supported field types: integers, floats, `bool`, `String`, `Option<T>`, `Vec<T>` (List),
//! chrono's `NaiveDate`, `NaiveDateTime` and `DateTime<Utc>` (Date32 / Timestamp), decimals as
//! `rust_decimal::Decimal` (through their text form), `uuid::Uuid` (text), and
//! `serde_json::Value` with `#[serde(with = "vibe_piper::schema::typed::json_text")]` (a JSON
//! column read as text). Fields are matched by name; a struct field missing from the result is
//! an error naming it, even when the field is an `Option`.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::dataframe::DataFrame;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_arrow::schema::{SchemaLike, TracingOptions};

use crate::error::{Error, Result};

/// A schema results must have: names, types and nullability, optionally allowing safe
/// widening (Int32 → Int64, Float32 → Float64, Decimal(p,s) → Decimal(p',s) with p' ≥ p, ...).
/// Lossy conversions never happen.
#[derive(Debug, Clone)]
pub struct ExpectedSchema {
    schema: SchemaRef,
    widening: bool,
}

/// Whether every value of `from` fits `to` exactly.
pub fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Int8, Int16 | Int32 | Int64)
        | (Int16, Int32 | Int64)
        | (Int32, Int64)
        | (UInt8, UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64)
        | (UInt16, UInt32 | UInt64 | Int32 | Int64)
        | (UInt32, UInt64 | Int64)
        | (Float16, Float32 | Float64)
        | (Float32, Float64)
        | (Int8 | Int16 | UInt8 | UInt16, Float32)
        | (Int8 | Int16 | Int32 | UInt8 | UInt16 | UInt32, Float64)
        | (Utf8 | Utf8View, LargeUtf8 | Utf8 | Utf8View)
        | (Binary | BinaryView, LargeBinary | Binary | BinaryView)
        | (Date32, Date64) => true,
        (Decimal128(p1, s1), Decimal128(p2, s2) | Decimal256(p2, s2)) => s1 == s2 && p2 >= p1,
        (Decimal256(p1, s1), Decimal256(p2, s2)) => s1 == s2 && p2 >= p1,
        (Timestamp(u1, tz1), Timestamp(u2, tz2)) => {
            tz1 == tz2 && timestamp_rank(u1) <= timestamp_rank(u2)
        }
        (List(a), List(b) | LargeList(b)) => widens(a.data_type(), b.data_type()),
        _ => false,
    }
}

fn timestamp_rank(u: &arrow::datatypes::TimeUnit) -> u8 {
    use arrow::datatypes::TimeUnit::*;
    match u {
        Second => 0,
        Millisecond => 1,
        Microsecond => 2,
        Nanosecond => 3,
    }
}

impl ExpectedSchema {
    /// Results must have exactly this schema.
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            widening: false,
        }
    }

    /// Allows safe widening ([`widens`]).
    pub fn allow_widening(mut self, on: bool) -> Self {
        self.widening = on;
        self
    }

    /// The declared schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Checks `batch`: every declared column present with the declared type (or a safely
    /// widened one, when allowed), no NULLs in a non-nullable column. The error lists every
    /// offending column with expected and actual type.
    pub fn validate(&self, batch: &RecordBatch) -> Result<()> {
        let actual = batch.schema();
        let mut problems = vec![];
        for f in self.schema.fields() {
            match actual.index_of(f.name()) {
                Err(_) => problems.push(format!(
                    "`{}`: expected {}, missing from the result",
                    f.name(),
                    f.data_type()
                )),
                Ok(i) => {
                    let got = actual.field(i).data_type();
                    let ok = got == f.data_type() || (self.widening && widens(got, f.data_type()));
                    if !ok {
                        problems.push(format!(
                            "`{}`: expected {}, found {got}{}",
                            f.name(),
                            f.data_type(),
                            if !self.widening && widens(got, f.data_type()) {
                                " (a safe widening: allow it with allow_widening(true))"
                            } else {
                                ""
                            }
                        ));
                    } else if !f.is_nullable() && batch.column(i).null_count() > 0 {
                        problems.push(format!(
                            "`{}`: declared NOT NULL, found {} NULLs",
                            f.name(),
                            batch.column(i).null_count()
                        ));
                    }
                }
            }
        }
        for f in actual.fields() {
            if self.schema.index_of(f.name()).is_err() {
                problems.push(format!(
                    "`{}`: not declared, found {}",
                    f.name(),
                    f.data_type()
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::SchemaMismatch {
                table: "result".into(),
                problems,
            })
        }
    }

    /// Validates `batch` and returns it in the declared schema (column order, widened types,
    /// declared nullability).
    pub fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.validate(batch)?;
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                let a = batch.column_by_name(f.name()).cloned().ok_or_else(|| {
                    Error::SchemaMismatch {
                        table: "result".into(),
                        problems: vec![format!("`{}` missing", f.name())],
                    }
                })?;
                if a.data_type() == f.data_type() {
                    return Ok(a);
                }
                let options = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                Ok(cast_with_options(&a, f.data_type(), &options)?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// The field names of a struct `T` derives `Deserialize` for: serde hands them to
/// `deserialize_struct`, which this deserializer records and then stops.
fn struct_fields<T: DeserializeOwned>() -> Option<Vec<&'static str>> {
    struct Probe(std::cell::RefCell<Option<&'static [&'static str]>>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &Probe {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0.borrow_mut() = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let probe = Probe(std::cell::RefCell::new(None));
    let _ = T::deserialize(&probe);
    let fields = *probe.0.borrow();
    fields.map(|f| f.to_vec())
}

/// View types read as their plain forms (what serde_arrow maps).
fn plain(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView))
    {
        return Ok(batch.clone());
    }
    let mut fields = vec![];
    let mut columns = vec![];
    for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
        let to = match f.data_type() {
            DataType::Utf8View => DataType::Utf8,
            DataType::BinaryView => DataType::Binary,
            other => other.clone(),
        };
        columns.push(if &to == f.data_type() {
            a.clone()
        } else {
            arrow::compute::cast(a, &to)?
        });
        fields.push(Field::new(f.name(), to, f.is_nullable()));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Maps every row of `batches` to `T`, by column name.
pub fn from_batches<T: DeserializeOwned>(batches: &[RecordBatch]) -> Result<Vec<T>> {
    let mut out = vec![];
    let expected = struct_fields::<T>();
    for b in batches {
        if let Some(fields) = &expected {
            let missing: Vec<String> = fields
                .iter()
                .filter(|f| b.schema().index_of(f).is_err())
                .map(|f| format!("`{f}`: a field of the struct, missing from the result"))
                .collect();
            if !missing.is_empty() {
                return Err(Error::SchemaMismatch {
                    table: std::any::type_name::<T>().into(),
                    problems: missing,
                });
            }
        }
        let b = plain(b)?;
        let rows: Vec<T> = serde_arrow::from_record_batch(&b).map_err(|e| Error::Value {
            column: "*".into(),
            message: format!("mapping rows to {}: {e}", std::any::type_name::<T>()),
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Builds a batch from rows: `RecordBatch::try_from_rows(&customers)`.
pub trait FromRows: Sized {
    /// A batch whose schema is traced from the rows (chrono dates and timestamps become Date32
    /// and Timestamp; decimals, UUIDs and JSON travel as text).
    fn try_from_rows<T: Serialize>(rows: &[T]) -> Result<Self>;
    /// A batch in the given schema.
    fn try_from_rows_with_schema<T: Serialize>(rows: &[T], schema: &SchemaRef) -> Result<Self>;
}

impl FromRows for RecordBatch {
    fn try_from_rows<T: Serialize>(rows: &[T]) -> Result<Self> {
        let fields = Vec::<FieldRef>::from_samples(
            rows,
            TracingOptions::default()
                .guess_dates(true)
                .allow_null_fields(true),
        )
        .map_err(|e| Error::Value {
            column: "*".into(),
            message: format!("tracing the schema of {}: {e}", std::any::type_name::<T>()),
        })?;
        // serde_arrow guesses milliseconds (Date64 for naive date-times): microseconds keep
        // every digit chrono writes down to the databases' precision.
        let fields: Vec<FieldRef> = fields.iter().map(micros).collect();
        to_batch(rows, &fields)
    }

    fn try_from_rows_with_schema<T: Serialize>(rows: &[T], schema: &SchemaRef) -> Result<Self> {
        to_batch(rows, schema.fields())
    }
}

fn micros(f: &FieldRef) -> FieldRef {
    use arrow::datatypes::TimeUnit;
    let dt = match f.data_type() {
        DataType::Date64 => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::List(inner) => DataType::List(micros(inner)),
        DataType::LargeList(inner) => DataType::LargeList(micros(inner)),
        other => other.clone(),
    };
    Arc::new(f.as_ref().clone().with_data_type(dt))
}

fn to_batch<T: Serialize>(rows: &[T], fields: &[FieldRef]) -> Result<RecordBatch> {
    serde_arrow::to_record_batch(fields, &rows).map_err(|e| Error::Value {
        column: "*".into(),
        message: format!("building a batch from {}: {e}", std::any::type_name::<T>()),
    })
}

/// Typed collection on DataFusion DataFrames.
#[async_trait]
pub trait DataFrameExt {
    /// Runs the query and maps every row to `T`.
    async fn collect_as<T: DeserializeOwned + Send>(self) -> Result<Vec<T>>;
    /// Runs the query and streams rows as `T`.
    async fn stream_as<T: DeserializeOwned + Send + 'static>(
        self,
    ) -> Result<BoxStream<'static, Result<T>>>;
}

#[async_trait]
impl DataFrameExt for DataFrame {
    async fn collect_as<T: DeserializeOwned + Send>(self) -> Result<Vec<T>> {
        let batches = self.collect().await.map_err(Error::from_datafusion)?;
        from_batches(&batches)
    }

    async fn stream_as<T: DeserializeOwned + Send + 'static>(
        self,
    ) -> Result<BoxStream<'static, Result<T>>> {
        let stream = self
            .execute_stream()
            .await
            .map_err(Error::from_datafusion)?;
        Ok(stream
            .map(|b| match b {
                Ok(b) => from_batches::<T>(&[b]),
                Err(e) => Err(Error::from_datafusion(e)),
            })
            .flat_map(|r: Result<Vec<T>>| {
                futures::stream::iter(match r {
                    Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(e) => vec![Err(e)],
                })
            })
            .boxed())
    }
}

/// `#[serde(with = "vibe_piper::schema::typed::json_text")]` on a `serde_json::Value` field:
/// the value travels as its JSON text (what a JSON column reads as).
pub mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the value as JSON text.
    pub fn serialize<S: Serializer>(v: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Parses JSON text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array};

    #[test]
    fn widening_rules() {
        assert!(widens(&DataType::Int32, &DataType::Int64));
        assert!(!widens(&DataType::Int64, &DataType::Int32));
        assert!(widens(
            &DataType::Decimal128(10, 2),
            &DataType::Decimal128(12, 2)
        ));
        assert!(!widens(
            &DataType::Decimal128(10, 2),
            &DataType::Decimal128(12, 3)
        ));
        assert!(!widens(&DataType::Int64, &DataType::Float64));
    }

    #[test]
    fn more_widening_and_rows() {
        use arrow::datatypes::TimeUnit;
        let ts = |u| DataType::Timestamp(u, None);
        assert!(widens(
            &ts(TimeUnit::Millisecond),
            &ts(TimeUnit::Microsecond)
        ));
        assert!(!widens(
            &ts(TimeUnit::Nanosecond),
            &ts(TimeUnit::Microsecond)
        ));
        assert!(widens(&DataType::UInt8, &DataType::Int16));
        assert!(widens(&DataType::Utf8View, &DataType::LargeUtf8));
        assert!(widens(&DataType::Date32, &DataType::Date64));
        assert!(widens(
            &DataType::Decimal256(40, 2),
            &DataType::Decimal256(50, 2)
        ));
        let l = |t| DataType::List(Arc::new(Field::new_list_field(t, true)));
        assert!(widens(&l(DataType::Int32), &l(DataType::Int64)));

        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct R {
            a: i32,
            #[serde(with = "super::json_text")]
            j: serde_json::Value,
        }
        let rows = vec![
            R {
                a: 1,
                j: serde_json::json!({"k": [1]}),
            },
            R {
                a: 2,
                j: serde_json::json!(null),
            },
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("j", DataType::Utf8View, false),
        ]));
        let b = RecordBatch::try_from_rows_with_schema(&rows, &schema).unwrap();
        assert_eq!(b.schema(), schema);
        // View columns are read through their plain forms.
        let back: Vec<R> = from_batches(&[b]).unwrap();
        assert_eq!(back, rows);
        // A NULL into a non-Option field is an error, not a default.
        let nulls = RecordBatch::try_from_iter(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![None::<i32>])) as ArrayRef,
            ),
            (
                "j",
                Arc::new(arrow::array::StringArray::from(vec!["1"])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert!(matches!(
            from_batches::<R>(&[nulls]),
            Err(Error::Value { .. })
        ));
        assert!(RecordBatch::try_from_rows::<R>(&[]).is_err());
        let bad = RecordBatch::try_from_iter(vec![(
            "a",
            Arc::new(Int32Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let e = ExpectedSchema::new(Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::Int32,
            false,
        )])))
        .conform(&bad)
        .unwrap();
        assert_eq!(e.num_rows(), 1);
        let unexpected = ExpectedSchema::new(Arc::new(Schema::empty())).validate(&bad);
        assert!(matches!(unexpected, Err(Error::SchemaMismatch { .. })));
    }

    #[test]
    fn expected_schema_lists_every_problem() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            ("b", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ])
        .unwrap();
        let want = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int32, true),
            Field::new("c", DataType::Utf8, true),
        ]));
        let e = ExpectedSchema::new(want.clone())
            .validate(&batch)
            .unwrap_err();
        let Error::SchemaMismatch { problems, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("allow_widening"), "{problems:?}");
        assert!(problems[1].contains("expected Int32, found Int64"));
        assert!(problems[2].contains("missing"));
        let ok = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, false),
        ]));
        let out = ExpectedSchema::new(ok.clone())
            .allow_widening(true)
            .conform(&batch)
            .unwrap();
        assert_eq!(out.schema(), ok);
    }
}
