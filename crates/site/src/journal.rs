//! The restore journal, `.sitepack/restore/journal.json`: what a restore changes, what
//! each touched path held before, and how far the restore has got (docs/SITE-STATE.md).
//!
//! It is written whole and renamed into place (never edited in place), so it is always
//! either the old or the new version. It exists from the moment before the first change
//! to the site until the restore is kept or undone.
//!
//! The restore crate writes it (and the snapshot) as it applies a plan; this crate reads
//! it to recover, keep and revert.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sitepack_format::{ArchivePath, Beneath, INTERNAL_DIR, PAYLOAD_DIR, Scope, Sha256, Timestamp};

use crate::{RestoreMode, SiteError};

/// The work directory of the current restore, inside `.sitepack/`.
const RESTORE_DIR: &str = "restore";
/// Pre-restore snapshots, inside `.sitepack/`.
const SNAPSHOTS_DIR: &str = "snapshots";
const JOURNAL_NAME: &str = "journal.json";
/// New content waiting to be moved into place, inside the work directory.
const STAGED_DIR: &str = "staged";
/// The journal's version: a later sitepack that changes the journal refuses an older one
/// by this number instead of misreading it.
const JOURNAL_VERSION: u32 = 1;

/// Where a site keeps a restore's state: handles on the site's root and on its
/// `.sitepack/`, both opened once, never through a link (so a directory swapped for a
/// link while sitepack works is refused, never followed). Paths below them are
/// `/`-separated names relative to the handle.
#[derive(Debug)]
pub struct Places {
    /// The site directory, as given (for messages and the audit log).
    pub root: PathBuf,
    /// The site directory.
    pub site: Beneath,
    /// Its `.sitepack/`.
    pub internal: Beneath,
}

impl Places {
    /// Opens the site directory `root` and its `.sitepack/` (created when missing; a link
    /// there is refused).
    pub fn open(root: &Path) -> Result<Self, SiteError> {
        let site = Beneath::open(root).map_err(|e| SiteError::io("open", root, e))?;
        let internal = site
            .create_dirs(INTERNAL_DIR)
            .map_err(|e| SiteError::io("open", root.join(INTERNAL_DIR), e))?;
        Ok(Self {
            root: root.to_path_buf(),
            site,
            internal,
        })
    }

    /// The work directory, relative to `.sitepack/`.
    #[must_use]
    pub fn work_dir() -> &'static str {
        RESTORE_DIR
    }

    /// The journal, relative to `.sitepack/`.
    #[must_use]
    pub fn journal() -> String {
        format!("{RESTORE_DIR}/{JOURNAL_NAME}")
    }

    /// The new content waiting to be moved into place, relative to `.sitepack/`.
    #[must_use]
    pub fn staged_dir() -> String {
        format!("{RESTORE_DIR}/{STAGED_DIR}")
    }

    /// A staged file's name in the staged directory.
    #[must_use]
    pub fn staged_name(index: usize) -> String {
        format!("{index:08}")
    }

    /// A staged file, relative to `.sitepack/`.
    #[must_use]
    pub fn staged(index: usize) -> String {
        format!("{}/{}", Self::staged_dir(), Self::staged_name(index))
    }

    /// The pre-restore snapshots, relative to `.sitepack/`.
    #[must_use]
    pub fn snapshots_dir() -> &'static str {
        SNAPSHOTS_DIR
    }

    /// The snapshot of restore `id`, relative to `.sitepack/`.
    #[must_use]
    pub fn snapshot(id: &str) -> String {
        format!("{SNAPSHOTS_DIR}/{id}.zip")
    }

    /// The native path of `relative` below `.sitepack/` (for messages).
    #[must_use]
    pub fn internal_path(&self, relative: &str) -> PathBuf {
        self.internal.display_path(relative)
    }

    /// The native path of a site path (for messages).
    #[must_use]
    pub fn site_path(&self, path: &ArchivePath) -> PathBuf {
        self.root.join(path.to_native())
    }

    /// The entry of a site path in a snapshot.
    #[must_use]
    pub fn snapshot_entry(path: &ArchivePath) -> String {
        format!("{PAYLOAD_DIR}/{path}")
    }

    /// Removes the site file `path`.
    pub fn remove_site_file(&self, path: &ArchivePath) -> Result<(), SiteError> {
        self.site
            .remove_file(path.as_str())
            .map_err(|e| SiteError::io("remove", self.site_path(path), e))
    }

    /// Flushes the file system that holds the site (one `syncfs`).
    pub fn sync_site(&self) -> Result<(), SiteError> {
        self.site
            .sync_fs()
            .map_err(|e| SiteError::io("flush", &self.root, e))
    }
}

/// How far a restore has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The site is being changed: an interruption is undone.
    Applying,
    /// Done, waiting for `keep` or `revert`.
    Pending,
    /// Being undone: an interruption is undone to the end.
    Reverting,
}

/// What a touched path held before the restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256,
    /// Permission bits.
    pub mode: u32,
}

impl Before {
    /// The size and SHA-256 of `file`'s content, with `mode`.
    pub fn of_file(mut file: std::fs::File, mode: u32) -> io::Result<Self> {
        let mut hasher = sitepack_format::Sha256Hasher::new();
        io::copy(&mut file, &mut hasher)?;
        Ok(Self {
            size: hasher.len(),
            sha256: hasher.finish(),
            mode,
        })
    }
}

/// One touched path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalChange {
    /// The site-relative path.
    pub path: ArchivePath,
    /// What the restore does to it.
    pub action: Action,
    /// `None`: it did not exist (an add); otherwise it is in the snapshot as
    /// `site/<path>`.
    pub before: Option<Before>,
    /// What the restore put there (`None` for a delete, and in journals written before
    /// this was recorded): what `status` and `revert` compare the site with, to find
    /// edits made since the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Before>,
}

/// What happens to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The path does not exist in the target and is written.
    Add,
    /// The path exists in the target and gets new content.
    Replace,
    /// The path exists in the target and is deleted.
    Delete,
}

/// The journal of one restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// The journal's version.
    pub version: u32,
    /// The restore's id (also its snapshot's name).
    pub id: String,
    /// How far the restore has got.
    pub state: State,
    /// When it started.
    pub started_at: Timestamp,
    /// The archive restored (as given).
    pub archive: String,
    /// Its SHA-256.
    pub archive_sha256: Sha256,
    /// Its scope.
    pub scope: Scope,
    /// The restore mode.
    pub mode: RestoreMode,
    /// Every touched path, in the order they are changed (deletes first).
    pub changes: Vec<JournalChange>,
    /// Directories the restore creates, parents before children.
    pub created_dirs: Vec<ArchivePath>,
    /// The directories above each deleted path, parents first, with their permission
    /// bits: a delete that empties one removes it, and an undo makes it again as it was.
    pub parent_dirs: Vec<(ArchivePath, u32)>,
    /// The restore's plan summary, as the audit log records it.
    pub summary: serde_json::Value,
}

impl Journal {
    /// The journal of a new restore, in state `applying`, with no change yet.
    #[must_use]
    pub fn new(
        id: String,
        archive: String,
        archive_sha256: Sha256,
        scope: Scope,
        mode: RestoreMode,
    ) -> Self {
        Self {
            version: JOURNAL_VERSION,
            id,
            state: State::Applying,
            started_at: Timestamp::now(),
            archive,
            archive_sha256,
            scope,
            mode,
            changes: Vec::new(),
            created_dirs: Vec::new(),
            parent_dirs: Vec::new(),
            summary: serde_json::Value::Null,
        }
    }

    /// Reads the journal; `None` when there is none.
    pub fn read(places: &Places) -> Result<Option<Self>, SiteError> {
        let path = places.internal_path(&Places::journal());
        let mut bytes = Vec::new();
        match places.internal.open_existing(&Places::journal()) {
            Ok(Some(mut file)) => file
                .read_to_end(&mut bytes)
                .map_err(|e| SiteError::io("read", &path, e))?,
            Ok(None) => return Ok(None),
            Err(e) => return Err(SiteError::io("read", path, e)),
        };
        let journal: Self = serde_json::from_slice(&bytes).map_err(|e| SiteError::BadJournal {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        if journal.version != JOURNAL_VERSION {
            return Err(SiteError::BadJournal {
                path,
                problem: format!(
                    "journal version {} is not {JOURNAL_VERSION}, the version this sitepack writes",
                    journal.version
                ),
            });
        }
        Ok(Some(journal))
    }

    /// Writes the journal: a new file, flushed, renamed over the old one, and the rename
    /// flushed.
    pub fn write(&self, places: &Places) -> Result<(), SiteError> {
        let journal = Places::journal();
        let temp = format!("{journal}.new");
        let temp_path = places.internal_path(&temp);
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| SiteError::io("write", &temp_path, io::Error::other(e)))?;
        let work = places
            .internal
            .create_dirs(Places::work_dir())
            .map_err(|e| SiteError::io("create", places.internal_path(Places::work_dir()), e))?;
        places
            .internal
            .remove_file(&temp)
            .map_err(|e| SiteError::io("remove", &temp_path, e))?;
        let mut file = places
            .internal
            .create_new_file(&temp, 0o600)
            .map_err(|e| SiteError::io("create", &temp_path, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| SiteError::io("write", &temp_path, e))?;
        places
            .internal
            .rename(&temp, &places.internal, &journal)
            .map_err(|e| SiteError::io("rename into place", places.internal_path(&journal), e))?;
        work.sync()
            .map_err(|e| SiteError::io("flush", places.internal_path(Places::work_dir()), e))
    }
}
