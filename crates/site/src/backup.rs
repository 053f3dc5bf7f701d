//! Backing a site up: the writer run under the site lock, recorded in the audit log.

use std::io::{self, Write};
use std::path::Path;

use sitepack_format::SiteIdentity;
use sitepack_format::{Beneath, INTERNAL_DIR, Progress, error_chain, interrupt};
use sitepack_writer::{
    CreateOptions, Overwrite, Site, Summary, create_archive_file, write_archive,
};

use crate::{
    CreateDetails, Details, LockKind, Outcome, SITE_LOCK_NAME, SiteError, SiteLock,
    record_audit_event,
};

/// Where a backup's archive goes.
pub enum ArchiveOutput<'a> {
    /// A file, written through a temporary file beside it and renamed into place.
    File {
        /// The archive file.
        path: &'a Path,
        /// Whether an existing file may be replaced.
        overwrite: Overwrite,
    },
    /// Any writer (standard output), called `name` in messages and the audit log.
    Stream {
        /// Where the bytes go.
        out: &'a mut dyn Write,
        /// What to call it.
        name: &'a Path,
    },
}

impl ArchiveOutput<'_> {
    fn name(&self) -> &Path {
        match self {
            Self::File { path, .. } => path,
            Self::Stream { name, .. } => name,
        }
    }
}

/// What [`create_backup`] wrote.
#[derive(Debug, Clone)]
pub struct Backup {
    /// The archive's manifest, size and digest.
    pub summary: Summary,
    /// Set when the archive was written but the audit log could not be appended to.
    pub audit_warning: Option<String>,
}

/// The site lock, held shared while a backup reads the site (see [`SiteLock`]): a
/// restore cannot change the site meanwhile, and a backup is refused while one does.
#[derive(Debug)]
pub struct BackupLock {
    _lock: Option<SiteLock>,
}

impl BackupLock {
    /// Takes the lock of the site at `root` shared. A reader that may not write into the
    /// site (a read-only backup user, a read-only mount) takes the existing lock file
    /// read-only; where there is none it has nothing to take, and no restore of the site
    /// has ever taken one either. Refused ([`SiteError::Busy`]) while a restore, revert
    /// or recovery holds it.
    pub fn take(root: &Path) -> Result<Self, SiteError> {
        let lock_path = format!("{INTERNAL_DIR}/{SITE_LOCK_NAME}");
        let native = root.join(&lock_path);
        let site = Beneath::open(root).map_err(|e| SiteError::io("open", root, e))?;
        let lock = match site
            .create_dirs(INTERNAL_DIR)
            .and_then(|dir| SiteLock::try_lock(&dir, SITE_LOCK_NAME, LockKind::Shared))
        {
            Err(e) if is_not_writable(&e) => match site.open_existing(&lock_path) {
                Ok(Some(file)) => SiteLock::try_lock_file(file, LockKind::Shared),
                Ok(None) => return Ok(Self { _lock: None }),
                Err(e) => Err(e),
            },
            other => other,
        };
        match lock.map_err(|e| SiteError::io("lock", native, e))? {
            Some(lock) => Ok(Self { _lock: Some(lock) }),
            None => Err(SiteError::Busy {
                site: root.to_path_buf(),
            }),
        }
    }
}

fn is_not_writable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// A site that can be backed up: a site directory ([`Site`]), or a database site (the
/// `db` crate's), whose backup reads the database while it holds the site lock.
pub trait BackupSource {
    /// The directory whose `.sitepack/` holds the site's lock, audit log and settings
    /// (the site directory itself, or a database site's state directory).
    fn state_root(&self) -> &Path;
    /// The site's identity, as its archives record it.
    fn identity(&self) -> SiteIdentity;
    /// The directories a stored backup must stay out of (it would be archived by the
    /// next backup): the site directory, or a database site's state and uploads.
    fn own_dirs(&self) -> Vec<&Path> {
        vec![self.state_root()]
    }
    /// Writes an archive of the site to `output`. The caller holds the site lock
    /// ([`BackupLock`]) and records the event: see [`create_backup`].
    fn write_archive(
        &self,
        options: &CreateOptions,
        output: ArchiveOutput<'_>,
        progress: &dyn Progress,
    ) -> Result<Summary, SiteError>;
}

impl BackupSource for Site {
    fn state_root(&self) -> &Path {
        Site::state_root(self)
    }

    fn identity(&self) -> SiteIdentity {
        self.config().identity()
    }

    fn write_archive(
        &self,
        options: &CreateOptions,
        output: ArchiveOutput<'_>,
        progress: &dyn Progress,
    ) -> Result<Summary, SiteError> {
        Ok(match output {
            ArchiveOutput::File { path, overwrite } => {
                create_archive_file(self, options, path, overwrite, progress)
            }
            ArchiveOutput::Stream { out, name } => {
                write_archive(self, options, out, name, progress)
            }
        }?)
    }
}

/// Writes an archive of `site` under its lock ([`BackupLock`]) and records a `create`
/// event either way (an interrupt records it as failed).
pub fn create_backup(
    site: &dyn BackupSource,
    options: &CreateOptions,
    output: ArchiveOutput<'_>,
    progress: &dyn Progress,
) -> Result<Backup, SiteError> {
    let state_root = site.state_root();
    let started = CreateDetails {
        scope: Some(options.scope.to_string()),
        options: Some(options.options),
        output: Some(output.name().display().to_string()),
        ..CreateDetails::default()
    };
    let _interruptible = {
        let root = state_root.to_path_buf();
        let started = started.clone();
        interrupt::operation(move |reason| {
            let details = CreateDetails {
                error: Some(reason.to_owned()),
                ..started
            };
            record_audit_event(&root, Outcome::Failed, Details::Create(details))
        })
    };
    let result = BackupLock::take(state_root)
        .and_then(|_lock| site.write_archive(options, output, progress));
    let (outcome, details) = match &result {
        Ok(summary) => (
            Outcome::Ok,
            CreateDetails {
                label: options.label.clone(),
                archive_sha256: Some(summary.archive_sha256),
                archive_size: Some(summary.archive_size),
                stats: Some(summary.manifest.stats.clone()),
                ..started
            },
        ),
        Err(error) => (
            Outcome::Failed,
            CreateDetails {
                error: Some(error_chain(error)),
                ..started
            },
        ),
    };
    let audit_warning = record_audit_event(state_root, outcome, Details::Create(details));
    result.map(|summary| Backup {
        summary,
        audit_warning,
    })
}
