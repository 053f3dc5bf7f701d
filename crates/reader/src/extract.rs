//! Traversal-safe extraction (docs/FORMAT.md §14): validate fully, write into a fresh
//! temporary directory next to the target with create-new, no-follow opens, verify
//! every byte again while writing, then rename. On any failure nothing is left.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sitepack_format::{ArchivePath, NoProgress, Progress};

use crate::{Archive, ReaderError};

/// What an extraction wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSummary {
    /// The directory now holding the archive's files.
    pub dir: PathBuf,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

impl Archive {
    /// Validates the archive and writes its entries into `dir`, which must not exist
    /// or be an empty directory. Nothing is written unless the archive is valid.
    pub fn extract_to(&self, dir: &Path) -> Result<ExtractSummary, ReaderError> {
        self.extract_with_progress(dir, &NoProgress)
    }

    /// [`extract_to`](Self::extract_to), reporting to `progress` the verification pass
    /// (unless the archive was validated already) and then each file written.
    pub fn extract_with_progress(
        &self,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<ExtractSummary, ReaderError> {
        check_target(dir)?;
        let records = self.file_records(progress)?;
        progress.begin(
            records.len() as u64,
            records.iter().map(|(r, _)| r.uncompressed).sum(),
        );
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".sitepack-extract-")
            .tempdir_in(parent)
            .map_err(|e| ReaderError::io("create a temporary directory in", parent, e))?;
        let root = temp.path();
        let mut summary = ExtractSummary {
            dir: dir.to_path_buf(),
            files: 0,
            bytes: 0,
        };
        let mut created = HashSet::new();
        for (record, sha256) in records {
            let path: ArchivePath =
                record
                    .name()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| ReaderError::Changed {
                        entry: record.display().to_owned(),
                        what: "its name is not a safe path".to_owned(),
                    })?;
            let target = root.join(path.to_native());
            create_parents(root, &path, &mut created)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
                .open(&target)
                .map_err(|e| ReaderError::io("create", &target, e))?;
            file.set_permissions(Permissions::from_mode(FILE_MODE))
                .map_err(|e| ReaderError::io("set the mode of", &target, e))?;
            let written = self.copy_verified(record, sha256, &mut file)?;
            progress.advance(written);
            summary.bytes += written;
            summary.files += 1;
        }
        let temp_dir = fs::File::open(root).map_err(|e| ReaderError::io("open", root, e))?;
        nix::unistd::syncfs(&temp_dir)
            .map_err(|e| ReaderError::io("flush", root, std::io::Error::from(e)))?;
        fs::set_permissions(root, Permissions::from_mode(DIR_MODE))
            .map_err(|e| ReaderError::io("set the mode of", root, e))?;
        // rename(2) replaces an empty directory and fails on a non-empty one, so a
        // directory filled meanwhile is never overwritten.
        fs::rename(root, dir).map_err(|e| match e.kind() {
            ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists | ErrorKind::NotADirectory => {
                ReaderError::TargetNotEmpty {
                    path: dir.to_path_buf(),
                }
            }
            _ => ReaderError::io("rename the extracted files to", dir, e),
        })?;
        // Renamed away: nothing left for the guard to remove.
        let _ = temp.keep();
        if let Ok(parent_dir) = fs::File::open(parent) {
            let _ = parent_dir.sync_all();
        }
        Ok(summary)
    }
}

/// The target must not exist, or be an empty directory (not a link to one).
fn check_target(dir: &Path) -> Result<(), ReaderError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ReaderError::io("inspect", dir, e)),
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(dir).map_err(|e| ReaderError::io("read", dir, e))?;
            if entries.next().is_none() {
                Ok(())
            } else {
                Err(ReaderError::TargetNotEmpty {
                    path: dir.to_path_buf(),
                })
            }
        }
        Ok(_) => Err(ReaderError::TargetNotEmpty {
            path: dir.to_path_buf(),
        }),
    }
}

/// Creates the directories above `path` inside `root` (remembering them in `created`),
/// refusing anything that is not a directory this extraction made (a link, a file).
fn create_parents(
    root: &Path,
    path: &ArchivePath,
    created: &mut HashSet<ArchivePath>,
) -> Result<(), ReaderError> {
    let mut prefixes: Vec<ArchivePath> = path.prefixes().collect();
    prefixes.pop();
    for prefix in prefixes {
        if created.contains(&prefix) {
            continue;
        }
        let dir = root.join(prefix.to_native());
        match DirBuilder::new().mode(DIR_MODE).create(&dir) {
            Ok(()) => fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE))
                .map_err(|e| ReaderError::io("set the mode of", &dir, e))?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let meta =
                    fs::symlink_metadata(&dir).map_err(|e| ReaderError::io("inspect", &dir, e))?;
                if !meta.is_dir() {
                    return Err(ReaderError::io(
                        "create the directory",
                        &dir,
                        std::io::Error::new(ErrorKind::AlreadyExists, "something else is there"),
                    ));
                }
            }
            Err(e) => return Err(ReaderError::io("create the directory", &dir, e)),
        }
        created.insert(prefix);
    }
    Ok(())
}
