//! Float literals that meet a decimal keep the digits they were written with.
//!
//! SQL text parses `99999.99` as a decimal (`parse_float_as_decimal`), but a float literal still
//! reaches a plan through the query builder (`lit(99999.99)`), the DataFrame API or an explicit
//! `CAST(.. AS DOUBLE)`. Type coercion then casts it to the decimal it is compared with, and
//! the cast sees the binary value (`99999.98999999999...`), so `amount = 99999.99` finds nothing.
//! Every engine users compare against reads such a literal as the number written; this rule,
//! run after type coercion, turns `CAST(<float literal> AS DECIMAL(p,s))` into the exact decimal
//! of the literal's shortest round-trip form when that form has at most `s` fraction digits
//! (otherwise the cast stays as it was: the float has no exact decimal of that scale).
//!
//! The other way round, a float *column* compared with a decimal literal (`score > 10.5` on a
//! DOUBLE) is compared in floating point, as PostgreSQL, MySQL and DuckDB do: DataFusion's
//! coercion would cast the column to `Decimal(30,15)`, where `0.1` stored as a double is
//! `0.100000000000000005551` and equals no decimal literal.

use std::sync::Arc;

use arrow::datatypes::{i256, DataType};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::DFSchema;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::{Between, InList};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator, TryCast,
};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule (see the module documentation).
#[derive(Debug, Default)]
pub struct ExactFloatLiterals;

impl AnalyzerRule for ExactFloatLiterals {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let schema = merge_schema(&plan.inputs());
            plan.map_expressions(|e| {
                e.transform_up(|e| {
                    let e = rewrite(e);
                    if e.transformed {
                        return Ok(e);
                    }
                    Ok(float_comparison(e.data, &schema))
                })
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "exact_float_literals"
    }
}

fn rewrite(e: Expr) -> Transformed<Expr> {
    let (inner, target) = match &e {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            (expr.as_ref(), field.data_type())
        }
        _ => return Transformed::no(e),
    };
    // A constant cast to a float first (`CAST(CAST(99999.99 AS DOUBLE) AS DECIMAL(30,15))`).
    let folded;
    let inner = match inner {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if matches!(field.data_type(), DataType::Float64 | DataType::Float32) =>
        {
            match expr.as_ref() {
                Expr::Literal(v, _) => match v.cast_to(field.data_type()) {
                    Ok(v) => {
                        folded = Expr::Literal(v, None);
                        &folded
                    }
                    Err(_) => return Transformed::no(e),
                },
                _ => return Transformed::no(e),
            }
        }
        other => other,
    };
    let f = match inner {
        &Expr::Literal(ScalarValue::Float64(Some(f)), _) => f,
        // An f32 literal's shortest form is its own, not the f64's.
        Expr::Literal(ScalarValue::Float32(Some(f)), _) => match f.to_string().parse() {
            Ok(f) => f,
            Err(_) => return Transformed::no(e),
        },
        _ => return Transformed::no(e),
    };
    match exact_decimal(f, target) {
        Some(v) => Transformed::yes(Expr::Literal(v, None)),
        None => Transformed::no(e),
    }
}

/// `e` when it is `CAST(<float expression> AS DECIMAL)`: the float expression.
fn float_cast_to_decimal<'a>(e: &'a Expr, schema: &DFSchema) -> Option<&'a Expr> {
    let Expr::Cast(Cast { expr, field }) = e else {
        return None;
    };
    if !matches!(
        field.data_type(),
        DataType::Decimal128(..) | DataType::Decimal256(..)
    ) {
        return None;
    }
    match expr.get_type(schema).ok()? {
        DataType::Float64 | DataType::Float32 | DataType::Float16 => Some(expr.as_ref()),
        _ => None,
    }
}

/// `e` as a Float64 literal when it is a constant decimal or integer (possibly cast).
fn as_float_literal(e: &Expr) -> Option<Expr> {
    let v = match e {
        Expr::Literal(v, _) => v,
        Expr::Cast(Cast { expr, .. }) | Expr::TryCast(TryCast { expr, .. }) => {
            match expr.as_ref() {
                Expr::Literal(v, _) => v,
                _ => return None,
            }
        }
        _ => return None,
    };
    let dt = v.data_type();
    if !(dt.is_integer() || matches!(dt, DataType::Decimal128(..) | DataType::Decimal256(..))) {
        return None;
    }
    v.cast_to(&DataType::Float64)
        .ok()
        .map(|f| Expr::Literal(f, None))
}

/// The float side of a comparison as Float64.
fn as_float64(e: &Expr, schema: &DFSchema) -> Expr {
    match e.get_type(schema) {
        Ok(DataType::Float64) => e.clone(),
        _ => Expr::Cast(Cast::new(Box::new(e.clone()), DataType::Float64)),
    }
}

/// Comparisons of a float expression, cast to a decimal by type coercion, with constant
/// decimals: compared as Float64 instead.
fn float_comparison(e: Expr, schema: &DFSchema) -> Transformed<Expr> {
    match &e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            let pair = match (
                float_cast_to_decimal(left, schema),
                float_cast_to_decimal(right, schema),
            ) {
                (Some(f), None) => {
                    as_float_literal(right).map(|c| (as_float64(f, schema), c, false))
                }
                (None, Some(f)) => as_float_literal(left).map(|c| (as_float64(f, schema), c, true)),
                _ => None,
            };
            match pair {
                Some((f, c, swapped)) => {
                    let (l, r) = if swapped { (c, f) } else { (f, c) };
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                        Box::new(l),
                        *op,
                        Box::new(r),
                    )))
                }
                None => Transformed::no(e),
            }
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let Some(f) = float_cast_to_decimal(expr, schema) else {
                return Transformed::no(e);
            };
            let Some(list) = list
                .iter()
                .map(as_float_literal)
                .collect::<Option<Vec<_>>>()
            else {
                return Transformed::no(e);
            };
            Transformed::yes(Expr::InList(InList::new(
                Box::new(as_float64(f, schema)),
                list,
                *negated,
            )))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let (Some(f), Some(lo), Some(hi)) = (
                float_cast_to_decimal(expr, schema),
                as_float_literal(low),
                as_float_literal(high),
            ) else {
                return Transformed::no(e);
            };
            Transformed::yes(Expr::Between(Between::new(
                Box::new(as_float64(f, schema)),
                *negated,
                Box::new(lo),
                Box::new(hi),
            )))
        }
        _ => Transformed::no(e),
    }
}

/// The decimal of `target` type whose digits are the float's shortest round-trip form, when
/// that form fits exactly.
pub(crate) fn exact_decimal(f: f64, target: &DataType) -> Option<ScalarValue> {
    if !f.is_finite() {
        return None;
    }
    let (precision, scale) = match target {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => (*p, *s),
        _ => return None,
    };
    // Rust prints the shortest text that reads back as the same float, in plain notation.
    let text = format!("{f}");
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.as_str()),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let frac = frac.trim_end_matches('0');
    if scale < 0 || frac.len() > scale as usize {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() + scale as usize > precision as usize {
        return None;
    }
    let mut digits = String::with_capacity(int.len() + scale as usize + 1);
    if neg {
        digits.push('-');
    }
    digits.push_str(int);
    digits.push_str(frac);
    digits.extend(std::iter::repeat_n('0', scale as usize - frac.len()));
    if digits.is_empty() || digits == "-" {
        digits = "0".into();
    }
    match target {
        DataType::Decimal128(..) => digits
            .parse::<i128>()
            .ok()
            .map(|v| ScalarValue::Decimal128(Some(v), precision, scale)),
        _ => i256::from_string(&digits).map(|v| ScalarValue::Decimal256(Some(v), precision, scale)),
    }
}

/// Whether `op` compares its operands (`=`, `<>`, `<`, `<=`, `>`, `>=`, `IS [NOT] DISTINCT FROM`).
pub(crate) fn is_comparison(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

/// The rule as the session wants it.
pub(crate) fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(ExactFloatLiterals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_digits_become_the_decimal() {
        let d = |f, p, s| exact_decimal(f, &DataType::Decimal128(p, s));
        assert_eq!(
            d(99999.99, 30, 15),
            Some(ScalarValue::Decimal128(
                Some(99_999_990_000_000_000_000),
                30,
                15
            ))
        );
        assert_eq!(
            d(-1234567890.12, 14, 2),
            Some(ScalarValue::Decimal128(Some(-123_456_789_012), 14, 2))
        );
        assert_eq!(d(0.0, 5, 2), Some(ScalarValue::Decimal128(Some(0), 5, 2)));
        assert_eq!(d(1e20, 38, 0).unwrap().to_string(), "100000000000000000000");
        // More digits than the scale, or than the precision: no exact decimal.
        assert_eq!(d(0.125, 5, 2), None);
        assert_eq!(d(1e10, 5, 2), None);
        assert_eq!(d(f64::NAN, 5, 2), None);
        assert_eq!(exact_decimal(1.5, &DataType::Float64), None);
        assert_eq!(
            exact_decimal(1.5, &DataType::Decimal256(50, 3)),
            Some(ScalarValue::Decimal256(Some(i256::from_i128(1500)), 50, 3))
        );
    }

    #[test]
    fn casts_of_float_literals_are_rewritten() {
        use datafusion::logical_expr::{cast, lit};
        let e = rewrite(cast(lit(99999.99f64), DataType::Decimal128(12, 2)));
        assert!(e.transformed);
        assert_eq!(
            e.data,
            Expr::Literal(ScalarValue::Decimal128(Some(9_999_999), 12, 2), None)
        );
        let e = rewrite(cast(lit(0.1f32), DataType::Decimal128(12, 2)));
        assert_eq!(
            e.data,
            Expr::Literal(ScalarValue::Decimal128(Some(10), 12, 2), None)
        );
        // Other casts stay.
        assert!(!rewrite(cast(lit(1i64), DataType::Decimal128(12, 2))).transformed);
        assert!(!rewrite(cast(lit(1.5f64), DataType::Utf8)).transformed);
    }
}
