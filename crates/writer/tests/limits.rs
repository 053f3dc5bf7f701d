//! The writer never writes an archive that a reader with the given limits refuses: a site
//! that does not fit is refused before the archive exists (docs/FORMAT.md §13.4).

use sitepack_format::{Limits, NoProgress, Scope};
use sitepack_writer::{CreateOptions, Overwrite, Site, WriterError, create_archive_file};

fn site_with_files(count: usize, size: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(
        root.join("site.json"),
        r#"{"id": "tiny-farm", "name": "Tiny Farm", "url": "https://tiny-farm.example"}"#,
    )
    .unwrap();
    for i in 0..count {
        std::fs::write(root.join(format!("files/f{i}.bin")), vec![b'x'; size]).unwrap();
    }
    dir
}

fn create(dir: &tempfile::TempDir, limits: Limits) -> Result<u64, WriterError> {
    let site = Site::open(dir.path().join("site")).unwrap();
    let mut options = CreateOptions::new(Scope::Full);
    options.limits = limits;
    let out = dir.path().join("out.zip");
    let _ = std::fs::remove_file(&out);
    create_archive_file(&site, &options, &out, Overwrite::Refuse, &NoProgress)
        .map(|summary| summary.archive_size)
}

#[test]
fn a_site_with_more_entries_than_readers_accept_is_refused() {
    let dir = site_with_files(4, 10);
    // 4 files + site.json + manifest + checksums = 7 entries.
    let fits = Limits {
        max_entries: 7,
        ..Limits::default()
    };
    assert!(create(&dir, fits).is_ok());
    let error = create(
        &dir,
        Limits {
            max_entries: 6,
            ..fits
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            WriterError::OverLimit {
                what: "entries",
                limit: 6,
                actual: 7,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--scope"), "{error}");
    assert!(!dir.path().join("out.zip").exists());
}

#[test]
fn a_site_with_more_bytes_than_readers_accept_is_refused() {
    let dir = site_with_files(3, 1000);
    let error = create(
        &dir,
        Limits {
            max_bytes: 3000,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(error, WriterError::OverLimit { what: "decompressed bytes", limit: 3000, actual, .. } if actual > 3000),
        "{error}"
    );
    assert!(!dir.path().join("out.zip").exists());
    assert!(create(&dir, Limits::default()).is_ok());
}
