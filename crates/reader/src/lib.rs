//! Archive → verified view.
//!
//! This crate will own `validate` (every check of `docs/FORMAT.md` §"Reader checks",
//! reported as a serializable report), `preview`, verified reads and traversal-safe
//! `extract`. It trusts nothing in an archive.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
