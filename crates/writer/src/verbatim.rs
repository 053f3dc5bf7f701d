//! A plain ZIP of files copied byte for byte: no manifest, no secret policy, no checks of
//! their content. The restore crate keeps the pre-restore snapshot of a site in one
//! (docs/SITE-STATE.md), so that a revert puts back exactly the bytes that were there.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sitepack_format::{Sha256, Timestamp};

use crate::WriterError;
use crate::compress::{self, Encoded};
use crate::create::append_entry;
use crate::zip_out::ZipOut;

/// Writes files into a ZIP one after another, as they are: each is read once to hash and
/// compress it (large ones through a temporary file in the spill directory), then appended.
pub struct VerbatimZip<W: Write> {
    zip: ZipOut<W>,
    output_name: PathBuf,
    spill_dir: PathBuf,
    level: u32,
}

/// What was stored of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes.
    pub sha256: Sha256,
}

impl<W: Write> VerbatimZip<W> {
    /// Starts a ZIP written to `out` (named `output_name` in errors), with entry times
    /// `time`, deflate `level` (0 stores everything) and temporary files in `spill_dir`.
    pub fn new(out: W, output_name: &Path, time: Timestamp, level: u32, spill_dir: &Path) -> Self {
        Self {
            zip: ZipOut::new(out, time),
            output_name: output_name.to_path_buf(),
            spill_dir: spill_dir.to_path_buf(),
            level,
        }
    }

    /// Appends `file` (opened by the caller without following a link; `source` names it
    /// in errors) as entry `name`.
    pub fn add_file(
        &mut self,
        name: &str,
        file: File,
        source: &Path,
    ) -> Result<Stored, WriterError> {
        let encoded = compress::encode_file(
            file,
            self.level,
            compress::is_precompressed(name),
            &self.spill_dir,
            &mut |_| {},
        )
        .map_err(|e| WriterError::io("read", source, e))?;
        self.append(name, encoded, source)
    }

    /// Appends `data` as entry `name`.
    pub fn add_bytes(&mut self, name: &str, data: Vec<u8>) -> Result<Stored, WriterError> {
        let encoded = compress::encode_bytes(data, self.level, compress::is_precompressed(name))
            .map_err(|e| WriterError::io("compress", &self.output_name, e))?;
        self.append(name, encoded, Path::new(name))
    }

    fn append(
        &mut self,
        name: &str,
        encoded: Encoded,
        source: &Path,
    ) -> Result<Stored, WriterError> {
        let stored = Stored {
            size: encoded.size,
            sha256: encoded.sha256,
        };
        append_entry(&mut self.zip, name, encoded, source, &self.output_name)?;
        Ok(stored)
    }

    /// Writes the central directory; returns the writer.
    pub fn finish(self) -> Result<W, WriterError> {
        self.zip
            .finish()
            .map_err(|e| WriterError::io("write", &self.output_name, e))
    }
}
