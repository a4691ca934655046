//! MySQL errors as this crate's: the server and its secret, error codes mapped to actionable
//! errors, and the constraint a message names.

use crate::error::{redact_url, scrub, ConstraintKind, Error};

/// Identity and secret of a server, for error messages.
#[derive(Clone)]
pub(crate) struct Target {
    /// `mysql at host:port/db`.
    pub(crate) target: String,
    /// The URL's password, scrubbed from every message.
    pub(crate) password: Option<String>,
    /// The URL the driver reads (redacted in errors).
    pub(crate) url: String,
}

impl Target {
    /// The host of `mysql at HOST:PORT/db`.
    pub(crate) fn host(&self) -> &str {
        let rest = self
            .target
            .strip_prefix("mysql at ")
            .unwrap_or(&self.target);
        let end = rest.rfind(':').unwrap_or(rest.len());
        &rest[..end]
    }

    /// Maps a driver error to an actionable [`Error`] (credentials scrubbed).
    pub(crate) fn error(&self, e: mysql_async::Error) -> Error {
        let secret = self.password.as_deref();
        match e {
            mysql_async::Error::Server(s) => {
                let message = scrub(&s.message, secret);
                let code = s.code.to_string();
                let kind = match s.code {
                    // Retried until the connect timeout before it gets here.
                    1040 | 1203 | 1226 => {
                        return Error::Source {
                            backend: "mysql",
                            code: Some(code),
                            message: format!(
                                "{message}, still after retrying until the connect timeout \
                                 ({} s): raise the server's max_connections or the account's \
                                 max_user_connections, or lower pool_size and the partitions \
                                 of scans",
                                crate::connector::REFUSED_RETRY_BUDGET.as_secs()
                            ),
                            retryable: true,
                        }
                    }
                    1045 => {
                        return Error::Authentication {
                            target: self.target.clone(),
                            message: format!(
                                "{message}: check the user name and the password (in the URL, \
                                 percent-encoded, or MYSQL_PWD), and, for a server that accepts \
                                 only encrypted connections (require_secure_transport), \
                                 ssl-mode"
                            ),
                        }
                    }
                    1044 | 1698 => {
                        return Error::Authentication {
                            target: self.target.clone(),
                            message,
                        }
                    }
                    3159 => {
                        return Error::Tls {
                            target: self.target.clone(),
                            message: format!(
                                "{message}: the server accepts only encrypted connections: use \
                                 ssl-mode=REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                            ),
                        }
                    }
                    1049 => {
                        return Error::Connection {
                            target: self.target.clone(),
                            message,
                        }
                    }
                    1064 => {
                        return Error::Syntax {
                            backend: "mysql",
                            code,
                            message,
                        }
                    }
                    1062 | 1586 => Some(ConstraintKind::Unique),
                    1451 | 1452 | 1216 | 1217 => Some(ConstraintKind::ForeignKey),
                    1048 | 1364 => Some(ConstraintKind::NotNull),
                    3819 | 4025 => Some(ConstraintKind::Check),
                    _ => None,
                };
                match kind {
                    Some(kind) => Error::Constraint {
                        backend: "mysql",
                        kind,
                        constraint: constraint_name(&message),
                        code,
                        message,
                    },
                    None => Error::Source {
                        backend: "mysql",
                        // Deadlock, lock wait timeout, server gone away, lost connection, a
                        // killed connection while a replica catches up.
                        retryable: matches!(
                            code.as_str(),
                            "1213" | "1205" | "2006" | "2013" | "1927"
                        ),
                        code: Some(code),
                        message,
                    },
                }
            }
            mysql_async::Error::Io(mysql_async::IoError::Tls(tls)) => Error::Tls {
                target: self.target.clone(),
                message: scrub(&tls.to_string(), secret),
            },
            mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
                match crate::connector::tls::rustls_error(&io) {
                    Some(tls) => Error::Tls {
                        target: self.target.clone(),
                        message: crate::connector::tls::describe(
                            tls,
                            self.host(),
                            "ssl-mode=VERIFY_CA",
                        ),
                    },
                    None => Error::Connection {
                        target: self.target.clone(),
                        message: scrub(&io.to_string(), secret),
                    },
                }
            }
            mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
                Error::Tls {
                    target: self.target.clone(),
                    message: "the server does not offer TLS: use ssl-mode=PREFERRED or DISABLED, \
                              or configure TLS on the server"
                        .into(),
                }
            }
            mysql_async::Error::Driver(d) => Error::Connection {
                target: self.target.clone(),
                message: scrub(&d.to_string(), secret),
            },
            mysql_async::Error::Url(u) => Error::InvalidUrl {
                url: redact_url(&self.url),
                reason: scrub(&u.to_string(), secret),
            },
            other => Error::Source {
                backend: "mysql",
                code: None,
                message: scrub(&other.to_string(), secret),
                retryable: false,
            },
        }
    }
}

/// The constraint (or column) a MySQL message names in quotes: `... for key 't.PRIMARY'`,
/// `Column 'x' cannot be null`, `CONSTRAINT `fk` FOREIGN KEY`.
fn constraint_name(message: &str) -> Option<String> {
    if let Some(i) = message.find("CONSTRAINT `") {
        let rest = &message[i + 12..];
        return rest.find('`').map(|j| rest[..j].to_string());
    }
    let start = message.rfind('\'')?;
    let before = &message[..start];
    let open = before.rfind('\'')?;
    Some(message[open + 1..start].to_string())
}

/// Too many connections (1040), for the user (1203, 1226): worth asking again.
pub(crate) fn refused_for_now(e: &Error) -> bool {
    matches!(e, Error::Source { backend: "mysql", code: Some(c), .. }
        if matches!(c.as_str(), "1040" | "1203" | "1226"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_from_messages() {
        assert_eq!(
            constraint_name("Duplicate entry '1' for key 'PRIMARY'").as_deref(),
            Some("PRIMARY")
        );
        assert_eq!(
            constraint_name("Column 'name' cannot be null").as_deref(),
            Some("name")
        );
        assert_eq!(
            constraint_name("Cannot add or update a child row: a foreign key constraint fails (`db`.`c`, CONSTRAINT `c_fk` FOREIGN KEY ...)").as_deref(),
            Some("c_fk")
        );
    }
}
