//! End-to-end tests of the `sitepack` command: one test binary, one file per concern.

// Test tables are long by design, and the layout's extensions are lowercase by definition.
#![allow(
    clippy::too_many_lines,
    clippy::case_sensitive_file_extension_comparisons
)]

mod util;

mod audit;
mod auto;
mod check;
mod completions;
mod content_rules;
mod create_bad_site;
mod create_interop;
mod create_output;
mod create_reproducible;
mod create_restorable;
mod create_scopes;
mod create_secrets;
mod database_archive;
mod db_restore;
mod db_sites;
mod encryption;
mod extract;
mod human_output;
mod init;
mod interrupt;
mod output;
mod preview;
mod preview_against;
mod restore;
mod restore_conflicts;
mod restore_crash;
mod restore_crash_matrix;
mod roundtrip_property;
mod serve;
mod serve_browser;
mod site_links;
mod stats;
mod store;
mod target_rules;
mod typos;
mod validate_hostile;
mod validate_interop;
