//! Deciding which filters a source evaluates exactly as DataFusion would.
//!
//! A filter is `Exact` only when the source is certain to give DataFusion's answer, `Inexact`
//! when the source returns a superset (DataFusion re-checks), and `Unsupported` otherwise. How
//! each column compares at the source is part of its [`ColumnSpec`] (set by the connector's type
//! map); what else a backend does differently is in [`PushdownRules`]. The walk is shared.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown as P};

use super::TableMeta;
use crate::schema::{ColumnSpec, SourceCompare};

/// What a backend evaluates differently from DataFusion.
#[derive(Debug, Clone)]
pub struct PushdownRules {
    /// `LIKE` without escapes on text columns (`Inexact` at best: collations).
    pub like: P,
    /// Comparisons of date and timestamp columns.
    pub temporal: P,
    /// Whether float comparisons may involve ±0.0 (PostgreSQL, SQLite and MySQL say -0 = 0;
    /// DataFusion orders -0 before 0): when false, comparisons against a zero literal and
    /// float-to-float column comparisons are not pushed.
    pub float_zero: bool,
}

fn rank(p: &P) -> u8 {
    match p {
        P::Unsupported => 0,
        P::Inexact => 1,
        P::Exact => 2,
    }
}

fn weakest(a: P, b: P) -> P {
    if rank(&a) <= rank(&b) {
        a
    } else {
        b
    }
}

/// Only an exact child keeps its meaning under negation (a superset negated is a subset).
fn negated(p: P) -> P {
    if matches!(p, P::Exact) {
        P::Exact
    } else {
        P::Unsupported
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Integer,
    Decimal,
    Float,
    Boolean,
    Text,
    Temporal,
    Other,
}

fn kind_of(dt: &DataType) -> Kind {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Kind::Integer,
        DataType::Decimal128(..) | DataType::Decimal256(..) => Kind::Decimal,
        DataType::Float32 | DataType::Float64 => Kind::Float,
        DataType::Boolean => Kind::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => Kind::Temporal,
        _ => Kind::Other,
    }
}

fn integer_rank(dt: &DataType) -> Option<(bool, u8)> {
    Some(match dt {
        DataType::Int8 => (true, 1),
        DataType::Int16 => (true, 2),
        DataType::Int32 => (true, 4),
        DataType::Int64 => (true, 8),
        DataType::UInt8 => (false, 1),
        DataType::UInt16 => (false, 2),
        DataType::UInt32 => (false, 4),
        DataType::UInt64 => (false, 8),
        _ => return None,
    })
}

/// Whether every value of `from` is exactly representable in `to`.
fn widens(from: &DataType, to: &DataType) -> bool {
    match (integer_rank(from), integer_rank(to)) {
        (Some((fs, fw)), Some((ts, tw))) => (fs == ts && tw >= fw) || (!fs && ts && tw > fw),
        _ => false,
    }
}

/// A column operand (possibly under a widening integer cast) or a literal.
enum Operand<'a> {
    Column(Kind, SourceCompare),
    Literal(&'a ScalarValue),
}

fn column<'m>(meta: &'m TableMeta, name: &str) -> Option<&'m ColumnSpec> {
    meta.columns.iter().find(|s| s.name() == name)
}

fn operand<'a>(meta: &TableMeta, e: &'a Expr) -> Option<Operand<'a>> {
    match e {
        Expr::Column(c) => {
            let spec = column(meta, &c.name)?;
            Some(Operand::Column(
                kind_of(spec.field.data_type()),
                spec.compare,
            ))
        }
        Expr::Literal(v, _) => Some(Operand::Literal(v)),
        Expr::Cast(c) => match (&*c.expr, operand(meta, &c.expr)?) {
            (Expr::Column(col), Operand::Column(Kind::Integer, cmp)) => {
                let spec = column(meta, &col.name)?;
                widens(spec.field.data_type(), c.field.data_type())
                    .then_some(Operand::Column(Kind::Integer, cmp))
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_zero(v: &ScalarValue) -> bool {
    match v {
        ScalarValue::Float32(Some(f)) => *f == 0.0,
        ScalarValue::Float64(Some(f)) => *f == 0.0,
        ScalarValue::Float16(Some(f)) => f.to_f32() == 0.0,
        _ => false,
    }
}

/// Support for `left op right` where op is a comparison.
fn comparison(meta: &TableMeta, rules: &PushdownRules, op: Operator, l: &Expr, r: &Expr) -> P {
    let (a, b) = match (operand(meta, l), operand(meta, r)) {
        (Some(a), Some(b)) => (a, b),
        _ => return P::Unsupported,
    };
    let ((kind, compare), other) = match (&a, &b) {
        (Operand::Column(k, c), o) | (o, Operand::Column(k, c)) => ((*k, *c), o),
        _ => return P::Unsupported,
    };
    let other_kind = match other {
        Operand::Column(k, c) => {
            // Two columns: both must compare exactly as here (collations may differ between them).
            if *c != SourceCompare::Same
                || compare != SourceCompare::Same
                || (!rules.float_zero && kind == Kind::Float)
            {
                return P::Unsupported;
            }
            *k
        }
        Operand::Literal(v) => {
            if !rules.float_zero && kind == Kind::Float && is_zero(v) {
                return P::Unsupported;
            }
            if v.is_null() {
                // `x = NULL` is NULL in both engines.
                return if compare == SourceCompare::Never {
                    P::Unsupported
                } else {
                    P::Exact
                };
            }
            kind_of(&v.data_type())
        }
    };
    let equal_kinds = match (kind, other_kind) {
        (Kind::Integer | Kind::Decimal, Kind::Integer | Kind::Decimal) => true,
        (a, b) => a == b && a != Kind::Other,
    };
    if !equal_kinds {
        return P::Unsupported;
    }
    let base = match kind {
        Kind::Temporal => rules.temporal.clone(),
        // Collation decides text order: ranges never go to the source.
        Kind::Text if !matches!(op, Operator::Eq | Operator::NotEq) => P::Unsupported,
        _ => P::Exact,
    };
    let by_column = match compare {
        SourceCompare::Same => P::Exact,
        SourceCompare::EqualitySuperset if op == Operator::Eq => P::Inexact,
        _ => P::Unsupported,
    };
    weakest(base, by_column)
}

/// Classifies one filter for a backend with the given rules.
pub fn classify(meta: &TableMeta, rules: &PushdownRules, e: &Expr) -> P {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => {
                weakest(classify(meta, rules, left), classify(meta, rules, right))
            }
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq => comparison(meta, rules, *op, left, right),
            _ => P::Unsupported,
        },
        Expr::Not(inner) => negated(classify(meta, rules, inner)),
        Expr::Literal(ScalarValue::Boolean(_), _) => P::Exact,
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => match operand(meta, inner) {
            // Where temporal comparisons are inexact (MySQL's zero dates, NULL here), so is IS NULL.
            Some(Operand::Column(k, c))
                if c != SourceCompare::Never
                    && (k != Kind::Temporal || rules.temporal == P::Exact) =>
            {
                P::Exact
            }
            _ => P::Unsupported,
        },
        Expr::InList(list) => {
            let mut support = if list.list.is_empty() {
                P::Unsupported
            } else {
                P::Exact
            };
            for item in &list.list {
                support = weakest(
                    support,
                    comparison(meta, rules, Operator::Eq, &list.expr, item),
                );
            }
            if list.negated {
                negated(support)
            } else {
                support
            }
        }
        Expr::Between(b) => {
            let s = weakest(
                comparison(meta, rules, Operator::GtEq, &b.expr, &b.low),
                comparison(meta, rules, Operator::LtEq, &b.expr, &b.high),
            );
            if b.negated {
                negated(s)
            } else {
                s
            }
        }
        Expr::Like(like) => {
            let plain_pattern = matches!(
                &*like.pattern,
                Expr::Literal(ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)), _)
                    if !p.contains('\\')
            );
            // Blank-padded columns keep their pad in the source's LIKE: rows would be lost.
            let padded = matches!(&*like.expr, Expr::Column(c)
                if column(meta, &c.name).is_some_and(|s| s.read == crate::schema::ReadAs::TrimPad));
            let text_col = !padded
                && matches!(
                    operand(meta, &like.expr),
                    Some(Operand::Column(
                        Kind::Text,
                        SourceCompare::Same | SourceCompare::EqualitySuperset
                    ))
                );
            if like.negated
                || like.case_insensitive
                || like.escape_char.is_some()
                || !plain_pattern
                || !text_col
            {
                P::Unsupported
            } else {
                rules.like.clone()
            }
        }
        _ => P::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    #[test]
    fn casts_push_only_when_widening() {
        assert!(widens(&DataType::Int32, &DataType::Int64));
        assert!(widens(&DataType::UInt32, &DataType::Int64));
        assert!(!widens(&DataType::Int64, &DataType::Int32));
        assert!(!widens(&DataType::Int32, &DataType::UInt64));
        assert!(!widens(&DataType::Float32, &DataType::Float64));
    }
}
