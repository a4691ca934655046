//! Writes through SQL: `INSERT INTO` a source table loads through the source's bulk path (one
//! transaction); `UPDATE` and `DELETE` become one statement at the source, whose filters are
//! all evaluated there. A filter the source could not evaluate exactly as DataFusion would is
//! refused, never dropped. Literals travel as bound parameters.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result as DFResult, ScalarValue};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use datafusion::sql::unparser::Unparser;
use futures::StreamExt;

use crate::connector::value::{cell_fn, date_of, timestamp_of, Cell};
use crate::connector::{quote_char, BulkOptions, Connector, Source, TableMeta, TableName, Value};
use crate::error::{Error, Result};

/// Field metadata that marks a column an INSERT left out: the source fills it.
pub const SERVER_DEFAULT: &str = "vibe_piper.server_default";

/// The value of a column an INSERT leaves out, when the source has a default for it: NULLs
/// whose field carries [`SERVER_DEFAULT`], so the insert leaves the column to the source.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ServerDefault {
    data_type: DataType,
    signature: Signature,
}

impl ServerDefault {
    /// The marker for a column of `data_type`, as the expression DataFusion fills in.
    pub fn expr(data_type: DataType) -> Expr {
        let udf = ScalarUDF::new_from_impl(ServerDefault {
            data_type,
            signature: Signature::exact(vec![], Volatility::Volatile),
        });
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), vec![]))
    }
}

impl ScalarUDFImpl for ServerDefault {
    fn name(&self) -> &str {
        "server_default"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(self.data_type.clone())
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> DFResult<FieldRef> {
        let meta =
            std::collections::HashMap::from([(SERVER_DEFAULT.to_string(), "true".to_string())]);
        Ok(Arc::new(
            Field::new(self.name(), self.data_type.clone(), true).with_metadata(meta),
        ))
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from(
            &self.data_type,
        )?))
    }
}

/// Appends the rows it is given to a source table through the connector's bulk path.
pub struct InsertSink {
    connector: Arc<dyn Connector>,
    table: TableName,
    schema: SchemaRef,
    /// Columns left to the source's defaults: not sent.
    skip: Vec<usize>,
}

impl std::fmt::Debug for InsertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InsertSink({})", self.table)
    }
}

impl DisplayAs for InsertSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let how = self.connector.bulk_method();
        write!(f, "RemoteInsert: table={} via {how}", self.table)?;
        if !self.skip.is_empty() {
            let names: Vec<&str> = self
                .skip
                .iter()
                .map(|i| self.schema.field(*i).name().as_str())
                .collect();
            write!(f, ", server defaults for {}", names.join(", "))?;
        }
        Ok(())
    }
}

#[async_trait]
impl DataSink for InsertSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        context: &Arc<TaskContext>,
    ) -> DFResult<u64> {
        // Rows count towards the session's progress as the load takes them.
        let data = match context
            .session_config()
            .get_extension::<crate::progress::Progress>()
        {
            Some(progress) => {
                let schema = data.schema();
                let counted = futures::StreamExt::inspect(data, move |b| {
                    if let Ok(b) = b {
                        progress.add_rows(b.num_rows() as u64);
                    }
                });
                Box::pin(
                    datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                        schema, counted,
                    ),
                ) as SendableRecordBatchStream
            }
            None => data,
        };
        let data = if self.skip.is_empty() {
            data
        } else {
            let keep: Vec<usize> = (0..self.schema.fields().len())
                .filter(|i| !self.skip.contains(i))
                .collect();
            let schema = Arc::new(self.schema.project(&keep)?);
            let projected = data.map(move |b| Ok(b?.project(&keep)?));
            Box::pin(RecordBatchStreamAdapter::new(schema, projected)) as SendableRecordBatchStream
        };
        self.connector
            .bulk_insert(&self.table, data, &BulkOptions::default())
            .await
            .map_err(Error::into_datafusion)
    }
}

/// One UPDATE or DELETE statement, run when the plan executes.
pub struct StatementSink {
    connector: Arc<dyn Connector>,
    sql: String,
    params: Vec<Value>,
    schema: SchemaRef,
}

impl std::fmt::Debug for StatementSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StatementSink({})", self.sql)
    }
}

impl DisplayAs for StatementSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "RemoteStatement: sql={} params={}",
            self.sql,
            self.params.len()
        )
    }
}

#[async_trait]
impl DataSink for StatementSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        _data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DFResult<u64> {
        self.connector
            .execute(&self.sql, &self.params)
            .await
            .map_err(Error::into_datafusion)
    }
}

/// The plan of an `INSERT INTO` a source table.
pub fn insert_plan(
    source: &dyn Source,
    meta: &TableMeta,
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let connector = writable(source)?;
    // Columns the statement left out, filled by the source's defaults (see ServerDefault).
    let input_schema = input.schema();
    let skip: Vec<usize> = input_schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.metadata().contains_key(SERVER_DEFAULT))
        .map(|(i, _)| i)
        .collect();
    // Those columns hold NULLs here even where the table says NOT NULL.
    let fields: Vec<Field> = meta
        .arrow_schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = f.as_ref().clone();
            if skip.contains(&i) {
                f.with_nullable(true)
            } else {
                f
            }
        })
        .collect();
    let sink = InsertSink {
        connector,
        table: TableName::new(&meta.schema, &meta.table),
        schema: Arc::new(Schema::new(fields)),
        skip,
    };
    Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
}

fn writable(source: &dyn Source) -> Result<Arc<dyn Connector>> {
    source.connector().ok_or_else(|| {
        Error::Config(format!(
            "{} sources are read-only: INSERT, UPDATE and DELETE need a backend with a \
             connector",
            source.backend()
        ))
    })
}

/// Replaces literals by placeholders (`placeholder(n)` for the `n`-th, collecting their values)
/// and drops column qualifiers.
pub(crate) fn bind(
    expr: Expr,
    placeholder: &dyn Fn(usize) -> String,
    params: &mut Vec<Value>,
) -> Result<Expr> {
    let out = expr.transform(|e| {
        Ok(match e {
            Expr::Column(c) => Transformed::yes(Expr::Column(Column::new_unqualified(c.name))),
            Expr::Literal(v, _) if !v.is_null() => {
                let value = scalar_value(&v).map_err(Error::into_datafusion)?;
                params.push(value);
                let id = placeholder(params.len());
                Transformed::yes(Expr::Placeholder(Placeholder::new_with_field(id, None)))
            }
            other => Transformed::no(other),
        })
    });
    Ok(out.map_err(Error::from_datafusion)?.data)
}

/// A literal as a bound parameter value.
pub fn scalar_value(v: &ScalarValue) -> Result<Value> {
    let array: ArrayRef = v.to_array().map_err(Error::from_datafusion)?;
    let get = cell_fn("literal", &array)?;
    let unsupported = || Error::UnsupportedType {
        column: "literal".into(),
        data_type: v.data_type().to_string(),
        hint: "write the statement with the connector's execute".into(),
    };
    Ok(match get(0) {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) => Value::Int(i),
        Cell::UInt(u) => Value::UInt(u),
        Cell::Float(f) => Value::Float(f),
        Cell::Str(s) => Value::Text(s.into_owned()),
        Cell::Bytes(b) => Value::Bytes(b.to_vec()),
        Cell::Decimal(value, scale) => Value::Decimal { value, scale },
        Cell::Date(d) => Value::Date(date_of(d).ok_or_else(unsupported)?),
        Cell::Timestamp(us, false) => Value::Timestamp(timestamp_of(us).ok_or_else(unsupported)?),
        Cell::Timestamp(us, true) => {
            Value::TimestampUtc(timestamp_of(us).ok_or_else(unsupported)?.and_utc())
        }
        Cell::Time(us) => Value::Time(
            chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                (us / 1_000_000) as u32,
                ((us % 1_000_000) * 1000) as u32,
            )
            .ok_or_else(unsupported)?,
        ),
        _ => return Err(unsupported()),
    })
}

pub(crate) fn unparse(source: &dyn Source, expr: &Expr) -> Result<String> {
    Ok(Unparser::new(source.dialect())
        .expr_to_sql(expr)
        .map_err(Error::from_datafusion)?
        .to_string())
}

/// Whether an assignment is something the source computes as DataFusion would: literals,
/// columns, casts and integer-safe arithmetic of those.
fn assignment_is_safe(e: &Expr) -> bool {
    match e {
        Expr::Literal(..) | Expr::Column(_) => true,
        Expr::Cast(c) => assignment_is_safe(&c.expr),
        Expr::TryCast(_) => false,
        Expr::Negative(x) => assignment_is_safe(x),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply)
                && assignment_is_safe(left)
                && assignment_is_safe(right)
        }
        _ => false,
    }
}

fn where_clause(
    source: &dyn Source,
    meta: &TableMeta,
    filters: Vec<Expr>,
    params: &mut Vec<Value>,
) -> Result<String> {
    let mut parts = vec![];
    for f in filters {
        if source.filter_pushdown(meta, &f) != TableProviderFilterPushDown::Exact {
            return Err(Error::Config(format!(
                "the filter `{f}` cannot be evaluated by the {} source exactly as DataFusion \
                 would, so the statement is refused rather than run with a different filter: \
                 write it with the connector's execute",
                source.backend()
            )));
        }
        let bound = bind(meta.to_source_names(f)?, &|n| source.placeholder(n), params)?;
        parts.push(format!("({})", unparse(source, &bound)?));
    }
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    })
}

fn statement_plan(
    connector: Arc<dyn Connector>,
    sql: String,
    params: Vec<Value>,
) -> Arc<dyn ExecutionPlan> {
    let empty: SchemaRef = Arc::new(Schema::empty());
    let sink = StatementSink {
        connector,
        sql,
        params,
        schema: empty.clone(),
    };
    Arc::new(DataSinkExec::new(
        Arc::new(EmptyExec::new(empty)),
        Arc::new(sink),
        None,
    ))
}

/// The plan of a `DELETE` on a source table.
pub fn delete_plan(
    source: &dyn Source,
    meta: &TableMeta,
    filters: Vec<Expr>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let connector = writable(source)?;
    let mut params = vec![];
    let table = TableName::new(&meta.schema, &meta.table).quoted(quote_char(source));
    let sql = format!(
        "DELETE FROM {table}{}",
        where_clause(source, meta, filters, &mut params)?
    );
    Ok(statement_plan(connector, sql, params))
}

/// The plan of an `UPDATE` on a source table.
pub fn update_plan(
    source: &dyn Source,
    meta: &TableMeta,
    assignments: Vec<(String, Expr)>,
    filters: Vec<Expr>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let connector = writable(source)?;
    let mut params = vec![];
    let mut sets = vec![];
    for (column, expr) in assignments {
        if !meta.columns.iter().any(|c| c.name() == column) {
            return Err(Error::Config(format!(
                "UPDATE: `{column}` is not a column of {}.{}",
                meta.schema, meta.table
            )));
        }
        // Unchanged columns come as themselves.
        if matches!(&expr, Expr::Column(c) if c.name == column) {
            continue;
        }
        if !assignment_is_safe(&expr) {
            return Err(Error::Config(format!(
                "UPDATE: `{column} = {expr}` is not something the source is known to compute \
                 as DataFusion would; write it with the connector's execute"
            )));
        }
        let bound = bind(
            meta.to_source_names(expr)?,
            &|n| source.placeholder(n),
            &mut params,
        )?;
        sets.push(format!(
            "{} = {}",
            TableName {
                schema: None,
                table: meta.source_column(&column).to_string()
            }
            .quoted(quote_char(source)),
            unparse(source, &bound)?
        ));
    }
    if sets.is_empty() {
        return Err(Error::Config("UPDATE sets no column".into()));
    }
    let table = TableName::new(&meta.schema, &meta.table).quoted(quote_char(source));
    let sql = format!(
        "UPDATE {table} SET {}{}",
        sets.join(", "),
        where_clause(source, meta, filters, &mut params)?
    );
    Ok(statement_plan(connector, sql, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn literals_become_parameters() {
        let mut params = vec![];
        let e = bind(
            col("a")
                .eq(lit("x'; DROP TABLE t; --"))
                .and(col("b").gt(lit(5i64))),
            &|n| format!("${n}"),
            &mut params,
        )
        .unwrap();
        assert_eq!(e.to_string(), "a = $1 AND b > $2");
        assert_eq!(
            params,
            vec![Value::Text("x'; DROP TABLE t; --".into()), Value::Int(5)]
        );
        let mut params = vec![];
        let e = bind(col("a").eq(lit(1.5f64)), &|_| "?".into(), &mut params).unwrap();
        assert_eq!(e.to_string(), "a = ?");
        assert!(assignment_is_safe(&(col("a") + lit(1))));
        assert!(!assignment_is_safe(&(col("a") / lit(2))));
    }
}
