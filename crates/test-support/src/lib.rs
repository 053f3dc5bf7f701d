//! Test helpers shared by sitepack's test suites (never published):
//!
//! - [`zipcraft`]: a raw ZIP writer for hostile archives, every field under the test's
//!   control, with the sitepack payload ([`zipcraft::Payload`]) a correct writer derives;
//! - [`database`]: database archives (format 1.1) built from a tenant's tables as JSON;
//! - [`TestSite`]: a site in a temporary directory, empty or a copy of the demo site;
//! - [`listing`] and [`tree`]: what is below a directory, to check nothing was left.
//!
//! Helpers panic on any failure: they exist to set up tests, and their results are used
//! by the tests' own assertions.
#![allow(clippy::missing_panics_doc, clippy::must_use_candidate)]

pub mod database;
mod files;
mod site;
pub mod zipcraft;

pub use files::{listing, tree};
pub use site::{TestSite, copy_tree, demo_site, repo_root};

/// The fixed time used where reproducible output is compared.
pub const TIMESTAMP: &str = "2026-11-22T08:30:00Z";
