//! Reading a site directory: its `site.json` and the inventory of its files.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sitepack_format::{
    ArchivePath, Area, Beneath, INTERNAL_DIR, LinkRefused, NodeKind, SecretPolicy, SiteConfig,
    TreeConflict, classify, first_tree_conflict, validate_site_config,
};

use crate::WriterError;
use crate::create::Prepared;
use crate::table::TableEntry;

const SITE_JSON: &str = "site.json";

/// An open site directory: where it is, what `site.json` says, and its secret policy.
///
/// A database site is opened as its staged export ([`Site::open_database`]): a directory
/// holding `site.json` and `db/`, with the tenant's uploads read from their own directory
/// as `files/`, and its state (lock, audit log) kept elsewhere.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
    /// The site directory, opened once: every file below it is reached through this
    /// handle, one component at a time, never through a link.
    dir: Arc<Beneath>,
    config: SiteConfig,
    policy: SecretPolicy,
    /// Where `.sitepack/` (lock, audit log) is: the site directory itself, except for a
    /// database site.
    state_root: PathBuf,
    /// A database site's uploads, archived as `files/`.
    uploads: Option<Uploads>,
    database: bool,
    /// A database site's tables, encoded as they were read: each is appended once, by
    /// the first archive written of the site.
    tables: Arc<Mutex<Vec<TableEntry>>>,
}

/// A database site's uploads directory.
#[derive(Debug, Clone)]
struct Uploads {
    root: PathBuf,
    dir: Arc<Beneath>,
}

/// The site-relative directory under which a database site's uploads are archived.
const FILES_DIR: &str = "files";

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

    /// Opens a database site's staged export `staged` (its `site.json` and `db/`), with
    /// its uploads read from `uploads` (archived as `files/`) and its state under
    /// `state_root`. Its archives are format 1.1: the tables carry their row counts, and
    /// the scope's selection is already made (everything staged is taken, and of the
    /// uploads what the scope holds).
    pub fn open_database(
        staged: &Path,
        uploads: Option<&Path>,
        state_root: &Path,
    ) -> Result<Self, WriterError> {
        let uploads = match uploads {
            Some(root) => Some(Beneath::open(root).map_err(|e| open_error(root, e))?),
            None => None,
        };
        Self::open_database_with(staged, uploads, state_root)
    }

    /// [`open_database`](Self::open_database) with the uploads directory already open
    /// (as the caller chose to open it: a restore's snapshot never through a link).
    pub fn open_database_with(
        staged: &Path,
        uploads: Option<Beneath>,
        state_root: &Path,
    ) -> Result<Self, WriterError> {
        let mut site = Self::open_inner(staged)?;
        site.uploads = uploads.map(|dir| Uploads {
            root: dir.path().to_path_buf(),
            dir: Arc::new(dir),
        });
        site.state_root = state_root.to_path_buf();
        site.database = true;
        Ok(site)
    }

    fn open_inner(root: &Path) -> Result<Self, WriterError> {
        let not_a_site = || WriterError::NotASite {
            path: root.to_path_buf(),
        };
        if !root.is_dir() {
            return Err(not_a_site());
        }
        let dir = Beneath::open(root).map_err(|_| not_a_site())?;
        let site_json = root.join(SITE_JSON);
        let mut file = match dir.open_file(SITE_JSON) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(WriterError::MissingSiteJson { path: site_json });
            }
            Err(e) => return Err(open_error(&site_json, e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
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
            dir: Arc::new(dir),
            config,
            policy,
            state_root: root.to_path_buf(),
            uploads: None,
            database: false,
            tables: Arc::default(),
        })
    }

    /// Adds a database site's tables, encoded while they were read
    /// ([`encode_table`](crate::encode_table)), to what its archive holds beside its
    /// staged files. A table is appended by the first archive written of the site only.
    #[must_use]
    pub fn with_tables(mut self, tables: Vec<TableEntry>) -> Self {
        self.tables = Arc::new(Mutex::new(tables));
        self
    }

    /// The encoded table at `path`, taken out to be appended.
    pub(crate) fn take_table(&self, path: &ArchivePath) -> Option<Prepared> {
        let mut tables = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = tables.iter().position(|t| t.path == *path)?;
        Some(tables.swap_remove(index).prepared)
    }

    /// The site directory (a database site's staged export).
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory whose `.sitepack/` holds the site's lock and audit log.
    #[must_use]
    pub fn state_root(&self) -> &Path {
        &self.state_root
    }

    /// Whether this is a database site's staged export ([`Site::open_database`]).
    #[must_use]
    pub fn is_database(&self) -> bool {
        self.database
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
        let (files, problems) = self.scan_all()?;
        match WriterError::from_problems(problems) {
            Some(error) => Err(error),
            None => Ok(files),
        }
    }

    /// [`scan`](Self::scan), returning the problems found beside the files that can be
    /// read (for `create`, which adds the problems of their content). Only an I/O
    /// failure is an error here.
    pub(crate) fn scan_all(&self) -> Result<(Vec<SiteFile>, Vec<WriterError>), WriterError> {
        let mut files = Vec::new();
        // Every problem is collected, so that one run names them all.
        let mut problems = Vec::new();
        let mut pending = vec![(self.dir.try_clone(), String::new())];
        if let Some(uploads) = &self.uploads {
            pending.push((uploads.dir.try_clone(), FILES_DIR.to_owned()));
        }
        while let Some((dir, prefix)) = pending.pop() {
            let dir = dir.map_err(|e| open_error(&self.native_dir(&prefix), e))?;
            let entries = dir
                .entries()
                .map_err(|e| WriterError::io("read the directory", dir.path(), e))?;
            for (name, kind) in entries {
                let native = dir.path().join(&name);
                let Some(name) = name.to_str().map(str::to_owned) else {
                    problems.push(WriterError::NonUtf8Name { path: native });
                    continue;
                };
                let relative = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if relative == INTERNAL_DIR {
                    continue;
                }
                let path: ArchivePath = match relative.parse() {
                    Ok(path) => path,
                    Err(source) => {
                        problems.push(WriterError::UnsafeName {
                            path: native,
                            source,
                        });
                        continue;
                    }
                };
                match kind {
                    NodeKind::Link => problems.push(WriterError::Symlink { path: native }),
                    NodeKind::Dir => pending.push((dir.dir(path.file_name()), relative)),
                    NodeKind::File => {
                        let size = dir
                            .stat(path.file_name())
                            .map_err(|e| open_error(&native, e))?
                            .map_or(0, |stat| stat.size);
                        // `classify` is `None` only below `.sitepack/`, skipped above.
                        if let Some(area) = classify(&path) {
                            files.push(SiteFile { path, area, size });
                        }
                    }
                    NodeKind::Special => {
                        problems.push(WriterError::NotRegularFile { path: native });
                    }
                }
            }
        }
        for table in self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            if let Some(area) = classify(&table.path) {
                files.push(SiteFile {
                    path: table.path.clone(),
                    area,
                    size: table.size(),
                });
            }
        }
        files.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        if let Err(collision) = check_collisions(&files) {
            problems.push(collision);
        }
        Ok((files, problems))
    }

    /// Opens the site file `path` for reading through the site's directory handle: a
    /// file or directory swapped for a link after the scan is refused, never followed.
    pub fn open_file(&self, path: &ArchivePath) -> Result<File, WriterError> {
        let opened = match (&self.uploads, self.upload_path(path.as_str())) {
            (Some(uploads), Some(relative)) => uploads.dir.open_file(relative),
            _ => self.dir.open_file(path.as_str()),
        };
        opened.map_err(|e| open_error(&self.native_path(path), e))
    }

    /// The native path of a site file (a database site's upload: in its uploads
    /// directory).
    #[must_use]
    pub fn native_path(&self, path: &ArchivePath) -> PathBuf {
        self.native_dir(path.as_str())
    }

    fn native_dir(&self, relative: &str) -> PathBuf {
        match (&self.uploads, self.upload_path(relative)) {
            (Some(uploads), Some(rest)) => uploads.root.join(rest),
            _ => self.root.join(relative),
        }
    }

    /// `relative` below the uploads directory, when it is an upload of a database site.
    fn upload_path<'p>(&self, relative: &'p str) -> Option<&'p str> {
        self.uploads.as_ref()?;
        if relative == FILES_DIR {
            return Some(".");
        }
        relative.strip_prefix(FILES_DIR)?.strip_prefix('/')
    }
}

fn check_collisions(files: &[SiteFile]) -> Result<(), WriterError> {
    // A scanned tree cannot hold a file and a directory of one name; names that differ
    // only by case or normalization it can.
    match first_tree_conflict(files.iter().map(|f| &f.path)) {
        None => Ok(()),
        Some(TreeConflict::Collision { first, second }) => Err(WriterError::NameCollision {
            first: first.to_string(),
            second: second.to_string(),
        }),
        Some(TreeConflict::FileAndDirectory { file, below }) => Err(WriterError::NameCollision {
            first: file.to_string(),
            second: below.to_string(),
        }),
    }
}

/// An error opening a site file: a refused link is [`WriterError::Symlink`].
fn open_error(native: &Path, error: io::Error) -> WriterError {
    if LinkRefused::is(&error) {
        WriterError::Symlink {
            path: native.to_path_buf(),
        }
    } else {
        WriterError::io("read", native, error)
    }
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
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("files/docs")).unwrap();
        std::fs::write(
            root.join(SITE_JSON),
            r#"{"id":"s","name":"S","url":"https://s.example"}"#,
        )
        .unwrap();
        std::fs::write(root.join("files/docs/a.txt"), "inside").unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("a.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(outside.join("a.txt"), root.join("files/link.txt")).unwrap();
        let site = Site::open(&root).unwrap();
        let path = |p: &str| p.parse::<ArchivePath>().unwrap();
        assert!(site.open_file(&path("files/docs/a.txt")).is_ok());
        let err = site.open_file(&path("files/link.txt")).unwrap_err();
        assert!(matches!(err, WriterError::Symlink { .. }), "{err}");
        // A directory swapped for a link after the site was opened is refused too.
        std::fs::rename(root.join("files/docs"), root.join("moved")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("files/docs")).unwrap();
        let err = site.open_file(&path("files/docs/a.txt")).unwrap_err();
        assert!(
            matches!(err, WriterError::Symlink { ref path } if path.ends_with("files/docs/a.txt")),
            "{err}"
        );
    }
}
