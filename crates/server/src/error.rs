//! The server's errors: starting it ([`ServeError`]), and answering a request
//! ([`ApiError`]: an HTTP status with a message in words, as JSON).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The options do not make a server that can run safely.
    #[error("{0}")]
    Usage(String),
    /// The site cannot be served.
    #[error("{0}")]
    Site(String),
    /// The system refused something.
    #[error("cannot {action}")]
    Io {
        /// What was being done.
        action: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// An answer other than success: the status, a stable code for scripts, the message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// More for the client (a validation report, the paths a revert would lose).
    pub(crate) details: Option<serde_json::Value>,
    /// A 401 that says how to authenticate (`WWW-Authenticate: Bearer`).
    pub(crate) challenge: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            challenge: false,
        }
    }

    pub(crate) fn with_challenge(mut self) -> Self {
        self.challenge = true;
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure of the server's side: said in words, with its causes (credentials in
    /// URLs masked).
    pub(crate) fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            masked(&sitepack_format::error_chain(error)),
        )
    }

    pub(crate) fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// A message with any password in a URL, or credential-shaped value, masked.
pub(crate) fn masked(message: &str) -> String {
    sitepack_format::mask_url_user_info(&sitepack_format::mask_credentials(message))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": { "code": self.code, "message": self.message },
        });
        if let Some(details) = self.details {
            body["error"]["details"] = details;
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.challenge {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"sitepack\""),
            );
        }
        response
    }
}

/// A restore-crate error as an answer: a refusal is the client's to fix (409 when the
/// site is busy or a restore is pending, 422 otherwise); anything else is the server's.
impl From<sitepack_restore::RestoreError> for ApiError {
    fn from(error: sitepack_restore::RestoreError) -> Self {
        use sitepack_restore::{Refusal, RestoreError};
        use sitepack_site::SiteRefusal;
        match &error {
            RestoreError::Refused { reason } => {
                let conflict = matches!(
                    reason,
                    Refusal::RestorePending { .. }
                        | Refusal::SiteChanged { .. }
                        | Refusal::Site(SiteRefusal::Busy { .. })
                );
                let message = format!(
                    "refused; nothing was changed: {}",
                    sitepack_format::error_chain(reason)
                );
                let mut answer = if conflict {
                    Self::new(StatusCode::CONFLICT, "conflict", masked(&message))
                } else {
                    Self::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "refused",
                        masked(&message),
                    )
                };
                if let Refusal::InvalidArchive { report } = reason {
                    answer = answer.with_details(serde_json::json!({ "validation": report }));
                }
                answer
            }
            _ => Self::internal(&error),
        }
    }
}

impl From<sitepack_site::SiteError> for ApiError {
    fn from(error: sitepack_site::SiteError) -> Self {
        use sitepack_site::{SiteError, SiteRefusal};
        match &error {
            SiteError::Busy { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            SiteError::Refused { reason } => {
                let message = masked(&format!(
                    "refused; nothing was changed: {}",
                    sitepack_format::error_chain(reason)
                ));
                match reason {
                    // The paths a revert would lose, for the client to show; over the
                    // API, `--force` is `{"force": true}`.
                    SiteRefusal::ChangedSinceRestore { paths, .. } => Self::new(
                        StatusCode::CONFLICT,
                        "changed_since_restore",
                        format!("{message} (through the API: {{\"force\": true}})"),
                    )
                    .with_details(serde_json::json!({ "changed_since_restore": paths })),
                    SiteRefusal::NothingPending { .. } | SiteRefusal::Busy { .. } => {
                        Self::new(StatusCode::CONFLICT, "conflict", message)
                    }
                    _ => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message),
                }
            }
            _ => Self::internal(&error),
        }
    }
}

impl From<sitepack_store::StoreError> for ApiError {
    fn from(error: sitepack_store::StoreError) -> Self {
        use sitepack_store::StoreError;
        match &error {
            StoreError::NotFound { .. } => {
                Self::not_found(masked(&sitepack_format::error_chain(&error)))
            }
            // Another backup of that name, or the site busy with another command.
            StoreError::Exists { .. }
            | StoreError::Create {
                source:
                    sitepack_site::SiteError::Busy { .. } | sitepack_site::SiteError::Refused { .. },
            } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                masked(&sitepack_format::error_chain(&error)),
            ),
            // A stored backup that is not what its sidecar says: a verdict, not a failure.
            _ if error.is_mismatch() => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mismatch",
                masked(&sitepack_format::error_chain(&error)),
            ),
            _ => Self::internal(&error),
        }
    }
}

/// A database site's refusal is the client's to fix: 409 when a restore is pending or
/// running (the review), 422 otherwise; anything else is the server's.
impl From<sitepack_db::DbError> for ApiError {
    fn from(error: sitepack_db::DbError) -> Self {
        use sitepack_db::DbError;
        match sitepack_db::request::refusal_message("refused", &error) {
            Some(_) => {
                let message = masked(&format!(
                    "refused; nothing was changed: {}",
                    sitepack_format::error_chain(&error)
                ));
                if matches!(error, DbError::Review { .. }) {
                    Self::new(StatusCode::CONFLICT, "conflict", message)
                } else {
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message)
                }
            }
            None => Self::internal(&error),
        }
    }
}
