//! A restore pending review, and its two ways out (`keep`, `revert`); the roll back
//! that `revert` and the recovery of an interrupted restore share (docs/SITE-STATE.md).
//!
//! Undoing ([`roll_back`]) is idempotent and goes last change first: each path whose
//! content is not its recorded "before" is put back from the snapshot (or removed, if it
//! did not exist), so it can be interrupted and run again any number of times.

use std::fs::Permissions;
use std::io::BufWriter;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use serde::Serialize;
use sitepack_format::{ArchivePath, NodeKind, Timestamp, error_chain, failpoint};
use sitepack_reader::PlainZip;

use crate::journal::{Action, Before, Journal, JournalChange, Places, State};
use crate::{
    Details, LockedSite, Outcome, RestoreMode, SettleDetails, SiteError, SiteRefusal,
    record_audit_event,
};

/// The temporary file a revert writes a path's old bytes to, in the work directory.
const RESTORING_NAME: &str = "restoring.tmp";

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
    /// The restore pending review, if any, with the paths it touched that changed since.
    pub fn pending_with_edits(&self) -> Result<Option<PendingRestore>, SiteError> {
        let Some(journal) = Journal::read(&self.places)?.filter(|j| j.state == State::Pending)
        else {
            return Ok(None);
        };
        let mut pending = PendingRestore::new(&self.places, &journal);
        pending.changed_since_restore = changed_since_restore(&self.places, &journal)?;
        Ok(Some(pending))
    }

    /// The restore pending review, if any (without looking for edits made since).
    pub fn pending(&self) -> Result<Option<PendingRestore>, SiteError> {
        Ok(Journal::read(&self.places)?
            .filter(|j| j.state == State::Pending)
            .map(|j| PendingRestore::new(&self.places, &j)))
    }

    /// `keep`: accepts the pending restore and drops its snapshot.
    pub fn keep(&self) -> Result<Settled, SiteError> {
        let journal = self.pending_journal()?;
        // Removing the journal is the commit; the rest is cleaning up.
        let journal_name = Places::journal();
        let result = self
            .places
            .internal
            .remove_file(&journal_name)
            .map_err(|e| SiteError::io("remove", self.places.internal_path(&journal_name), e))
            .and_then(|()| discard_work(&self.places));
        let restore = PendingRestore::new(&self.places, &journal);
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
    /// Refused ([`SiteRefusal::ChangedSinceRestore`]) when paths it touched changed since the
    /// restore, as those edits would be thrown away:
    /// [`revert_discarding_edits`](Self::revert_discarding_edits) does it anyway.
    pub fn revert(&self) -> Result<Settled, SiteError> {
        let journal = self.pending_journal()?;
        // A path that cannot be read as a file (a link swapped in, say) is the revert's
        // own to refuse, as it always did: only edits seen for sure stop it here.
        let paths = changed_since_restore(&self.places, &journal).unwrap_or_default();
        if !paths.is_empty() {
            return Err(SiteError::refused(SiteRefusal::ChangedSinceRestore {
                site: self.root().to_path_buf(),
                paths,
            }));
        }
        self.revert_discarding_edits()
    }

    /// [`revert`](Self::revert), throwing away any edit made since the restore to the
    /// paths it touched.
    pub fn revert_discarding_edits(&self) -> Result<Settled, SiteError> {
        let mut journal = self.pending_journal()?;
        journal.state = State::Reverting;
        let result = journal
            .write(&self.places)
            .and_then(|()| roll_back(&self.places, &journal, "revert"))
            .and_then(|restored| discard_work(&self.places).map(|()| restored));
        let restore = PendingRestore::new(&self.places, &journal);
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

    fn pending_journal(&self) -> Result<Journal, SiteError> {
        match Journal::read(&self.places)? {
            Some(journal) if journal.state == State::Pending => Ok(journal),
            _ => Err(SiteError::refused(SiteRefusal::NothingPending {
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

/// The paths the pending restore touched that changed since: a file it wrote whose
/// content or mode differs (or that is gone), a path it deleted that exists again. A
/// link found on the way is an error, as everywhere in the site.
fn changed_since_restore(
    places: &Places,
    journal: &Journal,
) -> Result<Vec<ArchivePath>, SiteError> {
    let mut changed = Vec::new();
    for change in &journal.changes {
        let native = places.site_path(&change.path);
        let now = places
            .site
            .open_existing(change.path.as_str())
            .and_then(|file| {
                file.map(|file| {
                    let mode = file.metadata()?.mode() & 0o7777;
                    Before::of_file(file, mode)
                })
                .transpose()
            })
            .map_err(|e| SiteError::io("read", &native, e))?;
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

/// Puts every path of `journal` back as it was before the restore (idempotent; see the
/// module documentation). Returns how many paths it changed. `step_name` names its kill
/// points (`revert:N`, `recover:N`, `undo:N`).
pub fn roll_back(places: &Places, journal: &Journal, step_name: &str) -> Result<u64, SiteError> {
    let mut snapshot = None;
    let mut restored = 0;
    // Last change first: new content goes before the old is put back, so that a
    // directory the restore put where a file was (or the reverse) is empty by then.
    for (step, change) in journal.changes.iter().rev().enumerate() {
        let native = places.site_path(&change.path);
        let current = match places
            .site
            .open_existing(change.path.as_str())
            .map_err(|e| SiteError::io("read", &native, e))?
        {
            Some(file) => {
                let mode = file
                    .metadata()
                    .map_err(|e| SiteError::io("read the metadata of", &native, e))?
                    .mode()
                    & 0o7777;
                Some(Before::of_file(file, mode).map_err(|e| SiteError::io("read", &native, e))?)
            }
            None => None,
        };
        if let Some(before) = &change.before {
            if current.as_ref() != Some(before) {
                if snapshot.is_none() {
                    snapshot = Some(open_snapshot(places, &journal.id)?);
                }
                if let Some(snapshot) = &snapshot {
                    put_back(places, snapshot, change, before)?;
                }
                restored += 1;
            }
        } else if current.is_some() {
            places.remove_site_file(&change.path)?;
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
            .map_err(|e| SiteError::io("put back", places.site_path(dir), e))?;
    }
    places.sync_site()?;
    Ok(restored)
}

fn open_snapshot(places: &Places, id: &str) -> Result<PlainZip, SiteError> {
    let relative = Places::snapshot(id);
    let path = places.internal_path(&relative);
    let file = places
        .internal
        .open_file(&relative)
        .map_err(|e| SiteError::io("open", &path, e))?;
    PlainZip::from_file(file, path.clone())
        .map_err(|source| SiteError::SnapshotRead { path, source })
}

/// Copies a path's "before" bytes out of the snapshot (verified against the journal's
/// digest) into a temporary file, then renames it over the path.
fn put_back(
    places: &Places,
    snapshot: &PlainZip,
    change: &JournalChange,
    before: &Before,
) -> Result<(), SiteError> {
    let native = places.site_path(&change.path);
    let temp = format!("{}/{RESTORING_NAME}", Places::work_dir());
    let temp_path = places.internal_path(&temp);
    places
        .site
        .create_parent(change.path.as_str())
        .map_err(|e| SiteError::io("create the directory of", &native, e))?;
    places
        .internal
        .create_dirs(Places::work_dir())
        .and_then(|_| places.internal.remove_file(&temp))
        .map_err(|e| SiteError::io("remove", &temp_path, e))?;
    let file = places
        .internal
        .create_new_file(&temp, before.mode)
        .map_err(|e| SiteError::io("create", &temp_path, e))?;
    let mut out = BufWriter::new(file);
    snapshot
        .copy_entry(
            &Places::snapshot_entry(&change.path),
            &before.sha256,
            &mut out,
        )
        .map_err(|source| SiteError::SnapshotRead {
            path: snapshot.path().to_path_buf(),
            source,
        })?;
    let file = out
        .into_inner()
        .map_err(|e| SiteError::io("write", &temp_path, e.into_error()))?;
    file.set_permissions(Permissions::from_mode(before.mode))
        .and_then(|()| file.sync_all())
        .map_err(|e| SiteError::io("write", &temp_path, e))?;
    let in_the_way = places
        .site
        .stat(change.path.as_str())
        .map_err(|e| SiteError::io("read the metadata of", &native, e))?;
    if in_the_way.is_some_and(|stat| stat.kind == NodeKind::Dir) {
        // A directory the restore made where a file was: it holds only restored paths,
        // which this same pass removes; remove it now to make room.
        places
            .site
            .remove_all(change.path.as_str())
            .map_err(|e| SiteError::io("remove", &native, e))?;
    }
    places
        .internal
        .rename(&temp, &places.site, change.path.as_str())
        .map_err(|e| SiteError::io("put back", &native, e))
}

/// Removes the work directory and every snapshot: after a keep, a completed undo, or an
/// interruption before the journal was written.
pub fn discard_work(places: &Places) -> Result<(), SiteError> {
    for dir in [Places::work_dir(), Places::snapshots_dir()] {
        places
            .internal
            .remove_all(dir)
            .map_err(|e| SiteError::io("remove", places.internal_path(dir), e))?;
    }
    places
        .internal
        .sync()
        .map_err(|e| SiteError::io("flush", places.internal.path(), e))
}

impl PendingRestore {
    /// The restore of `journal`, as `status` shows it (without looking for edits made
    /// since).
    #[must_use]
    pub fn new(places: &Places, journal: &Journal) -> Self {
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
}

fn settle_details(restore: &PendingRestore, error: Option<&SiteError>) -> SettleDetails {
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
