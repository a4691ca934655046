//! The SQL dialect pushed queries are written in: DataFusion's MySQL dialect, with timestamp
//! literals that keep their fractional seconds.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::datatypes::TimeUnit;
use chrono::DateTime;
use datafusion::common::Result;
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast;
use datafusion::sql::unparser::dialect::{
    CharacterLengthStyle, DateFieldExtractStyle, Dialect, IntervalStyle, MySqlDialect,
};
use datafusion::sql::unparser::Unparser;

/// MySQL / MariaDB as the unparser writes it.
///
/// `CAST('2024-03-02 10:00:00.123' AS DATETIME)` is whole seconds in MySQL (the default
/// fractional precision of `DATETIME` is 0), so a pushed comparison with a `DATETIME(3)` column
/// would miss rows: literals are cast to `DATETIME(6)`, the widest precision, which keeps every
/// digit an Arrow microsecond timestamp has. Instants are written in UTC, the time zone of every
/// session this crate opens.
pub struct MySqlSourceDialect(MySqlDialect);

impl Default for MySqlSourceDialect {
    fn default() -> Self {
        Self(MySqlDialect {})
    }
}

impl Dialect for MySqlSourceDialect {
    fn supports_qualify(&self) -> bool {
        self.0.supports_qualify()
    }

    fn identifier_quote_style(&self, ident: &str) -> Option<char> {
        self.0.identifier_quote_style(ident)
    }

    fn supports_nulls_first_in_sort(&self) -> bool {
        self.0.supports_nulls_first_in_sort()
    }

    fn interval_style(&self) -> IntervalStyle {
        self.0.interval_style()
    }

    fn utf8_cast_dtype(&self) -> ast::DataType {
        self.0.utf8_cast_dtype()
    }

    fn large_utf8_cast_dtype(&self) -> ast::DataType {
        self.0.large_utf8_cast_dtype()
    }

    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        self.0.date_field_extract_style()
    }

    fn character_length_style(&self) -> CharacterLengthStyle {
        self.0.character_length_style()
    }

    fn distinct_from_style(&self) -> datafusion::sql::unparser::dialect::DistinctFromStyle {
        self.0.distinct_from_style()
    }

    fn int64_cast_dtype(&self) -> ast::DataType {
        self.0.int64_cast_dtype()
    }

    fn int32_cast_dtype(&self) -> ast::DataType {
        self.0.int32_cast_dtype()
    }

    fn timestamp_cast_dtype(&self, _unit: &TimeUnit, _tz: &Option<Arc<str>>) -> ast::DataType {
        ast::DataType::Datetime(Some(6))
    }

    fn timestamp_with_tz_to_string(&self, dt: DateTime<Tz>, _unit: TimeUnit) -> String {
        dt.with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string()
    }

    fn requires_derived_table_alias(&self) -> bool {
        self.0.requires_derived_table_alias()
    }

    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        self.0
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }
}
