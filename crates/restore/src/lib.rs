//! Restore of an archive into a site.
//!
//! This crate will own plan / apply / keep / revert / recover over a site directory,
//! URL rewriting, the pre-restore snapshot and the audit log (DESIGN.md §6).
//! It plans restores today ([`plan()`]) and creates new sites from template archives
//! ([`init_from_template`]).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod init;
mod plan;
mod target;
mod transform;
mod url_rewrite;

pub use error::{Refusal, RestoreError};
pub use init::{InitSummary, init_from_template};
pub use plan::{
    Action, Change, Mode, Plan, PlanOptions, RecordChanges, RewriteChoice, RuleRewrites, SiteJson,
    UrlRewrites, plan,
};
pub use url_rewrite::{
    RewriteCounts, RewriteError, RewriteRule, RuleSide, UrlForm, UrlProblem, UrlRewrite,
    is_text_file,
};
