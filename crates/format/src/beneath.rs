//! Directory handles under which every path is resolved one component at a time, never
//! following a symbolic link (`openat` with `O_NOFOLLOW`, `O_DIRECTORY`).
//!
//! Every file operation sitepack makes inside a site (create, restore, revert, recovery,
//! its own state in `.sitepack/`) goes through a [`Beneath`] opened on the site's root:
//! a directory swapped for a link — before or while sitepack works — is refused with
//! [`LinkRefused`], never followed, so nothing is read or written outside the site. Only
//! the root itself is opened by its path (the caller named it, links included).
//!
//! The primitives come from `nix`; what is sitepack's own is the rule that no link is
//! ever followed below the root, which no general-purpose crate enforces per component.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::UnlinkatFlags;

/// Mode of directories sitepack creates (narrowed by the umask).
const DIR_MODE: u32 = 0o755;

/// A path component was a symbolic link (or a directory was expected and something else
/// was there): sitepack refuses to follow it. Carried inside an [`io::Error`]; test for
/// it with [`LinkRefused::is`].
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: a symbolic link (or not a directory) where sitepack expects a directory or file of its own; sitepack never follows links inside a site — replace it with the real directory or file",
    path.display()
)]
pub struct LinkRefused {
    /// The link's path.
    pub path: PathBuf,
}

impl LinkRefused {
    /// Whether `error` is a refused link.
    #[must_use]
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<Self>().is_some())
    }
}

/// What is at a path, not following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
    /// A FIFO, socket or device.
    Special,
}

/// A path's kind, size and permission bits, not following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStat {
    /// What it is.
    pub kind: NodeKind,
    /// Its size in bytes.
    pub size: u64,
    /// Its permission bits (`0o7777`).
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
}

/// An open directory; see the module documentation.
#[derive(Debug)]
pub struct Beneath {
    fd: OwnedFd,
    path: PathBuf,
}

impl Beneath {
    /// Opens the directory `path` (which may itself be or pass through a link: the caller
    /// named it).
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::open_flags(path, OFlag::empty())
    }

    /// Opens the directory `path`, refusing it when `path` itself is a link (its
    /// parents are followed): what is changed is the directory named, never one a link
    /// put in its place points to.
    pub fn open_no_follow(path: &Path) -> io::Result<Self> {
        Self::open_flags(path, OFlag::O_NOFOLLOW)
    }

    fn open_flags(path: &Path, extra: OFlag) -> io::Result<Self> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | extra,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path this handle was opened at (for messages).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The native path of `relative` below this directory (for messages).
    #[must_use]
    pub fn display_path(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    /// Opens the directory `relative` (`/`-separated) below this one.
    pub fn dir(&self, relative: &str) -> io::Result<Self> {
        self.walk(relative, false)
    }

    /// Opens the directory `relative`, creating it and every missing directory above it.
    pub fn create_dirs(&self, relative: &str) -> io::Result<Self> {
        self.walk(relative, true)
    }

    /// The directory that holds `relative`, and `relative`'s last component.
    pub fn parent<'a>(&self, relative: &'a str) -> io::Result<(Self, &'a str)> {
        let (dir, name) = split_last(relative)?;
        let parent = match dir {
            Some(dir) => self.dir(dir)?,
            None => self.try_clone()?,
        };
        Ok((parent, name))
    }

    /// Like [`parent`](Self::parent), creating the directories above `relative`.
    pub fn create_parent<'a>(&self, relative: &'a str) -> io::Result<(Self, &'a str)> {
        let (dir, name) = split_last(relative)?;
        let parent = match dir {
            Some(dir) => self.create_dirs(dir)?,
            None => self.try_clone()?,
        };
        Ok((parent, name))
    }

    /// Opens the regular file `relative` for reading.
    pub fn open_file(&self, relative: &str) -> io::Result<File> {
        self.open_with(relative, OFlag::O_RDONLY, 0)
    }

    /// Opens the file `relative` for reading; `None` when there is no file there
    /// (nothing, a directory, or a file where a directory above it should be). A link
    /// anywhere on the way is still an error.
    pub fn open_existing(&self, relative: &str) -> io::Result<Option<File>> {
        match self.open_file(relative) {
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => Ok(None),
            other => absent_as_none(other),
        }
    }

    /// Creates the new file `relative` (never an existing one) with `mode` (narrowed by
    /// the umask) for writing; the directory above must exist.
    pub fn create_new_file(&self, relative: &str, mode: u32) -> io::Result<File> {
        self.open_with(
            relative,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            mode,
        )
    }

    /// Opens `relative` for appending, creating it with `mode` when missing.
    pub fn append_file(&self, relative: &str, mode: u32) -> io::Result<File> {
        self.open_with(
            relative,
            OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
            mode,
        )
    }

    /// Opens `relative` for appending and reading (to look at what it ends with),
    /// creating it with `mode` when missing.
    pub fn append_readable_file(&self, relative: &str, mode: u32) -> io::Result<File> {
        self.open_with(
            relative,
            OFlag::O_RDWR | OFlag::O_APPEND | OFlag::O_CREAT,
            mode,
        )
    }

    /// Opens `relative` for reading and writing, creating it with `mode` when missing.
    pub fn open_or_create(&self, relative: &str, mode: u32) -> io::Result<File> {
        self.open_with(relative, OFlag::O_RDWR | OFlag::O_CREAT, mode)
    }

    /// What is at `relative` (a link is reported, not followed); `None` when nothing is.
    pub fn stat(&self, relative: &str) -> io::Result<Option<NodeStat>> {
        let Some((parent, name)) = absent_as_none(self.parent(relative))? else {
            return Ok(None);
        };
        match nix::sys::stat::fstatat(&parent.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(node_stat(&stat))),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Renames `from` (below this directory) to `to` (below `to_dir`), replacing a file
    /// or empty directory there.
    pub fn rename(&self, from: &str, to_dir: &Self, to: &str) -> io::Result<()> {
        let (from_parent, from_name) = self.parent(from)?;
        let (to_parent, to_name) = to_dir.parent(to)?;
        nix::fcntl::renameat(&from_parent.fd, from_name, &to_parent.fd, to_name)
            .map_err(io::Error::from)
    }

    /// Removes the file (or link) `relative`; nothing when it does not exist.
    pub fn remove_file(&self, relative: &str) -> io::Result<()> {
        let Some((parent, name)) = absent_as_none(self.parent(relative))? else {
            return Ok(());
        };
        match nix::unistd::unlinkat(&parent.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Removes the empty directory `relative`.
    pub fn remove_dir(&self, relative: &str) -> io::Result<()> {
        let (parent, name) = self.parent(relative)?;
        nix::unistd::unlinkat(&parent.fd, name, UnlinkatFlags::RemoveDir).map_err(io::Error::from)
    }

    /// Removes `relative` and everything below it (links are removed, never followed);
    /// nothing when it does not exist.
    pub fn remove_all(&self, relative: &str) -> io::Result<()> {
        let Some((parent, name)) = absent_as_none(self.parent(relative))? else {
            return Ok(());
        };
        remove_tree(&parent, name)
    }

    /// The names in this directory (not `.` and `..`), with what each is.
    pub fn entries(&self) -> io::Result<Vec<(OsString, NodeKind)>> {
        let fd = nix::fcntl::openat(
            &self.fd,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(io::Error::from)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(io::Error::from)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsString::from_vec(name.to_vec());
            let kind = match entry.file_type() {
                Some(nix::dir::Type::File) => NodeKind::File,
                Some(nix::dir::Type::Directory) => NodeKind::Dir,
                Some(nix::dir::Type::Symlink) => NodeKind::Link,
                Some(_) => NodeKind::Special,
                // The file system does not say: ask.
                None => {
                    let stat = nix::sys::stat::fstatat(
                        &self.fd,
                        name.as_os_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(io::Error::from)?;
                    node_stat(&stat).kind
                }
            };
            names.push((name, kind));
        }
        Ok(names)
    }

    /// Sets the permission bits of this directory.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        nix::sys::stat::fchmod(&self.fd, Mode::from_bits_truncate(mode)).map_err(io::Error::from)
    }

    /// Gives this directory the owner `uid` and group `gid`.
    pub fn set_owner(&self, uid: u32, gid: u32) -> io::Result<()> {
        std::os::unix::fs::fchown(&self.fd, Some(uid), Some(gid))
    }

    /// This directory's own kind, size and mode.
    pub fn own_stat(&self) -> io::Result<NodeStat> {
        nix::sys::stat::fstat(&self.fd)
            .map(|stat| node_stat(&stat))
            .map_err(io::Error::from)
    }

    /// Flushes this directory's entries (after a create or rename in it).
    pub fn sync(&self) -> io::Result<()> {
        nix::unistd::fsync(&self.fd).map_err(io::Error::from)
    }

    /// Flushes the whole file system this directory is on.
    pub fn sync_fs(&self) -> io::Result<()> {
        nix::unistd::syncfs(&self.fd).map_err(io::Error::from)
    }

    /// A second handle on the same directory.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    fn walk(&self, relative: &str, create: bool) -> io::Result<Self> {
        let mut current = self.try_clone()?;
        for name in components(relative)? {
            let path = current.path.join(name);
            let fd = match open_dir_at(&current.fd, name) {
                Err(Errno::ENOENT) if create => {
                    match nix::sys::stat::mkdirat(
                        &current.fd,
                        name,
                        Mode::from_bits_truncate(DIR_MODE),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(io::Error::from(e)),
                    }
                    open_dir_at(&current.fd, name)
                }
                other => other,
            };
            let fd = fd.map_err(|e| {
                // `O_DIRECTORY | O_NOFOLLOW` on a link fails with ENOTDIR, as on a file.
                let is_link = e == Errno::ENOTDIR
                    && nix::sys::stat::fstatat(&current.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                        .is_ok_and(|stat| node_stat(&stat).kind == NodeKind::Link);
                refusal(if is_link { Errno::ELOOP } else { e }, &path)
            })?;
            current = Self { fd, path };
        }
        Ok(current)
    }

    fn open_with(&self, relative: &str, flags: OFlag, mode: u32) -> io::Result<File> {
        let (parent, name) = self.parent(relative)?;
        let path = parent.path.join(name);
        let fd = nix::fcntl::openat(
            &parent.fd,
            name,
            // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
            // below); on regular files it changes nothing.
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|e| refusal(e, &path))?;
        let file = File::from(fd);
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: a directory, not a file", path.display()),
            ));
        }
        // A FIFO or device would block or misbehave: only regular files are sitepack's.
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        Ok(file)
    }
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `ELOOP` (a link under `O_NOFOLLOW`) becomes [`LinkRefused`]; other errors stay as
/// they are.
fn refusal(errno: Errno, path: &Path) -> io::Error {
    if errno == Errno::ELOOP {
        io::Error::other(LinkRefused {
            path: path.to_path_buf(),
        })
    } else {
        io::Error::from(errno)
    }
}

fn remove_tree(parent: &Beneath, name: &str) -> io::Result<()> {
    match nix::unistd::unlinkat(&parent.fd, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR | Errno::EPERM) => {}
        Err(e) => return Err(io::Error::from(e)),
    }
    let dir = parent.dir(name)?;
    for (entry, kind) in dir.entries()? {
        let Some(entry) = entry.to_str() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: a name that is not UTF-8",
                    dir.path.join(&entry).display()
                ),
            ));
        };
        if kind == NodeKind::Dir {
            remove_tree(&dir, entry)?;
        } else {
            nix::unistd::unlinkat(&dir.fd, entry, UnlinkatFlags::NoRemoveDir)
                .map_err(io::Error::from)?;
        }
    }
    match nix::unistd::unlinkat(&parent.fd, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

fn node_stat(stat: &nix::sys::stat::FileStat) -> NodeStat {
    let format = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    let kind = if format == SFlag::S_IFREG {
        NodeKind::File
    } else if format == SFlag::S_IFDIR {
        NodeKind::Dir
    } else if format == SFlag::S_IFLNK {
        NodeKind::Link
    } else {
        NodeKind::Special
    };
    NodeStat {
        kind,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
    }
}

/// `Ok(None)` for "it is not there" (missing, or a file where a directory was expected);
/// every other error, a refused link included, stays an error.
fn absent_as_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn components(relative: &str) -> io::Result<std::str::Split<'_, char>> {
    if relative
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{relative}: not a plain relative path"),
        ));
    }
    Ok(relative.split('/'))
}

fn split_last(relative: &str) -> io::Result<(Option<&str>, &str)> {
    let _checked = components(relative)?;
    Ok(match relative.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, relative),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn open_no_follow_opens_a_directory_and_refuses_a_link_to_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        let link = root.path().join("link");
        symlink(&dir, &link).unwrap();
        let opened = Beneath::open_no_follow(&dir).unwrap();
        assert_eq!(opened.entries().unwrap().len(), 1);
        assert!(Beneath::open_no_follow(&link).is_err());
        assert!(Beneath::open(&link).is_ok());
    }

    fn setup() -> (tempfile::TempDir, Beneath, PathBuf) {
        let temp = tempfile::tempdir().unwrap();
        let site = temp.path().join("site");
        let outside = temp.path().join("outside");
        std::fs::create_dir_all(site.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(site.join("a/b/f.txt"), "inside").unwrap();
        std::fs::write(outside.join("f.txt"), "outside").unwrap();
        let root = Beneath::open(&site).unwrap();
        (temp, root, outside)
    }

    #[test]
    fn reads_and_writes_below_the_root() {
        let (_temp, root, _) = setup();
        let mut text = String::new();
        root.open_file("a/b/f.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "inside");
        let dir = root.create_dirs("x/y").unwrap();
        dir.create_new_file("new.txt", 0o600)
            .unwrap()
            .write_all(b"n")
            .unwrap();
        let stat = root.stat("x/y/new.txt").unwrap().unwrap();
        assert_eq!((stat.kind, stat.size), (NodeKind::File, 1));
        assert!(root.create_new_file("x/y/new.txt", 0o600).is_err());
        root.rename("x/y/new.txt", &root, "a/moved.txt").unwrap();
        assert!(root.stat("x/y/new.txt").unwrap().is_none());
        assert_eq!(root.stat("a/moved.txt").unwrap().unwrap().size, 1);
        root.remove_all("x").unwrap();
        assert!(root.stat("x").unwrap().is_none());
        assert!(root.stat("a/b/f.txt/deeper").unwrap().is_none());
        // A directory is not a file.
        assert!(root.open_existing("a/b").unwrap().is_none());
        assert_eq!(
            root.open_file("a/b").unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_refused_never_followed() {
        let (temp, root, outside) = setup();
        let site = temp.path().join("site");
        std::fs::rename(site.join("a/b"), site.join("moved")).unwrap();
        symlink(&outside, site.join("a/b")).unwrap();
        let refused = |result: io::Result<()>, what: &str| {
            let error = result.unwrap_err();
            assert!(LinkRefused::is(&error), "{what}: {error}");
            assert!(error.to_string().contains("a/b"), "{what}: {error}");
        };
        refused(root.open_file("a/b/f.txt").map(drop), "open");
        refused(root.open_existing("a/b/f.txt").map(drop), "open existing");
        refused(root.create_new_file("a/b/g.txt", 0o644).map(drop), "create");
        refused(root.append_file("a/b/f.txt", 0o644).map(drop), "append");
        refused(root.create_dirs("a/b/c").map(drop), "mkdir");
        refused(root.stat("a/b/f.txt").map(drop), "stat");
        refused(root.remove_file("a/b/f.txt"), "unlink");
        refused(root.remove_all("a/b/c"), "remove all");
        refused(root.rename("a/moved-nowhere", &root, "a/b/f.txt"), "rename");
        // The link itself is seen, and can be removed without touching its target.
        assert_eq!(root.stat("a/b").unwrap().unwrap().kind, NodeKind::Link);
        root.remove_all("a").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("f.txt")).unwrap(),
            "outside"
        );
        assert!(!outside.join("g.txt").exists());
    }

    #[test]
    fn a_file_that_is_a_link_is_refused() {
        let (temp, root, outside) = setup();
        symlink(outside.join("f.txt"), temp.path().join("site/a/l.txt")).unwrap();
        for result in [
            root.open_file("a/l.txt"),
            root.append_file("a/l.txt", 0o644),
            root.open_or_create("a/l.txt", 0o644),
        ] {
            assert!(LinkRefused::is(&result.unwrap_err()));
        }
        assert_eq!(root.stat("a/l.txt").unwrap().unwrap().kind, NodeKind::Link);
    }

    #[test]
    fn paths_must_be_plain_and_relative() {
        let (_temp, root, _) = setup();
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a/"] {
            let error = root.open_file(bad).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn special_files_are_not_opened() {
        let (temp, root, _) = setup();
        nix::unistd::mkfifo(
            &temp.path().join("site/fifo"),
            Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let error = root.open_file("fifo").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(root.stat("fifo").unwrap().unwrap().kind, NodeKind::Special);
    }
}
