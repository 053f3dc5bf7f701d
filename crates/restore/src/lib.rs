//! Restore of an archive into a site.
//!
//! Plan and apply over a site directory (docs/COMMANDS.md, `restore`; the state it keeps:
//! docs/SITE-STATE.md):
//!
//! - [`plan()`] reads the archive and the site and lists every change, touching nothing.
//! - [`plan_into`] and [`apply`] plan and carry out a restore into a site held under its
//!   exclusive lock ([`LockedSite`], opened with [`SiteState::open`]: the site crate owns
//!   the lock, the journal, the snapshots and the recovery of an interrupted restore or
//!   revert). `apply` stages the new content, writes the pre-restore snapshot and the
//!   journal, then changes the site; the restore then waits for [`LockedSite::keep`] or
//!   [`LockedSite::revert`].
//!
//! [`LockedSite`]: sitepack_site::LockedSite
//! [`LockedSite::keep`]: sitepack_site::LockedSite::keep
//! [`LockedSite::revert`]: sitepack_site::LockedSite::revert
//! [`SiteState::open`]: sitepack_site::SiteState::open
//! - [`init_from_template`] creates a new site from a template archive.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod apply;
mod error;
mod init;
mod plan;
mod target;
mod transform;
mod url_rewrite;

pub use apply::{Applied, apply, plan_into};
pub use error::{Refusal, RestoreError};
pub use init::{InitSummary, init_from_template};
pub use plan::{Change, Plan, PlanOptions, RewriteChoice, RuleRewrites, UrlRewrites, plan};
pub use sitepack_site::{Action, Interrupted, RecordChanges, RestoreMode, SiteJson};
// transform.rs (being moved by the content-rules change) still names it `Mode`.
use sitepack_site::RestoreMode as Mode;
pub use url_rewrite::{
    RewriteCounts, RewriteError, RewriteRule, RuleSide, UrlForm, UrlProblem, UrlRewrite,
    is_text_file,
};
