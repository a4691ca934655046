//! URL query options, the same way on every backend: decoded once as URI components, taken by
//! name into the backend's typed options, and an option that no one took is one clear error
//! that lists the valid ones.

use super::PoolOptions;
use crate::error::{redact_url, Error, Result};

/// The query options of one URL, being taken into a backend's typed options.
#[derive(Debug)]
pub(crate) struct UrlOptions {
    /// The URL with its credentials masked, for errors.
    url: String,
    pairs: Vec<(String, String)>,
    valid: Vec<&'static str>,
}

// A build with fewer backends (cargo features) uses fewer of these readers.
#[allow(dead_code)]
impl UrlOptions {
    /// The options of `parsed` (`url` is its text, for errors).
    pub(crate) fn new(url: &str, parsed: &url::Url) -> Self {
        Self {
            url: redact_url(url),
            pairs: super::url_options(parsed),
            valid: vec![],
        }
    }

    /// An `InvalidUrl` error about this URL.
    pub(crate) fn bad(&self, reason: impl Into<String>) -> Error {
        Error::InvalidUrl {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }

    /// The value of `key` (the last one given; names match without regard to case), removed.
    pub(crate) fn take(&mut self, key: &'static str) -> Option<String> {
        if !self.valid.contains(&key) {
            self.valid.push(key);
        }
        let mut found = None;
        self.pairs.retain(|(k, v)| {
            let hit = k.eq_ignore_ascii_case(key);
            if hit {
                found = Some(v.clone());
            }
            !hit
        });
        found
    }

    /// `key` read by `parse`; a value it refuses is an error that says what `key` takes.
    pub(crate) fn parse<T>(
        &mut self,
        key: &'static str,
        takes: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => parse(&v)
                .map(Some)
                .ok_or_else(|| self.bad(format!("{key} takes {takes}, not `{v}`"))),
        }
    }

    /// `key` as one of `choices` (matched without regard to case).
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>> {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let takes = match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => "no value".into(),
        };
        self.parse(key, &takes, |v| {
            choices
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(v))
                .map(|(_, t)| *t)
        })
    }

    /// `key` as a positive integer.
    pub(crate) fn positive(&mut self, key: &'static str) -> Result<Option<i64>> {
        self.parse(key, "a positive integer", |v| {
            v.parse::<i64>().ok().filter(|n| *n > 0)
        })
    }

    /// `key` as `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub(crate) fn boolean(&mut self, key: &'static str) -> Result<Option<bool>> {
        self.parse(key, "true or false", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            }
        })
    }

    /// The pool options ([`PoolOptions::KEYS`]) applied onto `pool`.
    pub(crate) fn pool(&mut self, pool: &mut PoolOptions) -> Result<()> {
        for key in PoolOptions::KEYS {
            if let Some(v) = self.take(key) {
                pool.apply(key, &v).map_err(|reason| self.bad(reason))?;
            }
        }
        Ok(())
    }

    /// The options among `keys` that go to the driver unchanged, removed, in URL order.
    pub(crate) fn driver(&mut self, keys: &[&'static str]) -> Vec<(String, String)> {
        for key in keys {
            if !self.valid.contains(key) {
                self.valid.push(key);
            }
        }
        let mut out = vec![];
        self.pairs.retain(|(k, v)| {
            let hit = keys.iter().any(|key| k.eq_ignore_ascii_case(key));
            if hit {
                out.push((k.to_ascii_lowercase(), v.clone()));
            }
            !hit
        });
        out
    }

    /// Ends the reading: an option no one took is an error that lists the valid ones.
    pub(crate) fn finish(self) -> Result<()> {
        let Some((key, _)) = self.pairs.first() else {
            return Ok(());
        };
        let mut valid = self.valid.clone();
        valid.sort_unstable();
        valid.dedup();
        Err(self.bad(format!(
            "unknown option `{key}`; valid options: {}",
            valid.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> UrlOptions {
        UrlOptions::new(url, &url::Url::parse(url).unwrap())
    }

    #[test]
    fn typed_values_and_one_error_for_unknown_options() {
        let mut o = options(
            "x://u:secret@h/db?Chunk_Rows=5&mode=Fast&flag=no&pool_size=3&sslmode=disable&oops=1",
        );
        assert_eq!(o.positive("chunk_rows").unwrap(), Some(5));
        assert_eq!(
            o.choice("mode", &[("fast", 1), ("slow", 2)]).unwrap(),
            Some(1)
        );
        assert_eq!(o.boolean("flag").unwrap(), Some(false));
        assert_eq!(o.take("absent"), None);
        let mut pool = PoolOptions::default();
        o.pool(&mut pool).unwrap();
        assert_eq!(pool.pool_size, 3);
        assert_eq!(
            o.driver(&["sslmode", "connect_timeout"]),
            vec![("sslmode".to_string(), "disable".to_string())]
        );
        let err = o.finish().unwrap_err().to_string();
        assert!(err.contains("unknown option `oops`"), "{err}");
        assert!(
            err.contains(
                "valid options: absent, acquire_timeout, chunk_rows, connect_timeout, flag, \
                 idle_timeout, max_lifetime, min_idle, mode, pool_size, sslmode"
            ),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn bad_values_say_what_the_option_takes() {
        let mut o = options("x://h/?n=0&m=medium&b=maybe&pool_size=0");
        let e = o.positive("n").unwrap_err().to_string();
        assert!(e.contains("n takes a positive integer, not `0`"), "{e}");
        let e = o
            .choice("m", &[("a", 1), ("b", 2), ("c", 3)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("m takes a, b or c, not `medium`"), "{e}");
        let e = o.boolean("b").unwrap_err().to_string();
        assert!(e.contains("b takes true or false"), "{e}");
        let e = o.pool(&mut PoolOptions::default()).unwrap_err().to_string();
        assert!(e.contains("pool_size must be at least 1"), "{e}");
        assert!(options("x://h/?").finish().is_ok());
    }
}
