//! A new directory built beside its final place and renamed there only when complete
//! (docs/FORMAT.md §14): extraction writes through it, and so does `init` in the restore
//! crate.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sitepack_format::ArchivePath;
use tempfile::TempDir;

use crate::ReaderError;

const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// A directory under construction: a fresh temporary directory (unpredictable name, same
/// parent as the target) that becomes the target on [`finish`](Self::finish). Dropped
/// unfinished, it is removed: nothing is left behind.
#[derive(Debug)]
pub struct StagedDir {
    temp: TempDir,
    /// An interrupt removes the temporary directory too.
    _interruptible: sitepack_format::interrupt::Registered,
    target: PathBuf,
    parent: PathBuf,
    /// Directories made so far (each is made once).
    created: HashSet<ArchivePath>,
}

impl StagedDir {
    /// The target must not exist, or be an empty directory (not a link to one).
    pub fn check_target(target: &Path) -> Result<(), ReaderError> {
        let not_empty = || ReaderError::TargetNotEmpty {
            path: target.to_path_buf(),
        };
        match fs::symlink_metadata(target) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ReaderError::io("inspect", target, e)),
            Ok(meta) if meta.is_dir() => {
                let mut entries =
                    fs::read_dir(target).map_err(|e| ReaderError::io("read", target, e))?;
                if entries.next().is_none() {
                    Ok(())
                } else {
                    Err(not_empty())
                }
            }
            Ok(_) => Err(not_empty()),
        }
    }

    /// Starts building `target`, in a temporary directory named `PREFIX…` beside it.
    pub fn new(target: &Path, prefix: &str) -> Result<Self, ReaderError> {
        Self::check_target(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .map_err(|e| ReaderError::io("create a temporary directory in", &parent, e))?;
        Ok(Self {
            _interruptible: sitepack_format::interrupt::temporary(temp.path()),
            temp,
            target: target.to_path_buf(),
            parent,
            created: HashSet::new(),
        })
    }

    /// Where the files are being written.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Creates the new file `path` (mode 0644) and the directories above it (0755).
    /// Never follows a link and never opens an existing file.
    pub fn create_file(&mut self, path: &ArchivePath) -> Result<File, ReaderError> {
        self.create_parents(path)?;
        let native = self.temp.path().join(path.to_native());
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&native)
            .map_err(|e| ReaderError::io("create", &native, e))?;
        file.set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| ReaderError::io("set the mode of", &native, e))?;
        Ok(file)
    }

    /// Flushes everything to stable storage and renames the directory to the target.
    /// `rename(2)` replaces an empty directory and fails on a non-empty one, so a target
    /// filled meanwhile is never overwritten ([`ReaderError::TargetNotEmpty`]).
    pub fn finish(self) -> Result<PathBuf, ReaderError> {
        let root = self.temp.path();
        let dir = File::open(root).map_err(|e| ReaderError::io("open", root, e))?;
        nix::unistd::syncfs(&dir)
            .map_err(|e| ReaderError::io("flush", root, std::io::Error::from(e)))?;
        // An existing empty directory is replaced, but keeps its mode (a 0700 one stays
        // private); a new one gets 0755.
        let mode = match fs::symlink_metadata(&self.target) {
            Ok(meta) if meta.is_dir() => meta.permissions().mode() & 0o7777,
            _ => DIR_MODE,
        };
        fs::set_permissions(root, Permissions::from_mode(mode))
            .map_err(|e| ReaderError::io("set the mode of", root, e))?;
        fs::rename(root, &self.target).map_err(|e| match e.kind() {
            ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists | ErrorKind::NotADirectory => {
                ReaderError::TargetNotEmpty {
                    path: self.target.clone(),
                }
            }
            _ => ReaderError::io("rename the new directory to", &self.target, e),
        })?;
        // Renamed away: nothing left for the guard to remove.
        let _ = self.temp.keep();
        if let Ok(parent) = File::open(&self.parent) {
            let _ = parent.sync_all();
        }
        Ok(self.target)
    }

    /// Creates the directories above `path`, refusing anything that is not a directory
    /// this run made (a link, a file).
    fn create_parents(&mut self, path: &ArchivePath) -> Result<(), ReaderError> {
        let mut prefixes: Vec<ArchivePath> = path.prefixes().collect();
        prefixes.pop();
        for prefix in prefixes {
            if self.created.contains(&prefix) {
                continue;
            }
            let dir = self.temp.path().join(prefix.to_native());
            match DirBuilder::new().mode(DIR_MODE).create(&dir) {
                Ok(()) => fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE))
                    .map_err(|e| ReaderError::io("set the mode of", &dir, e))?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let meta = fs::symlink_metadata(&dir)
                        .map_err(|e| ReaderError::io("inspect", &dir, e))?;
                    if !meta.is_dir() {
                        return Err(ReaderError::io(
                            "create the directory",
                            &dir,
                            std::io::Error::new(
                                ErrorKind::AlreadyExists,
                                "something else is there",
                            ),
                        ));
                    }
                }
                Err(e) => return Err(ReaderError::io("create the directory", &dir, e)),
            }
            self.created.insert(prefix);
        }
        Ok(())
    }
}
