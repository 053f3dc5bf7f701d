//! The site lock (`.sitepack/lock`) and what every command does first: finish the
//! recovery of a restore or revert that was interrupted.
//!
//! The lock is an advisory `flock` on `.sitepack/lock`, held for as long as the
//! [`LockedSite`] lives. The kernel releases it when the process dies however it dies, so
//! a journal found under a lock just taken belongs to a process that is gone.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use sitepack_format::record_audit_event;

use crate::apply::{PendingRestore, discard_work, roll_back};
use crate::journal::{Journal, Places, State};
use crate::{Refusal, RestoreError};

const LOCK_NAME: &str = "lock";

/// A site held under its lock: only one mutating sitepack command at a time.
#[derive(Debug)]
pub struct LockedSite {
    pub(crate) places: Places,
    _lock: Flock<File>,
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

/// What was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interrupted {
    /// A restore, before it changed the site: its unfinished work was discarded.
    RestoreBeforeChanges,
    /// A restore, while it changed the site: the site was put back as it was before.
    Restore,
    /// A revert: it was completed.
    Revert,
}

impl Recovered {
    /// One sentence for people.
    #[must_use]
    pub fn describe(&self) -> String {
        let id = self.restore_id.as_deref().unwrap_or("(no journal yet)");
        match self.interrupted {
            Interrupted::RestoreBeforeChanges => format!(
                "an interrupted restore {id} had not changed the site yet; its unfinished work was removed"
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
    pub fn acquire(root: &Path) -> Result<(Self, Option<Recovered>), RestoreError> {
        match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(RestoreError::refused(Refusal::NotADirectory {
                    path: root.to_path_buf(),
                }));
            }
            Err(e) => return Err(RestoreError::io("open the site directory", root, e)),
        }
        let places = Places::new(root);
        let internal = places.internal();
        fs::create_dir_all(&internal).map_err(|e| RestoreError::io("create", &internal, e))?;
        let lock = open_lock(&internal.join(LOCK_NAME))?;
        let lock = match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => {
                return Err(RestoreError::refused(Refusal::Busy {
                    site: root.to_path_buf(),
                }));
            }
            Err((_, errno)) => {
                return Err(RestoreError::io(
                    "lock",
                    internal.join(LOCK_NAME),
                    io::Error::from(errno),
                ));
            }
        };
        let site = Self {
            places,
            _lock: lock,
        };
        let recovered = site.recover()?;
        Ok((site, recovered))
    }

    /// Takes the lock of `root`, creating the directory when it does not exist yet (a
    /// restore into a new sandbox).
    pub fn create(root: &Path) -> Result<(Self, Option<Recovered>), RestoreError> {
        fs::create_dir_all(root).map_err(|e| RestoreError::io("create", root, e))?;
        Self::acquire(root)
    }

    /// The site directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.places.root
    }

    /// Finishes what an interrupted restore or revert left, and records it in the audit
    /// log: the site ends up as it was before the restore.
    fn recover(&self) -> Result<Option<Recovered>, RestoreError> {
        let journal = Journal::read(&self.places)?;
        let recovered = match journal {
            Some(journal) if journal.state == State::Pending => return Ok(None),
            Some(journal) => {
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
            None if self.places.work_dir().exists() || has_snapshots(&self.places)? => {
                discard_work(&self.places)?;
                Recovered {
                    restore_id: None,
                    interrupted: Interrupted::RestoreBeforeChanges,
                    paths_restored: 0,
                }
            }
            None => return Ok(None),
        };
        // The recovery itself is complete; a log that cannot be written must not undo it.
        let _ = record_audit_event(
            self.root(),
            "recover",
            "ok",
            serde_json::to_value(&recovered).unwrap_or_default(),
        );
        Ok(Some(recovered))
    }
}

/// What `status` shows: a recovery it just finished, and the restore pending review.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    /// What was recovered on the way, if anything was interrupted.
    pub recovered: Option<Recovered>,
    /// The restore waiting for `keep` or `revert`.
    pub pending: Option<PendingRestore>,
}

/// For commands that only read a site (`create`, `status`, `preview --against`, …):
/// recovers from an interrupted restore when there is something to recover, and says
/// which restore is pending. Creates nothing in a site that has never been restored into.
pub fn site_status(root: &Path) -> Result<SiteStatus, RestoreError> {
    let places = Places::new(root);
    if !places.work_dir().exists() && !has_snapshots(&places)? {
        return Ok(SiteStatus {
            recovered: None,
            pending: None,
        });
    }
    let (site, recovered) = LockedSite::acquire(root)?;
    Ok(SiteStatus {
        recovered,
        pending: site.pending()?,
    })
}

fn open_lock(path: &PathBuf) -> Result<File, RestoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| RestoreError::io("open the lock file", path, e))
}

/// Whether `.sitepack/snapshots/` holds anything (a pending restore's snapshot, or one
/// left by an interruption).
fn has_snapshots(places: &Places) -> Result<bool, RestoreError> {
    let dir = places.snapshots_dir();
    match fs::read_dir(&dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RestoreError::io("read", dir, e)),
    }
}
