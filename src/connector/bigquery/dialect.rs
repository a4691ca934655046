//! GoogleSQL as the unparser writes it: DataFusion's `BigQueryDialect`, with two literals it
//! writes in a form BigQuery reads differently corrected.
//!
//! - A decimal literal would be a bare number, which GoogleSQL types `FLOAT64` (a `NUMERIC`
//!   column compared with it is compared as a double). [`exact_literals`] marks decimal
//!   literals, and the dialect writes them as `NUMERIC '99999.99'` (or `BIGNUMERIC '...'`).
//! - A timestamp literal without a zone would be `CAST('...' AS TIMESTAMP)`, an instant that a
//!   `DATETIME` column cannot be compared with; it is written `CAST('...' AS DATETIME)`.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    lit, ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast;
use datafusion::sql::unparser::dialect::{
    BigQueryDialect, DateFieldExtractStyle, Dialect, IntervalStyle,
};
use datafusion::sql::unparser::Unparser;

use crate::error::{Error, Result};

/// The marker function [`exact_literals`] wraps a decimal literal's text in.
const TYPED_LITERAL: &str = "__vp_bigquery_typed_literal";

/// GoogleSQL (see the module's documentation).
pub(crate) struct GoogleSql {
    inner: BigQueryDialect,
}

impl Default for GoogleSql {
    fn default() -> Self {
        Self {
            inner: BigQueryDialect::new(),
        }
    }
}

impl Dialect for GoogleSql {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }

    fn col_alias_overrides(&self, alias: &str) -> DFResult<Option<String>> {
        self.inner.col_alias_overrides(alias)
    }

    fn unnest_as_table_factor(&self) -> bool {
        self.inner.unnest_as_table_factor()
    }

    fn supports_column_alias_in_table_alias(&self) -> bool {
        self.inner.supports_column_alias_in_table_alias()
    }

    fn float64_ast_dtype(&self) -> ast::DataType {
        self.inner.float64_ast_dtype()
    }

    fn utf8_cast_dtype(&self) -> ast::DataType {
        self.inner.utf8_cast_dtype()
    }

    fn large_utf8_cast_dtype(&self) -> ast::DataType {
        self.inner.large_utf8_cast_dtype()
    }

    fn timestamp_cast_dtype(&self, unit: &TimeUnit, tz: &Option<Arc<str>>) -> ast::DataType {
        match tz {
            None => ast::DataType::Datetime(None),
            Some(_) => self.inner.timestamp_cast_dtype(unit, tz),
        }
    }

    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        self.inner.date_field_extract_style()
    }

    fn interval_style(&self) -> IntervalStyle {
        self.inner.interval_style()
    }

    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> DFResult<Option<ast::Expr>> {
        if func_name == TYPED_LITERAL {
            if let [Expr::Literal(ScalarValue::Utf8(Some(ty)), _), Expr::Literal(ScalarValue::Utf8(Some(text)), _)] =
                args
            {
                return Ok(Some(ast::Expr::TypedString(ast::TypedString {
                    data_type: ast::DataType::Custom(
                        ast::ObjectName::from(vec![ast::Ident::new(ty)]),
                        vec![],
                    ),
                    value: ast::Value::SingleQuotedString(text.clone()).into(),
                    uses_odbc_syntax: false,
                })));
            }
        }
        self.inner
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }
}

/// The marker function: evaluated only by the source (it never runs here).
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypedLiteral {
    returns: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for TypedLiteral {
    fn name(&self) -> &str {
        TYPED_LITERAL
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        datafusion::common::exec_err!("{TYPED_LITERAL} is written into GoogleSQL only")
    }
}

/// The GoogleSQL type that holds a decimal of this precision and scale exactly.
fn decimal_type(precision: u8, scale: i8) -> &'static str {
    if (0..=9).contains(&scale) && (precision as i16 - scale as i16) <= 29 {
        "NUMERIC"
    } else {
        "BIGNUMERIC"
    }
}

/// `expr` with its decimal literals marked to be written as typed GoogleSQL literals.
pub(crate) fn exact_literals(expr: Expr) -> Result<Expr> {
    expr.transform(|e| {
        let Expr::Literal(value, _) = &e else {
            return Ok(Transformed::no(e));
        };
        let (text, ty, dt) = match value {
            ScalarValue::Decimal128(Some(_), p, s) => {
                (value.to_string(), decimal_type(*p, *s), value.data_type())
            }
            ScalarValue::Decimal256(Some(_), p, s) => {
                (value.to_string(), decimal_type(*p, *s), value.data_type())
            }
            _ => return Ok(Transformed::no(e)),
        };
        let udf = ScalarUDF::new_from_impl(TypedLiteral {
            returns: dt,
            signature: Signature::any(2, Volatility::Immutable),
        });
        Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::new(udf), vec![lit(ty), lit(text)]),
        )))
    })
    .map(|t| t.data)
    .map_err(Error::from_datafusion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::col;

    fn sql(e: Expr) -> String {
        Unparser::new(&GoogleSql::default())
            .expr_to_sql(&exact_literals(e).unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn literals_are_written_as_googlesql_reads_them() {
        assert_eq!(
            sql(col("n").eq(lit(ScalarValue::Decimal128(Some(9_999_999), 12, 2)))),
            "(`n` = NUMERIC '99999.99')"
        );
        assert_eq!(
            sql(col("n").lt(lit(ScalarValue::Decimal128(Some(-5), 38, 20)))),
            "(`n` < BIGNUMERIC '-0.00000000000000000005')"
        );
        assert_eq!(
            sql(col("t").gt(lit(ScalarValue::TimestampMicrosecond(
                Some(1_709_212_455_123_000),
                None
            )))),
            "(`t` > CAST('2024-02-29 13:14:15.123' AS DATETIME))"
        );
        assert_eq!(sql(col("q").gt(lit(5i64))), "(`q` > 5)");
        assert_eq!(
            sql(col("d").gt(lit(ScalarValue::Date32(Some(19_000))))),
            "(`d` > CAST('2022-01-08' AS DATE))"
        );
    }
}
