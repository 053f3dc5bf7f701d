//! A stored backup named where an archive is expected (`validate`, `preview`, `restore`):
//! a full URL (`s3://bucket/prefix/SITE-ID/NAME.zip`, `file:///…/SITE-ID/NAME.zip`), a
//! name with the target given apart (`--from TARGET SITE-ID/NAME.zip`), or a path inside
//! a local target; found in its target, and opened (downloaded and checked against its
//! sidecar) or read as a plain file.

use std::fmt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sitepack_crypt::Identities;
use sitepack_reader::Archive;

use crate::{
    BackupStore, LocalStore, S3Settings, StoreError, StoredBackup, TargetSpec, fetch_into,
    find_backup, open_store,
};

/// A stored backup: its target, and its name in the target (`SITE-ID/NAME.zip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRef {
    /// The target that holds it.
    pub target: TargetSpec,
    /// Its name in the target.
    pub name: String,
}

impl BackupRef {
    /// Whether `text` is written as a URL of a stored backup (rather than a local path).
    #[must_use]
    pub fn is_url(text: &str) -> bool {
        text.starts_with("s3://") || text.starts_with("file://")
    }
}

/// `s3://bucket/prefix/SITE-ID/NAME.zip` is the target `s3://bucket/prefix` and the name
/// `SITE-ID/NAME.zip`; the target part is read as any target is (so `file://` needs an
/// absolute path, and a prefix has no empty, `.` or `..` part).
impl FromStr for BackupRef {
    type Err = StoreError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let bad_url = || StoreError::BadBackupUrl {
            url: url.to_owned(),
        };
        let mut parts = url.rsplitn(3, '/');
        let (Some(file), Some(site), Some(target)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_url());
        };
        // `s3://SITE/NAME.zip` has no bucket: its "target" is the bare scheme.
        if target.ends_with(':') || target.ends_with(":/") || site.is_empty() || file.is_empty() {
            return Err(bad_url());
        }
        Ok(Self {
            target: target.parse()?,
            name: format!("{site}/{file}"),
        })
    }
}

/// What an archive argument names.
pub enum Location {
    /// A stored backup, found in its target.
    Stored(Located),
    /// A file that is no stored backup: read as it is.
    File {
        /// The file.
        path: PathBuf,
        /// A file named like its sidecar is beside it, but is not its backup
        /// description: worth a warning, since the file is then checked alone.
        not_its_sidecar: Option<NotItsSidecar>,
    },
}

/// A stored backup found in its target.
pub struct Located {
    /// The target.
    pub store: Box<dyn BackupStore>,
    /// The backup, as its sidecar describes it.
    pub backup: StoredBackup,
    /// The archive argument as the user wrote it: what reports and records call it.
    pub given: String,
}

/// A file beside an archive, named like its sidecar (`NAME.zip.json`), that does not
/// describe it.
#[derive(Debug)]
pub struct NotItsSidecar {
    /// The file named like a sidecar.
    pub sidecar: PathBuf,
    /// The archive beside it.
    pub archive: PathBuf,
    /// Why it is not the archive's backup description.
    pub problem: StoreError,
}

impl fmt::Display for NotItsSidecar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is beside {}, but it is not its backup description ({}); checking the file alone",
            self.sidecar.display(),
            self.archive.display(),
            sitepack_format::error_chain(&self.problem)
        )
    }
}

/// Finds what `archive` names: with `from` (a target as written), the backup of that
/// name in it; an `s3://` or `file://` URL, that stored backup; a path inside a local
/// target (`TARGET/SITE-ID/NAME.zip` with its sidecar beside it), that stored backup (its
/// sidecar holds the trusted digest); any other path, that file. A target read from must
/// exist (a local one as a directory: a typo is not an empty target).
pub fn locate(archive: &Path, from: Option<&str>, s3: &S3Settings) -> Result<Location, StoreError> {
    let text = archive.to_string_lossy();
    let reference = match from {
        Some(target) => BackupRef {
            target: target.parse()?,
            name: text.into_owned(),
        },
        None if BackupRef::is_url(&text) => text.parse()?,
        None => return Ok(in_local_target(archive)),
    };
    let store = open_existing_store(&reference.target, s3)?;
    let backup = find_backup(store.as_ref(), &reference.name)?;
    Ok(Location::Stored(Located {
        store,
        backup,
        given: archive.display().to_string(),
    }))
}

/// Opens a target to read backups from: a local one must be an existing directory, so
/// that a typo is not taken for an empty target. (Object storage says so itself when a
/// bucket is missing.)
pub fn open_existing_store(
    target: &TargetSpec,
    s3: &S3Settings,
) -> Result<Box<dyn BackupStore>, StoreError> {
    target.require_existing()?;
    open_store(target, s3)
}

/// A path with a sidecar beside it is a stored backup of the local target two levels up,
/// when the sidecar describes it; any other path is a plain file.
fn in_local_target(archive: &Path) -> Location {
    let plain = |not_its_sidecar| Location::File {
        path: archive.to_path_buf(),
        not_its_sidecar,
    };
    let (Some(file), Some(site_dir)) = (
        archive.file_name().and_then(|f| f.to_str()),
        archive.parent(),
    ) else {
        return plain(None);
    };
    let sidecar = archive.with_file_name(format!("{file}.json"));
    let Some(site) = site_dir.file_name().and_then(|s| s.to_str()) else {
        return plain(None);
    };
    if !sidecar.is_file() {
        return plain(None);
    }
    let target = match site_dir.parent() {
        Some(target) if !target.as_os_str().is_empty() => target,
        _ => Path::new("."),
    };
    let store = LocalStore::new(target);
    match find_backup(&store, &format!("{site}/{file}")) {
        Ok(backup) => Location::Stored(Located {
            store: Box::new(store),
            backup,
            given: archive.display().to_string(),
        }),
        Err(problem) => plain(Some(NotItsSidecar {
            sidecar,
            archive: archive.to_path_buf(),
            problem,
        })),
    }
}

/// An archive opened for reading: a local file, or a stored backup downloaded into a
/// private temporary file and checked against its sidecar's digest; either one, when
/// encrypted (an age file), decrypted into a private temporary file first.
pub struct Opened {
    /// The archive (a download is named as the user wrote it, not by its temporary path).
    pub archive: Archive,
    /// The downloaded bytes are not the ones the sidecar vouches for: a verdict (the
    /// caller reports it as a finding or refuses), like any other digest mismatch; the
    /// bytes are still there to be reported on.
    pub digest_mismatch: Option<StoreError>,
    /// Whether the archive was encrypted (and so read from its decrypted copy).
    pub encrypted: bool,
    /// The decrypted copy of an encrypted archive, removed when dropped (or by an
    /// interrupt). Dropped before the download it was decrypted from.
    _decrypted: Option<sitepack_crypt::Decrypted>,
    /// The temporary directory of a download, removed when dropped (or by an interrupt).
    _download: Option<(tempfile::TempDir, sitepack_format::interrupt::Registered)>,
}

impl Location {
    /// Opens the archive: a file as it is, a stored backup downloaded and checked; an
    /// encrypted one (either) then decrypted with `identities` into a private temporary
    /// file. A ciphertext whose digest is not its sidecar's is not decrypted.
    pub fn open(&self, identities: &Identities) -> Result<Opened, StoreError> {
        match self {
            Self::Stored(located) => open_stored(
                located.store.as_ref(),
                &located.backup,
                &located.given,
                identities,
            ),
            Self::File { path, .. } => {
                let name = path.display().to_string();
                open_plain_or_decrypted(path, &name, identities, None, None, None)
            }
        }
    }
}

/// Opens `path` as an archive called `name`, decrypting it first when it is an age file.
/// A stored backup's sidecar may say it is encrypted (`sealed`): the archive inside must
/// then be the one it records, or it is a digest mismatch like any other.
fn open_plain_or_decrypted(
    path: &Path,
    name: &str,
    identities: &Identities,
    digest_mismatch: Option<StoreError>,
    sealed: Option<&crate::Encryption>,
    download: Option<(tempfile::TempDir, sitepack_format::interrupt::Registered)>,
) -> Result<Opened, StoreError> {
    // An archive that cannot be read is said by the reader, as before.
    let encrypted = sitepack_crypt::is_encrypted(path).unwrap_or(false);
    // The archive read is not the one the sidecar records inside the encryption (or
    // the sidecar says encrypted over a plain archive): a verdict, as a digest mismatch.
    let inner_mismatch = |archive: &Path| -> Result<Option<StoreError>, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let mut file =
            std::fs::File::open(archive).map_err(|e| StoreError::io("read", archive, e))?;
        let mut hasher = sitepack_format::Sha256Hasher::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| StoreError::io("read", archive, e))?;
        let size = hasher.len();
        let actual = hasher.finish();
        Ok(
            (!encrypted || actual != sealed.archive_sha256 || size != sealed.archive_size).then(
                || StoreError::DigestMismatch {
                    name: name.to_owned(),
                    expected: sealed.archive_sha256.to_string(),
                    actual: actual.to_string(),
                    size,
                },
            ),
        )
    };
    if !encrypted {
        let digest_mismatch = match digest_mismatch {
            Some(mismatch) => Some(mismatch),
            None => inner_mismatch(path)?,
        };
        return Ok(Opened {
            archive: Archive::open(path)
                .map_err(StoreError::Archive)?
                .named(name),
            digest_mismatch,
            encrypted,
            _decrypted: None,
            _download: download,
        });
    }
    if let Some(mismatch) = digest_mismatch {
        // The ciphertext is not the one the sidecar vouches for: never decrypted.
        return Err(mismatch);
    }
    let decrypted = sitepack_crypt::decrypt_to_private_file(path, name, identities)?;
    let digest_mismatch = inner_mismatch(decrypted.path())?;
    Ok(Opened {
        archive: Archive::open(decrypted.path())
            .map_err(StoreError::Archive)?
            .named(name),
        digest_mismatch,
        encrypted,
        _decrypted: Some(decrypted),
        _download: download,
    })
}

/// Downloads a stored backup into a private temporary file, checked against its sidecar
/// (a mismatch is [`Opened::digest_mismatch`]; an encrypted one is refused with it, never
/// decrypted), and decrypts it with `identities` when it is encrypted. `given` names it.
pub fn open_stored(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    given: &str,
    identities: &Identities,
) -> Result<Opened, StoreError> {
    let dir = tempfile::Builder::new()
        .prefix("sitepack-download-")
        // Private: the download is a site's data (a directory is not 0700 by default).
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| {
            StoreError::io(
                "create a temporary directory for the download in",
                std::env::temp_dir(),
                e,
            )
        })?;
    let interruptible = sitepack_format::interrupt::temporary(dir.path());
    let file_name = backup.name.rsplit('/').next().unwrap_or("backup.zip");
    let path = dir.path().join(file_name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| StoreError::io("create", &path, e))?;
    let digest_mismatch = match fetch_into(store, backup, &mut file) {
        Ok(()) => None,
        Err(mismatch @ StoreError::DigestMismatch { .. }) => Some(mismatch),
        Err(error) => return Err(error),
    };
    drop(file);
    open_plain_or_decrypted(
        &path,
        given,
        identities,
        digest_mismatch,
        backup.encryption.as_ref(),
        Some((dir, interruptible)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_urls_name_a_target_and_a_backup_in_it() {
        for (url, target, name) in [
            (
                "s3://bucket/SITE/NAME.zip",
                TargetSpec::S3 {
                    bucket: "bucket".into(),
                    prefix: String::new(),
                },
                "SITE/NAME.zip",
            ),
            (
                "s3://bucket/a/b/acme/20261122T083000Z-full.zip",
                TargetSpec::S3 {
                    bucket: "bucket".into(),
                    prefix: "a/b".into(),
                },
                "acme/20261122T083000Z-full.zip",
            ),
            (
                "file:///srv/backups/acme/x.zip",
                TargetSpec::Local("/srv/backups".into()),
                "acme/x.zip",
            ),
        ] {
            let parsed: BackupRef = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                parsed,
                BackupRef {
                    target,
                    name: name.into()
                },
                "{url}"
            );
        }
    }

    #[test]
    fn a_backup_url_without_site_and_name_or_with_a_bad_target_is_refused() {
        for url in [
            "s3://",
            "s3://bucket",
            "s3://bucket/NAME.zip",
            "s3://bucket/SITE/",
            "s3://bucket//NAME.zip",
            "file://x.zip",
            "file:///x.zip",
        ] {
            let error = url.parse::<BackupRef>().unwrap_err();
            assert!(
                matches!(error, StoreError::BadBackupUrl { .. }),
                "{url}: {error}"
            );
            assert!(
                error.to_string().contains("/SITE-ID/NAME.zip"),
                "{url}: {error}"
            );
        }
        for url in [
            "s3:///SITE/NAME.zip",
            "s3://bucket/../SITE/NAME.zip",
            "file://rel/SITE/NAME.zip",
        ] {
            let error = url.parse::<BackupRef>().unwrap_err();
            assert!(
                matches!(error, StoreError::BadTarget { .. }),
                "{url}: {error}"
            );
        }
    }

    /// A local target holding one backup of `acme`, and that backup's archive path.
    fn local_target_with_a_backup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let archive = dir.path().join("x.zip");
        std::fs::write(&archive, b"not even a zip").unwrap();
        let backup = crate::NewBackup {
            site: sitepack_format::SiteIdentity {
                id: "acme".parse().unwrap(),
                name: "Acme".into(),
                url: "https://acme.example".into(),
            },
            created_at: sitepack_format::Timestamp::from_unix_seconds(1_795_000_000).unwrap(),
            scope: sitepack_format::Scope::Full,
            files: true,
            kind: crate::BackupKind::Manual,
            label: None,
            size: 14,
            sha256: sitepack_format::Sha256::of(b"not even a zip"),
            encryption: None,
        };
        let stored =
            crate::store_backup(&LocalStore::new(&target), &archive, &backup, false).unwrap();
        let path = target.join(&stored.name);
        (dir, path)
    }

    #[test]
    fn a_path_inside_a_local_target_is_that_stored_backup() {
        let (_dir, path) = local_target_with_a_backup();
        let Location::Stored(located) = locate(&path, None, &S3Settings::default()).unwrap() else {
            panic!("{} is a stored backup", path.display());
        };
        assert_eq!(located.given, path.display().to_string());
        assert!(path.ends_with(&located.backup.name));
        let url = format!("file://{}", path.display());
        let Location::Stored(by_url) =
            locate(Path::new(&url), None, &S3Settings::default()).unwrap()
        else {
            panic!("{url} is a stored backup");
        };
        assert_eq!(by_url.backup, located.backup);
        assert_eq!(by_url.given, url);
    }

    #[test]
    fn a_file_beside_an_archive_that_is_not_its_sidecar_is_a_warning_and_the_file_is_read_alone() {
        let (_dir, path) = local_target_with_a_backup();
        let sidecar = path.with_file_name(format!(
            "{}.json",
            path.file_name().unwrap().to_str().unwrap()
        ));
        std::fs::write(&sidecar, "{}").unwrap();
        let Location::File {
            path: file,
            not_its_sidecar: Some(warning),
        } = locate(&path, None, &S3Settings::default()).unwrap()
        else {
            panic!("a plain file, with a warning");
        };
        assert_eq!(file, path);
        let text = warning.to_string();
        assert!(
            text.starts_with(&format!(
                "{} is beside {}, but it is not its backup description (",
                sidecar.display(),
                path.display()
            )) && text.ends_with("); checking the file alone"),
            "{text}"
        );

        // Without anything beside it, a path is a plain file, said by no warning.
        std::fs::remove_file(&sidecar).unwrap();
        assert!(matches!(
            locate(&path, None, &S3Settings::default()).unwrap(),
            Location::File {
                not_its_sidecar: None,
                ..
            }
        ));
    }

    #[test]
    fn a_download_is_private_and_gone_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = local_target_with_a_backup();
        let location = locate(&path, None, &S3Settings::default()).unwrap();
        let opened = location.open(&Identities::none()).unwrap();
        let file = opened.archive.path().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_ne!(file, path, "a download, not the stored file");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        drop(opened);
        assert!(!file.exists());
    }

    #[test]
    fn a_target_read_from_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = locate(
            Path::new("acme/x.zip"),
            Some(missing.to_str().unwrap()),
            &S3Settings::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(error, StoreError::NoTargetDir { .. }), "{error}");
        let error = locate(
            Path::new("acme/x.zip"),
            Some("gs://b"),
            &S3Settings::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(error, StoreError::BadTarget { .. }), "{error}");
    }
}
