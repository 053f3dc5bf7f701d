//! Writing an encrypted archive.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sitepack_format::{Sha256, Sha256Hasher};

use crate::{CryptError, Recipients};

/// The ciphertext written: its size and SHA-256 (what a store's sidecar vouches for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes of ciphertext.
    pub size: u64,
    /// The ciphertext's digest.
    pub sha256: Sha256,
}

/// Counts and hashes what passes through to `inner`.
struct Tally<W> {
    inner: W,
    size: u64,
    hasher: Sha256Hasher,
}

impl<W: Write> Write for Tally<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Encrypts what is written to it (the age binary format, to every recipient) into
/// `inner`. [`finish`](Self::finish) must be called: without it the ciphertext is
/// incomplete and will not decrypt.
pub struct EncryptingWriter<W: Write> {
    stream: age::stream::StreamWriter<Tally<W>>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Starts the ciphertext (its header) in `inner`.
    pub fn new(inner: W, recipients: &Recipients) -> io::Result<Self> {
        let encryptor = recipients
            .encryptor()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let tally = Tally {
            inner,
            size: 0,
            hasher: Sha256Hasher::new(),
        };
        Ok(Self {
            stream: encryptor.wrap_output(tally)?,
        })
    }

    /// Ends the ciphertext: returns the inner writer and what was written to it.
    pub fn finish(self) -> io::Result<(W, Written)> {
        let mut tally = self.stream.finish()?;
        tally.flush()?;
        let written = Written {
            size: tally.size,
            sha256: tally.hasher.finish(),
        };
        Ok((tally.inner, written))
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Whether [`EncryptedFile`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse when the output exists.
    Refuse,
    /// Replace it once the new one is complete.
    Replace,
}

/// An encrypted archive being written: into a temporary file beside its destination
/// (`.sitepack-NAME.partial…`, removed on error, when dropped unfinished, or by an
/// interrupt), renamed into place by [`finish`](Self::finish) once complete and synced.
pub struct EncryptedFile {
    path: PathBuf,
    existing: Existing,
    writer: EncryptingWriter<tempfile::NamedTempFile>,
    _interruptible: sitepack_format::interrupt::Registered,
}

impl EncryptedFile {
    /// Starts `path`'s ciphertext; an existing `path` is refused now unless
    /// `existing` is [`Existing::Replace`], and so is a `path` inside one of
    /// `keep_out_of` (the site being backed up: its next backup would hold this one).
    pub fn create(
        path: &Path,
        recipients: &Recipients,
        existing: Existing,
        keep_out_of: &[&Path],
    ) -> Result<Self, CryptError> {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent_real = parent
            .canonicalize()
            .map_err(|e| CryptError::io("open the output directory", parent, e))?;
        for dir in keep_out_of {
            if dir.canonicalize().is_ok_and(|d| parent_real.starts_with(d)) {
                return Err(CryptError::OutputInside {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                });
            }
        }
        if existing == Existing::Refuse && path.symlink_metadata().is_ok() {
            return Err(CryptError::Exists {
                path: path.to_path_buf(),
            });
        }
        let name = path
            .file_name()
            .map_or_else(|| "archive".into(), |n| n.to_string_lossy().into_owned());
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".sitepack-{name}."))
            .suffix(".partial")
            .tempfile_in(parent)
            .map_err(|e| CryptError::io("create a temporary file in", parent, e))?;
        let interruptible = sitepack_format::interrupt::temporary(temporary.path());
        let writer =
            EncryptingWriter::new(temporary, recipients).map_err(|e| CryptError::Encrypt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            existing,
            writer,
            _interruptible: interruptible,
        })
    }

    /// Ends the ciphertext, syncs it and renames it into place.
    pub fn finish(self) -> Result<Written, CryptError> {
        let path = self.path;
        let (temporary, written) = self
            .writer
            .finish()
            .map_err(|e| CryptError::io("write", &path, e))?;
        temporary
            .as_file()
            .sync_all()
            .map_err(|e| CryptError::io("sync", &path, e))?;
        let persisted = match self.existing {
            Existing::Refuse => temporary.persist_noclobber(&path),
            Existing::Replace => temporary.persist(&path),
        };
        persisted.map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                CryptError::Exists { path: path.clone() }
            } else {
                CryptError::io("rename into place", &path, e.error)
            }
        })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename is durable once the directory is synced (best effort).
            let _ = File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(written)
    }
}

impl Write for EncryptedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
