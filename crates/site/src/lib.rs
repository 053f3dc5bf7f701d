//! A site's own state: everything sitepack keeps under its `.sitepack/` directory.
//!
//! - [`SiteLock`]: the locks (`.sitepack/lock`, `.sitepack/auto.lock`).
//! - [`AuditEvent`], [`record_audit_event`] and [`read_audit_log`]: the audit log
//!   (`.sitepack/audit.jsonl`), one typed event a line: an [`Operation`], its
//!   [`Outcome`] and its [`Details`] (`schema/audit-event.schema.json`).
//! - [`create_backup`]: the writer run under the site lock ([`BackupLock`]), recorded as
//!   a `create` event.
//! - [`SiteState::open`]: a site opened for an operation ([`access::Read`],
//!   [`access::Backup`], [`access::Change`], [`access::Create`]): an interrupted restore
//!   or revert is recovered first ([`Recovered`]), then the lock the operation needs is
//!   taken; `Change` and `Create` hold the site under its exclusive lock ([`LockedSite`]).
//!   It holds the restore's state: the [`Journal`] (`.sitepack/restore/journal.json`) and
//!   the pre-restore snapshots (`.sitepack/snapshots/`), which the restore crate writes as
//!   it applies a plan; the restore pending review ([`PendingRestore`]) and its two ways
//!   out, [`LockedSite::keep`] and [`LockedSite::revert`], are this crate's.
//!
//! ```
//! use sitepack_site::{ArchiveOutput, AuditFilter, Operation, Outcome, create_backup, read_audit_log};
//! use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site};
//!
//! let dir = tempfile::tempdir()?;
//! let site_dir = dir.path().join("site");
//! std::fs::create_dir_all(&site_dir)?;
//! std::fs::write(site_dir.join("site.json"), r#"{"id": "demo", "name": "Demo", "url": "https://demo.example"}"#)?;
//!
//! let site = Site::open(&site_dir)?;
//! let out = dir.path().join("demo.zip");
//! let output = ArchiveOutput::File { path: &out, overwrite: Overwrite::Refuse };
//! create_backup(&site, &CreateOptions::new("full".parse()?), output, &NoProgress)?;
//!
//! let log = read_audit_log(&site_dir, &AuditFilter::default())?;
//! assert_eq!(log.events[0].operation(), Operation::Create);
//! assert_eq!(log.events[0].outcome, Outcome::Ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod audit;
mod backup;
mod error;
mod event;
mod journal;
mod lock;
mod recovery;
mod schema;
mod undo;

pub use audit::{
    AUDIT_LOG_NAME, AuditFilter, AuditLog, BadLine, MAX_AUDIT_LINE_BYTES, MAX_BAD_LINES,
    acting_for, append_audit_event, audit_log_path, current_actor, read_audit_events,
    read_audit_log, record_audit_event,
};
pub use backup::{ArchiveOutput, Backup, BackupLock, BackupSource, create_backup};
pub use error::{SiteError, SiteRefusal};
pub use event::{
    AuditEvent, AutoDetails, CheckDetails, CreateDetails, Details, InitDetails, Interrupted,
    Operation, OtherDetails, Outcome, PruneDetails, RecordChanges, RecoverDetails, RestoreDetails,
    RestoreMode, SettleDetails, SiteJson, UnknownOperation,
};
pub use journal::{Action, Before, Journal, JournalChange, Places, State};
pub use lock::{AUTO_LOCK_NAME, LockKind, SITE_LOCK_NAME, SiteLock};
pub use recovery::{LockedSite, Recovered, SiteState, record_refusal, record_refused_restore};

/// What an operation needs of a site, for [`SiteState::open`]: `SiteState::open(root,
/// access::Read)`.
pub mod access {
    pub use crate::recovery::{Access, Backup, Change, Create, Read};
}
pub use schema::{AUDIT_EVENT_SCHEMA, generated_audit_event_schema};
pub use undo::{PendingRestore, Settled, discard_work, roll_back};
