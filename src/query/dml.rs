//! INSERT, UPDATE and DELETE builders: parameterized SQL in the target source's dialect, run
//! through the source's connector. Values are always bound parameters; an UPDATE or DELETE
//! without a filter needs an explicit [`all_rows`](UpdateBuilder::all_rows).
//!
//! ```no_run
//! # async fn demo(engine: vibe_piper::Engine) -> vibe_piper::Result<()> {
//! use datafusion::prelude::*;
//! engine.insert_into("pg.public.customers").await
//!     .columns(["id", "name"])
//!     .values(vibe_piper::params![1, "O'Brien"])
//!     .on_conflict(["id"]).do_update(["name"])
//!     .execute().await?;
//! engine.update("pg.public.customers").await
//!     .set("active", false)
//!     .filter(col("id").eq(lit(1)))
//!     .execute().await?;
//! engine.delete_from("pg.public.customers").await.all_rows().execute().await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::logical_expr::{lit, Expr, ExprSchemable};

use super::QueryBuilder;
use crate::connector::{Source, TableMeta, TableName, Value};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::provider::dml::{bind, unparse};
use crate::provider::ServerDefault;

/// The resolved target of a write.
#[derive(Clone)]
struct Target {
    source: Arc<dyn Source>,
    meta: TableMeta,
    /// `source.schema.table`, as the engine names it.
    engine_name: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.engine_name)
    }
}

async fn resolve(engine: &Engine, table: &str) -> std::result::Result<Target, Error> {
    let parts: Vec<&str> = table.split('.').collect();
    let (name, schema, t) = match parts.as_slice() {
        [n, s, t] => (*n, Some(*s), *t),
        [n, t] => (*n, None, *t),
        _ => {
            return Err(Error::InvalidQuery {
                table: table.into(),
                column: "*".into(),
                message: "name the table as source.schema.table or source.table".into(),
            })
        }
    };
    let source = engine
        .source(name)
        .await
        .ok_or_else(|| Error::InvalidQuery {
            table: table.into(),
            column: "*".into(),
            message: format!("no SQL source named `{name}` is registered"),
        })?;
    let schema = schema.unwrap_or(source.default_schema()).to_string();
    let meta = source
        .table_meta(&schema, t)
        .await?
        .ok_or_else(|| Error::UnknownTable(table.to_string()))?;
    Ok(Target {
        engine_name: format!("{name}.{schema}.{t}"),
        source,
        meta,
    })
}

impl Target {
    fn q(&self) -> char {
        crate::connector::quote_char(self.source.as_ref())
    }

    fn ident(&self, name: &str) -> String {
        TableName {
            schema: None,
            table: self.meta.source_column(name).to_string(),
        }
        .quoted(self.q())
    }

    fn table(&self) -> String {
        TableName::new(&self.meta.schema, &self.meta.table).quoted(self.q())
    }

    fn placeholder(&self, n: usize) -> String {
        self.source.placeholder(n)
    }

    fn check_column(&self, name: &str) -> Result<()> {
        if self.meta.columns.iter().any(|c| c.name() == name) {
            Ok(())
        } else {
            Err(self.invalid(name, "no such column"))
        }
    }

    fn invalid(&self, column: &str, message: impl Into<String>) -> Error {
        Error::InvalidQuery {
            table: self.engine_name.clone(),
            column: column.into(),
            message: message.into(),
        }
    }

    /// `WHERE ...` with literals bound after `params`.
    fn where_clause(&self, filters: &[Expr], params: &mut Vec<Value>) -> Result<String> {
        let mut parts = vec![];
        for f in filters {
            for c in f.column_refs() {
                self.check_column(&c.name)?;
            }
            let bound = bind(
                self.meta.to_source_names(f.clone())?,
                &|n| self.source.placeholder(n),
                params,
            )?;
            parts.push(format!("({})", unparse(self.source.as_ref(), &bound)?));
        }
        Ok(if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        })
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let connector = self.source.connector().ok_or_else(|| {
            self.invalid(
                "*",
                format!("{} sources are read-only", self.source.backend()),
            )
        })?;
        connector.execute(sql, params).await
    }
}

impl Engine {
    /// Starts an INSERT into a table of a registered PostgreSQL or MySQL source.
    pub async fn insert_into(&self, table: &str) -> InsertBuilder {
        InsertBuilder {
            target: resolve(self, table).await,
            columns: vec![],
            rows: vec![],
            conflict: None,
            update: None,
            query: None,
        }
    }

    /// Starts an UPDATE of a table of a registered PostgreSQL or MySQL source.
    pub async fn update(&self, table: &str) -> UpdateBuilder {
        UpdateBuilder {
            target: resolve(self, table).await,
            sets: vec![],
            filters: vec![],
            all_rows: false,
        }
    }

    /// Starts a DELETE from a table of a registered PostgreSQL or MySQL source.
    pub async fn delete_from(&self, table: &str) -> DeleteBuilder {
        DeleteBuilder {
            target: resolve(self, table).await,
            filters: vec![],
            all_rows: false,
        }
    }
}

/// An INSERT under construction.
#[derive(Debug)]
pub struct InsertBuilder {
    target: std::result::Result<Target, Error>,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    conflict: Option<Vec<String>>,
    /// `Some(vec![])`: do nothing on conflict; otherwise the columns to update.
    update: Option<Vec<String>>,
    query: Option<QueryBuilder>,
}

impl InsertBuilder {
    /// The columns the values are for, in order.
    pub fn columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// One row of values (call again for more rows).
    pub fn values(mut self, row: impl IntoIterator<Item = Value>) -> Self {
        self.rows.push(row.into_iter().collect());
        self
    }

    /// Inserts the result of a query instead of values (through the engine's bulk path;
    /// columns are matched by name, left-out columns get the source's defaults).
    pub fn from_query(mut self, query: QueryBuilder) -> Self {
        self.query = Some(query);
        self
    }

    /// Upsert: what to do when these (unique) columns collide with an existing row.
    pub fn on_conflict<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.conflict = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// On conflict, overwrite these columns with the new values.
    pub fn do_update<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.update = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// On conflict, keep the existing row.
    pub fn do_nothing(mut self) -> Self {
        self.update = Some(vec![]);
        self
    }

    /// The SQL and its parameters, without running anything.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>)> {
        let t = self.target.as_ref().map_err(clone_error)?;
        if self.query.is_some() {
            return Err(t.invalid(
                "*",
                "an INSERT from a query runs through the engine: use execute",
            ));
        }
        if self.columns.is_empty() {
            return Err(t.invalid("*", "name the columns with .columns([...])"));
        }
        for c in &self.columns {
            t.check_column(c)?;
        }
        if self.rows.is_empty() {
            return Err(t.invalid("*", "no rows: add .values([...])"));
        }
        let mut params = vec![];
        let mut tuples = vec![];
        for (i, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(t.invalid(
                    "*",
                    format!(
                        "row {} has {} values for {} columns",
                        i + 1,
                        row.len(),
                        self.columns.len()
                    ),
                ));
            }
            let marks: Vec<String> = row
                .iter()
                .map(|v| {
                    params.push(v.clone());
                    t.placeholder(params.len())
                })
                .collect();
            tuples.push(format!("({})", marks.join(", ")));
        }
        let cols: Vec<String> = self.columns.iter().map(|c| t.ident(c)).collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            t.table(),
            cols.join(", "),
            tuples.join(", ")
        );
        match (&self.conflict, &self.update) {
            (None, None) => {}
            (Some(keys), Some(update)) => {
                for c in keys.iter().chain(update) {
                    t.check_column(c)?;
                }
                if keys.is_empty() {
                    return Err(t.invalid("*", "on_conflict([...]) needs at least one column"));
                }
                let keys: Vec<String> = keys.iter().map(|k| t.ident(k)).collect();
                let update: Vec<String> = update.iter().map(|c| t.ident(c)).collect();
                sql += " ";
                sql += &t.source.upsert_clause(&keys, &update)?;
            }
            _ => {
                return Err(t.invalid(
                    "*",
                    "an upsert needs both on_conflict([...]) and do_update([...]) or do_nothing()",
                ))
            }
        }
        Ok((sql, params))
    }

    /// Runs the INSERT; returns the rows affected.
    pub async fn execute(self) -> Result<u64> {
        if let Some(q) = self.query.clone() {
            let t = self.target?;
            if !self.rows.is_empty()
                || !self.columns.is_empty()
                || self.conflict.is_some()
                || self.update.is_some()
            {
                return Err(t.invalid(
                    "*",
                    "from_query takes its columns from the query: no columns, values or upsert",
                ));
            }
            return insert_from_query(&t, q).await;
        }
        let (sql, params) = self.to_sql()?;
        let t = self.target?;
        t.execute(&sql, &params).await
    }
}

async fn insert_from_query(t: &Target, q: QueryBuilder) -> Result<u64> {
    let df = q.into_dataframe()?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for n in &names {
        t.check_column(n)?;
    }
    // Every column of the table: from the query by name, else the source's default, else NULL.
    let exprs: Vec<Expr> = t
        .meta
        .arrow_schema
        .fields()
        .iter()
        .map(|f| {
            let e = if names.contains(f.name()) {
                Expr::Column(datafusion::common::Column::from_name(f.name()))
            } else if t.meta.server_defaults.contains(f.name()) {
                ServerDefault::expr(f.data_type().clone())
            } else {
                lit(datafusion::common::ScalarValue::Null)
            };
            e.cast_to(f.data_type(), df.schema())
                .map(|e| e.alias(f.name()))
        })
        .collect::<datafusion::error::Result<Vec<_>>>()
        .map_err(Error::from_datafusion)?;
    let df = df.select(exprs).map_err(Error::from_datafusion)?;
    let out = df
        .write_table(
            &t.engine_name,
            datafusion::dataframe::DataFrameWriteOptions::new(),
        )
        .await
        .map_err(Error::from_datafusion)?;
    let counts = out
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    Ok(counts)
}

fn clone_error(e: &Error) -> Error {
    Error::InvalidQuery {
        table: "*".into(),
        column: "*".into(),
        message: e.to_string(),
    }
}

/// An UPDATE under construction.
#[derive(Debug)]
pub struct UpdateBuilder {
    target: std::result::Result<Target, Error>,
    sets: Vec<(String, Value)>,
    filters: Vec<Expr>,
    all_rows: bool,
}

impl UpdateBuilder {
    /// Sets a column to a value (bound as a parameter).
    pub fn set(mut self, column: &str, value: impl Into<Value>) -> Self {
        self.sets.push((column.to_string(), value.into()));
        self
    }

    /// Updates only rows matching `predicate` (several filters are ANDed).
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.filters.push(predicate);
        self
    }

    /// Updates every row: required when there is no filter.
    pub fn all_rows(mut self) -> Self {
        self.all_rows = true;
        self
    }

    /// The SQL and its parameters, without running anything.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>)> {
        let t = self.target.as_ref().map_err(clone_error)?;
        if self.sets.is_empty() {
            return Err(t.invalid("*", "nothing to set: add .set(column, value)"));
        }
        if self.filters.is_empty() && !self.all_rows {
            return Err(t.invalid(
                "*",
                "an UPDATE without a filter changes every row: add .filter(...) or .all_rows()",
            ));
        }
        let mut params = vec![];
        let mut sets = vec![];
        for (c, v) in &self.sets {
            t.check_column(c)?;
            params.push(v.clone());
            sets.push(format!("{} = {}", t.ident(c), t.placeholder(params.len())));
        }
        let wh = t.where_clause(&self.filters, &mut params)?;
        Ok((
            format!("UPDATE {} SET {}{wh}", t.table(), sets.join(", ")),
            params,
        ))
    }

    /// Runs the UPDATE; returns the rows affected.
    pub async fn execute(self) -> Result<u64> {
        let (sql, params) = self.to_sql()?;
        let t = self.target?;
        t.execute(&sql, &params).await
    }
}

/// A DELETE under construction.
#[derive(Debug)]
pub struct DeleteBuilder {
    target: std::result::Result<Target, Error>,
    filters: Vec<Expr>,
    all_rows: bool,
}

impl DeleteBuilder {
    /// Deletes only rows matching `predicate` (several filters are ANDed).
    pub fn filter(mut self, predicate: Expr) -> Self {
        self.filters.push(predicate);
        self
    }

    /// Deletes every row: required when there is no filter.
    pub fn all_rows(mut self) -> Self {
        self.all_rows = true;
        self
    }

    /// The SQL and its parameters, without running anything.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>)> {
        let t = self.target.as_ref().map_err(clone_error)?;
        if self.filters.is_empty() && !self.all_rows {
            return Err(t.invalid(
                "*",
                "a DELETE without a filter removes every row: add .filter(...) or .all_rows()",
            ));
        }
        let mut params = vec![];
        let wh = t.where_clause(&self.filters, &mut params)?;
        Ok((format!("DELETE FROM {}{wh}", t.table()), params))
    }

    /// Runs the DELETE; returns the rows affected.
    pub async fn execute(self) -> Result<u64> {
        let (sql, params) = self.to_sql()?;
        let t = self.target?;
        t.execute(&sql, &params).await
    }
}
