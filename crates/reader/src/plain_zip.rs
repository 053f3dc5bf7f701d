//! A ZIP read without the sitepack checks: the container is parsed and every read is
//! verified as [`Archive`](crate::Archive)'s are, but there is no manifest. The restore
//! crate reads its pre-restore snapshots (docs/SITE-STATE.md) through it.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sitepack_format::Sha256;

use crate::ReaderError;
use crate::archive::{copy_verified, open_regular_file};
use crate::container::{self, Record};
use crate::finding::{Findings, Severity};

/// An open ZIP file and its central directory.
#[derive(Debug)]
pub struct PlainZip {
    file: File,
    path: PathBuf,
    records: HashMap<String, Record>,
}

impl PlainZip {
    /// Opens `path` and reads its central directory; a damaged container (any error the
    /// container checks of docs/FORMAT.md §13.1 find) is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReaderError> {
        let path = path.as_ref().to_path_buf();
        let (file, _) = open_regular_file(&path)?;
        Self::from_file(file, path)
    }

    /// Reads the central directory of `file`, opened by the caller (at `path`, named in
    /// messages); as [`open`](Self::open) otherwise.
    pub fn from_file(file: File, path: PathBuf) -> Result<Self, ReaderError> {
        let len = file
            .metadata()
            .map_err(|e| ReaderError::io("read", &path, e))?
            .len();
        let mut findings = Findings::default();
        let container = container::read(&file, len, u64::MAX, &mut findings)
            .map_err(|e| ReaderError::io("read", &path, e))?;
        let first_error = findings.kept.iter().find(|f| f.severity == Severity::Error);
        let container = match (container, first_error) {
            (Some(container), None) => container,
            (_, problem) => {
                return Err(ReaderError::Damaged {
                    path,
                    problem: problem.map_or_else(
                        || "its central directory cannot be found".to_owned(),
                        |f| f.message.clone(),
                    ),
                });
            }
        };
        let records = container
            .records
            .into_iter()
            .filter(|r| !r.is_directory() && r.readable())
            .filter_map(|r| Some((r.name()?.to_owned(), r)))
            .collect();
        Ok(Self {
            file,
            path,
            records,
        })
    }

    /// The path it was opened with.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it has a readable file entry `name`.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.records.contains_key(name)
    }

    /// Streams entry `name` into `out`, verifying its size, CRC-32 and SHA-256 against
    /// `expected`. Returns the number of bytes written.
    pub fn copy_entry(
        &self,
        name: &str,
        expected: &Sha256,
        out: &mut dyn Write,
    ) -> Result<u64, ReaderError> {
        let record = self
            .records
            .get(name)
            .ok_or_else(|| ReaderError::NoSuchEntry {
                name: name.to_owned(),
            })?;
        copy_verified(&self.file, &self.path, record, Some(expected), out)
    }
}
