//! The restore crate's one error type, and the refusals a restore can meet.

use std::io;
use std::path::PathBuf;

use sitepack_format::{
    ArchivePath, ContentProblem, FormatError, FormatVersion, Name, Scope, SiteId, TreeConflict,
};
use sitepack_reader::{ReaderError, Report};
use sitepack_site::{SiteError, SiteRefusal};
use sitepack_writer::WriterError;

use crate::{RewriteError, UrlProblem};

/// Why a restore could not be planned or carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The restore (or keep, revert, recovery) is refused as asked: a verdict (the CLI
    /// exits 1), not a failure.
    /// Nothing was changed.
    #[error("refused; nothing was changed")]
    Refused {
        /// Why.
        #[source]
        reason: Refusal,
    },
    /// A file system operation on the target site failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The archive could not be read (it changed after validation, or an I/O error).
    #[error("cannot read the archive")]
    Archive {
        /// The reader's error, which names the archive and entry.
        #[source]
        source: ReaderError,
    },
    /// An entry of a validated archive did not parse as JSON (the archive changed
    /// after validation): validate it again.
    #[error("archive entry {entry} does not hold valid JSON; validate the archive again")]
    ArchiveJson {
        /// The entry name (`site/…`).
        entry: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The pre-restore snapshot could not be written; nothing was changed.
    #[error("cannot write the pre-restore snapshot; nothing was changed")]
    Snapshot {
        /// What failed, naming the file.
        #[source]
        source: WriterError,
    },
    /// A restore failed part way, and undoing it failed too: the journal is kept, and the
    /// next sitepack command on the site tries the undo again.
    #[error(
        "the restore failed ({error}), and putting the site back failed too ({undo}); the \
         restore journal is kept, so the next sitepack command on this site tries again"
    )]
    UndoFailed {
        /// Why the restore failed.
        error: Box<RestoreError>,
        /// Why the undo failed.
        undo: Box<RestoreError>,
    },
    /// The site's state (its lock, the journal of an earlier restore, its snapshot)
    /// could not be used.
    #[error(transparent)]
    Site(SiteError),
    /// The URL rewrite rules are not usable.
    #[error("cannot rewrite URLs")]
    Rewrite {
        /// What is wrong with the rules.
        #[source]
        source: RewriteError,
    },
}

/// Why a restore is refused. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No `--yes`, and no terminal to ask on.
    #[error(
        "restore changes {}: confirm with --yes (no terminal to ask on); see the plan first with --dry-run",
        site.display()
    )]
    NotConfirmed {
        /// The site.
        site: PathBuf,
    },
    /// The person asked answered no.
    #[error("the restore into {} was cancelled at the prompt (the answer was not y)", site.display())]
    Declined {
        /// The site.
        site: PathBuf,
    },
    /// The archive did not validate.
    #[error(
        "{} is not a valid sitepack archive ({} error(s)); run `sitepack validate` on it for the details",
        report.archive, report.summary.errors
    )]
    InvalidArchive {
        /// The full validation report.
        report: Box<Report>,
    },
    /// The archive comes from another site.
    #[error(
        "the archive comes from site `{archive}` but the target is site `{target}`; \
         pass --allow-other-site to restore it here anyway"
    )]
    OtherSite {
        /// The archive's site id.
        archive: SiteId,
        /// The target's site id.
        target: SiteId,
    },
    /// A restore is pending review.
    #[error(
        "restore {id} into {site} is pending review; accept it with `sitepack keep {site}` or \
         undo it with `sitepack revert {site}`, then try again",
        site = site.display()
    )]
    RestorePending {
        /// The pending restore's id.
        id: String,
        /// The site.
        site: PathBuf,
    },
    /// The restore would leave two names that cannot stand side by side: the site could
    /// not be backed up afterwards (or the restore could not be applied at all).
    #[error(
        "restoring would leave {} — {}; rename one of them in the site first (or restore in replace mode where the archive's scope covers the site's path)",
        conflict_pair(.conflict), conflict_why(.conflict)
    )]
    TreeConflict {
        /// The two paths.
        conflict: TreeConflict,
    },
    /// An (empty) directory of the site stands where the archive has a file.
    #[error(
        "{path} is a directory in the site (holding no file) where the archive has a file; remove the directory, then restore again"
    )]
    DirectoryInTheWay {
        /// The site-relative path.
        path: ArchivePath,
    },
    /// The site changed between the plan and the restore.
    #[error(
        "{path} changed after the restore was planned; nothing was changed, run the restore again"
    )]
    SiteChanged {
        /// The site-relative path.
        path: ArchivePath,
    },
    /// `--as` was given for an archive whose scope is not a user.
    #[error("--as restores a user under a new id, but this archive's scope is {scope}")]
    AsNeedsUserScope {
        /// The archive's scope.
        scope: Scope,
    },
    /// The user id given to `--as` is already taken in the target.
    #[error("--as {id}: the target already has user `{id}` ({path}); choose an id it does not use")]
    UserExists {
        /// The id asked for.
        id: Name,
        /// What shows that it exists (site-relative).
        path: ArchivePath,
    },
    /// `--as`: a path of the user cannot be written under the new id (too long).
    #[error("--as {id}: {path} cannot be restored under the new id")]
    AsPathInvalid {
        /// The id asked for.
        id: Name,
        /// The archive's site-relative path.
        path: ArchivePath,
        /// Why the new path is not valid.
        #[source]
        source: FormatError,
    },
    /// The target directory has content but no `site.json`.
    #[error(
        "{}: not a site (no site.json) and not empty; restore into a site or into an empty directory",
        path.display()
    )]
    NotASite {
        /// The target directory.
        path: PathBuf,
    },
    /// The target site cannot be read as a site (invalid `site.json`, a link, an unsafe
    /// or colliding name, …).
    #[error("the target site cannot be restored into as it is")]
    UnusableTarget {
        /// What is wrong, naming the file.
        #[source]
        source: WriterError,
    },
    /// A collection of the target that the restore must merge into breaks the content
    /// rules (a line that is not a record with a unique id).
    #[error(
        "{}:{}: {problem}; fix the line, or restore in replace mode of a wider scope",
        path.display(),
        problem.line().unwrap_or_default()
    )]
    BadTargetRecord {
        /// The collection.
        path: PathBuf,
        /// Which rule the line breaks, and its 1-based number.
        problem: ContentProblem,
    },
    /// A record of the restored user has, in the target, the same id as a record of
    /// another owner: restoring it would take that record away from its owner.
    #[error(
        "{}:{line}: record {id} belongs to {owner} in the target, but the archive has it for \
         user `{user}`; restoring it would change another user's record. Give the target \
         record another id, or restore the whole module instead",
        path.display()
    )]
    RecordOwnedByOther {
        /// The collection.
        path: PathBuf,
        /// The 1-based line of the target record.
        line: usize,
        /// The record id (as JSON).
        id: String,
        /// The target record's owner (as JSON, `none` when it has none).
        owner: String,
        /// The user being restored.
        user: Name,
    },
    /// Refused by the site's state (its lock, the restore pending review).
    #[error(transparent)]
    Site(#[from] SiteRefusal),
    /// A database archive (format 1.1: `site/db/`) cannot be restored into a site
    /// directory; restoring into a database comes with database restore.
    #[error(
        "this archive holds a database's rows (format {version}, site/db/): it cannot be \
         restored into a site directory, and restoring into a database comes with database \
         restore (the next release); until then it can be validated, previewed and extracted \
         (`sitepack validate`, `sitepack preview`, `sitepack extract`)"
    )]
    DatabaseArchive {
        /// The archive's format version.
        version: FormatVersion,
    },
    /// `init`: a template must be a full archive.
    #[error(
        "a template must be a full archive, but this archive's scope is {scope}; \
         make the template with `sitepack create SITE -o TEMPLATE.zip --scope full`"
    )]
    TemplateNotFull {
        /// The archive's scope.
        scope: Scope,
    },
    /// `init`: the new site's directory exists and is not empty.
    #[error(
        "{}: exists and is not an empty directory; init creates a new site, so choose a \
         directory that does not exist yet",
        path.display()
    )]
    NewSiteExists {
        /// The new site's directory.
        path: PathBuf,
    },
    /// `init`: the new site's URL is not an absolute http(s) base URL.
    #[error("--url {url}: not a usable site URL")]
    InvalidSiteUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        #[source]
        problem: UrlProblem,
    },
    /// `init`: the new site's `site.json` would not be valid (an empty name, …).
    #[error("the new site's site.json would not be valid; check --id, --name and --url")]
    InvalidNewSiteJson {
        /// The schema violations.
        #[source]
        source: FormatError,
    },
}

impl From<SiteError> for RestoreError {
    /// A refusal stays a refusal, and an I/O error reads as the restore's own.
    fn from(error: SiteError) -> Self {
        match error {
            SiteError::Refused { reason } => Self::refused(Refusal::Site(reason)),
            SiteError::Io {
                action,
                path,
                source,
            } => Self::Io {
                action,
                path,
                source,
            },
            error => Self::Site(error),
        }
    }
}

impl RestoreError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn refused(reason: Refusal) -> Self {
        Self::Refused { reason }
    }

    /// A reader error: an invalid archive is a refusal carrying the report.
    pub(crate) fn from_reader(error: ReaderError) -> Self {
        match error {
            ReaderError::Invalid { report } => Self::refused(Refusal::InvalidArchive { report }),
            source => Self::Archive { source },
        }
    }
}

fn conflict_pair(conflict: &TreeConflict) -> String {
    match conflict {
        TreeConflict::Collision { first, second } => format!("{first} and {second}"),
        TreeConflict::FileAndDirectory { file, below } => {
            format!("a file {file} and a path below it, {below}")
        }
    }
}

fn conflict_why(conflict: &TreeConflict) -> &'static str {
    match conflict {
        TreeConflict::Collision { .. } => {
            "names that differ only by case or Unicode form, which collide on case-insensitive file systems and which sitepack refuses to back up"
        }
        TreeConflict::FileAndDirectory { .. } => "one name cannot be a file and a directory",
    }
}
