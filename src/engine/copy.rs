//! SQL `COPY (SELECT ...) TO 'URL' (FORMAT parquet, ...)`: an extraction from SQL.
//!
//! Both spellings are taken: PostgreSQL's option list in parentheses (optionally after
//! `WITH`), and DataFusion's `STORED AS PARQUET PARTITIONED BY (col) OPTIONS ('key' 'value')`
//! (keys may carry DataFusion's `format.` prefix). Either way the statement runs as
//! [`Engine::extract`](super::Engine::extract): files published only when the whole result is
//! written, a manifest last.

use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::{Error, Result};

/// A parsed `COPY ... TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopySpec {
    /// The query whose result is written.
    pub(crate) query: String,
    /// Where to.
    pub(crate) destination: String,
    /// Options by name, as [`ExtractOptions::set`](super::ExtractOptions::set) takes them.
    pub(crate) options: Vec<(String, String)>,
}

const FORM: &str = "the form is COPY (SELECT ...) TO 'URL' [(FORMAT parquet, COMPRESSION zstd, \
                    PARTITION_BY col, ...)]";

/// `None` unless `sql` is a `COPY` statement.
pub(crate) fn parse(sql: &str, dialect: &dyn Dialect) -> Option<Result<CopySpec>> {
    if !sql.to_ascii_lowercase().contains("copy") {
        return None;
    }
    let mut parser = Parser::new(dialect).try_with_sql(sql).ok()?;
    if !parser.parse_keyword(Keyword::COPY) {
        return None;
    }
    Some(rest(&mut parser).map_err(|e| Error::Config(format!("COPY: {e}; {FORM}"))))
}

fn rest(p: &mut Parser<'_>) -> std::result::Result<CopySpec, ParserError> {
    let query = if p.consume_token(&Token::LParen) {
        let q = p.parse_query()?;
        p.expect_token(&Token::RParen)?;
        q.to_string()
    } else {
        let name = p.parse_object_name(true)?;
        format!("SELECT * FROM {name}")
    };
    p.expect_keyword(Keyword::TO)?;
    let destination = p.parse_literal_string()?;
    let mut options = vec![];
    loop {
        if p.consume_token(&Token::SemiColon) || p.peek_token().token == Token::EOF {
            break;
        }
        let with = p.parse_keyword(Keyword::WITH);
        if p.consume_token(&Token::LParen) {
            option_list(p, &mut options)?;
        } else if with {
            return p.expected("`(` after WITH", p.peek_token());
        } else if p.parse_keywords(&[Keyword::STORED, Keyword::AS]) {
            options.push(("format".into(), p.parse_identifier()?.value));
        } else if p.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
            let parens = p.consume_token(&Token::LParen);
            let mut columns = vec![];
            loop {
                columns.push(p.parse_identifier()?.value);
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            if parens {
                p.expect_token(&Token::RParen)?;
            }
            options.push(("partition_by".into(), columns.join(",")));
        } else if p.parse_keyword(Keyword::OPTIONS) {
            p.expect_token(&Token::LParen)?;
            option_list(p, &mut options)?;
        } else {
            return p.expected(
                "an option list, STORED AS, PARTITIONED BY, OPTIONS or the end",
                p.peek_token(),
            );
        }
    }
    Ok(CopySpec {
        query,
        destination,
        options,
    })
}

/// `key value [, key value]... )`, after the opening parenthesis.
fn option_list(
    p: &mut Parser<'_>,
    options: &mut Vec<(String, String)>,
) -> std::result::Result<(), ParserError> {
    loop {
        let key = key(p)?;
        let value = value(p)?;
        options.push((key, value));
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    p.expect_token(&Token::RParen)?;
    Ok(())
}

/// An option's name: a word or a quoted string; DataFusion's `format.` prefix is dropped.
fn key(p: &mut Parser<'_>) -> std::result::Result<String, ParserError> {
    let token = p.next_token();
    let text = match &token.token {
        Token::Word(w) => w.value.clone(),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
        _ => return p.expected("an option name", token),
    };
    let text = text.to_ascii_lowercase();
    Ok(text.strip_prefix("format.").unwrap_or(&text).to_string())
}

/// An option's value: a word (`parquet`, `zstd(3)`, `true`), a number or a quoted string.
fn value(p: &mut Parser<'_>) -> std::result::Result<String, ParserError> {
    let token = p.next_token();
    let mut text = match &token.token {
        Token::Word(w) => w.value.clone(),
        Token::Number(n, _) => n.clone(),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
        _ => return p.expected("an option value", token),
    };
    // `zstd(3)`.
    if matches!(token.token, Token::Word(_)) && p.consume_token(&Token::LParen) {
        let level = p.next_token();
        let Token::Number(n, _) = &level.token else {
            return p.expected("a level", level);
        };
        text = format!("{text}({n})");
        p.expect_token(&Token::RParen)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    fn copy(sql: &str) -> Result<CopySpec> {
        parse(sql, &GenericDialect {}).expect("a COPY statement")
    }

    #[test]
    fn postgres_style_options() {
        let c = copy(
            "COPY (SELECT a, b FROM pg.t WHERE a > 1) TO 's3://b/out/' \
             (FORMAT parquet, COMPRESSION zstd(3), PARTITION_BY 'a,b', MAX_ROWS_PER_FILE 10);",
        )
        .unwrap();
        assert_eq!(c.query, "SELECT a, b FROM pg.t WHERE a > 1");
        assert_eq!(c.destination, "s3://b/out/");
        assert_eq!(
            c.options,
            vec![
                ("format".to_string(), "parquet".to_string()),
                ("compression".into(), "zstd(3)".into()),
                ("partition_by".into(), "a,b".into()),
                ("max_rows_per_file".into(), "10".into()),
            ]
        );
        let c = copy("copy pg.t to '/tmp/x.csv' with (format csv)").unwrap();
        assert_eq!(c.query, "SELECT * FROM pg.t");
        assert_eq!(c.options, vec![("format".into(), "csv".into())]);
    }

    #[test]
    fn datafusion_style_options() {
        let c = copy(
            "COPY (SELECT 1 AS x) TO 'out/' STORED AS PARQUET PARTITIONED BY (x) \
             OPTIONS ('format.compression' 'snappy')",
        )
        .unwrap();
        assert_eq!(
            c.options,
            vec![
                ("format".to_string(), "PARQUET".to_string()),
                ("partition_by".into(), "x".into()),
                ("compression".into(), "snappy".into()),
            ]
        );
    }

    #[test]
    fn other_statements_and_bad_copies() {
        assert!(parse("SELECT 'copy'", &GenericDialect {}).is_none());
        assert!(parse("SELECT 1", &GenericDialect {}).is_none());
        let e = copy("COPY (SELECT 1) TO").unwrap_err();
        assert!(e.to_string().contains("the form is"), "{e}");
        let e = copy("COPY (SELECT 1) TO 'x/' (FORMAT)").unwrap_err();
        assert!(e.to_string().contains("option value"), "{e}");
        assert!(copy("COPY (SELECT 1) TO 'x/' WITH FORMAT csv").is_err());
    }
}
