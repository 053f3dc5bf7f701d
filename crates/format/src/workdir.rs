//! Private work directories in a temporary directory (`PREFIX*`, mode 0700) — a
//! backup's before it is stored, an encrypted archive's decrypted copy — and the removal
//! of those a killed run left behind, so that no plaintext outlives a `kill -9` for
//! longer than the next run.
//!
//! Each run holds an exclusive `flock` on `lock` inside its own directory for as long as
//! the directory lives (taken before the file gets that name); the kernel releases it
//! when the process ends, however it ends. A later run removes a directory of the same
//! prefix (its own user's) only when it can take that lock itself: never one whose run
//! is still going.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use tempfile::TempDir;

/// The lock file inside a work directory.
const LOCK_NAME: &str = "lock";
/// A work directory without a lock file (one made by a sitepack from before the lock, or
/// a run killed between making the directory and its lock) is removed once this old.
const UNLOCKED_AGE: Duration = Duration::from_secs(24 * 3600);

/// A private work directory, locked for as long as it lives, removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    // Dropped first: the directory is removed while the lock is still held.
    dir: TempDir,
    _lock: Flock<File>,
}

impl WorkDir {
    /// Makes a locked work directory named `prefix…` in `parent`, then removes the
    /// stale ones of that prefix there (best effort: that never fails this one).
    pub fn new(parent: &Path, prefix: &str) -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?;
        // Locked under another name, then renamed: a `lock` file is locked from the
        // moment it exists, so no other run ever finds it free while this one runs.
        let lock_path = dir.path().join(LOCK_NAME);
        let new_path = dir.path().join("lock.new");
        let lock = try_lock(File::create(&new_path)?)?
            .ok_or_else(|| io::Error::other("held by another process"))?;
        fs::rename(&new_path, &lock_path)?;
        let work = Self { dir, _lock: lock };
        remove_stale(parent, prefix, work.path());
        Ok(work)
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The exclusive lock of `file`, or `None` when another process holds it.
fn try_lock(file: File) -> io::Result<Option<Flock<File>>> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(io::Error::from(errno)),
    }
}

/// Best effort: removes every `prefix…` directory in `parent` that belongs to this
/// user, is not `own`, and whose lock nobody holds.
fn remove_stale(parent: &Path, prefix: &str, own: &Path) {
    let Ok(own_meta) = fs::symlink_metadata(own) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == own || !entry.file_name().to_string_lossy().starts_with(prefix) {
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
                if let Ok(Some(_held)) = try_lock(file) {
                    let _ = fs::remove_dir_all(&path);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
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

    const PREFIX: &str = "sitepack-test-";

    #[test]
    fn a_stale_work_directory_is_removed_and_a_running_one_is_not() {
        let parent = tempfile::tempdir().unwrap();
        // A run that was killed: its lock file is there, nobody holds it.
        let stale = parent.path().join(format!("{PREFIX}killed"));
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(LOCK_NAME), b"").unwrap();
        fs::write(stale.join("backup.zip"), b"half an archive").unwrap();
        // A run still going: it holds its lock.
        let running = WorkDir::new(parent.path(), PREFIX).unwrap();
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
        let second = WorkDir::new(parent.path(), PREFIX).unwrap();
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
