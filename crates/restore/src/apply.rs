//! Carrying out a plan, and undoing it (docs/FORMAT.md §15).
//!
//! A restore goes through these steps; a kill at any point leaves the site wholly before
//! or wholly after it, and the next command finishes the job ([`LockedSite::acquire`]):
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
//! Undoing ([`roll_back`]) is idempotent and goes last change first: each path whose
//! content is not its recorded "before" is put back from the snapshot (or removed, if it
//! did not exist), so it can be interrupted and run again any number of times.

use std::collections::BTreeSet;
use std::fs::Permissions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use serde::Serialize;
use sitepack_format::{
    ArchivePath, Beneath, NodeKind, PAYLOAD_DIR, Progress, Timestamp, error_chain,
};
use sitepack_reader::{Archive, PlainZip};
use sitepack_site::{Details, Outcome, RestoreDetails, SettleDetails, record_audit_event};
use sitepack_writer::VerbatimZip;

use crate::journal::{Before, Journal, JournalChange, Places, State};
use crate::target::{digest_of, open_existing};
use crate::{Action, LockedSite, Plan, PlanOptions, Refusal, RestoreError, RestoreMode};
use sitepack_format::failpoint;

/// Mode of a file the restore adds.
const NEW_FILE_MODE: u32 = 0o644;
/// The temporary file a revert writes a path's old bytes to, in the work directory.
const RESTORING_NAME: &str = "restoring.tmp";
/// Deflate level of snapshots: fast, they are written on the way to every restore.
const SNAPSHOT_LEVEL: u32 = 1;

/// A restore waiting for `keep` or `revert`, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PendingRestore {
    /// The restore's id.
    pub id: String,
    /// When it started.
    pub started_at: Timestamp,
    /// The archive restored (as given).
    pub archive: String,
    /// Its SHA-256.
    pub archive_sha256: sitepack_format::Sha256,
    /// Its scope.
    pub scope: sitepack_format::Scope,
    /// The mode.
    pub mode: RestoreMode,
    /// Paths added, replaced and deleted.
    pub added: u64,
    /// Paths replaced.
    pub replaced: u64,
    /// Paths deleted.
    pub deleted: u64,
    /// The snapshot that `revert` restores from.
    pub snapshot: std::path::PathBuf,
    /// Paths the restore touched that changed since (`status` looks; a `revert` would
    /// throw those edits away). Empty where not looked for.
    pub changed_since_restore: Vec<ArchivePath>,
}

/// What [`LockedSite::apply`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The restore, now pending review.
    pub pending: PendingRestore,
    /// Set when the audit log could not be appended to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<String>,
}

/// What `keep` or `revert` finished.
#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    /// The restore kept or reverted.
    pub restore: PendingRestore,
    /// Paths put back (revert; 0 for keep).
    pub paths_restored: u64,
    /// Set when the audit log could not be appended to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<String>,
}

impl LockedSite {
    /// The restore pending review, if any.
    /// The restore pending review, if any, with the paths it touched that changed since.
    pub fn pending_with_edits(&self) -> Result<Option<PendingRestore>, RestoreError> {
        let Some(journal) = Journal::read(&self.places)?.filter(|j| j.state == State::Pending)
        else {
            return Ok(None);
        };
        let mut pending = pending_of(&self.places, &journal);
        pending.changed_since_restore = changed_since_restore(&self.places, &journal)?;
        Ok(Some(pending))
    }

    /// The restore pending review, if any (without looking for edits made since).
    pub fn pending(&self) -> Result<Option<PendingRestore>, RestoreError> {
        Ok(Journal::read(&self.places)?
            .filter(|j| j.state == State::Pending)
            .map(|j| pending_of(&self.places, &j)))
    }

    /// Plans restoring `archive` into this site, as [`plan`](crate::plan()) does, and
    /// refuses while another restore is pending review. A refusal is recorded in the
    /// audit log (outcome `refused`, with the reason).
    pub fn plan(&self, archive: &Archive, options: &PlanOptions) -> Result<Plan, RestoreError> {
        let planned = match self.pending()? {
            Some(pending) => Err(RestoreError::refused(Refusal::RestorePending {
                id: pending.id,
                site: self.root().to_path_buf(),
            })),
            None => crate::plan(self.root(), archive, options),
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
            let _ = record_audit_event(self.root(), Outcome::Refused, Details::Restore(details));
        }
        planned
    }

    /// Carries out `plan` (made by [`plan`](Self::plan) of this site and `archive`):
    /// stage, snapshot, journal, apply; the restore is then pending review. Refused while
    /// another restore is pending. Any failure before the restore is complete puts the
    /// site back as it was. Appends a `restore` event to the audit log either way.
    pub fn apply(
        &self,
        archive: &Archive,
        plan: &Plan,
        progress: &dyn Progress,
    ) -> Result<Applied, RestoreError> {
        if let Some(pending) = self.pending()? {
            return Err(RestoreError::refused(Refusal::RestorePending {
                id: pending.id,
                site: self.root().to_path_buf(),
            }));
        }
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
        let result = self.carry_out(archive, plan, &mut journal, progress);
        let mut details = RestoreDetails {
            restore_id: Some(journal.id.clone()),
            archive: Some(journal.archive.clone()),
            archive_sha256: Some(journal.archive_sha256),
            ..summary
        };
        match &result {
            Ok(()) => {
                let snapshot = self.places.internal_path(&Places::snapshot(&journal.id));
                details.snapshot = Some(snapshot.display().to_string());
            }
            Err(error) => details.error = Some(error_chain(error)),
        }
        let audit_warning = self.audit(result.is_ok(), Details::Restore(details));
        result?;
        // Marked complete only after its audit event: a kill between the two leaves an
        // `applying` journal, which the next command undoes and records.
        journal.state = State::Pending;
        if let Err(error) = journal.write(&self.places) {
            let error = undo(&self.places, &journal, error);
            let details = RestoreDetails {
                restore_id: Some(journal.id.clone()),
                error: Some(error_chain(&error)),
                ..RestoreDetails::default()
            };
            self.audit(false, Details::Restore(details));
            return Err(error);
        }
        failpoint::hit("pending");
        Ok(Applied {
            pending: pending_of(&self.places, &journal),
            audit_warning,
        })
    }

    fn carry_out(
        &self,
        archive: &Archive,
        plan: &Plan,
        journal: &mut Journal,
        progress: &dyn Progress,
    ) -> Result<(), RestoreError> {
        let places = &self.places;
        // Leftovers of an earlier attempt were removed by the recovery under this lock.
        discard_work(places)?;
        let prepared = self.prepare(archive, plan, journal, progress);
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
        &self,
        archive: &Archive,
        plan: &Plan,
        journal: &mut Journal,
        progress: &dyn Progress,
    ) -> Result<(), RestoreError> {
        let places = &self.places;
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
                    let name = snapshot_name(&change.path);
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
        syncfs(places)?;
        journal.write(places)
    }

    /// `keep`: accepts the pending restore and drops its snapshot.
    pub fn keep(&self) -> Result<Settled, RestoreError> {
        let journal = self.pending_journal()?;
        // Removing the journal is the commit; the rest is cleaning up.
        let journal_name = Places::journal();
        let result = self
            .places
            .internal
            .remove_file(&journal_name)
            .map_err(|e| RestoreError::io("remove", self.places.internal_path(&journal_name), e))
            .and_then(|()| discard_work(&self.places));
        let restore = pending_of(&self.places, &journal);
        let audit_warning = self.audit(
            result.is_ok(),
            Details::Keep(settle_details(&restore, result.as_ref().err())),
        );
        result.map(|()| Settled {
            restore,
            paths_restored: 0,
            audit_warning,
        })
    }

    /// `revert`: puts every path the pending restore touched back as it was before,
    /// byte for byte, then drops the snapshot.
    ///
    /// Refused ([`Refusal::ChangedSinceRestore`]) when paths it touched changed since the
    /// restore, as those edits would be thrown away:
    /// [`revert_discarding_edits`](Self::revert_discarding_edits) does it anyway.
    pub fn revert(&self) -> Result<Settled, RestoreError> {
        let journal = self.pending_journal()?;
        // A path that cannot be read as a file (a link swapped in, say) is the revert's
        // own to refuse, as it always did: only edits seen for sure stop it here.
        let paths = changed_since_restore(&self.places, &journal).unwrap_or_default();
        if !paths.is_empty() {
            return Err(RestoreError::refused(Refusal::ChangedSinceRestore {
                site: self.root().to_path_buf(),
                paths,
            }));
        }
        self.revert_discarding_edits()
    }

    /// [`revert`](Self::revert), throwing away any edit made since the restore to the
    /// paths it touched.
    pub fn revert_discarding_edits(&self) -> Result<Settled, RestoreError> {
        let mut journal = self.pending_journal()?;
        journal.state = State::Reverting;
        let result = journal
            .write(&self.places)
            .and_then(|()| roll_back(&self.places, &journal, "revert"))
            .and_then(|restored| discard_work(&self.places).map(|()| restored));
        let restore = pending_of(&self.places, &journal);
        let audit_warning = self.audit(
            result.is_ok(),
            Details::Revert(settle_details(&restore, result.as_ref().err())),
        );
        result.map(|paths_restored| Settled {
            restore,
            paths_restored,
            audit_warning,
        })
    }

    fn pending_journal(&self) -> Result<Journal, RestoreError> {
        match Journal::read(&self.places)? {
            Some(journal) if journal.state == State::Pending => Ok(journal),
            _ => Err(RestoreError::refused(Refusal::NothingPending {
                site: self.root().to_path_buf(),
            })),
        }
    }

    /// Appends an event; returns a warning when the log cannot be written.
    fn audit(&self, ok: bool, details: Details) -> Option<String> {
        let outcome = if ok { Outcome::Ok } else { Outcome::Failed };
        record_audit_event(self.root(), outcome, details)
    }
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
        .and_then(|file| file_state(file, mode))
        .map_err(|e| RestoreError::io("read", &staged, e))?;
    Ok(written)
}

/// The size and SHA-256 of `file`'s content, with `mode`.
fn file_state(mut file: std::fs::File, mode: u32) -> std::io::Result<Before> {
    let mut hasher = sitepack_format::Sha256Hasher::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(Before {
        size: hasher.len(),
        sha256: hasher.finish(),
        mode,
    })
}

/// The paths the pending restore touched that changed since: a file it wrote whose
/// content or mode differs (or that is gone), a path it deleted that exists again. A
/// link found on the way is an error, as everywhere in the site.
pub(crate) fn changed_since_restore(
    places: &Places,
    journal: &Journal,
) -> Result<Vec<ArchivePath>, RestoreError> {
    let mut changed = Vec::new();
    for change in &journal.changes {
        let native = places.site_path(&change.path);
        let now = places
            .site
            .open_existing(change.path.as_str())
            .and_then(|file| {
                file.map(|file| {
                    let mode = file.metadata()?.mode() & 0o7777;
                    file_state(file, mode)
                })
                .transpose()
            })
            .map_err(|e| RestoreError::io("read", &native, e))?;
        let differs = match (change.action, change.after, now) {
            (Action::Delete, _, now) => now.is_some(),
            (_, Some(after), Some(now)) => after != now,
            (_, Some(_), None) => true,
            // A journal from before `after` was recorded: nothing to compare with.
            (_, None, _) => false,
        };
        if differs {
            changed.push(change.path.clone());
        }
    }
    Ok(changed)
}

/// After `error` part way through applying: rolls back at once. Returns the error to
/// report (with the undo's own error when that failed too: the journal then stays for
/// the next command to retry).
fn undo(places: &Places, journal: &Journal, error: RestoreError) -> RestoreError {
    match roll_back(places, journal, "undo").and_then(|_| discard_work(places)) {
        Ok(()) => error,
        Err(undo) => RestoreError::UndoFailed {
            error: Box::new(error),
            undo: Box::new(undo),
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
        remove_site_file(places, &change.path)?;
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
    syncfs(places)
}

/// Puts every path of `journal` back as it was before the restore (idempotent; see the
/// module documentation). Returns how many paths it changed. `step_name` names its kill
/// points (`revert:N`, `recover:N`, `undo:N`).
pub(crate) fn roll_back(
    places: &Places,
    journal: &Journal,
    step_name: &str,
) -> Result<u64, RestoreError> {
    let mut snapshot = None;
    let mut restored = 0;
    // Last change first: new content goes before the old is put back, so that a
    // directory the restore put where a file was (or the reverse) is empty by then.
    for (step, change) in journal.changes.iter().rev().enumerate() {
        let native = places.site_path(&change.path);
        let current = match open_existing(&places.site, &change.path)? {
            Some(file) => {
                let mode = file
                    .metadata()
                    .map_err(|e| RestoreError::io("read the metadata of", &native, e))?
                    .mode()
                    & 0o7777;
                let (size, sha256) = digest_of(file, &native)?;
                Some((size, sha256, mode))
            }
            None => None,
        };
        if let Some(before) = &change.before {
            if current != Some((before.size, before.sha256, before.mode)) {
                if snapshot.is_none() {
                    snapshot = Some(open_snapshot(places, &journal.id)?);
                }
                if let Some(snapshot) = &snapshot {
                    put_back(places, snapshot, change, before)?;
                }
                restored += 1;
            }
        } else if current.is_some() {
            remove_site_file(places, &change.path)?;
            restored += 1;
        }
        failpoint::hit_step(step_name, step + 1);
    }
    for dir in journal.created_dirs.iter().rev() {
        // Only if empty: anything else in it was not ours to remove.
        let _ = places.site.remove_dir(dir.as_str());
    }
    for (dir, mode) in &journal.parent_dirs {
        places
            .site
            .create_dirs(dir.as_str())
            .and_then(|made| made.set_mode(*mode))
            .map_err(|e| RestoreError::io("put back", places.site_path(dir), e))?;
    }
    syncfs(places)?;
    Ok(restored)
}

fn open_snapshot(places: &Places, id: &str) -> Result<PlainZip, RestoreError> {
    let relative = Places::snapshot(id);
    let path = places.internal_path(&relative);
    let file = places
        .internal
        .open_file(&relative)
        .map_err(|e| RestoreError::io("open", &path, e))?;
    PlainZip::from_file(file, path.clone())
        .map_err(|source| RestoreError::SnapshotRead { path, source })
}

/// Copies a path's "before" bytes out of the snapshot (verified against the journal's
/// digest) into a temporary file, then renames it over the path.
fn put_back(
    places: &Places,
    snapshot: &PlainZip,
    change: &JournalChange,
    before: &Before,
) -> Result<(), RestoreError> {
    let native = places.site_path(&change.path);
    let temp = format!("{}/{RESTORING_NAME}", Places::work_dir());
    let temp_path = places.internal_path(&temp);
    places
        .site
        .create_parent(change.path.as_str())
        .map_err(|e| RestoreError::io("create the directory of", &native, e))?;
    places
        .internal
        .create_dirs(Places::work_dir())
        .and_then(|_| places.internal.remove_file(&temp))
        .map_err(|e| RestoreError::io("remove", &temp_path, e))?;
    let file = places
        .internal
        .create_new_file(&temp, before.mode)
        .map_err(|e| RestoreError::io("create", &temp_path, e))?;
    let mut out = BufWriter::new(file);
    snapshot
        .copy_entry(&snapshot_name(&change.path), &before.sha256, &mut out)
        .map_err(|source| RestoreError::SnapshotRead {
            path: snapshot.path().to_path_buf(),
            source,
        })?;
    let file = out
        .into_inner()
        .map_err(|e| RestoreError::io("write", &temp_path, e.into_error()))?;
    file.set_permissions(Permissions::from_mode(before.mode))
        .and_then(|()| file.sync_all())
        .map_err(|e| RestoreError::io("write", &temp_path, e))?;
    let in_the_way = places
        .site
        .stat(change.path.as_str())
        .map_err(|e| RestoreError::io("read the metadata of", &native, e))?;
    if in_the_way.is_some_and(|stat| stat.kind == NodeKind::Dir) {
        // A directory the restore made where a file was: it holds only restored paths,
        // which this same pass removes; remove it now to make room.
        places
            .site
            .remove_all(change.path.as_str())
            .map_err(|e| RestoreError::io("remove", &native, e))?;
    }
    places
        .internal
        .rename(&temp, &places.site, change.path.as_str())
        .map_err(|e| RestoreError::io("put back", &native, e))
}

/// Removes the work directory and every snapshot: after a keep, a completed undo, or an
/// interruption before the journal was written.
pub(crate) fn discard_work(places: &Places) -> Result<(), RestoreError> {
    for dir in [Places::work_dir(), Places::snapshots_dir()] {
        places
            .internal
            .remove_all(dir)
            .map_err(|e| RestoreError::io("remove", places.internal_path(dir), e))?;
    }
    places
        .internal
        .sync()
        .map_err(|e| RestoreError::io("flush", places.internal.path(), e))
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

fn remove_site_file(places: &Places, path: &ArchivePath) -> Result<(), RestoreError> {
    places
        .site
        .remove_file(path.as_str())
        .map_err(|e| RestoreError::io("remove", places.site_path(path), e))
}

fn syncfs(places: &Places) -> Result<(), RestoreError> {
    places
        .site
        .sync_fs()
        .map_err(|e| RestoreError::io("flush", &places.root, e))
}

fn snapshot_name(path: &ArchivePath) -> String {
    format!("{PAYLOAD_DIR}/{path}")
}

/// A new restore id: the time, then the process id, which no other live process has.
fn new_restore_id() -> String {
    format!("{}-{}", Timestamp::now().compact(), std::process::id())
}

fn pending_of(places: &Places, journal: &Journal) -> PendingRestore {
    let count = |action| {
        journal
            .changes
            .iter()
            .filter(|c| c.action == action)
            .count() as u64
    };
    PendingRestore {
        id: journal.id.clone(),
        started_at: journal.started_at,
        archive: journal.archive.clone(),
        archive_sha256: journal.archive_sha256,
        scope: journal.scope.clone(),
        mode: journal.mode,
        added: count(Action::Add),
        replaced: count(Action::Replace),
        deleted: count(Action::Delete),
        snapshot: places.internal_path(&Places::snapshot(&journal.id)),
        changed_since_restore: Vec::new(),
    }
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

fn settle_details(restore: &PendingRestore, error: Option<&RestoreError>) -> SettleDetails {
    SettleDetails {
        restore_id: Some(restore.id.clone()),
        archive: Some(restore.archive.clone()),
        archive_sha256: Some(restore.archive_sha256),
        scope: Some(restore.scope.to_string()),
        mode: Some(restore.mode),
        error: error.map(|error| error_chain(error)),
        ..SettleDetails::default()
    }
}
