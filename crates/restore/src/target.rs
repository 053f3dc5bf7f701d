//! Reading the target site: what the target directory is (a site or a sandbox) and its
//! files' bytes, existence and digests, never following a symbolic link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sitepack_format::{INTERNAL_DIR, Sha256, SiteConfig};
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
                return Err(RestoreError::refused(Refusal::NotADirectory {
                    path: root.to_path_buf(),
                }));
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

/// Opens a target file without following a symbolic link.
fn open_target(native: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(native)
}

/// The target file opened for reading; `None` when it does not exist.
fn open_existing(native: &Path) -> Result<Option<File>, RestoreError> {
    match open_target(native) {
        Ok(file) => Ok(Some(file)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(RestoreError::io("read", native, e)),
    }
}

fn is_absent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

pub(crate) fn exists(native: &Path) -> Result<bool, RestoreError> {
    match fs::symlink_metadata(native) {
        Ok(_) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(RestoreError::io("read the metadata of", native, e)),
    }
}

/// The target file's bytes; `None` when it does not exist.
pub(crate) fn read_target(native: &Path) -> Result<Option<Vec<u8>>, RestoreError> {
    let Some(mut file) = open_existing(native)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| RestoreError::io("read", native, e))?;
    Ok(Some(bytes))
}

/// The target file's size and digest, streamed; `None` when it does not exist.
pub(crate) fn target_digest(native: &Path) -> Result<Option<(u64, Sha256)>, RestoreError> {
    let Some(file) = open_existing(native)? else {
        return Ok(None);
    };
    let mut counted = CountingReader {
        inner: file,
        count: 0,
    };
    let sha256 =
        Sha256::of_reader(&mut counted).map_err(|e| RestoreError::io("read", native, e))?;
    Ok(Some((counted.count, sha256)))
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
