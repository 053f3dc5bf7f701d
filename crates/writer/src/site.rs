//! Reading a site directory: its `site.json` and the inventory of its files.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sitepack_format::{
    ArchivePath, Area, INTERNAL_DIR, SecretPolicy, SiteConfig, classify, validate_site_config,
};

use crate::WriterError;

/// An open site directory: where it is, what `site.json` says, and its secret policy.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
    config: SiteConfig,
    policy: SecretPolicy,
}

/// One regular file of a site, placed in the layout.
#[derive(Debug, Clone)]
pub struct SiteFile {
    /// Path relative to the site root.
    pub path: ArchivePath,
    /// Where the layout puts it.
    pub area: Area,
    /// Size when the site was scanned.
    pub size: u64,
}

impl Site {
    /// Opens `root`, reading and checking `site.json` against `schema/site.schema.json`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, WriterError> {
        Self::open_inner(root.as_ref())
    }

    fn open_inner(root: &Path) -> Result<Self, WriterError> {
        if !root.is_dir() {
            return Err(WriterError::NotASite {
                path: root.to_path_buf(),
            });
        }
        let site_json = root.join("site.json");
        let meta = match fs::symlink_metadata(&site_json) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WriterError::MissingSiteJson { path: site_json });
            }
            Err(e) => return Err(WriterError::io("read", site_json, e)),
        };
        if meta.file_type().is_symlink() {
            return Err(WriterError::Symlink { path: site_json });
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut open_site_file(&site_json)?, &mut bytes)
            .map_err(|e| WriterError::io("read", &site_json, e))?;
        let value = crate::content::parse_json(&site_json, &bytes)?;
        let config =
            validate_site_config(&value).map_err(|source| WriterError::InvalidSiteJson {
                path: site_json.clone(),
                source,
            })?;
        let policy = SecretPolicy::new(config.secrets.as_ref()).map_err(|source| {
            WriterError::InvalidSiteJson {
                path: site_json,
                source,
            }
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            config,
            policy,
        })
    }

    /// The site directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What `site.json` says.
    #[must_use]
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// Default secret patterns plus this site's additions.
    #[must_use]
    pub fn policy(&self) -> &SecretPolicy {
        &self.policy
    }

    /// Every regular file of the site except `.sitepack/`, sorted by path (byte order).
    ///
    /// Refuses, naming the file: symbolic links (never followed), FIFOs, sockets and
    /// devices, names that are not UTF-8 or not a safe [`ArchivePath`], and names that
    /// collide by case or Unicode normalization. Nothing is skipped silently.
    pub fn scan(&self) -> Result<Vec<SiteFile>, WriterError> {
        let mut files = Vec::new();
        let mut pending = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let entries =
                fs::read_dir(&dir).map_err(|e| WriterError::io("read the directory", &dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| WriterError::io("read the directory", &dir, e))?;
                let native = entry.path();
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    return Err(WriterError::NonUtf8Name { path: native });
                };
                let relative = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if relative == INTERNAL_DIR {
                    continue;
                }
                let path: ArchivePath =
                    relative.parse().map_err(|source| WriterError::UnsafeName {
                        path: native.clone(),
                        source,
                    })?;
                let file_type = entry
                    .file_type()
                    .map_err(|e| WriterError::io("read the metadata of", &native, e))?;
                if file_type.is_symlink() {
                    return Err(WriterError::Symlink { path: native });
                } else if file_type.is_dir() {
                    pending.push((native, relative));
                } else if file_type.is_file() {
                    let size = entry
                        .metadata()
                        .map_err(|e| WriterError::io("read the metadata of", &native, e))?
                        .len();
                    // `classify` is `None` only below `.sitepack/`, skipped above.
                    if let Some(area) = classify(&path) {
                        files.push(SiteFile { path, area, size });
                    }
                } else {
                    return Err(WriterError::NotRegularFile { path: native });
                }
            }
        }
        files.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        check_collisions(&files)?;
        Ok(files)
    }

    /// The native path of a site file.
    #[must_use]
    pub fn native_path(&self, path: &ArchivePath) -> PathBuf {
        self.root.join(path.to_native())
    }
}

fn check_collisions(files: &[SiteFile]) -> Result<(), WriterError> {
    // Directories collide too (`Docs/a` and `docs/b`), so every prefix is checked.
    let mut seen: HashMap<String, ArchivePath> = HashMap::new();
    let mut previous: Option<&ArchivePath> = None;
    for file in files {
        // Files are sorted, so the directories shared with the previous file are
        // already checked.
        let shared = previous.map_or(0, |p| shared_directories(p, &file.path));
        previous = Some(&file.path);
        for prefix in file.path.prefixes().skip(shared) {
            match seen.get(&prefix.collision_key()) {
                Some(first) if *first != prefix => {
                    return Err(WriterError::NameCollision {
                        first: first.to_string(),
                        second: prefix.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(prefix.collision_key(), prefix);
                }
            }
        }
    }
    Ok(())
}

/// Opens a site file for reading without following a symbolic link: a file that was
/// swapped for a link after the scan is refused, never followed.
pub(crate) fn open_site_file(native: &Path) -> Result<File, WriterError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(native)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
                WriterError::Symlink {
                    path: native.to_path_buf(),
                }
            } else {
                WriterError::io("read", native, e)
            }
        })
}

/// How many leading directories two paths share.
fn shared_directories(a: &ArchivePath, b: &ArchivePath) -> usize {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.components().collect(), b.components().collect());
    a[..a.len() - 1]
        .iter()
        .zip(&b[..b.len() - 1])
        .take_while(|(x, y)| x == y)
        .count()
}

/// The names that exist in a site, for "unknown tab" messages and for `stats`.
pub(crate) fn names_in(files: &[SiteFile], kind: &str) -> Vec<String> {
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|f| match (&f.area, kind) {
            (Area::Tab(name), "tab") | (Area::User(name), "user") => Some(name.to_string()),
            (Area::Module { module, .. }, "module") => Some(module.to_string()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_files_are_opened_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "outside").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_site_file(&target).is_ok());
        let err = open_site_file(&link).unwrap_err();
        assert!(matches!(err, WriterError::Symlink { .. }), "{err}");
    }
}
