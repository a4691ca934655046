//! PostgreSQL type → Arrow type map (see docs/postgres.md for the table).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};

use crate::schema::{ColumnSpec, ReadAs, SourceCompare};

/// Unconstrained `numeric` columns read as this decimal; a value that does not fit is an error.
pub const UNCONSTRAINED_NUMERIC: DataType = DataType::Decimal128(38, 10);

/// One row of the catalog query.
pub struct PgColumn {
    pub name: String,
    pub typname: String,
    pub typtype: String,
    pub typmod: i32,
    pub not_null: bool,
    pub elem: String,
    pub formatted: String,
}

/// The Arrow type of a scalar PostgreSQL type that ConnectorX decodes natively.
fn native_scalar(typname: &str) -> Option<DataType> {
    Some(match typname {
        "int2" => DataType::Int16,
        "int4" => DataType::Int32,
        "int8" => DataType::Int64,
        "float4" => DataType::Float32,
        "float8" => DataType::Float64,
        "bool" => DataType::Boolean,
        "text" | "varchar" | "name" | "citext" => DataType::Utf8,
        "uuid" | "json" | "jsonb" => DataType::Utf8,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "time" => DataType::Time64(TimeUnit::Microsecond),
        "bytea" => DataType::Binary,
        _ => return None,
    })
}

/// Arrays ConnectorX decodes natively (element type).
fn native_array_elem(elem: &str) -> Option<DataType> {
    Some(match elem {
        "int2" => DataType::Int16,
        "int4" => DataType::Int32,
        "int8" => DataType::Int64,
        "float4" => DataType::Float32,
        "float8" => DataType::Float64,
        "bool" => DataType::Boolean,
        "text" | "varchar" => DataType::Utf8,
        _ => return None,
    })
}

/// Arrays read through their text form and parsed element by element (element type).
fn text_array_elem(elem: &str, typmod: i32) -> Option<DataType> {
    Some(match elem {
        "numeric" => numeric_type(typmod).filter(|d| !matches!(d, DataType::Utf8))?,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "interval" => DataType::Interval(IntervalUnit::MonthDayNano),
        "uuid" | "json" | "jsonb" | "name" | "citext" => DataType::Utf8,
        _ => return None,
    })
}

/// numeric(p,s) from its type modifier.
fn numeric_type(typmod: i32) -> Option<DataType> {
    if typmod < 4 {
        return Some(UNCONSTRAINED_NUMERIC);
    }
    let m = typmod - 4;
    let precision = ((m >> 16) & 0xffff) as u8;
    let scale_raw = m & 0x7ff;
    // Scales are 11-bit signed since PostgreSQL 15.
    let scale = if scale_raw > 1023 {
        scale_raw - 2048
    } else {
        scale_raw
    };
    if scale < 0 || scale as u8 > precision {
        return None;
    }
    match precision {
        1..=38 => Some(DataType::Decimal128(precision, scale as i8)),
        39..=76 => Some(DataType::Decimal256(precision, scale as i8)),
        _ => None,
    }
}

/// The Arrow type of a `numeric` with this type modifier in a query result (text when it is
/// too wide for Decimal256).
pub fn numeric_arrow_type(typmod: i32) -> DataType {
    numeric_type(typmod).unwrap_or(DataType::Utf8)
}

/// Maps one column; `exact_decimals`: the reader decodes every `numeric` into a Decimal128
/// exactly (the binary COPY reader), so no Decimal128 column needs its text form.
pub fn column_spec_for(c: &PgColumn, exact_decimals: bool) -> ColumnSpec {
    let nullable = !c.not_null;
    let name = c.name.as_str();
    let source = c.formatted.clone();
    let native = |dt: DataType| ColumnSpec::native(name, dt, nullable, source.clone());
    if c.typtype == "e" {
        // Enums compare by label position and reject unknown labels: never pushed.
        return native(DataType::Utf8).with_compare(SourceCompare::Never);
    }
    if c.typtype != "b" {
        // Domains, composites, ranges, multiranges, pseudo-types: their text form.
        return ColumnSpec::text(name, DataType::Utf8, nullable, source);
    }
    match c.typname.as_str() {
        "numeric" => match numeric_type(c.typmod) {
            // ConnectorX decodes through rust_decimal rescaled to scale 10: exact for s <= 10 with
            // at most 18 integer digits (it errors, never rounds, beyond). Others: text form.
            Some(DataType::Decimal128(p, s))
                if exact_decimals || (s <= 10 && (p as i32 - s as i32) <= 18) =>
            {
                native(DataType::Decimal128(p, s))
            }
            Some(dt) => {
                ColumnSpec::text(name, dt, nullable, source).with_compare(SourceCompare::Same)
            }
            None => ColumnSpec::text(name, DataType::Utf8, nullable, source),
        },
        // Blank-padded: the pad is dropped, as PostgreSQL's casts to text do; its comparisons
        // ignore the pad, so equality at the source finds a superset.
        "bpchar" => native(DataType::Utf8)
            .with_read(ReadAs::TrimPad)
            .with_compare(SourceCompare::EqualitySuperset),
        "citext" => native(DataType::Utf8).with_compare(SourceCompare::EqualitySuperset),
        // A `real` compared with a literal is compared in double precision at the source.
        "float4" => native(DataType::Float32).with_compare(SourceCompare::Never),
        // Text forms whose source comparison differs (case of uuids, normalised jsonb, no `=`
        // for json).
        "uuid" | "json" | "jsonb" => native(DataType::Utf8).with_compare(SourceCompare::Never),
        // inet's output form, without the `/32` that a cast to text adds to a host address.
        "inet" => native(DataType::Utf8)
            .with_read(ReadAs::Function("abbrev"))
            .with_compare(SourceCompare::Never),
        "interval" => ColumnSpec::text(
            name,
            DataType::Interval(IntervalUnit::MonthDayNano),
            nullable,
            source,
        ),
        t => {
            if let Some(dt) = native_scalar(t) {
                return native(dt);
            }
            if !c.elem.is_empty() {
                if let Some(elem) = native_array_elem(&c.elem) {
                    let dt = DataType::List(Arc::new(Field::new_list_field(elem, true)));
                    return native(dt).with_compare(SourceCompare::Never);
                }
                if let Some(elem) = text_array_elem(&c.elem, c.typmod) {
                    let dt = DataType::List(Arc::new(Field::new_list_field(elem, true)));
                    return ColumnSpec::text(name, dt, nullable, source);
                }
            }
            ColumnSpec::text(name, DataType::Utf8, nullable, source)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column_spec(c: &PgColumn) -> ColumnSpec {
        column_spec_for(c, false)
    }

    fn col(typname: &str, typmod: i32) -> PgColumn {
        PgColumn {
            name: "c".into(),
            typname: typname.into(),
            typtype: "b".into(),
            typmod,
            not_null: false,
            elem: String::new(),
            formatted: typname.into(),
        }
    }

    #[test]
    fn numeric_modifiers() {
        // numeric(12,2): typmod = (12 << 16 | 2) + 4
        let spec = column_spec(&col("numeric", (12 << 16 | 2) + 4));
        assert_eq!(spec.field.data_type(), &DataType::Decimal128(12, 2));
        assert_eq!(
            column_spec(&col("numeric", -1)).field.data_type(),
            &UNCONSTRAINED_NUMERIC
        );
        assert_eq!(
            column_spec(&col("numeric", (50 << 16 | 5) + 4))
                .field
                .data_type(),
            &DataType::Decimal256(50, 5)
        );
        assert_eq!(
            column_spec(&col("numeric", (200 << 16 | 5) + 4))
                .field
                .data_type(),
            &DataType::Utf8
        );
    }

    #[test]
    fn unknown_types_read_as_text() {
        let spec = column_spec(&col("macaddr", -1));
        assert_eq!(spec.field.data_type(), &DataType::Utf8);
        assert_eq!(spec.read, crate::schema::ReadAs::Text);
    }
}
