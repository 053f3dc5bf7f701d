//! `GET /api/audit?type=…&limit=…`: the site's audit log, oldest first.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use sitepack_site::{AuditFilter, Operation};

use super::{Shared, blocking};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): Shared,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let operation = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(kind) => Some(kind.parse::<Operation>().map_err(|_| {
            ApiError::bad_request(format!(
                "type {kind:?}: give one of {}",
                Operation::ALL.map(Operation::as_str).join(", ")
            ))
        })?),
    };
    let filter = AuditFilter {
        operation,
        limit: query.limit,
    };
    blocking(move || {
        let log = sitepack_site::read_audit_log(state.site.state_root(), &filter)
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(serde_json::json!({
            "events": log.events,
            "matched": log.matched,
            "bad_lines": log.bad_lines,
            "bad_line_count": log.bad_line_count,
        })))
    })
    .await
}
