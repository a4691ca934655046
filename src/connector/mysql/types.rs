//! MySQL / MariaDB type → Arrow type map (see docs/mysql.md for the table).

use arrow::datatypes::{DataType, TimeUnit};

use crate::schema::{ColumnSpec, ReadAs, SourceCompare};

/// What a zero date (`0000-00-00`) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroDates {
    /// NULL (the default).
    Null,
    /// A clear error naming the column.
    Error,
}

/// One row of the catalog query.
pub struct MyColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub nullable: bool,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    pub collation: String,
    /// Filled by the server when an INSERT leaves it out.
    pub has_default: bool,
}

/// Whether a MySQL data type is an integer type.
pub fn is_integer(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

/// Whether equality under this collation is byte equality: a binary collation that does not pad
/// (MariaDB's `*_nopad_bin`, MySQL 8's `utf8mb4_0900_bin`). MariaDB's plain `_bin` collations
/// still ignore trailing spaces.
pub fn collation_is_exact(collation: &str) -> bool {
    collation.ends_with("_bin")
        && (collation.contains("_nopad_") || collation.starts_with("utf8mb4_0900_"))
}

/// Maps one column.
pub fn column_spec(c: &MyColumn, tinyint1_as_bool: bool, zero_dates: ZeroDates) -> ColumnSpec {
    let name = c.name.as_str();
    let nullable = c.nullable;
    let source = c.column_type.clone();
    let unsigned = c.column_type.contains("unsigned");
    let native = |dt: DataType| ColumnSpec::native(name, dt, nullable, source.clone());
    // A zero date reads as NULL even in a NOT NULL column.
    let temporal_nullable = nullable || zero_dates == ZeroDates::Null;
    // Zero dates as NULL: decoded natively, the source replacing zero dates by NULL first.
    let temporal_read = match zero_dates {
        ZeroDates::Null => ReadAs::NativeZeroDateNull,
        ZeroDates::Error => ReadAs::TextNoZeroDates,
    };
    match c.data_type.as_str() {
        "tinyint" if tinyint1_as_bool && c.column_type.starts_with("tinyint(1)") => {
            // tinyint(1) holds -128..127: `b = true` at the source means `b = 1`, here any non-zero.
            native(DataType::Boolean).with_compare(SourceCompare::Never)
        }
        "tinyint" => native(if unsigned {
            DataType::UInt8
        } else {
            DataType::Int8
        }),
        "smallint" => native(if unsigned {
            DataType::UInt16
        } else {
            DataType::Int16
        }),
        "mediumint" | "int" | "integer" => native(if unsigned {
            DataType::UInt32
        } else {
            DataType::Int32
        }),
        "bigint" => native(if unsigned {
            DataType::UInt64
        } else {
            DataType::Int64
        }),
        "decimal" | "numeric" => {
            let p = c.precision.unwrap_or(10).clamp(1, 76) as u8;
            let s = c.scale.unwrap_or(0).min(p as u64) as i8;
            if s <= 10 && (p as i32 - s as i32) <= 18 {
                // ConnectorX decodes through rust_decimal at scale 10: exact here.
                native(DataType::Decimal128(p, s))
            } else if p <= 38 {
                ColumnSpec::text(name, DataType::Decimal128(p, s), nullable, source)
                    .with_compare(SourceCompare::Same)
            } else {
                ColumnSpec::text(name, DataType::Decimal256(p, s), nullable, source)
                    .with_compare(SourceCompare::Same)
            }
        }
        // A FLOAT compared with a literal is compared in double precision at the source.
        "float" => native(DataType::Float32).with_compare(SourceCompare::Never),
        "double" | "real" => native(DataType::Float64),
        "date" => ColumnSpec::text(name, DataType::Date32, temporal_nullable, source)
            .with_read(temporal_read)
            .with_compare(SourceCompare::Same),
        "datetime" => ColumnSpec::text(
            name,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            temporal_nullable,
            source,
        )
        .with_read(temporal_read)
        .with_compare(SourceCompare::Same),
        // Read in a session whose time zone is UTC.
        "timestamp" => ColumnSpec::text(
            name,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            temporal_nullable,
            source,
        )
        .with_read(temporal_read)
        .with_compare(SourceCompare::Same),
        // -838:59:59 .. 838:59:59: a duration, not a time of day.
        "time" => ColumnSpec::text(
            name,
            DataType::Duration(TimeUnit::Microsecond),
            nullable,
            source,
        ),
        // The source reads a literal compared with a YEAR as a year (`y = 5` means 2005).
        "year" => native(DataType::Int16).with_compare(SourceCompare::Never),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            let compare = if collation_is_exact(&c.collation) {
                SourceCompare::Same
            } else {
                SourceCompare::EqualitySuperset
            };
            native(DataType::Utf8).with_compare(compare)
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
            native(DataType::Binary)
        }
        // Spatial values as WKB (the server's own form puts an SRID in front); no cast to text
        // exists for them.
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => native(DataType::Binary)
            .with_read(ReadAs::Function("ST_AsBinary"))
            .with_compare(SourceCompare::Never),
        // Enums and sets order by position; JSON compares as JSON.
        "enum" | "set" | "json" => native(DataType::Utf8).with_compare(SourceCompare::Never),
        _ => ColumnSpec::text(name, DataType::Utf8, nullable, source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> MyColumn {
        MyColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            precision: Some(65),
            scale: Some(30),
            collation: "utf8mb4_general_ci".into(),
            has_default: false,
        }
    }

    #[test]
    fn maps_types() {
        let spec = column_spec(&col("decimal", "decimal(65,30)"), false, ZeroDates::Null);
        assert_eq!(spec.field.data_type(), &DataType::Decimal256(65, 30));
        let spec = column_spec(&col("tinyint", "tinyint(1)"), true, ZeroDates::Null);
        assert_eq!(spec.field.data_type(), &DataType::Boolean);
        let spec = column_spec(&col("tinyint", "tinyint(1)"), false, ZeroDates::Null);
        assert_eq!(spec.field.data_type(), &DataType::Int8);
        let spec = column_spec(
            &col("bigint", "bigint(20) unsigned"),
            false,
            ZeroDates::Null,
        );
        assert_eq!(spec.field.data_type(), &DataType::UInt64);
        let spec = column_spec(&col("date", "date"), false, ZeroDates::Error);
        assert_eq!(spec.read, ReadAs::TextNoZeroDates);
        let spec = column_spec(&col("date", "date"), false, ZeroDates::Null);
        assert_eq!(spec.read, ReadAs::NativeZeroDateNull);
        let spec = column_spec(&col("geometry", "geometry"), false, ZeroDates::Null);
        assert_eq!(
            (spec.field.data_type(), spec.read),
            (&DataType::Binary, ReadAs::Function("ST_AsBinary"))
        );
        let spec = column_spec(&col("inet6", "inet6"), false, ZeroDates::Null);
        assert_eq!(
            (spec.field.data_type(), spec.read),
            (&DataType::Utf8, ReadAs::Text)
        );
    }

    #[test]
    fn collations() {
        assert!(collation_is_exact("utf8mb4_nopad_bin"));
        assert!(collation_is_exact("utf8mb4_0900_bin"));
        assert!(!collation_is_exact("utf8mb4_bin"));
        assert!(!collation_is_exact("utf8mb4_general_ci"));
    }
}
