//! Where backups are kept: a target named on the command line or in the config, and the
//! one interface ([`BackupStore`]) its two kinds implement.

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sitepack_format::Timestamp;

use crate::StoreError;

/// A storage target as written by the user: a directory (a path or `file://…`) or
/// S3-compatible object storage (`s3://bucket[/prefix]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A local directory.
    Local(PathBuf),
    /// A bucket, and a prefix inside it (no leading or trailing `/`; may be empty).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
}

impl TargetSpec {
    /// For reading backups (`list`, `prune`, `--from`): a local target must be an
    /// existing directory, so that a typo is not taken for an empty target. (Object
    /// storage says so itself when a bucket is missing.)
    pub fn require_existing(&self) -> Result<(), StoreError> {
        match self {
            Self::Local(path) if !path.is_dir() => {
                Err(StoreError::NoTargetDir { path: path.clone() })
            }
            _ => Ok(()),
        }
    }
}

impl TargetSpec {
    /// For storing backups of the site at `site_root`: a local target inside the site is
    /// refused — every full backup would hold the ones before it, and a replace restore
    /// would delete them. The target may not exist yet (its nearest existing ancestor is
    /// resolved, links included).
    pub fn check_outside_site(&self, site_root: &Path) -> Result<(), StoreError> {
        let Self::Local(path) = self else {
            return Ok(());
        };
        let site = site_root
            .canonicalize()
            .map_err(|e| StoreError::io("open", site_root, e))?;
        let absolute = std::path::absolute(path).map_err(|e| StoreError::io("open", path, e))?;
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        let resolved = loop {
            match existing.canonicalize() {
                Ok(real) => break rest.iter().rev().fold(real, |p: PathBuf, c| p.join(c)),
                Err(_) => match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_owned());
                        existing = parent;
                    }
                    _ => break absolute.clone(),
                },
            }
        };
        if resolved.starts_with(&site) {
            return Err(StoreError::BadTarget {
                target: path.display().to_string(),
                problem: format!(
                    "it is inside the site being backed up ({}): every backup would hold the ones before it; store backups outside the site",
                    site_root.display()
                ),
            });
        }
        Ok(())
    }
}

impl FromStr for TargetSpec {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |problem: &str| StoreError::BadTarget {
            target: sitepack_format::mask_url_user_info(text),
            problem: problem.to_owned(),
        };
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.contains('@') {
                // Never repeated: what precedes the `@` is a key, maybe a secret one.
                return Err(bad(
                    "an s3:// URL holds no credentials (user:secret@): give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                ));
            }
            if bucket.is_empty() {
                return Err(bad(
                    "no bucket name: write s3://BUCKET or s3://BUCKET/PREFIX",
                ));
            }
            if !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(bad(
                    "a bucket name holds only letters, digits, `.`, `-` and `_`",
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part == ".." || part == ".") || prefix.contains("//") {
                return Err(bad("the prefix has an empty, `.` or `..` part"));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file:// URL needs an absolute path: file:///srv/backups",
                ));
            }
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err(bad(
                "only s3:// URLs, file:// URLs and directory paths are storage targets",
            ));
        }
        if text.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Self::Local(PathBuf::from(text)))
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Connection settings for S3-compatible storage beyond the standard AWS environment
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The endpoint (`--endpoint`), e.g. `http://127.0.0.1:9000` for a local server;
    /// overrides `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
}

impl S3Settings {
    /// The endpoint to use (`endpoint`, else `AWS_ENDPOINT_URL`), checked: an `http://` or
    /// `https://` URL with a host and nothing after its path, so that a typo is an error
    /// naming it rather than a failure deep in the S3 client. User info in it is never
    /// repeated.
    pub fn checked_endpoint(&self) -> Result<Option<String>, StoreError> {
        let (endpoint, source) = match &self.endpoint {
            Some(endpoint) => (endpoint.clone(), "--endpoint (or config.toml's endpoint)"),
            None => match std::env::var("AWS_ENDPOINT_URL") {
                Ok(endpoint) => (endpoint, "AWS_ENDPOINT_URL"),
                Err(_) => return Ok(None),
            },
        };
        let bad = |shown: String| StoreError::BadEndpoint {
            endpoint: shown,
            source_name: source,
        };
        let parsed = url::Url::parse(&endpoint).map_err(|_| {
            bad(if endpoint.contains('@') {
                "(not shown: it holds an `@`)".to_owned()
            } else {
                endpoint.clone()
            })
        })?;
        let shown = || {
            let mut shown = parsed.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            shown.to_string()
        };
        let usable = matches!(parsed.scheme(), "http" | "https")
            && parsed.host_str().is_some_and(|host| !host.is_empty())
            && parsed.query().is_none()
            && parsed.fragment().is_none()
            // The client does not parse this URL as `url` does: no `\\` or spaces in it.
            && !endpoint.contains(['\\', ' '])
            && endpoint.contains("://");
        if !usable {
            return Err(bad(shown()));
        }
        Ok(Some(endpoint))
    }
}

/// One storage target: keys are `/`-separated names relative to the target.
///
/// Writes are whole: an object is either absent or complete under its key (a local file
/// is written beside its name and renamed; an S3 object appears only when its upload
/// completes, and a failed multipart upload is aborted on the server).
pub trait BackupStore: Send + Sync {
    /// The target, as the user would write it.
    fn describe(&self) -> String;

    /// Stores the local file `source` under `key`, only if `key` is free: of two writers
    /// of one key, exactly one succeeds and the other gets [`StoreError::Exists`].
    fn put_file(&self, key: &str, source: &Path) -> Result<(), StoreError>;

    /// Stores `data` under `key`, only if `key` is free (as [`put_file`](Self::put_file)).
    fn put_bytes(&self, key: &str, data: &[u8]) -> Result<(), StoreError>;

    /// The whole object (a sidecar: not counted in [`bytes_fetched`](Self::bytes_fetched)).
    fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError>;

    /// Copies the whole object into `out`, returning its length.
    fn get_to_file(&self, key: &str, out: &mut File) -> Result<u64, StoreError>;

    /// Bytes `range` of the object.
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError>;

    /// The object's size.
    fn size(&self, key: &str) -> Result<u64, StoreError>;

    /// Every object whose key starts with `prefix` (a `/`-ended directory-like prefix, or
    /// empty), sorted by key; a name sitepack cannot use (not UTF-8, a control character,
    /// an empty part) is skipped and named in [`Listing::skipped`], never fatal.
    fn list(&self, prefix: &str) -> Result<Listing, StoreError>;

    /// Removes the object (absent is not an error).
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Bytes of archives read from the target so far (downloads and ranges; sidecars
    /// read with [`get_bytes`](Self::get_bytes) are not counted).
    fn bytes_fetched(&self) -> u64;
}

/// An object found by [`BackupStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key, relative to the target.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written (a file's modification time, an object's
    /// `Last-Modified`), when known.
    pub modified: Option<Timestamp>,
}

/// What [`BackupStore::list`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects, sorted by key.
    pub objects: Vec<ListedObject>,
    /// The names that were skipped, escaped for printing (`"caf\xE9.zip"`), each a
    /// name no sitepack backup has.
    pub skipped: Vec<String>,
}

/// Whether a key is one sitepack can use: [`check_key`], and no control character.
pub(crate) fn usable_key(key: &str) -> bool {
    check_key(key).is_ok() && !key.chars().any(char::is_control)
}

/// Opens the target `spec` (an S3 target takes `s3` settings).
pub fn open_store(spec: &TargetSpec, s3: &S3Settings) -> Result<Box<dyn BackupStore>, StoreError> {
    match spec {
        TargetSpec::Local(path) => Ok(Box::new(crate::local::LocalStore::new(path))),
        TargetSpec::S3 { bucket, prefix } => {
            Ok(Box::new(crate::s3::S3Store::new(bucket, prefix, s3)?))
        }
    }
}

/// Checks a key: relative, `/`-separated, no empty, `.` or `..` part.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(StoreError::BadName {
            name: key.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_written() {
        assert_eq!(
            "s3://bucket/a/b/".parse::<TargetSpec>().unwrap(),
            TargetSpec::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            "s3://bucket".parse::<TargetSpec>().unwrap().to_string(),
            "s3://bucket"
        );
        assert_eq!(
            "file:///srv/backups".parse::<TargetSpec>().unwrap(),
            TargetSpec::Local("/srv/backups".into())
        );
        assert_eq!(
            "backups".parse::<TargetSpec>().unwrap(),
            TargetSpec::Local("backups".into())
        );
        for bad in [
            "s3://",
            "s3:///x",
            "s3://b/../x",
            "file://rel",
            "gs://b",
            "",
            "s3://my bucket/x",
            "s3://b?x=1/p",
        ] {
            assert!(bad.parse::<TargetSpec>().is_err(), "{bad}");
        }
    }

    /// Credentials written into an s3:// URL are refused without being repeated.
    #[test]
    fn credentials_in_an_s3_url_are_refused_unrepeated() {
        for url in [
            "s3://AKIDEXAMPLE:wJalrSecretValue@bucket/prefix",
            "s3://wJalrSecretValue@bucket",
        ] {
            let error = url.parse::<TargetSpec>().unwrap_err();
            let said = sitepack_format::error_chain(&error);
            assert!(!said.contains("wJalrSecretValue"), "{said}");
            assert!(said.contains("AWS_ACCESS_KEY_ID"), "{said}");
            assert!(said.contains("@bucket"), "{said}");
        }
    }

    /// An endpoint the S3 client could not use is an error naming it (never a panic in
    /// the client), without its user info; a usable one is passed on as written.
    #[test]
    fn endpoints_are_checked_before_use() {
        let settings = |endpoint: &str| S3Settings {
            endpoint: Some(endpoint.to_owned()),
        };
        for good in [
            "http://127.0.0.1:9000",
            "https://s3.example.com",
            "http://localhost:9000/",
        ] {
            assert_eq!(
                settings(good).checked_endpoint().unwrap().as_deref(),
                Some(good)
            );
        }
        for bad in [
            "127.0.0.1:9555",
            "notaurl",
            "",
            "http:/host",
            "http://",
            "ftp://host",
            "http://host:9000/?x=1",
            "http://ho st:9000",
        ] {
            let error = settings(bad).checked_endpoint().unwrap_err();
            assert!(
                matches!(error, StoreError::BadEndpoint { .. }),
                "{bad}: {error}"
            );
        }
        let error = settings("http://key:Secr3tValue@")
            .checked_endpoint()
            .unwrap_err();
        assert!(!error.to_string().contains("Secr3tValue"), "{error}");
    }

    #[test]
    fn keys_stay_inside_the_target() {
        assert!(check_key("acme/2026.zip").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/./b", "a/"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
