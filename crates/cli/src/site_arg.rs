//! The SITE argument: a site directory, or a database site's descriptor (a TOML file).

use std::path::{Path, PathBuf};

use anyhow::Result;
use sitepack_db::DatabaseSite;
use sitepack_site::BackupSource;
use sitepack_writer::Site;

/// What SITE names.
pub(crate) enum SiteArg {
    /// A site directory (or a path that is not a file: its errors are the directory's).
    Directory(PathBuf),
    /// A database site: the descriptor, read.
    Database(Box<DatabaseSite>),
}

impl SiteArg {
    /// A regular file is a descriptor, anything else a site directory.
    pub(crate) fn parse(path: &Path) -> Result<Self> {
        if !path.exists() && path.extension().is_some_and(|e| e == "toml") {
            anyhow::bail!(
                "{}: no such site descriptor; give a database site's descriptor (a TOML file) \
                 or a site directory",
                path.display()
            );
        }
        if path.is_file() {
            return match DatabaseSite::open(path) {
                Ok(site) => Ok(Self::Database(Box::new(site))),
                // Not meant as a descriptor (`site.json`, an archive): say what SITE is.
                Err(error) if path.extension().is_none_or(|e| e != "toml") => anyhow::bail!(
                    "{}: not a directory, and not a database site's descriptor ({error}): give \
                     the site directory (the one that holds site.json) or a descriptor (a TOML file)",
                    path.display()
                ),
                Err(error) => Err(error.into()),
            };
        }
        Ok(Self::Directory(path.to_path_buf()))
    }

    /// The directory whose `.sitepack/` holds the site's state.
    pub(crate) fn state_root(&self) -> &Path {
        match self {
            Self::Directory(root) => root,
            Self::Database(site) => &site.descriptor().state_dir,
        }
    }

    /// Opens the site for a backup, once the recovery of an interrupted restore is
    /// finished (a database site's state directory is made when it does not exist yet).
    pub(crate) fn open_for_backup(&self) -> Result<Box<dyn BackupSource>> {
        if let Self::Database(site) = self {
            site.create_state_dir()?;
        }
        crate::commands::recover_first_for_backup(self.state_root())?;
        Ok(match self {
            Self::Directory(root) => Box::new(Site::open(root)?),
            Self::Database(site) => Box::new(site.as_ref().clone()),
        })
    }
}
