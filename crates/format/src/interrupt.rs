//! What an interrupt (SIGINT, SIGTERM) must not leave behind: the temporary files and
//! directories written beside an output (`.sitepack-….zip.partial`,
//! `.sitepack-extract-…`), and the record of the operation it cut short (its audit
//! event, which the site crate registers here as a closure).
//!
//! Libraries register each while it exists (the returned [`Registered`] unregisters it
//! when dropped); the command's signal handler calls [`clean_up`], says so and exits.
//! Nothing here handles signals itself.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// What an interrupt records about an operation it cuts short, given why; a warning
/// when that record cannot be written.
type Ending = Box<dyn FnOnce(&str) -> Option<String> + Send>;

struct Registry {
    next: u64,
    temporaries: Vec<(u64, PathBuf)>,
    operations: Vec<(u64, Ending)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    temporaries: Vec::new(),
    operations: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary or an operation known to [`clean_up`] until this is dropped.
#[derive(Debug)]
#[must_use = "dropping it unregisters at once"]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = registry();
        registry.temporaries.retain(|(id, _)| *id != self.0);
        registry.operations.retain(|(id, _)| *id != self.0);
    }
}

/// Registers a temporary file or directory that an interrupt must remove.
pub fn temporary(path: &Path) -> Registered {
    let mut registry = registry();
    registry.next += 1;
    let id = registry.next;
    registry.temporaries.push((id, path.to_path_buf()));
    Registered(id)
}

/// Registers an operation that records its own ending (its audit event) when it ends;
/// an interrupt calls `on_interrupt` with why instead, which returns a warning when its
/// record cannot be written.
pub fn operation(on_interrupt: impl FnOnce(&str) -> Option<String> + Send + 'static) -> Registered {
    let mut registry = registry();
    registry.next += 1;
    let id = registry.next;
    registry.operations.push((id, Box::new(on_interrupt)));
    Registered(id)
}

/// What [`clean_up`] did.
#[derive(Debug, Default)]
pub struct CleanedUp {
    /// The temporaries removed.
    pub removed: Vec<PathBuf>,
    /// The records of interrupted operations that could not be written.
    pub audit_warnings: Vec<String>,
}

/// Removes every registered temporary and ends every registered operation with `reason`
/// (e.g. "interrupted by a signal"): each records itself as failed. Meant for a signal handler
/// that exits right after.
#[must_use]
pub fn clean_up(reason: &str) -> CleanedUp {
    let mut registry = registry();
    let mut done = CleanedUp::default();
    for (_, path) in registry.temporaries.drain(..) {
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
            Ok(_) => std::fs::remove_file(&path).is_ok(),
            Err(_) => false,
        };
        if removed {
            done.removed.push(path);
        }
    }
    for (_, on_interrupt) in registry.operations.drain(..) {
        if let Some(warning) = on_interrupt(reason) {
            done.audit_warnings.push(warning);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_up_removes_what_is_registered_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".sitepack-x.zip.partial");
        let staged = dir.path().join(".sitepack-extract-x");
        let finished = dir.path().join(".sitepack-done.zip.partial");
        std::fs::write(&file, "part").unwrap();
        std::fs::create_dir_all(staged.join("site")).unwrap();
        std::fs::write(&finished, "done").unwrap();
        let _file = temporary(&file);
        let _staged = temporary(&staged);
        drop(temporary(&finished));
        let done = clean_up("interrupted");
        assert_eq!(done.removed, [file.clone(), staged.clone()]);
        assert!(!file.exists() && !staged.exists());
        assert!(finished.exists(), "unregistered when dropped");
    }
}
