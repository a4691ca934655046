//! MySQL / MariaDB types and Arrow types (see docs/mysql.md for the table). Each function here
//! answers one question; they are kept together so that none drifts from the others:
//!
//! | function | question |
//! |---|---|
//! | [`arrow_type`] | a MySQL type, by name → its Arrow type: **the** type map, read by the two below |
//! | [`column_spec`] | a catalog column (`information_schema.COLUMNS`) → its Arrow field and how scans read it |
//! | [`column_type`] | a result column's definition (protocol) → its Arrow type (the connector's results) |
//! | [`wire_kind`] | a result column's wire type → how the binary protocol encodes its values (no Arrow type) |
//! | [`mysql_type_for`] | an Arrow type → the MySQL type of a column created for it (DDL: the map inverted) |
//! | [`decimal_i128`] | decimal text → the unscaled integer of a Decimal128, exactly |

use arrow::datatypes::{DataType, TimeUnit};
use mysql_common::constants::{ColumnFlags, ColumnType};

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

/// The precision (1 to 76) and scale (at most the precision) of a decimal type.
fn decimal_size(precision: i64, scale: u64) -> (u8, i8) {
    let p = precision.clamp(1, 76) as u8;
    (p, scale.min(p as u64) as i8)
}

/// The Arrow type of a MySQL type: the one MySQL → Arrow type map. `data_type` is the type's
/// name as `information_schema.COLUMNS.DATA_TYPE` spells it (lower case); `precision` and
/// `scale` matter for decimals only. A type it does not name (MariaDB's `inet6`, `uuid`, ...)
/// is its text.
pub(crate) fn arrow_type(data_type: &str, unsigned: bool, precision: u8, scale: i8) -> DataType {
    let int = |signed: DataType, unsigned_type: DataType| {
        if unsigned {
            unsigned_type
        } else {
            signed
        }
    };
    match data_type {
        "tinyint" => int(DataType::Int8, DataType::UInt8),
        "smallint" => int(DataType::Int16, DataType::UInt16),
        "mediumint" | "int" | "integer" => int(DataType::Int32, DataType::UInt32),
        "bigint" => int(DataType::Int64, DataType::UInt64),
        "decimal" | "numeric" if precision <= 38 => DataType::Decimal128(precision, scale),
        "decimal" | "numeric" => DataType::Decimal256(precision, scale),
        "float" => DataType::Float32,
        "double" | "real" => DataType::Float64,
        "date" => DataType::Date32,
        "datetime" => DataType::Timestamp(TimeUnit::Microsecond, None),
        // Read in a session whose time zone is UTC.
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        // -838:59:59 .. 838:59:59: a duration, not a time of day.
        "time" => DataType::Duration(TimeUnit::Microsecond),
        "year" => DataType::Int16,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
            DataType::Binary
        }
        // Spatial values as WKB.
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => DataType::Binary,
        // Text types, enum, set, json, and types the map does not name.
        _ => DataType::Utf8,
    }
}

/// Maps one catalog column: its Arrow type from [`arrow_type`], and how scans read and compare
/// it.
pub fn column_spec(c: &MyColumn, tinyint1_as_bool: bool, zero_dates: ZeroDates) -> ColumnSpec {
    let name = c.name.as_str();
    let nullable = c.nullable;
    let source = c.column_type.clone();
    let (p, s) = decimal_size(
        c.precision.unwrap_or(10).min(76) as i64,
        c.scale.unwrap_or(0),
    );
    let data_type = arrow_type(&c.data_type, c.column_type.contains("unsigned"), p, s);
    let native = ColumnSpec::native(name, data_type.clone(), nullable, source.clone());
    let text = |nullable: bool| ColumnSpec::text(name, data_type.clone(), nullable, source.clone());
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
            ColumnSpec::native(name, DataType::Boolean, nullable, source.clone())
                .with_compare(SourceCompare::Never)
        }
        // ConnectorX decodes through rust_decimal at scale 10: exact up to there.
        "decimal" | "numeric" if s <= 10 && (p as i32 - s as i32) <= 18 => native,
        "decimal" | "numeric" => text(nullable).with_compare(SourceCompare::Same),
        // A FLOAT compared with a literal is compared in double precision at the source.
        "float" => native.with_compare(SourceCompare::Never),
        "date" | "datetime" | "timestamp" => text(temporal_nullable)
            .with_read(temporal_read)
            .with_compare(SourceCompare::Same),
        "time" => text(nullable),
        // The source reads a literal compared with a YEAR as a year (`y = 5` means 2005).
        "year" => native.with_compare(SourceCompare::Never),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            let compare = if collation_is_exact(&c.collation) {
                SourceCompare::Same
            } else {
                SourceCompare::EqualitySuperset
            };
            native.with_compare(compare)
        }
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "double" | "real"
        | "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
            native
        }
        // Spatial values as WKB (the server's own form puts an SRID in front); no cast to text
        // exists for them.
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => native
            .with_read(ReadAs::Function("ST_AsBinary"))
            .with_compare(SourceCompare::Never),
        // Enums and sets order by position; JSON compares as JSON.
        "enum" | "set" | "json" => native.with_compare(SourceCompare::Never),
        _ => text(nullable),
    }
}

/// The Arrow type of a result column, from the protocol's column definition: its wire type
/// named as the catalog would, then [`arrow_type`].
pub(crate) fn column_type(c: &mysql_async::Column) -> DataType {
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.character_set() == 63;
    let name = match c.column_type() {
        ColumnType::MYSQL_TYPE_TINY => "tinyint",
        ColumnType::MYSQL_TYPE_SHORT => "smallint",
        ColumnType::MYSQL_TYPE_YEAR => "year",
        ColumnType::MYSQL_TYPE_INT24 => "mediumint",
        ColumnType::MYSQL_TYPE_LONG => "int",
        ColumnType::MYSQL_TYPE_LONGLONG => "bigint",
        ColumnType::MYSQL_TYPE_FLOAT => "float",
        ColumnType::MYSQL_TYPE_DOUBLE => "double",
        ColumnType::MYSQL_TYPE_NEWDECIMAL | ColumnType::MYSQL_TYPE_DECIMAL => "decimal",
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => "date",
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => "datetime",
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => "timestamp",
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => "time",
        ColumnType::MYSQL_TYPE_BIT => "bit",
        ColumnType::MYSQL_TYPE_GEOMETRY => "geometry",
        // MySQL 8 sends JSON in the binary character set.
        ColumnType::MYSQL_TYPE_JSON => "json",
        ColumnType::MYSQL_TYPE_ENUM => "enum",
        ColumnType::MYSQL_TYPE_SET => "set",
        _ if binary => "blob",
        _ => "text",
    };
    // The display length of a decimal counts its sign and point.
    let scale = c.decimals();
    let (p, s) = decimal_size(
        c.column_length() as i64 - (scale > 0) as i64 - (!unsigned) as i64,
        scale as u64,
    );
    arrow_type(name, unsigned, p, s)
}

/// How a value of one column arrives (the binary protocol's encoding of its wire type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireKind {
    /// Little-endian integer of this many bytes.
    Int(usize, bool),
    F32,
    F64,
    /// DATE, DATETIME, TIMESTAMP: a length byte, then the fields present.
    DateTime,
    /// TIME: a length byte, then sign, days and the fields present.
    Time,
    /// A length-encoded byte string (decimals, text, blobs, enum, set, json, bit).
    Bytes,
    /// Always NULL.
    Null,
}

/// How the binary protocol encodes the values of a wire type (what the native reader decodes;
/// the Arrow type comes from the catalog, [`column_spec`]).
pub(crate) fn wire_kind(ty: ColumnType, flags: ColumnFlags) -> WireKind {
    use ColumnType::*;
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    match ty {
        MYSQL_TYPE_TINY => WireKind::Int(1, unsigned),
        MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => WireKind::Int(2, unsigned),
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => WireKind::Int(4, unsigned),
        MYSQL_TYPE_LONGLONG => WireKind::Int(8, unsigned),
        MYSQL_TYPE_FLOAT => WireKind::F32,
        MYSQL_TYPE_DOUBLE => WireKind::F64,
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => WireKind::DateTime,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => WireKind::Time,
        MYSQL_TYPE_NULL => WireKind::Null,
        _ => WireKind::Bytes,
    }
}

/// The MySQL type a column created from an Arrow type gets (the read mapping inverted).
pub fn mysql_type_for(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 => "tinyint unsigned".into(),
        DataType::UInt16 => "smallint unsigned".into(),
        DataType::UInt32 => "int unsigned".into(),
        DataType::UInt64 => "bigint unsigned".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            "longtext CHARACTER SET utf8mb4".into()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "longblob".into(),
        DataType::FixedSizeBinary(n) if *n <= 255 => format!("binary({n})"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s)
            if *p <= 65 && *s >= 0 && *s <= 30 =>
        {
            format!("decimal({p},{s})")
        }
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(TimeUnit::Second, None) => "datetime".into(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "datetime(3)".into(),
        DataType::Timestamp(_, None) => "datetime(6)".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp(6) NULL".into(),
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => "time(6)".into(),
        _ => return None,
    })
}

/// Decimal text (`-123.45`) as the unscaled integer of Decimal128(p, s), exactly.
pub(crate) fn decimal_i128(text: &[u8], p: u8, s: i8) -> std::result::Result<i128, String> {
    let shown = || String::from_utf8_lossy(text).into_owned();
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut v: i128 = 0;
    let mut frac: i32 = -1;
    let mut any = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                any = true;
                if frac >= 0 {
                    if frac >= s as i32 {
                        if c != b'0' {
                            return Err(format!(
                                "value {} has more than {s} fractional digits; reading it as Decimal({p},{s}) would round it",
                                shown()
                            ));
                        }
                        continue;
                    }
                    frac += 1;
                }
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add((c - b'0') as i128))
                    .ok_or_else(|| format!("{} does not fit Decimal({p},{s})", shown()))?;
            }
            b'.' if frac < 0 => frac = 0,
            _ => return Err(format!("`{}` is not a decimal", shown())),
        }
    }
    if !any {
        return Err(format!("`{}` is not a decimal", shown()));
    }
    let frac = frac.max(0);
    for _ in frac..s as i32 {
        v = v
            .checked_mul(10)
            .ok_or_else(|| format!("{} does not fit Decimal({p},{s})", shown()))?;
    }
    if p < 39 && v >= 10i128.pow(p as u32) {
        return Err(format!("{} does not fit Decimal({p},{s})", shown()));
    }
    Ok(if negative { -v } else { v })
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

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(decimal_i128(b"123.45", 15, 2).unwrap(), 12_345);
        assert_eq!(decimal_i128(b"-0.50", 15, 2).unwrap(), -50);
        assert_eq!(decimal_i128(b"7", 15, 2).unwrap(), 700);
        assert_eq!(decimal_i128(b"1.5", 15, 2).unwrap(), 150);
        assert_eq!(decimal_i128(b"2.500", 15, 2).unwrap(), 250);
        assert!(decimal_i128(b"2.501", 15, 2)
            .unwrap_err()
            .contains("would round"));
        assert!(decimal_i128(b"1000", 4, 2)
            .unwrap_err()
            .contains("does not fit"));
        assert!(decimal_i128(b"1x", 4, 2).is_err());
        assert!(decimal_i128(b"", 4, 2).is_err());
    }

    #[test]
    fn result_columns_map_as_catalog_columns() {
        use mysql_async::Column;
        let col = |t: ColumnType, flags: ColumnFlags, charset: u16, len: u32, decimals: u8| {
            column_type(
                &Column::new(t)
                    .with_flags(flags)
                    .with_character_set(charset)
                    .with_column_length(len)
                    .with_decimals(decimals),
            )
        };
        let (none, unsigned) = (ColumnFlags::empty(), ColumnFlags::UNSIGNED_FLAG);
        use ColumnType::*;
        assert_eq!(col(MYSQL_TYPE_TINY, unsigned, 63, 3, 0), DataType::UInt8);
        assert_eq!(col(MYSQL_TYPE_YEAR, unsigned, 63, 4, 0), DataType::Int16);
        assert_eq!(col(MYSQL_TYPE_INT24, none, 63, 9, 0), DataType::Int32);
        // decimal(12,2): 12 digits, a point and a sign.
        assert_eq!(
            col(MYSQL_TYPE_NEWDECIMAL, none, 63, 14, 2),
            DataType::Decimal128(12, 2)
        );
        assert_eq!(
            col(MYSQL_TYPE_NEWDECIMAL, unsigned, 63, 13, 2),
            DataType::Decimal128(12, 2)
        );
        assert_eq!(
            col(MYSQL_TYPE_NEWDECIMAL, none, 63, 67, 30),
            DataType::Decimal256(65, 30)
        );
        assert_eq!(
            col(MYSQL_TYPE_TIMESTAMP2, none, 63, 26, 6),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(col(MYSQL_TYPE_JSON, none, 63, 0, 0), DataType::Utf8);
        assert_eq!(col(MYSQL_TYPE_BIT, unsigned, 63, 8, 0), DataType::Binary);
        assert_eq!(
            col(MYSQL_TYPE_VAR_STRING, none, 63, 10, 0),
            DataType::Binary
        );
        assert_eq!(col(MYSQL_TYPE_VAR_STRING, none, 45, 80, 0), DataType::Utf8);
        assert_eq!(col(MYSQL_TYPE_BLOB, none, 45, 80, 0), DataType::Utf8);
    }
}
