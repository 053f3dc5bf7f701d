//! The site crate's one error type.

use std::io;
use std::path::PathBuf;

use sitepack_writer::WriterError;

/// What can go wrong with a site's state, or with a backup run under it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// A restore, revert or recovery is changing the site: a backup now would hold a
    /// state the site was never in.
    #[error(
        "{}: a restore, revert or recovery is changing this site right now (it holds \
         .sitepack/lock); back it up when that has finished",
        site.display()
    )]
    Busy {
        /// The site directory.
        site: PathBuf,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Writer(#[from] WriterError),
    /// A read or write of the site's state failed.
    #[error("{}: cannot {action}", path.display())]
    Io {
        /// What was being done (`lock`, `open`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl SiteError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
