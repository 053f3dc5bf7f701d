//! What a SITE argument names: a site directory, or a database site's descriptor (a
//! TOML file). The command line and the server read it the same way.

use std::path::{Path, PathBuf};

use sitepack_site::{BackupSource, SiteError};
use sitepack_writer::Site;

use crate::{DatabaseSite, DbError};

/// A site directory, or a database site (its descriptor, read).
#[derive(Debug)]
pub enum SitePath {
    /// A site directory (or a path that is not a file: its errors are the directory's).
    Directory(PathBuf),
    /// A database site.
    Database(Box<DatabaseSite>),
}

impl SitePath {
    /// A regular file is a descriptor, anything else a site directory; a `.toml` path
    /// that does not exist is a missing descriptor, not a new directory.
    pub fn parse(path: &Path) -> Result<Self, DbError> {
        if !path.exists() && path.extension().is_some_and(|e| e == "toml") {
            return Err(DbError::NotASite {
                path: path.to_path_buf(),
                problem: "no such site descriptor; give a database site's descriptor (a TOML \
                          file) or a site directory"
                    .to_owned(),
            });
        }
        if path.is_file() {
            return match DatabaseSite::open(path) {
                Ok(site) => Ok(Self::Database(Box::new(site))),
                // Not meant as a descriptor (`site.json`, an archive): say what SITE is.
                Err(error) if path.extension().is_none_or(|e| e != "toml") => {
                    Err(DbError::NotASite {
                        path: path.to_path_buf(),
                        problem: format!(
                            "not a directory, and not a database site's descriptor ({error}): \
                             give the site directory (the one that holds site.json) or a \
                             descriptor (a TOML file)"
                        ),
                    })
                }
                Err(error) => Err(error),
            };
        }
        Ok(Self::Directory(path.to_path_buf()))
    }

    /// The directory whose `.sitepack/` holds the site's state.
    #[must_use]
    pub fn state_root(&self) -> &Path {
        match self {
            Self::Directory(root) => root,
            Self::Database(site) => &site.descriptor().state_dir,
        }
    }

    /// The database site, when it is one.
    #[must_use]
    pub fn database(&self) -> Option<&DatabaseSite> {
        match self {
            Self::Database(site) => Some(site),
            Self::Directory(_) => None,
        }
    }

    /// The site as something to back up (a directory is opened, and must hold
    /// `site.json`).
    pub fn open_source(&self) -> Result<Box<dyn BackupSource>, SiteError> {
        Ok(match self {
            Self::Directory(root) => Box::new(Site::open(root)?),
            Self::Database(site) => Box::new(site.as_ref().clone()),
        })
    }
}
