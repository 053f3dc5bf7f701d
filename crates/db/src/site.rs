//! A database site as something to back up: the tenant's rows exported in one snapshot
//! into a staging directory under the site's state directory, then archived by the
//! writer like a site directory, while the site lock is held.

use std::path::Path;

use sitepack_format::{INTERNAL_DIR, Progress, SiteIdentity, interrupt};
use sitepack_site::{ArchiveOutput, BackupSource, SiteError};
use sitepack_writer::{CreateOptions, Site, Summary};

use crate::plan::Scope;
use crate::{DbError, Descriptor, TenantStats, connect, export, tenant_stats};

/// A database site: its descriptor, read and checked.
#[derive(Debug, Clone)]
pub struct DatabaseSite {
    descriptor: Descriptor,
}

impl DatabaseSite {
    /// Reads the descriptor at `path` (nothing is written, nothing is connected to).
    pub fn open(path: &Path) -> Result<Self, DbError> {
        Ok(Self {
            descriptor: Descriptor::load(path)?,
        })
    }

    /// The descriptor.
    #[must_use]
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// Creates the state directory (and its `.sitepack/`) when it does not exist yet, as
    /// a backup or an automatic run needs it for the lock and the audit log.
    pub fn create_state_dir(&self) -> Result<(), DbError> {
        // Nothing is made inside the uploads (where the state would then be archived).
        self.check_layout(None)?;
        let internal = self.descriptor.state_dir.join(INTERNAL_DIR);
        std::fs::create_dir_all(&internal)
            .map_err(|e| DbError::io("create the state directory", &internal, e))
    }

    /// The tenant's tables and row counts, read in one snapshot.
    pub fn stats(&self) -> Result<TenantStats, DbError> {
        let mut engine = connect(&self.descriptor)?;
        tenant_stats(engine.as_mut(), &self.descriptor)
    }

    /// Refuses a layout in which a backup would archive, or overwrite, the site's own
    /// parts: uploads holding the database, the descriptor or the state directory; an
    /// output that is the database or the descriptor, or inside the state or uploads.
    fn check_layout(&self, output: Option<&Path>) -> Result<(), DbError> {
        check_layout(&self.descriptor, output)
    }
}

/// Refuses a layout in which a backup would archive, or overwrite, the site's own parts
/// (see [`DatabaseSite::check_layout`]); a restore of the uploads checks the same, so that
/// it never removes the database, the descriptor or the state directory.
pub(crate) fn check_layout(descriptor: &Descriptor, output: Option<&Path>) -> Result<(), DbError> {
    let real = |path: &Path| {
        // Links resolved: a link to the database is the database. A file that does not
        // exist yet is placed by its directory.
        if let Ok(real) = path.canonicalize() {
            return Some(real);
        }
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => (dir, Some(name)),
            (None | Some(_), Some(name)) => (Path::new("."), Some(name)),
            _ => (path, None),
        };
        dir.canonicalize()
            .ok()
            .map(|dir| name.map_or(dir.clone(), |name| dir.join(name)))
    };
    let sqlite = match &descriptor.database {
        crate::descriptor::Database::Sqlite { path } => Some(path),
        crate::descriptor::Database::Postgres(_) => None,
    };
    let database = sqlite.and_then(|path| real(path));
    // SQLite's own files beside the database: writing over one loses committed rows.
    let companions = sqlite.into_iter().flat_map(|path| {
        ["-wal", "-journal", "-shm"].map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            (
                real(Path::new(&name)),
                "a file of the SQLite database",
                false,
            )
        })
    });
    let parts = [
        (database.clone(), "the database file"),
        (real(&descriptor.path), "the site descriptor"),
        (real(&descriptor.state_dir), "the state directory"),
    ];
    if let Some(uploads) = descriptor.files_dir.as_deref().and_then(real) {
        // The other way round: a restore of the uploads would remove the snapshots.
        if real(&descriptor.state_dir)
            .is_some_and(|state| uploads != state && uploads.starts_with(&state))
        {
            return Err(DbError::Overlap {
                path: descriptor.files_dir.clone().unwrap_or_default(),
                problem: "the uploads directory ([files] dir) is inside the state directory, \
                          whose snapshots and locks a restore of the uploads would remove: \
                          point [files] dir at the tenant's uploads only"
                    .to_owned(),
            });
        }
        for (part, what) in &parts {
            if part.as_ref().is_some_and(|p| p.starts_with(&uploads)) {
                return Err(DbError::Overlap {
                    path: descriptor.files_dir.clone().unwrap_or_default(),
                    problem: format!(
                        "the uploads directory ([files] dir) holds {what}, which would be \
                             archived with the uploads: point [files] dir at the tenant's \
                             uploads only"
                    ),
                });
            }
        }
    }
    let Some(output) = output else { return Ok(()) };
    let Some(out) = real(output) else {
        return Ok(());
    };
    let inside = [
        (database, "the database file", false),
        (real(&descriptor.path), "the site descriptor", false),
        (real(&descriptor.state_dir), "the state directory", true),
        (
            descriptor.files_dir.as_deref().and_then(real),
            "the uploads directory",
            true,
        ),
    ];
    for (part, what, is_dir) in inside.into_iter().chain(companions) {
        let Some(part) = part else { continue };
        if out == part || is_dir && out.starts_with(&part) {
            return Err(DbError::Overlap {
                path: output.to_path_buf(),
                problem: format!(
                    "the archive would be written {} {what} of the site being backed up: \
                         write it somewhere else",
                    if is_dir { "into" } else { "over" }
                ),
            });
        }
    }
    Ok(())
}

fn database(error: DbError) -> SiteError {
    SiteError::Database(Box::new(error))
}

impl BackupSource for DatabaseSite {
    fn state_root(&self) -> &Path {
        &self.descriptor.state_dir
    }

    fn identity(&self) -> SiteIdentity {
        self.descriptor.site.clone()
    }

    fn own_dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.descriptor.state_dir.as_path()];
        dirs.extend(self.descriptor.files_dir.as_deref());
        dirs
    }

    fn write_archive(
        &self,
        options: &CreateOptions,
        output: ArchiveOutput<'_>,
        progress: &dyn Progress,
    ) -> Result<Summary, SiteError> {
        let output_path = match &output {
            ArchiveOutput::File { path, .. } => Some(*path),
            ArchiveOutput::Stream { .. } => None,
        };
        self.check_layout(output_path).map_err(database)?;
        // Rows restored and files not all in place yet: a backup now would not be one
        // state of the site.
        if let Some(problem) = crate::review::files_waiting(&self.descriptor).map_err(database)? {
            return Err(database(DbError::Review { problem }));
        }
        let scope = Scope::try_from(&options.scope).map_err(database)?;
        let state_root = &self.descriptor.state_dir;
        let internal = state_root.join(INTERNAL_DIR);
        // Beside the lock, on the site's own disk; removed when the backup ends, an
        // interrupt included (a `kill -9` leaves it: docs/DATABASE-SITES.md).
        let staging = tempfile::Builder::new()
            .prefix("export-")
            .tempdir_in(&internal)
            .map_err(|e| database(DbError::io("create a staging directory in", &internal, e)))?;
        let _temporary = interrupt::temporary(staging.path());
        let mut engine = connect(&self.descriptor).map_err(database)?;
        let exported = export(
            engine.as_mut(),
            &self.descriptor,
            &scope,
            staging.path(),
            options.level,
            options.threads,
            progress,
        )
        .map_err(database)?;
        drop(engine);
        let site = Site::open_database(
            staging.path(),
            self.descriptor.files_dir.as_deref(),
            state_root,
        )?
        .with_tables(exported.tables);
        site.write_archive(options, output, progress)
    }
}
