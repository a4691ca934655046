//! `source.query('...')`: a query in a source's own SQL as a table of the engine.
//!
//! DataFusion calls table functions while it plans, synchronously, and names them by the first
//! part of the name (`bq.query(...)` calls the function `bq`). So every SQL source is a table
//! function under its own name, and [`Engine::sql`](super::Engine::sql) first finds the calls in
//! the statement and has each source describe its query's result (BigQuery: a dry run), which
//! the function then hands to the planner.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result as DFResult, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{self, Visit, Visitor};

use crate::connector::Source;
use crate::error::Result;
use crate::provider::QueryTable;

/// The table function of one source.
#[derive(Debug)]
pub(crate) struct QueryFunction {
    name: String,
    source: Arc<dyn Source>,
    batch_size: usize,
    described: Mutex<HashMap<String, SchemaRef>>,
}

impl QueryFunction {
    pub(crate) fn new(name: &str, source: Arc<dyn Source>, batch_size: usize) -> Self {
        Self {
            name: name.to_string(),
            source,
            batch_size,
            described: Mutex::new(HashMap::new()),
        }
    }

    /// Has the source describe `sql` (once per text).
    pub(crate) async fn describe(&self, sql: &str) -> Result<()> {
        if self
            .described
            .lock()
            .map(|d| d.contains_key(sql))
            .unwrap_or(false)
        {
            return Ok(());
        }
        if let Some(schema) = self.source.describe_query(sql).await? {
            if let Ok(mut d) = self.described.lock() {
                d.insert(sql.to_string(), schema);
            }
        }
        Ok(())
    }
}

impl TableFunctionImpl for QueryFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DFResult<Arc<dyn TableProvider>> {
        let sql = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(s)), _)] => s.clone(),
            _ => {
                return plan_err!(
                    "{}.query takes one string, the query in the source's own SQL: {}.query('SELECT ...')",
                    self.name,
                    self.name
                )
            }
        };
        let schema = self
            .described
            .lock()
            .ok()
            .and_then(|d| d.get(&sql).cloned());
        let Some(schema) = schema else {
            return plan_err!(
                "the {} backend cannot run a query of its own SQL as a table ({}.query(...))",
                self.source.backend(),
                self.name
            );
        };
        Ok(Arc::new(
            QueryTable::new(self.source.clone(), sql, schema, self.batch_size)
                .map_err(|e| e.into_datafusion())?,
        ))
    }
}

/// The `(function, sql)` calls of table functions in `names` that `statement` makes.
pub(crate) fn calls(statement: &DFStatement, names: &[String]) -> Vec<(String, String)> {
    struct Calls<'a> {
        names: &'a [String],
        found: Vec<(String, String)>,
    }
    impl Visitor for Calls<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &ast::TableFactor) -> ControlFlow<()> {
            if let ast::TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = factor
            {
                let first = name
                    .0
                    .first()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.clone());
                if let (Some(first), [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))]) =
                    (first, args.args.as_slice())
                {
                    let text = match e {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::SingleQuotedString(s)
                            | ast::Value::DollarQuotedString(ast::DollarQuotedString {
                                value: s,
                                ..
                            }) => Some(s.clone()),
                            _ => None,
                        },
                        _ => None,
                    };
                    if let (Some(text), true) = (text, self.names.contains(&first)) {
                        self.found.push((first, text));
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut visitor = Calls {
        names,
        found: vec![],
    };
    let mut statement = statement;
    loop {
        match statement {
            DFStatement::Statement(s) => {
                let _ = s.visit(&mut visitor);
                break;
            }
            DFStatement::Explain(e) => statement = &e.statement,
            _ => break,
        }
    }
    visitor.found
}
