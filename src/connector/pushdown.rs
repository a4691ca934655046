//! Deciding which filters a source evaluates exactly as DataFusion would.
//!
//! A filter is `Exact` only when the source is certain to give DataFusion's answer, `Inexact`
//! when the source returns a superset (DataFusion re-checks), and `Unsupported` otherwise. Each
//! backend states its differences from DataFusion in [`PushdownRules`]; the walk over the
//! expression is shared.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown as P};

use super::TableMeta;

/// What a backend evaluates like DataFusion.
#[derive(Debug, Clone)]
pub struct PushdownRules {
    /// Text equality and `IN` on text columns (`Exact` where equality is byte equality).
    pub text_equality: P,
    /// `LIKE` without escapes on text columns (`Inexact` at best: collations).
    pub like: P,
    /// Comparisons of date and timestamp columns with literals.
    pub temporal: P,
    /// Whether float comparisons against ±0.0 may be pushed (PostgreSQL says -0 = 0;
    /// DataFusion orders -0 before 0).
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
    PaddedText,
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

/// A column operand (possibly under an integer widening cast) or a literal.
enum Operand<'a> {
    Column(Kind),
    Literal(&'a ScalarValue),
}

fn operand<'a>(meta: &TableMeta, e: &'a Expr) -> Option<Operand<'a>> {
    match e {
        Expr::Column(c) => {
            let spec = meta.columns.iter().find(|s| s.name() == c.name)?;
            let mut k = kind_of(spec.field.data_type());
            if k == Kind::Text
                && (spec.source_type.starts_with("character(")
                    || spec.source_type.starts_with("bpchar"))
            {
                k = Kind::PaddedText;
            }
            if spec.read == crate::schema::ReadAs::Text
                && k != Kind::Text
                && k != Kind::PaddedText
                && k != Kind::Decimal
            {
                // Read through a text form the source cannot compare natively (e.g. intervals).
                k = Kind::Other;
            }
            Some(Operand::Column(k))
        }
        Expr::Literal(v, _) => Some(Operand::Literal(v)),
        Expr::Cast(c) => match operand(meta, &c.expr)? {
            Operand::Column(Kind::Integer) if kind_of(c.field.data_type()) == Kind::Integer => {
                Some(Operand::Column(Kind::Integer))
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

fn literal_kind(v: &ScalarValue) -> Kind {
    kind_of(&v.data_type())
}

/// Support for `left op right` where op is a comparison.
fn comparison(meta: &TableMeta, rules: &PushdownRules, op: Operator, l: &Expr, r: &Expr) -> P {
    let (a, b) = match (operand(meta, l), operand(meta, r)) {
        (Some(a), Some(b)) => (a, b),
        _ => return P::Unsupported,
    };
    let (col_kind, other) = match (&a, &b) {
        (Operand::Column(k), o) | (o, Operand::Column(k)) => (*k, o),
        _ => return P::Unsupported,
    };
    let other_kind = match other {
        Operand::Column(k) => *k,
        Operand::Literal(v) => {
            if v.is_null() {
                // `x = NULL` is NULL in both engines.
                return P::Exact;
            }
            if !rules.float_zero && col_kind == Kind::Float && is_zero(v) {
                return P::Unsupported;
            }
            literal_kind(v)
        }
    };
    let equality = matches!(op, Operator::Eq | Operator::NotEq);
    match (col_kind, other_kind) {
        (Kind::Integer | Kind::Decimal, Kind::Integer | Kind::Decimal) => P::Exact,
        (Kind::Float, Kind::Float) | (Kind::Boolean, Kind::Boolean) => P::Exact,
        (Kind::Temporal, Kind::Temporal) => rules.temporal.clone(),
        (Kind::Text, Kind::Text) if op == Operator::Eq => rules.text_equality.clone(),
        (Kind::Text, Kind::Text) if equality => negated(rules.text_equality.clone()),
        // Blank-padded text: the source ignores trailing spaces, so `=` finds a superset.
        (Kind::PaddedText, Kind::Text) if op == Operator::Eq => {
            weakest(rules.text_equality.clone(), P::Inexact)
        }
        _ => P::Unsupported,
    }
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
            Some(Operand::Column(_)) => P::Exact,
            _ => P::Unsupported,
        },
        Expr::InList(list) => {
            let mut support = P::Exact;
            for item in &list.list {
                support = weakest(
                    support,
                    comparison(meta, rules, Operator::Eq, &list.expr, item),
                );
            }
            if list.list.is_empty() {
                support = P::Unsupported;
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
            let text_col = matches!(operand(meta, &like.expr), Some(Operand::Column(Kind::Text)));
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
