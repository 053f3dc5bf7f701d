//! Site directory → sitepack archive.
//!
//! [`Site::open`] reads and checks `site.json`; [`create_archive_file`] (or
//! [`write_archive`] for any writer) selects the files of a [`Scope`](sitepack_format::Scope),
//! checks every JSON document and JSON Lines record, removes secret values, hashes and
//! compresses entries on worker threads and appends them in a fixed order, so that the
//! same site, options and timestamp always give the same bytes. [`site_stats`] counts a
//! live site per area.
//!
//! ```
//! use sitepack_writer::{create_archive_file, CreateOptions, NoProgress, Overwrite, Site};
//!
//! let dir = tempfile::tempdir()?;
//! let site_dir = dir.path().join("site");
//! std::fs::create_dir_all(site_dir.join("settings"))?;
//! std::fs::write(site_dir.join("site.json"), r#"{"id": "demo", "name": "Demo", "url": "https://demo.example"}"#)?;
//! std::fs::write(site_dir.join("settings/general.json"), r#"{"title": "Demo", "api_key": "sk_live_abc"}"#)?;
//!
//! let site = Site::open(&site_dir)?;
//! let options = CreateOptions::new("full".parse()?);
//! let out = dir.path().join("demo.zip");
//! let summary = create_archive_file(&site, &options, &out, Overwrite::Refuse, &NoProgress)?;
//! assert_eq!(summary.manifest.redactions.len(), 1);
//! assert_eq!(summary.manifest.stats.tabs, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod compress;
mod content;
mod create;
mod error;
mod pipeline;
mod site;
mod stats;
mod table;
mod verbatim;
mod zip_out;

pub use create::{CreateOptions, Overwrite, Summary, create_archive_file, write_archive};
pub use error::WriterError;
pub use site::{Site, SiteFile};
pub use sitepack_format::{NoProgress, Progress};
pub use stats::{CollectionStats, ModuleStats, SiteStats, site_stats};
pub use table::{RowWriter, TableEntry, encode_table};
pub use verbatim::{Stored, VerbatimZip};
