//! Archive → verified view. Trusts nothing in an archive.
//!
//! - [`Archive::open`] then [`Archive::validate`]: every check of docs/FORMAT.md §13 on
//!   the raw ZIP bytes (never a ZIP library's interpretation), reported as a [`Report`]
//!   of [`Finding`]s with stable [`Code`]s.
//! - Database archives (format 1.1, docs/FORMAT.md §15): `site/db/schema.json` against
//!   its schema, and every table's rows against the row rules as they stream past, with
//!   the foreign keys between tables resolved at the end (the `DB_*` codes).
//! - [`Archive::preview`]: identity, scope, counts and redactions, with the verdict (and a
//!   database archive's tables, [`DatabasePreview`]).
//! - [`Archive::read_entry`] / [`Archive::copy_entry`]: reads that verify size, CRC-32
//!   and SHA-256 as they go; [`Archive::extract_to`]: traversal-safe extraction (§14).
//!   All three refuse an archive that does not validate.
//!
//! ```no_run
//! use sitepack_reader::{Archive, Limits};
//!
//! let archive = Archive::open("backup.zip")?;
//! let report = archive.validate(&Limits::default())?;
//! for finding in &report.findings {
//!     println!("{} {}: {}", finding.code, finding.path.as_deref().unwrap_or("-"), finding.message);
//! }
//! if report.is_valid() {
//!     let site_json = archive.read_entry("site/site.json")?;
//!     # let _ = site_json;
//! }
//! # Ok::<(), sitepack_reader::ReaderError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod archive;
mod container;
mod content;
mod data_pass;
mod database;
mod entry_stream;
mod error;
mod extract;
mod finding;
mod listing;
mod manifest;
mod names;
mod plain_zip;
mod preview;
mod report;
mod source;
mod staged_dir;
mod validate;

pub use archive::Archive;
pub use error::ReaderError;
pub use extract::ExtractSummary;
pub use finding::{Code, Finding, MAX_FINDINGS, Severity};
pub use manifest::MAX_MANIFEST_BYTES;
pub use plain_zip::PlainZip;
pub use preview::{
    CollectionCount, Counts, DatabasePreview, ManifestPreview, ModuleCounts, Preview,
    SkippedPreview, TablePreview,
};
pub use report::{Limits, REPORT_SCHEMA, Report, Summary, generated_report_schema};
pub use source::ReadAt;
pub use staged_dir::StagedDir;
pub use validate::{preview_metadata, validate_metadata};
