//! The verifying read path: entries come out only of a valid archive, and a byte changed
//! after validation is caught while reading, not written out.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sitepack_format::{Scope, Sha256};
use sitepack_reader::{Archive, Limits, ReaderError};
use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site, create_archive_file};

/// A site with a stored file (by extension) and a deflated document, archived.
fn archive(dir: &Path) -> PathBuf {
    let root = dir.join("site");
    let files: [(&str, &[u8]); 3] = [
        (
            "site.json",
            br#"{"id": "reader", "name": "Reader", "url": "https://reader.example"}"#,
        ),
        ("files/photo.jpg", &[0x5a; 4096]),
        (
            "settings/general.json",
            br#"{"title": "a title that repeats, a title that repeats, a title that repeats"}"#,
        ),
    ];
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let site = Site::open(&root).unwrap();
    let out = dir.join("reader.zip");
    create_archive_file(
        &site,
        &CreateOptions::new(Scope::Full),
        &out,
        Overwrite::Refuse,
        &NoProgress,
    )
    .unwrap();
    out
}

#[test]
fn entries_are_read_whole_and_match_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive(dir.path())).unwrap();
    assert!(archive.validate(&Limits::default()).unwrap().is_valid());
    let entries = archive.entries().unwrap().to_vec();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        let bytes = archive.read_entry(entry.path.as_str()).unwrap();
        assert_eq!(bytes.len() as u64, entry.size);
        assert_eq!(Sha256::of(&bytes), entry.sha256, "{}", entry.path);
    }
    assert_eq!(
        archive.read_entry("site/files/photo.jpg").unwrap(),
        vec![0x5a; 4096]
    );
    assert!(matches!(
        archive.read_entry("site/missing.json"),
        Err(ReaderError::NoSuchEntry { .. })
    ));
}

#[test]
fn a_byte_changed_after_validation_is_caught_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(dir.path());
    let archive = Archive::open(&path).unwrap();
    assert!(archive.validate(&Limits::default()).unwrap().is_valid());
    // Change one byte of the stored photo through another handle: the open archive
    // reads the same file, so the change is what it would meet on a live file system.
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(64).position(|w| w == [0x5a; 64]).unwrap() + 100;
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[0x5b], at as u64).unwrap();
    let mut out = Vec::new();
    let err = archive
        .copy_entry("site/files/photo.jpg", &mut out)
        .unwrap_err();
    assert!(
        matches!(&err, ReaderError::Changed { entry, .. } if entry == "site/files/photo.jpg"),
        "{err}"
    );
    // An extraction started now fails too and leaves nothing.
    let target = dir.path().join("out");
    assert!(matches!(
        archive.extract_to(&target),
        Err(ReaderError::Changed { .. })
    ));
    assert!(!target.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn an_invalid_archive_gives_no_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(64).position(|w| w == [0x5a; 64]).unwrap();
    bytes[at] = 0;
    std::fs::write(&path, &bytes).unwrap();
    let archive = Archive::open(&path).unwrap();
    let err = archive.read_entry("site/site.json").unwrap_err();
    let ReaderError::Invalid { report } = err else {
        panic!("expected Invalid, got {err}")
    };
    let codes: Vec<String> = report.findings.iter().map(|f| f.code.to_string()).collect();
    assert_eq!(codes, ["CRC_MISMATCH", "DIGEST_MISMATCH"]);
}
