//! A tenant of a SQL database as a sitepack site.
//!
//! - [`Descriptor`]: the site descriptor (a TOML file): identity, database URL, tenant
//!   column and value, excluded and secret tables, files and state directories.
//! - [`Engine`]: what sitepack needs of a database engine — a consistent snapshot, the
//!   reflected schema, rows streamed in key order with their values encoded as format 1.1
//!   says ([`sitepack_format::database`]). [`sqlite::SqliteEngine`] implements it for
//!   SQLite files, [`postgres::PostgresEngine`] for PostgreSQL; another engine (MySQL,
//!   MariaDB) is another implementation of the same trait.
//! - [`mod@plan`]: which tables and rows are the tenant's, from the live schema alone (no
//!   table list written by hand): tenant, linked and reference tables, the tables left
//!   behind and why, the tenant-leak checks, the order parents first.
//! - [`mod@export`]: the tenant's rows, read in one snapshot, checked (unknown tenant, rows
//!   referencing another tenant's rows), then streamed into a staged site directory
//!   (`site.json`, `db/schema.json`, `db/<table>.jsonl`) for the archive writer;
//!   [`export::tenant_stats`] counts the same rows without writing them;
//!   [`export::connect`] opens the descriptor's database.
//!
//! - [`mod@restore`]: a database archive written back into the site's database —
//!   [`plan_restore`] (every refusal together: tenant, schema, reference rows) and
//!   [`apply_restore`] (replace or merge, one transaction on a [`WriteEngine`] the caller
//!   opened, rows streamed in batches, rolled back on any error); [`plan_restore_with`]
//!   writes another tenant's archive as the descriptor's tenant with fresh keys (`--as`,
//!   `init` from a template).
//! - [`mod@request`]: a restore, keep or revert as a caller (the command line, the HTTP
//!   API) asks for it: the review's steps in order, every refusal audited.
//! - [`SitePath`]: what a SITE argument names, a site directory or a descriptor.
//! - [`DatabaseSite`]: a descriptor as a site to back up (the site crate's
//!   `BackupSource`): the export staged under the state directory, then archived by the
//!   writer as format 1.1, all under the site lock.
//!
//! Secret column values are not this crate's concern: the archive writer redacts them as
//! for any site.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod descriptor;
mod engine;
mod error;
pub mod export;
pub mod files;
pub mod plan;
pub mod postgres;
pub mod request;
pub mod restore;
pub mod review;
mod site;
mod site_path;
pub mod sql;
pub mod sqlite;

pub use descriptor::Descriptor;
pub use engine::{
    ColumnInfo, DeleteEffect, EncodedValues, Engine, RowSource, SequenceMove, SnapshotReader,
    SqlValue, TableInfo, Verbatim, WriteEngine,
};
pub use error::DbError;
pub use export::{ExportSummary, TenantStats, connect, connect_writable, export, tenant_stats};
pub use plan::{Plan, Scope};
pub use restore::{
    Mode, RestoreOptions, RestorePlan, RestoreSummary, apply_restore, plan_restore,
    plan_restore_with,
};
pub use site::DatabaseSite;
pub use site_path::SitePath;
