//! A fluent query builder for people who would rather not write SQL strings.
//!
//! SELECTs compile to DataFusion logical plans (through the DataFrame API), so the providers
//! push filters, projections and limits down exactly as they do for SQL text. INSERT, UPDATE
//! and DELETE compile to parameterized SQL in the target source's dialect ([`dml`]).
//!
//! ```no_run
//! # async fn demo(engine: vibe_piper::Engine) -> vibe_piper::Result<()> {
//! use datafusion::prelude::*;
//! use datafusion::functions_aggregate::expr_fn::{count, sum};
//! let q = engine.from("pg.public.customers").await
//!     .filter(col("active").eq(lit(true)))
//!     .join(engine.from("my.shop.orders").await, JoinType::Inner, ["id"], ["customer_id"])
//!     .group_by(["country"])
//!     .aggregate([count(lit(1)).alias("n"), sum(col("total")).alias("revenue")])
//!     .order_by([col("revenue").sort(false, true)])
//!     .limit(10);
//! println!("{}", q.to_sql()?);
//! let batches = q.collect().await?;
//! # Ok(()) }
//! ```
//!
//! A builder keeps the first error it meets and returns it from `logical_plan`, `to_sql`,
//! `collect` or `stream`: an unknown column, a comparison of incompatible types or a column
//! neither grouped nor aggregated fails there, naming the column and the table, before
//! anything is sent to a source.

pub mod dml;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{Column, DFSchema};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, JoinType, LogicalPlan, SortExpr};
use futures::StreamExt;
use serde::de::DeserializeOwned;

pub use dml::{DeleteBuilder, InsertBuilder, UpdateBuilder};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::schema::typed::{self, ExpectedSchema};

/// A SELECT under construction: a DataFusion DataFrame, or the first error met.
#[derive(Debug, Clone)]
pub struct QueryBuilder {
    df: std::result::Result<DataFrame, String>,
    error: Option<ErrorParts>,
    tables: Vec<String>,
    group_by: Option<Vec<Expr>>,
    expected: Option<ExpectedSchema>,
}

#[derive(Debug, Clone)]
struct ErrorParts {
    column: String,
    message: String,
}

impl Engine {
    /// Starts a query on a table (`source.schema.table`, `source.table`, or any table the
    /// session knows).
    pub async fn from(&self, table: &str) -> QueryBuilder {
        let df = self.context().table(table).await;
        QueryBuilder {
            error: df.as_ref().err().map(|e| ErrorParts {
                column: "*".into(),
                message: format!("unknown table: {e}"),
            }),
            df: df.map_err(|e| e.to_string()),
            tables: vec![table.to_string()],
            group_by: None,
            expected: None,
        }
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_temporal(t: &DataType) -> bool {
    t.is_temporal()
}

/// Whether two types can be compared without a surprise: the same family (numbers, text,
/// temporal, booleans, binary), a NULL, or a text literal against a date or timestamp.
fn comparable(l: &DataType, r: &DataType) -> bool {
    l == r
        || l.is_null()
        || r.is_null()
        || (is_numeric(l) && is_numeric(r))
        || (is_text(l) && is_text(r))
        || (is_temporal(l) && (is_temporal(r) || is_text(r)))
        || (is_temporal(r) && is_text(l))
        || (matches!(
            l,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        ) && matches!(
            r,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        ))
}

impl QueryBuilder {
    fn fail(mut self, column: impl Into<String>, message: impl Into<String>) -> Self {
        if self.error.is_none() {
            self.error = Some(ErrorParts {
                column: column.into(),
                message: message.into(),
            });
        }
        self
    }

    fn table_names(&self) -> String {
        self.tables.join(" ⋈ ")
    }

    fn error(&self) -> Option<Error> {
        self.error.as_ref().map(|e| Error::InvalidQuery {
            table: self.table_names(),
            column: e.column.clone(),
            message: e.message.clone(),
        })
    }

    /// Checks that every column `expr` names exists and that its comparisons compare like
    /// with like; on failure the builder keeps the error.
    fn check(self, expr: &Expr) -> Self {
        let Ok(df) = &self.df else { return self };
        let schema: &DFSchema = df.schema();
        for c in expr.column_refs() {
            if !column_exists(schema, c) {
                let valid: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                return self.fail(
                    c.name.clone(),
                    format!("no such column (columns: {})", valid.join(", ")),
                );
            }
        }
        let mut mismatch = None;
        let _ = expr.apply(|e| {
            if let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e {
                if crate::engine::is_comparison(op) {
                    if let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) {
                        if !comparable(&l, &r) {
                            let column = left
                                .column_refs()
                                .into_iter()
                                .chain(right.column_refs())
                                .next()
                                .map(|c| c.name.clone())
                                .unwrap_or_else(|| "*".into());
                            mismatch =
                                Some((column, format!("cannot compare {l} with {r} in `{e}`")));
                            return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
                        }
                    }
                }
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        });
        match mismatch {
            Some((c, m)) => self.fail(c, m),
            None => self,
        }
    }

    fn map_df(mut self, f: impl FnOnce(DataFrame) -> datafusion::error::Result<DataFrame>) -> Self {
        if self.error.is_some() {
            return self;
        }
        match self.df.clone() {
            Ok(df) => match f(df) {
                Ok(df) => {
                    self.df = Ok(df);
                    self
                }
                Err(e) => {
                    let message = Error::from_datafusion(e).to_string();
                    self.fail("*", message)
                }
            },
            Err(_) => self,
        }
    }

    /// Keeps the rows for which `predicate` is true.
    pub fn filter(self, predicate: Expr) -> Self {
        let this = self.check(&predicate);
        this.map_df(|df| df.filter(predicate))
    }

    /// Chooses the output columns.
    pub fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Self {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let mut this = self;
        for e in &exprs {
            this = this.check(e);
        }
        this.map_df(|df| df.select(exprs))
    }

    /// Joins with another query on equal key columns.
    pub fn join<'a>(
        self,
        right: QueryBuilder,
        join_type: JoinType,
        left_cols: impl IntoIterator<Item = &'a str>,
        right_cols: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut this = self;
        this.tables.extend(right.tables.clone());
        if let Some(e) = right.error {
            return this.fail(e.column, e.message);
        }
        let l: Vec<&str> = left_cols.into_iter().collect();
        let r: Vec<&str> = right_cols.into_iter().collect();
        let Ok(right_df) = right.df else {
            return this;
        };
        for c in &r {
            if !column_exists(right_df.schema(), &Column::from_name(*c)) {
                return this.fail(*c, "no such column on the right side of the join");
            }
        }
        if let Ok(df) = &this.df {
            for c in &l {
                if !column_exists(df.schema(), &Column::from_name(*c)) {
                    return this.fail(*c, "no such column on the left side of the join");
                }
            }
        }
        this.map_df(|df| df.join(right_df, join_type, &l, &r, None))
    }

    /// Groups by these columns; the next [`aggregate`](Self::aggregate) computes per group.
    pub fn group_by<S: AsRef<str>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        let exprs: Vec<Expr> = columns
            .into_iter()
            .map(|c| Expr::Column(Column::from_name(c.as_ref())))
            .collect();
        for e in &exprs {
            self = self.check(e);
        }
        self.group_by = Some(exprs);
        self
    }

    /// Computes aggregates (per group after [`group_by`](Self::group_by), else over all rows).
    /// Every expression must be an aggregate.
    pub fn aggregate(mut self, aggregates: impl IntoIterator<Item = Expr>) -> Self {
        let aggs: Vec<Expr> = aggregates.into_iter().collect();
        for a in &aggs {
            self = self.check(a);
            let mut inner = a;
            while let Expr::Alias(al) = inner {
                inner = al.expr.as_ref();
            }
            if !matches!(inner, Expr::AggregateFunction(_)) {
                let column = a
                    .column_refs()
                    .into_iter()
                    .next()
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| "*".into());
                return self.fail(
                    column,
                    format!("`{a}` is neither grouped nor aggregated: add it to group_by or wrap it in an aggregate"),
                );
            }
        }
        let groups = self.group_by.take().unwrap_or_default();
        self.map_df(|df| df.aggregate(groups, aggs))
    }

    /// Sorts (`col("x").sort(asc, nulls_first)`).
    pub fn order_by(mut self, sorts: impl IntoIterator<Item = SortExpr>) -> Self {
        let sorts: Vec<SortExpr> = sorts.into_iter().collect();
        for s in &sorts {
            self = self.check(&s.expr);
        }
        self.map_df(|df| df.sort(sorts))
    }

    /// Returns at most `n` rows.
    pub fn limit(self, n: usize) -> Self {
        self.map_df(|df| df.limit(0, Some(n)))
    }

    /// Skips `n` rows, then returns at most `fetch` (all with `None`).
    pub fn offset(self, n: usize, fetch: Option<usize>) -> Self {
        self.map_df(|df| df.limit(n, fetch))
    }

    /// Every result batch must match `schema` (names, types, nullability), widening safely
    /// where `widening` is on ([`ExpectedSchema`]).
    pub fn expect_schema(mut self, schema: SchemaRef, widening: bool) -> Self {
        self.expected = Some(ExpectedSchema::new(schema).allow_widening(widening));
        self
    }

    /// The DataFrame, or the builder's error.
    pub fn into_dataframe(self) -> Result<DataFrame> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        if self.group_by.is_some() {
            return Err(Error::InvalidQuery {
                table: self.table_names(),
                column: "*".into(),
                message: "group_by without aggregate: add .aggregate([...])".into(),
            });
        }
        self.df.map_err(|m| Error::InvalidQuery {
            table: self.tables.join(" ⋈ "),
            column: "*".into(),
            message: m,
        })
    }

    /// The logical plan, analyzed (types checked and coerced) as DataFusion would run it,
    /// before optimization: the same plan SQL text gives.
    pub fn logical_plan(&self) -> Result<LogicalPlan> {
        let df = self.clone().into_dataframe()?;
        let (state, plan) = df.into_parts();
        state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})
            .map_err(|e| Error::InvalidQuery {
                table: self.table_names(),
                column: "*".into(),
                message: Error::from_datafusion(e).to_string(),
            })
    }

    /// Readable SQL for logging and debugging (DataFusion's dialect).
    pub fn to_sql(&self) -> Result<String> {
        let df = self.clone().into_dataframe()?;
        let plan = df.logical_plan().clone();
        Ok(datafusion::sql::unparser::plan_to_sql(&plan)
            .map_err(Error::from_datafusion)?
            .to_string())
    }

    /// Runs the query and collects every batch.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        let mut stream = self.stream().await?;
        let mut out = vec![];
        while let Some(b) = stream.next().await {
            out.push(b?);
        }
        Ok(out)
    }

    /// Runs the query and streams its batches (checked against the expected schema, if any).
    pub async fn stream(self) -> Result<futures::stream::BoxStream<'static, Result<RecordBatch>>> {
        let expected = self.expected.clone();
        let df = self.into_dataframe()?;
        let stream: SendableRecordBatchStream =
            df.execute_stream().await.map_err(Error::from_datafusion)?;
        Ok(stream
            .map(move |b| {
                let b = b.map_err(Error::from_datafusion)?;
                match &expected {
                    Some(e) => e.conform(&b),
                    None => Ok(b),
                }
            })
            .boxed())
    }

    /// Runs the query and maps every row to `T` (field by column name; see
    /// [`typed`](crate::schema::typed)).
    pub async fn collect_as<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        let batches = self.collect().await?;
        typed::from_batches(&batches)
    }
}

fn column_exists(schema: &DFSchema, c: &Column) -> bool {
    match &c.relation {
        Some(_) => schema.has_column(c),
        None => schema.has_column_with_unqualified_name(&c.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparability() {
        assert!(comparable(&DataType::Int32, &DataType::Float64));
        assert!(comparable(&DataType::Date32, &DataType::Utf8));
        assert!(comparable(&DataType::Utf8, &DataType::Utf8View));
        assert!(comparable(&DataType::Null, &DataType::Boolean));
        assert!(!comparable(&DataType::Boolean, &DataType::Utf8));
        assert!(!comparable(&DataType::Int64, &DataType::Utf8));
        assert!(!comparable(&DataType::Binary, &DataType::Int8));
    }
}
