//! The restore journal, `.sitepack/restore/journal.json`: what a restore changes, what
//! each touched path held before, and how far the restore has got (docs/FORMAT.md §15).
//!
//! It is written whole and renamed into place (never edited in place), so it is always
//! either the old or the new version. It exists from the moment before the first change
//! to the site until the restore is kept or undone.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sitepack_format::{ArchivePath, INTERNAL_DIR, Scope, Sha256, Timestamp};

use crate::{Action, Mode, RestoreError};

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

/// Where a site keeps a restore's state.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    pub(crate) root: PathBuf,
}

impl Places {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn internal(&self) -> PathBuf {
        self.root.join(INTERNAL_DIR)
    }

    pub(crate) fn work_dir(&self) -> PathBuf {
        self.internal().join(RESTORE_DIR)
    }

    pub(crate) fn journal(&self) -> PathBuf {
        self.work_dir().join(JOURNAL_NAME)
    }

    pub(crate) fn staged_dir(&self) -> PathBuf {
        self.work_dir().join(STAGED_DIR)
    }

    pub(crate) fn staged(&self, index: usize) -> PathBuf {
        self.staged_dir().join(format!("{index:08}"))
    }

    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.internal().join(SNAPSHOTS_DIR)
    }

    pub(crate) fn snapshot(&self, id: &str) -> PathBuf {
        self.snapshots_dir().join(format!("{id}.zip"))
    }

    /// The native path of a site-relative path.
    pub(crate) fn site_path(&self, path: &ArchivePath) -> PathBuf {
        self.root.join(path.to_native())
    }
}

/// How far a restore has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// The site is being changed: an interruption is undone.
    Applying,
    /// Done, waiting for `keep` or `revert`.
    Pending,
    /// Being undone: an interruption is undone to the end.
    Reverting,
}

/// What a touched path held before the restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Before {
    pub(crate) size: u64,
    pub(crate) sha256: Sha256,
    /// Permission bits.
    pub(crate) mode: u32,
}

/// One touched path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalChange {
    pub(crate) path: ArchivePath,
    pub(crate) action: Action,
    /// `None`: it did not exist (an add); otherwise it is in the snapshot as
    /// `site/<path>`.
    pub(crate) before: Option<Before>,
}

/// The journal of one restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub(crate) version: u32,
    pub(crate) id: String,
    pub(crate) state: State,
    pub(crate) started_at: Timestamp,
    pub(crate) archive: String,
    pub(crate) archive_sha256: Sha256,
    pub(crate) scope: Scope,
    pub(crate) mode: Mode,
    /// Every touched path, in the order they are changed (deletes first).
    pub(crate) changes: Vec<JournalChange>,
    /// Directories the restore creates, parents before children.
    pub(crate) created_dirs: Vec<ArchivePath>,
    /// The directories above each deleted path, parents first, with their permission
    /// bits: a delete that empties one removes it, and an undo makes it again as it was.
    pub(crate) parent_dirs: Vec<(ArchivePath, u32)>,
    /// The restore's plan summary, as the audit log records it.
    pub(crate) summary: serde_json::Value,
}

impl Journal {
    pub(crate) fn new(
        id: String,
        archive: String,
        archive_sha256: Sha256,
        scope: Scope,
        mode: Mode,
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
    pub(crate) fn read(places: &Places) -> Result<Option<Self>, RestoreError> {
        let path = places.journal();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RestoreError::io("read", path, e)),
        };
        let journal: Self =
            serde_json::from_slice(&bytes).map_err(|e| RestoreError::BadJournal {
                path: path.clone(),
                problem: e.to_string(),
            })?;
        if journal.version != JOURNAL_VERSION {
            return Err(RestoreError::BadJournal {
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
    pub(crate) fn write(&self, places: &Places) -> Result<(), RestoreError> {
        let path = places.journal();
        let temp = path.with_extension("json.new");
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| RestoreError::io("write", &temp, io::Error::other(e)))?;
        let mut file = File::create(&temp).map_err(|e| RestoreError::io("create", &temp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| RestoreError::io("write", &temp, e))?;
        fs::rename(&temp, &path).map_err(|e| RestoreError::io("rename into place", &path, e))?;
        sync_dir(&places.work_dir())
    }
}

/// Flushes a directory's entries (a rename or a new file in it) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RestoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RestoreError::io("flush", dir, e))
}
