//! Site directory → sitepack archive.
//!
//! This crate will own scope selection, secret redaction, parallel hashing and
//! compression, and reproducible output (see `docs/FORMAT.md`). It is filled in by
//! the writer issue; until then it only re-exports nothing.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
