//! A tenant of a SQL database as a sitepack site.
//!
//! - [`Descriptor`]: the site descriptor (a TOML file): identity, database URL, tenant
//!   column and value, excluded and secret tables, files and state directories.
//! - [`Engine`]: what sitepack needs of a database engine — a consistent snapshot, the
//!   reflected schema, rows streamed in key order with their values encoded as format 1.1
//!   says ([`sitepack_format::database`]). SQLite ([`sqlite`]) and PostgreSQL
//!   ([`postgres`]) implement it; a third engine is a third implementation.
//! - [`plan`]: which tables and rows are the tenant's, from the live schema alone.
//! - [`export`]: the tenant's rows, read in one snapshot, written as a staged site
//!   directory (`site.json`, `db/schema.json`, `db/<table>.jsonl`) for the writer.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod engine;
mod error;
pub mod postgres;
pub mod sql;

pub use engine::{ColumnInfo, Engine, TableInfo};
pub use error::DbError;
