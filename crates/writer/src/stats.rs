//! `sitepack stats`: live counts of a site per area, before exporting.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use serde::Serialize;
use sitepack_format::{Area, ModuleItem};

use crate::{Site, WriterError};

/// Counts of a live site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SiteStats {
    /// Settings tabs, by name.
    pub tabs: Vec<String>,
    /// User cards.
    pub users: u64,
    /// Modules, by name.
    pub modules: Vec<ModuleStats>,
    /// Files in `files/**` (users' own files included) and their bytes.
    pub files: u64,
    /// Bytes of those files.
    pub file_bytes: u64,
    /// Of those, files in users' own folders.
    pub user_files: u64,
    /// Files in the `other` area and their bytes.
    pub other: u64,
    /// Bytes of those files.
    pub other_bytes: u64,
    /// Every file that a full backup would hold.
    pub total_files: u64,
    /// Their bytes.
    pub total_bytes: u64,
}

/// Counts of one module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleStats {
    /// Module name.
    pub name: String,
    /// JSON Lines collections.
    pub collections: Vec<CollectionStats>,
    /// Module documents (`.json`).
    pub documents: u64,
    /// Other module files.
    pub files: u64,
    /// Bytes of everything in the module.
    pub bytes: u64,
}

/// Counts of one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectionStats {
    /// File name without `.jsonl`.
    pub name: String,
    /// Records (non-blank lines).
    pub records: u64,
}

/// Counts a site per area. Scans like a backup does, so the same problems (links,
/// unsafe names, collisions) are reported; records are counted, not parsed.
pub fn site_stats(site: &Site) -> Result<SiteStats, WriterError> {
    let mut stats = SiteStats::default();
    let mut modules: BTreeMap<String, ModuleStats> = BTreeMap::new();
    for file in site.scan()? {
        stats.total_files += 1;
        stats.total_bytes += file.size;
        match &file.area {
            Area::Site => {}
            Area::User(_) => stats.users += 1,
            Area::Tab(name) => stats.tabs.push(name.to_string()),
            Area::Module { module, item } => {
                let entry = modules
                    .entry(module.to_string())
                    .or_insert_with(|| ModuleStats {
                        name: module.to_string(),
                        ..ModuleStats::default()
                    });
                entry.bytes += file.size;
                match item {
                    ModuleItem::Collection => {
                        entry.collections.push(CollectionStats {
                            name: file.path.file_name().trim_end_matches(".jsonl").to_owned(),
                            records: count_records(site, &file.path)?,
                        });
                    }
                    ModuleItem::Document => entry.documents += 1,
                    ModuleItem::File => entry.files += 1,
                }
            }
            Area::Files | Area::UserFiles(_) => {
                stats.files += 1;
                stats.file_bytes += file.size;
                stats.user_files += u64::from(matches!(file.area, Area::UserFiles(_)));
            }
            Area::Other => {
                stats.other += 1;
                stats.other_bytes += file.size;
            }
        }
    }
    stats.modules = modules.into_values().collect();
    Ok(stats)
}

fn count_records(site: &Site, path: &sitepack_format::ArchivePath) -> Result<u64, WriterError> {
    let native = site.native_path(path);
    let file = site.open_file(path)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut count = 0;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| WriterError::io("read", &native, e))?;
        if n == 0 {
            return Ok(count);
        }
        if !sitepack_format::is_blank_line(line.strip_suffix(b"\n").unwrap_or(&line)) {
            count += 1;
        }
    }
}
