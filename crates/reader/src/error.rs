//! The reader's one error type: what stops reading, as opposed to findings about the
//! archive's contents.

use std::io;
use std::path::PathBuf;

use crate::Report;

/// Why an archive could not be read, extracted or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError {
    /// A file system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `create`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The archive path names a directory or other non-file.
    #[error("{} is not a file; give the path of a .zip archive", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// Validation found errors, so nothing was read or written.
    #[error(
        "{} is not a valid sitepack archive ({} error(s)); nothing was written. Run `sitepack validate` on it for the details",
        report.archive, report.summary.errors
    )]
    Invalid {
        /// The full report.
        report: Box<Report>,
    },
    /// The extraction target exists and is not an empty directory.
    #[error("{} already exists and is not an empty directory; choose a new directory or empty it first", path.display())]
    TargetNotEmpty {
        /// The target.
        path: PathBuf,
    },
    /// An entry's data differs from what validation saw (the file changed meanwhile).
    #[error(
        "entry {entry} changed while it was being read ({what}); the archive file was modified: validate it again"
    )]
    Changed {
        /// The entry name.
        entry: String,
        /// Which check failed.
        what: String,
    },
    /// A ZIP read without the sitepack checks ([`PlainZip`](crate::PlainZip)) is damaged.
    #[error("{} cannot be read as a ZIP file: {problem}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The first problem found.
        problem: String,
    },
    /// No entry of that name.
    #[error("the archive has no entry named {name}")]
    NoSuchEntry {
        /// The name asked for.
        name: String,
    },
}

impl ReaderError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
