//! Saved backups in the target: `GET /api/backups`, `POST /api/backups` (create now),
//! `GET /api/backups/{name}` (download), `DELETE /api/backups/{name}`,
//! `POST /api/backups/{name}/restore`. `{name}` is the backup's name in the target
//! (`<site-id>/<…>.zip`, its slash percent-encoded): only this site's backups are named.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sitepack_store::{BackupKind, BackupRequest, StoredBackup, TargetSpec};

use super::backup::{create_options, file_response, parse_apply, restore_file};
use super::{AppState, Shared, blocking, parse_body};
use crate::error::ApiError;

pub(super) async fn list(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (store, target) = state.site.store()?;
        let site = state.site.identity()?;
        let mut listing = sitepack_store::list_backups(store.as_ref(), Some(&site.id))?;
        listing.backups.reverse();
        Ok(Json(serde_json::json!({
            "target": target,
            "backups": listing.backups,
        })))
    })
    .await
}

/// `{"label": …, "scope": "full", "files": true}`, every field optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    files: Option<bool>,
}

/// Creates a manual backup in the target (audited as `create`, with the target).
pub(super) async fn create(
    State(state): Shared,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let request: CreateRequest = if body.is_empty() {
        CreateRequest::default()
    } else {
        parse_body(&body)?
    };
    let options = create_options(request.scope.as_deref(), request.files, request.label)?;
    blocking(move || {
        let _reading = state.reading();
        let source = state.site.open_for_backup()?;
        let (store, target) = state.site.store()?;
        if let Some(fixed) = state.site.fixed_target() {
            let spec: TargetSpec = fixed.parse()?;
            for dir in source.own_dirs() {
                spec.check_outside_site(dir)?;
            }
        }
        let running = state.activities.start("backup");
        let request = BackupRequest {
            site: source.as_ref(),
            options: options.clone(),
            kind: BackupKind::Manual,
            verify_digest: false,
            encrypt_to: None,
        };
        let result =
            sitepack_store::backup_site(&request, store.as_ref(), running.activity.as_ref());
        let warning = sitepack_store::record_stored_backup(
            state.site.state_root(),
            &target,
            &options,
            result.as_ref(),
        );
        let stored = result?;
        Ok((
            StatusCode::CREATED,
            Json(
                serde_json::json!({ "target": target, "backup": stored, "audit_warning": warning }),
            ),
        ))
    })
    .await
}

/// The backup `name` of this site, from its sidecar; any other name is refused before
/// the target is asked.
fn find(
    state: &AppState,
    name: &str,
) -> Result<(Box<dyn sitepack_store::BackupStore>, StoredBackup), ApiError> {
    let site = state.site.identity()?;
    if !is_backup_of(site.id.as_str(), name) {
        return Err(ApiError::not_found(format!(
            "{name:?} is not the name of a backup of site {}: names are `{}/<…>.zip`, as GET /api/backups lists them",
            site.id, site.id
        )));
    }
    let (store, _) = state.site.store()?;
    let backup = sitepack_store::find_backup(store.as_ref(), name)?;
    Ok((store, backup))
}

/// Whether `name` has the form of a backup of site `site`: `<site>/<file>.zip`, one
/// plain file name (no other directory, no backslash, not hidden, printable ASCII).
fn is_backup_of(site: &str, name: &str) -> bool {
    name.strip_prefix(site)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|file| {
            std::path::Path::new(file)
                .extension()
                .is_some_and(|e| e == "zip")
                && !file.contains(['/', '\\'])
                && !file.starts_with('.')
                && file.bytes().all(|b| b.is_ascii_graphic())
        })
}

/// Downloads the backup into a private file, checked against its sidecar's digest.
fn fetch(
    state: &AppState,
    name: &str,
) -> Result<(StoredBackup, std::fs::File, std::path::PathBuf), ApiError> {
    let (store, backup) = find(state, name)?;
    let (mut file, path) = state.uploads.create_file(".download.zip")?;
    if let Err(e) = sitepack_store::fetch_into(store.as_ref(), &backup, &mut file) {
        let _ = std::fs::remove_file(&path);
        return Err(e.into());
    }
    Ok((backup, file, path))
}

pub(super) async fn download(
    State(state): Shared,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let (backup, file, path) = fetch(&state, &name)?;
        let _ = std::fs::remove_file(&path);
        let file_name = name.rsplit('/').next().unwrap_or(&name).to_owned();
        Ok(file_response(
            file,
            backup.size,
            &backup.sha256.to_string(),
            &file_name,
        ))
    })
    .await
}

pub(super) async fn delete(
    State(state): Shared,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (store, backup) = find(&state, &name)?;
        let deleted = sitepack_store::delete_backup(store.as_ref(), &backup);
        // Recorded as a prune without a policy: the backups removed, by hand.
        let details = sitepack_site::PruneDetails {
            target: Some(sitepack_format::mask_url_user_info(&store.describe())),
            site: Some(backup.site.id.to_string()),
            removed: deleted.is_ok().then(|| vec![backup.name.clone()]),
            error: deleted
                .as_ref()
                .err()
                .map(|e| sitepack_format::error_chain(e)),
            ..sitepack_site::PruneDetails::default()
        };
        let outcome = if deleted.is_ok() {
            sitepack_site::Outcome::Ok
        } else {
            sitepack_site::Outcome::Failed
        };
        let warning = sitepack_site::record_audit_event(
            state.site.state_root(),
            outcome,
            sitepack_site::Details::Prune(details),
        );
        deleted?;
        Ok(Json(
            serde_json::json!({ "deleted": backup.name, "audit_warning": warning }),
        ))
    })
    .await
}

/// Restores a saved backup (body as for an upload's apply), pending review.
pub(super) async fn restore(
    State(state): Shared,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (mode, request) = parse_apply(&body)?;
    let state = Arc::clone(&state);
    blocking(move || {
        let (backup, file, path) = fetch(&state, &name).inspect_err(|error| {
            // A backup that is not what its sidecar says is refused, and recorded: a
            // tampered backup is what the audit log is for.
            if error.code == "mismatch" && state.site.database().is_none() {
                let _ = sitepack_site::record_refused_restore(
                    state.site.path(),
                    &name,
                    None,
                    mode,
                    &std::io::Error::other(error.message.clone()),
                );
            }
        })?;
        drop(file);
        let restored = if backup.encryption.is_some() {
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "encrypted",
                format!(
                    "{name} is encrypted: the server holds no identity to decrypt it; restore it with `sitepack restore {name} --from TARGET -i IDENTITY SITE`"
                ),
            ))
        } else {
            restore_file(&state, &path, &name, mode, &request)
        };
        let _ = std::fs::remove_file(&path);
        restored.map(Json)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::is_backup_of;

    #[test]
    fn only_a_plain_zip_of_this_site_is_a_backup_name() {
        assert!(is_backup_of("acme", "acme/20260101T000000Z-full.zip"));
        assert!(is_backup_of("acme", "acme/x.zip"));
        for name in [
            "acme/",
            "acme",
            "acme.zip",
            "acmex/a.zip",
            "other/a.zip",
            "acme/a.zip.json",
            "acme/a.ZIP.json",
            "acme/a",
            "acme/sub/a.zip",
            "acme/../a.zip",
            "acme/..\\a.zip",
            "acme/.hidden.zip",
            "acme/a b.zip",
            "acme/\u{e9}.zip",
            "/acme/a.zip",
            "acme//a.zip",
        ] {
            assert!(!is_backup_of("acme", name), "{name}");
        }
    }
}
