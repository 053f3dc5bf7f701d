//! The tenant's rows, read in one snapshot, written as a staged site directory:
//! `site.json`, `db/schema.json` and `db/<table>.jsonl`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use serde_json::Value;
use sitepack_format::database::{
    Column, DB_DIR, DB_SCHEMA_PATH, DanglingReferences, DatabaseSchema, EngineKind, ScalarType,
    SkippedTable, TableKeys, TableRole, TableRowsCheck, Tenant, TenantValue, dangling_references,
    table_path,
};
use sitepack_format::{ArchivePath, Progress, SecretPolicy, mask_credentials};
use sitepack_writer::{TableEntry, WriterError, encode_table};

use crate::descriptor::{DEFAULT_SCHEMA, Database, Descriptor};
use crate::plan::{Plan, PlannedTable, Scope, SqlStyle, plan};
use crate::postgres::PostgresEngine;
use crate::sql::{Dialect, RowQuery};
use crate::sqlite::SqliteEngine;
use crate::{DbError, EncodedValues, Engine, SnapshotReader, Verbatim};

/// What [`export`] read and wrote.
#[derive(Debug)]
pub struct ExportSummary {
    /// `db/schema.json` as written (each table's `rows` is how many rows its entry holds).
    pub schema: DatabaseSchema,
    /// The rows of every table, added up.
    pub rows: u64,
    /// The tables' entries, encoded as they were read, for the archive
    /// ([`Site::with_tables`](sitepack_writer::Site::with_tables)).
    pub tables: Vec<TableEntry>,
}

/// The tenant's tables and their rows, without writing anything.
#[derive(Debug, Clone)]
pub struct TenantStats {
    /// Each travelling table (parents first): its name, role and row count.
    pub tables: Vec<(String, TableRole, u64)>,
    /// The rows of every table, added up.
    pub total: u64,
    /// The tables that stay behind, and why.
    pub skipped: Vec<SkippedTable>,
    /// The whole database's size on disk, in bytes (every tenant's rows).
    pub database_bytes: u64,
}

impl TenantStats {
    /// The document `sitepack stats --json` prints (and `GET /api/backup/stats` answers)
    /// for the tenant of `descriptor`: the rows per table, each table's role, the total,
    /// and the tables left behind with why. The URL's password is never in it.
    #[must_use]
    pub fn report(&self, descriptor: &Descriptor) -> serde_json::Value {
        let tables: serde_json::Map<String, serde_json::Value> = self
            .tables
            .iter()
            .map(|(name, _, rows)| (name.clone(), (*rows).into()))
            .collect();
        let roles: serde_json::Map<String, serde_json::Value> = self
            .tables
            .iter()
            .map(|(name, role, _)| (name.clone(), role.to_string().into()))
            .collect();
        let skipped: Vec<serde_json::Value> = self
            .skipped
            .iter()
            .map(|s| {
                serde_json::json!({
                    "table": s.table,
                    "reason": s.reason,
                    "explanation": s.reason.explanation(),
                })
            })
            .collect();
        serde_json::json!({
            "site": descriptor.site,
            "database": descriptor.display_url(),
            "tenant": {"column": descriptor.tenant_column, "value": descriptor.tenant},
            "tables": tables,
            "roles": roles,
            "total": self.total,
            "skipped": skipped,
            "database_size_bytes": self.database_bytes,
        })
    }
}

/// Opens the descriptor's database: a SQLite file, or a PostgreSQL server.
pub fn connect(descriptor: &Descriptor) -> Result<Box<dyn Engine>, DbError> {
    match &descriptor.database {
        Database::Sqlite { path } => Ok(Box::new(SqliteEngine::open(path)?)),
        Database::Postgres(target) => Ok(Box::new(PostgresEngine::connect_with(
            target.config(),
            descriptor.display_url(),
            &target.schema,
        )?)),
    }
}

/// Opens the descriptor's database to write it (a restore): the SQLite file read-write
/// with foreign keys on, or a PostgreSQL connection.
pub fn connect_writable(descriptor: &Descriptor) -> Result<Box<dyn crate::WriteEngine>, DbError> {
    match &descriptor.database {
        Database::Sqlite { path } => Ok(Box::new(SqliteEngine::open_writable(path)?)),
        Database::Postgres(target) => Ok(Box::new(PostgresEngine::connect_with(
            target.config(),
            descriptor.display_url(),
            &target.schema,
        )?)),
    }
}

fn style<'a>(engine: &dyn Engine, descriptor: &'a Descriptor) -> SqlStyle<'a> {
    match engine.kind() {
        EngineKind::Sqlite => SqlStyle {
            dialect: Dialect::Sqlite,
            schema: None,
        },
        EngineKind::Postgresql => SqlStyle {
            dialect: Dialect::Postgres,
            schema: Some(match &descriptor.database {
                Database::Postgres(target) => target.schema.as_str(),
                Database::Sqlite { .. } => DEFAULT_SCHEMA,
            }),
        },
    }
}

/// Runs `read` inside one snapshot: the snapshot ends whatever `read` returns.
fn in_snapshot<T>(
    engine: &mut dyn Engine,
    read: impl FnOnce(&mut dyn Engine) -> Result<T, DbError>,
) -> Result<T, DbError> {
    engine.begin_snapshot()?;
    let result = read(engine);
    let ended = engine.end_snapshot();
    let value = result?;
    ended?;
    Ok(value)
}

/// Plans `scope`, holds its tables, and refuses an unknown tenant.
fn checked_plan(
    engine: &mut dyn Engine,
    descriptor: &Descriptor,
    scope: &Scope,
) -> Result<Plan, DbError> {
    let tables = engine.reflect()?;
    let plan = plan(&tables, descriptor, scope, style(engine, descriptor))?;
    let read: Vec<&str> = plan.read.iter().map(String::as_str).collect();
    engine.hold_tables(&read)?;
    let mut known = false;
    for query in &plan.tenant_rows {
        if engine.count(query)? > 0 {
            known = true;
            break;
        }
    }
    if !known {
        return Err(DbError::UnknownTenant {
            tenant: descriptor.tenant.to_string(),
            database: descriptor.display_url().to_owned(),
        });
    }
    Ok(plan)
}

/// Refuses a row of the plan that references a row of another tenant.
fn refuse_leaks(engine: &mut dyn Engine, plan: &Plan) -> Result<(), DbError> {
    for check in &plan.leak_checks {
        // The first offending row is enough to act on: reading stops there.
        engine.for_each_row(&check.query, &check.key, &mut |key| {
            Err(DbError::TenantLeak {
                table: check.table.clone(),
                row: row_key(&check.key, &key),
                columns: check.columns.clone(),
                parent: check.parent.clone(),
            })
        })?;
    }
    Ok(())
}

/// `id=7`, `a=1, b="x"`.
fn row_key(columns: &[Column], values: &[Value]) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{}={v}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the tenant's rows of `scope` in one snapshot: `site.json` and `db/schema.json`
/// are written into `staging` (an existing, empty directory), and each table becomes
/// one `db/<table>.jsonl` entry, redacted and compressed (deflate `level`) while its rows
/// stream in, kept in anonymous temporary files in `staging` until the archive is
/// written. Memory does not grow with a table's size.
///
/// Nothing is written before the plan and the tenant are checked; a row refused while
/// streaming (a value the archive cannot hold, a tenant leak, a reference that does not
/// resolve) leaves a partial staging directory, which the caller discards with the
/// error. `progress` counts rows: `begin(tables, rows)` (rows estimated where counting
/// would cost as much as reading them), then `advance(rows)` after each table.
///
/// Up to `tables_at_once` tables are read at the same time, each on its own thread and
/// connection in the same snapshot, the largest first, where the engine can share its
/// snapshot ([`Engine::snapshot_reader`]); the archive is the same however many.
pub fn export(
    engine: &mut dyn Engine,
    descriptor: &Descriptor,
    scope: &Scope,
    staging: &Path,
    level: u32,
    tables_at_once: usize,
    progress: &dyn Progress,
) -> Result<ExportSummary, DbError> {
    in_snapshot(engine, |engine| {
        let plan = checked_plan(engine, descriptor, scope)?;
        refuse_secret_keys(&plan)?;
        // In the full scope every parent a leak could reach travels with exactly the
        // tenant's rows: a row referencing another tenant's row is a reference that does
        // not resolve in the archive, found once the rows were read (then named as the
        // leak it is). A narrower scope leaves parents out: its rows are checked first.
        let full = matches!(scope, Scope::Full);
        if !full {
            refuse_leaks(engine, &plan)?;
        }
        refuse_nobodys_user_scope(engine, scope, descriptor, &plan)?;
        let mut estimates = Vec::with_capacity(plan.tables.len());
        for table in &plan.tables {
            estimates.push(engine.estimate(&table.query)?);
        }
        progress.begin(plan.tables.len() as u64, estimates.iter().sum());
        let db_dir = staging.join(DB_DIR);
        std::fs::create_dir_all(&db_dir).map_err(|e| DbError::io("create", &db_dir, e))?;
        write_json(&staging.join("site.json"), &descriptor.site_json())?;
        // Every row is held to the rules the archive's reader applies (format 1.1 §15.5)
        // as it is written, and the foreign keys once all are: `create` never writes an
        // archive that `validate` refuses.
        let mut schema = DatabaseSchema {
            engine: engine.kind(),
            engine_version: engine.version(),
            tenant: Tenant {
                column: descriptor.tenant_column.clone(),
                value: tenant_as_stored(descriptor, &plan),
                table: descriptor.tenant_table.clone(),
            },
            tables: plan.tables.iter().map(|t| t.schema_table(0)).collect(),
            skipped: plan.skipped.clone(),
        };
        // The archive of a database site has no `secrets` of its own (its `site.json` is
        // the descriptor's identity): the default policy applies.
        let policy = SecretPolicy::default();
        let output = TableOutput {
            policy: &policy,
            level,
            spill_dir: staging,
        };
        let mut readers = Vec::new();
        while readers.len() < tables_at_once.min(plan.tables.len()) {
            match engine.snapshot_reader()? {
                Some(reader) => readers.push(reader),
                None => break,
            }
        }
        let tables = TablesToRead {
            plan: &plan,
            schema: &schema,
            estimates: &estimates,
            output: &output,
            progress,
        };
        let read = if readers.is_empty() {
            (0..plan.tables.len())
                .map(|index| tables.read(&mut RowsOn::Engine(&mut *engine), index))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            tables.read_side_by_side(readers)?
        };
        let (entries, keys): (Vec<TableEntry>, Vec<TableKeys>) = read.into_iter().unzip();
        let total = entries.iter().map(TableEntry::rows).sum();
        if let Some(dangling) = dangling_references(&keys).into_iter().next() {
            if full {
                refuse_leaks(engine, &plan)?;
            }
            return Err(dangling_error(&dangling, scope));
        }
        for (table, entry) in schema.tables.iter_mut().zip(&entries) {
            table.rows = entry.rows();
        }
        let schema_value = serde_json::to_value(&schema).map_err(|e| DbError::Query {
            what: "writing db/schema.json".into(),
            reason: e.to_string(),
        })?;
        write_json(&staging.join(DB_SCHEMA_PATH), &schema_value)?;
        Ok(ExportSummary {
            schema,
            rows: total,
            tables: entries,
        })
    })
}

/// Refuses a user archive of nobody: an empty backup that looks like one.
fn refuse_nobodys_user_scope(
    engine: &mut dyn Engine,
    scope: &Scope,
    descriptor: &Descriptor,
    plan: &Plan,
) -> Result<(), DbError> {
    if let Scope::User(id) = scope {
        let users = plan
            .tables
            .iter()
            .position(|t| t.info.name == descriptor.users_table);
        // `user:01` would select user 1's rows but not `files/users/1/`.
        if id.parse::<i64>().is_ok_and(|n| n.to_string() != *id) {
            return Err(DbError::Plan {
                problem: format!(
                    "scope user:{id}: write the user's id as the database does (no leading \
                     zeros, no sign)"
                ),
            });
        }
        let user_rows = match users {
            Some(users) => engine.count(&plan.tables[users].query)?,
            None => 0,
        };
        if user_rows == 0 {
            return Err(DbError::Plan {
                problem: format!(
                    "scope user:{id}: table \"{}\" has no row of the tenant whose key is \
                     {id}; check the user's id",
                    descriptor.users_table
                ),
            });
        }
    }
    Ok(())
}

/// A row whose parent is not in the backup, named.
fn dangling_error(dangling: &DanglingReferences, scope: &Scope) -> DbError {
    let why = match scope {
        Scope::User(id) => format!(
            "scope user:{id} leaves out (another user's row, say: a user's archive holds \
             only rows that refer within it); back up the full scope (or the table) instead"
        ),
        Scope::Full | Scope::Table(_) => "is not in the backup: it does not exist, the \
             connecting role cannot see it (row-level security?), or its key equals the \
             value only in the database's comparison (a numeric scale, -0, a case-insensitive \
             collation, SQLite's type affinity) while the archive compares values exactly; \
             fix the row, or let the role read the table"
            .to_owned(),
    };
    DbError::Unarchivable {
        problem: format!(
            "table \"{}\", row {}: column {} references a row of \"{}\" that {why}",
            dangling.table,
            dangling.rows.first().map_or_else(
                || "?".to_owned(),
                |r| r
                    .key
                    .as_deref()
                    .map_or(format!("#{}", r.line), str::to_owned)
            ),
            dangling
                .foreign_key
                .columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            dangling.foreign_key.table,
        ),
    }
}

/// The tenant's tables of the full scope and their row counts, read in one snapshot,
/// with the same checks as [`export`] and nothing written.
pub fn tenant_stats(
    engine: &mut dyn Engine,
    descriptor: &Descriptor,
) -> Result<TenantStats, DbError> {
    in_snapshot(engine, |engine| {
        let plan = checked_plan(engine, descriptor, &Scope::Full)?;
        refuse_leaks(engine, &plan)?;
        let mut tables = Vec::with_capacity(plan.tables.len());
        let mut total = 0;
        for table in &plan.tables {
            let rows = engine.count(&table.query)?;
            total += rows;
            tables.push((table.info.name.clone(), table.role, rows));
        }
        Ok(TenantStats {
            tables,
            total,
            skipped: plan.skipped,
            database_bytes: engine.size_bytes()?,
        })
    })
}

/// Refuses a foreign key through a secret-named column (`api_token`): the archive's
/// writer removes such values, so the rows could not be matched again — and the secret
/// would travel on the foreign key's other side.
fn refuse_secret_keys(plan: &Plan) -> Result<(), DbError> {
    // A database site's archive is written with the default policy (its `site.json`
    // is the descriptor's identity, with no `secrets`).
    let policy = SecretPolicy::default();
    for table in &plan.tables {
        for fk in &table.info.foreign_keys {
            let secret = fk
                .columns
                .iter()
                .map(|c| (table.info.name.as_str(), c))
                .chain(fk.references.iter().map(|c| (fk.table.as_str(), c)))
                .find(|(_, column)| policy.is_secret_key(column));
            if let Some((owner, column)) = secret {
                return Err(DbError::Plan {
                    problem: format!(
                        "the foreign key of table \"{}\" to \"{}\" goes through column \
                         \"{owner}\".\"{column}\", whose values are secrets by their name and \
                         never travel: the rows could not be matched again. Exclude one of the \
                         tables, or key them by a column that is no secret",
                        table.info.name, fk.table
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The tenant's value as the tenant columns hold it: `tenant = "7"` for integer columns
/// is the integer 7, and `tenant = 7` for text columns the text `"7"` (the query compares
/// them either way; the archive's rows hold the column's own type).
fn tenant_as_stored(descriptor: &Descriptor, plan: &Plan) -> TenantValue {
    let mut types = plan
        .tables
        .iter()
        .filter(|t| t.role == TableRole::Tenant)
        .flat_map(|t| {
            let key = match t.info.primary_key.as_slice() {
                [key] if descriptor.tenant_table.as_deref() == Some(t.info.name.as_str()) => {
                    Some(key.as_str())
                }
                _ => None,
            };
            t.columns
                .iter()
                .filter(move |c| c.name == descriptor.tenant_column || Some(c.name.as_str()) == key)
                .map(|c| (c.column_type.scalar, c.column_type.array))
        });
    let Some(first) = types.next() else {
        return descriptor.tenant.clone();
    };
    if !types.all(|t| t == first) {
        return descriptor.tenant.clone();
    }
    match (&descriptor.tenant, first) {
        (TenantValue::Text(text), (ScalarType::Integer, false)) => text
            .parse()
            .map_or_else(|_| descriptor.tenant.clone(), TenantValue::Integer),
        (TenantValue::Integer(n), (ScalarType::Text, false)) => TenantValue::Text(n.to_string()),
        _ => descriptor.tenant.clone(),
    }
}

/// Pretty JSON and a final newline.
fn write_json(path: &Path, value: &Value) -> Result<(), DbError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| DbError::Query {
        what: format!("writing {}", path.display()),
        reason: e.to_string(),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| DbError::io("write", path, e))
}

/// Where a table's entry goes, and how.
struct TableOutput<'a> {
    policy: &'a SecretPolicy,
    level: u32,
    spill_dir: &'a Path,
}

/// The tables an export reads, and what it reads them into.
struct TablesToRead<'a> {
    plan: &'a Plan,
    schema: &'a DatabaseSchema,
    /// Each table's rows, about (for the row check's room, and the reading order).
    estimates: &'a [u64],
    output: &'a TableOutput<'a>,
    progress: &'a dyn Progress,
}

impl TablesToRead<'_> {
    /// Reads the table at `index` (of the plan) on `rows`: its entry, and the keys its rows
    /// hold.
    fn read(
        &self,
        rows: &mut RowsOn<'_>,
        index: usize,
    ) -> Result<(TableEntry, TableKeys), DbError> {
        let mut check = TableRowsCheck::new(self.schema, &self.schema.tables[index]);
        check.expect_rows(self.estimates[index]);
        let entry = encode_rows(rows, &self.plan.tables[index], &mut check, self.output)?;
        self.progress.advance(entry.rows());
        Ok((entry, check.finish()))
    }

    /// Reads every table, each reader on a thread of its own taking the largest table
    /// left. A table that fails stops the tables after it in the plan's order, not those
    /// before it: the error is the one reading them in order would give, the first in
    /// the plan's order. A connection that is broken reads no more tables. Gives the
    /// tables in the plan's order.
    fn read_side_by_side(
        &self,
        readers: Vec<Box<dyn SnapshotReader>>,
    ) -> Result<Vec<(TableEntry, TableKeys)>, DbError> {
        let mut order: Vec<usize> = (0..self.plan.tables.len()).collect();
        order.sort_by_key(|&index| std::cmp::Reverse(self.estimates[index]));
        let next = AtomicUsize::new(0);
        // The first table (in the plan's order) that failed; none: past the last.
        let first_failed = AtomicUsize::new(usize::MAX);
        let read: Vec<Mutex<Option<TableRead>>> = order.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for mut reader in readers {
                let (order, next, first_failed, read) = (&order, &next, &first_failed, &read);
                scope.spawn(move || {
                    while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if first_failed.load(Ordering::Relaxed) < index {
                            continue;
                        }
                        let mut stopped = false;
                        let mut rows = RowsOn::Reader {
                            reader: reader.as_mut(),
                            index,
                            first_failed,
                            stopped: &mut stopped,
                        };
                        let result = self.read(&mut rows, index);
                        // A table stopped for the failure of one before it is not read.
                        if stopped {
                            continue;
                        }
                        if result.is_err() {
                            first_failed.fetch_min(index, Ordering::Relaxed);
                        }
                        *read[index].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                        // The tables left go to the other connections: on this one they
                        // would fail for its loss, not their own.
                        if reader.is_broken() {
                            break;
                        }
                    }
                });
            }
        });
        // A table before the first failure is left unread only when every connection was
        // lost: the first failure says why.
        let mut tables = Vec::with_capacity(read.len());
        for slot in read {
            match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
                Some(Ok(table)) => tables.push(table),
                Some(Err(error)) => return Err(error),
                None => {}
            }
        }
        if tables.len() < order.len() {
            return Err(DbError::Plan {
                problem: "a table was left unread, and no table failed".into(),
            });
        }
        Ok(tables)
    }
}

/// A table's entry and the keys its rows hold, or why it could not be read.
type TableRead = Result<(TableEntry, TableKeys), DbError>;

/// Where a table's rows are read.
enum RowsOn<'a> {
    /// On the engine's own connection.
    Engine(&'a mut dyn Engine),
    /// On another connection in its snapshot, the table at `index` of the plan, until a
    /// table before it fails (`first_failed`): then `stopped` is set, and the read ends
    /// with an error of no account.
    Reader {
        reader: &'a mut dyn SnapshotReader,
        index: usize,
        first_failed: &'a AtomicUsize,
        stopped: &'a mut bool,
    },
}

impl RowsOn<'_> {
    fn for_each_row(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: &Verbatim<'_>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        match self {
            Self::Engine(engine) => engine.for_each_row_verbatim(query, columns, verbatim, row),
            Self::Reader {
                reader,
                index,
                first_failed,
                stopped,
            } => reader.for_each_row_verbatim(query, columns, verbatim, &mut |values, encoded| {
                if first_failed.load(Ordering::Relaxed) < *index {
                    **stopped = true;
                    return Err(DbError::Plan {
                        problem: "stopped: a table before this one could not be read".into(),
                    });
                }
                row(values, encoded)
            }),
        }
    }
}

/// The refusal of a secret in column `column` of the row `row` of `table`, a column that
/// identifies the row or references another.
fn secret_in_key(table: &str, row: &str, column: &str) -> DbError {
    DbError::Unarchivable {
        problem: format!(
            "table \"{table}\", row {row}: column \"{column}\" holds a secret (a URL with a \
             password, or a value named as a secret), which never travels, but it identifies \
             the row or references another: the rows could not be matched again. Move the \
             secret out of the key, or exclude the table (or list it in secret_tables) in the \
             descriptor"
        ),
    }
}

/// Streams the rows of `query` into the entry of `table`, each held to the archive's row
/// rules first, one compact JSON object per line, members in column order.
fn encode_rows(
    rows_on: &mut RowsOn<'_>,
    table: &PlannedTable,
    check: &mut TableRowsCheck<'_>,
    output: &TableOutput<'_>,
) -> Result<TableEntry, DbError> {
    let name = &table.info.name;
    let path: ArchivePath =
        table_path(name)
            .parse()
            .map_err(|e: sitepack_format::FormatError| DbError::Plan {
                problem: format!(
                    "table \"{name}\" cannot be archived under its name ({e}): exclude it in \
                     the descriptor, or rename it"
                ),
            })?;
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let position = |column: &String| names.iter().position(|n| n == column);
    let key: Vec<usize> = table.info.primary_key.iter().filter_map(position).collect();
    // A value that identifies a row (its keys, its references) cannot be left out as a
    // secret: the row could not be matched again, and the value would still travel in
    // the rows that reference it.
    let identifying: Vec<usize> = table
        .info
        .primary_key
        .iter()
        .chain(table.info.unique.iter().flatten())
        .chain(table.info.foreign_keys.iter().flat_map(|fk| &fk.columns))
        .filter_map(position)
        .collect();
    let row_name = |line: u64, values: &[Value]| {
        if key.is_empty() {
            return format!("#{line}");
        }
        let columns: Vec<Column> = key.iter().map(|&i| table.columns[i].clone()).collect();
        let shown: Vec<Value> = key.iter().map(|&i| values[i].clone()).collect();
        row_key(&columns, &shown)
    };
    encode_table(
        &path,
        &names,
        output.policy,
        output.level,
        output.spill_dir,
        |rows| {
            let mut line = 0;
            // A JSON value that neither the row check nor the secret policy needs parsed
            // is written as the database gives it, compacted.
            let rules = output.policy.record_rules(&path, &names);
            let reads_value: Vec<bool> = (0..names.len()).map(|i| check.reads_value(i)).collect();
            // JSON's `null` is the row's null, which the check must see.
            let verbatim = |index: usize, text: &str| {
                if reads_value[index] || identifying.contains(&index) || text.trim() == "null" {
                    return None;
                }
                rules.verbatim_json(index, text)
            };
            let read = &mut |mut values: Vec<Value>, encoded: EncodedValues| {
                line += 1;
                if let Some(problem) = check.row_values(line, &values).into_iter().next() {
                    return Err(DbError::Unarchivable {
                        problem: format!(
                            "{problem}; the archive's reader would refuse this row: fix it (or \
                             the descriptor's tenant) and back up again"
                        ),
                    });
                }
                // A key's value that keeps its place but loses a secret inside it (a
                // `jsonb` key) could not be matched again either; asked before the
                // writer redacts the row in place.
                let secret_inside_key = identifying.iter().copied().find(|&i| {
                    matches!(values[i], Value::Object(_) | Value::Array(_))
                        && !output
                            .policy
                            .redact(&path, &mut values[i].clone())
                            .is_empty()
                });
                let omitted = rows.write_row_with(&mut values, &encoded).map_err(|e| match e {
                    WriterError::CredentialShape { place, shape, .. } => DbError::Unarchivable {
                        problem: mask_credentials(&format!(
                            "table \"{name}\", row {}, at {}: holds {shape}; a credential must \
                             never travel in a backup: remove it from the row and rotate it, or \
                             exclude the table (or list it in secret_tables) in the descriptor",
                            row_name(line, &values),
                            place.split_once('#').map_or("", |(_, p)| p),
                        )),
                    },
                    other => DbError::from(other),
                })?;
                let secret_key = omitted
                    .iter()
                    .find(|i| identifying.contains(i))
                    .or(secret_inside_key.as_ref());
                match secret_key {
                    // The key lost its secret: the row is named by its line.
                    Some(&column) if key.contains(&column) => {
                        Err(secret_in_key(name, &format!("#{line}"), &names[column]))
                    }
                    Some(&column) => Err(secret_in_key(
                        name,
                        &row_name(line, &values),
                        &names[column],
                    )),
                    None => Ok(()),
                }
            };
            rows_on.for_each_row(&table.query, &table.columns, &verbatim, read)
        },
    )
}
