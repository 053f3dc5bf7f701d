//! An archive that was extracted and zipped again by another tool still validates
//! (FORMAT.md §2, §3.2): Info-ZIP `zip` with and without extra fields (both add directory
//! entries), Python's `zipfile` stored and deflated, Python streaming into a pipe (data
//! descriptors) and 7-Zip. `sitepack extract` takes such archives too.
//!
//! The archivers are required, not optional: CI installs them, and a missing one fails the
//! test with the package to install.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{Run, TestSite, create, read_archive, run};

/// A site whose names are not the demo's: non-ASCII file and directory names in several
/// scripts, a custom owner field, and a secret inside a record its user owns (so a user
/// archive carries a redaction).
pub fn nordic_site() -> TestSite {
    let site = TestSite::bare();
    site.write(
        "site.json",
        r#"{"id": "fjord-books", "name": "Fjordbøker AS", "url": "https://fjord.example", "owner_field": "owner"}"#,
    );
    site.write(
        "settings/general.json",
        r#"{"title": "Fjordbøker", "smtp": {"host": "smtp.fjord.example", "password": "pw-FAKE-fjord-1"}}"#,
    );
    site.write("users/u-1.json", r#"{"id": "u-1", "name": "Åse Ødegård"}"#);
    site.write("users/u-2.json", r#"{"id": "u-2", "name": "李雷"}"#);
    site.write(
        "modules/shop/orders.jsonl",
        concat!(
            "{\"id\": 1, \"owner\": \"u-1\", \"note\": \"Bøker til Tromsø\"}\n",
            "{\"id\": 2, \"owner\": \"u-2\", \"note\": \"書籍\"}\n",
            "\n",
            "{\"id\": \"x-3\", \"owner\": \"u-1\", \"payment\": {\"card_token\": \"tok_FAKE_fjord_0001\"}}\n",
        ),
    );
    site.write(
        "modules/shop/katalog.json",
        r#"{"kategorier": ["Romaner", "Sakprosa"]}"#,
    );
    site.write(
        "files/users/u-1/Reiseplan – Tromsø.txt",
        "Dag 1: Bodø\nDag 2: Tromsø\n",
    );
    site.write("files/users/u-1/日本語/メモ.txt", "メモ: 本を注文する\n");
    site.write(
        "files/users/u-1/Ελληνικά αρχεία/κατάλογος.csv",
        "τίτλος,τιμή\nΟδύσσεια,12\n",
    );
    site.write("files/users/u-2/Ærø.txt", "Ærøskøbing\n");
    site.write(
        "files/media/Ølkart.png",
        crate::create_reproducible::noise(3_000, 9),
    );
    site.write("files/media/tom fil.txt", "");
    site.write("Läsmig.txt", "Andre område\n");
    site
}

/// A command that this suite needs installed; `package` says what to install.
pub fn tool(program: &str, package: &str, args: &[&str], dir: &Path) -> Run {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        // A UTF-8 locale, so that every archiver reads the file names as what they are.
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`{program}` is needed by this test: install it (apt-get install {package}): {e}"
            )
        });
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

/// SHA-256 of a file, by `sha256sum` (independent of sitepack's own hashing).
pub fn sha256_file(path: &Path) -> String {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let out = tool("sha256sum", "coreutils", &["--", name], dir).expect(0);
    out.stdout[..64].to_owned()
}

/// `sitepack validate ARCHIVE --json`, which must exit 0 with a `valid: true` report that
/// has no error finding and describes this file.
pub fn validates(archive: &Path) -> Value {
    let result = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()]);
    assert_eq!(
        result.code,
        0,
        "{} should be valid\n--- stdout\n{}\n--- stderr\n{}",
        archive.display(),
        result.stdout,
        result.stderr
    );
    let report = result.json();
    assert_eq!(report["valid"], true, "{report:#}");
    assert_eq!(report["archive"], archive.to_str().unwrap(), "{report:#}");
    assert_eq!(report["digest"], sha256_file(archive), "{report:#}");
    assert_eq!(findings(&report, "error"), BTreeSet::new(), "{report:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_eq!(report["summary"]["truncated"], false, "{report:#}");
    report
}

/// `(code, path)` of every finding of one severity.
pub fn findings(report: &Value, severity: &str) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array: {report:#}"))
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// How an extracted tree is zipped again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rezip {
    /// `zip -r -X`: no extra fields, directory entries, UTF-8 names without bit 11.
    InfoZipNoExtra,
    /// `zip -r`: adds extended-timestamp and Unix uid/gid extra fields too.
    InfoZip,
    /// Python `zipfile`, deflated, files only, modes from the file system.
    PythonDeflated,
    /// Python `zipfile`, stored, with directory entries.
    PythonStoredWithDirs,
    /// Python `zipfile` writing to a pipe: data descriptors (bit 3) on every entry.
    PythonStreamed,
    /// 7-Zip: directory entries, NTFS-time extra fields, DOS attributes beside the mode.
    SevenZip,
}

const EVERY_REZIP: [Rezip; 6] = [
    Rezip::InfoZipNoExtra,
    Rezip::InfoZip,
    Rezip::PythonDeflated,
    Rezip::PythonStoredWithDirs,
    Rezip::PythonStreamed,
    Rezip::SevenZip,
];

const PYTHON_WRITE: &str = r"
import os, sys, zipfile
root, out, method, with_dirs = sys.argv[1], sys.argv[2], getattr(zipfile, sys.argv[3]), sys.argv[4] == 'dirs'
with zipfile.ZipFile(out, 'w', method) as zf:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if with_dirs and dirpath != root:
            zf.write(dirpath, os.path.relpath(dirpath, root))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            zf.write(full, os.path.relpath(full, root))
";

/// Writes the archive to standard output, a pipe: `zipfile` cannot seek back, so it
/// follows each entry with a data descriptor.
const PYTHON_STREAM: &str = r"
import os, sys, zipfile
root = sys.argv[1]
with zipfile.ZipFile(sys.stdout.buffer, 'w', zipfile.ZIP_DEFLATED) as zf:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            with open(full, 'rb') as src, zf.open(os.path.relpath(full, root), 'w') as dst:
                dst.write(src.read())
";

/// Zips the tree `tree` (holding `manifest.json`, `checksums.sha256`, `site/`) into `out`.
fn rezip(tree: &Path, out: &Path, how: Rezip) {
    let tree_str = tree.to_str().unwrap();
    let out_str = out.to_str().unwrap();
    let top = ["manifest.json", "checksums.sha256", "site"];
    match how {
        Rezip::InfoZipNoExtra | Rezip::InfoZip => {
            let mut args = vec!["-q", "-r"];
            if how == Rezip::InfoZipNoExtra {
                args.push("-X");
            }
            args.push(out_str);
            args.extend(top);
            tool("zip", "zip", &args, tree).expect(0);
        }
        Rezip::PythonDeflated => {
            let args = [
                "-c",
                PYTHON_WRITE,
                tree_str,
                out_str,
                "ZIP_DEFLATED",
                "files",
            ];
            tool("python3", "python3", &args, tree).expect(0);
        }
        Rezip::PythonStoredWithDirs => {
            let args = ["-c", PYTHON_WRITE, tree_str, out_str, "ZIP_STORED", "dirs"];
            tool("python3", "python3", &args, tree).expect(0);
        }
        Rezip::PythonStreamed => {
            // `Command::output` gives the child a pipe as standard output.
            let python =
                tool("python3", "python3", &["-c", PYTHON_STREAM, tree_str], tree).expect(0);
            let bytes = python.stdout_bytes;
            assert_eq!(&bytes[..4], b"PK\x03\x04");
            let flags = u16::from_le_bytes([bytes[6], bytes[7]]);
            assert_ne!(
                flags & 0x0008,
                0,
                "no data descriptor: the test lost its point"
            );
            std::fs::write(out, bytes).unwrap();
        }
        Rezip::SevenZip => {
            let mut args = vec!["a", "-tzip", "-bd", out_str];
            args.extend(top);
            tool("7z", "p7zip-full (or 7zip)", &args, tree).expect(0);
        }
    }
}

/// Unzips `archive` with Info-ZIP `unzip` into a new directory `tree`.
fn unzip(archive: &Path, tree: &Path) {
    std::fs::create_dir_all(tree).unwrap();
    let args = [
        "-q",
        archive.to_str().unwrap(),
        "-d",
        tree.to_str().unwrap(),
    ];
    tool("unzip", "unzip", &args, tree).expect(0);
}

/// Whether `rezip` sets general-purpose bit 11 on non-ASCII names.
fn flags_utf8(how: Rezip) -> bool {
    !matches!(how, Rezip::InfoZipNoExtra | Rezip::InfoZip)
}

/// Every re-zipped form of `archive` validates, with the same warnings as the original
/// (plus, for Info-ZIP, a missing-UTF-8-flag warning on non-ASCII names only).
fn every_rezip_validates(archive: &Path, work: &Path) -> Vec<(Rezip, PathBuf)> {
    let original = validates(archive);
    let original_warnings = findings(&original, "warning");
    let tree = work.join("tree");
    unzip(archive, &tree);
    let mut out = Vec::new();
    for how in EVERY_REZIP {
        let rezipped = work.join(format!("{how:?}.zip"));
        rezip(&tree, &rezipped, how);
        assert_ne!(
            std::fs::read(&rezipped).unwrap(),
            std::fs::read(archive).unwrap(),
            "{how:?} wrote the same bytes: nothing is tested"
        );
        let report = validates(&rezipped);
        let (utf8_flag, others): (BTreeSet<_>, BTreeSet<_>) = findings(&report, "warning")
            .into_iter()
            .partition(|(code, _)| code == "UTF8_FLAG_MISSING");
        assert_eq!(others, original_warnings, "{how:?}: {report:#}");
        for (_, path) in &utf8_flag {
            assert!(
                !flags_utf8(how) && !path.is_ascii(),
                "{how:?}: UTF8_FLAG_MISSING on {path:?}: {report:#}"
            );
        }
        out.push((how, rezipped));
    }
    out
}

#[test]
fn demo_archive_rezipped_by_other_tools_validates() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let archive = out.join("demo.zip");
    create(&site.root(), &archive, &[]);
    every_rezip_validates(&archive, &out.join("work"));
}

#[test]
fn non_ascii_archives_rezipped_by_other_tools_validate() {
    let site = nordic_site();
    let out = site.out_dir();
    for (name, args) in [
        ("full", vec![]),
        ("user", vec!["--scope", "user:u-1"]),
        ("data-only", vec!["--no-files", "--level", "0"]),
    ] {
        let archive = out.join(format!("{name}.zip"));
        create(&site.root(), &archive, &args);
        let entries = read_archive(&archive);
        if name == "user" {
            assert!(entries.contains_key("site/files/users/u-1/日本語/メモ.txt"));
            assert!(!entries.contains_key("site/files/users/u-2/Ærø.txt"));
        }
        every_rezip_validates(&archive, &out.join(format!("work-{name}")));
    }
}

#[test]
fn extract_takes_archives_written_by_other_tools() {
    let site = nordic_site();
    let out = site.out_dir();
    let archive = out.join("user.zip");
    create(&site.root(), &archive, &["--scope", "user:u-1"]);
    let rezipped = every_rezip_validates(&archive, &out.join("work"));
    let expected = read_archive(&archive);
    for (how, path) in rezipped {
        let dir = out.join(format!("extracted-{how:?}"));
        run([
            "extract".as_ref(),
            path.as_os_str(),
            "-o".as_ref(),
            dir.as_os_str(),
        ])
        .expect(0);
        assert_eq!(
            crate::extract::tree_files(&dir),
            expected,
            "{how:?}: the extracted files are the original archive's entries"
        );
        let sums = tool(
            "sha256sum",
            "coreutils",
            &["-c", "--strict", "checksums.sha256"],
            &dir,
        )
        .expect(0);
        assert!(!sums.stdout.contains("FAILED"), "{}", sums.stdout);
    }
}
