//! SQLite: a database file opened read-only, read in one transaction.
//!
//! Declared types map to format 1.1 types by their exact base name (upper case, before
//! any `(`): see [`column_type`]. Values are written by the column's type, and a value
//! that the type cannot hold faithfully (SQLite stores any value in any column) is
//! refused, naming its table, row and column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use serde_json::{Number, Value};
use sitepack_format::database::{Column, ColumnType, EngineKind, ForeignKey, ScalarType};

use crate::engine::{DeleteEffect, RowSource, SqlValue, WriteEngine};
use crate::sql::{Dialect, Param, RowQuery, quote_ident};
use crate::{ColumnInfo, DbError, Engine, TableInfo};

/// How long a read waits for a writer's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A SQLite database file, opened read-only.
#[derive(Debug)]
pub struct SqliteEngine {
    connection: Connection,
    path: PathBuf,
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Integer(n) => ToSqlOutput::from(*n),
            Self::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

impl SqliteEngine {
    /// Opens the database file at `path` read-only (a missing file is an error, never
    /// created).
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let url = format!("sqlite:{}", path.display());
        if !path.is_file() {
            return Err(DbError::Connect {
                url,
                reason: format!(
                    "no database file at {}: check url in the site descriptor",
                    path.display()
                ),
            });
        }
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| DbError::Connect {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| DbError::Connect {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        // A file that is not a database is found at the first read: find it now.
        connection
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| DbError::Connect {
                url,
                reason: format!("{e}: is {} a SQLite database?", path.display()),
            })?;
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    /// Opens the database file at `path` to write it (a restore): never created, foreign
    /// keys enforced (`PRAGMA foreign_keys = ON`, which SQLite leaves off by default).
    pub fn open_writable(path: &Path) -> Result<Self, DbError> {
        let url = format!("sqlite:{}", path.display());
        if !path.is_file() {
            return Err(DbError::Connect {
                url,
                reason: format!(
                    "no database file at {}: check url in the site descriptor",
                    path.display()
                ),
            });
        }
        let fail = |e: rusqlite::Error| DbError::Connect {
            url: url.clone(),
            reason: e.to_string(),
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        connection
            .execute_batch("PRAGMA foreign_keys = ON")
            .map_err(fail)?;
        connection
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| DbError::Connect {
                url: url.clone(),
                reason: format!("{e}: is {} a SQLite database?", path.display()),
            })?;
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    fn query_error(&self, what: String) -> impl Fn(rusqlite::Error) -> DbError {
        let path = self.path.display().to_string();
        move |e| DbError::Query {
            what: format!("{what} of {path}"),
            reason: e.to_string(),
        }
    }

    fn reflect_table(&self, name: &str, without_rowid: bool) -> Result<TableInfo, DbError> {
        let fail = self.query_error(format!("reading the columns of table \"{name}\""));
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?1) ORDER BY cid",
            )
            .map_err(&fail)?;
        let mut columns = Vec::new();
        let mut keyed: Vec<(i64, String)> = Vec::new();
        let mut rows = statement.query([name]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let column: String = row.get(0).map_err(&fail)?;
            let declared: String = row
                .get::<_, Option<String>>(1)
                .map_err(&fail)?
                .unwrap_or_default();
            let not_null: bool = row.get(2).map_err(&fail)?;
            let has_default: bool = row.get(3).map_err(&fail)?;
            let key_position: i64 = row.get(4).map_err(&fail)?;
            if key_position > 0 {
                keyed.push((key_position, column.clone()));
            }
            columns.push(ColumnInfo {
                name: column,
                column_type: column_type(&declared),
                declared,
                nullable: !not_null,
                has_default,
            });
        }
        keyed.sort();
        let primary_key: Vec<String> = keyed.into_iter().map(|(_, c)| c).collect();
        // SQLite lets a primary-key column hold NULL unless it is the rowid
        // (INTEGER PRIMARY KEY) or the table is WITHOUT ROWID.
        let rowid_alias = primary_key.len() == 1
            && columns
                .iter()
                .any(|c| c.name == primary_key[0] && c.declared.eq_ignore_ascii_case("INTEGER"));
        if without_rowid || rowid_alias {
            for column in &mut columns {
                if primary_key.contains(&column.name) {
                    column.nullable = false;
                }
            }
        }
        let mut info = TableInfo {
            name: name.to_owned(),
            columns,
            primary_key,
            unique: self.unique_constraints(name)?,
            foreign_keys: self.foreign_keys(name)?,
        };
        info.drop_repeated_unique();
        Ok(info)
    }

    /// The table's unique indexes other than the primary key (not partial, on columns).
    fn unique_constraints(&self, table: &str) -> Result<Vec<Vec<String>>, DbError> {
        let fail = self.query_error(format!("reading the indexes of table \"{table}\""));
        let mut statement = self
            .connection
            .prepare(
                "SELECT l.name, i.name FROM pragma_index_list(?1) AS l, pragma_index_info(l.name) AS i WHERE l.\"unique\" AND l.origin <> 'pk' AND NOT l.partial ORDER BY l.name, i.seqno",
            )
            .map_err(&fail)?;
        let mut unique: Vec<(String, Vec<Option<String>>)> = Vec::new();
        let mut rows = statement.query([table]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let index: String = row.get(0).map_err(&fail)?;
            let column: Option<String> = row.get(1).map_err(&fail)?;
            match unique.last_mut() {
                Some((last, columns)) if *last == index => columns.push(column),
                _ => unique.push((index, vec![column])),
            }
        }
        // An index on an expression is not a constraint on columns.
        let mut constraints: Vec<Vec<String>> = unique
            .into_iter()
            .filter_map(|(_, columns)| columns.into_iter().collect())
            .collect();
        constraints.sort();
        constraints.dedup();
        Ok(constraints)
    }

    /// The table's foreign keys, in declaration order; the referenced columns are left
    /// empty when omitted (the parent's primary key, filled in by [`Engine::reflect`]).
    fn foreign_keys(&self, table: &str) -> Result<Vec<ForeignKey>, DbError> {
        let fail = self.query_error(format!("reading the foreign keys of table \"{table}\""));
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id DESC, seq",
            )
            .map_err(&fail)?;
        let mut keys: Vec<(i64, ForeignKey)> = Vec::new();
        let mut rows = statement.query([table]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let id: i64 = row.get(0).map_err(&fail)?;
            let parent: String = row.get(1).map_err(&fail)?;
            let from: String = row.get(2).map_err(&fail)?;
            let to: Option<String> = row.get(3).map_err(&fail)?;
            if keys.last().is_none_or(|(last, _)| *last != id) {
                keys.push((
                    id,
                    ForeignKey {
                        columns: Vec::new(),
                        table: parent,
                        references: Vec::new(),
                    },
                ));
            }
            if let Some((_, key)) = keys.last_mut() {
                key.columns.push(from);
                if let Some(to) = to {
                    key.references.push(to);
                }
            }
        }
        Ok(keys.into_iter().map(|(_, key)| key).collect())
    }
}

/// The format 1.1 type of a SQLite declared type, by its exact base name (upper case,
/// before any `(`, spaces collapsed), or `None` for one sitepack does not know (an empty
/// declared type too).
#[must_use]
pub fn column_type(declared: &str) -> Option<ColumnType> {
    let base = declared.split('(').next().unwrap_or_default();
    let base = base
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let scalar = match base.as_str() {
        "INTEGER" | "INT" | "BIGINT" | "SMALLINT" | "TINYINT" | "MEDIUMINT" | "INT2" | "INT4"
        | "INT8" | "UNSIGNED BIG INT" => ScalarType::Integer,
        "TEXT" | "VARCHAR" | "CHAR" | "CHARACTER" | "NCHAR" | "NVARCHAR" | "CLOB"
        | "VARYING CHARACTER" | "NATIVE CHARACTER" | "CHARACTER VARYING" => ScalarType::Text,
        "BLOB" => ScalarType::Bytes,
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" => ScalarType::Float,
        "NUMERIC" | "DECIMAL" => ScalarType::Numeric,
        "BOOLEAN" | "BOOL" => ScalarType::Boolean,
        "DATE" => ScalarType::Date,
        "DATETIME" | "TIMESTAMP" => ScalarType::Timestamp,
        "TIME" => ScalarType::Time,
        "JSON" => ScalarType::Json,
        "UUID" => ScalarType::Uuid,
        _ => return None,
    };
    Some(ColumnType {
        scalar,
        array: false,
    })
}

impl Engine for SqliteEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn version(&self) -> String {
        rusqlite::version().to_owned()
    }

    fn begin_snapshot(&mut self) -> Result<(), DbError> {
        let fail = self.query_error("starting the read transaction".into());
        // The snapshot is taken at the first read (WAL: the read mark; a rollback
        // journal: the shared lock, kept until the end), so read at once.
        self.connection
            .execute_batch("BEGIN DEFERRED")
            .map_err(&fail)?;
        self.connection
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(&fail)
    }

    fn reflect(&mut self) -> Result<Vec<TableInfo>, DbError> {
        let fail = self.query_error("listing the tables".into());
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name",
            )
            .map_err(&fail)?;
        let names: Vec<(String, bool)> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(&fail)?
            .collect::<Result<_, _>>()
            .map_err(&fail)?;
        drop(statement);
        let mut tables = Vec::with_capacity(names.len());
        for (name, without_rowid) in names {
            tables.push(self.reflect_table(&name, without_rowid)?);
        }
        resolve_foreign_keys(&mut tables);
        Ok(tables)
    }

    fn hold_tables(&mut self, _tables: &[&str]) -> Result<(), DbError> {
        // The read transaction already keeps every table as it was.
        Ok(())
    }

    fn count(&mut self, query: &RowQuery) -> Result<u64, DbError> {
        let sql = format!("SELECT count(*){}", query.from_clause(None));
        let fail = self.query_error(format!("counting the rows of table \"{}\"", query.table));
        let count: i64 = self
            .connection
            .query_row(&sql, rusqlite::params_from_iter(&query.params), |row| {
                row.get(0)
            })
            .map_err(&fail)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    fn size_bytes(&mut self) -> Result<u64, DbError> {
        let fail = self.query_error("measuring the database's size".into());
        let pages: i64 = self
            .connection
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |row| row.get(0),
            )
            .map_err(&fail)?;
        Ok(u64::try_from(pages).unwrap_or_default())
    }

    fn for_each_row(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        row: &mut dyn FnMut(Vec<Value>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        // The key columns are read too, to name a row whose value is refused.
        let mut selected: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut key_positions = Vec::with_capacity(query.order_by.len());
        for key in &query.order_by {
            if let Some(i) = selected.iter().position(|c| c == key) {
                key_positions.push(i);
            } else {
                key_positions.push(selected.len());
                selected.push(key);
            }
        }
        let list: Vec<String> = selected.iter().map(|c| quote_ident(c)).collect();
        let sql = format!("SELECT {}{}", list.join(", "), query.from_clause(None));
        let fail = self.query_error(format!("reading table \"{}\"", query.table));
        let mut statement = self.connection.prepare(&sql).map_err(&fail)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(&query.params))
            .map_err(&fail)?;
        while let Some(found) = rows.next().map_err(&fail)? {
            let mut values = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                let raw = found.get_ref(i).map_err(&fail)?;
                let value = encode(raw, column.column_type).map_err(|problem| {
                    let key = query
                        .order_by
                        .iter()
                        .zip(&key_positions)
                        .map(|(name, &at)| {
                            let shown = found.get_ref(at).map_or_else(|_| "?".to_owned(), show_raw);
                            format!("{name}={shown}")
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    DbError::BadValue {
                        table: query.table.clone(),
                        row: key,
                        column: column.name.clone(),
                        problem,
                    }
                })?;
                values.push(value);
            }
            row(values)?;
        }
        Ok(())
    }

    fn end_snapshot(&mut self) -> Result<(), DbError> {
        if self.connection.is_autocommit() {
            return Ok(());
        }
        let fail = self.query_error("ending the read transaction".into());
        self.connection.execute_batch("ROLLBACK").map_err(fail)
    }
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Null => ToSqlOutput::from(rusqlite::types::Null),
            Self::Integer(n) => ToSqlOutput::from(*n),
            Self::Real(f) => ToSqlOutput::from(*f),
            Self::Text(s) => ToSqlOutput::from(s.as_str()),
            Self::Blob(b) => ToSqlOutput::from(b.as_slice()),
        })
    }
}

impl WriteEngine for SqliteEngine {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn qualified(&self, table: &str) -> String {
        quote_ident(table)
    }

    fn schema(&self) -> Option<&str> {
        None
    }

    fn begin_write(&mut self) -> Result<(), DbError> {
        let fail = self.query_error("starting the write transaction".into());
        // IMMEDIATE: the write lock now, not at the first write (no other writer can
        // slip in between the checks and the changes). Foreign keys are checked at
        // COMMIT; `defer_foreign_keys` ends with the transaction.
        self.connection
            .execute_batch("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;")
            .map_err(fail)
    }

    fn lock_for_write(&mut self, _tables: &[&str]) -> Result<(), DbError> {
        Ok(())
    }

    fn execute(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let fail = self.query_error(what.to_owned());
        let changed = self
            .connection
            .execute(sql, rusqlite::params_from_iter(params))
            .map_err(fail)?;
        Ok(u64::try_from(changed).unwrap_or(u64::MAX))
    }

    fn copy_rows(
        &mut self,
        what: &str,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, DbError> {
        let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let slots: Vec<String> = (1..=columns.len()).map(|n| format!("?{n}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            slots.join(", ")
        );
        let fail = self.query_error(what.to_owned());
        let mut statement = self.connection.prepare_cached(&sql).map_err(&fail)?;
        let mut written = 0;
        rows(&mut |values| {
            written += statement
                .execute(rusqlite::params_from_iter(values.iter()))
                .map_err(&fail)?;
            Ok(())
        })?;
        Ok(u64::try_from(written).unwrap_or(u64::MAX))
    }

    fn exists(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<bool, DbError> {
        let fail = self.query_error(what.to_owned());
        let mut statement = self.connection.prepare_cached(sql).map_err(&fail)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(&fail)?;
        Ok(rows.next().map_err(&fail)?.is_some())
    }

    fn check_constraints(&mut self, tables: &[&str]) -> Result<(), DbError> {
        for table in tables {
            let fail = self.query_error(format!("checking the foreign keys of table \"{table}\""));
            let mut statement = self
                .connection
                .prepare("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check(?1)")
                .map_err(&fail)?;
            let mut rows = statement.query([table]).map_err(&fail)?;
            if let Some(row) = rows.next().map_err(&fail)? {
                let child: String = row.get(0).map_err(&fail)?;
                let rowid: Option<i64> = row.get(1).map_err(&fail)?;
                let parent: String = row.get(2).map_err(&fail)?;
                return Err(DbError::RestoreRow {
                    table: child,
                    row: rowid.map_or_else(|| "?".to_owned(), |id| format!("rowid={id}")),
                    problem: format!(
                        "references a row of \"{parent}\" that does not exist once the archive's rows are written (a FOREIGN KEY constraint); create the row, or restore an archive that holds it"
                    ),
                });
            }
        }
        Ok(())
    }

    fn delete_effects(&mut self) -> Result<Vec<(String, ForeignKey, DeleteEffect)>, DbError> {
        let keys = self.delete_actions()?;
        // Omitted referenced columns are the parent's primary key, as reflect says.
        let tables = self.reflect()?;
        Ok(keys
            .into_iter()
            .filter_map(|(child, key, effect)| {
                let owner = tables
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(&child))?;
                let resolved = owner.foreign_keys.iter().find(|fk| {
                    fk.table.eq_ignore_ascii_case(&key.table)
                        && fk.columns.len() == key.columns.len()
                        && fk
                            .columns
                            .iter()
                            .zip(&key.columns)
                            .all(|(a, b)| a.eq_ignore_ascii_case(b))
                })?;
                Some((owner.name.clone(), resolved.clone(), effect))
            })
            .collect())
    }

    fn commit(&mut self) -> Result<(), DbError> {
        let fail = self.query_error("committing the restore".into());
        self.connection.execute_batch("COMMIT").map_err(fail)
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        if self.connection.is_autocommit() {
            return Ok(());
        }
        let fail = self.query_error("rolling the restore back".into());
        self.connection.execute_batch("ROLLBACK").map_err(fail)
    }
}

impl SqliteEngine {
    /// The foreign keys whose `ON DELETE` changes the referencing rows, as declared.
    fn delete_actions(&self) -> Result<Vec<(String, ForeignKey, DeleteEffect)>, DbError> {
        let fail = self.query_error("reading the foreign keys' delete actions".into());
        let mut statement = self
            .connection
            .prepare(
                "SELECT t.name, k.id, k.\"table\", k.\"from\", k.\"to\", k.on_delete <> 'RESTRICT' FROM pragma_table_list AS t, pragma_foreign_key_list(t.name) AS k \
                 WHERE t.schema = 'main' AND t.type = 'table' AND k.on_delete IN ('CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT') ORDER BY t.name, k.id, k.seq",
            )
            .map_err(&fail)?;
        // SQLite defers every other key here (`defer_foreign_keys`); RESTRICT acts at once.
        let mut keys: Vec<(String, i64, ForeignKey, DeleteEffect)> = Vec::new();
        let mut rows = statement.query([]).map_err(&fail)?;
        while let Some(row) = rows.next().map_err(&fail)? {
            let child: String = row.get(0).map_err(&fail)?;
            let id: i64 = row.get(1).map_err(&fail)?;
            let parent: String = row.get(2).map_err(&fail)?;
            let from: String = row.get(3).map_err(&fail)?;
            let to: Option<String> = row.get(4).map_err(&fail)?;
            let changes: bool = row.get(5).map_err(&fail)?;
            if keys
                .last()
                .is_none_or(|(c, i, _, _)| *c != child || *i != id)
            {
                keys.push((
                    child.clone(),
                    id,
                    ForeignKey {
                        columns: Vec::new(),
                        table: parent,
                        references: Vec::new(),
                    },
                    if changes {
                        DeleteEffect::Changes
                    } else {
                        DeleteEffect::Forbids
                    },
                ));
            }
            if let Some((_, _, key, _)) = keys.last_mut() {
                key.columns.push(from);
                key.references.extend(to);
            }
        }
        Ok(keys
            .into_iter()
            .map(|(child, _, key, effect)| (child, key, effect))
            .collect())
    }
}

/// Foreign keys name their parent as written (SQLite names are case-insensitive) and may
/// omit the referenced columns (the parent's primary key): both as the parent has them.
fn resolve_foreign_keys(tables: &mut [TableInfo]) {
    let parents: Vec<(String, Vec<String>, Vec<String>)> = tables
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.primary_key.clone(),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    for table in tables {
        for key in &mut table.foreign_keys {
            let Some((name, primary_key, columns)) = parents
                .iter()
                .find(|(name, _, _)| name.eq_ignore_ascii_case(&key.table))
            else {
                continue;
            };
            key.table.clone_from(name);
            if key.references.is_empty() {
                key.references.clone_from(primary_key);
            }
            for reference in &mut key.references {
                if let Some(exact) = columns.iter().find(|c| c.eq_ignore_ascii_case(reference)) {
                    reference.clone_from(exact);
                }
            }
        }
        let own: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        for key in &mut table.foreign_keys {
            for column in &mut key.columns {
                if let Some(exact) = own.iter().find(|c| c.eq_ignore_ascii_case(column)) {
                    column.clone_from(exact);
                }
            }
        }
    }
}

/// A stored value, briefly, to name a row.
fn show_raw(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let short: String = text.chars().take(40).collect();
            let more = if short.len() < text.len() { "…" } else { "" };
            format!("{short:?}{more}")
        }
        ValueRef::Blob(bytes) => format!("<{} bytes>", bytes.len()),
    }
}

fn storage_class(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a BLOB",
    }
}

/// `value` written as format 1.1 says for `column_type`, or why it cannot be.
fn encode(value: ValueRef<'_>, column_type: ColumnType) -> Result<Value, String> {
    if let ValueRef::Null = value {
        return Ok(Value::Null);
    }
    let mismatch = || {
        format!(
            "holds {} where the column's type is {}; store the value as the column's type, or change the column's declared type",
            storage_class(value),
            column_type
        )
    };
    if column_type.array {
        return Err(mismatch());
    }
    match (column_type.scalar, value) {
        // A JSON column has numeric affinity: a JSON number is stored as a number.
        (ScalarType::Integer | ScalarType::Float | ScalarType::Json, ValueRef::Integer(n)) => {
            Ok(Value::from(n))
        }
        (ScalarType::Boolean, ValueRef::Integer(n @ (0 | 1))) => Ok(Value::Bool(n == 1)),
        (ScalarType::Boolean, ValueRef::Integer(n)) => Err(format!(
            "holds {n} in a boolean column, which holds 0 (false) or 1 (true); correct the value"
        )),
        (ScalarType::Numeric, ValueRef::Integer(n)) => Ok(Value::String(n.to_string())),
        (ScalarType::Numeric, ValueRef::Real(f)) => Ok(Value::String(real_as_decimal(f))),
        (ScalarType::Numeric, ValueRef::Text(bytes)) => {
            let text = utf8_text(bytes)?;
            if is_decimal(&text) {
                Ok(Value::String(text))
            } else {
                // The value is not repeated: it may be a secret in a mistyped column.
                Err("holds text that is not a decimal number in a numeric column; correct the value or declare the column TEXT".to_owned())
            }
        }
        (ScalarType::Float, ValueRef::Real(f)) => Ok(
            Number::from_f64(f).map_or_else(|| Value::String(real_as_decimal(f)), Value::Number)
        ),
        (
            ScalarType::Text
            | ScalarType::Date
            | ScalarType::Time
            | ScalarType::Timestamp
            | ScalarType::Timestamptz,
            ValueRef::Text(bytes),
        ) => Ok(Value::String(utf8_text(bytes)?)),
        (ScalarType::Bytes, ValueRef::Blob(bytes)) => Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )),
        (ScalarType::Json, ValueRef::Text(bytes)) => {
            let text = utf8_text(bytes)?;
            // As every JSON document of an archive: one value, no key twice (a parser
            // would keep one of them and change the value unseen).
            sitepack_format::parse_document(text.as_bytes()).map_err(|e| {
                format!("holds text that is not one JSON document ({e}) in a json column; correct the value or declare the column TEXT")
            })
        }
        (ScalarType::Json, ValueRef::Real(f)) => {
            Number::from_f64(f).map(Value::Number).ok_or_else(mismatch)
        }
        (ScalarType::Uuid, ValueRef::Text(bytes)) => {
            let text = utf8_text(bytes)?;
            if is_lowercase_uuid(&text) {
                Ok(Value::String(text))
            } else {
                Err("holds text that is not a lowercase hyphenated UUID (8-4-4-4-12 hexadecimal digits) in a uuid column; correct the value or declare the column TEXT".to_owned())
            }
        }
        _ => Err(mismatch()),
    }
}

/// A real's digits: the shortest decimal that reads back to the same double;
/// `Infinity`, `-Infinity` for the infinities (SQLite stores no NaN).
fn real_as_decimal(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        // Rust's `Display` for f64 is the shortest round-trip form, without exponent.
        f.to_string()
    }
}

fn utf8_text(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        "holds text that is not valid UTF-8; correct the value (or store it as a BLOB in a BLOB column)".to_owned()
    })?;
    if text.contains('\0') {
        return Err(
            "holds text with a NUL character (U+0000), which an archive cannot hold; remove it, or store the value as a BLOB in a BLOB column".into(),
        );
    }
    Ok(text.to_owned())
}

/// `-?digits[.digits]`, or `NaN`, `Infinity`, `-Infinity`.
fn is_decimal(text: &str) -> bool {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return true;
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_lowercase_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_by_their_exact_base_name() {
        let of = |d: &str| column_type(d).map(|t| t.scalar);
        assert_eq!(of("VARCHAR(40)"), Some(ScalarType::Text));
        assert_eq!(of("unsigned  big int"), Some(ScalarType::Integer));
        assert_eq!(of("double precision"), Some(ScalarType::Float));
        assert_eq!(of("DECIMAL(12, 2)"), Some(ScalarType::Numeric));
        assert_eq!(of("datetime"), Some(ScalarType::Timestamp));
        for unknown in [
            "",
            "STRING",
            "INTEGERS",
            "VARCHAR2",
            "GEOMETRY",
            "TIMESTAMPTZ",
        ] {
            assert_eq!(of(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn decimals_and_uuids_have_one_shape() {
        for ok in [
            "0",
            "-12.50",
            "123456789012345678901234.5678",
            "NaN",
            "-Infinity",
        ] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "+1", "1,5", "12a"] {
            assert!(!is_decimal(bad), "{bad}");
        }
        assert!(is_lowercase_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_lowercase_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert!(!is_lowercase_uuid("0f8fad5bd9cb469fa16570867728950e"));
        assert_eq!(real_as_decimal(0.1), "0.1");
        assert_eq!(real_as_decimal(1e21), "1000000000000000000000");
        assert_eq!(real_as_decimal(f64::NEG_INFINITY), "-Infinity");
    }
}
