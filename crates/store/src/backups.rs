//! Saved backups in a target: `<site-id>/<yyyymmddThhmmssZ>-<scope>[-<label>].zip` (an
//! encrypted one `….zip.age`), each with a sidecar `….zip.json` (`….zip.age.json`) that
//! records its SHA-256, size, creation time, scope, kind and label, and for an encrypted
//! one its recipients and the size and SHA-256 of the archive inside.
//!
//! The sidecar is written only after the archive is stored completely and its size (and,
//! when asked, its digest) checked, so a half-uploaded archive is never listed. It is the
//! trusted digest kept outside the archive: every later fetch checks the bytes against it.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sitepack_format::{Scope, Sha256, Sha256Hasher, SiteId, SiteIdentity, Timestamp};

use crate::{BackupStore, StoreError};

const SIDECAR_SUFFIX: &str = ".json";
const SIDECAR_FORMAT: &str = "sitepack-backup";
const SIDECAR_VERSION: u32 = 1;

/// How a backup came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// `sitepack create --to`.
    Manual,
    /// `sitepack auto run`.
    Auto,
}

/// A stored backup, as its sidecar describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredBackup {
    /// Always `sitepack-backup`.
    pub format: String,
    /// The sidecar's version (1).
    pub version: u32,
    /// The archive's name in the target (`<site-id>/<…>.zip`).
    pub name: String,
    /// The site it is a backup of.
    pub site: SiteIdentity,
    /// When the archive was made (its manifest's `created_at`).
    pub created_at: Timestamp,
    /// Its scope.
    pub scope: Scope,
    /// Whether files are in it.
    pub files: bool,
    /// Manual or automatic.
    pub kind: BackupKind,
    /// The label given to `create`, if any.
    pub label: Option<String>,
    /// The stored object's size in bytes (of an encrypted backup, the ciphertext's).
    pub size: u64,
    /// The stored object's SHA-256: the trusted digest, checked before anything is read
    /// from it (of an encrypted backup, the ciphertext's, checked before decrypting).
    pub sha256: Sha256,
    /// How it is encrypted, when it is (absent from the sidecar otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

impl StoredBackup {
    /// The SHA-256 of the archive itself (decrypted, when it is encrypted): the digest
    /// `validate` reports for it.
    #[must_use]
    pub fn archive_sha256(&self) -> Sha256 {
        self.encryption
            .as_ref()
            .map_or(self.sha256, |e| e.archive_sha256)
    }
}

/// How a stored backup is encrypted: its sidecar's `encryption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// Always `age` (X25519 recipients).
    pub method: String,
    /// The recipients it is encrypted to (public keys, `age1…`).
    pub recipients: Vec<String>,
    /// The size of the archive inside (the plaintext).
    pub archive_size: u64,
    /// The SHA-256 of the archive inside: what `validate --identity` reports.
    pub archive_sha256: Sha256,
}

/// The method of every [`Encryption`] this version writes.
pub const ENCRYPTION_METHOD: &str = "age";

/// What is known of a new archive before it is stored.
#[derive(Debug, Clone)]
pub struct NewBackup {
    /// The site.
    pub site: SiteIdentity,
    /// The manifest's `created_at`.
    pub created_at: Timestamp,
    /// The scope.
    pub scope: Scope,
    /// Whether files are in it.
    pub files: bool,
    /// Manual or automatic.
    pub kind: BackupKind,
    /// The label, if any.
    pub label: Option<String>,
    /// The size of what is stored (the ciphertext of an encrypted backup).
    pub size: u64,
    /// The SHA-256 of what is stored, as the writer (or the encryption) computed it.
    pub sha256: Sha256,
    /// How it is encrypted, when it is: the name ends in `.zip.age`.
    pub encryption: Option<Encryption>,
}

/// The name of a backup: `<site-id>/<yyyymmddThhmmssZ>-<scope>[-<label>].zip`, with the
/// scope's `:` written `-` and the label kept to letters, digits, `.`, `_` and `-`.
#[must_use]
pub fn backup_name(backup: &NewBackup) -> String {
    let scope = backup.scope.to_string().replace(':', "-");
    let mut name = format!("{}/{}-{scope}", backup.site.id, backup.created_at.compact());
    if let Some(label) = backup.label.as_deref().map(label_for_name)
        && !label.is_empty()
    {
        name.push('-');
        name.push_str(&label);
    }
    name.push_str(".zip");
    if backup.encryption.is_some() {
        name.push_str(sitepack_crypt::AGE_SUFFIX);
    }
    name
}

/// Whether `key` ends like a stored archive: `.zip`, or `.zip.age` when encrypted.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercase by definition
fn is_archive_key(key: &str) -> bool {
    key.ends_with(".zip") || key.ends_with(".zip.age")
}

fn label_for_name(label: &str) -> String {
    let kept: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    kept.trim_matches(|c| c == '-' || c == '.').to_owned()
}

fn sidecar_name(name: &str) -> String {
    format!("{name}{SIDECAR_SUFFIX}")
}

/// Stores the archive at `archive` as a new backup: the archive first, then its size is
/// checked on the target (and with `verify_digest`, every stored byte is read back and
/// hashed), then the sidecar. On any failure before the sidecar, the archive is deleted
/// again and nothing is listed.
pub fn store_backup(
    store: &dyn BackupStore,
    archive: &Path,
    backup: &NewBackup,
    verify_digest: bool,
) -> Result<StoredBackup, StoreError> {
    let name = backup_name(backup);
    let sidecar = sidecar_name(&name);
    let exists = |key: &str| match store.size(key) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    };
    let held = match (exists(&name)?, exists(&sidecar)?) {
        (false, false) => None,
        (true, true) => Some(StoreError::Exists {
            name: name.clone(),
            target: store.describe(),
        }),
        (true, false) => Some(StoreError::HeldByOrphan {
            name: name.clone(),
            target: store.describe(),
            present: "the archive".to_owned(),
            missing: "sidecar",
        }),
        (false, true) => Some(StoreError::HeldByOrphan {
            name: name.clone(),
            target: store.describe(),
            present: format!("the sidecar {sidecar}"),
            missing: "archive",
        }),
    };
    if let Some(error) = held {
        return Err(error);
    }
    let stored = StoredBackup {
        format: SIDECAR_FORMAT.to_owned(),
        version: SIDECAR_VERSION,
        name: name.clone(),
        site: backup.site.clone(),
        created_at: backup.created_at,
        scope: backup.scope.clone(),
        files: backup.files,
        kind: backup.kind,
        label: backup.label.clone(),
        size: backup.size,
        sha256: backup.sha256,
        encryption: backup.encryption.clone(),
    };
    match store.put_file(&name, archive) {
        Ok(()) => {}
        // Another writer stored that name first: it is theirs, leave it.
        Err(StoreError::Exists { .. }) => {
            return Err(StoreError::Exists {
                name,
                target: store.describe(),
            });
        }
        Err(error) => {
            // Best effort: what this upload left (a claim, a partial object) is not a
            // backup.
            let _ = store.delete(&name);
            return Err(error);
        }
    }
    let result = check_stored(store, &stored, verify_digest).and_then(|()| {
        let json = serde_json::to_vec_pretty(&stored)
            .map_err(|e| StoreError::io("write", &sidecar, std::io::Error::other(e)))?;
        // A kill here leaves a complete archive without a sidecar: an orphan, which
        // `list --all` shows and `prune` removes after the grace period.
        crate::failpoint::hit("sidecar");
        crate::failpoint::fail_step("sidecar", 1)
            .map_err(|e| StoreError::io("write", &sidecar, e))?;
        store.put_bytes(&sidecar, &json)
    });
    if let Err(error) = result {
        // The archive is ours and unlisted without its sidecar: never leave it behind
        // (a full target would otherwise keep it, unlisted, forever).
        let _ = store.delete(&name);
        return Err(error);
    }
    Ok(stored)
}

/// Checks the stored archive's size against the sidecar, and with `digest`, reads it all
/// back and checks its SHA-256.
pub fn check_stored(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    digest: bool,
) -> Result<(), StoreError> {
    let size = store.size(&backup.name)?;
    if size != backup.size {
        return Err(StoreError::DigestMismatch {
            name: backup.name.clone(),
            expected: backup.sha256.to_string(),
            actual: format!("(size {size}, not {})", backup.size),
            size,
        });
    }
    if digest {
        let mut temp = tempfile::tempfile()
            .map_err(|e| StoreError::io("create a temporary file in", std::env::temp_dir(), e))?;
        fetch_into(store, backup, &mut temp)?;
    }
    Ok(())
}

/// What [`list_backups`] found in a target.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BackupListing {
    /// The backups (each with its sidecar), oldest first.
    pub backups: Vec<StoredBackup>,
    /// Archives without their sidecar and sidecars without their archive (by key).
    pub orphans: Vec<Orphan>,
    /// What was skipped, each named with why: a sidecar that cannot be read, a name
    /// that is not UTF-8 or has a control character.
    pub problems: Vec<StoreError>,
}

/// Half of a backup: what a run killed between the archive and its sidecar leaves (or
/// a removal killed between the sidecar and the archive). Never listed as a backup;
/// `prune` removes it once it is older than the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    /// The object's key (`<site-id>/<…>.zip` or `<site-id>/<…>.zip.json`).
    pub key: String,
    /// Which half it is.
    pub kind: OrphanKind,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, when the target says.
    pub modified: Option<Timestamp>,
}

/// Which half of a backup an [`Orphan`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrphanKind {
    /// An archive whose sidecar was never written (or was removed).
    ArchiveWithoutSidecar,
    /// A sidecar whose archive is gone.
    SidecarWithoutArchive,
}

impl Orphan {
    /// Its age at `now`, in seconds (0 when it is dated after `now`); `None` when the
    /// target gave no time.
    #[must_use]
    pub fn age_at(&self, now: Timestamp) -> Option<u64> {
        let modified = self.modified?;
        Some(u64::try_from(now.unix_seconds() - modified.unix_seconds()).unwrap_or(0))
    }

    /// The key of the other half (the one that is missing).
    #[must_use]
    pub fn other_half(&self) -> String {
        match self.kind {
            OrphanKind::ArchiveWithoutSidecar => sidecar_name(&self.key),
            OrphanKind::SidecarWithoutArchive => self
                .key
                .strip_suffix(SIDECAR_SUFFIX)
                .unwrap_or(&self.key)
                .to_owned(),
        }
    }
}

// The layout's extensions are lowercase by definition.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
/// Whether `name` has the shape of a backup's name: `<site-id>/<yyyymmddThhmmssZ>-….zip`
/// (so that only what sitepack itself could have written is ever taken for an orphan).
fn is_backup_name(name: &str) -> bool {
    let Some((site, file)) = name.split_once('/') else {
        return false;
    };
    let stamp = file.as_bytes();
    site.parse::<SiteId>().is_ok()
        && !file.contains('/')
        && is_archive_key(file)
        && stamp.len() > 21
        && stamp[..8].iter().all(u8::is_ascii_digit)
        && stamp[8] == b'T'
        && stamp[9..15].iter().all(u8::is_ascii_digit)
        && stamp[15..17] == *b"Z-"
}

#[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercase by definition
/// Every backup in the target (of the site `site`, when given), oldest first; the
/// orphans (half backups); and what was skipped, each named with why.
pub fn list_backups(
    store: &dyn BackupStore,
    site: Option<&SiteId>,
) -> Result<BackupListing, StoreError> {
    let prefix = site.map(|s| format!("{s}/")).unwrap_or_default();
    let listing = store.list(&prefix)?;
    let exists = |key: &str| {
        listing
            .objects
            .binary_search_by(|o| o.key.as_str().cmp(key))
            .is_ok()
    };
    let mut found = BackupListing::default();
    for skipped in listing.skipped.iter().cloned() {
        found.problems.push(StoreError::Skipped {
            key: skipped,
            target: store.describe(),
        });
    }
    for object in &listing.objects {
        let key = &object.key;
        let orphan = |kind| Orphan {
            key: key.clone(),
            kind,
            size: object.size,
            modified: object.modified,
        };
        if let Some(name) = key.strip_suffix(SIDECAR_SUFFIX)
            && is_archive_key(name)
        {
            if exists(name) {
                match read_sidecar(store, key) {
                    Ok(backup) => found.backups.push(backup),
                    Err(e) => found.problems.push(e),
                }
            } else if is_backup_name(name) {
                found
                    .orphans
                    .push(orphan(OrphanKind::SidecarWithoutArchive));
            } else {
                found.problems.push(StoreError::BadSidecar {
                    name: key.clone(),
                    problem: format!("its archive {name} is missing"),
                });
            }
        } else if is_backup_name(key) && !exists(&sidecar_name(key)) {
            found
                .orphans
                .push(orphan(OrphanKind::ArchiveWithoutSidecar));
        }
    }
    found
        .backups
        .sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
    Ok(found)
}

/// The backup named `name` (`<site-id>/<…>.zip`), from its sidecar.
pub fn find_backup(store: &dyn BackupStore, name: &str) -> Result<StoredBackup, StoreError> {
    read_sidecar(store, &sidecar_name(name))
}

fn read_sidecar(store: &dyn BackupStore, key: &str) -> Result<StoredBackup, StoreError> {
    let name = key.strip_suffix(SIDECAR_SUFFIX).unwrap_or(key);
    let bytes = store.get_bytes(key).map_err(|e| match e {
        StoreError::NotFound { target, .. } => StoreError::NotFound {
            name: name.to_owned(),
            target,
        },
        e => e,
    })?;
    let bad = |problem: String| StoreError::BadSidecar {
        name: key.to_owned(),
        problem,
    };
    let backup: StoredBackup =
        serde_json::from_slice(&bytes).map_err(|source| StoreError::UnreadableSidecar {
            name: key.to_owned(),
            source,
        })?;
    if backup.format != SIDECAR_FORMAT || backup.version != SIDECAR_VERSION {
        return Err(bad(format!(
            "format {} version {}; this sitepack reads {SIDECAR_FORMAT} version {SIDECAR_VERSION}",
            backup.format, backup.version
        )));
    }
    if backup.name != name {
        return Err(bad(format!("it describes {}, not {name}", backup.name)));
    }
    // A backup is filed under its site: retention never mixes sites.
    if name.split('/').next() != Some(backup.site.id.as_str()) {
        return Err(bad(format!(
            "it describes a backup of site {}, filed under another site",
            backup.site.id
        )));
    }
    Ok(backup)
}

/// Downloads the backup into `out` (from its start), checking every byte against the
/// sidecar's size and SHA-256; `out` is left at its start.
pub fn fetch_into(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    out: &mut File,
) -> Result<(), StoreError> {
    let fail = |e| StoreError::io("write the download of", &backup.name, e);
    out.set_len(0).map_err(fail)?;
    out.seek(SeekFrom::Start(0)).map_err(fail)?;
    store.get_to_file(&backup.name, out)?;
    // Hash what landed on disk: the bytes the reader will read.
    out.seek(SeekFrom::Start(0)).map_err(fail)?;
    let mut hasher = Sha256Hasher::new();
    std::io::copy(out, &mut hasher).map_err(fail)?;
    let size = hasher.len();
    let actual = hasher.finish();
    if actual != backup.sha256 || size != backup.size {
        return Err(StoreError::DigestMismatch {
            name: backup.name.clone(),
            expected: backup.sha256.to_string(),
            actual: actual.to_string(),
            size,
        });
    }
    out.seek(SeekFrom::Start(0)).map_err(fail)?;
    Ok(())
}

/// Removes a backup: the sidecar first, so that it is no longer listed even if removing
/// the archive then fails.
pub fn delete_backup(store: &dyn BackupStore, backup: &StoredBackup) -> Result<(), StoreError> {
    store.delete(&sidecar_name(&backup.name))?;
    store.delete(&backup.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalStore;

    fn new_backup(scope: &str, label: Option<&str>, archive: &[u8]) -> NewBackup {
        NewBackup {
            site: SiteIdentity {
                id: "acme".parse().unwrap(),
                name: "Acme".into(),
                url: "https://acme.example".into(),
            },
            created_at: "2026-11-22T08:30:05Z".parse().unwrap(),
            scope: scope.parse().unwrap(),
            files: true,
            kind: BackupKind::Manual,
            label: label.map(str::to_owned),
            size: archive.len() as u64,
            sha256: Sha256::of(archive),
            encryption: None,
        }
    }

    #[test]
    fn names_follow_the_layout() {
        assert_eq!(
            backup_name(&new_backup("full", None, b"")),
            "acme/20261122T083005Z-full.zip"
        );
        assert_eq!(
            backup_name(&new_backup("module:notes", Some("before upgrade/2.0"), b"")),
            "acme/20261122T083005Z-module-notes-before-upgrade-2.0.zip"
        );
        assert_eq!(
            backup_name(&new_backup("user:u-7", Some("//"), b"")),
            "acme/20261122T083005Z-user-u-7.zip"
        );
    }

    #[test]
    fn a_stored_backup_is_listed_fetched_checked_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(&dir.path().join("target"));
        let archive = dir.path().join("a.zip");
        std::fs::write(&archive, b"archive bytes").unwrap();
        let backup = new_backup("full", Some("x"), b"archive bytes");
        let stored = store_backup(&store, &archive, &backup, true).unwrap();
        assert!(matches!(
            store_backup(&store, &archive, &backup, true),
            Err(StoreError::Exists { .. })
        ));
        let found = list_backups(&store, Some(&"acme".parse().unwrap())).unwrap();
        assert_eq!(found.backups, std::slice::from_ref(&stored));
        assert!(found.problems.is_empty() && found.orphans.is_empty());
        assert_eq!(find_backup(&store, &stored.name).unwrap(), stored);

        let mut out = tempfile::tempfile().unwrap();
        fetch_into(&store, &stored, &mut out).unwrap();
        // Changed on the target: the fetch refuses it.
        std::fs::write(
            dir.path().join("target").join(&stored.name),
            b"archive byteZ",
        )
        .unwrap();
        assert!(matches!(
            fetch_into(&store, &stored, &mut out),
            Err(StoreError::DigestMismatch { .. })
        ));
        delete_backup(&store, &stored).unwrap();
        assert!(list_backups(&store, None).unwrap().backups.is_empty());
    }

    #[test]
    fn an_archive_without_its_sidecar_is_not_listed_and_a_bad_sidecar_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store
            .put_bytes("acme/20261122T083005Z-full.zip", b"half")
            .unwrap();
        store.put_bytes("acme/x.zip.json", b"{not json").unwrap();
        let found = list_backups(&store, None).unwrap();
        assert!(found.backups.is_empty());
        assert_eq!(found.problems.len(), 1);
        let bad = &found.problems[0];
        assert!(bad.to_string().contains("acme/x.zip.json"), "{bad}");
    }

    #[test]
    fn a_sidecar_that_is_not_json_is_named_with_the_json_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put_bytes("acme/x.zip", b"archive").unwrap();
        store.put_bytes("acme/x.zip.json", b"{not json").unwrap();
        let found = list_backups(&store, None).unwrap();
        assert!(found.backups.is_empty());
        let [bad] = &found.problems[..] else {
            panic!("{:?}", found.problems);
        };
        assert!(
            matches!(bad, StoreError::UnreadableSidecar { name, source } if name == "acme/x.zip.json" && source.is_syntax()),
            "{bad}"
        );
        let chain = sitepack_format::error_chain(bad);
        assert!(
            chain.starts_with(
                "the sidecar acme/x.zip.json is not a sitepack backup description: key must be a string at line 1"
            ),
            "{chain}"
        );
    }
}
