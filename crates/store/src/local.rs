//! A local directory as a storage target: `<dir>/<key>`, each file written beside its
//! name, flushed and renamed into place.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sitepack_format::Timestamp;

use crate::target::{ListedObject, Listing, check_key, usable_key};
use crate::{BackupStore, StoreError};

/// A directory of backups.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    fetched: AtomicU64,
}

impl LocalStore {
    /// The target directory `root` (made on the first write).
    #[must_use]
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            fetched: AtomicU64::new(0),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes through a temporary file beside `key`, renamed into place once flushed.
    fn write_with(
        &self,
        key: &str,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create", &dir, e))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".sitepack-")
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create a temporary file in", &dir, e))?;
        let _interruptible = sitepack_format::interrupt::temporary(temp.path());
        write(temp.as_file_mut())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| StoreError::io("write", &path, e))?;
        // Never over another object: of two writers of one name, exactly one wins
        // (link(2), which fails when the name exists).
        temp.persist_noclobber(&path).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                StoreError::Exists {
                    name: key.to_owned(),
                    target: self.describe(),
                }
            } else {
                StoreError::io("rename into place", &path, e.error)
            }
        })?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("flush", &dir, e))
    }

    /// Opens the object `key`: a regular file reached one directory at a time, never
    /// through a link (a link planted in a shared target must not serve another file).
    fn open(&self, key: &str) -> Result<File, StoreError> {
        let path = self.path(key)?;
        sitepack_format::Beneath::open(&self.root)
            .and_then(|root| root.open_file(key))
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    StoreError::NotFound {
                        name: key.to_owned(),
                        target: self.describe(),
                    }
                } else {
                    StoreError::io("open", &path, e)
                }
            })
    }
}

impl BackupStore for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn put_file(&self, key: &str, source: &Path) -> Result<(), StoreError> {
        let mut input = File::open(source).map_err(|e| StoreError::io("open", source, e))?;
        self.write_with(key, |out| io::copy(&mut input, out).map(|_| ()))
    }

    fn put_bytes(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        self.write_with(key, |out| out.write_all(data))
    }

    fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let mut data = Vec::new();
        self.open(key)?
            .read_to_end(&mut data)
            .map_err(|e| StoreError::io("read", self.root.join(key), e))?;
        Ok(data)
    }

    fn get_to_file(&self, key: &str, out: &mut File) -> Result<u64, StoreError> {
        let mut input = self.open(key)?;
        let copied = io::copy(&mut input, out)
            .map_err(|e| StoreError::io("copy", self.root.join(key), e))?;
        self.fetched.fetch_add(copied, Ordering::Relaxed);
        Ok(copied)
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let mut input = self.open(key)?;
        let path = self.root.join(key);
        input
            .seek(SeekFrom::Start(range.start))
            .map_err(|e| StoreError::io("read", &path, e))?;
        let mut data = Vec::new();
        input
            .take(range.end.saturating_sub(range.start))
            .read_to_end(&mut data)
            .map_err(|e| StoreError::io("read", &path, e))?;
        self.fetched.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data)
    }

    fn size(&self, key: &str) -> Result<u64, StoreError> {
        let file = self.open(key)?;
        file.metadata()
            .map(|m| m.len())
            .map_err(|e| StoreError::io("read", self.root.join(key), e))
    }

    fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        let mut listing = Listing::default();
        let start = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix.trim_end_matches('/'))?
        };
        walk(&self.root, &start, &mut listing)?;
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.skipped.sort();
        Ok(listing)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", &path, e)),
        }
    }

    fn bytes_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }
}

/// Every regular file below `dir`, as keys relative to `root`; temporary files of
/// unfinished writes are left out, and a name that is not UTF-8 or has a control
/// character is skipped (a directory with one, with all it holds) and named.
#[allow(clippy::unnecessary_debug_formatting)] // odd names are printed escaped
fn walk(root: &Path, dir: &Path, listing: &mut Listing) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("read", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read", dir, e))?;
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let key = relative
            .to_str()
            .map(|p| p.replace(std::path::MAIN_SEPARATOR, "/"));
        let Some(key) = key.filter(|k| usable_key(k)) else {
            // Escaped on purpose (`"caf\xE9.zip"`): never raw bytes on a terminal.
            listing.skipped.push(format!("{:?}", relative.as_os_str()));
            continue;
        };
        let metadata = entry
            .metadata()
            .map_err(|e| StoreError::io("read", &path, e))?;
        if metadata.is_dir() {
            walk(root, &path, listing)?;
        } else if metadata.is_file() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".sitepack-") && name.ends_with(".partial") {
                continue;
            }
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .and_then(|s| Timestamp::from_unix_seconds(s).ok());
            listing.objects.push(ListedObject {
                key,
                size: metadata.len(),
                modified,
            });
        }
    }
    Ok(())
}
