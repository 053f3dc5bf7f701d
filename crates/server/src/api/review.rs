//! `GET /api/restore` (the restore pending review), `POST /api/restore/keep` and
//! `POST /api/restore/revert`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use sitepack_site::access::Change;
use sitepack_site::{LockedSite, Operation, Settled, SiteError, SiteState};

use super::{Shared, blocking, parse_body};
use crate::error::ApiError;

pub(super) async fn status(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let _reading = state.reading();
        if let Some(site) = state.site.database() {
            let descriptor = site.descriptor();
            sitepack_db::review::check_state_dir_owner(descriptor)?;
            let pending = sitepack_db::review::pending_restore(descriptor)?;
            return Ok(Json(
                serde_json::json!({ "kind": "database", "pending": pending }),
            ));
        }
        let status = state.site.read_state()?;
        Ok(Json(serde_json::json!({
            "kind": "directory",
            "recovered": status.recovered,
            "pending": status.pending,
        })))
    })
    .await
}

pub(super) async fn keep(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let _changing = state.changing()?;
        settle(
            state.site.path(),
            Operation::Keep,
            LockedSite::keep,
            state.site.database().is_some(),
        )
    })
    .await
    .map(Json)
}

/// `{"force": true}` reverts even when paths the restore touched changed since (those
/// edits are lost); without it such a revert is refused (409) naming them.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RevertRequest {
    #[serde(default)]
    force: bool,
}

pub(super) async fn revert(
    State(state): Shared,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request: RevertRequest = if body.is_empty() {
        RevertRequest::default()
    } else {
        parse_body(&body)?
    };
    let action = if request.force {
        LockedSite::revert_discarding_edits
    } else {
        LockedSite::revert
    };
    blocking(move || {
        let _changing = state.changing()?;
        settle(
            state.site.path(),
            Operation::Revert,
            action,
            state.site.database().is_some(),
        )
    })
    .await
    .map(Json)
}

fn settle(
    site: &std::path::Path,
    operation: Operation,
    action: fn(&LockedSite) -> Result<Settled, SiteError>,
    database: bool,
) -> Result<serde_json::Value, ApiError> {
    if database {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_built",
            format!(
                "{} of a database site's restore through the API is not built yet: run `sitepack {} SITE.toml`",
                operation.as_str(),
                operation.as_str()
            ),
        ));
    }
    // Every refusal is recorded in the audit log, as the command's is.
    let refused = |error: SiteError| {
        if let SiteError::Refused { reason } = &error {
            let _ = sitepack_site::record_refusal(site, operation, reason);
        }
        ApiError::from(error)
    };
    let opened = SiteState::open(site, Change).map_err(refused)?;
    let settled = action(&opened.held).map_err(refused)?;
    Ok(serde_json::json!({
        "recovered": opened.recovered,
        "settled": operation.as_str(),
        "restore": settled.restore,
        "paths_restored": settled.paths_restored,
        "audit_warning": settled.audit_warning,
    }))
}
