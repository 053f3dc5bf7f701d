//! `GET /api/backup/stats`, `GET /api/backup/export`, `POST /api/backup/import` and
//! `POST /api/backup/import/{id}/apply`.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use sitepack_format::{Options, Scope, Timestamp};
use sitepack_reader::{Archive, Limits};
use sitepack_restore::{PlanOptions, RestoreError, RestoreMode, RewriteChoice, RewriteRule};
use sitepack_site::access::Change;
use sitepack_site::{ArchiveOutput, SiteState};
use sitepack_writer::CreateOptions;

use super::{AppState, Shared, blocking, parse_body};
use crate::error::{ApiError, masked};

/// The header that carries the SHA-256 of a downloaded archive (written to a temporary
/// file first, so the digest is known before the first byte is sent).
pub(crate) const DIGEST_HEADER: &str = "x-sitepack-archive-sha256";

pub(super) async fn stats(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let _reading = state.reading();
        state.site.stats().map(Json)
    })
    .await
}

/// `?scope=full&files=true&label=…`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportQuery {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    files: Option<bool>,
    #[serde(default)]
    label: Option<String>,
}

/// The archive options a request asks for.
pub(super) fn create_options(
    scope: Option<&str>,
    files: Option<bool>,
    label: Option<String>,
) -> Result<CreateOptions, ApiError> {
    let scope: Scope = scope
        .unwrap_or("full")
        .parse()
        .map_err(|e: sitepack_format::FormatError| ApiError::bad_request(format!("scope: {e}")))?;
    let mut options = CreateOptions::new(scope);
    options.options = Options {
        files: files.unwrap_or(true),
    };
    options.label = label.filter(|l| !l.is_empty());
    options.created_at = Timestamp::now();
    Ok(options)
}

/// Streams a new archive of the site (audited as a `create`).
pub(super) async fn export(
    method: axum::http::Method,
    State(state): Shared,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if method == axum::http::Method::HEAD {
        // An export writes a backup and an audit event: never for a HEAD.
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "an export is a GET: it writes a new archive (and an audit event) each time",
        ));
    }
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let options = create_options(query.scope.as_deref(), query.files, query.label)?;
    let (file, summary) = blocking(move || {
        let _reading = state.reading();
        let source = state.site.open_for_backup()?;
        let running = state.activities.start("export");
        let (mut file, path) = state.uploads.create_file(".export.zip")?;
        // Open: the bytes stay readable, and nothing is left behind however the
        // download ends.
        let _ = std::fs::remove_file(&path);
        let output = ArchiveOutput::Stream {
            out: &mut file,
            // What the audit log records as the output.
            name: Path::new("<download through the API>"),
        };
        let backup = sitepack_site::create_backup(
            source.as_ref(),
            &options,
            output,
            running.activity.as_ref(),
        )?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| ApiError::internal(&e))?;
        Ok((file, backup.summary))
    })
    .await?;
    let name = format!(
        "{}-{}.zip",
        summary.manifest.site.id,
        summary.manifest.created_at.to_string().replace(':', "")
    );
    Ok(file_response(
        file,
        summary.archive_size,
        &summary.archive_sha256.to_string(),
        &name,
    ))
}

/// An archive file as a download, its digest in [`DIGEST_HEADER`].
pub(super) fn file_response(file: std::fs::File, size: u64, sha256: &str, name: &str) -> Response {
    // Large chunks: 4 KiB ones (the default) took longer to send than to write the archive.
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    let disposition = format!(
        "attachment; filename=\"{}\"",
        name.replace(['"', '\\', '/'], "_")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(sha256) {
        headers.insert(DIGEST_HEADER, value);
    }
    response
}

/// Receives an archive (streamed to disk, 413 past the limit), validates it and plans a
/// restore of it into the site in both modes. Nothing is changed.
pub(super) async fn import(
    State(state): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = state.max_upload_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (id, path) = state
        .uploads
        .receive(body, announced, expects_continue, limit)
        .await?;
    let checked = {
        let state = Arc::clone(&state);
        let path = path.clone();
        let id = id.clone();
        blocking(move || examine(&state, &id, &path)).await
    };
    match checked {
        Ok(answer) => {
            state.uploads.keep(&id, path);
            Ok(Json(answer))
        }
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            Err(error)
        }
    }
}

/// Validation report, preview and both plans of the upload `id` at `path`; an invalid
/// archive is refused (422) with its report.
fn examine(state: &AppState, id: &str, path: &Path) -> Result<serde_json::Value, ApiError> {
    let _reading = state.reading();
    // Called by its upload id, never by the server's temporary path.
    let archive = Archive::open(path)
        .map(|archive| archive.named(format!("upload {id}")))
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_archive",
                format!(
                    "the upload cannot be read as a ZIP archive: {}",
                    sitepack_format::error_chain(&e)
                ),
            )
        })?;
    let report = archive.validate(&Limits::default()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
            format!(
                "the upload cannot be read as a sitepack archive: {}",
                sitepack_format::error_chain(&e)
            ),
        )
    })?;
    if !report.is_valid() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
            format!(
                "the upload is not a valid sitepack archive ({} error(s)); nothing was kept or changed",
                report.summary.errors
            ),
        )
        .with_details(serde_json::json!({ "validation": report })));
    }
    let preview = archive.preview().map_err(|e| ApiError::internal(&e))?;
    let plans = if let Some(site) = state.site.database() {
        let both = sitepack_db::request::BothPlans::plan(site.descriptor(), &archive, None)?;
        let planned = |plan: &sitepack_db::RestorePlan| {
            let reasons: Vec<&str> = plan.refusals.iter().map(|r| r.message.as_str()).collect();
            if reasons.is_empty() {
                serde_json::json!({ "plan": plan })
            } else {
                serde_json::json!({ "plan": plan, "refused": masked(&reasons.join("; ")) })
            }
        };
        serde_json::json!({
            "pending_restore": both.pending_restore.as_ref().map(|p| &p.archive),
            "merge": planned(&both.merge),
            "replace": planned(&both.replace),
        })
    } else {
        let pending = state.site.read_state()?.pending;
        let plan = |mode| match sitepack_restore::plan(
            state.site.path(),
            &archive,
            &plan_options(mode, &ApplyRequest::default())?,
        ) {
            Ok(plan) => Ok(serde_json::json!({ "plan": plan })),
            Err(RestoreError::Refused { reason }) => Ok(serde_json::json!({
                "refused": masked(&sitepack_format::error_chain(&reason)),
            })),
            Err(e) => Err(ApiError::from(e)),
        };
        serde_json::json!({
            "pending_restore": pending.map(|p| p.id),
            "merge": plan(RestoreMode::Merge)?,
            "replace": plan(RestoreMode::Replace)?,
        })
    };
    Ok(serde_json::json!({
        "upload_id": id,
        "archive_sha256": archive.sha256().ok(),
        "validation": report,
        "preview": preview,
        "plans": plans,
    }))
}

/// The body of an apply: `{"mode": "merge"|"replace", "confirm": true, …}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ApplyRequest {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    confirm: bool,
    /// `FROM=TO` rules; empty: the archive's URL is rewritten to the site's.
    #[serde(default)]
    rewrite_url: Vec<String>,
    #[serde(default)]
    allow_other_site: bool,
    /// Restore files too (default true).
    #[serde(default)]
    files: Option<bool>,
}

fn plan_options(mode: RestoreMode, request: &ApplyRequest) -> Result<PlanOptions, ApiError> {
    let rules = request
        .rewrite_url
        .iter()
        .map(|rule| {
            rule.parse::<RewriteRule>()
                .map_err(|e| ApiError::bad_request(format!("rewrite_url {rule:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PlanOptions {
        mode,
        allow_other_site: request.allow_other_site,
        files: request.files.unwrap_or(true),
        as_user: None,
        rewrite: if rules.is_empty() {
            RewriteChoice::Auto
        } else {
            RewriteChoice::Rules(rules)
        },
    })
}

/// Checks the body of an apply: a mode, and `confirm: true`.
pub(super) fn parse_apply(body: &Bytes) -> Result<(RestoreMode, ApplyRequest), ApiError> {
    let request: ApplyRequest = parse_body(body)?;
    let mode = match request.mode.as_deref() {
        Some("merge") => RestoreMode::Merge,
        Some("replace") => RestoreMode::Replace,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode {other:?}: give \"merge\" or \"replace\""
            )));
        }
        None => {
            return Err(ApiError::bad_request(
                "give the mode: \"merge\" or \"replace\"",
            ));
        }
    };
    if !request.confirm {
        return Err(ApiError::bad_request(
            "a restore changes the site: send \"confirm\": true once the plan has been read",
        ));
    }
    Ok((mode, request))
}

/// Restores the upload `id`, pending review.
pub(super) async fn apply(
    State(state): Shared,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (mode, request) = parse_apply(&body)?;
    let path = crate::uploads::is_upload_id(&id)
        .then(|| state.uploads.get(&id))
        .flatten()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no upload {id:?} waits here (uploads are kept until applied, 8 at most, while the server runs): upload the archive again"
            ))
        })?;
    let name = format!("upload {id}");
    let answer = {
        let state = Arc::clone(&state);
        blocking(move || restore_file(&state, &path, &name, mode, &request)).await?
    };
    state.uploads.remove(&id);
    Ok(Json(answer))
}

/// Validates the archive at `path` again, plans under the site lock and restores it,
/// pending review; a refusal is recorded in the audit log, as the command's is.
pub(super) fn restore_file(
    state: &AppState,
    path: &PathBuf,
    name: &str,
    mode: RestoreMode,
    request: &ApplyRequest,
) -> Result<serde_json::Value, ApiError> {
    let options = plan_options(mode, request)?;
    if state.site.database().is_some() && !request.rewrite_url.is_empty() {
        return Err(ApiError::bad_request(
            "rewrite_url: a database site's rows are restored as they are; leave it out",
        ));
    }
    let _changing = state.changing()?;
    let archive = Archive::open(path)
        .map(|archive| archive.named(name))
        .map_err(|e| ApiError::internal(&e))?;
    let running = state.activities.start("restore");
    let report = archive
        .validate_with_progress(&Limits::default(), running.activity.as_ref())
        .map_err(|e| ApiError::internal(&e))?;
    if !report.is_valid() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_archive",
            format!("{name} is not a valid sitepack archive; nothing was changed"),
        )
        .with_details(serde_json::json!({ "validation": report })));
    }
    if let Some(site) = state.site.database() {
        return restore_database(site, &archive, name, mode, request);
    }
    let site_path = state.site.path();
    // The served site only (never one made anew where it was removed meanwhile).
    let opened = match SiteState::open(site_path, Change).map_err(RestoreError::from) {
        Ok(opened) => opened,
        Err(error) => {
            // Refused by the lock (another command is changing the site): recorded here,
            // as the command does; the plan's and the restore's refusals the library
            // records itself.
            if let RestoreError::Refused { reason } = &error {
                let _ = sitepack_site::record_refused_restore(
                    site_path,
                    name,
                    archive.sha256().ok(),
                    mode,
                    reason,
                );
            }
            return Err(error.into());
        }
    };
    let site = opened.held;
    let plan = sitepack_restore::plan_into(&site, &archive, &options)?;
    if plan.is_empty() {
        return Ok(serde_json::json!({ "plan": plan, "restore": null }));
    }
    let applied = sitepack_restore::apply(&site, &archive, &plan, running.activity.as_ref())?;
    Ok(serde_json::json!({
        "recovered": opened.recovered,
        "plan": plan,
        "restore": applied,
    }))
}

/// A database site's restore: the same steps as `sitepack restore ARCHIVE SITE.toml
/// --yes`, every refusal audited. `allow_other_site` writes another tenant's archive as
/// the descriptor's tenant, with fresh keys.
fn restore_database(
    site: &sitepack_db::DatabaseSite,
    archive: &Archive,
    name: &str,
    mode: RestoreMode,
    request: &ApplyRequest,
) -> Result<serde_json::Value, ApiError> {
    use sitepack_db::request::{Preparation, RestoreRequest, prepare_restore};
    let descriptor = site.descriptor();
    let asked = RestoreRequest {
        archive_name: name,
        options: sitepack_db::RestoreOptions {
            mode: match mode {
                RestoreMode::Merge => sitepack_db::Mode::Merge,
                RestoreMode::Replace => sitepack_db::Mode::Replace,
            },
            as_tenant: request.allow_other_site.then(|| descriptor.tenant.clone()),
            new_tenant: false,
        },
        files: request.files.unwrap_or(true),
        dry_run: false,
    };
    let mut warnings = Vec::new();
    let mut prepared = match prepare_restore(descriptor, archive, &asked, "restore", &mut warnings)?
    {
        Preparation::Planned(prepared) => prepared,
        Preparation::Refused { error, .. } => return Err(error.into()),
    };
    if let Some(error) = prepared.refusal.take() {
        let error = prepared.refuse(descriptor, archive, "restore", error, &mut warnings);
        return Err(
            ApiError::from(error).with_details(serde_json::json!({ "plan": prepared.plan }))
        );
    }
    let done = prepared
        .restore(descriptor, archive, &asked, &mut warnings)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("the restore was not run")))??;
    let answer = serde_json::json!({
        "plan": prepared.plan,
        "restore": done,
        "warnings": warnings,
    });
    match &done.files_unfinished {
        // The rows are restored (pending review); the files are not all in place.
        Some(problem) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "files_unfinished",
            masked(problem),
        )
        .with_details(answer)),
        None => Ok(answer),
    }
}
