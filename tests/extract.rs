//! `sitepack extract ARCHIVE -o DIR` (FORMAT.md §14): a valid archive becomes exactly its
//! entries on disk, with normal modes, verifiable with `sha256sum -c`; anything else
//! (an invalid archive, a DIR that is not empty, an unwritable parent) changes nothing and
//! leaves no temporary directory behind.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{Run, TestSite, create, listing, read_archive, run};
use crate::validate_interop::{nordic_site, tool};

/// `sitepack extract ARCHIVE -o DIR` under umask 022, so that the modes it leaves are
/// those it asks for, whatever the umask of the test runner.
pub fn extract(archive: &Path, dir: &Path) -> Run {
    let output = Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_sitepack"))
        .arg("extract")
        .arg(archive)
        .arg("-o")
        .arg(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

/// What a directory holds: every file (root-relative, `/`-separated) with its bytes and
/// mode, and every directory below the root with its mode. Links and special files fail.
#[derive(Debug, Default)]
pub struct Tree {
    pub files: BTreeMap<String, (Vec<u8>, u32)>,
    pub dirs: BTreeMap<String, u32>,
}

pub fn tree(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.dirs.insert(relative, mode);
                walk(root, &path, out);
            } else if meta.is_file() {
                out.files
                    .insert(relative, (std::fs::read(&path).unwrap(), mode));
            } else {
                panic!("{}: neither a file nor a directory", path.display());
            }
        }
    }
    let mut out = Tree::default();
    walk(root, root, &mut out);
    out
}

/// Every file below `root` with its bytes.
pub fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(root)
        .files
        .into_iter()
        .map(|(path, (bytes, _))| (path, bytes))
        .collect()
}

/// An archive with one payload byte changed in a stored entry (`site/files/marker.png`):
/// the ZIP structure is intact, but its CRC-32 and SHA-256 no longer match.
pub fn corrupted_archive(site: &TestSite, archive: &Path) {
    const MARKER: &[u8] = b"MARKER-PAYLOAD-0123456789-stored-because-png";
    site.write("files/marker.png", MARKER);
    create(&site.root(), archive, &[]);
    let mut bytes = std::fs::read(archive).unwrap();
    let at: Vec<usize> = bytes
        .windows(MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == MARKER)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the marker is stored once, uncompressed");
    bytes[at[0] + 3] ^= 0x20;
    std::fs::write(archive, bytes).unwrap();
}

/// A fresh directory (outside the site's) to extract into.
fn parent() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// DIR holds exactly the archive's entries, with modes 0644 and 0755, and checks out.
#[track_caller]
fn check_extracted(archive: &Path, dir: &Path) {
    let expected = read_archive(archive);
    let found = tree(dir);
    let files: BTreeMap<String, Vec<u8>> = found
        .files
        .iter()
        .map(|(path, (bytes, _))| (path.clone(), bytes.clone()))
        .collect();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        files == expected,
        "some extracted file differs from its entry"
    );
    for (path, (_, mode)) in &found.files {
        assert_eq!(*mode, 0o644, "{path}: mode {mode:o}");
    }
    for (path, mode) in &found.dirs {
        assert_eq!(*mode, 0o755, "{path}/: mode {mode:o}");
    }
    let top = std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(top, 0o755, "DIR itself: mode {top:o}");
    let sums = tool(
        "sha256sum",
        "coreutils",
        &["-c", "--strict", "checksums.sha256"],
        dir,
    )
    .expect(0);
    assert!(!sums.stdout.contains("FAILED"), "{}", sums.stdout);
}

/// Archives to extract: the demo site, and a user archive with non-ASCII names.
fn archives() -> (TestSite, TestSite, Vec<PathBuf>) {
    let demo = TestSite::demo();
    let nordic = nordic_site();
    let demo_zip = demo.out_dir().join("demo.zip");
    create(&demo.root(), &demo_zip, &[]);
    let user_zip = nordic.out_dir().join("user.zip");
    create(&nordic.root(), &user_zip, &["--scope", "user:u-1"]);
    (demo, nordic, vec![demo_zip, user_zip])
}

#[test]
fn extracts_into_a_new_directory() {
    let (_demo, _nordic, zips) = archives();
    for archive in zips {
        let parent = parent();
        let dir = parent.path().join("restored");
        extract(&archive, &dir).expect(0);
        check_extracted(&archive, &dir);
        assert_eq!(
            listing(parent.path()),
            ["restored"],
            "nothing else (no .sitepack-extract-* directory) is left beside DIR"
        );
    }
}

#[test]
fn extracts_into_an_existing_empty_directory() {
    let (_demo, _nordic, zips) = archives();
    for archive in zips {
        let parent = parent();
        let dir = parent.path().join("restored");
        std::fs::create_dir(&dir).unwrap();
        extract(&archive, &dir).expect(0);
        check_extracted(&archive, &dir);
        assert_eq!(listing(parent.path()), ["restored"]);
    }
}

#[test]
fn extracted_non_ascii_names_are_the_entry_names() {
    let nordic = nordic_site();
    let archive = nordic.out_dir().join("full.zip");
    create(&nordic.root(), &archive, &[]);
    let parent = parent();
    let dir = parent.path().join("out");
    extract(&archive, &dir).expect(0);
    for name in [
        "site/files/users/u-1/日本語/メモ.txt",
        "site/files/users/u-1/Ελληνικά αρχεία/κατάλογος.csv",
        "site/files/users/u-2/Ærø.txt",
        "site/files/media/tom fil.txt",
        "site/Läsmig.txt",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
}

#[test]
fn a_directory_that_is_not_empty_is_refused() {
    let (_demo, _nordic, zips) = archives();
    let parent = parent();
    let dir = parent.path().join("restored");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let result = extract(&zips[0], &dir).expect(2);
    assert!(
        result.stderr.contains(dir.to_str().unwrap()),
        "the message names DIR: {}",
        result.stderr
    );
    assert_eq!(listing(&dir), ["keep.txt"]);
    assert_eq!(std::fs::read(dir.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(listing(parent.path()), ["restored"]);

    // A hidden file is still content.
    let dir = parent.path().join("hidden");
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(dir.join(".git")).unwrap();
    extract(&zips[0], &dir).expect(2);
    assert_eq!(listing(&dir), [".git"]);
    assert_eq!(listing(parent.path()), ["hidden", "restored"]);
}

#[test]
fn a_file_in_place_of_the_directory_is_refused() {
    let (_demo, _nordic, zips) = archives();
    let parent = parent();
    let dir = parent.path().join("restored");
    std::fs::write(&dir, "not a directory").unwrap();
    extract(&zips[0], &dir).expect(2);
    assert_eq!(std::fs::read(&dir).unwrap(), b"not a directory");
    assert_eq!(listing(parent.path()), ["restored"]);
}

#[test]
fn an_unreadable_archive_is_an_error() {
    let parent = parent();
    let dir = parent.path().join("restored");
    let missing = parent.path().join("missing.zip");
    let result = extract(&missing, &dir).expect(2);
    assert!(
        result.stderr.contains("missing.zip"),
        "the message names the archive: {}",
        result.stderr
    );
    assert_eq!(listing(parent.path()), Vec::<String>::new());

    // A directory is not an archive either.
    std::fs::create_dir(parent.path().join("dir.zip")).unwrap();
    extract(&parent.path().join("dir.zip"), &dir).expect(2);
    assert_eq!(listing(parent.path()), ["dir.zip"]);

    // Nor is a FIFO, which must be refused without waiting for a writer.
    let fifo = parent.path().join("fifo.zip");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for command in ["validate", "preview"] {
        let result = run([command, fifo.to_str().unwrap()]).expect(2);
        assert!(result.stderr.contains("not a file"), "{}", result.stderr);
    }
    extract(&fifo, &dir).expect(2);
    assert_eq!(listing(parent.path()), ["dir.zip", "fifo.zip"]);
}

#[test]
fn an_invalid_archive_writes_nothing() {
    let site = TestSite::new("damaged");
    let out = site.out_dir();
    let archive = out.join("damaged.zip");
    corrupted_archive(&site, &archive);

    let parent = parent();
    let dir = parent.path().join("restored");
    let result = extract(&archive, &dir).expect(1);
    for code in ["CRC_MISMATCH", "DIGEST_MISMATCH"] {
        assert!(result.stderr.contains(code), "{code}: {}", result.stderr);
    }
    assert!(
        result.stderr.contains("site/files/marker.png"),
        "{}",
        result.stderr
    );
    assert_eq!(
        listing(parent.path()),
        Vec::<String>::new(),
        "no DIR, no temporary directory"
    );

    // Into an existing empty DIR: it stays empty.
    std::fs::create_dir(&dir).unwrap();
    extract(&archive, &dir).expect(1);
    assert_eq!(listing(&dir), Vec::<String>::new());
    assert_eq!(listing(parent.path()), ["restored"]);
    std::fs::remove_dir(&dir).unwrap();

    // Truncated: not a ZIP any more, but still a verdict (1), not an error (2).
    let good = out.join("good.zip");
    create(&TestSite::new("whole").root(), &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    for keep in [bytes.len() - 1, bytes.len() / 2, 10, 0] {
        let truncated = out.join("truncated.zip");
        std::fs::write(&truncated, &bytes[..keep]).unwrap();
        let result = extract(&truncated, &dir).expect(1);
        assert!(!result.stderr.is_empty(), "truncated to {keep} bytes");
        assert_eq!(
            listing(parent.path()),
            Vec::<String>::new(),
            "truncated to {keep} bytes"
        );
    }
}

#[test]
fn an_unwritable_parent_is_an_error_that_leaves_nothing() {
    // Root writes anywhere, so the command runs as an unprivileged user (setpriv).
    let site = TestSite::demo();
    let out = site.out_dir();
    let archive = out.join("demo.zip");
    create(&site.root(), &archive, &[]);
    let top = site.root().parent().unwrap().to_path_buf();
    for path in [&top, &out] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    let locked = top.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = locked.join("restored");

    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_sitepack"),
            "extract",
        ])
        .arg(&archive)
        .arg("-o")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux) is needed by this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(locked.to_str().unwrap()),
        "the message names the path: {stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert_eq!(listing(&locked), Vec::<String>::new());
}
