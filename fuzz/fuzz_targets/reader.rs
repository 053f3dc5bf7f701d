//! Any bytes as an archive: `validate` must not panic, and extracting an archive it found
//! valid must write only inside the extraction directory (docs/FORMAT.md §13, §14).
//!
//! Each input is written to `input.zip` in a fresh sandbox (on tmpfs when `/dev/shm`
//! exists) laid out as `SANDBOX/up/work/{input.zip, out}`, and extracted to `out`.
//! Afterwards `SANDBOX` and `up` must hold nothing but the next level, `work` nothing but
//! `input.zip` (unchanged) and, when extraction succeeded, `out`; `out` must hold only
//! plain directories and files. A write escaping `out` by one or two levels (`../x`,
//! `../../x`) is caught by the listings; deeper escapes would land outside the sandbox,
//! where they cannot be told from other processes' files.

#![no_main]

use std::fs;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use sitepack_reader::{Archive, Limits};

/// Small enough that an extraction stays quick and fits in memory-backed `/dev/shm`.
const LIMITS: Limits = Limits {
    max_entries: 10_000,
    max_bytes: 64 << 20,
    max_ratio: 1000,
};

/// What a successful extraction leaves in its directory (docs/FORMAT.md §14.5).
const EXTRACTED_TOP_LEVEL: [&str; 3] = ["checksums.sha256", "manifest.json", "site"];

fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    let sandbox = tempfile::Builder::new()
        .prefix("sitepack-fuzz-")
        .tempdir_in(scratch_root())
        .expect("creating the sandbox");
    let work = sandbox.path().join("up").join("work");
    fs::create_dir_all(&work).expect("creating the sandbox");
    let input = work.join("input.zip");
    fs::write(&input, data).expect("writing the input");

    let archive = Archive::open(&input).expect("Archive::open fails only on I/O errors");
    // The input is a readable regular file: any error here is a bug, not an I/O failure.
    let report = archive
        .validate(&LIMITS)
        .expect("validate fails only on I/O errors");
    if !report.is_valid() {
        return;
    }
    let out = work.join("out");
    let extracted = archive.extract_to(&out).is_ok();
    drop(archive);

    assert_only(sandbox.path(), &["up"]);
    assert_only(&sandbox.path().join("up"), &["work"]);
    if extracted {
        assert_only(&work, &["input.zip", "out"]);
        assert_only(&out, &EXTRACTED_TOP_LEVEL);
        assert_plain_tree(&out);
    } else {
        // §14.7: a failed extraction leaves nothing behind, not even its temporary directory.
        assert_only(&work, &["input.zip"]);
    }
    assert!(
        fs::read(&input).expect("reading the input back") == data,
        "the archive file was modified"
    );
}

/// tmpfs when there is one: every input is written to disk and most are extracted.
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// `dir` holds no name outside `allowed`.
fn assert_only(dir: &Path, allowed: &[&str]) {
    for entry in fs::read_dir(dir).expect("listing the sandbox") {
        let name = entry.expect("listing the sandbox").file_name();
        assert!(
            allowed.iter().any(|a| name == **a),
            "written outside the extraction directory: {}",
            dir.join(&name).display()
        );
    }
}

/// Everything under `root` is a directory or a regular file: no links, devices or FIFOs.
fn assert_plain_tree(root: &Path) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("listing the extraction") {
            let path = entry.expect("listing the extraction").path();
            let kind = fs::symlink_metadata(&path)
                .expect("reading extracted metadata")
                .file_type();
            if kind.is_dir() {
                pending.push(path);
            } else {
                assert!(
                    kind.is_file(),
                    "extracted a non-regular file: {}",
                    path.display()
                );
            }
        }
    }
}
