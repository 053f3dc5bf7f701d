//! The private temporary directory a backup is written in before it is stored
//! (`sitepack-backup-*` in the system temporary directory), and the removal of those a
//! killed run left behind.
//!
//! Each run holds an exclusive `flock` on `lock` inside its own directory for as long as
//! the directory lives (taken before the file gets that name); the kernel releases it when the process ends, however it ends. A
//! later run removes a `sitepack-backup-*` directory (its own user's) only when it can
//! take that lock itself: never one whose run is still going.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use sitepack_site::{LockKind, SiteLock};
use tempfile::TempDir;

use crate::StoreError;

/// The name every work directory starts with.
pub(crate) const PREFIX: &str = "sitepack-backup-";
/// The lock file inside a work directory.
const LOCK_NAME: &str = "lock";
/// A work directory without a lock file (one made by a sitepack from before the lock, or
/// a run killed between making the directory and its lock) is removed once this old.
const UNLOCKED_AGE: Duration = Duration::from_secs(24 * 3600);

/// A work directory, locked for as long as it lives.
pub(crate) struct WorkDir {
    // Dropped first: the directory is removed while the lock is still held.
    dir: TempDir,
    _lock: SiteLock,
}

impl WorkDir {
    /// Makes a locked work directory in `parent`, then removes the stale ones there.
    pub(crate) fn new(parent: &Path) -> Result<Self, StoreError> {
        // Private (0700): it holds the plain archive before an encrypted one is stored.
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(|e| StoreError::io("create a temporary directory in", parent, e))?;
        // Locked under another name, then renamed: a `lock` file is locked from the
        // moment it exists, so no other run ever finds it free while this one runs.
        let lock_path = dir.path().join(LOCK_NAME);
        let new_path = dir.path().join("lock.new");
        let lock = File::create(&new_path)
            .and_then(|file| SiteLock::try_lock_file(file, LockKind::Exclusive))
            .and_then(|lock| lock.ok_or_else(|| std::io::Error::other("held by another process")))
            .and_then(|lock| fs::rename(&new_path, &lock_path).map(|()| lock))
            .map_err(|e| StoreError::io("lock", &lock_path, e))?;
        let work = Self { dir, _lock: lock };
        remove_stale(parent, work.path());
        Ok(work)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Best effort: removes every `sitepack-backup-*` directory in `parent` that belongs to
/// this user, is not `own`, and whose lock nobody holds. Nothing here can fail a backup.
fn remove_stale(parent: &Path, own: &Path) {
    let Ok(own_meta) = fs::symlink_metadata(own) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == own || !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        // A directory of this user's (never a link, never another user's).
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != own_meta.uid() {
            continue;
        }
        let lock_path = path.join(LOCK_NAME);
        match fs::symlink_metadata(&lock_path) {
            Ok(lock_meta) if lock_meta.is_file() => {
                let Ok(file) = File::open(&lock_path) else {
                    continue;
                };
                // Held while removing, so that no other run takes it for stale meanwhile.
                if let Ok(Some(_held)) = SiteLock::try_lock_file(file, LockKind::Exclusive) {
                    let _ = fs::remove_dir_all(&path);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > UNLOCKED_AGE);
                if old {
                    let _ = fs::remove_dir_all(&path);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_work_directory_is_removed_and_a_running_one_is_not() {
        let parent = tempfile::tempdir().unwrap();
        // A run that was killed: its lock file is there, nobody holds it.
        let stale = parent.path().join(format!("{PREFIX}killed"));
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(LOCK_NAME), b"").unwrap();
        fs::write(stale.join("backup.zip"), b"half an archive").unwrap();
        // A run still going: it holds its lock.
        let running = WorkDir::new(parent.path()).unwrap();
        assert!(!stale.exists());
        let mode = fs::metadata(running.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o700,
            "only its owner may read the plain archive in it"
        );
        fs::write(running.path().join("backup.zip"), b"being written").unwrap();
        // A fresh directory without a lock (a run between mkdir and lock), and
        // something else of that name that is not a directory.
        let unlocked = parent.path().join(format!("{PREFIX}unlocked"));
        fs::create_dir(&unlocked).unwrap();
        let file = parent.path().join(format!("{PREFIX}file"));
        fs::write(&file, b"").unwrap();
        let second = WorkDir::new(parent.path()).unwrap();
        assert!(running.path().join("backup.zip").exists());
        assert!(unlocked.exists() && file.exists());
        let second_path = second.path().to_path_buf();
        drop(second);
        assert!(!second_path.exists());
        drop(running);
        let mut left: Vec<String> = fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [format!("{PREFIX}file"), format!("{PREFIX}unlocked")]);
    }
}
