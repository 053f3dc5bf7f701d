//! The routes: the Backup API under `/api/` (admins only), the page at `/`.
//!
//! Every handler runs the library call on a blocking thread and answers with its JSON;
//! a refusal is the client's to fix (409 when the site is busy or a restore is pending,
//! 422 otherwise), an error the server's (500); each message says what to do.

mod audit;
mod auto;
mod backup;
mod page;
mod review;
mod saved;

use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::ServedSite;
use crate::auth::Credentials;
use crate::error::{ApiError, ServeError};
use crate::progress::Activities;
use crate::uploads::Uploads;

/// The refusal of a server without any admin credential.
pub const NO_CREDENTIAL: &str = "no admin credential: give --token-file FILE (or SITEPACK_ADMIN_TOKEN), or --jwt-secret-file FILE; every API call needs one";

/// What every handler shares.
pub struct AppState {
    site: ServedSite,
    credentials: Credentials,
    max_upload_bytes: u64,
    uploads: Uploads,
    activities: Arc<Activities>,
    /// The server's own requests on the site queue here instead of refusing each other
    /// through the site lock (which still refuses other processes): reads share it, a
    /// restore, keep or revert has it alone once the reads running have finished.
    site_access: RwLock<()>,
    /// Held by the one restore, keep or revert running: a second is answered 409 at once.
    changing: Mutex<()>,
}

impl AppState {
    /// For a request that reads the site (or backs it up): waits while a restore, keep or
    /// revert of this server runs.
    fn reading(&self) -> RwLockReadGuard<'_, ()> {
        self.site_access
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// For a restore, keep or revert: 409 while another runs; then waits for the reads
    /// running now (a page refreshing its stats) to finish.
    fn changing(&self) -> Result<(MutexGuard<'_, ()>, RwLockWriteGuard<'_, ()>), ApiError> {
        let alone = match self.changing.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "conflict",
                    "refused; nothing was changed: another restore, keep or revert of this site is running; wait for it to finish, then try again",
                ));
            }
        };
        let write = self
            .site_access
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.site.forget_stats();
        Ok((alone, write))
    }

    /// The state of a server of `site`.
    pub fn new(
        site: ServedSite,
        credentials: Credentials,
        max_upload_bytes: u64,
    ) -> Result<Self, ServeError> {
        if credentials.is_empty() {
            return Err(ServeError::Usage(NO_CREDENTIAL.to_owned()));
        }
        Ok(Self {
            site,
            credentials,
            max_upload_bytes,
            uploads: Uploads::new()?,
            activities: Arc::default(),
            site_access: RwLock::new(()),
            changing: Mutex::new(()),
        })
    }
}

type Shared = State<Arc<AppState>>;

/// The application: the API behind the admin check, the page and its assets open.
/// `tls`: served over HTTPS (browsers are told to keep to it).
pub fn router(state: Arc<AppState>, tls: bool) -> Router {
    let api = Router::new()
        .route("/backup/stats", get(backup::stats))
        .route("/backup/export", get(backup::export))
        .route(
            "/backup/import",
            // Streamed to disk with its own limit (413), not axum's in-memory default.
            post(backup::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/backup/import/{id}/apply", post(backup::apply))
        .route("/restore", get(review::status))
        .route("/restore/keep", post(review::keep))
        .route("/restore/revert", post(review::revert))
        .route("/backups", get(saved::list).post(saved::create))
        .route(
            "/backups/{name}",
            get(saved::download).delete(saved::delete),
        )
        .route("/backups/{name}/restore", post(saved::restore))
        .route("/auto", get(auto::show).put(auto::update))
        .route("/auto/run", post(auto::run))
        .route("/audit", get(audit::list))
        .route("/progress", get(progress))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_admin,
        ))
        // Open: the description of the API itself.
        .route("/openapi.json", get(page::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/api", api)
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .fallback(not_found)
        .layer(middleware::map_response(move |response| async move {
            protect(response, tls)
        }))
        .with_state(state)
}

/// Every answer: never sniffed as another type, never cached (exports and the audit
/// log are the site's data), and over TLS, HTTPS only from then on.
fn protect(mut response: Response, tls: bool) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not one of this endpoint's; GET /api/openapi.json lists them",
    )
}

async fn require_admin(
    State(state): Shared,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = state.credentials.check(request.headers())?;
    state.site.check_present()?;
    Ok(CALLER.scope(caller, next.run(request)).await)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint; GET /api/openapi.json lists them")
}

/// `GET /api/progress`: the long operations running now.
async fn progress(State(state): Shared) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "running": state.activities.reports() }))
}

tokio::task_local! {
    /// The request's authenticated caller, for the audit log.
    static CALLER: String;
}

/// Runs a library call on a blocking thread, the audit events it records made for the
/// request's caller.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let caller = CALLER
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "api".to_owned());
    tokio::task::spawn_blocking(move || sitepack_site::acting_for(&caller, call))
        .await
        .map_err(|e| {
            ApiError::internal(&std::io::Error::other(format!(
                "the operation stopped: {e}"
            )))
        })?
}

/// A JSON request body, parsed with a message that names what is wrong (400).
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request needs a JSON body"));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("the JSON body is not as expected: {e}")))
}
