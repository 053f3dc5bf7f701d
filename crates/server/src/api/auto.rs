//! Automatic backups: `GET /api/auto`, `PUT /api/auto` (the `[auto]` settings of the
//! site's `config.toml`) and `POST /api/auto/run` (an automatic backup now, whatever
//! the schedule says).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use sitepack_store::{AutoRunOptions, AutoSettings, AutoSite};

use super::{Shared, blocking, parse_body};
use crate::error::{ApiError, masked};

pub(super) async fn show(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        // A config.toml that does not check is the admin's to repair (the page's form
        // saves a whole new [auto] table): said as such, not as the server's failure.
        let mut settings =
            sitepack_store::read_auto_settings(state.site.state_root()).map_err(|e| match e {
                e @ sitepack_store::StoreError::Io { .. } => ApiError::from(e),
                e => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_settings",
                    masked(&sitepack_format::error_chain(&e)),
                ),
            })?;
        // A password written into the file by hand is not said back.
        if let Some(endpoint) = settings.as_mut().and_then(|s| s.endpoint.as_mut()) {
            *endpoint = sitepack_format::mask_url_user_info(endpoint);
        }
        let next_due = match &settings {
            Some(settings) if settings.enabled => {
                sitepack_store::read_config(state.site.state_root())?
                    .auto
                    .schedule
                    .next_after(sitepack_format::Timestamp::now())
            }
            _ => None,
        };
        Ok(Json(serde_json::json!({
            "configured": settings.is_some(),
            "settings": settings,
            "next_due": next_due,
        })))
    })
    .await
}

pub(super) async fn update(
    State(state): Shared,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let settings: AutoSettings = parse_body(&body)?;
    blocking(move || {
        let source = state.site.open_source()?;
        let own_dirs = source.own_dirs();
        match sitepack_store::write_auto_settings(state.site.state_root(), &own_dirs, &settings) {
            Ok(_) => Ok(Json(serde_json::json!({ "settings": settings }))),
            Err(e @ sitepack_store::StoreError::Io { .. }) => Err(e.into()),
            // A setting that does not check: the client's to fix; nothing was written.
            Err(e) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_settings",
                masked(&format!("not saved: {}", sitepack_format::error_chain(&e))),
            )),
        }
    })
    .await
}

/// An automatic backup now: recovery, backup, verification, retention and audit, as
/// `sitepack auto run` (without `--if-due`) does them.
pub(super) async fn run(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let _reading = state.reading();
        let running = state.activities.start("auto");
        let open = || state.site.open_source();
        let site = AutoSite {
            state_root: state.site.state_root(),
            open: &open,
            known: true,
        };
        let options = AutoRunOptions {
            now: sitepack_format::Timestamp::now(),
            if_due: false,
            on_failure: None,
        };
        match sitepack_store::auto_run(&site, &options, running.activity.as_ref()) {
            Ok(report) => Ok(Json(
                serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?,
            )),
            Err(failure) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "failed",
                masked(&format!("the automatic backup failed: {}", failure.error)),
            )
            .with_details(serde_json::json!({ "warnings": failure.warnings }))),
        }
    })
    .await
}
