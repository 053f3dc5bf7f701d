//! Opening a site for an operation ([`SiteState::open`]): what every command does first
//! is finish the recovery of a restore or revert that was interrupted, then take the site
//! lock (`.sitepack/lock`) the operation needs.
//!
//! The lock is an advisory `flock` on `.sitepack/lock`, held for as long as the
//! [`LockedSite`] lives. The kernel releases it when the process dies however it dies, so
//! a journal found under a lock just taken belongs to a process that is gone.

use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;
use sitepack_format::{Beneath, INTERNAL_DIR, error_chain};

use crate::journal::{Journal, Places, State};
use crate::undo::{PendingRestore, discard_work, roll_back};
use crate::{
    Details, Interrupted, LockKind, Operation, Outcome, RecoverDetails, RestoreDetails,
    SITE_LOCK_NAME, SiteError, SiteLock, SiteRefusal, record_audit_event,
};

/// A site held under its lock: only one mutating sitepack command at a time.
#[derive(Debug)]
pub struct LockedSite {
    pub(crate) places: Places,
    _lock: SiteLock,
}

/// What an interrupted restore or revert was, and what recovery did about it.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    /// The restore's id (`None` when it was cut off before its journal was written).
    pub restore_id: Option<String>,
    /// What was interrupted.
    pub interrupted: Interrupted,
    /// Paths put back as they were before the restore.
    pub paths_restored: u64,
}

impl Recovered {
    /// One sentence for people.
    #[must_use]
    pub fn describe(&self) -> String {
        let id = self.restore_id.as_deref().unwrap_or("(no journal yet)");
        match self.interrupted {
            Interrupted::RestoreBeforeChanges => format!(
                "leftover restore work {id} without a journal was removed (a restore cut off before it changed the site, or a keep cut off after it accepted the restore); the site itself was not changed"
            ),
            Interrupted::Restore => format!(
                "an interrupted restore {id} was undone: {} path(s) are back as they were before it",
                self.paths_restored
            ),
            Interrupted::Revert => format!(
                "an interrupted revert of restore {id} was completed: {} path(s) are back as they were before the restore",
                self.paths_restored
            ),
        }
    }
}

impl LockedSite {
    /// Takes the lock of the existing site directory `root` (creating `.sitepack/` when
    /// needed), then recovers from an interrupted restore or revert.
    ///
    /// Refused when `root` is not a directory or another sitepack command holds the lock.
    fn acquire(root: &Path) -> Result<(Self, Option<Recovered>), SiteError> {
        match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(SiteError::refused(SiteRefusal::NotADirectory {
                    path: root.to_path_buf(),
                }));
            }
            Err(e) => return Err(SiteError::io("open the site directory", root, e)),
        }
        let places = Places::open(root)?;
        let lock_error = |e| SiteError::io("lock", places.internal_path(SITE_LOCK_NAME), e);
        let lock = SiteLock::try_lock(&places.internal, SITE_LOCK_NAME, LockKind::Exclusive)
            .map_err(lock_error)?
            .ok_or_else(|| {
                SiteError::refused(SiteRefusal::Busy {
                    site: root.to_path_buf(),
                })
            })?;
        let site = Self {
            places,
            _lock: lock,
        };
        let recovered = site.recover()?;
        Ok((site, recovered))
    }

    /// The site directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.places.root
    }

    /// Where the site keeps a restore's state: for the restore that writes it under
    /// this lock.
    #[must_use]
    pub fn places(&self) -> &Places {
        &self.places
    }

    /// Finishes what an interrupted restore or revert left, and records it in the audit
    /// log: the site ends up as it was before the restore.
    fn recover(&self) -> Result<Option<Recovered>, SiteError> {
        let journal = Journal::read(&self.places)?;
        // Which restore was undone, for the audit event: its archive and when it began.
        let mut undone = RecoverDetails::default();
        let recovered = match journal {
            Some(journal) if journal.state == State::Pending => return Ok(None),
            Some(journal) => {
                undone = RecoverDetails {
                    archive: Some(journal.archive.clone()),
                    archive_sha256: Some(journal.archive_sha256),
                    started_at: Some(journal.started_at),
                    scope: Some(journal.scope.to_string()),
                    mode: Some(journal.mode),
                    ..RecoverDetails::default()
                };
                let interrupted = match journal.state {
                    State::Reverting => Interrupted::Revert,
                    _ => Interrupted::Restore,
                };
                let paths_restored = roll_back(&self.places, &journal, "recover")?;
                discard_work(&self.places)?;
                Recovered {
                    restore_id: Some(journal.id),
                    interrupted,
                    paths_restored,
                }
            }
            None if has_work(&self.places.internal)? => {
                // Cut off before its journal: its snapshot, if written, is named by its
                // id, which the audit event records.
                undone.restore_id = leftover_restore_id(&self.places);
                discard_work(&self.places)?;
                Recovered {
                    restore_id: None,
                    interrupted: Interrupted::RestoreBeforeChanges,
                    paths_restored: 0,
                }
            }
            None => return Ok(None),
        };
        let details = RecoverDetails {
            restore_id: recovered.restore_id.clone().or(undone.restore_id),
            interrupted: Some(recovered.interrupted),
            paths_restored: Some(recovered.paths_restored),
            ..undone
        };
        // The recovery itself is complete; a log that cannot be written must not undo it.
        let _ = record_audit_event(self.root(), Outcome::Ok, Details::Recover(details));
        Ok(Some(recovered))
    }
}

/// Records a restore refused before it was planned (no confirmation) or after (the answer
/// was no) as a `refused` `restore` event, with the archive and why. Nothing is recorded
/// for a directory that does not exist: a refusal makes no site. A warning when the log
/// cannot be written.
#[must_use]
pub fn record_refused_restore(
    site_root: &Path,
    archive: &str,
    archive_sha256: Option<sitepack_format::Sha256>,
    mode: crate::RestoreMode,
    reason: &dyn std::error::Error,
) -> Option<String> {
    let details = RestoreDetails {
        archive: Some(archive.to_owned()),
        archive_sha256,
        mode: Some(mode),
        ..RestoreDetails::default()
    };
    record_refused(site_root, Details::Restore(details), reason)
}

/// Records a refused `operation` (`keep`, `revert`) as a `refused` event with why,
/// when `site_root` is a directory (a refusal makes no site). A warning when the log
/// cannot be written.
#[must_use]
pub fn record_refusal(
    site_root: &Path,
    operation: Operation,
    reason: &dyn std::error::Error,
) -> Option<String> {
    record_refused(site_root, Details::empty(operation), reason)
}

fn record_refused(
    site_root: &Path,
    mut details: Details,
    reason: &dyn std::error::Error,
) -> Option<String> {
    if !site_root.is_dir() {
        return None;
    }
    details.set_error(error_chain(reason));
    record_audit_event(site_root, Outcome::Refused, details)
}

/// The id of the restore whose work was left without a journal: the name of its snapshot
/// (`.sitepack/snapshots/<id>.zip`), when there is exactly one.
fn leftover_restore_id(places: &Places) -> Option<String> {
    let snapshots = places.internal.dir(Places::snapshots_dir()).ok()?;
    let names = snapshots.entries().ok()?;
    let mut ids = names
        .iter()
        .filter_map(|(name, _)| name.to_str()?.strip_suffix(".zip").map(str::to_owned));
    let id = ids.next()?;
    ids.next().is_none().then_some(id)
}

/// A site opened for an operation ([`SiteState::open`]): what was recovered on the way,
/// the restore pending review, and what the operation holds while it runs (`H`: the site
/// under its exclusive lock for [`Change`] and [`Create`], nothing otherwise).
#[derive(Debug, Clone, Serialize)]
pub struct SiteState<H = ()> {
    /// What was recovered on the way, if a restore or revert was interrupted.
    pub recovered: Option<Recovered>,
    /// The restore waiting for `keep` or `revert` (for [`Read`], with the paths it touched
    /// that changed since).
    pub pending: Option<PendingRestore>,
    /// What the operation holds.
    #[serde(skip)]
    pub held: H,
}

impl<H> SiteState<H> {
    /// Opens the site `root` for an operation: finishes the recovery of an interrupted
    /// restore or revert first (recorded in the audit log), then takes the lock the
    /// operation needs ([`Read`], [`Backup`], [`Change`], [`Create`] say which).
    ///
    /// Refused ([`SiteRefusal::Busy`]) when another sitepack command is changing the
    /// site right now (for [`Backup`], only when there is something to recover);
    /// [`SiteError::NoSuchSite`] when `root` does not exist (but for [`Create`]).
    pub fn open<A: Access<Held = H>>(root: &Path, access: A) -> Result<Self, SiteError> {
        access.open(root)
    }
}

/// What an operation needs of a site: see [`SiteState::open`].
pub trait Access: sealed::Sealed {
    /// What the operation holds while it runs.
    type Held;
    /// Opens `root` for the operation.
    #[doc(hidden)]
    fn open(self, root: &Path) -> Result<SiteState<Self::Held>, SiteError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Read {}
    impl Sealed for super::Backup {}
    impl Sealed for super::Change {}
    impl Sealed for super::Create {}
}

/// Reading a site (`status`, `preview --against`, `stats`, `audit`): the lock is taken
/// only when there is something to recover, and nothing is created in a site that has
/// never been restored into.
#[derive(Debug, Clone, Copy)]
pub struct Read;

/// Backing up a site: as [`Read`], but a site that a restore, revert or recovery is
/// changing right now is no error here: the backup's shared lock
/// ([`BackupLock`](crate::BackupLock)) refuses it, and the refused backup is recorded.
#[derive(Debug, Clone, Copy)]
pub struct Backup;

/// Changing an existing site (`keep`, `revert`): the site under its exclusive lock.
#[derive(Debug, Clone, Copy)]
pub struct Change;

/// Restoring into a site: as [`Change`], creating the directory first when it does not
/// exist yet (a restore into a new sandbox).
#[derive(Debug, Clone, Copy)]
pub struct Create;

impl Access for Read {
    type Held = ();

    fn open(self, root: &Path) -> Result<SiteState, SiteError> {
        if !root.exists() {
            return Err(SiteError::NoSuchSite {
                site: root.to_path_buf(),
            });
        }
        let internal = Beneath::open(root)
            .and_then(|site| site.dir(INTERNAL_DIR))
            .map(Some)
            .or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| SiteError::io("open", root.join(INTERNAL_DIR), e))?;
        if !internal.as_ref().map_or(Ok(false), has_work)? {
            return Ok(SiteState {
                recovered: None,
                pending: None,
                held: (),
            });
        }
        let (site, recovered) = LockedSite::acquire(root)?;
        Ok(SiteState {
            recovered,
            pending: site.pending_with_edits()?,
            held: (),
        })
    }
}

impl Access for Backup {
    type Held = ();

    fn open(self, root: &Path) -> Result<SiteState, SiteError> {
        match Read.open(root) {
            Err(SiteError::Refused {
                reason: SiteRefusal::Busy { .. },
            }) => Ok(SiteState {
                recovered: None,
                pending: None,
                held: (),
            }),
            opened => opened,
        }
    }
}

impl Access for Change {
    type Held = LockedSite;

    fn open(self, root: &Path) -> Result<SiteState<LockedSite>, SiteError> {
        let (site, recovered) = LockedSite::acquire(root)?;
        Ok(SiteState {
            recovered,
            pending: site.pending()?,
            held: site,
        })
    }
}

impl Access for Create {
    type Held = LockedSite;

    fn open(self, root: &Path) -> Result<SiteState<LockedSite>, SiteError> {
        fs::create_dir_all(root).map_err(|e| SiteError::io("create", root, e))?;
        Change.open(root)
    }
}

/// Whether `.sitepack/` holds a restore's work directory, or anything in
/// `.sitepack/snapshots/` (a pending restore's snapshot, or one left by an interruption).
fn has_work(internal: &Beneath) -> Result<bool, SiteError> {
    let found = |relative: &str| {
        internal
            .stat(relative)
            .map_err(|e| SiteError::io("read", internal.display_path(relative), e))
    };
    if found(Places::work_dir())?.is_some() {
        return Ok(true);
    }
    if found(Places::snapshots_dir())?.is_none() {
        return Ok(false);
    }
    let snapshots = internal
        .dir(Places::snapshots_dir())
        .and_then(|dir| dir.entries())
        .map_err(|e| SiteError::io("read", internal.display_path(Places::snapshots_dir()), e))?;
    Ok(!snapshots.is_empty())
}
