//! Credentials: a service-account key (a JWT signed with its private key, exchanged at the
//! key's `token_uri`), an authorized-user file (`gcloud auth application-default login`),
//! application-default credentials, or none (an emulator). Tokens are cached and refreshed by
//! `yup-oauth2`; they never reach `Debug` output or messages.

use std::path::{Path, PathBuf};

use yup_oauth2::authenticator::DefaultAuthenticator;

use super::options::CredentialSource;
use crate::error::{Error, Result};

/// The OAuth scope of every request.
pub(crate) const SCOPES: &[&str] = &["https://www.googleapis.com/auth/bigquery"];

/// How requests are authorised.
pub(crate) enum Auth {
    /// No `Authorization` header.
    Anonymous,
    /// A bearer token from this authenticator.
    OAuth {
        authenticator: DefaultAuthenticator,
        /// Where the credentials came from, for messages.
        from: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::OAuth { from, .. } => f.debug_struct("OAuth").field("from", from).finish(),
        }
    }
}

/// The gcloud application-default credentials file, when there is one.
fn gcloud_adc_file() -> Option<PathBuf> {
    let dir = match std::env::var_os("CLOUDSDK_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config/gcloud"),
    };
    let file = dir.join("application_default_credentials.json");
    file.is_file().then_some(file)
}

impl Auth {
    /// The authoriser for `source`; `target` names the endpoint in messages.
    pub(crate) async fn new(source: &CredentialSource, target: &str) -> Result<Self> {
        match source {
            CredentialSource::Anonymous => Ok(Auth::Anonymous),
            CredentialSource::File(path) => Self::from_file(path, target).await,
            CredentialSource::ApplicationDefault => {
                if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
                    return Self::from_file(Path::new(&path), target).await;
                }
                if let Some(path) = gcloud_adc_file() {
                    return Self::from_file(&path, target).await;
                }
                // On Google Cloud: the metadata server.
                let opts = yup_oauth2::ApplicationDefaultCredentialsFlowOpts::default();
                let builder =
                    yup_oauth2::ApplicationDefaultCredentialsAuthenticator::builder(opts).await;
                let authenticator = match builder {
                    yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::InstanceMetadata(b) => b.build().await,
                    yup_oauth2::authenticator::ApplicationDefaultCredentialsTypes::ServiceAccount(b) => b.build().await,
                }
                .map_err(|e| auth_error(target, &e.to_string()))?;
                Ok(Auth::OAuth {
                    authenticator,
                    from: "the metadata server (no GOOGLE_APPLICATION_CREDENTIALS, no gcloud \
                           application-default credentials)"
                        .into(),
                })
            }
        }
    }

    async fn from_file(path: &Path, target: &str) -> Result<Self> {
        let shown = path.display().to_string();
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            Error::Config(format!(
                "cannot read the BigQuery credentials file {shown}: {e}"
            ))
        })?;
        let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
        let authenticator = match kind.as_deref() {
            Some("service_account") => {
                let key = yup_oauth2::parse_service_account_key(&bytes).map_err(|e| {
                    Error::Config(format!("{shown} is not a service-account key: {e}"))
                })?;
                yup_oauth2::ServiceAccountAuthenticator::builder(key)
                    .build()
                    .await
            }
            Some("authorized_user") => {
                let secret: yup_oauth2::authorized_user::AuthorizedUserSecret =
                    serde_json::from_slice(&bytes).map_err(|e| {
                        Error::Config(format!("{shown} is not an authorized-user file: {e}"))
                    })?;
                yup_oauth2::AuthorizedUserAuthenticator::builder(secret)
                    .build()
                    .await
            }
            other => {
                return Err(Error::Config(format!(
                    "{shown} is not a BigQuery credentials file: its \"type\" is {}, expected \
                     \"service_account\" (a key from the Cloud console) or \"authorized_user\" \
                     (from `gcloud auth application-default login`)",
                    other.map_or("missing".to_string(), |t| format!("\"{t}\""))
                )))
            }
        }
        .map_err(|e| auth_error(target, &e.to_string()))?;
        Ok(Auth::OAuth {
            authenticator,
            from: shown,
        })
    }

    /// The `Authorization` header value, when requests carry one.
    pub(crate) async fn bearer(&self, target: &str) -> Result<Option<String>> {
        match self {
            Auth::Anonymous => Ok(None),
            Auth::OAuth {
                authenticator,
                from,
            } => {
                let token = authenticator.token(SCOPES).await.map_err(|e| {
                    auth_error(
                        target,
                        &format!("no token for the credentials in {from}: {e}"),
                    )
                })?;
                let token = token.token().ok_or_else(|| {
                    auth_error(
                        target,
                        &format!("the token endpoint for {from} sent no token"),
                    )
                })?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }
}

fn auth_error(target: &str, message: &str) -> Error {
    Error::Authentication {
        target: target.to_string(),
        message: message.to_string(),
    }
}
