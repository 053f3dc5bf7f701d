//! A stored backup read by byte ranges: what a metadata-only `validate --no-data` or
//! `preview` of an object needs (the end of the file, the central directory, the
//! manifest) and nothing else.

use std::io;
use std::sync::Mutex;

use sitepack_reader::{Limits, Preview, ReadAt, Report, preview_metadata, validate_metadata};

use crate::{BackupStore, StoreError, StoredBackup};

/// Ranges are fetched at least this long: the reader's small reads (a local header, then
/// the entry after it) then cost one request, not several.
const MIN_FETCH: u64 = 64 * 1024;

/// A stored object as positional reads, each missing range fetched once.
struct ObjectReader<'a> {
    store: &'a dyn BackupStore,
    name: &'a str,
    len: u64,
    /// Fetched ranges: (start, bytes).
    fetched: Mutex<Vec<(u64, Vec<u8>)>>,
}

impl ReadAt for ObjectReader<'_> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let mut fetched = self
            .fetched
            .lock()
            .map_err(|_| io::Error::other("a range reader panicked"))?;
        let covering = fetched
            .iter()
            .find(|(start, bytes)| *start <= offset && offset < start + bytes.len() as u64);
        let (start, bytes) = if let Some(found) = covering {
            found
        } else {
            let end = (offset + (buf.len() as u64).max(MIN_FETCH)).min(self.len);
            let bytes = self
                .store
                .get_range(self.name, offset..end)
                .map_err(io::Error::other)?;
            if bytes.is_empty() {
                return Ok(0);
            }
            fetched.push((offset, bytes));
            fetched
                .last()
                .ok_or_else(|| io::Error::other("empty cache"))?
        };
        let from = usize::try_from(offset - start).map_err(io::Error::other)?;
        let n = buf.len().min(bytes.len() - from);
        buf[..n].copy_from_slice(&bytes[from..from + n]);
        Ok(n)
    }
}

fn reader<'a>(
    store: &'a dyn BackupStore,
    backup: &'a StoredBackup,
) -> Result<ObjectReader<'a>, StoreError> {
    if backup.encryption.is_some() {
        return Err(StoreError::EncryptedRanges {
            name: backup.name.clone(),
        });
    }
    let len = store.size(&backup.name)?;
    if len != backup.size {
        return Err(StoreError::SizeMismatch {
            name: backup.name.clone(),
            recorded: backup.size,
            actual: len,
        });
    }
    Ok(ObjectReader {
        store,
        name: &backup.name,
        len,
        fetched: Mutex::new(Vec::new()),
    })
}

fn read_error(backup: &StoredBackup, e: io::Error) -> StoreError {
    match e.downcast::<StoreError>() {
        Ok(store_error) => store_error,
        Err(e) => StoreError::io("read", &backup.name, e),
    }
}

/// The checks that need no entry data, on a stored backup, reading only the ranges they
/// need; the digest is the sidecar's (not recomputed), and the object must be as long as
/// the sidecar records. `archive` names it in the report.
pub fn validate_stored_metadata(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    archive: &str,
    limits: &Limits,
) -> Result<Report, StoreError> {
    let source = reader(store, backup)?;
    validate_metadata(&source, source.len, archive, limits, backup.sha256)
        .map_err(|e| read_error(backup, e))
}

/// A preview of a stored backup from the ranges a metadata-only check reads.
pub fn preview_stored(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    archive: &str,
) -> Result<Preview, StoreError> {
    let source = reader(store, backup)?;
    preview_metadata(&source, source.len, archive, backup.sha256).map_err(|e| read_error(backup, e))
}
