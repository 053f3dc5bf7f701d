//! `cargo xtask demo-db`: the demo database site's SQLite file, built from its script.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The demo database site, from the project root.
pub(crate) const DEMO_DIR: &str = "fixtures/db-demo";

/// Builds `dir/fleet.db` from `dir/fleet.sql`: into a temporary file, then renamed over
/// the old one, so that a failed build leaves the old file.
pub(crate) fn build(dir: &Path) -> Result<PathBuf> {
    let script_path = dir.join("fleet.sql");
    let script = std::fs::read_to_string(&script_path)
        .with_context(|| format!("read {}", script_path.display()))?;
    let temp = tempfile::NamedTempFile::new_in(dir).context("create a temporary file")?;
    {
        let db = rusqlite::Connection::open(temp.path())?;
        db.execute_batch(&script)
            .with_context(|| format!("run {}", script_path.display()))?;
        // A rollback journal, not WAL: the committed file is all there is.
        db.execute_batch("PRAGMA journal_mode = DELETE; VACUUM;")?;
    }
    // Readable by the application's other users, as a database file usually is.
    std::fs::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    let target = dir.join("fleet.db");
    temp.persist(&target)
        .with_context(|| format!("write {}", target.display()))?;
    Ok(target)
}
