//! A database site's restore under review: a snapshot of the rows it replaces, a pending
//! marker in the database itself, and the way back (`keep`, `revert`).
//!
//! - [`restore_for_review`] runs [`apply_restore`] with hooks that, inside the restore's
//!   transaction: take the tenant's advisory lock (PostgreSQL: `pg_try_advisory_xact_lock`
//!   keyed on the schema and the tenant; SQLite's `BEGIN IMMEDIATE` already lets one
//!   writer in), refuse when a restore of the tenant is pending, write the tenant's rows of
//!   the tables about to change as a sitepack archive (format 1.1, the export's encoding)
//!   into `STATE_DIR/.sitepack/db-snapshots/` — under a temporary name, fsynced, renamed into
//!   place — and, just before `COMMIT`, insert the pending marker: one row of
//!   [`STATE_TABLE`] naming the tenant, the snapshot and its SHA-256 (the table is
//!   created when missing, committed on its own before the restore's transaction). The
//!   marker commits or rolls back with the rows: the database row is the truth; a
//!   snapshot file without its row (the transaction rolled back, a `kill -9` before
//!   `COMMIT`) is removed by the next command ([`settle`]) — unless the `.committed`
//!   copy of the marker lies beside it (written once the restore committed, removed by
//!   `keep` and `revert` just before their `COMMIT`): its row was lost since, and is
//!   written back.
//! - [`keep`] deletes the marker, then the snapshot.
//! - [`revert`] replaces the tables from the snapshot (the same [`apply_restore`], mode
//!   replace) and deletes the marker in the same transaction, then removes the snapshot.
//!
//! Every command that changes something holds the state directory's site lock
//! (exclusive), so that a snapshot being written is never taken for an orphan.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sitepack_format::database::{
    Column, ColumnType, DB_DIR, DB_SCHEMA_PATH, DatabaseSchema, EngineKind, ScalarType, Table,
    TableRole, table_path,
};
use sitepack_format::{ArchivePath, Beneath, INTERNAL_DIR, NoProgress, SecretPolicy};
use sitepack_reader::Archive;
use sitepack_site::{LockKind, SITE_LOCK_NAME, SiteLock};
use sitepack_writer::{CreateOptions, Site, TableEntry, encode_table};

use crate::descriptor::{Database, Descriptor};
use crate::engine::{SqlValue, WriteEngine};
use crate::files::{self, FilesApplied, FilesStep, StagedFiles};
use crate::restore::{Mode, RestoreHooks, RestorePlan, RestoreSummary, ScopeTable};
use crate::sql::{Dialect, Param, RowQuery, quote_ident};
use crate::{DbError, Engine, apply_restore, connect, connect_writable, plan_restore};

/// The table sitepack keeps its pending restores in (in the descriptor's schema on
/// PostgreSQL): one row per tenant with a restore under review. Never part of a backup.
pub const STATE_TABLE: &str = "sitepack_restore_state";
/// The directory of the snapshots, under the state directory's `.sitepack/`.
pub const SNAPSHOTS_DIR: &str = "db-snapshots";

/// The columns of [`STATE_TABLE`], in order.
const STATE_COLUMNS: [&str; 6] = [
    "tenant",
    "snapshot",
    "snapshot_sha256",
    "mode",
    "archive",
    "started_at",
];

/// A restore of the tenant under review, as its row in [`STATE_TABLE`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PendingDbRestore {
    /// The tenant, as the row keys it (`org_id="northwind"`).
    pub tenant: String,
    /// The snapshot's file name, in the state directory's `.sitepack/db-snapshots/`.
    pub snapshot: String,
    /// The snapshot's SHA-256 (hex).
    pub snapshot_sha256: String,
    /// `replace` or `merge`.
    pub mode: String,
    /// The archive restored (as named on the command line).
    pub archive: String,
    /// When the restore started (RFC 3339, UTC).
    pub started_at: String,
    /// Whether the snapshot is in this state directory (another machine's restore keeps
    /// its snapshot in its own).
    #[serde(default)]
    pub snapshot_present: bool,
    /// Whether the database had lost the marker (its row deleted, or [`STATE_TABLE`]
    /// dropped) and it was written back from the snapshot's `.committed` copy.
    #[serde(default)]
    pub marker_lost: bool,
}

/// What [`restore_for_review`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedRestore {
    /// The rows written and deleted.
    pub summary: RestoreSummary,
    /// The uploaded files changed, when the restore carried them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FilesApplied>,
    /// The rows committed, but the uploaded files could not all be written: why, and
    /// what to do (the journal stays for the next command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_unfinished: Option<String>,
    /// The pending marker committed with them.
    pub pending: PendingDbRestore,
    /// The snapshot (absolute).
    pub snapshot_path: PathBuf,
}

/// What [`settle`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settled {
    /// The restore pending, if one.
    pub pending: Option<PendingDbRestore>,
    /// Snapshot files removed because no pending restore names them (a restore rolled
    /// back, or killed before its `COMMIT`).
    pub removed: Vec<String>,
    /// Uploaded files of a committed restore or revert, applied now (it was stopped
    /// after its `COMMIT`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_finished: Vec<FinishedFiles>,
    /// Uploaded files of a committed restore or revert that could not all be written
    /// now (why, and what to do): their journal stays for the next command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_unfinished: Option<String>,
}

/// Uploaded files [`settle`] applied for a restore or revert stopped after its commit.
#[derive(Debug, Clone, Serialize)]
pub struct FinishedFiles {
    /// The snapshot of the restore they belong to.
    pub snapshot: String,
    /// A restore's or a revert's.
    pub step: FilesStep,
    /// What changed.
    pub applied: FilesApplied,
}

/// The exclusive lock of a database site's state directory, held while a restore, keep
/// or revert runs.
#[derive(Debug)]
pub struct ReviewLock {
    _lock: SiteLock,
}

impl ReviewLock {
    /// Takes the lock (the state directory is made when missing); another sitepack
    /// command on the site (a backup, a restore) holding it is an error saying so.
    pub fn take(descriptor: &Descriptor) -> Result<Self, DbError> {
        let internal = descriptor.state_dir.join(INTERNAL_DIR);
        fs::create_dir_all(&internal)
            .map_err(|e| DbError::io("create the state directory", &internal, e))?;
        let dir = Beneath::open(&internal).map_err(|e| DbError::io("open", &internal, e))?;
        match SiteLock::try_lock(&dir, SITE_LOCK_NAME, LockKind::Exclusive)
            .map_err(|e| DbError::io("lock", internal.join(SITE_LOCK_NAME), e))?
        {
            Some(lock) => {
                claim_state_dir(descriptor, &internal)?;
                Ok(Self { _lock: lock })
            }
            None => Err(DbError::Review {
                problem: format!(
                    "another sitepack command (a backup, a restore) is working on site {} (its \
                     state directory {} is locked): wait for it to finish, then try again",
                    descriptor.site.id,
                    descriptor.state_dir.display()
                ),
            }),
        }
    }
}

/// The file that says whose reviews a state directory holds: the database and tenant
/// its first review recorded; a descriptor of another is refused.
pub const OWNER_FILE: &str = "db-review-owner";

/// The database and tenant whose restores a state directory reviews.
fn owner_of(descriptor: &Descriptor) -> String {
    let database = match &descriptor.database {
        Database::Sqlite { path } => {
            let path = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("sqlite:{}", path.display())
        }
        Database::Postgres(target) => {
            // Both spellings of the scheme name the same server.
            let url = descriptor.display_url();
            let url = url
                .strip_prefix("postgresql://")
                .map_or_else(|| url.to_owned(), |rest| format!("postgres://{rest}"));
            format!("{url} (schema {})", target.schema)
        }
    };
    format!("{database}, tenant {}", tenant_key(descriptor))
}

/// Records which database and tenant the state directory's reviews belong to, or
/// refuses another: two tenants sharing one state directory would take each other's
/// snapshots for orphans and remove them.
fn claim_state_dir(descriptor: &Descriptor, internal: &Path) -> Result<(), DbError> {
    if refuse_another_owner(descriptor)? {
        return Ok(());
    }
    let path = internal.join(OWNER_FILE);
    let ours = owner_of(descriptor);
    fs::write(&path, format!("{ours}\n")).map_err(|e| DbError::io("write", &path, e))
}

/// Refuses a state directory whose reviews are another database's or tenant's (see
/// [`OWNER_FILE`]).
pub fn check_state_dir_owner(descriptor: &Descriptor) -> Result<(), DbError> {
    refuse_another_owner(descriptor).map(|_| ())
}

/// Refuses a state directory whose reviews are another database's or tenant's; whether
/// it names one (this descriptor's).
fn refuse_another_owner(descriptor: &Descriptor) -> Result<bool, DbError> {
    let path = descriptor.state_dir.join(INTERNAL_DIR).join(OWNER_FILE);
    let ours = owner_of(descriptor);
    match fs::read_to_string(&path) {
        Ok(text) if text.trim_end() == ours => Ok(true),
        Ok(text) => Err(DbError::Review {
            problem: format!(
                "the state directory {} holds the restore reviews of {}, not of {ours}: give \
                 the descriptor {} a [state] dir of its own. If it is \
                 the same database and tenant under a new address (a moved file, a renamed \
                 host), remove {} and run the command again: a pending restore stays \
                 pending",
                descriptor.state_dir.display(),
                text.trim_end(),
                descriptor.path.display(),
                path.display()
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(DbError::io("read", &path, e)),
    }
}

/// The tenant as [`STATE_TABLE`] keys it (and the advisory lock). A text tenant that is
/// exactly an integer's digits (`"2"`) keys as that integer: the descriptor's `"2"` and
/// `2` name the same rows of an integer column, and must share one review.
fn tenant_key(descriptor: &Descriptor) -> String {
    let value = match &descriptor.tenant {
        sitepack_format::database::TenantValue::Integer(n) => n.to_string(),
        sitepack_format::database::TenantValue::Text(s) => match s.parse::<i64>() {
            Ok(n) if n.to_string() == *s => s.clone(),
            _ => Value::String(s.clone()).to_string(),
        },
    };
    format!("{}={value}", descriptor.tenant_column)
}

/// Whether `name`, read from the database's marker, can name a snapshot: one file name
/// as sitepack makes them, never a path (the marker is the database's, and anyone who
/// may write that table must not make `keep` remove, or `status` write, another file).
fn is_snapshot_name(name: &str) -> bool {
    is_finished_snapshot(name)
        && Path::new(name).extension().is_some_and(|e| e == "zip")
        && !name.contains(['/', '\\'])
        && !name.contains("..")
}

fn schema_name(descriptor: &Descriptor) -> Option<&str> {
    match &descriptor.database {
        Database::Postgres(target) => Some(&target.schema),
        Database::Sqlite { .. } => None,
    }
}

fn qualified_state(descriptor: &Descriptor) -> String {
    match schema_name(descriptor) {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(STATE_TABLE)),
        None => quote_ident(STATE_TABLE),
    }
}

fn dialect_of(kind: EngineKind) -> Dialect {
    match kind {
        EngineKind::Sqlite => Dialect::Sqlite,
        EngineKind::Postgresql => Dialect::Postgres,
    }
}

fn snapshots_dir(descriptor: &Descriptor) -> PathBuf {
    descriptor.state_dir.join(INTERNAL_DIR).join(SNAPSHOTS_DIR)
}

/// Reads the tenant's row of [`STATE_TABLE`] on `engine` (inside its snapshot or
/// transaction); `None` when there is none or the table does not exist.
fn read_pending(
    engine: &mut dyn Engine,
    descriptor: &Descriptor,
) -> Result<Option<PendingDbRestore>, DbError> {
    let tables = engine.reflect()?;
    let Some(table) = tables.iter().find(|t| t.name == STATE_TABLE) else {
        return Ok(None);
    };
    // A table of that name that is not sitepack's (the application's own) is never
    // read or written as if it were.
    let ours = STATE_COLUMNS
        .iter()
        .all(|name| table.columns.iter().any(|c| c.name == *name))
        && table.primary_key == [STATE_COLUMNS[0]];
    if !ours {
        return Err(DbError::Review {
            problem: format!(
                "the database's table {STATE_TABLE} is not sitepack's (sitepack's has the \
                 columns {}, the first its primary key): nothing was changed; rename that \
                 table, and sitepack makes its own again",
                STATE_COLUMNS.join(", ")
            ),
        });
    }
    let dialect = dialect_of(engine.kind());
    let query = RowQuery {
        table: STATE_TABLE.to_owned(),
        filter: Some(format!(
            "{} = {}",
            quote_ident("tenant"),
            dialect.placeholder(1)
        )),
        params: vec![Param::Text(tenant_key(descriptor))],
        order_by: Vec::new(),
    };
    let columns: Vec<Column> = STATE_COLUMNS
        .iter()
        .map(|name| Column {
            name: (*name).to_owned(),
            column_type: ColumnType {
                scalar: ScalarType::Text,
                array: false,
            },
            declared: "text".to_owned(),
            nullable: false,
            has_default: false,
        })
        .collect();
    let mut found = None;
    engine.for_each_row(&query, &columns, &mut |values| {
        let text = |i: usize| {
            values
                .get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let snapshot = text(1);
        if !is_snapshot_name(&snapshot) {
            return Err(DbError::Review {
                problem: format!(
                    "the database's {STATE_TABLE} row of this tenant names {snapshot:?} as its \
                     snapshot, which is not a snapshot name sitepack writes (restore-….zip, \
                     one file name): nothing was changed; that row was not written by \
                     sitepack — delete it, after checking the tenant's rows"
                ),
            });
        }
        found = Some(PendingDbRestore {
            tenant: text(0),
            snapshot_present: snapshots_dir(descriptor).join(&snapshot).is_file(),
            snapshot,
            snapshot_sha256: text(2),
            mode: text(3),
            archive: text(4),
            started_at: text(5),
            marker_lost: false,
        });
        Ok(())
    })?;
    Ok(found)
}

/// The tenant's pending restore, changing nothing: the database's row (a read-only
/// snapshot), else the `.committed` copy of a committed restore whose row was lost
/// ([`PendingDbRestore::marker_lost`]; the next [`settle`] writes it back).
pub fn pending_restore(descriptor: &Descriptor) -> Result<Option<PendingDbRestore>, DbError> {
    refuse_another_owner(descriptor)?;
    if let Some(pending) = database_pending(descriptor)? {
        return Ok(Some(pending));
    }
    let committed = committed_without_row(descriptor, None)?;
    match committed.as_slice() {
        [] => Ok(None),
        [one] => {
            let mut pending = read_committed_copy(descriptor, one)?;
            pending.marker_lost = true;
            Ok(Some(pending))
        }
        several => Err(several_committed(descriptor, several)),
    }
}

/// The finished snapshots with a `.committed` copy other than `pending`'s, by name.
fn committed_without_row(
    descriptor: &Descriptor,
    pending: Option<&PendingDbRestore>,
) -> Result<Vec<String>, DbError> {
    let dir = snapshots_dir(descriptor);
    let mut names: Vec<String> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| is_finished_snapshot(name))
            .filter(|name| pending.is_none_or(|p| p.snapshot != *name))
            .filter(|name| committed_copy(descriptor, name).is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(DbError::io("read", &dir, e)),
    };
    names.sort();
    Ok(names)
}

fn several_committed(descriptor: &Descriptor, several: &[String]) -> DbError {
    DbError::Review {
        problem: format!(
            "the snapshots {} in {} belong to restores that committed, but the database no \
             longer records them as pending ({STATE_TABLE}'s rows were deleted, or the table \
             dropped): nothing tells which one to go back to, and nothing was changed. Each \
             holds the tenant's rows from before its restore (secrets included): move all but \
             the one to settle out of that directory, then `sitepack revert` or `sitepack \
             keep` the site",
            several.join(", "),
            snapshots_dir(descriptor).display()
        ),
    }
}

/// The tenant's row of [`STATE_TABLE`] (a read-only snapshot of the database).
fn database_pending(descriptor: &Descriptor) -> Result<Option<PendingDbRestore>, DbError> {
    // Writable when it may be: a SQLite file whose writer was killed mid-commit is rolled
    // back only by a connection that may write (a read-only one cannot read it at all).
    let mut engine: Box<dyn Engine> = match connect_writable(descriptor) {
        Ok(engine) => engine,
        Err(_) => connect(descriptor)?,
    };
    engine.begin_snapshot()?;
    let found = read_pending(engine.as_mut(), descriptor);
    let ended = engine.end_snapshot();
    let found = found?;
    ended?;
    Ok(found)
}

/// The extension of a snapshot's copy of its marker, `restore-….zip.committed`.
const COMMITTED: &str = "committed";

/// Whether `name` (in the snapshots directory) is a finished snapshot, not a temporary
/// file or staging directory of one being written, nor a marker's copy.
fn is_finished_snapshot(name: &str) -> bool {
    name.starts_with("restore-") && !is_committed_copy(name)
}

fn is_committed_copy(name: &str) -> bool {
    Path::new(name).extension().is_some_and(|e| e == COMMITTED)
}

/// The copy of the marker of the restore whose snapshot is `snapshot`: written once the
/// restore has committed, removed inside the transaction of its `keep` or `revert`
/// (just before `COMMIT`), so that it says "committed and not yet settled" whatever
/// happens to the database's row. A snapshot without a row but with its copy belongs
/// to a committed restore whose marker was lost (its row deleted, the table dropped);
/// without either, to a restore that never committed.
fn committed_copy(descriptor: &Descriptor, snapshot: &str) -> PathBuf {
    snapshots_dir(descriptor).join(format!("{snapshot}.{COMMITTED}"))
}

fn write_committed_copy(
    descriptor: &Descriptor,
    pending: &PendingDbRestore,
) -> Result<(), DbError> {
    // Whole or not at all: a torn copy would stop every later command.
    files::write_json_atomically(&committed_copy(descriptor, &pending.snapshot), pending)
}

fn remove_committed_copy(descriptor: &Descriptor, snapshot: &str) -> Result<(), DbError> {
    let path = committed_copy(descriptor, snapshot);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DbError::io("remove", &path, e)),
        _ => Ok(()),
    }
}

/// Reads the pending restore and removes the snapshot files no pending restore names
/// (and temporary ones): call it holding the [`ReviewLock`].
///
/// A snapshot without the database's row but with its `.committed` copy (see
/// the module's first paragraph) is never removed: its restore committed, and the snapshot is its
/// way back. Its marker is written back (the table made again if it was dropped) and it
/// is the pending restore ([`PendingDbRestore::marker_lost`]); several such snapshots
/// are an error naming them.
pub fn settle(descriptor: &Descriptor, _lock: &ReviewLock) -> Result<Settled, DbError> {
    let mut pending = database_pending(descriptor)?;
    files::remove_orphans(descriptor)?;
    let journals = files::journals(descriptor)?;
    // A revert's files first: committed when its restore is no longer pending (the
    // revert deleted the marker and its copy in its transaction).
    let (mut files_finished, files_unfinished) =
        settle_files(descriptor, &journals, FilesStep::Revert, |record| {
            pending
                .as_ref()
                .is_none_or(|p| p.snapshot != record.snapshot)
                && !committed_copy(descriptor, &record.snapshot).is_file()
        })?;
    if let Some(pending) = &pending
        && pending.snapshot_present
        && !committed_copy(descriptor, &pending.snapshot).is_file()
    {
        // Killed between the restore's COMMIT and the copy: written now.
        write_committed_copy(descriptor, pending)?;
    }
    let dir = snapshots_dir(descriptor);
    let mut removed = Vec::new();
    let entries: Vec<fs::DirEntry> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .collect::<Result<_, _>>()
            .map_err(|e| DbError::io("read", &dir, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(DbError::io("read", &dir, e)),
    };
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if pending
            .as_ref()
            .is_some_and(|p| p.snapshot == name || committed_copy(descriptor, &p.snapshot) == path)
        {
            continue;
        }
        if is_committed_copy(&name) {
            // Its snapshot's fate is decided with the snapshot; a copy left alone (its
            // snapshot removed by keep or revert) goes.
            let snapshot = name.trim_end_matches(&format!(".{COMMITTED}"));
            if !dir.join(snapshot).is_file() {
                remove_committed_copy(descriptor, snapshot)?;
            }
            continue;
        }
        if is_finished_snapshot(&name) && committed_copy(descriptor, &name).is_file() {
            // A committed restore's: decided below.
            continue;
        }
        if journals
            .iter()
            .any(|r| r.step == FilesStep::Revert && r.snapshot == name)
        {
            // A committed revert whose files are not all in yet: removed once they are.
            continue;
        }
        let result = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        result.map_err(|e| DbError::io("remove the stale snapshot", &path, e))?;
        files::remove_metadata(descriptor, &name)?;
        // A restore that never committed (killed, or rolled back without its own
        // clean-up): the database was never changed; said in the audit log.
        let details = sitepack_site::RecoverDetails {
            restore_id: Some(name.clone()),
            interrupted: Some(sitepack_site::Interrupted::RestoreBeforeChanges),
            paths_restored: Some(0),
            ..sitepack_site::RecoverDetails::default()
        };
        // A log that cannot be written does not stop the clean-up (the caller's own
        // event will warn about the same log).
        let _ = sitepack_site::record_audit_event(
            &descriptor.state_dir,
            sitepack_site::Outcome::Ok,
            sitepack_site::Details::Recover(details),
        );
        removed.push(name);
    }
    let committed = committed_without_row(descriptor, pending.as_ref())?;
    match (pending.is_some(), committed.as_slice()) {
        (_, []) => {}
        (false, [one]) => pending = Some(adopt(descriptor, one)?),
        (_, several) => return Err(several_committed(descriptor, several)),
    }
    let restore_files = settle_files(descriptor, &journals, FilesStep::Restore, |record| {
        pending
            .as_ref()
            .is_some_and(|p| p.snapshot == record.snapshot)
    })?;
    files_finished.extend(restore_files.0);
    Ok(Settled {
        pending,
        removed,
        files_finished,
        files_unfinished: files_unfinished.or(restore_files.1),
    })
}

/// Says that the rows were `done` but the uploaded files not all written, and what to do.
fn unfinished(descriptor: &Descriptor, done: &str, error: &DbError) -> String {
    let site = descriptor.path.display();
    let undo = if done == "restored" {
        format!(", or `sitepack revert {site}` undoes the restore, rows and files")
    } else {
        String::new()
    };
    format!(
        "the rows were {done} (committed), but the uploaded files could not all be written \
         ({error}); fix that, then `sitepack status {site}` finishes them{undo}"
    )
}

/// The staged files of `step`: applied when their transaction committed (`committed`
/// says so from the database's marker), discarded when it never did. A revert's
/// snapshot goes once its files are in.
fn settle_files(
    descriptor: &Descriptor,
    journals: &[StagedFiles],
    step: FilesStep,
    committed: impl Fn(&StagedFiles) -> bool,
) -> Result<(Vec<FinishedFiles>, Option<String>), DbError> {
    let mut finished = Vec::new();
    let mut unfinished_files = None;
    for record in journals.iter().filter(|r| r.step == step) {
        if !committed(record) {
            files::discard(descriptor, record)?;
            continue;
        }
        match files::apply(descriptor, record) {
            Ok(applied) => {
                if step == FilesStep::Revert {
                    remove_snapshot_named(descriptor, &record.snapshot)?;
                }
                finished.push(FinishedFiles {
                    snapshot: record.snapshot.clone(),
                    step,
                    applied,
                });
            }
            Err(error) => {
                let done = match step {
                    FilesStep::Restore => "restored",
                    FilesStep::Revert => "reverted",
                };
                unfinished_files = Some(unfinished(descriptor, done, &error));
            }
        }
    }
    Ok((finished, unfinished_files))
}

/// The `.committed` copy of the marker of `snapshot`, which must name it and the tenant.
fn read_committed_copy(
    descriptor: &Descriptor,
    snapshot: &str,
) -> Result<PendingDbRestore, DbError> {
    let path = committed_copy(descriptor, snapshot);
    let text = fs::read(&path).map_err(|e| DbError::io("read", &path, e))?;
    let mut pending: PendingDbRestore =
        serde_json::from_slice(&text).map_err(|e| DbError::Review {
            problem: format!(
                "{} is not the record sitepack wrote of the restore of {snapshot} ({e}): \
                 nothing was changed; move both files out of that directory to go on",
                path.display()
            ),
        })?;
    if pending.snapshot != snapshot || pending.tenant != tenant_key(descriptor) {
        return Err(DbError::Review {
            problem: format!(
                "{} records another snapshot or tenant than {snapshot} of {}: nothing was \
                 changed; move both files out of that directory to go on",
                path.display(),
                tenant_key(descriptor)
            ),
        });
    }
    pending.snapshot_present = true;
    Ok(pending)
}

/// Writes back the marker of the committed restore whose snapshot is `snapshot`, from
/// its `.committed` copy, in a transaction of its own (making the table again if it was
/// dropped): the restore is pending again, for `keep` or `revert`.
fn adopt(descriptor: &Descriptor, snapshot: &str) -> Result<PendingDbRestore, DbError> {
    let mut pending = read_committed_copy(descriptor, snapshot)?;
    pending.snapshot_present = true;
    pending.marker_lost = true;
    let mut engine = connect_writable(descriptor)?;
    engine.begin_write()?;
    let inserted = create_state_table(engine.as_mut(), descriptor)
        .and_then(|()| insert_marker(engine.as_mut(), descriptor, &pending));
    match inserted.and_then(|()| engine.commit()) {
        Ok(()) => Ok(pending),
        Err(error) => {
            let _ = engine.rollback();
            Err(error)
        }
    }
}

/// What a command that changes nothing says of uploaded files still to apply (a restore
/// or revert stopped after its commit), without applying them.
pub fn files_waiting(descriptor: &Descriptor) -> Result<Option<String>, DbError> {
    Ok(files::journals(descriptor)?.first().map(|record| {
        format!(
            "the uploaded files of restore {} are not all in place yet: run `sitepack status \
             {}` to finish them first",
            record.snapshot,
            descriptor.path.display()
        )
    }))
}

/// The refusal of a restore while `pending` is under review, saying what to do.
#[must_use]
pub fn pending_error(descriptor: &Descriptor, pending: &PendingDbRestore) -> DbError {
    let file = descriptor.path.display();
    DbError::Review {
        problem: format!(
            "a restore of site {} ({}, of {} at {}) is pending review in the database: \
             `sitepack keep {file}` to accept it or `sitepack revert {file}` to undo it first",
            descriptor.site.id, pending.tenant, pending.archive, pending.started_at
        ),
    }
}

/// Restores `archive` as [`apply_restore`] does, under review: the snapshot and the
/// pending marker as the module says. Refused (nothing changed) while a restore of the
/// tenant is pending. Call it holding the [`ReviewLock`].
pub fn restore_for_review(
    descriptor: &Descriptor,
    plan: &RestorePlan,
    archive: &Archive,
    archive_name: &str,
    with_files: bool,
    _lock: &ReviewLock,
) -> Result<ReviewedRestore, DbError> {
    let scope = archive.manifest()?.scope.clone();
    let files_area = if with_files {
        files::restored_area(descriptor, archive)?
    } else {
        None
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    let snapshot_name = format!("restore-{stamp}-{}.zip", std::process::id());
    // Staged before the transaction: once it commits, only applying them is left.
    let staged = match &files_area {
        Some(area) => Some(files::stage(
            descriptor,
            archive,
            area,
            &snapshot_name,
            FilesStep::Restore,
            plan.mode == Mode::Replace,
        )?),
        None => None,
    };
    let discard_staged = || {
        if let Some(staged) = &staged {
            let _ = files::discard(descriptor, staged);
        }
    };
    let mut engine = match connect_writable(descriptor) {
        Ok(engine) => engine,
        Err(error) => {
            discard_staged();
            return Err(error);
        }
    };
    // Committed on its own first: the table is there whether the restore commits or
    // not, so its absence later means it was dropped, never that a first restore rolled
    // back (see `settle`).
    let created = engine
        .begin_write()
        .and_then(|()| create_state_table(engine.as_mut(), descriptor));
    if let Err(error) = created.and_then(|()| engine.commit()) {
        let _ = engine.rollback();
        discard_staged();
        return Err(error);
    }
    let mut hooks = ReviewHooks {
        descriptor,
        archive,
        scope,
        mode: plan.mode,
        archive_name,
        snapshot_name: &snapshot_name,
        with_files: files_area.is_some(),
        snapshot: None,
        pending: None,
    };
    let summary = apply_restore(engine.as_mut(), descriptor, plan, archive, &mut hooks);
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            // Rolled back: the snapshot and the staged files are no one's.
            if let Some((path, _)) = &hooks.snapshot {
                let _ = fs::remove_file(path);
            }
            let _ = files::remove_metadata(descriptor, &snapshot_name);
            discard_staged();
            return Err(error);
        }
    };
    sitepack_format::failpoint::hit("db-restore:committed");
    let (Some((snapshot_path, _)), Some(pending)) = (hooks.snapshot, hooks.pending) else {
        return Err(DbError::Review {
            problem: "the restore committed without its snapshot (a bug)".to_owned(),
        });
    };
    // Committed: a copy that cannot be written now is written by the next command
    // (`settle`), while the database's row says the restore is pending.
    let _ = write_committed_copy(descriptor, &pending);
    // An error here leaves the journal: the next command applies the files again.
    let (files, files_unfinished) = match staged.map(|staged| files::apply(descriptor, &staged)) {
        None => (None, None),
        Some(Ok(applied)) => (Some(applied), None),
        Some(Err(error)) => (
            None,
            Some(format!(
                "{}; the restore is pending review",
                unfinished(descriptor, "restored", &error)
            )),
        ),
    };
    Ok(ReviewedRestore {
        summary,
        files,
        files_unfinished,
        pending,
        snapshot_path,
    })
}

struct ReviewHooks<'a> {
    descriptor: &'a Descriptor,
    archive: &'a Archive,
    scope: sitepack_format::Scope,
    mode: Mode,
    archive_name: &'a str,
    /// The snapshot's file name.
    snapshot_name: &'a str,
    /// Whether the snapshot holds the uploaded files of the archive's scope too.
    with_files: bool,
    /// The snapshot written (its path and SHA-256).
    snapshot: Option<(PathBuf, String)>,
    pending: Option<PendingDbRestore>,
}

impl RestoreHooks for ReviewHooks<'_> {
    fn before_changes(
        &mut self,
        engine: &mut dyn WriteEngine,
        tables: &[ScopeTable],
    ) -> Result<(), DbError> {
        let key = tenant_key(self.descriptor);
        if engine.kind() == EngineKind::Postgresql {
            let lock_key = format!("sitepack:{}:{key}", engine.schema().unwrap_or_default());
            let got = engine.exists(
                "taking the tenant's restore lock",
                "SELECT 1 WHERE pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[SqlValue::Text(lock_key)],
            )?;
            if !got {
                return Err(DbError::Review {
                    problem: format!(
                        "another restore of site {} ({key}) is running on this database: \
                         nothing was changed; wait for it, then keep or revert it",
                        self.descriptor.site.id
                    ),
                });
            }
        }
        if let Some(pending) = read_pending(engine, self.descriptor)? {
            return Err(pending_error(self.descriptor, &pending));
        }
        let written = write_snapshot(
            engine,
            self.descriptor,
            self.archive,
            &self.scope,
            tables,
            self.snapshot_name,
            self.with_files,
        )?;
        if self.with_files {
            files::record_metadata(self.descriptor, self.archive, self.snapshot_name)?;
        }
        self.snapshot = Some(written);
        Ok(())
    }

    fn before_commit(
        &mut self,
        engine: &mut dyn WriteEngine,
        _summary: &RestoreSummary,
    ) -> Result<(), DbError> {
        let Some((path, sha256)) = &self.snapshot else {
            return Err(DbError::Review {
                problem: "no snapshot was taken before the restore (a bug)".to_owned(),
            });
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pending = PendingDbRestore {
            tenant: tenant_key(self.descriptor),
            snapshot: name,
            snapshot_sha256: sha256.clone(),
            mode: match self.mode {
                Mode::Replace => "replace",
                Mode::Merge => "merge",
            }
            .to_owned(),
            archive: self.archive_name.to_owned(),
            started_at: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            snapshot_present: true,
            marker_lost: false,
        };
        insert_marker(engine, self.descriptor, &pending)?;
        sitepack_format::failpoint::hit("db-restore:snapshot-written");
        self.pending = Some(pending);
        Ok(())
    }
}

/// Inserts `pending` as the tenant's row of [`STATE_TABLE`].
fn insert_marker(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    pending: &PendingDbRestore,
) -> Result<(), DbError> {
    let dialect = engine.dialect();
    let placeholders: Vec<String> = (1..=STATE_COLUMNS.len())
        .map(|n| dialect.placeholder(n))
        .collect();
    let columns: Vec<String> = STATE_COLUMNS.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        qualified_state(descriptor),
        columns.join(", "),
        placeholders.join(", ")
    );
    let values = [
        &pending.tenant,
        &pending.snapshot,
        &pending.snapshot_sha256,
        &pending.mode,
        &pending.archive,
        &pending.started_at,
    ]
    .map(|v| SqlValue::Text(v.clone()));
    engine.execute("recording the pending restore", &sql, &values)?;
    Ok(())
}

fn create_state_table(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
) -> Result<(), DbError> {
    let columns: Vec<String> = STATE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let key = if i == 0 { " PRIMARY KEY" } else { "" };
            format!("{} TEXT NOT NULL{key}", quote_ident(c))
        })
        .collect();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        qualified_state(descriptor),
        columns.join(", ")
    );
    engine.execute("creating sitepack's restore state table", &sql, &[])?;
    Ok(())
}

/// Writes the tenant's rows of `tables`, as they are now, as a sitepack archive of the
/// archive's scope into the snapshots directory (temporary name, fsync, rename, fsync of
/// the directory); its path and SHA-256.
fn write_snapshot(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    archive: &Archive,
    scope: &sitepack_format::Scope,
    tables: &[ScopeTable],
    name: &str,
    with_files: bool,
) -> Result<(PathBuf, String), DbError> {
    let internal = descriptor.state_dir.join(INTERNAL_DIR);
    let dir = internal.join(SNAPSHOTS_DIR);
    files::make_private_dir(&dir)?;
    let staging = tempfile::Builder::new()
        .prefix("snapshot-")
        .tempdir_in(&dir)
        .map_err(|e| DbError::io("create a staging directory in", &dir, e))?;
    let archived = crate::restore::archive_schema(archive)?;
    // Kept whole: a revert puts back exactly these rows, secrets included.
    let policy = SecretPolicy::keeping_rows_whole();
    let mut schema_tables = Vec::with_capacity(tables.len());
    let mut entries: Vec<TableEntry> = Vec::with_capacity(tables.len());
    for table in tables {
        let from = archived.tables.iter().find(|t| t.name == table.table);
        let path: ArchivePath =
            table_path(&table.table)
                .parse()
                .map_err(|e: sitepack_format::FormatError| DbError::Plan {
                    problem: format!("table \"{}\" cannot be snapshotted: {e}", table.table),
                })?;
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let entry = encode_table(&path, &names, &policy, 1, staging.path(), |rows| {
            engine.for_each_row(&table.query, &table.columns, &mut |mut values| {
                rows.write_row(&mut values)?;
                Ok(())
            })
        })?;
        schema_tables.push(Table {
            name: table.table.clone(),
            role: from.map_or(TableRole::Tenant, |t| t.role),
            columns: table.columns.clone(),
            primary_key: from.map(|t| t.primary_key.clone()).unwrap_or_default(),
            unique: from.map(|t| t.unique.clone()).unwrap_or_default(),
            foreign_keys: from.map(|t| t.foreign_keys.clone()).unwrap_or_default(),
            rows: entry.rows(),
        });
        entries.push(entry);
    }
    let schema = DatabaseSchema {
        engine: engine.kind(),
        engine_version: engine.version(),
        // The descriptor's tenant, whose rows these are (the archive's may be another's,
        // restored `--as` this one), held as the archive's column holds it.
        tenant: sitepack_format::database::Tenant {
            column: descriptor.tenant_column.clone(),
            value: crate::restore::tenant_value_like(&descriptor.tenant, &archived.tenant.value),
            table: archived.tenant.table.clone(),
        },
        tables: schema_tables,
        skipped: archived.skipped.clone(),
    };
    let db_dir = staging.path().join(DB_DIR);
    fs::create_dir_all(&db_dir).map_err(|e| DbError::io("create", &db_dir, e))?;
    write_json(&staging.path().join("site.json"), &descriptor.site_json())?;
    let schema_value = serde_json::to_value(&schema).map_err(|e| DbError::Query {
        what: "writing the snapshot's db/schema.json".into(),
        reason: e.to_string(),
    })?;
    write_json(&staging.path().join(DB_SCHEMA_PATH), &schema_value)?;
    // The uploads of the archive's scope as they are, when the restore changes them: a
    // revert puts them back with the rows.
    // Never through a link (one swapped in since the checks included).
    let uploads = match (&descriptor.files_dir, with_files) {
        (Some(uploads), true) => {
            fs::create_dir_all(uploads).map_err(|e| DbError::io("create", uploads, e))?;
            files::open_uploads(descriptor)?
        }
        _ => None,
    };
    let site = Site::open_database_with(staging.path(), uploads, &descriptor.state_dir)
        .map_err(|e| DbError::from(Box::new(e)))?
        .with_tables(entries);
    let final_path = dir.join(name);
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-restore-")
        .tempfile_in(&dir)
        .map_err(|e| DbError::io("create a temporary snapshot in", &dir, e))?;
    let mut options = CreateOptions::new(scope.clone());
    options.options.files = with_files;
    let summary = sitepack_writer::write_archive(
        &site,
        &options,
        file.as_file_mut(),
        &final_path,
        &NoProgress,
    )
    .map_err(|e| DbError::from(Box::new(e)))?;
    file.as_file_mut()
        .flush()
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| DbError::io("write", file.path().to_path_buf(), e))?;
    file.persist(&final_path)
        .map_err(|e| DbError::io("rename the snapshot into", &final_path, e.error))?;
    fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DbError::io("sync", &dir, e))?;
    drop(staging);
    Ok((final_path, summary.archive_sha256.to_string()))
}

fn write_json(path: &Path, value: &Value) -> Result<(), DbError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| DbError::Query {
        what: format!("writing {}", path.display()),
        reason: e.to_string(),
    })?;
    text.push('\n');
    fs::write(path, text).map_err(|e| DbError::io("write", path, e))
}

fn no_pending(descriptor: &Descriptor) -> DbError {
    DbError::Review {
        problem: format!(
            "no restore of site {} is pending review (the database holds no row of {STATE_TABLE} for its tenant): nothing to keep or revert",
            descriptor.site.id
        ),
    }
}

/// Deletes the tenant's row of [`STATE_TABLE`] in the current transaction; an error
/// when there was none (another command settled it first).
fn delete_marker(engine: &mut dyn WriteEngine, descriptor: &Descriptor) -> Result<(), DbError> {
    let sql = format!(
        "DELETE FROM {} WHERE {} = {}",
        qualified_state(descriptor),
        quote_ident("tenant"),
        engine.dialect().placeholder(1)
    );
    let deleted = engine.execute(
        "settling the pending restore",
        &sql,
        &[SqlValue::Text(tenant_key(descriptor))],
    )?;
    if deleted == 1 {
        Ok(())
    } else {
        Err(no_pending(descriptor))
    }
}

/// Accepts the pending restore: its marker is deleted, then its snapshot. Call it
/// holding the [`ReviewLock`].
pub fn keep(descriptor: &Descriptor, lock: &ReviewLock) -> Result<PendingDbRestore, DbError> {
    let settled = settle(descriptor, lock)?;
    if let Some(problem) = settled.files_unfinished {
        return Err(DbError::Review { problem });
    }
    let Some(pending) = settled.pending else {
        return Err(no_pending(descriptor));
    };
    let mut engine = connect_writable(descriptor)?;
    engine.begin_write()?;
    let deleted = delete_marker(engine.as_mut(), descriptor)
        .and_then(|()| remove_committed_copy(descriptor, &pending.snapshot));
    let committed = deleted.and_then(|()| engine.commit());
    if let Err(error) = committed {
        let _ = engine.rollback();
        return Err(error);
    }
    remove_snapshot(descriptor, &pending)?;
    Ok(pending)
}

fn remove_snapshot(descriptor: &Descriptor, pending: &PendingDbRestore) -> Result<(), DbError> {
    remove_snapshot_named(descriptor, &pending.snapshot)
}

fn remove_snapshot_named(descriptor: &Descriptor, snapshot: &str) -> Result<(), DbError> {
    files::remove_metadata(descriptor, snapshot)?;
    let path = snapshots_dir(descriptor).join(snapshot);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(DbError::io("remove the snapshot", &path, e))
        }
        _ => Ok(()),
    }
}

/// What [`revert`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Reverted {
    /// The restore undone.
    pub pending: PendingDbRestore,
    /// The rows put back.
    pub summary: RestoreSummary,
    /// The uploaded files put back, when the restore changed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FilesApplied>,
}

/// Undoes the pending restore: the tables it changed are replaced from its snapshot and
/// its marker deleted, in one transaction; then the snapshot is removed. Call it holding
/// the [`ReviewLock`].
pub fn revert(descriptor: &Descriptor, lock: &ReviewLock) -> Result<Reverted, DbError> {
    let Some(pending) = settle(descriptor, lock)?.pending else {
        return Err(no_pending(descriptor));
    };
    // The restore's files that could not all be written: once the revert has committed,
    // it writes that area from the snapshot instead.
    let unfinished_restore: Vec<StagedFiles> = files::journals(descriptor)?
        .into_iter()
        .filter(|r| r.step == FilesStep::Restore && r.snapshot == pending.snapshot)
        .collect();
    let path = snapshots_dir(descriptor).join(&pending.snapshot);
    if !path.is_file() {
        return Err(DbError::Review {
            problem: format!(
                "the snapshot of the pending restore ({}) is not in this state directory ({}): \
                 revert it from the machine whose state directory holds it, or `sitepack keep` it",
                pending.snapshot,
                descriptor.state_dir.display()
            ),
        });
    }
    let archive =
        Archive::open_local_snapshot(&path).map_err(|e| DbError::ArchiveRead(Box::new(e)))?;
    let sha256 = archive
        .sha256()
        .map_err(|e| DbError::ArchiveRead(Box::new(e)))?
        .to_string();
    if sha256 != pending.snapshot_sha256 {
        return Err(DbError::Review {
            problem: format!(
                "the snapshot {} is not the one the pending restore recorded (SHA-256 {sha256}, \
                 recorded {}): it was changed; nothing was reverted",
                path.display(),
                pending.snapshot_sha256
            ),
        });
    }
    let mut engine = connect_writable(descriptor)?;
    let plan = plan_restore(engine.as_mut(), descriptor, &archive, Mode::Replace)?;
    // The snapshot's files (those of the restore's area as they were), staged before
    // the transaction.
    let staged = match files::restored_area(descriptor, &archive)? {
        Some(area) => Some(files::stage(
            descriptor,
            &archive,
            &area,
            &pending.snapshot,
            FilesStep::Revert,
            true,
        )?),
        None => None,
    };
    let mut hooks = |engine: &mut dyn WriteEngine| {
        delete_marker(engine, descriptor)?;
        // Last before COMMIT: if the COMMIT does not happen, the row says pending and
        // the next command writes the copy again.
        remove_committed_copy(descriptor, &pending.snapshot)
    };
    let summary = apply_restore(engine.as_mut(), descriptor, &plan, &archive, &mut hooks);
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            if let Some(staged) = &staged {
                let _ = files::discard(descriptor, staged);
            }
            return Err(error);
        }
    };
    sitepack_format::failpoint::hit("db-revert:committed");
    drop(archive);
    for record in &unfinished_restore {
        files::discard(descriptor, record)?;
    }
    // An error here leaves the journal: the next command applies the files again.
    let files = staged
        .map(|staged| files::apply(descriptor, &staged))
        .transpose()
        .map_err(|error| DbError::FilesUnfinished {
            problem: unfinished(descriptor, "reverted", &error),
        })?;
    remove_snapshot(descriptor, &pending)?;
    Ok(Reverted {
        pending,
        summary,
        files,
    })
}

fn audit_mode(mode: Mode) -> sitepack_site::RestoreMode {
    match mode {
        Mode::Replace => sitepack_site::RestoreMode::Replace,
        Mode::Merge => sitepack_site::RestoreMode::Merge,
    }
}

fn audit_mode_named(mode: &str) -> Option<sitepack_site::RestoreMode> {
    match mode {
        "replace" => Some(sitepack_site::RestoreMode::Replace),
        "merge" => Some(sitepack_site::RestoreMode::Merge),
        _ => None,
    }
}

/// Records a restore's `restore` event in the state directory's audit log (ok or
/// failed); a warning when the log could not be written.
#[must_use]
pub fn record_restore(
    descriptor: &Descriptor,
    archive: &Archive,
    plan: &RestorePlan,
    result: &Result<ReviewedRestore, DbError>,
) -> Option<String> {
    let mut details = sitepack_site::RestoreDetails {
        archive: Some(archive.name().to_owned()),
        archive_sha256: archive.sha256().ok(),
        scope: Some(plan.scope.clone()),
        mode: Some(audit_mode(plan.mode)),
        files: Some(false),
        ..sitepack_site::RestoreDetails::default()
    };
    let outcome = match result {
        Ok(done) => {
            details.files = Some(done.files.is_some() || done.files_unfinished.is_some());
            details.restore_id = Some(done.pending.snapshot.clone());
            details.added = Some(done.summary.written);
            details.deleted = Some(done.summary.deleted);
            details.snapshot = Some(done.snapshot_path.display().to_string());
            // The rows committed (pending review) and the files did not all follow.
            details.error.clone_from(&done.files_unfinished);
            if done.files_unfinished.is_some() {
                sitepack_site::Outcome::Failed
            } else {
                sitepack_site::Outcome::Ok
            }
        }
        Err(error) => {
            details.error = Some(error.to_string());
            if error.is_refusal() {
                sitepack_site::Outcome::Refused
            } else {
                sitepack_site::Outcome::Failed
            }
        }
    };
    sitepack_site::record_audit_event(
        &descriptor.state_dir,
        outcome,
        sitepack_site::Details::Restore(details),
    )
}

/// Records a refused restore (nothing changed) in the audit log.
#[must_use]
pub fn record_refused_restore(
    descriptor: &Descriptor,
    archive: &Archive,
    mode: Mode,
    reason: &str,
) -> Option<String> {
    let details = sitepack_site::RestoreDetails {
        archive: Some(archive.name().to_owned()),
        archive_sha256: archive.sha256().ok(),
        mode: Some(audit_mode(mode)),
        error: Some(reason.to_owned()),
        ..sitepack_site::RestoreDetails::default()
    };
    sitepack_site::record_audit_event(
        &descriptor.state_dir,
        sitepack_site::Outcome::Refused,
        sitepack_site::Details::Restore(details),
    )
}

/// Records a `keep` (`reverted` false) or `revert` event in the audit log.
#[must_use]
pub fn record_settled(
    descriptor: &Descriptor,
    reverted: bool,
    result: &Result<PendingDbRestore, DbError>,
) -> Option<String> {
    let mut details = sitepack_site::SettleDetails::default();
    let outcome = match result {
        Ok(pending) => {
            details.restore_id = Some(pending.snapshot.clone());
            details.archive = Some(pending.archive.clone());
            details.mode = audit_mode_named(&pending.mode);
            sitepack_site::Outcome::Ok
        }
        Err(error) => {
            details.error = Some(error.to_string());
            match error {
                DbError::Review { .. } | DbError::RestoreRefused { .. } => {
                    sitepack_site::Outcome::Refused
                }
                _ => sitepack_site::Outcome::Failed,
            }
        }
    };
    let details = if reverted {
        sitepack_site::Details::Revert(details)
    } else {
        sitepack_site::Details::Keep(details)
    };
    sitepack_site::record_audit_event(&descriptor.state_dir, outcome, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(tenant: &str) -> Descriptor {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.toml");
        fs::write(
            &path,
            format!(
                "[site]\nid = \"t\"\nname = \"T\"\nurl = \"https://t.example\"\n[database]\nurl = \"sqlite:t.db\"\ntenant_column = \"org_id\"\ntenant = {tenant}\n"
            ),
        )
        .unwrap();
        Descriptor::load(&path).unwrap()
    }

    #[test]
    fn a_tenant_spelled_as_text_or_integer_has_one_key() {
        assert_eq!(tenant_key(&descriptor("2")), "org_id=2");
        assert_eq!(tenant_key(&descriptor("\"2\"")), "org_id=2");
        assert_eq!(tenant_key(&descriptor("\"02\"")), "org_id=\"02\"");
        assert_eq!(tenant_key(&descriptor("\"acme\"")), "org_id=\"acme\"");
        assert_eq!(tenant_key(&descriptor("-7")), "org_id=-7");
    }

    #[test]
    fn only_sitepacks_own_snapshot_names_are_taken_from_a_marker() {
        assert!(is_snapshot_name("restore-20260101T000000Z-1.zip"));
        for name in [
            "/etc/passwd",
            "../restore-1.zip",
            "restore-../../x.zip",
            "restore-1.zip.committed",
            "restore-1",
            "x.zip",
            "restore-a\\b.zip",
        ] {
            assert!(!is_snapshot_name(name), "{name}");
        }
    }
}
