//! Traversal-safe extraction (docs/FORMAT.md §14): validate fully, write into a fresh
//! temporary directory next to the target with create-new, no-follow opens, verify
//! every byte again while writing, then rename. On any failure nothing is left.

use std::path::{Path, PathBuf};

use sitepack_format::{ArchivePath, NoProgress, Progress};

use crate::{Archive, ReaderError, StagedDir};

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
        StagedDir::check_target(dir)?;
        let records = self.file_records(progress)?;
        progress.begin(
            records.len() as u64,
            records.iter().map(|(r, _)| r.uncompressed).sum(),
        );
        let mut staged = StagedDir::new(dir, ".sitepack-extract-")?;
        sitepack_format::failpoint::pause("extract-staged");
        let mut summary = ExtractSummary {
            dir: dir.to_path_buf(),
            files: 0,
            bytes: 0,
        };
        for (record, sha256) in records {
            let path: ArchivePath =
                record
                    .name()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| ReaderError::Changed {
                        entry: record.display().to_owned(),
                        what: "its name is not a safe path".to_owned(),
                    })?;
            let mut file = staged.create_file(&path)?;
            let written = self.copy_verified(record, sha256, &mut file)?;
            progress.advance(written);
            summary.bytes += written;
            summary.files += 1;
        }
        staged.finish()?;
        Ok(summary)
    }
}
