//! Backends by URL scheme: the one place a URL is mapped to the code that opens it (in the way
//! `object_store::parse_url` maps schemes to stores).
//!
//! A backend is a [`Backend`] value: the schemes it answers to and how it opens a URL as a SQL
//! [`Source`] (or as a schema of tables, for folders of files) and as a [`Connector`]. The
//! backends compiled into this build are [`Registry::builtin`]; a crate outside this one adds its
//! own with [`Registry::register`] (or `EngineBuilder::backend`).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::execution::SessionState;

use super::{Connector, Source};
use crate::error::{redact_url, Error, Result};

/// What opening a URL gives.
#[non_exhaustive]
pub enum Opened {
    /// A SQL source: its tables are scanned (and written) through the provider layer.
    Source(Arc<dyn Source>),
    /// A schema of tables DataFusion reads itself (a folder of Parquet and CSV files).
    Tables(Arc<dyn SchemaProvider>),
}

impl Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opened::Source(s) => f.debug_tuple("Source").field(s).finish(),
            Opened::Tables(_) => f.write_str("Tables"),
        }
    }
}

/// One backend: the URL schemes it answers to and how it opens them.
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// The backend's name, as errors and EXPLAIN show it (`postgres`, `sqlite`, ...).
    fn name(&self) -> &'static str;
    /// URL schemes this backend opens, lower case, without `://`.
    fn schemes(&self) -> &'static [&'static str];
    /// Opens `url` for reading through the engine.
    async fn open(&self, url: &str, session: &SessionState) -> Result<Opened>;
    /// Opens `url` as a connector (a pool for queries, statements, transactions and bulk
    /// loads). Backends that cannot write refuse with a clear error.
    async fn connector(&self, url: &str) -> Result<Arc<dyn Connector>> {
        Err(Error::Config(format!(
            "`{}` sources are read-only: the {} backend has no connector",
            redact_url(url),
            self.name()
        )))
    }
}

/// The backends a URL can be opened with, by scheme.
#[derive(Debug, Clone)]
pub struct Registry {
    backends: Vec<Arc<dyn Backend>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// A registry without backends.
    pub fn empty() -> Self {
        Self { backends: vec![] }
    }

    /// Every backend compiled into this build (see the crate's cargo features).
    pub fn builtin() -> Self {
        Self {
            backends: super::builtin_backends(),
        }
    }

    /// Adds a backend; for a scheme two backends answer to, the one registered last wins.
    pub fn register(&mut self, backend: Arc<dyn Backend>) {
        self.backends.push(backend);
    }

    /// The schemes known, in registration order, without repeats.
    pub fn schemes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = vec![];
        for s in self
            .backends
            .iter()
            .flat_map(|b| b.schemes().iter().copied())
        {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// The backend that opens `url`.
    pub fn backend_for(&self, url: &str) -> Result<&Arc<dyn Backend>> {
        let Some((scheme, _)) = url.split_once("://") else {
            return Err(Error::InvalidUrl {
                url: redact_url(url),
                reason: format!("expected scheme://... ({})", self.known()),
            });
        };
        let scheme = scheme.to_ascii_lowercase();
        self.backends
            .iter()
            .rev()
            .find(|b| b.schemes().contains(&scheme.as_str()))
            .ok_or_else(|| Error::UnsupportedScheme {
                scheme,
                known: self.known(),
            })
    }

    /// Opens `url` with the backend for its scheme.
    pub async fn open(&self, url: &str, session: &SessionState) -> Result<Opened> {
        self.backend_for(url)?.open(url, session).await
    }

    /// Opens a connector for `url` with the backend for its scheme.
    pub async fn connect(&self, url: &str) -> Result<Arc<dyn Connector>> {
        self.backend_for(url)?.connector(url).await
    }

    fn known(&self) -> String {
        let schemes = self.schemes();
        if schemes.is_empty() {
            return "no backend (none is registered)".into();
        }
        schemes
            .iter()
            .map(|s| format!("{s}://"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Nothing(&'static [&'static str]);

    #[async_trait]
    impl Backend for Nothing {
        fn name(&self) -> &'static str {
            "nothing"
        }
        fn schemes(&self) -> &'static [&'static str] {
            self.0
        }
        async fn open(&self, url: &str, _: &SessionState) -> Result<Opened> {
            Err(Error::Config(format!("cannot open {url}")))
        }
    }

    #[tokio::test]
    async fn schemes_dispatch_to_the_last_registered_backend() {
        let mut r = Registry::empty();
        let e = r.backend_for("x://h").unwrap_err();
        assert!(e.to_string().contains("none is registered"), "{e}");
        r.register(Arc::new(Nothing(&["x", "y"])));
        r.register(Arc::new(Nothing(&["y"])));
        assert_eq!(r.schemes(), ["x", "y"]);
        let b = r.backend_for("Y://h").unwrap();
        assert_eq!(b.schemes(), ["y"]);
        let e = r.backend_for("z://u:secret@h").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported source scheme `z`: this build reads x://, y://"
        );
        let e = r.backend_for("u:secret@h").unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        let Err(e) = r.connect("x://u:secret@h/db").await else {
            panic!("a backend without a connector connected");
        };
        assert!(e.to_string().contains("read-only"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
