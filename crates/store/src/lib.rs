//! Saved backups: where they are kept, which to keep, and when to make them.
//!
//! - [`BackupStore`]: one interface to a storage target, implemented by [`LocalStore`] (a
//!   directory) and [`S3Store`] (S3-compatible object storage, through `object_store`);
//!   [`open_store`] opens a [`TargetSpec`] as written by the user.
//! - [`store_backup`], [`list_backups`], [`fetch_into`], [`delete_backup`]: backups in a
//!   target, each with a sidecar holding its trusted digest.
//! - [`locate`]: what an archive argument names — a stored backup ([`BackupRef`]: a URL,
//!   or a name in a target) or a file — opened by [`Location::open`] (a stored backup is
//!   downloaded and checked against its sidecar).
//! - [`check_target`]: whether stored backups are still what their sidecars say
//!   (metadata by byte ranges, or read fully: all, a stable group `N/M`, a seeded `P%`).
//! - [`retention`]: which backups a retention policy keeps (restic's rules).
//! - [`schedule`]: when an automatic backup is due.
//! - [`auto_run`]: an automatic backup as `SITE/.sitepack/config.toml` says, read once by
//!   [`read_config`] into typed settings ([`Config`]); an interrupted restore is recovered
//!   first, and every failure is audited and runs the `--on-failure` command
//!   ([`AutoRunOptions`]); [`write_auto_settings`] edits its `[auto]` table (the admin page).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod auto;
mod auto_settings;
mod backups;
mod check;
mod error;
mod hook;
mod local;
mod prune;
mod ranges;
mod reference;
pub mod retention;
mod s3;
pub mod schedule;
mod target;

use sitepack_format::failpoint;

pub use auto::{
    AutoConfig, AutoFailure, AutoReport, AutoRunOptions, AutoSite, BackupRequest, CONFIG_NAME,
    Config, VerifyConfig, VerifySubset, auto_run, backup_site, config_path, parse_config,
    read_config, record_stored_backup,
};
pub use auto_settings::{AutoSettings, read_auto_settings, write_auto_settings};
pub use backups::{
    BackupKind, BackupListing, ENCRYPTION_METHOD, Encryption, NewBackup, Orphan, OrphanKind,
    StoredBackup, backup_name, check_stored, delete_backup, fetch_into, find_backup, list_backups,
    store_backup,
};
pub use check::{
    BackupCheck, CheckOptions, CheckReport, CheckSummary, MissingPiece, ParseSubsetError, ReadData,
    Verdict, check_target, failure_message, group_of, record_check, run_check_failure_command,
};
pub use error::StoreError;
pub use local::LocalStore;
pub use prune::{
    GroupBy, OrphanDecision, OrphanGrace, ParseGroupByError, ParseOrphanGraceError, PruneDecision,
    PruneReport, PruneRun, format_age, prune, record_prune,
};
pub use ranges::{preview_stored, validate_stored_metadata};
pub use reference::{
    BackupRef, Located, Location, NotItsSidecar, Opened, locate, open_existing_store, open_stored,
};
pub use s3::S3Store;
pub use target::{BackupStore, ListedObject, Listing, S3Settings, TargetSpec, open_store};
