//! `GET /api/restore` (the restore pending review), `POST /api/restore/keep` and
//! `POST /api/restore/revert`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use sitepack_site::access::Change;
use sitepack_site::{LockedSite, Operation, Settled, SiteError, SiteState};

use super::{Shared, blocking, parse_body};
use crate::error::ApiError;

pub(super) async fn status(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let _reading = state.reading();
        if let Some(site) = state.site.database() {
            let settled = sitepack_db::request::restore_status(site.descriptor())?;
            return Ok(Json(serde_json::json!({
                "kind": "database",
                "pending": settled.pending,
                "removed_snapshots": settled.removed,
                "files_finished": settled.files_finished,
                "files_unfinished": settled.files_unfinished,
            })));
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
        if let Some(site) = state.site.database() {
            let mut warnings = Vec::new();
            let kept = sitepack_db::request::keep_restore(site.descriptor(), &mut warnings)?;
            return Ok(serde_json::json!({
                "settled": "keep",
                "restore": kept,
                "warnings": warnings,
            }));
        }
        settle(state.site.path(), Operation::Keep, LockedSite::keep)
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
        if let Some(site) = state.site.database() {
            let mut warnings = Vec::new();
            let reverted = sitepack_db::request::revert_restore(site.descriptor(), &mut warnings)?;
            return Ok(serde_json::json!({
                "settled": "revert",
                "restore": reverted.pending,
                "reverted": reverted.summary,
                "files": reverted.files,
                "warnings": warnings,
            }));
        }
        settle(state.site.path(), Operation::Revert, action)
    })
    .await
    .map(Json)
}

/// A directory site's `keep` or `revert`: every refusal is recorded in the audit log, as
/// the command's is.
fn settle(
    site: &std::path::Path,
    operation: Operation,
    action: fn(&LockedSite) -> Result<Settled, SiteError>,
) -> Result<serde_json::Value, ApiError> {
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
