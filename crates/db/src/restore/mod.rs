//! Restoring a database archive (format 1.1) into a database site: the tenant's rows
//! written back into the live database, in one transaction.
//!
//! Two steps, so that a caller (the CLI's `sitepack restore SITE.toml`) can show the plan,
//! ask, and wrap the change in its own bookkeeping:
//!
//! - [`plan_restore`] reads the archive's `schema.json` and the live schema and reports
//!   **every** problem together ([`RestorePlan::refusals`]), changing nothing: the tenant
//!   (the archive's must be the descriptor's, unless written as it with fresh keys: see
//!   below), the schema (per table and column: a column
//!   the target added that is nullable or has a default is *defaulted*, one the target
//!   dropped is *discarded*, a generated one is left to the database; a missing table, a
//!   column added `NOT NULL` without default, a type that cannot hold the values are
//!   refused), the reference (master) rows (each must exist in the target by primary
//!   key: "create these first"; reference tables are never written), for a replace the
//!   rows outside the archive an `ON DELETE CASCADE`/`SET NULL` would reach, and per table
//!   how many rows the archive holds and how many of the tenant's rows the target holds
//!   now (those a replace deletes). The plan serializes (`--json`).
//! - [`apply_restore`] holds the archive's tables (PostgreSQL: `SHARE ROW EXCLUSIVE`, so
//!   the application's writes wait), checks again inside one transaction (PostgreSQL:
//!   `BEGIN` … `COMMIT` on the caller's connection; SQLite: `BEGIN IMMEDIATE`) and writes:
//!   - [`Mode::Replace`]: the tenant's rows of the archive's scope — exactly the rows the
//!     export's plan ([`crate::plan`]) selects, by the same queries — are deleted, children
//!     first, then the archive's rows are inserted, parents first. Rows of other tenants,
//!     reference tables and tables outside the archive are not touched.
//!   - [`Mode::Merge`]: each archive row is inserted, or updates the row with its primary
//!     key (`INSERT … ON CONFLICT (key) DO UPDATE`); the tenant's rows the archive lacks
//!     stay. A row whose key is that of a row outside the tenant's rows of the scope
//!     (another tenant's) is refused, never taken over.
//!
//!   On PostgreSQL a replace changes only the rows that differ: the archive's rows are
//!   copied into temporary tables (`COPY`), then the tenant's rows the archive lacks are
//!   deleted, its new rows inserted and the rows whose values differ updated; equal rows
//!   are not written at all (see `difference`). When the database refuses that order (a
//!   key that is not `DEFERRABLE`, a unique value moved between rows), it is rolled back
//!   to a savepoint and the rows are deleted and inserted instead — as on SQLite.
//!   Rows stream from the archive (verified as they are read) and are written in batches
//!   (`COPY` for a replace on PostgreSQL, one prepared `INSERT` per row on SQLite,
//!   multi-row upserts for a merge): memory does not grow with a table.
//!   The database's constraints stay on (foreign keys deferred to the end where the
//!   engine allows it, never disabled, and checked before the commit so that a violation
//!   is named); PostgreSQL sequences and identity columns are moved past the restored
//!   keys (only ever forward). The caller's [`RestoreHooks`] run inside the same
//!   transaction: `before_changes` with the tables about to change as they are (a
//!   pre-restore snapshot), `before_commit` just before `COMMIT` (a pending marker). Any error
//!   rolls everything back: the database is as it was, and the error names the table,
//!   the row's key and the column or constraint.
//!
//! Values come back exactly: every type of the format's encoding table (§15.4) is bound as
//! the value the export read (see `values`).
//!
//! Another tenant's archive ([`plan_restore_with`], [`RestoreOptions::as_tenant`]: the
//! CLI's `--allow-other-site --as ID`, and `init NEW.toml --from-template`): its rows are
//! written as the descriptor's tenant, which `as_tenant` must name, with fresh keys
//! (`rekey`: the tenant column and the tenant table's key hold the new tenant; one-column
//! integer primary keys are moved above the target's largest by one offset per table,
//! one-column UUID ones replaced by a UUID v5 of a namespace drawn for the restore; every
//! foreign key column that references them follows; text keys, reference tables and the
//! references to them are kept). The plan lists the columns rewritten
//! ([`RestorePlan::rekeyed`]). A full archive only: a user's or a table's rows reference
//! rows of their tenant that are not in the archive. Every row then being new, a merge
//! adds the archive's rows beside the tenant's own (a row whose key is kept — a text key
//! — updates the tenant's row of that key, as any merge); a replace deletes the tenant's
//! rows of the scope first, as any replace. With [`RestoreOptions::new_tenant`] (`init`)
//! it is refused while the tenant holds any row of the archive's scope (its tenant table
//! row included), checked again inside the transaction.
//!
//! The CLI, its snapshot, keep/revert and locking are the caller's.

use serde::Serialize;
use serde_json::{Map, Value};
use sitepack_format::PAYLOAD_DIR;
use sitepack_format::database::{
    DB_SCHEMA_PATH, DatabaseSchema, EngineKind, TableRole, TenantValue, table_path,
};
use sitepack_reader::Archive;

use crate::DbError;
use crate::engine::SequenceMove;

mod apply;
mod check;
mod difference;
mod rekey;
mod values;

pub use apply::{RestoreHooks, ScopeTable, apply_restore};
pub use check::{plan_restore, plan_restore_with};
pub(crate) use rekey::tenant_value_like;
pub use rekey::{KeyChange, RekeyedColumn, rekeyed_columns};

/// How a restore is asked for: [`plan_restore_with`]'s options (carried by the plan to
/// [`apply_restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Replace or merge.
    pub mode: Mode,
    /// Write an archive of another tenant as this one, with fresh keys (`--as`): it must
    /// be the descriptor's tenant (the descriptor names the tenant written to). `None`:
    /// the archive must be of the descriptor's tenant.
    pub as_tenant: Option<TenantValue>,
    /// Refuse unless the descriptor's tenant holds no row of the archive's scope (nor its
    /// tenant table row): a new tenant made from a template (`init`).
    pub new_tenant: bool,
}

impl RestoreOptions {
    /// A restore of the descriptor's own tenant in `mode`.
    #[must_use]
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            as_tenant: None,
            new_tenant: false,
        }
    }
}

/// What a restore does with the tenant's rows already in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The tenant's rows of the archive's scope are deleted, then the archive's inserted.
    Replace,
    /// Rows matched by primary key are updated, others inserted; none deleted.
    Merge,
}

/// What a restore would do, and every reason it cannot, found before anything changes.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    /// Replace or merge.
    pub mode: Mode,
    /// The engine the archive was read from.
    pub archive_engine: EngineKind,
    /// The engine written to.
    pub engine: EngineKind,
    /// The archive's tenant.
    pub tenant: TenantValue,
    /// `--as`: the tenant the rows are written as, with fresh keys ([`Self::rekeyed`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_tenant: Option<TenantValue>,
    /// The columns given fresh values (a restore `--as` another tenant), table by table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rekeyed: Vec<RekeyedColumn>,
    /// Refused unless the tenant holds none of the archive's scope's rows (`init`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub new_tenant: bool,
    /// The archive's scope (`full`, `table:NAME`, `user:ID`).
    pub scope: String,
    /// The archive's tables, parents first.
    pub tables: Vec<TablePlan>,
    /// Why the restore cannot be made (empty: it can). Every reason at once.
    pub refusals: Vec<Refusal>,
    /// What the restore may do but its revert could not undo, said before it is made (a
    /// merge whose revert, a replace, would be refused for these reasons: only `keep`
    /// would end its review).
    pub revert_refused: Vec<Refusal>,
}

impl RestorePlan {
    /// Whether the restore is refused.
    #[must_use]
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    /// The refusal as an error listing every reason, or `None` when there is none.
    #[must_use]
    pub fn refusal_error(&self) -> Option<DbError> {
        self.is_refused().then(|| DbError::RestoreRefused {
            reasons: self.refusals.iter().map(|r| r.message.clone()).collect(),
        })
    }

    /// The options the plan was made with.
    #[must_use]
    pub fn options(&self) -> RestoreOptions {
        RestoreOptions {
            mode: self.mode,
            as_tenant: self.as_tenant.clone(),
            new_tenant: self.new_tenant,
        }
    }

    /// The table called `name`.
    #[must_use]
    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// One table of the archive.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// The table.
    pub name: String,
    /// Its role in the archive (`reference` tables are checked, never written).
    pub role: TableRole,
    /// How many rows the archive holds.
    pub archive_rows: u64,
    /// How many of the tenant's rows of the archive's scope the target holds now: those a
    /// replace deletes (`None` for a reference table, or when the target cannot say).
    pub target_rows: Option<u64>,
    /// The columns that differ between the archive and the target (fine ones; the
    /// refused are in [`RestorePlan::refusals`]).
    pub columns: Vec<ColumnNote>,
}

/// A column that differs between the archive and the target, and is restored anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnNote {
    /// The column.
    pub column: String,
    /// How it differs.
    pub change: ColumnChange,
}

/// How a column differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ColumnChange {
    /// The target has it and the archive does not: nullable or with a default, the
    /// restored rows get its default (or NULL).
    Defaulted,
    /// The archive has it and the target does not: its values are left out.
    Discarded,
    /// The target's type holds every value of the archive's (`integer` into `numeric`).
    Widened {
        /// The archive's type.
        from: String,
        /// The target's type.
        to: String,
    },
    /// The archive's column was redacted as a secret (from some rows): those rows get
    /// NULL (a merge keeps the target's value).
    Redacted,
    /// The target computes it (a generated column): the archive's values are left out.
    Generated,
}

/// Why a restore cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// What kind of problem.
    pub kind: RefusalKind,
    /// The table concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The column concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The row concerned (`code="EUR"`), if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// The whole reason, with what to do.
    pub message: String,
}

/// The kinds of [`Refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    /// The archive is of another tenant (without `--as`), `--as` names another tenant
    /// than the descriptor, or the archive cannot be written as another tenant.
    Tenant,
    /// A new tenant (`init`) already holds rows.
    TenantNotEmpty,
    /// A table of the archive is missing from the target.
    MissingTable,
    /// A column of the target cannot be filled (`NOT NULL` without default, not in the
    /// archive).
    MissingColumn,
    /// A column's type in the target cannot hold the archive's values.
    Type,
    /// A reference row of the archive is not in the target.
    MissingReference,
    /// A table cannot be merged (no primary key).
    NoPrimaryKey,
    /// A replace would delete or change rows outside the archive through a foreign key's
    /// `ON DELETE CASCADE`, `SET NULL` or `SET DEFAULT`.
    Cascade,
    /// The target's tenant plan does not match the archive (a table the descriptor now
    /// excludes, a scope that cannot be planned).
    Plan,
}

/// What [`apply_restore`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreSummary {
    /// Per table written: rows deleted and rows written (inserted or updated).
    pub tables: Vec<TableSummary>,
    /// Rows deleted, added up.
    pub deleted: u64,
    /// Rows written, added up.
    pub written: u64,
    /// Rows already as the archive holds them, left as they were, added up.
    pub unchanged: u64,
    /// The sequences moved past the restored keys.
    pub sequences: Vec<SequenceMove>,
}

/// What was done to one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableSummary {
    /// The table.
    pub table: String,
    /// The tenant's rows deleted (replace).
    pub deleted: u64,
    /// The archive's rows written (inserted, or updated).
    pub written: u64,
    /// The archive's rows the tenant already held exactly so, left as they were (a
    /// replace on PostgreSQL changes only the rows that differ).
    pub unchanged: u64,
}

/// `site/db/schema.json` of `archive`, which must be a database archive.
pub(crate) fn archive_schema(archive: &Archive) -> Result<DatabaseSchema, DbError> {
    let manifest = archive.manifest()?;
    if !sitepack_format::database::is_database_archive(manifest) {
        return Err(DbError::Plan {
            problem: format!(
                "{} is not a database archive (no site/db/schema.json in a format 1.1 manifest): restore it into a site directory instead",
                archive.name()
            ),
        });
    }
    let bytes = archive.read_entry(&format!("{PAYLOAD_DIR}/{DB_SCHEMA_PATH}"))?;
    serde_json::from_slice(&bytes).map_err(|e| DbError::Query {
        what: format!(
            "reading {PAYLOAD_DIR}/{DB_SCHEMA_PATH} of {}",
            archive.name()
        ),
        reason: e.to_string(),
    })
}

/// Streams the rows of `table`'s entry, one JSON object each, to `row` (its line number
/// from 1 and the object); the entry is verified as it is read, and never held whole.
pub(crate) fn stream_rows(
    archive: &Archive,
    table: &str,
    row: &mut dyn FnMut(u64, Map<String, Value>) -> Result<(), DbError>,
) -> Result<u64, DbError> {
    let name = format!("{PAYLOAD_DIR}/{}", table_path(table));
    let mut sink = LineSink {
        table,
        partial: Vec::new(),
        line: 0,
        row,
        failure: None,
    };
    let copied = archive.copy_entry(&name, &mut sink);
    if let Some(failure) = sink.failure.take() {
        return Err(failure);
    }
    copied?;
    if !sink.partial.is_empty() {
        let rest = std::mem::take(&mut sink.partial);
        sink.take_line(&rest)?;
    }
    Ok(sink.line)
}

/// Splits an entry's bytes into lines as they arrive and hands each row on.
struct LineSink<'a> {
    table: &'a str,
    partial: Vec<u8>,
    line: u64,
    row: &'a mut dyn FnMut(u64, Map<String, Value>) -> Result<(), DbError>,
    failure: Option<DbError>,
}

impl LineSink<'_> {
    fn take_line(&mut self, bytes: &[u8]) -> Result<(), DbError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.line += 1;
        let object: Map<String, Value> =
            serde_json::from_slice(bytes).map_err(|e| DbError::RestoreRow {
                table: self.table.to_owned(),
                row: format!("#{}", self.line),
                problem: format!(
                    "the line is not a JSON object ({e}); the archive does not follow format 1.1: make it again from the database"
                ),
            })?;
        (self.row)(self.line, object)
    }
}

impl std::io::Write for LineSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("the restore stopped"));
        }
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let result = if self.partial.is_empty() {
                self.take_line(&rest[..end])
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                self.take_line(&line)
            };
            if let Err(error) = result {
                self.failure = Some(error);
                return Err(std::io::Error::other("the restore stopped"));
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `id=7`, `log_id=100, line=2`: a row of the archive named by its key (its line
/// when the table has none).
pub(crate) fn row_name(key: &[String], line: u64, row: &Map<String, Value>) -> String {
    if key.is_empty() {
        return format!("#{line}");
    }
    key.iter()
        .map(|c| format!("{c}={}", row.get(c).unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .join(", ")
}
