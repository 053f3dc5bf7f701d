//! What the restore tests share: a backup through the existing export, written as an
//! archive file and opened with the reader.

#![allow(dead_code)]

use std::path::Path;

use sitepack_db::plan::Scope;
use sitepack_db::{DbError, Descriptor, WriteEngine, connect, export};
use sitepack_format::NoProgress;
use sitepack_reader::{Archive, Limits};

/// Backs up `scope` of `descriptor`'s tenant with the export, writes the archive to
/// `path` and opens it (validated: a valid archive, as `create` writes).
pub fn backup(descriptor: &Descriptor, scope: &str, path: &Path) -> Archive {
    let staging = tempfile::tempdir().unwrap();
    let parsed: sitepack_format::Scope = scope.parse().unwrap();
    let mut engine = connect(descriptor).unwrap();
    let summary = export(
        engine.as_mut(),
        descriptor,
        &Scope::try_from(&parsed).unwrap(),
        staging.path(),
        6,
        2,
        &NoProgress,
    )
    .unwrap();
    drop(engine);
    let site = sitepack_writer::Site::open_database(staging.path(), None, staging.path())
        .unwrap()
        .with_tables(summary.tables);
    let options = sitepack_writer::CreateOptions::new(parsed);
    let mut bytes = Vec::new();
    sitepack_writer::write_archive(&site, &options, &mut bytes, path, &NoProgress).unwrap();
    std::fs::write(path, bytes).unwrap();
    let archive = Archive::open(path).unwrap();
    let report = archive.validate(&Limits::default()).unwrap();
    assert!(report.is_valid(), "{report:?}");
    archive
}

/// A `before_commit` that does nothing.
#[allow(clippy::unnecessary_wraps)]
pub fn nothing(_: &mut dyn WriteEngine) -> Result<(), DbError> {
    Ok(())
}
