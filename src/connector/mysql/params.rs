//! Statement parameters: values bound as mysql_async values (never formatted into the SQL), and
//! statements run with them for their affected-row count.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use super::error::Target;
use crate::connector::value::{Cell, Value};
use crate::error::{Error, Result};

/// One cell as the value mysql_async binds (`column` names it in errors).
pub(super) fn my_value(cell: &Cell, column: &str) -> Result<mysql_async::Value> {
    use mysql_async::Value as V;
    let err = |message: String| Error::Value {
        column: column.to_string(),
        message,
    };
    Ok(match cell {
        Cell::Null => V::NULL,
        Cell::Bool(b) => V::Int(*b as i64),
        Cell::Int(v) => V::Int(*v),
        Cell::UInt(v) => V::UInt(*v),
        Cell::Float(v) if v.is_finite() => V::Double(*v),
        Cell::Float(v) => return Err(err(format!("MySQL cannot store {v}"))),
        Cell::Str(s) => V::Bytes(s.as_bytes().to_vec()),
        Cell::Bytes(b) => V::Bytes(b.to_vec()),
        Cell::List(_) => return Err(err("MySQL has no array type".into())),
        Cell::Interval(..) => {
            return Err(err(
                "MySQL has no interval type: write a TIME or a number".into()
            ))
        }
        other => V::Bytes(
            other
                .text()
                .ok_or_else(|| err(format!("cannot write {other:?}")))?
                .as_bytes()
                .to_vec(),
        ),
    })
}

/// Statement parameters as mysql_async binds them.
pub(super) fn my_params(params: &[Value]) -> Result<Params> {
    if params.is_empty() {
        return Ok(Params::Empty);
    }
    Ok(Params::Positional(
        params
            .iter()
            .enumerate()
            .map(|(i, p)| my_value(&p.cell(), &format!("parameter {}", i + 1)))
            .collect::<Result<Vec<_>>>()?,
    ))
}

/// Runs one statement on `conn`; returns the rows it affected.
pub(super) async fn execute_on(
    conn: &mut Conn,
    target: &Target,
    sql: &str,
    params: &[Value],
) -> Result<u64> {
    match my_params(params)? {
        Params::Empty => conn.query_drop(sql).await,
        p => conn.exec_drop(sql, p).await,
    }
    .map_err(|e| target.error(e))?;
    Ok(conn.affected_rows())
}

/// Runs one statement, prepared once, for each row of parameters; returns the rows affected in
/// all.
pub(super) async fn execute_many_on(
    conn: &mut Conn,
    target: &Target,
    sql: &str,
    rows: &[Vec<Value>],
) -> Result<u64> {
    let stmt = conn.prep(sql).await.map_err(|e| target.error(e))?;
    let mut total = 0;
    for r in rows {
        conn.exec_drop(&stmt, my_params(r)?)
            .await
            .map_err(|e| target.error(e))?;
        total += conn.affected_rows();
    }
    Ok(total)
}
