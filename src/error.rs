//! The crate's error type.
//!
//! Every variant says what went wrong and, where it can, what to do about it. Credentials never
//! appear in an error: URLs are redacted with [`redact_url`] before they are stored, and driver
//! messages are scrubbed of the password with [`scrub`].

use datafusion::error::DataFusionError;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors returned by vibe-piper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source URL could not be parsed or has an option that is not understood.
    #[error("invalid source URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with its password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The user cancelled the operation (Ctrl-C) before it finished.
    #[error("cancelled")]
    Cancelled,
    /// The URL scheme names a backend this build does not know.
    #[error("unsupported source scheme `{scheme}`: this build reads {known}")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
        /// The schemes the registered backends answer to, as `a://, b://`.
        known: String,
    },
    /// A source name was registered twice or is not a valid identifier.
    #[error("invalid source name `{name}`: {reason}")]
    InvalidSourceName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server could not be reached (refused, unknown host, timeout).
    #[error("cannot connect to {target}: {message}")]
    Connection {
        /// Host and port (or file) without credentials.
        target: String,
        /// The driver's message, scrubbed of credentials.
        message: String,
    },
    /// TLS could not be set up as the options ask: the server's certificate was refused, a
    /// certificate or key file cannot be read, or the server does not offer TLS.
    #[error("TLS with {target} failed: {message}")]
    Tls {
        /// Host and port without credentials.
        target: String,
        /// What failed and what to change.
        message: String,
    },
    /// The server refused the credentials (a wrong password or user, or an authentication
    /// method the server does not allow for this connection). The message says what to check
    /// and never holds the password.
    #[error("authentication failed for {target}: {message}")]
    Authentication {
        /// Host and port without credentials.
        target: String,
        /// The driver's message, scrubbed of credentials.
        message: String,
    },
    /// The source answered a query with an error.
    #[error("{backend} error{}: {message}", code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default())]
    Source {
        /// Which backend (postgres, sqlite, ...).
        backend: &'static str,
        /// The source's own error code (SQLSTATE for PostgreSQL), when it gave one.
        code: Option<String>,
        /// The message, scrubbed of credentials.
        message: String,
        /// Whether the backend says trying again may succeed (a deadlock, a serialization
        /// failure, a server shutting down, a lost connection).
        retryable: bool,
    },
    /// A table named in a query or a command does not exist in the source.
    #[error("unknown table `{0}`")]
    UnknownTable(String),
    /// A value read from a source does not fit the Arrow type declared for its column.
    #[error("column `{column}`: {message}")]
    Value {
        /// The column name.
        column: String,
        /// What did not fit and why.
        message: String,
    },
    /// No pooled connection became free within the pool's acquire timeout.
    #[error("timed out after {waited:?} waiting for a connection to {target} (pool_size {pool_size}): raise pool_size or acquire_timeout, or return connections sooner")]
    PoolTimeout {
        /// Host and port without credentials.
        target: String,
        /// How long the caller waited.
        waited: std::time::Duration,
        /// The pool's size.
        pool_size: u32,
    },
    /// A query needed more memory than the engine's limit leaves it (after spilling what can
    /// spill), or more spill space than the disk limit.
    #[error("out of memory budget in {operator}{}: {hint}. {message}", limit.as_ref().map(|l| format!(" (limit {l})")).unwrap_or_default())]
    ResourcesExhausted {
        /// The operator refused (`ExternalSorter[0]`, `GroupedHashAggregateStream[1]`), or
        /// `spilling` when the disk limit was reached.
        operator: String,
        /// The memory limit, as DataFusion shows it.
        limit: Option<String>,
        /// DataFusion's message (what was asked, what is held, the largest consumers).
        message: String,
        /// How to raise the limit.
        hint: String,
    },
    /// A constraint rejected a write.
    #[error("{backend} {kind} violation{}{}: {message}", constraint.as_ref().map(|c| format!(" on `{c}`")).unwrap_or_default(), format!(" [{code}]"))]
    Constraint {
        /// Which backend.
        backend: &'static str,
        /// Which kind of constraint.
        kind: ConstraintKind,
        /// The constraint's name, when the source gave it.
        constraint: Option<String>,
        /// The source's own code (SQLSTATE or MySQL error number).
        code: String,
        /// The message, scrubbed of credentials.
        message: String,
    },
    /// The source could not parse a statement.
    #[error("{backend} syntax error [{code}]: {message}")]
    Syntax {
        /// Which backend.
        backend: &'static str,
        /// The source's own code.
        code: String,
        /// The message.
        message: String,
    },
    /// A value of this type cannot be read or written on this path.
    #[error("column `{column}` has type {data_type}, which is not supported here: {hint}")]
    UnsupportedType {
        /// The column (or parameter) name.
        column: String,
        /// The type as the source or Arrow names it.
        data_type: String,
        /// What to do instead.
        hint: String,
    },
    /// Data does not match the table it is written to (or the schema it is declared with).
    #[error("schema mismatch for `{table}`: {}", problems.join("; "))]
    SchemaMismatch {
        /// The table (or result) being checked.
        table: String,
        /// One entry per offending column: name, expected and actual type.
        problems: Vec<String>,
    },
    /// A query builder was given something that cannot work: an unknown column, a comparison
    /// of incompatible types, a column neither grouped nor aggregated, an unfiltered write.
    #[error("invalid query on {table}: column `{column}`: {message}")]
    InvalidQuery {
        /// The table (or tables) the builder reads or writes.
        table: String,
        /// The column concerned (`*` when none).
        column: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A query that must return a row returned none.
    #[error("the query returned no rows")]
    RowNotFound,
    /// A transaction was used after it ended.
    #[error("transaction already {0}")]
    TransactionClosed(&'static str),
    /// A configuration file or option is wrong.
    #[error("configuration error: {0}")]
    Config(String),
    /// Error from the DataFusion engine (planning or execution).
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// Error from arrow-rs.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// File system error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Writing or reading an output (a file, an object on object storage) failed; `target` is
    /// the location with any credentials masked.
    #[error("cannot write {target}: {message}")]
    Output {
        /// Where (credentials masked).
        target: String,
        /// What went wrong, and what to do about it where there is something.
        message: String,
    },
}

/// The kind of constraint a write violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// A unique or primary key constraint.
    Unique,
    /// A foreign key.
    ForeignKey,
    /// A NOT NULL column.
    NotNull,
    /// A CHECK constraint.
    Check,
    /// A PostgreSQL exclusion constraint.
    Exclusion,
}

impl std::fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "unique constraint",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not-null constraint",
            ConstraintKind::Check => "check constraint",
            ConstraintKind::Exclusion => "exclusion constraint",
        })
    }
}

impl Error {
    /// The source's own error code (SQLSTATE for PostgreSQL, the error number for MySQL).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Source { code, .. } => code.as_deref(),
            Error::Constraint { code, .. } | Error::Syntax { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again may succeed: a lost connection, a serialization failure or a
    /// deadlock (the source rolled the transaction back), a pool timeout.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connection { .. } | Error::PoolTimeout { .. } => true,
            Error::Source { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Wraps this error for DataFusion's API boundary, keeping it downcastable.
    pub fn into_datafusion(self) -> DataFusionError {
        match self {
            Error::DataFusion(e) => e,
            other => DataFusionError::External(Box::new(other)),
        }
    }

    /// Finds a vibe-piper error inside a DataFusion error (it wraps ours as `External`).
    pub fn from_datafusion(e: DataFusionError) -> Error {
        match e {
            DataFusionError::External(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::DataFusion(DataFusionError::External(other)),
            },
            DataFusionError::Context(ctx, inner) => match Error::from_datafusion(*inner) {
                Error::DataFusion(inner) => {
                    Error::DataFusion(DataFusionError::Context(ctx, Box::new(inner)))
                }
                ours => ours,
            },
            DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
                Ok(inner) => Error::from_datafusion(inner),
                Err(shared) => Error::DataFusion(DataFusionError::Shared(shared)),
            },
            DataFusionError::ResourcesExhausted(message) => {
                crate::engine::memory::exhausted(&message).unwrap_or_else(|| {
                    Error::DataFusion(DataFusionError::ResourcesExhausted(message))
                })
            }
            other => {
                // Memory refused deep inside an operator arrives wrapped (in Arrow errors, in
                // contexts); the root says what happened.
                if let DataFusionError::ResourcesExhausted(message) = other.find_root() {
                    if let Some(e) = crate::engine::memory::exhausted(message) {
                        return e;
                    }
                }
                // The disk limit reached while spilling arrives as an I/O error.
                let text = other.to_string();
                if text.contains("exceeded the allowable limit") {
                    if let Some(e) = crate::engine::memory::exhausted(&text) {
                        return e;
                    }
                }
                Error::DataFusion(other)
            }
        }
    }
}

/// Returns `url` with any password replaced by `***`. Strings that are not URLs are returned
/// unchanged except that anything between `:` and `@` in the authority is masked.
pub fn redact_url(url: &str) -> String {
    // `user:secret@host` parses as a URL of scheme `user`: mask it as an authority instead.
    let parsed = if url.contains("://") {
        url::Url::parse(url).map_err(|_| ())
    } else {
        Err(())
    };
    match parsed {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let mut out = parsed.to_string();
            // Query options such as `password=` are masked too.
            if let Some(q) = parsed.query() {
                let masked: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| {
                        let key = k.to_ascii_lowercase();
                        // `password=`, and object storage's `secret_access_key=`,
                        // `session_token=`, `client_secret=`, `access_key=` (Azure), SAS tokens.
                        if key.contains("password")
                            || key.contains("secret")
                            || key.contains("token")
                            || key == "access_key"
                            || key.ends_with("_access_key")
                            || key.contains("sas")
                        {
                            format!("{k}=***")
                        } else {
                            format!("{k}={v}")
                        }
                    })
                    .collect();
                parsed.set_query(Some(&masked.join("&")));
                out = parsed.to_string();
            }
            out
        }
        Err(_) => {
            // Without a scheme, the authority starts the string (`user:secret@host`).
            let s = url.find("://").map_or(0, |s| s + 3);
            match url.rfind('@') {
                Some(at) if at > s => {
                    let auth = &url[s..at];
                    match auth.find(':') {
                        Some(c) => format!("{}{}:***{}", &url[..s], &auth[..c], &url[at..]),
                        None => url.to_string(),
                    }
                }
                _ => url.to_string(),
            }
        }
    }
}

/// Removes every occurrence of `secret` (when non-empty) from `message`.
pub fn scrub(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => message.replace(s, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_url_and_query() {
        let r = redact_url("postgres://alice:s3cret@db:5432/x?password=s3cret&sslmode=disable");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("alice:***@db"), "{r}");
        assert!(r.contains("sslmode=disable"), "{r}");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("u:pw@h/db"), "u:***@h/db");
        assert_eq!(redact_url("weird://u:pw@h%%"), "weird://u:***@h%%");
    }

    #[test]
    fn scrub_removes_secret() {
        assert_eq!(
            scrub("bad pw hunter2 here", Some("hunter2")),
            "bad pw *** here"
        );
        assert_eq!(scrub("x", Some("")), "x");
        assert_eq!(scrub("x", None), "x");
    }

    #[test]
    fn round_trips_through_datafusion() {
        let e = Error::UnknownTable("t".into()).into_datafusion();
        assert!(matches!(Error::from_datafusion(e), Error::UnknownTable(t) if t == "t"));
        let ctx = DataFusionError::Context(
            "c".into(),
            Box::new(Error::Config("x".into()).into_datafusion()),
        );
        assert!(matches!(Error::from_datafusion(ctx), Error::Config(_)));
    }
}
