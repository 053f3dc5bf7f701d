//! Carrying out a plan under the site's lock (docs/SITE-STATE.md).
//!
//! A restore goes through these steps; a kill at any point leaves the site wholly before
//! or wholly after it, and the next command finishes the job ([`SiteState::open`](sitepack_site::SiteState::open)):
//!
//! 1. stage: the new content of every added or replaced path is written under
//!    `.sitepack/restore/staged/` and flushed. The site is untouched.
//! 2. snapshot: every path the restore replaces or deletes is copied, byte for byte,
//!    into `.sitepack/snapshots/<id>.zip`, which is flushed and renamed into place.
//! 3. journal: `.sitepack/restore/journal.json` (state `applying`) lists every touched
//!    path with its size, digest and mode before the restore. Until this rename, an
//!    interruption leaves nothing to undo: the work directory is simply removed.
//! 4. apply: deletes (and the directories they empty, unless new content goes there),
//!    then the directories the new content needs, then each staged file renamed over its
//!    path. Then one `syncfs`.
//!
//! Every path below the site and its `.sitepack/` is reached through [`Beneath`] handles
//! that never follow a link: a directory swapped for one is refused, never followed.
//! 5. pending: the journal's state becomes `pending`: the restore is complete and waits
//!    for `keep` (drop the snapshot) or `revert` (put back every touched path).
//!
//! A failure part way is undone at once with the site crate's [`roll_back`], which the
//! recovery of an interrupted restore and `revert` use too.

use std::collections::BTreeSet;
use std::fs::Permissions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use serde::Serialize;
use sitepack_format::{ArchivePath, Beneath, NodeKind, Progress, Timestamp, error_chain};
use sitepack_reader::Archive;
use sitepack_site::{
    Action, Before, Details, Journal, JournalChange, LockedSite, Outcome, PendingRestore, Places,
    RestoreDetails, State, discard_work, record_audit_event, roll_back,
};
use sitepack_writer::VerbatimZip;

use crate::{Plan, PlanOptions, Refusal, RestoreError};
use sitepack_format::failpoint;

/// Mode of a file the restore adds.
const NEW_FILE_MODE: u32 = 0o644;
/// Deflate level of snapshots: fast, they are written on the way to every restore.
const SNAPSHOT_LEVEL: u32 = 1;

/// What [`apply`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The restore, now pending review.
    pub pending: PendingRestore,
    /// Set when the audit log could not be appended to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<String>,
}

/// Plans restoring `archive` into the locked `site`, as [`plan`](crate::plan()) does, and
/// refuses while another restore is pending review. A refusal is recorded in the audit
/// log (outcome `refused`, with the reason).
pub fn plan_into(
    site: &LockedSite,
    archive: &Archive,
    options: &PlanOptions,
) -> Result<Plan, RestoreError> {
    let planned = match site.pending()? {
        Some(pending) => Err(RestoreError::refused(Refusal::RestorePending {
            id: pending.id,
            site: site.root().to_path_buf(),
        })),
        None => crate::plan(site.root(), archive, options),
    };
    if let Err(RestoreError::Refused { reason }) = &planned {
        let details = RestoreDetails {
            archive: Some(archive.name().to_owned()),
            archive_sha256: archive.sha256().ok(),
            mode: Some(options.mode),
            error: Some(error_chain(reason)),
            ..RestoreDetails::default()
        };
        // The refusal is the answer; a log that cannot be written does not change it.
        let _ = record_audit_event(site.root(), Outcome::Refused, Details::Restore(details));
    }
    planned
}

/// Carries out `plan` (made by [`plan_into`] of the locked `site` and `archive`): stage,
/// snapshot, journal, apply; the restore is then pending review. Refused while another
/// restore is pending. Any failure before the restore is complete puts the site back as
/// it was. Appends a `restore` event to the audit log either way.
pub fn apply(
    site: &LockedSite,
    archive: &Archive,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<Applied, RestoreError> {
    if let Some(pending) = site.pending()? {
        return Err(RestoreError::refused(Refusal::RestorePending {
            id: pending.id,
            site: site.root().to_path_buf(),
        }));
    }
    let places = site.places();
    let archive_sha256 = archive.sha256().map_err(RestoreError::from_reader)?;
    let mut journal = Journal::new(
        new_restore_id(),
        archive.name().to_owned(),
        archive_sha256,
        plan.scope.clone(),
        plan.mode,
    );
    let summary = plan_summary(plan);
    // Serializing a struct of strings and numbers cannot fail.
    journal.summary = serde_json::to_value(&summary).unwrap_or_default();
    let result = carry_out(places, archive, plan, &mut journal, progress);
    let mut details = RestoreDetails {
        restore_id: Some(journal.id.clone()),
        archive: Some(journal.archive.clone()),
        archive_sha256: Some(journal.archive_sha256),
        ..summary
    };
    match &result {
        Ok(()) => {
            let snapshot = places.internal_path(&Places::snapshot(&journal.id));
            details.snapshot = Some(snapshot.display().to_string());
        }
        Err(error) => details.error = Some(error_chain(error)),
    }
    let audit_warning = audit(site, result.is_ok(), Details::Restore(details));
    result?;
    // Marked complete only after its audit event: a kill between the two leaves an
    // `applying` journal, which the next command undoes and records.
    journal.state = State::Pending;
    if let Err(error) = journal.write(places) {
        let error = undo(places, &journal, error.into());
        let details = RestoreDetails {
            restore_id: Some(journal.id.clone()),
            error: Some(error_chain(&error)),
            ..RestoreDetails::default()
        };
        audit(site, false, Details::Restore(details));
        return Err(error);
    }
    failpoint::hit("pending");
    Ok(Applied {
        pending: PendingRestore::new(places, &journal),
        audit_warning,
    })
}

fn carry_out(
    places: &Places,
    archive: &Archive,
    plan: &Plan,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Result<(), RestoreError> {
    // Leftovers of an earlier attempt were removed by the recovery under this lock.
    discard_work(places)?;
    let prepared = prepare(places, archive, plan, journal, progress);
    if let Err(error) = prepared {
        // The site is untouched: only the work directory and snapshot go.
        let _ = discard_work(places);
        return Err(error);
    }
    failpoint::hit("journal");
    apply_changes(places, journal).map_err(|error| undo(places, journal, error))
}

/// Steps 1–3: stage, snapshot, journal. The site is not changed.
fn prepare(
    places: &Places,
    archive: &Archive,
    plan: &Plan,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Result<(), RestoreError> {
    let internal_io = |action: &'static str, relative: &str| {
        let path = places.internal_path(relative);
        move |e| RestoreError::io(action, path, e)
    };
    let staged_dir = Places::staged_dir();
    let staged = places
        .internal
        .create_dirs(&staged_dir)
        .map_err(internal_io("create", &staged_dir))?;
    // Deletes first, so that a file that gives way to a directory of the same name
    // (or the reverse) is out of the way when the new content arrives.
    let mut order: Vec<&crate::Change> = plan.changes.iter().collect();
    order.sort_by_key(|c| c.action != Action::Delete);
    progress.begin(order.len() as u64 * 2, 0);

    let snapshots = places
        .internal
        .create_dirs(Places::snapshots_dir())
        .map_err(internal_io("create", Places::snapshots_dir()))?;
    let snapshot_name_in_dir = format!("{}.zip", journal.id);
    let partial_name = format!("{snapshot_name_in_dir}.partial");
    let partial = places.internal_path(&format!("{}/{partial_name}", Places::snapshots_dir()));
    let snapshot_file = snapshots
        .create_new_file(&partial_name, 0o600)
        .map_err(|e| RestoreError::io("create", &partial, e))?;
    let mut snapshot = VerbatimZip::new(
        BufWriter::new(snapshot_file),
        &partial,
        Timestamp::now(),
        SNAPSHOT_LEVEL,
        staged.path(),
    );
    for (index, change) in order.iter().enumerate() {
        let native = places.site_path(&change.path);
        let before = match change.action {
            Action::Add => None,
            Action::Replace | Action::Delete => {
                let file = places
                    .site
                    .open_file(change.path.as_str())
                    .map_err(|e| RestoreError::io("read", &native, e))?;
                let mode = file
                    .metadata()
                    .map_err(|e| RestoreError::io("read the metadata of", &native, e))?
                    .mode()
                    & 0o7777;
                let name = Places::snapshot_entry(&change.path);
                let stored = snapshot
                    .add_file(&name, file, &native)
                    .map_err(|source| RestoreError::Snapshot { source })?;
                Some(Before {
                    size: stored.size,
                    sha256: stored.sha256,
                    mode,
                })
            }
        };
        progress.advance(0);
        let mut after = None;
        if change.action != Action::Delete {
            let mode = before.map_or(NEW_FILE_MODE, |b| b.mode);
            after = Some(stage(places, &staged, archive, plan, change, index, mode)?);
        }
        progress.advance(0);
        failpoint::hit_step("stage", index + 1);
        journal.changes.push(JournalChange {
            path: change.path.clone(),
            action: change.action,
            before,
            after,
        });
    }
    let mut out = snapshot
        .finish()
        .map_err(|source| RestoreError::Snapshot { source })?;
    out.flush()
        .map_err(|e| RestoreError::io("write", &partial, e))?;
    let file = out
        .into_inner()
        .map_err(|e| RestoreError::io("write", &partial, e.into_error()))?;
    file.sync_all()
        .map_err(|e| RestoreError::io("write", &partial, e))?;
    let snapshot_path = Places::snapshot(&journal.id);
    snapshots
        .rename(&partial_name, &snapshots, &snapshot_name_in_dir)
        .map_err(internal_io("rename into place", &snapshot_path))?;
    snapshots
        .sync()
        .map_err(internal_io("flush", Places::snapshots_dir()))?;
    failpoint::hit("snapshot");
    journal.created_dirs = dirs_to_create(places, &journal.changes)?;
    journal.parent_dirs = parents_of_deletes(places, &journal.changes)?;
    // The staged files reach the disk before the journal says they are there.
    places.sync_site()?;
    Ok(journal.write(places)?)
}

/// Appends an event; returns a warning when the log cannot be written.
fn audit(site: &LockedSite, ok: bool, details: Details) -> Option<String> {
    let outcome = if ok { Outcome::Ok } else { Outcome::Failed };
    record_audit_event(site.root(), outcome, details)
}

/// Writes the new content of `change` to its staged file, with `mode`, flushed later by
/// one `syncfs`. Returns what it wrote (size, SHA-256, mode).
fn stage(
    places: &Places,
    staged_dir: &Beneath,
    archive: &Archive,
    plan: &Plan,
    change: &crate::Change,
    index: usize,
    mode: u32,
) -> Result<Before, RestoreError> {
    let name = Places::staged_name(index);
    let staged = staged_dir.display_path(&name);
    let file = staged_dir
        .create_new_file(&name, mode)
        .map_err(|e| RestoreError::io("create", &staged, e))?;
    let mut out = BufWriter::new(file);
    let exists = plan.write_new_content(&places.root, archive, change, &mut out)?;
    let file = out
        .into_inner()
        .map_err(|e| RestoreError::io("write", &staged, e.into_error()))?;
    // The mode asked for at creation is narrowed by the umask: set it exactly.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| RestoreError::io("set the mode of", &staged, e))?;
    if !exists {
        // The plan said this path gets content; the site changed since it was made.
        return Err(RestoreError::refused(Refusal::SiteChanged {
            path: change.path.clone(),
        }));
    }
    let written = staged_dir
        .open_file(&name)
        .and_then(|file| Before::of_file(file, mode))
        .map_err(|e| RestoreError::io("read", &staged, e))?;
    Ok(written)
}

/// After `error` part way through applying: rolls back at once. Returns the error to
/// report (with the undo's own error when that failed too: the journal then stays for
/// the next command to retry).
fn undo(places: &Places, journal: &Journal, error: RestoreError) -> RestoreError {
    match roll_back(places, journal, "undo").and_then(|_| discard_work(places)) {
        Ok(()) => error,
        Err(undo) => RestoreError::UndoFailed {
            error: Box::new(error),
            undo: Box::new(undo.into()),
        },
    }
}

/// Step 4: deletes (with the directories they leave empty, unless new content goes
/// there), then the directories the new content needs (where a deleted file may have
/// stood), then renames of staged files over their paths.
fn apply_changes(places: &Places, journal: &Journal) -> Result<(), RestoreError> {
    let needed: BTreeSet<ArchivePath> = journal
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .flat_map(|c| parents(&c.path))
        .collect();
    let step = |index: usize, change: &JournalChange| {
        failpoint::fail_step("apply", index + 1)
            .map_err(|e| RestoreError::io("change", places.site_path(&change.path), e))
    };
    let changes = journal.changes.iter().enumerate();
    for (index, change) in changes.clone().filter(|(_, c)| c.action == Action::Delete) {
        step(index, change)?;
        places.remove_site_file(&change.path)?;
        remove_empty_parents(places, &change.path, &needed);
        failpoint::hit_step("apply", index + 1);
    }
    for dir in &journal.created_dirs {
        places
            .site
            .create_dirs(dir.as_str())
            .map_err(|e| RestoreError::io("create", places.site_path(dir), e))?;
    }
    for (index, change) in changes.filter(|(_, c)| c.action != Action::Delete) {
        step(index, change)?;
        places
            .internal
            .rename(&Places::staged(index), &places.site, change.path.as_str())
            .map_err(|e| {
                RestoreError::io(
                    "move the new content into",
                    places.site_path(&change.path),
                    e,
                )
            })?;
        failpoint::hit_step("apply", index + 1);
    }
    Ok(places.sync_site()?)
}

/// The directories the adds need that are not directories yet (missing, or a file that
/// this restore deletes first), parents first.
fn dirs_to_create(
    places: &Places,
    changes: &[JournalChange],
) -> Result<Vec<ArchivePath>, RestoreError> {
    let mut dirs = BTreeSet::new();
    for change in changes.iter().filter(|c| c.action == Action::Add) {
        for dir in parents(&change.path) {
            if dirs.contains(&dir) {
                continue;
            }
            let stat = places
                .site
                .stat(dir.as_str())
                .map_err(|e| RestoreError::io("read the metadata of", places.site_path(&dir), e))?;
            if !stat.is_some_and(|stat| stat.kind == NodeKind::Dir) {
                dirs.insert(dir);
            }
        }
    }
    // Byte order puts `a` before `a/b`: parents first.
    Ok(dirs.into_iter().collect())
}

/// The directories above the deleted paths, parents first, with their modes.
fn parents_of_deletes(
    places: &Places,
    changes: &[JournalChange],
) -> Result<Vec<(ArchivePath, u32)>, RestoreError> {
    let dirs: BTreeSet<ArchivePath> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .flat_map(|c| parents(&c.path))
        .collect();
    dirs.into_iter()
        .map(|dir| {
            let native = places.site_path(&dir);
            let mode = places
                .site
                .dir(dir.as_str())
                .and_then(|opened| opened.own_stat())
                .map_err(|e| RestoreError::io("read the metadata of", &native, e))?
                .mode;
            Ok((dir, mode))
        })
        .collect()
}

/// Removes the directories above `path` that its deletion left empty (never the site
/// root, nor a directory in `needed` by new content).
fn remove_empty_parents(places: &Places, path: &ArchivePath, needed: &BTreeSet<ArchivePath>) {
    for dir in parents(path).into_iter().rev() {
        if needed.contains(&dir) || places.site.remove_dir(dir.as_str()).is_err() {
            break;
        }
    }
}

/// The directories above `path`, outermost first.
fn parents(path: &ArchivePath) -> Vec<ArchivePath> {
    let mut dirs: Vec<ArchivePath> = path.prefixes().collect();
    dirs.pop();
    dirs
}

/// A new restore id: the time, then the process id, which no other live process has.
fn new_restore_id() -> String {
    format!("{}-{}", Timestamp::now().compact(), std::process::id())
}

/// The plan as the audit log (and the journal) records it: options and counts, never
/// content.
fn plan_summary(plan: &Plan) -> RestoreDetails {
    let count = |action| Some(plan.changes.iter().filter(|c| c.action == action).count() as u64);
    let mut records = crate::RecordChanges::default();
    for change in &plan.changes {
        if let Some(r) = change.records {
            records.added += r.added;
            records.changed += r.changed;
            records.deleted += r.deleted;
            records.unchanged += r.unchanged;
        }
    }
    RestoreDetails {
        scope: Some(plan.scope.to_string()),
        mode: Some(plan.mode),
        files: Some(plan.files),
        as_user: plan.as_user.clone(),
        site_json: Some(plan.site_json),
        added: count(Action::Add),
        replaced: count(Action::Replace),
        deleted: count(Action::Delete),
        unchanged: Some(plan.unchanged),
        records: Some(records),
        url_rewrites: Some(plan.url_rewrites.total),
        secrets_kept: Some(plan.secrets_kept.len() as u64),
        secrets_to_reenter: Some(plan.secrets_to_reenter.len() as u64),
        ..RestoreDetails::default()
    }
}
