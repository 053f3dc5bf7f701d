//! A database site's uploaded files (`[files] dir`) restored with its rows, under the
//! same review.
//!
//! Files cannot join the database's transaction, so they follow it: before the
//! transaction, the files the uploads directory is to hold (the archive's, or for a
//! revert the snapshot's) are staged in `STATE_DIR/.sitepack/db-files/SNAPSHOT.STEP/`
//! and a journal beside them (`SNAPSHOT.STEP.json`) says what they are for; once the
//! transaction has committed they are applied, then the journal and the staged copies
//! are removed. Applying only makes the uploads directory's area hold the staged files
//! (removing the others, for a replace), so it can be run again from the start: a kill
//! between the commit and the end leaves the journal, and the next command on the site
//! ([`crate::review::settle`]) applies it again when its transaction committed, or
//! discards it when it did not. Paths are walked without following links.
//!
//! The pre-restore snapshot holds the area's files as they were, so a revert puts
//! them back exactly the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sitepack_format::{Beneath, INTERNAL_DIR, NodeKind, Scope};
use sitepack_reader::Archive;

use crate::DbError;
use crate::descriptor::Descriptor;

/// Where staged files and their journals live, in the state directory's `.sitepack/`.
pub const FILES_DIR: &str = "db-files";

/// The prefix of the archive's uploaded files.
const ARCHIVE_FILES: &str = "site/files/";

/// What a journal's files are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilesStep {
    /// A restore's: applied once the restore's transaction committed.
    Restore,
    /// A revert's (the snapshot's files): applied once the revert's transaction
    /// committed.
    Revert,
}

impl FilesStep {
    fn name(self) -> &'static str {
        match self {
            Self::Restore => "restore",
            Self::Revert => "revert",
        }
    }
}

/// Files staged for one restore or revert, as its journal records them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedFiles {
    /// The snapshot of the restore they belong to (the pending marker names it).
    pub snapshot: String,
    /// A restore's or a revert's.
    pub step: FilesStep,
    /// The area of the uploads directory they make up: `""` (all of it) or
    /// `users/ID/`.
    pub area: String,
    /// Whether the area becomes exactly these files (others removed), or they are
    /// written over it.
    pub replace: bool,
    /// The files, relative to the uploads directory, staged under the same paths.
    pub files: Vec<String>,
    /// For a revert: the owner, group and permissions the area's files and directories
    /// had before the restore (the snapshot holds their bytes only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, NodeMetadata>,
    /// The token in the names of the temporary files the last run applying these files
    /// wrote beside their places (`.sitepack-TOKEN-N.tmp`): a run that finishes after a
    /// kill removes them. Random, so that no one's own file is taken for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporaries: Option<String>,
}

/// A file's or directory's owner, group and permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMetadata {
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// What applying staged files changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FilesApplied {
    /// Files written (new, or with other content).
    pub written: u64,
    /// Files already as staged.
    pub unchanged: u64,
    /// Files removed (a replace: not in the archive).
    pub removed: u64,
}

/// The area of the uploads directory an archive of `scope` holds: all of it, a user's
/// own files, or none (a table archive).
fn area_of(scope: &Scope) -> Option<String> {
    match scope {
        Scope::Full => Some(String::new()),
        Scope::User(id) => Some(format!("users/{id}/")),
        _ => None,
    }
}

fn files_dir(descriptor: &Descriptor) -> PathBuf {
    descriptor.state_dir.join(INTERNAL_DIR).join(FILES_DIR)
}

fn staged_name(snapshot: &str, step: FilesStep) -> String {
    format!("{snapshot}.{}", step.name())
}

fn metadata_path(descriptor: &Descriptor, snapshot: &str) -> PathBuf {
    files_dir(descriptor).join(format!("{snapshot}.metadata.json"))
}

/// Records the owner, group and permissions of the area's files and directories as
/// they are (beside the snapshot that holds their bytes), for a revert to give back.
pub(crate) fn record_metadata(
    descriptor: &Descriptor,
    archive: &Archive,
    snapshot: &str,
) -> Result<(), DbError> {
    let Some(area) = restored_area(descriptor, archive)? else {
        return Ok(());
    };
    let Some(uploads) = open_uploads(descriptor)? else {
        return Ok(());
    };
    let mut found = BTreeMap::new();
    let root = area.trim_end_matches('/');
    if root.is_empty() {
        collect_metadata(&uploads, "", &mut found)?;
    } else if let Ok(Some(stat)) = uploads.stat(root)
        && stat.kind == NodeKind::Dir
    {
        let dir = uploads
            .dir(root)
            .map_err(|e| DbError::io("open", uploads.display_path(root), e))?;
        found.insert(root.to_owned(), metadata_of(&stat));
        collect_metadata(&dir, root, &mut found)?;
    }
    let dir = files_dir(descriptor);
    make_private_dir(&dir)?;
    write_json_atomically(&metadata_path(descriptor, snapshot), &found)
}

fn metadata_of(stat: &sitepack_format::NodeStat) -> NodeMetadata {
    NodeMetadata {
        mode: stat.mode,
        uid: stat.uid,
        gid: stat.gid,
    }
}

fn collect_metadata(
    dir: &Beneath,
    path: &str,
    found: &mut BTreeMap<String, NodeMetadata>,
) -> Result<(), DbError> {
    let entries = dir
        .entries()
        .map_err(|e| DbError::io("read", dir.path().to_path_buf(), e))?;
    for (name, kind) in entries {
        let Some(name) = name.to_str() else { continue };
        let relative = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}/{name}")
        };
        let Some(stat) = dir
            .stat(name)
            .map_err(|e| DbError::io("read", dir.display_path(name), e))?
        else {
            continue;
        };
        match kind {
            NodeKind::File => {
                found.insert(relative, metadata_of(&stat));
            }
            NodeKind::Dir => {
                found.insert(relative.clone(), metadata_of(&stat));
                let below = dir
                    .dir(name)
                    .map_err(|e| DbError::io("open", dir.display_path(name), e))?;
                collect_metadata(&below, &relative, found)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes the metadata recorded for the restore whose snapshot is `snapshot`.
pub(crate) fn remove_metadata(descriptor: &Descriptor, snapshot: &str) -> Result<(), DbError> {
    remove_file(&metadata_path(descriptor, snapshot))
}

fn read_metadata(
    descriptor: &Descriptor,
    snapshot: &str,
    area: &str,
) -> Result<BTreeMap<String, NodeMetadata>, DbError> {
    let path = metadata_path(descriptor, snapshot);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(DbError::io("read", &path, e)),
    };
    let found: BTreeMap<String, NodeMetadata> =
        serde_json::from_slice(&text).map_err(|e| DbError::Review {
            problem: format!(
                "{} is not the record of permissions sitepack wrote ({e}): nothing was \
                 changed; move it out of that directory to go on (the files then come back \
                 with default permissions)",
                path.display()
            ),
        })?;
    if found.keys().all(|p| fits_area(p, area)) {
        Ok(found)
    } else {
        Err(DbError::Review {
            problem: format!(
                "{} names paths outside the restored area: nothing was changed; move it out \
                 of that directory to go on",
                path.display()
            ),
        })
    }
}

/// Whether `path` (relative to the uploads) is one an archive may hold, in `area` (or
/// the area's own directory).
fn fits_area(path: &str, area: &str) -> bool {
    (path.starts_with(area) || area.trim_end_matches('/') == path)
        && format!("{ARCHIVE_FILES}{path}")
            .parse::<sitepack_format::ArchivePath>()
            .is_ok()
}

/// Makes `dir` (and its parents), readable by its owner only: staged copies and
/// snapshots of private files stay private.
pub(crate) fn make_private_dir(dir: &Path) -> Result<(), DbError> {
    fs::create_dir_all(dir).map_err(|e| DbError::io("create", dir, e))?;
    refuse_linked_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| DbError::io("set the permissions of", dir, e))
}

/// Refuses `dir` (sitepack's own, in the state directory) when it is a link: what is
/// staged, recorded or read there must be what sitepack put there.
fn refuse_linked_dir(dir: &Path) -> Result<(), DbError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| DbError::io("read", dir, e))?;
    if meta.file_type().is_dir() {
        Ok(())
    } else {
        Err(DbError::Review {
            problem: format!(
                "{} is not a directory sitepack made (a link?): nothing was changed; move it \
                 out of the state directory to go on",
                dir.display()
            ),
        })
    }
}

/// Writes `value` as pretty JSON at `path` whole or not at all: a temporary file beside
/// it, synced, renamed into place, the directory synced.
pub(crate) fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), DbError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let text = serde_json::to_vec_pretty(value).map_err(|e| DbError::Query {
        what: format!("writing {}", path.display()),
        reason: e.to_string(),
    })?;
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-json-")
        .tempfile_in(dir)
        .map_err(|e| DbError::io("create a temporary file in", dir, e))?;
    file.write_all(&text)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| DbError::io("write", path, e))?;
    file.persist(path)
        .map_err(|e| DbError::io("rename into", path, e.error))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DbError::io("sync", dir, e))
}

fn journal_path(descriptor: &Descriptor, snapshot: &str, step: FilesStep) -> PathBuf {
    files_dir(descriptor).join(format!("{}.json", staged_name(snapshot, step)))
}

/// The uploaded files `archive` carries (paths relative to the uploads directory).
fn archive_files(archive: &Archive) -> Result<Vec<String>, DbError> {
    Ok(archive
        .entries()?
        .iter()
        .filter_map(|e| e.path.as_str().strip_prefix(ARCHIVE_FILES))
        .map(str::to_owned)
        .collect())
}

/// Whether `archive` carries uploaded files.
pub fn carries_files(archive: &Archive) -> Result<bool, DbError> {
    Ok(!archive_files(archive)?.is_empty())
}

/// The uploads directory's area that restoring `archive` with its files changes, or
/// `None` when it changes none: an archive made without files, of a table, or for a
/// descriptor without `[files] dir` when the archive carries no file. An archive with
/// files for a descriptor without `[files] dir` is refused.
pub fn restored_area(
    descriptor: &Descriptor,
    archive: &Archive,
) -> Result<Option<String>, DbError> {
    let manifest = archive.manifest()?;
    let area = if manifest.options.files {
        area_of(&manifest.scope)
    } else {
        None
    };
    if area.is_some() && descriptor.files_dir.is_none() {
        if carries_files(archive)? {
            return Err(DbError::Plan {
                problem: format!(
                    "the archive carries uploaded files (site/files/), and the descriptor {} \
                     has no [files] dir to restore them into: add one, or give --no-files to \
                     restore the rows alone",
                    descriptor.path.display()
                ),
            });
        }
        return Ok(None);
    }
    if area.is_some() {
        crate::site::check_layout(descriptor, None)?;
    }
    Ok(area)
}

/// Stages the uploaded files of `archive` (verified as they are read) for `step` of
/// the restore whose snapshot is `snapshot`, and writes their journal: nothing in the
/// uploads directory changes. A merge that would write a file where the uploads
/// directory holds a directory (or below a file) is refused before anything is staged.
pub fn stage(
    descriptor: &Descriptor,
    archive: &Archive,
    area: &str,
    snapshot: &str,
    step: FilesStep,
    replace: bool,
) -> Result<StagedFiles, DbError> {
    let files = files_in(archive, area)?;
    refuse_unrestorable(descriptor, &files, replace)?;
    let dir = files_dir(descriptor);
    make_private_dir(&dir)?;
    let name = staged_name(snapshot, step);
    let staged_path = dir.join(&name);
    // What a killed run left under this name is no one's: staged again.
    remove_staged(&staged_path)?;
    let journal = journal_path(descriptor, snapshot, step);
    remove_file(&journal)?;
    fs::create_dir(&staged_path).map_err(|e| DbError::io("create", &staged_path, e))?;
    let staged = Beneath::open(&staged_path).map_err(|e| DbError::io("open", &staged_path, e))?;
    for file in &files {
        let at = staged.display_path(file);
        let written = staged.create_parent(file).and_then(|(parent, leaf)| {
            let out = parent.create_new_file(leaf, 0o600)?;
            let mut out = io::BufWriter::new(out);
            archive
                .copy_entry(&format!("{ARCHIVE_FILES}{file}"), &mut out)
                .map_err(io::Error::other)?;
            out.into_inner().map_err(io::IntoInnerError::into_error)?;
            Ok(())
        });
        written.map_err(|e| DbError::io("stage the uploaded file", &at, e))?;
    }
    staged
        .sync_fs()
        .map_err(|e| DbError::io("sync", &staged_path, e))?;
    let metadata = match step {
        FilesStep::Revert => read_metadata(descriptor, snapshot, area)?,
        FilesStep::Restore => BTreeMap::new(),
    };
    let record = StagedFiles {
        snapshot: snapshot.to_owned(),
        step,
        area: area.to_owned(),
        replace,
        files,
        metadata,
        temporaries: None,
    };
    write_json_atomically(&journal, &record)?;
    Ok(record)
}

fn files_in(archive: &Archive, area: &str) -> Result<Vec<String>, DbError> {
    Ok(archive_files(archive)?
        .into_iter()
        .filter(|f| f.starts_with(area))
        .collect())
}

/// Refuses (nothing changed) what the restore of `archive`'s files in `area` could not
/// do: an uploads directory that is a link, or holds a link anywhere (the snapshot reads
/// all of it), and for a merge a file where a directory stands. What a dry run checks.
pub fn check_restorable(
    descriptor: &Descriptor,
    archive: &Archive,
    area: &str,
    replace: bool,
) -> Result<(), DbError> {
    refuse_unrestorable(descriptor, &files_in(archive, area)?, replace)
}

fn refuse_unrestorable(
    descriptor: &Descriptor,
    files: &[String],
    replace: bool,
) -> Result<(), DbError> {
    if let Some(uploads) = open_uploads(descriptor)? {
        refuse_links(&uploads, "")?;
        if !replace {
            refuse_tree_conflicts(&uploads, files)?;
        }
    }
    Ok(())
}

/// Refuses files a merge cannot write: where the uploads directory holds a directory,
/// a link or something else than a file, or below one of those that is not a
/// directory.
fn refuse_tree_conflicts(uploads: &Beneath, files: &[String]) -> Result<(), DbError> {
    for file in files {
        let mut prefix = String::new();
        let components: Vec<&str> = file.split('/').collect();
        for (n, component) in components.iter().enumerate() {
            if n > 0 {
                prefix.push('/');
            }
            prefix.push_str(component);
            let last = n + 1 == components.len();
            let stat = uploads
                .stat(&prefix)
                .map_err(|e| DbError::io("read", uploads.display_path(&prefix), e))?;
            let fits = match stat.map(|s| s.kind) {
                None => break,
                Some(NodeKind::File) => last,
                Some(NodeKind::Dir) => !last,
                Some(_) => false,
            };
            if !fits {
                return Err(DbError::Plan {
                    problem: format!(
                        "a merge cannot write the archive's file {file}: {} is not a {} in \
                         the uploads directory; move it away, or restore with --mode replace",
                        uploads.display_path(&prefix).display(),
                        if last { "regular file" } else { "directory" }
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Opens the uploads directory to change it (`None` when it does not exist yet): never
/// through a link, and never one that holds the database, the descriptor or the state
/// directory (a replace would remove them).
pub(crate) fn open_uploads(descriptor: &Descriptor) -> Result<Option<Beneath>, DbError> {
    let Some(path) = &descriptor.files_dir else {
        return Ok(None);
    };
    crate::site::check_layout(descriptor, None)?;
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DbError::io("read", path, e)),
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(DbError::Plan {
                problem: format!(
                    "the uploads directory ([files] dir) {} is {}: sitepack never follows \
                     links; point [files] dir at the directory itself",
                    path.display(),
                    if meta.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a directory"
                    }
                ),
            });
        }
        Ok(_) => {}
    }
    // Not through a link put in its place since it was looked at.
    Beneath::open_no_follow(path)
        .map(Some)
        .map_err(|e| DbError::io("open (never through a link)", path, e))
}

/// Refuses a link (or another node than a file or directory) in the area: the
/// snapshot cannot hold one, and sitepack never follows them.
fn refuse_links(uploads: &Beneath, area: &str) -> Result<(), DbError> {
    let root = area.trim_end_matches('/');
    let start = if root.is_empty() {
        uploads
            .try_clone()
            .map_err(|e| DbError::io("open", uploads.path(), e))?
    } else {
        match uploads.stat(root) {
            Ok(Some(stat)) if stat.kind == NodeKind::Dir => uploads
                .dir(root)
                .map_err(|e| DbError::io("open", uploads.display_path(root), e))?,
            // A file where the area's directory goes: a replace removes it, a merge refuses.
            Ok(Some(stat)) if stat.kind == NodeKind::File => return Ok(()),
            Ok(Some(_)) => return Err(link_refused(&uploads.display_path(root))),
            // Nothing there, or a parent that is not a directory (the snapshot says so).
            Ok(None) | Err(_) => return Ok(()),
        }
    };
    refuse_links_below(&start, root)
}

fn refuse_links_below(dir: &Beneath, path: &str) -> Result<(), DbError> {
    let entries = dir
        .entries()
        .map_err(|e| DbError::io("read", dir.path().to_path_buf(), e))?;
    // Names an archive holds apart only on case-sensitive file systems: refused by it.
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    for (name, kind) in entries {
        let at = dir.path().join(&name);
        let Some(name) = name.to_str() else {
            return Err(link_refused(&at));
        };
        let relative = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}/{name}")
        };
        if let Some(other) = folded.insert(name.to_lowercase(), name.to_owned()) {
            return Err(DbError::Plan {
                problem: format!(
                    "{} and {} in the uploads directory differ only in case, which the \
                     pre-restore snapshot (an archive) cannot hold apart: rename one",
                    at.display(),
                    dir.path().join(other).display()
                ),
            });
        }
        // A name the snapshot could not hold (a newline, a backslash…).
        if format!("{ARCHIVE_FILES}{relative}")
            .parse::<sitepack_format::ArchivePath>()
            .is_err()
        {
            return Err(DbError::Plan {
                problem: format!(
                    "{} in the uploads directory has a name an archive cannot hold, so the \
                     pre-restore snapshot could not keep it: rename it",
                    at.display()
                ),
            });
        }
        match kind {
            NodeKind::File => {}
            NodeKind::Dir => refuse_links_below(
                &dir.dir(name).map_err(|e| DbError::io("open", &at, e))?,
                &relative,
            )?,
            _ => return Err(link_refused(&at)),
        }
    }
    Ok(())
}

fn link_refused(at: &Path) -> DbError {
    DbError::Plan {
        problem: format!(
            "{} in the uploads directory is a symbolic link or another special file (or a \
             name that is not UTF-8): sitepack never follows links, and the pre-restore \
             snapshot cannot hold it; remove it (or put a copy of what it points to in its \
             place, if that belongs to the site)",
            at.display()
        ),
    }
}

/// Makes the uploads directory hold the staged files of `record` (removing the area's
/// other files for a replace), then removes the journal and the staged copies. Safe to
/// run again after an interruption at any point.
pub fn apply(descriptor: &Descriptor, record: &StagedFiles) -> Result<FilesApplied, DbError> {
    let Some(uploads_path) = &descriptor.files_dir else {
        return Err(DbError::Plan {
            problem: format!(
                "files were staged for restore {} but the descriptor {} has no [files] dir \
                 any more: put it back to finish the restore",
                record.snapshot,
                descriptor.path.display()
            ),
        });
    };
    // A restore may bring the first uploads: the directory is made then.
    fs::create_dir_all(uploads_path).map_err(|e| DbError::io("create", uploads_path, e))?;
    let uploads = open_uploads(descriptor)?.ok_or_else(|| {
        DbError::io(
            "open",
            uploads_path,
            io::Error::new(io::ErrorKind::NotFound, "removed while being made"),
        )
    })?;
    let staged_path = files_dir(descriptor).join(staged_name(&record.snapshot, record.step));
    let staged = Beneath::open(&staged_path).map_err(|e| DbError::io("open", &staged_path, e))?;
    let wanted: BTreeSet<&str> = record.files.iter().map(String::as_str).collect();
    // A killed run's temporary files go first; this run's token is journaled before
    // its first one is written.
    if let Some(token) = &record.temporaries {
        remove_temporaries(&uploads, &record.files, token)?;
    }
    let mut temporaries = Temporaries::new();
    let journaled = StagedFiles {
        temporaries: Some(temporaries.token.clone()),
        ..record.clone()
    };
    write_json_atomically(
        &journal_path(descriptor, &record.snapshot, record.step),
        &journaled,
    )?;
    let mut applied = FilesApplied::default();
    if record.replace {
        applied.removed = remove_unwanted(&uploads, &record.area, &wanted)?;
    }
    for (index, file) in record.files.iter().enumerate() {
        let at = uploads.display_path(file);
        let io_error = |e| DbError::io("write the uploaded file", &at, e);
        sitepack_format::failpoint::fail_step("db-files", index + 1).map_err(io_error)?;
        if same_content(&staged, &uploads, file).map_err(io_error)? {
            applied.unchanged += 1;
            continue;
        }
        let wanted = record.metadata.get(file.as_str());
        copy_over(&staged, &uploads, file, wanted, &mut temporaries).map_err(io_error)?;
        applied.written += 1;
    }
    give_back_metadata(&uploads, &record.metadata)?;
    uploads
        .sync_fs()
        .map_err(|e| DbError::io("sync", uploads_path, e))?;
    sitepack_format::failpoint::hit("db-files:applied");
    finish(descriptor, record)?;
    Ok(applied)
}

/// Gives the files and directories of `metadata` that are there their recorded owner
/// and group (when this process may: as root) and permission bits (without
/// set-user-ID, set-group-ID and sticky unless the owner was given back too).
fn give_back_metadata(
    uploads: &Beneath,
    metadata: &BTreeMap<String, NodeMetadata>,
) -> Result<(), DbError> {
    for (path, wanted) in metadata {
        let at = uploads.display_path(path);
        let Some(stat) = uploads
            .stat(path)
            .map_err(|e| DbError::io("read", &at, e))?
        else {
            continue;
        };
        let result = match stat.kind {
            NodeKind::File => uploads.open_existing(path).and_then(|file| match file {
                // A file with other names (a hard link put there) is not only the
                // uploads': its owner and permissions are left alone.
                Some(file) if std::os::unix::fs::MetadataExt::nlink(&file.metadata()?) == 1 => {
                    set_owner_and_mode(&file, *wanted)
                }
                _ => Ok(()),
            }),
            NodeKind::Dir => uploads.dir(path).and_then(|dir| {
                let owned = dir.set_owner(wanted.uid, wanted.gid).is_ok();
                dir.set_mode(if owned {
                    wanted.mode
                } else {
                    wanted.mode & 0o777
                })
            }),
            _ => Ok(()),
        };
        result.map_err(|e| DbError::io("set the permissions of", &at, e))?;
    }
    Ok(())
}

/// Removes a record's journal, then its staged copies.
fn finish(descriptor: &Descriptor, record: &StagedFiles) -> Result<(), DbError> {
    remove_file(&journal_path(descriptor, &record.snapshot, record.step))?;
    remove_staged(&files_dir(descriptor).join(staged_name(&record.snapshot, record.step)))
}

fn remove_file(path: &Path) -> Result<(), DbError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DbError::io("remove", path, e)),
        _ => Ok(()),
    }
}

fn remove_staged(path: &Path) -> Result<(), DbError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DbError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Removes what the area of `uploads` holds besides `wanted` files (links and other
/// nodes included, never followed), and the directories left empty that no wanted
/// file needs. Gives how many were removed.
fn remove_unwanted(uploads: &Beneath, area: &str, wanted: &BTreeSet<&str>) -> Result<u64, DbError> {
    let root = area.trim_end_matches('/');
    let mut removed = 0;
    let start = if root.is_empty() {
        Some(
            uploads
                .try_clone()
                .map_err(|e| DbError::io("open", uploads.path(), e))?,
        )
    } else {
        match uploads.stat(root) {
            Ok(Some(stat)) if stat.kind == NodeKind::Dir => Some(
                uploads
                    .dir(root)
                    .map_err(|e| DbError::io("open", uploads.display_path(root), e))?,
            ),
            Ok(Some(_)) => {
                // The user's directory is a file or link: not theirs to keep.
                uploads
                    .remove_file(root)
                    .map_err(|e| DbError::io("remove", uploads.display_path(root), e))?;
                return Ok(1);
            }
            Ok(None) => None,
            Err(e) => return Err(DbError::io("read", uploads.display_path(root), e)),
        }
    };
    if let Some(dir) = start {
        removed += remove_unwanted_below(&dir, root, wanted)?;
    }
    Ok(removed)
}

fn remove_unwanted_below(
    dir: &Beneath,
    path: &str,
    wanted: &BTreeSet<&str>,
) -> Result<u64, DbError> {
    let mut removed = 0;
    let entries = dir
        .entries()
        .map_err(|e| DbError::io("read", dir.path().to_path_buf(), e))?;
    for (name, kind) in entries {
        let Some(name) = name.to_str() else {
            // Not a name an archive can hold: not the archive's.
            dir.remove_all(&name.to_string_lossy())
                .map_err(|e| DbError::io("remove", dir.path().join(&name), e))?;
            removed += 1;
            continue;
        };
        let relative = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}/{name}")
        };
        if kind == NodeKind::Dir {
            let below = format!("{relative}/");
            let needed = wanted
                .range::<str, _>((
                    std::ops::Bound::Included(below.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .is_some_and(|w| w.starts_with(&below));
            if needed {
                let below = dir
                    .dir(name)
                    .map_err(|e| DbError::io("open", dir.display_path(name), e))?;
                removed += remove_unwanted_below(&below, &relative, wanted)?;
            } else {
                removed += count_files(dir, name)?;
                dir.remove_all(name)
                    .map_err(|e| DbError::io("remove", dir.display_path(name), e))?;
            }
        } else if !(kind == NodeKind::File && wanted.contains(relative.as_str())) {
            dir.remove_file(name)
                .map_err(|e| DbError::io("remove", dir.display_path(name), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// How many files (and links) a directory about to be removed holds.
fn count_files(dir: &Beneath, name: &str) -> Result<u64, DbError> {
    let below = dir
        .dir(name)
        .map_err(|e| DbError::io("open", dir.display_path(name), e))?;
    let mut count = 0;
    for (entry, kind) in below
        .entries()
        .map_err(|e| DbError::io("read", dir.display_path(name), e))?
    {
        count += match (kind, entry.to_str()) {
            (NodeKind::Dir, Some(entry)) => count_files(&below, entry)?,
            _ => 1,
        };
    }
    Ok(count)
}

/// Whether `file` in `uploads` is a regular file with the staged content.
fn same_content(staged: &Beneath, uploads: &Beneath, file: &str) -> io::Result<bool> {
    // Nothing there, something else than a file, or a parent that is not a directory:
    // written over.
    if !matches!(uploads.stat(file), Ok(Some(stat)) if stat.kind == NodeKind::File) {
        return Ok(false);
    }
    let (Some(mut ours), Some(mut theirs)) =
        (staged.open_existing(file)?, uploads.open_existing(file)?)
    else {
        return Ok(false);
    };
    if ours.metadata()?.len() != theirs.metadata()?.len() {
        return Ok(false);
    }
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    loop {
        let n = ours.read(&mut a)?;
        if n == 0 {
            return Ok(true);
        }
        theirs.read_exact(&mut b[..n])?;
        if a[..n] != b[..n] {
            return Ok(false);
        }
    }
}

/// Names for the files written beside their place before their rename: new names only
/// (an existing file is never taken for a leftover), with a random token.
struct Temporaries {
    token: String,
    next: u64,
}

impl Temporaries {
    fn new() -> Self {
        use std::hash::BuildHasher as _;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // A per-process random key: the token cannot be foreseen.
        let token =
            std::collections::hash_map::RandomState::new().hash_one((std::process::id(), now));
        Self {
            token: format!("{token:016x}"),
            next: 0,
        }
    }

    /// Creates a new temporary file in `dir`.
    fn create(&mut self, dir: &Beneath) -> io::Result<(String, fs::File)> {
        loop {
            let name = format!(".sitepack-{}-{}.tmp", self.token, self.next);
            self.next += 1;
            match dir.create_new_file(&name, 0o600) {
                Ok(file) => return Ok((name, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Removes the temporary files (`.sitepack-TOKEN-N.tmp`) a killed run wrote beside the
/// places of `files`.
fn remove_temporaries(uploads: &Beneath, files: &[String], token: &str) -> Result<(), DbError> {
    let prefix = format!(".sitepack-{token}-");
    let parents: BTreeSet<&str> = files
        .iter()
        .map(|f| f.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    for parent in parents {
        let dir = if parent.is_empty() {
            uploads.try_clone()
        } else {
            match uploads.dir(parent) {
                Ok(dir) => Ok(dir),
                // Not there (yet), or no directory: nothing of ours in it.
                Err(_) => continue,
            }
        }
        .map_err(|e| DbError::io("open", uploads.display_path(parent), e))?;
        let entries = dir
            .entries()
            .map_err(|e| DbError::io("read", dir.path().to_path_buf(), e))?;
        for (name, kind) in entries {
            let Some(name) = name.to_str() else { continue };
            if kind == NodeKind::File
                && name
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| rest.strip_suffix(".tmp").is_some())
            {
                dir.remove_file(name)
                    .map_err(|e| DbError::io("remove", dir.display_path(name), e))?;
            }
        }
    }
    Ok(())
}

/// Copies the staged `file` over `file` in `uploads`: written beside it under a new
/// temporary name, flushed, renamed into place (a file there keeps its permissions; a
/// directory there is replaced).
fn copy_over(
    staged: &Beneath,
    uploads: &Beneath,
    file: &str,
    wanted: Option<&NodeMetadata>,
    temporaries: &mut Temporaries,
) -> io::Result<()> {
    // Something else than a directory on the way: a replace removed what was not the
    // archive's, so this is a merge's conflict, found late.
    let Ok((parent, leaf)) = uploads.create_parent(file) else {
        return Err(io::Error::other(
            "a parent of this path is not a directory in the uploads directory",
        ));
    };
    let mut input = staged
        .open_existing(file)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the staged copy is missing"))?;
    let (temporary, mut out) = temporaries.create(&parent)?;
    let written = (|| {
        io::copy(&mut input, &mut out)?;
        let existing = parent.stat(leaf)?;
        // Whose the file is: as recorded before the restore (a revert), else as the
        // file written over was, else a new upload's.
        let owner = match (wanted, existing) {
            (Some(wanted), _) => Some(*wanted),
            (None, Some(stat)) if stat.kind == NodeKind::File => Some(NodeMetadata {
                mode: stat.mode,
                uid: stat.uid,
                gid: stat.gid,
            }),
            _ => None,
        };
        match owner {
            Some(owner) => set_owner_and_mode(&out, owner)?,
            None => out.set_permissions(fs::Permissions::from_mode(0o644))?,
        }
        if existing.is_some_and(|stat| stat.kind == NodeKind::Dir) {
            parent.remove_all(leaf)?;
        }
        out.sync_all()?;
        sitepack_format::failpoint::hit("db-files:temporary");
        parent.rename(&temporary, &parent, leaf)
    })();
    if written.is_err() {
        let _ = parent.remove_file(&temporary);
    }
    written
}

/// Gives `file` the owner and group of `wanted` when this process may (as root), and
/// its permission bits — set-user-ID, set-group-ID and sticky only with that owner: a
/// file owned by someone else must never carry them.
fn set_owner_and_mode(file: &fs::File, wanted: NodeMetadata) -> io::Result<()> {
    let owned = std::os::unix::fs::fchown(file, Some(wanted.uid), Some(wanted.gid)).is_ok();
    let mode = if owned {
        wanted.mode
    } else {
        wanted.mode & 0o777
    };
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// Removes what a run killed before writing its journal left: staged copies without a
/// journal, and temporary files. Call it holding the review lock (no run is staging).
pub(crate) fn remove_orphans(descriptor: &Descriptor) -> Result<(), DbError> {
    let dir = files_dir(descriptor);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DbError::io("read", &dir, e)),
    };
    refuse_linked_dir(&dir)?;
    for entry in entries {
        let entry = entry.map_err(|e| DbError::io("read", &dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let staged_without_journal = (name.ends_with(".restore") || name.ends_with(".revert"))
            && !dir.join(format!("{name}.json")).is_file();
        if staged_without_journal {
            remove_staged(&path)?;
        } else if name.starts_with(".tmp-json-") {
            remove_file(&path)?;
        }
    }
    Ok(())
}

/// The journals in the state directory (each a restore's or a revert's files,
/// applied or discarded by [`crate::review::settle`]).
pub fn journals(descriptor: &Descriptor) -> Result<Vec<StagedFiles>, DbError> {
    let dir = files_dir(descriptor);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DbError::io("read", &dir, e)),
    };
    refuse_linked_dir(&dir)?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DbError::io("read", &dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Journals are named by sitepack: `SNAPSHOT.STEP.json`, in lower case.
        if name.starts_with('.')
            || name.strip_suffix(".json").is_none()
            || name.ends_with(".metadata.json")
        {
            continue;
        }
        let path = entry.path();
        let text = fs::read(&path).map_err(|e| DbError::io("read", &path, e))?;
        let record: StagedFiles = serde_json::from_slice(&text).map_err(|e| DbError::Review {
            problem: format!(
                "{} is not a journal of staged files sitepack wrote ({e}): nothing was \
                 changed; move it out of that directory to go on",
                path.display()
            ),
        })?;
        // Each file a path an archive may hold (no `..`, nothing absolute), in the area.
        let files_fit = record.files.iter().all(|f| {
            f.starts_with(&record.area)
                && format!("{ARCHIVE_FILES}{f}")
                    .parse::<sitepack_format::ArchivePath>()
                    .is_ok()
        });
        let token_fits = record
            .temporaries
            .as_ref()
            .is_none_or(|t| t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        if journal_path(descriptor, &record.snapshot, record.step) != path
            || !token_fits
            || record.snapshot.contains('/')
            || !files_fit
            || !record.metadata.keys().all(|p| fits_area(p, &record.area))
        {
            return Err(DbError::Review {
                problem: format!(
                    "{} does not match the files it names: nothing was changed; move it out \
                     of that directory to go on",
                    path.display()
                ),
            });
        }
        found.push(record);
    }
    found.sort_by(|a, b| a.snapshot.cmp(&b.snapshot));
    Ok(found)
}

/// Discards staged files whose transaction never committed.
pub fn discard(descriptor: &Descriptor, record: &StagedFiles) -> Result<(), DbError> {
    finish(descriptor, record)
}
