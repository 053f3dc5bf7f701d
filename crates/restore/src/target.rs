//! Reading the target site: what the target directory is (a site or a sandbox) and its
//! files' bytes, existence and digests, never following a symbolic link.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sitepack_format::{ArchivePath, Beneath, INTERNAL_DIR, NodeKind, Sha256, SiteConfig};
use sitepack_site::SiteRefusal;
use sitepack_writer::{Site, SiteFile, WriterError};

use crate::{Refusal, RestoreError};

/// The site's configuration file, at the root of a site.
pub(crate) const SITE_JSON: &str = "site.json";

/// The target directory as found.
pub(crate) enum Target {
    /// A site: its `site.json` and files.
    Site {
        config: SiteConfig,
        files: Vec<SiteFile>,
    },
    /// No `site.json` and nothing else (or no directory yet).
    Sandbox,
}

impl Target {
    pub(crate) fn open(root: &Path) -> Result<Self, RestoreError> {
        match fs::metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::Sandbox),
            Err(e) => return Err(RestoreError::io("read", root, e)),
            Ok(meta) if !meta.is_dir() => {
                return Err(RestoreError::refused(Refusal::Site(
                    SiteRefusal::NotADirectory {
                        path: root.to_path_buf(),
                    },
                )));
            }
            Ok(_) => {}
        }
        let site_json = root.join(SITE_JSON);
        match fs::symlink_metadata(&site_json) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut entries = fs::read_dir(root)
                    .map_err(|e| RestoreError::io("read the directory", root, e))?;
                let occupied = entries
                    .any(|entry| entry.map_or(true, |entry| entry.file_name() != INTERNAL_DIR));
                return if occupied {
                    Err(RestoreError::refused(Refusal::NotASite {
                        path: root.to_path_buf(),
                    }))
                } else {
                    Ok(Self::Sandbox)
                };
            }
            Err(e) => return Err(RestoreError::io("read", site_json, e)),
            Ok(_) => {}
        }
        let site = Site::open(root).map_err(unusable_target)?;
        let files = site.scan().map_err(unusable_target)?;
        Ok(Self::Site {
            config: site.config().clone(),
            files,
        })
    }

    pub(crate) fn files(&self) -> &[SiteFile] {
        match self {
            Self::Site { files, .. } => files,
            Self::Sandbox => &[],
        }
    }
}

fn unusable_target(error: WriterError) -> RestoreError {
    match error {
        WriterError::Io {
            action,
            path,
            source,
        } => RestoreError::Io {
            action,
            path,
            source,
        },
        source => RestoreError::refused(Refusal::UnusableTarget { source }),
    }
}

/// A path of the target site, read without following a link anywhere below the site's
/// root: a directory swapped for a link is refused, never followed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetPath<'a> {
    pub(crate) root: &'a Path,
    pub(crate) path: &'a ArchivePath,
}

impl TargetPath<'_> {
    /// The native path (for messages).
    pub(crate) fn native(&self) -> PathBuf {
        self.root.join(self.path.to_native())
    }

    /// The site directory; `None` when it does not exist (a new sandbox).
    fn root(&self) -> Result<Option<Beneath>, RestoreError> {
        match Beneath::open(self.root) {
            Ok(root) => Ok(Some(root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RestoreError::io("open", self.root, e)),
        }
    }

    /// The file opened for reading; `None` when it (or the site) does not exist.
    fn open(&self) -> Result<Option<File>, RestoreError> {
        match self.root()? {
            Some(root) => open_existing(&root, self.path),
            None => Ok(None),
        }
    }

    /// Whether a file (or anything but a directory) is at the path. A directory where
    /// the file would go is no file: the plan deletes what is in it (or refuses the
    /// restore as a conflict).
    pub(crate) fn exists(&self) -> Result<bool, RestoreError> {
        let Some(root) = self.root()? else {
            return Ok(false);
        };
        root.stat(self.path.as_str())
            .map(|stat| stat.is_some_and(|stat| stat.kind != NodeKind::Dir))
            .map_err(|e| RestoreError::io("read the metadata of", self.native(), e))
    }

    /// The file's bytes; `None` when it does not exist.
    pub(crate) fn read(&self) -> Result<Option<Vec<u8>>, RestoreError> {
        let Some(mut file) = self.open()? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| RestoreError::io("read", self.native(), e))?;
        Ok(Some(bytes))
    }

    /// The file's size and digest, streamed; `None` when it does not exist.
    pub(crate) fn digest(&self) -> Result<Option<(u64, Sha256)>, RestoreError> {
        match self.open()? {
            Some(file) => digest_of(file, &self.native()).map(Some),
            None => Ok(None),
        }
    }
}

/// The site file `path` below `root`, opened for reading; `None` when it does not exist.
pub(crate) fn open_existing(
    root: &Beneath,
    path: &ArchivePath,
) -> Result<Option<File>, RestoreError> {
    root.open_existing(path.as_str())
        .map_err(|e| RestoreError::io("read", root.display_path(path.as_str()), e))
}

/// The size and digest of `file` (at `native`), streamed.
pub(crate) fn digest_of(file: File, native: &Path) -> Result<(u64, Sha256), RestoreError> {
    let mut counted = CountingReader {
        inner: file,
        count: 0,
    };
    let sha256 =
        Sha256::of_reader(&mut counted).map_err(|e| RestoreError::io("read", native, e))?;
    Ok((counted.count, sha256))
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
