//! The store crate's one error type.

use std::io;
use std::path::PathBuf;

/// Why a storage operation failed. Each message names the target or object and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The target as written is not usable.
    #[error("storage target `{target}`: {problem}")]
    BadTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The S3 endpoint is no `http://` or `https://` URL with a host.
    #[error(
        "the S3 endpoint `{endpoint}` (from {source_name}) is not an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000"
    )]
    BadEndpoint {
        /// The endpoint as given, without any user info.
        endpoint: String,
        /// Where it came from.
        source_name: &'static str,
    },
    /// A stored backup's URL that does not end in `/SITE-ID/NAME.zip` after its target.
    #[error("{url}: a stored backup's URL ends in /SITE-ID/NAME.zip")]
    BadBackupUrl {
        /// The URL as given.
        url: String,
    },
    /// A backup name that would leave the target (an empty, `.` or `..` part).
    #[error("`{name}` is not a backup name; names look like SITE-ID/20261122T083000Z-full.zip")]
    BadName {
        /// The name as given.
        name: String,
    },
    /// A local file operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An object-storage request failed (credentials, bucket, network, …). The message
    /// says what it most likely means and what the server or network said last.
    #[error("cannot {action} {name}: {}", hint(cause))]
    Object {
        /// What was being done.
        action: &'static str,
        /// The object or bucket (`s3://…`).
        name: String,
        /// The client's error (not chained into the message: each of its layers repeats
        /// the one below).
        cause: object_store::Error,
    },
    /// No object of that name.
    #[error("{target} has no backup `{name}`; `sitepack list {target}` shows what it has")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The target.
        target: String,
    },
    /// A backup of that name exists already.
    #[error(
        "{target} already has a backup `{name}`; backups are named by the second they are made: try again, or give another --label"
    )]
    Exists {
        /// The name.
        name: String,
        /// The target.
        target: String,
    },
    /// The name of a new backup is held by half a backup (an orphan): an archive
    /// without its sidecar, or a sidecar without its archive.
    #[error(
        "{target} already has a backup `{name}`, but without its {missing}: either another sitepack is storing it right now, or a run was interrupted and left {present} behind (an orphan; `sitepack list {target} --all` shows it with its age, and `sitepack prune` removes it once it is older than --orphan-grace, 24h by default); try again in a second, or give another --label"
    )]
    HeldByOrphan {
        /// The name.
        name: String,
        /// The target.
        target: String,
        /// The half that is there (`the archive`, `the sidecar NAME.json`).
        present: String,
        /// The half that is not (`sidecar`, `archive`).
        missing: &'static str,
    },
    /// A name in the target that no sitepack backup has (not UTF-8, a control character,
    /// an empty part): skipped by `list` and `prune`.
    #[error(
        "{target}: skipped {key}: not a sitepack backup name (it is not UTF-8, or has a control character or an empty part); rename or remove it if it is not meant to be there"
    )]
    Skipped {
        /// The name, escaped (`"caf\xE9.zip"`).
        key: String,
        /// The target.
        target: String,
    },
    /// Another `sitepack auto run` of the site holds `.sitepack/auto.lock`.
    #[error(
        "another `sitepack auto run` of {} is running (it holds .sitepack/auto.lock); this run does nothing",
        site.display()
    )]
    AutoRunning {
        /// The site.
        site: PathBuf,
    },
    /// A local target directory that does not exist, named where backups are read.
    #[error("{}: no such directory; give the directory backups are stored in", path.display())]
    NoTargetDir {
        /// The directory.
        path: PathBuf,
    },
    /// `SITE/.sitepack/config.toml` does not exist.
    #[error(
        "{}: there is none: write one with an [auto] table (target, schedule, retention; see docs/COMMANDS.md) to turn automatic backups on",
        path.display()
    )]
    NoConfig {
        /// The config file.
        path: PathBuf,
    },
    /// `config.toml` is not TOML, or not the settings sitepack reads (an unknown key, a
    /// value of the wrong type, a scope or retention rule that is not one).
    #[error("{}", path.display())]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// TOML's error, with its line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The schedule of `config.toml` (`schedule`, `time`, `weekday`) is not one.
    #[error("{}", path.display())]
    ConfigSchedule {
        /// The config file.
        path: PathBuf,
        /// What is wrong with the schedule.
        #[source]
        source: crate::schedule::ScheduleError,
    },
    /// The target of `config.toml` is not one automatic backups can use.
    #[error("{}", path.display())]
    ConfigTarget {
        /// The config file.
        path: PathBuf,
        /// What is wrong with the target ([`StoreError::BadTarget`]).
        #[source]
        source: Box<StoreError>,
    },
    /// The `encrypt_to` of `config.toml` holds something that is no age recipient.
    #[error("{}: [auto] encrypt_to", path.display())]
    ConfigEncryption {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: sitepack_crypt::CryptError,
    },
    /// The `[verify]` table of `config.toml` is not usable.
    #[error("{}: [verify] {problem}", path.display())]
    ConfigVerify {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An encrypted backup was to be read by byte ranges: its ciphertext has none that
    /// mean anything; it is downloaded and decrypted instead.
    #[error("{name} is encrypted: it cannot be read by byte ranges, only downloaded and decrypted")]
    EncryptedRanges {
        /// The backup.
        name: String,
    },
    /// The archive could not be made.
    #[error("cannot make the archive")]
    Create {
        /// The writer's error (naming the file), or the site lock's.
        #[source]
        source: sitepack_site::SiteError,
    },
    /// The archive just written does not validate: nothing was stored.
    #[error(
        "the new archive does not validate ({errors} error(s), first: {first}); nothing was stored — this is a sitepack bug, please report it with `sitepack validate` of a local `sitepack create` of the site"
    )]
    InvalidBackup {
        /// How many error findings.
        errors: u64,
        /// The first error finding, as `CODE entry: message`.
        first: String,
    },
    /// An archive to read (a file, or a stored backup just downloaded) cannot be opened.
    #[error(transparent)]
    Archive(sitepack_reader::ReaderError),
    /// An encrypted archive cannot be decrypted (no or the wrong identity, a damaged
    /// ciphertext), or an archive cannot be encrypted.
    #[error(transparent)]
    Crypt(#[from] sitepack_crypt::CryptError),
    /// The archive just written could not be read back.
    #[error("cannot read back the new archive")]
    ReadBack {
        /// The reader's error.
        #[source]
        source: sitepack_reader::ReaderError,
    },
    /// A sidecar (`….zip.json`) is not a backup description's JSON.
    #[error("the sidecar {name} is not a sitepack backup description")]
    UnreadableSidecar {
        /// The sidecar's key.
        name: String,
        /// Why its JSON cannot be read as one.
        #[source]
        source: serde_json::Error,
    },
    /// A sidecar (`….zip.json`) does not describe its backup.
    #[error("the sidecar {name} is not a sitepack backup description: {problem}")]
    BadSidecar {
        /// The sidecar's key.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The stored bytes are not the ones the sidecar vouches for.
    #[error(
        "backup {name} does not match its recorded digest (stored {actual}, expected {expected}, {size} bytes read): the object was changed or damaged; do not use it"
    )]
    DigestMismatch {
        /// The backup.
        name: String,
        /// The sidecar's SHA-256.
        expected: String,
        /// The SHA-256 of the bytes read.
        actual: String,
        /// How many bytes were read.
        size: u64,
    },
    /// The stored object is not as long as its sidecar records: found before any of it is
    /// read by ranges (a metadata-only check, a preview), which cannot recompute the digest.
    #[error(
        "backup {name} is {actual} bytes, but its sidecar records {recorded}: the object was changed or damaged; do not use it"
    )]
    SizeMismatch {
        /// The backup.
        name: String,
        /// The size its sidecar records.
        recorded: u64,
        /// The object's size in the target.
        actual: u64,
    },
}

impl StoreError {
    /// The stored bytes are not the ones the sidecar vouches for: a verdict on the backup
    /// (exit 1), not a failure to read it.
    #[must_use]
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. }
        )
    }
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// What an object-storage error most likely means, in words a person can act on, with
/// the innermost cause (what the server or the network said).
fn hint(error: &object_store::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    let said = innermost.to_string();
    let lower = sitepack_format::error_chain(error).to_ascii_lowercase();
    let advice = if matches!(
        error,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || lower.contains("signaturedoesnotmatch")
        || lower.contains("accessdenied")
        || lower.contains("invalidaccesskeyid")
        || lower.contains("403 forbidden")
    {
        "the server refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    } else if lower.contains("nosuchbucket") {
        "the bucket does not exist: create it, or check the s3:// URL"
    } else if lower.contains("connect") || lower.contains("dns") || lower.contains("timed out") {
        "the server cannot be reached: check --endpoint (or AWS_ENDPOINT_URL) and the network"
    } else {
        return said;
    };
    format!("{advice} (the last error: {said})")
}
