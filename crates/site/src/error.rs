//! The site crate's one error type.

use std::io;
use std::path::PathBuf;

use sitepack_format::ArchivePath;
use sitepack_reader::ReaderError;
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
    /// The operation is refused as asked: a verdict, not a failure. Nothing was changed.
    #[error("refused; nothing was changed")]
    Refused {
        /// Why.
        #[source]
        reason: SiteRefusal,
    },
    /// The site directory named does not exist (a typo is not an empty site).
    #[error("{}: no such site directory; give the directory that holds site.json", site.display())]
    NoSuchSite {
        /// The path given.
        site: PathBuf,
    },
    /// The pre-restore snapshot could not be read back while undoing a restore.
    #[error(
        "cannot read the pre-restore snapshot {}; the restore journal is kept, so the next \
         sitepack command on this site tries again",
        path.display()
    )]
    SnapshotRead {
        /// The snapshot.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ReaderError,
    },
    /// The restore journal cannot be understood.
    #[error(
        "the restore journal {} cannot be read ({problem}); sitepack will not guess how to \
         undo an unfinished restore: keep a copy of the site and of .sitepack/, then inspect it",
        path.display()
    )]
    BadJournal {
        /// The journal.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Writer(#[from] WriterError),
    /// Reading a database site failed (the `db` crate's error, which names the table,
    /// column or row).
    #[error(transparent)]
    Database(Box<dyn std::error::Error + Send + Sync>),
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

/// Why an operation on a site's state is refused. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteRefusal {
    /// Another sitepack command holds the site's lock.
    #[error(
        "another sitepack command is changing {} (it holds .sitepack/lock); wait for it to \
         finish, then try again",
        site.display()
    )]
    Busy {
        /// The site.
        site: PathBuf,
    },
    /// The site directory is not a directory.
    #[error("{}: not a directory; restore into a site or into an empty directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// `revert` would throw away edits made since the restore.
    #[error(
        "{} path(s) the restore touched changed since it: {}; reverting would throw those edits away: copy them elsewhere first, or revert with --force",
        paths.len(),
        paths.iter().take(10).map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ChangedSinceRestore {
        /// The site.
        site: PathBuf,
        /// The paths.
        paths: Vec<ArchivePath>,
    },
    /// `keep` or `revert` with no restore pending.
    #[error("no restore is pending review in {}; there is nothing to keep or revert", site.display())]
    NothingPending {
        /// The site.
        site: PathBuf,
    },
}

impl SiteError {
    pub(crate) fn refused(reason: SiteRefusal) -> Self {
        Self::Refused { reason }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
