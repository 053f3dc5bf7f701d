//! The typed events of the audit log: what each operation records, as one JSON object a
//! line (`schema/audit-event.schema.json`, generated from these types).
//!
//! An event is `{"time", "type", "actor", "outcome", "details"}`, in that order; `type`
//! names the [`Operation`] and says which details struct `details` is. Every detail is
//! optional (a failed operation records what it knew, and its `error`), and keys this
//! sitepack does not know (written by another version, or by hand) are kept as read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sitepack_format::{Name, Options, Sha256, Stats, Timestamp};

/// Keys of `details` that the types do not name, kept as read.
pub type OtherDetails = serde_json::Map<String, serde_json::Value>;

/// What an event records: the operation, as `type` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// An archive written (`create -o`) or a backup stored (`create --to`).
    Create,
    /// A restore applied, failed or refused.
    Restore,
    /// A pending restore accepted.
    Keep,
    /// A pending restore undone.
    Revert,
    /// A new site made from a template.
    Init,
    /// An interrupted restore or revert finished.
    Recover,
    /// An automatic backup run.
    Auto,
    /// Backups removed from a target by retention.
    Prune,
    /// Stored backups checked (`check`, or `auto run`'s verification).
    Check,
}

impl Operation {
    /// Every operation, in the order the audit log's documentation lists them.
    pub const ALL: [Self; 9] = [
        Self::Create,
        Self::Restore,
        Self::Keep,
        Self::Revert,
        Self::Init,
        Self::Recover,
        Self::Auto,
        Self::Prune,
        Self::Check,
    ];

    /// The name `type` holds (`create`, `restore`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Restore => "restore",
            Self::Keep => "keep",
            Self::Revert => "revert",
            Self::Init => "init",
            Self::Recover => "recover",
            Self::Auto => "auto",
            Self::Prune => "prune",
            Self::Check => "check",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|operation| operation.as_str() == text)
            .ok_or(UnknownOperation)
    }
}

/// A `type` that names no [`Operation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an operation sitepack records (one of create, restore, keep, revert, init, recover, auto, prune, check)"
)]
pub struct UnknownOperation;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did what it was asked.
    Ok,
    /// It failed (the details say why, in `error`).
    Failed,
    /// It was refused as asked, and nothing was changed (the details say why).
    Refused,
}

impl Outcome {
    /// The name `outcome` holds.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// An event's details: one struct per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "details", rename_all = "lowercase")]
pub enum Details {
    /// `create`.
    Create(CreateDetails),
    /// `restore`.
    Restore(RestoreDetails),
    /// `keep`.
    Keep(SettleDetails),
    /// `revert`.
    Revert(SettleDetails),
    /// `init`.
    Init(InitDetails),
    /// `recover`.
    Recover(RecoverDetails),
    /// `auto`.
    Auto(AutoDetails),
    /// `prune`.
    Prune(PruneDetails),
    /// `check`.
    Check(CheckDetails),
}

impl Details {
    /// The operation these details belong to.
    #[must_use]
    pub fn operation(&self) -> Operation {
        match self {
            Self::Create(_) => Operation::Create,
            Self::Restore(_) => Operation::Restore,
            Self::Keep(_) => Operation::Keep,
            Self::Revert(_) => Operation::Revert,
            Self::Init(_) => Operation::Init,
            Self::Recover(_) => Operation::Recover,
            Self::Auto(_) => Operation::Auto,
            Self::Prune(_) => Operation::Prune,
            Self::Check(_) => Operation::Check,
        }
    }

    /// Details of `operation` that record nothing yet.
    #[must_use]
    pub fn empty(operation: Operation) -> Self {
        match operation {
            Operation::Create => Self::Create(CreateDetails::default()),
            Operation::Restore => Self::Restore(RestoreDetails::default()),
            Operation::Keep => Self::Keep(SettleDetails::default()),
            Operation::Revert => Self::Revert(SettleDetails::default()),
            Operation::Init => Self::Init(InitDetails::default()),
            Operation::Recover => Self::Recover(RecoverDetails::default()),
            Operation::Auto => Self::Auto(AutoDetails::default()),
            Operation::Prune => Self::Prune(PruneDetails::default()),
            Operation::Check => Self::Check(CheckDetails::default()),
        }
    }

    /// Records why the operation failed or was refused.
    pub fn set_error(&mut self, error: String) {
        let field = match self {
            Self::Create(d) => &mut d.error,
            Self::Restore(d) => &mut d.error,
            Self::Keep(d) | Self::Revert(d) => &mut d.error,
            Self::Init(d) => &mut d.error,
            Self::Recover(d) => &mut d.error,
            Self::Auto(d) => &mut d.error,
            Self::Prune(d) => &mut d.error,
            Self::Check(d) => &mut d.error,
        };
        *field = Some(error);
    }

    /// The keys of `details` these types do not name, as read.
    #[must_use]
    pub fn other(&self) -> &OtherDetails {
        match self {
            Self::Create(d) => &d.other,
            Self::Restore(d) => &d.other,
            Self::Keep(d) | Self::Revert(d) => &d.other,
            Self::Init(d) => &d.other,
            Self::Recover(d) => &d.other,
            Self::Auto(d) => &d.other,
            Self::Prune(d) => &d.other,
            Self::Check(d) => &d.other,
        }
    }

    /// The error a failed or refused operation recorded.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Create(d) => d.error.as_deref(),
            Self::Restore(d) => d.error.as_deref(),
            Self::Keep(d) | Self::Revert(d) => d.error.as_deref(),
            Self::Init(d) => d.error.as_deref(),
            Self::Recover(d) => d.error.as_deref(),
            Self::Auto(d) => d.error.as_deref(),
            Self::Prune(d) => d.error.as_deref(),
            Self::Check(d) => d.error.as_deref(),
        }
    }
}

/// `create`: an archive written to a file (`output`) or a backup stored in a target
/// (`to`, then `name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CreateDetails {
    /// The scope, as `--scope` takes it (`full`, `tab:NAME`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// What the archive holds besides documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// The manifest's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The archive file written (`<standard output>` for `-o -`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The target a backup was stored in, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The stored backup's name in its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The archive's SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// The archive's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_size: Option<u64>,
    /// The manifest's counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `restore`: the archive, the plan's options and counts, and the snapshot a `revert`
/// restores from (or why it failed or was refused).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreDetails {
    /// The restore's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_id: Option<String>,
    /// The archive, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Its SHA-256 (unknown when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// The plan's scope, as `--scope` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `merge` or `replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RestoreMode>,
    /// Whether files were restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<bool>,
    /// The user a user archive was restored as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_user: Option<Name>,
    /// What happened to the target's `site.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_json: Option<SiteJson>,
    /// Paths added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<u64>,
    /// Paths replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<u64>,
    /// Paths deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<u64>,
    /// Paths left as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<u64>,
    /// Records, over every collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordChanges>,
    /// URL replacements made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrites: Option<u64>,
    /// Secret values the target kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_kept: Option<u64>,
    /// Secret values to enter again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_to_reenter: Option<u64>,
    /// The pre-restore snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Why it failed or was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `keep` and `revert`: which restore was settled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SettleDetails {
    /// The restore's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_id: Option<String>,
    /// Its archive, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The archive's SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// Its scope, as `--scope` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Its mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RestoreMode>,
    /// Why it failed or was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `init`: the template and the new site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InitDetails {
    /// The template archive, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// The template's site id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_site_id: Option<String>,
    /// The new site's identity (`id`, `name`, `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<sitepack_format::SiteIdentity>,
    /// Files written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Bytes written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// URL replacements made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrites: Option<u64>,
    /// Secret values to enter in the new site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_to_enter: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `recover`: what was interrupted, and the restore it belonged to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecoverDetails {
    /// The restore's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_id: Option<String>,
    /// What was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
    /// Paths put back as they were before the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_restored: Option<u64>,
    /// The interrupted restore's archive, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// When the restore began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Its scope, as `--scope` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Its mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RestoreMode>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `auto`: the run's settings, the backup stored and what retention removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AutoDetails {
    /// The target, as `config.toml` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The scope, as `--scope` takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The schedule, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Whether runs were missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
    /// The newest automatic backup dated after the run (a wrong clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_in_future: Option<Timestamp>,
    /// The stored backup's name in its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<Sha256>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_size: Option<u64>,
    /// Its `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The backups retention removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Vec<String>>,
    /// The orphans retention removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans_removed: Option<Vec<String>>,
    /// Why retention failed after the backup was stored (the run still succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_error: Option<String>,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `prune`: the target, the rules and what was removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PruneDetails {
    /// The target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The site whose backups were pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// How backups were grouped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// The retention rules (`keep_last`, `keep_daily`, …), as `config.toml` writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Map<String, serde_json::Value>>,
    /// How old an orphan must be to be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_grace: Option<String>,
    /// Whether nothing was removed on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// The backups removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<String>>,
    /// How many backups were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
    /// The orphans removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans_removed: Option<Vec<String>>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// `check`: the target, what was read, and what was found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckDetails {
    /// The target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only this site's backups, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// What was read (`metadata only`, `every backup read`, `group N/M read`,
    /// `P% read (seed S)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_data: Option<String>,
    /// How many backups were checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<u64>,
    /// How many of them were read fully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_read: Option<u64>,
    /// Each damaged backup and missing piece, with what is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damaged: Option<Vec<String>>,
    /// The group read, `N/M` (a `--read-data-subset N/M` or a rotating `[verify]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// Whether `auto run` made it, as `config.toml`'s `[verify]` says (its next run reads
    /// the next group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<bool>,
    /// The time of the run (what the verification schedule counts from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<Timestamp>,
    /// Why it failed (the target could not be read, a backup could not be checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Keys these types do not name.
    #[serde(flatten)]
    pub other: OtherDetails,
}

/// What was interrupted, as a recovery found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interrupted {
    /// A restore, before it changed the site: its unfinished work was discarded.
    RestoreBeforeChanges,
    /// A restore, while it changed the site: the site was put back as it was before.
    Restore,
    /// A revert: it was completed.
    Revert,
}

/// How a restore's archive content meets the target's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    /// Archive documents and records replace their counterparts, new ones are added,
    /// nothing else changes.
    #[default]
    Merge,
    /// The restored scope becomes exactly the archive's content.
    Replace,
}

impl RestoreMode {
    /// `merge` or `replace`, as the command line spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Replace => "replace",
        }
    }
}

/// What happens to the target's `site.json` in a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteJson {
    /// The target keeps its own.
    Kept,
    /// The target had none (a sandbox) and takes the archive's.
    TakenFromArchive,
}

/// Record counts of a restore (one collection, or all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordChanges {
    /// Archive records whose id the target does not have.
    pub added: u64,
    /// Archive records that replace a different target record of the same id.
    pub changed: u64,
    /// Target records removed (replace mode).
    pub deleted: u64,
    /// Archive records equal to the target record of the same id.
    pub unchanged: u64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "EventLine", try_from = "EventLine")]
pub struct AuditEvent {
    /// When it happened.
    pub time: Timestamp,
    /// Who ran it (the login name, or `uid:N`; for an action of `sitepack serve`, followed by
    /// ` for ` and the caller, `api:admin-token` or `api:jwt:SUB`).
    pub actor: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The operation and what it recorded.
    pub details: Details,
}

impl AuditEvent {
    /// The operation recorded.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.details.operation()
    }
}

/// An event as a line holds it, keys in this order.
#[derive(Serialize, Deserialize)]
struct EventLine {
    time: Timestamp,
    #[serde(rename = "type")]
    operation: Operation,
    actor: String,
    outcome: Outcome,
    details: serde_json::Value,
}

impl From<AuditEvent> for EventLine {
    fn from(event: AuditEvent) -> Self {
        let operation = event.operation();
        // Serializing plain structs of strings, numbers and maps cannot fail.
        let details = serde_json::to_value(&event.details)
            .ok()
            .and_then(|mut tagged| tagged.get_mut("details").map(serde_json::Value::take))
            .unwrap_or_default();
        Self {
            time: event.time,
            operation,
            actor: event.actor,
            outcome: event.outcome,
            details,
        }
    }
}

impl TryFrom<EventLine> for AuditEvent {
    type Error = serde_json::Error;

    fn try_from(line: EventLine) -> Result<Self, Self::Error> {
        let details = serde_json::from_value(serde_json::json!({
            "type": line.operation,
            "details": line.details,
        }))?;
        Ok(Self {
            time: line.time,
            actor: line.actor,
            outcome: line.outcome,
            details,
        })
    }
}

/// The schema of an event line: the common keys, and `type` with its `details`.
#[derive(JsonSchema)]
#[schemars(
    title = "sitepack audit event",
    description = "One line of a site's .sitepack/audit.jsonl."
)]
#[allow(dead_code)] // Only its schema is used.
struct EventSchema {
    /// When it happened (RFC 3339, UTC).
    time: Timestamp,
    /// Who ran it (the login name, or `uid:N`; for an action of `sitepack serve`, followed by
    /// ` for ` and the caller, `api:admin-token` or `api:jwt:SUB`).
    actor: String,
    /// How it ended.
    outcome: Outcome,
    #[serde(flatten)]
    details: Details,
}

impl JsonSchema for AuditEvent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AuditEvent".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        EventSchema::json_schema(generator)
    }
}
