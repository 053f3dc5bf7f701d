//! Restore of an archive into a site.
//!
//! Plan / apply / keep / revert / recover over a site directory (DESIGN.md §6):
//!
//! - [`plan()`] reads the archive and the site and lists every change, touching nothing.
//! - [`LockedSite`] holds the site's lock (`.sitepack/lock`); taking it finishes the
//!   recovery of an interrupted restore or revert. [`LockedSite::apply`] carries out a
//!   plan under a pre-restore snapshot and a journal; the restore then waits for
//!   [`LockedSite::keep`] or [`LockedSite::revert`].
//! - [`init_from_template`] creates a new site from a template archive.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod apply;
mod error;
mod init;
mod journal;
mod lock;
mod plan;
mod target;
mod transform;
mod url_rewrite;

pub use apply::{Applied, PendingRestore, Settled};
pub use error::{Refusal, RestoreError};
pub use init::{InitSummary, init_from_template};
pub use lock::{
    LockedSite, Recovered, SiteStatus, record_refusal, record_refused_restore,
    recover_before_backup, site_status,
};
pub use plan::{Action, Change, Plan, PlanOptions, RewriteChoice, RuleRewrites, UrlRewrites, plan};
pub use sitepack_site::{Interrupted, RecordChanges, RestoreMode, SiteJson};
// transform.rs (being moved by the content-rules change) still names it `Mode`.
use sitepack_site::RestoreMode as Mode;
pub use url_rewrite::{
    RewriteCounts, RewriteError, RewriteRule, RuleSide, UrlForm, UrlProblem, UrlRewrite,
    is_text_file,
};
