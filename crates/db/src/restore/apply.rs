//! Writing the archive's rows in one transaction: delete (replace), insert or upsert in
//! batches, sequences, the deferred constraints, the caller's hook, commit — or roll back.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use sitepack_format::database::{Column, TableRole};
use sitepack_reader::Archive;

use super::check::{Checked, check};
use super::difference::replace_by_difference;
use super::rekey::Rekey;
use super::values::bind;
use super::{
    Mode, RestoreOptions, RestorePlan, RestoreSummary, TableSummary, archive_schema, row_name,
    stream_rows,
};
use crate::descriptor::Descriptor;
use crate::engine::{SqlValue, WriteEngine};
use crate::sql::{Dialect, RowQuery, quote_ident};
use crate::{DbError, TableInfo};

/// Rows per `INSERT` at most.
const BATCH_ROWS: usize = 500;
/// Rows per `COPY` at most (a replace on an engine with a bulk path): few enough to hold
/// and to write again row by row when the database refuses one.
const COPY_ROWS: usize = 10_000;
/// Bound parameters per statement at most (SQLite allows 32,766, PostgreSQL 65,535).
const BATCH_PARAMS: usize = 30_000;
/// The savepoint around each batch: a failed batch is retried row by row to name the
/// row the database refuses.
const SAVEPOINT: &str = "sitepack_restore_batch";
/// The alias of the target table in an upsert.
const TARGET: &str = "sitepack_target";

/// One table a restore changes, as the target holds it: what a caller's snapshot reads
/// before the change ([`RestoreHooks::before_changes`]).
#[derive(Debug, Clone)]
pub struct ScopeTable {
    /// The table.
    pub table: String,
    /// Its columns in the target, typed as the export reads them.
    pub columns: Vec<Column>,
    /// The tenant's rows of the archive's scope (the rows a replace deletes), in key
    /// order: read them with [`crate::Engine::for_each_row`] on the same connection.
    pub query: RowQuery,
}

/// The caller's points inside the restore's transaction (the CLI: a pre-restore snapshot
/// and a pending marker). A closure `FnMut(&mut dyn WriteEngine) -> Result<(), DbError>`
/// is the `before_commit` alone.
pub trait RestoreHooks {
    /// After the checks, before the first change: `tables` are the tables about to
    /// change, as they are now (inside the transaction, so exactly what is replaced).
    fn before_changes(
        &mut self,
        engine: &mut dyn WriteEngine,
        tables: &[ScopeTable],
    ) -> Result<(), DbError> {
        let _ = (engine, tables);
        Ok(())
    }

    /// After every row is written and the constraints checked, just before `COMMIT`.
    fn before_commit(
        &mut self,
        engine: &mut dyn WriteEngine,
        summary: &RestoreSummary,
    ) -> Result<(), DbError>;
}

impl<F: FnMut(&mut dyn WriteEngine) -> Result<(), DbError>> RestoreHooks for F {
    fn before_commit(
        &mut self,
        engine: &mut dyn WriteEngine,
        _summary: &RestoreSummary,
    ) -> Result<(), DbError> {
        self(engine)
    }
}

/// Applies `plan` (made by [`super::plan_restore`] for the same archive, descriptor and
/// connection) in one transaction on `engine`, which the caller connected (a
/// [`crate::sqlite::SqliteEngine::open_writable`], a [`crate::postgres::PostgresEngine`]).
///
/// Every check of the plan is made again inside the transaction (the database may have
/// changed since): a refusal then is [`DbError::RestoreRefused`] and nothing is written.
/// `hooks` run inside the same transaction: `before_changes` once the checks pass,
/// `before_commit` last, with every row written and the constraints checked; their
/// errors roll back too. On any error the transaction is rolled
/// back and the database is as it was.
pub fn apply_restore(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    plan: &RestorePlan,
    archive: &Archive,
    hooks: &mut dyn RestoreHooks,
) -> Result<RestoreSummary, DbError> {
    if let Some(refused) = plan.refusal_error() {
        return Err(refused);
    }
    engine.begin_write()?;
    let written = write(engine, descriptor, &plan.options(), archive, hooks);
    match written {
        Ok(summary) => match engine.commit() {
            Ok(()) => Ok(summary),
            Err(error) => {
                // A failed COMMIT (SQLite: a deferred foreign key) leaves it open.
                let _ = engine.rollback();
                Err(error)
            }
        },
        Err(error) => {
            // The error says why; a failing rollback (a lost connection) rolls back anyway.
            let _ = engine.rollback();
            Err(error)
        }
    }
}

fn write(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    options: &RestoreOptions,
    archive: &Archive,
    hooks: &mut dyn RestoreHooks,
) -> Result<RestoreSummary, DbError> {
    let mode = options.mode;
    // The archive's tables are held first (PostgreSQL: no other session writes them
    // until COMMIT), so that what the checks see is what is changed.
    let schema = archive_schema(archive)?;
    let present: Vec<String> = engine.reflect()?.into_iter().map(|t| t.name).collect();
    let held: Vec<&str> = schema
        .tables
        .iter()
        .filter(|t| t.role != TableRole::Reference && present.contains(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    engine.lock_for_write(&held)?;
    let mut checked = check(engine, descriptor, archive, options)?;
    if let Some(refused) = checked.plan.refusal_error() {
        return Err(refused);
    }
    let written: Vec<&str> = checked
        .schema
        .tables
        .iter()
        .filter(|t| t.role != TableRole::Reference)
        .map(|t| t.name.as_str())
        .collect();
    let mut summary = RestoreSummary::default();
    let mut tables: Vec<TableSummary> = written
        .iter()
        .map(|name| TableSummary {
            table: (*name).to_owned(),
            ..TableSummary::default()
        })
        .collect();
    let scope: Vec<ScopeTable> = written
        .iter()
        .filter_map(|name| {
            Some(ScopeTable {
                table: (*name).to_owned(),
                columns: checked.scope_columns.get(*name)?.clone(),
                query: checked.scope_rows.get(*name)?.clone(),
            })
        })
        .collect();
    hooks.before_changes(engine, &scope)?;
    // Before the deletes: the fresh keys are above every key the target holds now.
    if let Some(tenant) = &checked.plan.as_tenant {
        checked.rekey = Some(Rekey::build(
            engine,
            &checked.schema,
            archive,
            &checked.plan.rekeyed,
            tenant,
        )?);
    }
    let by_difference = match mode {
        Mode::Replace => replace_by_difference(engine, &checked, archive, &written)?,
        Mode::Merge => None,
    };
    if let Some(changes) = by_difference {
        for (counts, changed) in tables.iter_mut().zip(changes) {
            counts.deleted = changed.deleted;
            counts.written = changed.inserted + changed.updated;
            counts.unchanged = changed.unchanged;
        }
    } else {
        if mode == Mode::Replace {
            // Children first: a linked table's rows are found through their parents,
            // which are still there.
            for (name, counts) in written.iter().zip(tables.iter_mut()).rev() {
                counts.deleted = delete_scope(engine, &checked, name)?;
            }
        }
        for (name, counts) in written.iter().zip(tables.iter_mut()) {
            counts.written = insert_rows(engine, &checked, archive, name, mode)?;
        }
    }
    for (name, counts) in written.iter().zip(&tables) {
        summary.deleted += counts.deleted;
        summary.written += counts.written;
        summary.unchanged += counts.unchanged;
        if let Some(info) = checked.live.get(*name) {
            summary.sequences.extend(engine.advance_sequences(info)?);
        }
    }
    // The written tables, and the tables whose rows reference them (a row outside the
    // archive may reference a row the replace deleted).
    let mut checked_tables: Vec<&str> = written.clone();
    for table in checked.live.values() {
        if !checked_tables.contains(&table.name.as_str())
            && table
                .foreign_keys
                .iter()
                .any(|fk| written.contains(&fk.table.as_str()))
        {
            checked_tables.push(&table.name);
        }
    }
    engine.check_constraints(&checked_tables)?;
    summary.tables = tables;
    hooks.before_commit(engine, &summary)?;
    Ok(summary)
}

/// Deletes the tenant's rows of `table` that the archive's scope covers: the rows the
/// export's plan selects.
fn delete_scope(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    table: &str,
) -> Result<u64, DbError> {
    let Some(query) = checked.scope_rows.get(table) else {
        return Ok(0);
    };
    let mut sql = format!("DELETE FROM {}", engine.qualified(table));
    if let Some(filter) = &query.filter {
        sql.push_str(" WHERE ");
        sql.push_str(filter);
    }
    let params: Vec<SqlValue> = query.params.iter().map(SqlValue::from).collect();
    engine.execute(
        &format!("deleting the tenant's rows of table \"{table}\""),
        &sql,
        &params,
    )
}

/// How one table's rows are written.
pub(super) struct Insert<'a> {
    table: &'a str,
    /// The archive's columns the target has, in the archive's order.
    columns: Vec<&'a Column>,
    /// Whether each may be NULL in the target.
    nullable: Vec<bool>,
    /// The archive's primary key, to name rows.
    key: &'a [String],
    /// `INSERT INTO … (…)` up to `VALUES`.
    head: String,
    /// The table, qualified.
    qualified: String,
    /// ` ON CONFLICT …` (merge), or empty.
    tail: String,
    /// Whether each row must change exactly one row (merge with a tenant guard).
    guarded: bool,
    /// Whether batches go through the engine's bulk path ([`WriteEngine::copy_rows`]: a
    /// replace, whose rows are plain inserts).
    copy: bool,
    /// Merge: the rows of the tenant the archive's scope covers, whose keys a row may
    /// update; with the positions of the target's key columns among `columns`.
    own_rows: Option<(&'a RowQuery, Vec<usize>, &'a [String])>,
    dialect: Dialect,
    /// Under another tenant (`--as`): the fresh keys each row is given before it is bound.
    rekey: Option<&'a Rekey>,
}

/// A row ready to bind: its name, its values.
struct Pending {
    name: String,
    values: Vec<SqlValue>,
}

impl Insert<'_> {
    fn statement(&self, rows: usize) -> String {
        let width = self.columns.len();
        let mut sql = self.head.clone();
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&self.dialect.placeholder(n));
            }
            sql.push(')');
        }
        sql.push_str(&self.tail);
        sql
    }

    /// Writes `batch`; a refused batch is written again row by row inside a savepoint,
    /// so that the error names the row.
    fn flush(
        &self,
        engine: &mut dyn WriteEngine,
        batch: &mut Vec<Pending>,
    ) -> Result<u64, DbError> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.refuse_others_keys(engine, batch)?;
        let what = format!("writing the rows of table \"{}\"", self.table);
        engine.execute(&what, &format!("SAVEPOINT {SAVEPOINT}"), &[])?;
        let result = if self.copy {
            engine.copy_rows(&what, &self.qualified, &self.column_names(), &mut |push| {
                batch.iter().try_for_each(|pending| push(&pending.values))
            })
        } else {
            let params: Vec<SqlValue> = batch
                .iter()
                .flat_map(|p| p.values.iter().cloned())
                .collect();
            engine.execute(&what, &self.statement(batch.len()), &params)
        };
        let rows = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let written = match result {
            Ok(changed) if changed == rows || !self.guarded => changed,
            _ => {
                engine.execute(&what, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"), &[])?;
                let single = self.statement(1);
                for pending in batch.iter() {
                    let changed = engine
                        .execute(&what, &single, &pending.values)
                        .map_err(|e| DbError::RestoreRow {
                            table: self.table.to_owned(),
                            row: pending.name.clone(),
                            problem: match e {
                                DbError::Query { reason, .. } => {
                                    format!("the database refused it: {reason}")
                                }
                                other => other.to_string(),
                            },
                        })?;
                    if self.guarded && changed == 0 {
                        return Err(DbError::RestoreRow {
                            table: self.table.to_owned(),
                            row: pending.name.clone(),
                            problem: "its primary key belongs to a row of another tenant in the database, which a restore never changes; remove or renumber that row, then restore".to_owned(),
                        });
                    }
                }
                rows
            }
        };
        engine.execute(&what, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[])?;
        batch.clear();
        Ok(written)
    }

    /// Merge: refuses a row whose key is that of a row outside the tenant's rows of the
    /// archive's scope (another tenant's): an upsert would take it over.
    fn refuse_others_keys(
        &self,
        engine: &mut dyn WriteEngine,
        batch: &[Pending],
    ) -> Result<(), DbError> {
        let Some((own, positions, key)) = &self.own_rows else {
            return Ok(());
        };
        let what = format!("checking the keys of table \"{}\"", self.table);
        let mut params: Vec<SqlValue> = own.params.iter().map(SqlValue::from).collect();
        let first = params.len();
        let outside = format!("({}) IS NOT TRUE", own.filter.as_deref().unwrap_or("TRUE"));
        let columns: Vec<String> = key.iter().map(|c| quote_ident(c)).collect();
        let tuple = |n: &mut usize| {
            let slots: Vec<String> = positions
                .iter()
                .map(|_| {
                    *n += 1;
                    self.dialect.placeholder(*n)
                })
                .collect();
            format!("({})", slots.join(", "))
        };
        let mut n = first;
        let mut tuples = Vec::with_capacity(batch.len());
        for pending in batch {
            tuples.push(tuple(&mut n));
            params.extend(positions.iter().map(|&i| pending.values[i].clone()));
        }
        let list = match self.dialect {
            Dialect::Sqlite => format!("VALUES {}", tuples.join(", ")),
            Dialect::Postgres => tuples.join(", "),
        };
        let sql = format!(
            "SELECT 1 FROM {} WHERE ({}) IN ({list}) AND {outside}",
            self.qualified,
            columns.join(", ")
        );
        if !engine.exists(&what, &sql, &params)? {
            return Ok(());
        }
        for pending in batch {
            let mut params: Vec<SqlValue> = own.params.iter().map(SqlValue::from).collect();
            let mut n = first;
            let one = tuple(&mut n);
            params.extend(positions.iter().map(|&i| pending.values[i].clone()));
            let sql = format!(
                "SELECT 1 FROM {} WHERE ({}) = {one} AND {outside}",
                self.qualified,
                columns.join(", ")
            );
            if engine.exists(&what, &sql, &params)? {
                return Err(DbError::RestoreRow {
                    table: self.table.to_owned(),
                    row: pending.name.clone(),
                    problem: "its primary key belongs to a row of another tenant in the database, which a restore never changes; remove or renumber that row, then restore".to_owned(),
                });
            }
        }
        Ok(())
    }

    fn pending(
        &self,
        kind: sitepack_format::database::EngineKind,
        line: u64,
        row: &Map<String, Value>,
    ) -> Result<Pending, DbError> {
        let name = row_name(self.key, line, row);
        let mut values = Vec::with_capacity(self.columns.len());
        for (column, nullable) in self.columns.iter().zip(&self.nullable) {
            let value = match row.get(&column.name) {
                Some(value) => bind(value, column.column_type, kind).map_err(|problem| {
                    DbError::RestoreRow {
                        table: self.table.to_owned(),
                        row: name.clone(),
                        problem: format!("column \"{}\" {problem}", column.name),
                    }
                })?,
                // Redacted from the archive as a secret.
                None if *nullable => SqlValue::Null,
                None => {
                    return Err(DbError::RestoreRow {
                        table: self.table.to_owned(),
                        row: name,
                        problem: format!(
                            "column \"{}\" has no value in the archive (redacted as a secret) and the database holds it NOT NULL; make it nullable, or restore from an archive made without the redaction",
                            column.name
                        ),
                    });
                }
            };
            values.push(value);
        }
        Ok(Pending { name, values })
    }
}

/// Streams the archive's rows of `table` into the target in batches.
fn insert_rows(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    archive: &Archive,
    table: &str,
    mode: Mode,
) -> Result<u64, DbError> {
    let Some(insert) = Insert::new(engine, checked, table, mode, None) else {
        return Ok(0);
    };
    insert.write(engine, archive, checked.live.get(table))
}

impl<'a> Insert<'a> {
    /// How the archive's rows of `table` are written in `mode`: into the table, or into
    /// `destination` (a qualified table of the same columns and no constraints); `None` when
    /// there is nothing to write (no such table, no column).
    pub(super) fn new(
        engine: &dyn WriteEngine,
        checked: &'a Checked,
        table: &'a str,
        mode: Mode,
        destination: Option<String>,
    ) -> Option<Self> {
        let schema_table = checked.schema.tables.iter().find(|t| t.name == table)?;
        let info = checked.live.get(table)?;
        let generated = checked.generated.get(table);
        let columns: Vec<&Column> = schema_table
            .columns
            .iter()
            .filter(|c| info.columns.iter().any(|l| l.name == c.name))
            .filter(|c| !generated.is_some_and(|g| g.contains(&c.name)))
            .collect();
        if columns.is_empty() {
            return None;
        }
        let nullable: Vec<bool> = columns
            .iter()
            .map(|c| info.columns.iter().any(|l| l.name == c.name && l.nullable))
            .collect();
        let redacted = checked.redacted.get(table);
        let (tail, guarded) = match mode {
            Mode::Replace => (String::new(), false),
            Mode::Merge => upsert_tail(info, &columns, redacted, &checked.schema.tenant.column),
        };
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
        let overriding = if engine.dialect() == Dialect::Postgres {
            // An identity column GENERATED ALWAYS takes the archive's value too.
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let qualified = destination.unwrap_or_else(|| engine.qualified(table));
        let head = format!(
            "INSERT INTO {qualified} AS {} ({}){overriding} VALUES ",
            quote_ident(TARGET),
            names.join(", ")
        );
        let own_rows = match (mode, checked.scope_rows.get(table)) {
            (Mode::Merge, Some(query)) => {
                let positions: Option<Vec<usize>> = info
                    .primary_key
                    .iter()
                    .map(|k| columns.iter().position(|c| c.name == *k))
                    .collect();
                positions.map(|p| (query, p, info.primary_key.as_slice()))
            }
            _ => None,
        };
        Some(Insert {
            table,
            qualified,
            own_rows,
            nullable,
            key: &schema_table.primary_key,
            head,
            tail,
            guarded,
            copy: mode == Mode::Replace,
            dialect: engine.dialect(),
            rekey: checked.rekey.as_ref(),
            columns,
        })
    }

    /// `row` as it is written: with fresh keys under another tenant (`--as`).
    fn rekeyed(&self, row: Map<String, Value>) -> Result<Map<String, Value>, DbError> {
        match self.rekey {
            Some(rekey) => rekey.row(self.table, row),
            None => Ok(row),
        }
    }

    /// The written columns' names, in the archive's order.
    pub(super) fn column_names(&self) -> Vec<&'a str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Copies every archive row into the table in one [`WriteEngine::copy_rows`], as
    /// they are read, its columns named `columns` there (in the order of
    /// [`Insert::column_names`]): for a table without constraints (a refused row fails
    /// the whole copy, without its name).
    pub(super) fn copy_all(
        &self,
        engine: &mut dyn WriteEngine,
        archive: &Archive,
        columns: &[&str],
    ) -> Result<u64, DbError> {
        let kind = engine.kind();
        let what = format!("copying the archive's rows of table \"{}\"", self.table);
        engine.copy_rows(&what, &self.qualified, columns, &mut |push| {
            stream_rows(archive, self.table, &mut |line, row| {
                let row = self.rekeyed(row)?;
                push(&self.pending(kind, line, &row)?.values)
            })
            .map(|_| ())
        })
    }

    /// Streams the archive's rows into the table in batches; `info` is the target table
    /// when the rows go into it (its references to its own rows may have to wait for a
    /// second pass), `None` for a table without constraints.
    pub(super) fn write(
        &self,
        engine: &mut dyn WriteEngine,
        archive: &Archive,
        info: Option<&TableInfo>,
    ) -> Result<u64, DbError> {
        let per_batch = if self.copy {
            COPY_ROWS
        } else {
            (BATCH_PARAMS / self.columns.len()).clamp(1, BATCH_ROWS)
        };
        let kind = engine.kind();
        let later = info.map_or_else(Vec::new, |info| {
            self_references(engine.dialect(), info, &self.columns)
        });
        let mut batch: Vec<Pending> = Vec::with_capacity(per_batch);
        let mut written = 0;
        stream_rows(archive, self.table, &mut |line, row| {
            let row = self.rekeyed(row)?;
            let mut pending = self.pending(kind, line, &row)?;
            for &i in &later {
                pending.values[i] = SqlValue::Null;
            }
            batch.push(pending);
            if batch.len() >= per_batch {
                written += self.flush(engine, &mut batch)?;
            }
            Ok(())
        })?;
        written += self.flush(engine, &mut batch)?;
        if let Some(info) = info
            && !later.is_empty()
        {
            set_self_references(engine, archive, self, info, &later)?;
        }
        Ok(written)
    }
}

/// PostgreSQL checks a foreign key that is not `DEFERRABLE` at the end of each statement:
/// a row referencing a row of its own table that a later batch brings would fail. The
/// positions (among `columns`) of such self-referencing columns, when they may be NULL:
/// the rows are inserted without them, and they are set once every row is there.
fn self_references(dialect: Dialect, info: &TableInfo, columns: &[&Column]) -> Vec<usize> {
    if dialect != Dialect::Postgres {
        // SQLite defers every foreign key to the COMMIT.
        return Vec::new();
    }
    let mut later: Vec<usize> = Vec::new();
    let key_present = info
        .primary_key
        .iter()
        .all(|k| columns.iter().any(|c| c.name == *k));
    if info.primary_key.is_empty() || !key_present {
        return later;
    }
    for fk in info.foreign_keys.iter().filter(|fk| fk.table == info.name) {
        let nullable = fk.columns.iter().all(|c| {
            !info.primary_key.contains(c) && info.columns.iter().any(|l| l.name == *c && l.nullable)
        });
        if !nullable {
            continue;
        }
        for column in &fk.columns {
            if let Some(i) = columns.iter().position(|c| c.name == *column)
                && !later.contains(&i)
            {
                later.push(i);
            }
        }
    }
    later
}

/// The second pass over a table's rows: sets the self-referencing columns `later`.
fn set_self_references(
    engine: &mut dyn WriteEngine,
    archive: &Archive,
    insert: &Insert<'_>,
    info: &TableInfo,
    later: &[usize],
) -> Result<(), DbError> {
    let key: Vec<usize> = info
        .primary_key
        .iter()
        .filter_map(|k| insert.columns.iter().position(|c| c.name == *k))
        .collect();
    let mut n = 0;
    let mut placeholder = || {
        n += 1;
        insert.dialect.placeholder(n)
    };
    let set: Vec<String> = later
        .iter()
        .map(|&i| {
            format!(
                "{} = {}",
                quote_ident(&insert.columns[i].name),
                placeholder()
            )
        })
        .collect();
    let condition: Vec<String> = key
        .iter()
        .map(|&i| {
            format!(
                "{} = {}",
                quote_ident(&insert.columns[i].name),
                placeholder()
            )
        })
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE {}",
        insert.qualified,
        set.join(", "),
        condition.join(" AND ")
    );
    let what = format!(
        "setting the references of table \"{}\" to its own rows",
        insert.table
    );
    let kind = engine.kind();
    stream_rows(archive, insert.table, &mut |line, row| {
        let row = insert.rekeyed(row)?;
        let pending = insert.pending(kind, line, &row)?;
        if later.iter().all(|&i| pending.values[i] == SqlValue::Null) {
            return Ok(());
        }
        let params: Vec<SqlValue> = later
            .iter()
            .chain(&key)
            .map(|&i| pending.values[i].clone())
            .collect();
        engine
            .execute(&what, &sql, &params)
            .map_err(|e| DbError::RestoreRow {
                table: insert.table.to_owned(),
                row: pending.name.clone(),
                problem: match e {
                    DbError::Query { reason, .. } => format!("the database refused it: {reason}"),
                    other => other.to_string(),
                },
            })?;
        Ok(())
    })?;
    Ok(())
}

/// ` ON CONFLICT (key) DO UPDATE SET …` of a merge, and whether it is guarded: a row of
/// a tenant table updates only a row of the same tenant (else it changes no row, found
/// and refused).
fn upsert_tail(
    info: &TableInfo,
    columns: &[&Column],
    redacted: Option<&BTreeSet<String>>,
    tenant_column: &str,
) -> (String, bool) {
    let key: Vec<String> = info.primary_key.iter().map(|c| quote_ident(c)).collect();
    let mut set: Vec<String> = columns
        .iter()
        .filter(|c| !info.primary_key.contains(&c.name))
        .filter(|c| !redacted.is_some_and(|r| r.contains(&c.name)))
        .map(|c| format!("{0} = excluded.{0}", quote_ident(&c.name)))
        .collect();
    if set.is_empty() {
        // Every column is the key: the update changes nothing, but counts the row.
        set = key.iter().map(|k| format!("{k} = excluded.{k}")).collect();
    }
    let guarded = columns.iter().any(|c| c.name == tenant_column);
    let guard = if guarded {
        format!(
            " WHERE {}.{} = excluded.{}",
            quote_ident(TARGET),
            quote_ident(tenant_column),
            quote_ident(tenant_column)
        )
    } else {
        String::new()
    };
    (
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}{guard}",
            key.join(", "),
            set.join(", ")
        ),
        guarded,
    )
}
