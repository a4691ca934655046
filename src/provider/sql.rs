//! Writing the remote query with DataFusion's unparser (an AST, never string splicing).

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::common::TableReference;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    cast, ident, lit, utils::conjunction, when, Expr, LogicalPlanBuilder,
};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::unparser::Unparser;

use crate::connector::{Source, TableMeta};
use crate::error::Result;
use crate::schema::{ColumnSpec, ReadAs};

/// Name of the constant column selected when a scan needs no columns (e.g. `count(*)`).
pub const ROW_MARKER: &str = "__vp_row";

/// The SQL sent to the source for one chunk of a scan: the projected `columns` (text-read ones
/// cast to text), `filters` and `chunk` ANDed, and `limit`.
pub fn remote_query(
    source: &dyn Source,
    meta: &TableMeta,
    columns: &[ColumnSpec],
    filters: &[Expr],
    chunk: Option<&Expr>,
    limit: Option<usize>,
) -> Result<String> {
    // The plan names columns as the source does (see `ColumnSpec::source_name`).
    let mut fields: Vec<_> = meta
        .columns
        .iter()
        .map(|c| match &c.source_name {
            Some(n) => Arc::new(c.field.as_ref().clone().with_name(n)),
            None => c.field.clone(),
        })
        .collect();
    for hidden in source.hidden_columns() {
        if !fields.iter().any(|f| f.name() == hidden.name()) {
            fields.push(hidden);
        }
    }
    let unparse_schema = Arc::new(Schema::new(fields));
    let table = TableReference::partial(meta.schema.as_str(), meta.table.as_str());
    let mut builder = LogicalPlanBuilder::scan(
        table,
        provider_as_source(Arc::new(EmptyTable::new(unparse_schema))),
        None,
    )?;
    let predicates: Vec<Expr> = filters
        .iter()
        .cloned()
        .chain(chunk.cloned())
        .map(|e| meta.to_source_names(e))
        .collect::<Result<_>>()?;
    if let Some(predicate) = conjunction(predicates) {
        builder = builder.filter(predicate)?;
    }
    let projection: Vec<Expr> = if columns.is_empty() {
        vec![lit(1i64).alias(ROW_MARKER)]
    } else {
        columns
            .iter()
            .map(select_expr)
            .collect::<Result<Vec<_>>>()?
    };
    builder = builder.project(projection)?;
    if let Some(n) = limit {
        builder = builder.limit(0, Some(n))?;
    }
    let plan = builder.build()?;
    let statement = Unparser::new(source.dialect()).plan_to_sql(&plan)?;
    Ok(statement.to_string())
}

/// A query that reads one column the way a scan reads it, returning no row: run after a scan
/// failed at the source, it tells whether that column's source-side expression (a cast to text,
/// [`ReadAs::Function`]) is what the server refused.
#[derive(Debug, Clone)]
pub struct ColumnProbe {
    /// The column.
    pub column: ColumnSpec,
    /// `SELECT <expr> FROM <table> LIMIT 0`, in the source's dialect.
    pub sql: String,
    /// The expression as the source reads it (`CAST("g" AS CHAR)`), for the error text.
    pub expr: String,
}

/// Probes for the `columns` read through an expression at the source (the others the server
/// names itself in its errors), at most `max`.
pub fn column_probes(
    source: &dyn Source,
    meta: &TableMeta,
    columns: &[ColumnSpec],
    max: usize,
) -> Result<Vec<ColumnProbe>> {
    columns
        .iter()
        .filter(|c| !matches!(c.read, ReadAs::Native | ReadAs::TrimPad))
        .take(max)
        .map(|c| {
            let sql = remote_query(source, meta, std::slice::from_ref(c), &[], None, Some(0))?;
            let expr = Unparser::new(source.dialect())
                .expr_to_sql(&select_expr(c)?.unalias())?
                .to_string();
            Ok(ColumnProbe {
                column: c.clone(),
                sql,
                expr,
            })
        })
        .collect()
}

/// What the scan selects for a column: the column, or its source-side expression.
fn select_expr(c: &ColumnSpec) -> Result<Expr> {
    Ok(match c.read {
        ReadAs::Native | ReadAs::TrimPad => ident(c.source_name()),
        ReadAs::NativeZeroDateNull => {
            let zero = if c.field.data_type() == &DataType::Date32 {
                "0000-00-00"
            } else {
                "0000-00-00 00:00:00"
            };
            let null = ScalarValue::try_from(c.field.data_type())?;
            when(ident(c.source_name()).eq(lit(zero)), lit(null))
                .otherwise(ident(c.source_name()))?
                .alias(c.name())
        }
        ReadAs::Text | ReadAs::TextNoZeroDates => {
            cast(ident(c.source_name()), DataType::Utf8).alias(c.name())
        }
        ReadAs::Function(name) => {
            let f = SourceFunction::new(name, c.field.data_type().clone());
            Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::new(ScalarUDF::new_from_impl(f)),
                vec![ident(c.source_name())],
            ))
            .alias(c.name())
        }
    })
}

/// A function that exists only at the source (see [`ReadAs::Function`]): it is written into the
/// remote query by the unparser and never evaluated here.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SourceFunction {
    name: &'static str,
    returns: DataType,
    signature: Signature,
}

impl SourceFunction {
    fn new(name: &'static str, returns: DataType) -> Self {
        Self {
            name,
            returns,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SourceFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::common::Result<ColumnarValue> {
        datafusion::common::exec_err!("{} is evaluated by the source only", self.name)
    }
}
