//! The locks in a site's `.sitepack/`: advisory `flock`s, released by the kernel when the
//! process ends however it ends.
//!
//! `.sitepack/lock` is the site lock: commands that change the site (restore, keep,
//! revert, recovery) take it exclusively; `create` takes it shared, so that a backup never
//! reads a site while a restore is half applied (an archive of a state the site was never
//! in), while backups may run side by side. `.sitepack/auto.lock` keeps two automatic
//! runs from overlapping.

use std::fs::File;
use std::io;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use sitepack_format::Beneath;

/// The site lock's file name in `.sitepack/`.
pub const SITE_LOCK_NAME: &str = "lock";
/// The automatic runs' lock file name in `.sitepack/`.
pub const AUTO_LOCK_NAME: &str = "auto.lock";

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// With other shared holders, never with an exclusive one.
    Shared,
    /// Alone.
    Exclusive,
}

/// A lock held for as long as this value lives.
#[derive(Debug)]
pub struct SiteLock {
    _lock: Flock<File>,
}

impl SiteLock {
    /// Takes the lock `name` in the site's `.sitepack/` (`internal`) without waiting;
    /// `None` when another holder has it in a conflicting way. The lock file is opened
    /// without following a link.
    pub fn try_lock(internal: &Beneath, name: &str, kind: LockKind) -> io::Result<Option<Self>> {
        Self::try_lock_file(internal.open_or_create(name, 0o600)?, kind)
    }

    /// Takes the lock on an open lock file (opened read-only by a reader that cannot
    /// create it), as [`try_lock`](Self::try_lock) does.
    pub fn try_lock_file(file: File, kind: LockKind) -> io::Result<Option<Self>> {
        let arg = match kind {
            LockKind::Shared => FlockArg::LockSharedNonblock,
            LockKind::Exclusive => FlockArg::LockExclusiveNonblock,
        };
        match Flock::lock(file, arg) {
            Ok(lock) => Ok(Some(Self { _lock: lock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(io::Error::from(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_exclude_an_exclusive_one() {
        let temp = tempfile::tempdir().unwrap();
        let internal = Beneath::open(temp.path()).unwrap();
        let lock = |kind| SiteLock::try_lock(&internal, SITE_LOCK_NAME, kind).unwrap();
        let first = lock(LockKind::Shared).expect("first shared");
        let second = lock(LockKind::Shared).expect("second shared");
        assert!(lock(LockKind::Exclusive).is_none());
        drop((first, second));
        let exclusive = lock(LockKind::Exclusive).expect("exclusive once free");
        assert!(lock(LockKind::Shared).is_none());
        assert!(lock(LockKind::Exclusive).is_none());
        // Another lock file is another lock.
        assert!(
            SiteLock::try_lock(&internal, AUTO_LOCK_NAME, LockKind::Exclusive)
                .unwrap()
                .is_some()
        );
        drop(exclusive);
    }

    #[test]
    fn a_lock_file_that_is_a_link_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let elsewhere = temp.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, temp.path().join(SITE_LOCK_NAME)).unwrap();
        let internal = Beneath::open(temp.path()).unwrap();
        let error = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Shared).unwrap_err();
        assert!(sitepack_format::LinkRefused::is(&error), "{error}");
        assert!(!elsewhere.exists());
    }
}
