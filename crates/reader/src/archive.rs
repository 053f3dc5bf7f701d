//! `Archive`: one open archive file, validated once and read through one verifying path.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sitepack_format::{Entry, Manifest, NoProgress, Progress, Sha256};

use crate::container::Record;
use crate::entry_stream::{EntryStream, drain};
use crate::source::ReadAt;
use crate::validate::{Catalog, Depth, file_digest, validate, validate_metadata};
use crate::{Limits, ReaderError, Report};

/// An archive opened for reading. Every read goes through the same file handle, so the
/// file validated is the file read.
#[derive(Debug)]
pub struct Archive {
    file: File,
    path: PathBuf,
    /// What reports and records call it (default: the path).
    name: String,
    len: u64,
    /// Set by the first validation that found the archive valid.
    valid: OnceLock<Catalog>,
    /// A local snapshot: its rows are whole, secrets included ([`Self::open_local_snapshot`]).
    whole_rows: bool,
}

impl Archive {
    /// Opens an archive file. Fails only when it cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReaderError> {
        let path = path.as_ref().to_path_buf();
        let (file, len) = open_regular_file(&path)?;
        Ok(Self {
            file,
            len,
            name: path.display().to_string(),
            path,
            valid: OnceLock::new(),
            whole_rows: false,
        })
    }

    /// Opens a database site's pre-restore snapshot, written by sitepack into the site's
    /// own state directory with its rows whole (`SecretPolicy::keeping_rows_whole`): it is
    /// validated as any archive, except that a secret value or a credential shape in it
    /// is not a finding. Never for an archive from elsewhere.
    pub fn open_local_snapshot(path: impl AsRef<Path>) -> Result<Self, ReaderError> {
        let mut archive = Self::open(path)?;
        archive.whole_rows = true;
        Ok(archive)
    }

    /// The path it was opened with.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What reports and records call the archive: its path, unless [`named`](Self::named)
    /// gave another name (e.g. the URL of a stored backup read from a temporary copy).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same archive, called `name` in reports and records.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs every check of docs/FORMAT.md §13 and reports every finding.
    pub fn validate(&self, limits: &Limits) -> Result<Report, ReaderError> {
        self.validate_with_progress(limits, &NoProgress)
    }

    /// [`validate`](Self::validate), reporting each verified entry to `progress`.
    pub fn validate_with_progress(
        &self,
        limits: &Limits,
        progress: &dyn Progress,
    ) -> Result<Report, ReaderError> {
        let (report, catalog) = self.check(limits, progress)?;
        if report.is_valid()
            && let Some(catalog) = catalog
        {
            let _ = self.valid.set(catalog);
        }
        Ok(report)
    }

    /// Validates, returning what was learned (the catalog) whether valid or not.
    pub(crate) fn check(
        &self,
        limits: &Limits,
        progress: &dyn Progress,
    ) -> Result<(Report, Option<Catalog>), ReaderError> {
        validate(
            &self.file,
            self.len,
            &self.name,
            limits,
            progress,
            Depth::Full,
            self.whole_rows,
        )
        .map_err(|e| ReaderError::io("read", &self.path, e))
    }

    /// The checks of docs/FORMAT.md §13 that need no entry data: the end records, the
    /// central directory, the manifest, `checksums.sha256` and `site.json` against the
    /// listing (`validate --no-data`). The whole-file digest is still computed; no other
    /// entry is decompressed. The report says `data_checked: false`.
    pub fn validate_metadata(&self, limits: &Limits) -> Result<Report, ReaderError> {
        let digest = file_digest(&self.file, self.len)
            .map_err(|e| ReaderError::io("read", &self.path, e))?;
        validate_metadata(&self.file, self.len, &self.name, limits, digest)
            .map_err(|e| ReaderError::io("read", &self.path, e))
    }

    /// The catalog of a valid archive, validating with the default limits if needed.
    pub(crate) fn valid_catalog(&self, progress: &dyn Progress) -> Result<&Catalog, ReaderError> {
        if let Some(catalog) = self.valid.get() {
            return Ok(catalog);
        }
        let report = self.validate_with_progress(&Limits::default(), progress)?;
        self.valid.get().ok_or_else(|| ReaderError::Invalid {
            report: Box::new(report),
        })
    }

    /// The manifest of a valid archive.
    pub fn manifest(&self) -> Result<&Manifest, ReaderError> {
        let catalog = self.valid_catalog(&NoProgress)?;
        catalog
            .manifest
            .as_ref()
            .ok_or_else(|| ReaderError::NoSuchEntry {
                name: sitepack_format::MANIFEST_NAME.to_owned(),
            })
    }

    /// The SHA-256 of the whole file of a valid archive (as validated).
    pub fn sha256(&self) -> Result<Sha256, ReaderError> {
        Ok(self.valid_catalog(&NoProgress)?.digest)
    }

    /// The payload entries of a valid archive, as its manifest lists them.
    pub fn entries(&self) -> Result<&[Entry], ReaderError> {
        Ok(&self.manifest()?.entries)
    }

    /// Reads one entry of a valid archive whole, verifying its size, CRC-32 and (for
    /// payload entries) SHA-256 as it reads.
    pub fn read_entry(&self, name: &str) -> Result<Vec<u8>, ReaderError> {
        let mut bytes = Vec::new();
        self.copy_entry(name, &mut bytes)?;
        Ok(bytes)
    }

    /// Streams one entry of a valid archive into `out`, verifying as
    /// [`read_entry`](Self::read_entry) does. Returns the number of bytes written.
    pub fn copy_entry(&self, name: &str, out: &mut dyn Write) -> Result<u64, ReaderError> {
        let catalog = self.valid_catalog(&NoProgress)?;
        let record = catalog
            .records
            .iter()
            .find(|r| !r.is_directory() && r.name() == Some(name))
            .ok_or_else(|| ReaderError::NoSuchEntry {
                name: name.to_owned(),
            })?;
        let expected = catalog
            .manifest
            .as_ref()
            .and_then(|m| m.entries.iter().find(|e| e.path.as_str() == name))
            .map(|e| e.sha256);
        self.copy_verified(record, expected.as_ref(), out)
    }

    /// The one verifying read: everything that leaves the archive goes through here.
    pub(crate) fn copy_verified(
        &self,
        record: &Record,
        expected: Option<&Sha256>,
        out: &mut dyn Write,
    ) -> Result<u64, ReaderError> {
        copy_verified(&self.file, &self.path, record, expected, out)
    }

    /// The records of a valid archive (for extraction).
    pub(crate) fn file_records(
        &self,
        progress: &dyn Progress,
    ) -> Result<Vec<(&Record, Option<&Sha256>)>, ReaderError> {
        let catalog = self.valid_catalog(progress)?;
        let digests: HashMap<&str, &Sha256> = catalog
            .manifest
            .iter()
            .flat_map(|m| &m.entries)
            .map(|e| (e.path.as_str(), &e.sha256))
            .collect();
        Ok(catalog
            .records
            .iter()
            .filter(|r| !r.is_directory())
            .map(|r| (r, r.name().and_then(|n| digests.get(n).copied())))
            .collect())
    }
}

/// Opens `path` for reading when it is a regular file; returns it and its length.
pub(crate) fn open_regular_file(path: &Path) -> Result<(File, u64), ReaderError> {
    let not_a_file = || ReaderError::NotAFile {
        path: path.to_path_buf(),
    };
    // Look before opening: opening a FIFO would block until someone writes to it.
    let kind = std::fs::metadata(path).map_err(|e| ReaderError::io("open", path, e))?;
    if !kind.is_file() {
        return Err(not_a_file());
    }
    let file = File::open(path).map_err(|e| ReaderError::io("open", path, e))?;
    let metadata = file
        .metadata()
        .map_err(|e| ReaderError::io("read", path, e))?;
    if !metadata.is_file() {
        return Err(not_a_file());
    }
    Ok((file, metadata.len()))
}

/// Streams one entry of `file` (at `path`) into `out`, checking its size, CRC-32 and,
/// when `expected` is given, its SHA-256 as it goes.
pub(crate) fn copy_verified(
    file: &dyn ReadAt,
    path: &Path,
    record: &Record,
    expected: Option<&Sha256>,
    out: &mut dyn Write,
) -> Result<u64, ReaderError> {
    let changed = |what: &str| ReaderError::Changed {
        entry: record.display().to_owned(),
        what: what.to_owned(),
    };
    let mut stream = EntryStream::new(file, record).map_err(|e| changed(&e.to_string()))?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut written: io::Result<()> = Ok(());
    drain(&mut stream, &mut buffer, |chunk| {
        written = out.write_all(chunk);
        written.is_ok()
    })
    .map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => changed(&e.to_string()),
        _ => ReaderError::io("read", path, e),
    })?;
    written.map_err(|e| ReaderError::io("write", "the output", e))?;
    let computed = stream.finish();
    if computed.size != record.uncompressed {
        return Err(changed("its size differs"));
    }
    if computed.crc != record.crc {
        return Err(changed("its CRC-32 differs"));
    }
    if expected.is_some_and(|e| e != &computed.sha256) {
        return Err(changed("its SHA-256 differs"));
    }
    Ok(computed.size)
}
