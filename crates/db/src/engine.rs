//! The interface every database engine implements.

use serde_json::Value;
use sitepack_format::database::{Column, ColumnType, EngineKind, ForeignKey};

use crate::DbError;
use crate::sql::RowQuery;

/// A table as the engine's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's name (unqualified; PostgreSQL tables come from the descriptor's schema).
    pub name: String,
    /// The columns in the table's order.
    pub columns: Vec<ColumnInfo>,
    /// The primary key's columns, in key order (empty when there is none).
    pub primary_key: Vec<String>,
    /// Unique constraints other than the primary key.
    pub unique: Vec<Vec<String>>,
    /// Foreign keys declared on this table.
    pub foreign_keys: Vec<ForeignKey>,
}

impl TableInfo {
    /// Drops the unique column lists that are the primary key or repeat an earlier one
    /// (a unique index beside a constraint on the same columns): the rest are "unique
    /// constraints other than the primary key", each once.
    pub(crate) fn drop_repeated_unique(&mut self) {
        let mut kept: Vec<Vec<String>> = Vec::with_capacity(self.unique.len());
        for columns in self.unique.drain(..) {
            if columns != self.primary_key && !kept.contains(&columns) {
                kept.push(columns);
            }
        }
        self.unique = kept;
    }
}

/// A column as the engine's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// The declared type, as the catalog spells it.
    pub declared: String,
    /// How its values are written, or `None` for a type sitepack does not know (refused
    /// when the table travels; a table that stays behind may hold any type).
    pub column_type: Option<ColumnType>,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// Whether it has a default value.
    pub has_default: bool,
}

impl ColumnInfo {
    /// The column as `schema.json` describes it, once its type is known.
    #[must_use]
    pub fn to_column(&self, column_type: ColumnType) -> Column {
        Column {
            name: self.name.clone(),
            column_type,
            declared: self.declared.clone(),
            nullable: self.nullable,
            has_default: self.has_default,
        }
    }
}

/// What deleting a referenced row does to the rows that reference it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteEffect {
    /// They are deleted or changed with it (`CASCADE`, `SET NULL`, `SET DEFAULT`).
    Changes,
    /// The delete fails at once while they reference it.
    Forbids,
}

/// A connection to one database, able to read one consistent snapshot of it.
///
/// Call order: [`Engine::begin_snapshot`], then any number of [`Engine::reflect`],
/// [`Engine::hold_tables`], [`Engine::count`] and [`Engine::for_each_row`], then
/// [`Engine::end_snapshot`]. Everything read between the two sees the same committed
/// state of the database, whatever other connections commit meanwhile.
pub trait Engine {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;
    /// The server's (or library's) version, e.g. `15.19` or `3.46.0`.
    fn version(&self) -> String;
    /// Starts the read-only snapshot (PostgreSQL: `REPEATABLE READ READ ONLY`; SQLite:
    /// one read transaction).
    fn begin_snapshot(&mut self) -> Result<(), DbError>;
    /// The tables of the database (of the descriptor's schema on PostgreSQL), by name.
    fn reflect(&mut self) -> Result<Vec<TableInfo>, DbError>;
    /// Keeps `tables` from changing shape until the snapshot ends (PostgreSQL: `ACCESS
    /// SHARE` locks, so that an `ALTER TABLE` waits; SQLite: nothing to do, the read
    /// transaction already holds them). A table that cannot be held in time is an error
    /// naming it.
    fn hold_tables(&mut self, tables: &[&str]) -> Result<(), DbError>;
    /// How many rows `query` selects.
    fn count(&mut self, query: &RowQuery) -> Result<u64, DbError>;
    /// The size of the whole database on disk, in bytes (every tenant's rows: what the
    /// site lives in, not what a backup holds).
    fn size_bytes(&mut self) -> Result<u64, DbError>;
    /// About how many rows `query` selects, for progress: the count, unless counting
    /// costs about as much as reading the rows (PostgreSQL: the planner's estimate).
    fn estimate(&mut self, query: &RowQuery) -> Result<u64, DbError> {
        self.count(query)
    }
    /// Streams the rows `query` selects, in its order, each as the values of `columns`
    /// (in that order) encoded as format 1.1 says for each column's type. Rows are never
    /// all held in memory.
    fn for_each_row(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        row: &mut dyn FnMut(Vec<Value>) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
    /// As [`Engine::for_each_row`], for writing an archive: a JSON value for which
    /// `verbatim(column index, its JSON text)` gives a compact form comes as that form,
    /// in the row's list of `(column index, text)`, with `true` in its place among the
    /// values (see [`RowWriter::write_row_with`](sitepack_writer::RowWriter::write_row_with)).
    /// An engine may give every value parsed (this default does).
    fn for_each_row_verbatim(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: &Verbatim<'_>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let _ = verbatim;
        self.for_each_row(query, columns, &mut |values| row(values, Vec::new()))
    }
    /// Another connection that reads rows in this snapshot (begun), so that tables can
    /// be read side by side, each on its own thread; `None` when the engine has none to
    /// offer (this default: SQLite reads on its one connection). Valid until the
    /// snapshot ends.
    fn snapshot_reader(&mut self) -> Result<Option<Box<dyn SnapshotReader>>, DbError> {
        Ok(None)
    }
    /// Ends the snapshot (nothing was written, so this only releases it).
    fn end_snapshot(&mut self) -> Result<(), DbError>;
}

/// A connection reading rows in an [`Engine`]'s snapshot, beside it
/// ([`Engine::snapshot_reader`]).
pub trait SnapshotReader: Send {
    /// As [`Engine::for_each_row_verbatim`]; `row` is called while the connection is
    /// being read, so it must not wait on another database connection (a PostgreSQL
    /// client's calls would enter a runtime from within one).
    fn for_each_row_verbatim(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: &Verbatim<'_>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
    /// Whether the connection can read nothing more: it was lost, or a statement failed
    /// in its transaction.
    fn is_broken(&self) -> bool;
}

/// Given a column's index and a JSON value's text, the value's compact form when it may
/// be written as it is ([`Engine::for_each_row_verbatim`]).
pub type Verbatim<'a> = dyn Fn(usize, &str) -> Option<String> + 'a;

/// Values of a row already in their compact JSON form: (column index, text).
pub type EncodedValues = Vec<(usize, String)>;

/// A value bound to a statement that writes (never written into the SQL text).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A binary float.
    Real(f64),
    /// Text (PostgreSQL: every value is sent as its text form, read by the server as the
    /// column's type).
    Text(String),
    /// Bytes (SQLite: a BLOB).
    Blob(Vec<u8>),
}

impl From<&crate::sql::Param> for SqlValue {
    fn from(param: &crate::sql::Param) -> Self {
        match param {
            crate::sql::Param::Integer(n) => Self::Integer(*n),
            crate::sql::Param::Text(s) => Self::Text(s.clone()),
        }
    }
}

/// What hands rows on to [`WriteEngine::copy_rows`]: it calls the function it is given
/// once per row, with the row's values, and stops at the first error.
pub type RowSource<'a> =
    dyn FnMut(&mut dyn FnMut(&[SqlValue]) -> Result<(), DbError>) -> Result<(), DbError> + 'a;

/// A sequence a restore moved forward past the restored keys (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SequenceMove {
    /// The table.
    pub table: String,
    /// The serial or identity column.
    pub column: String,
    /// The sequence, as the catalog names it.
    pub sequence: String,
    /// The value it was set to (the largest restored key): the next one is above it.
    pub value: i64,
}

/// A connection able to change the database in one transaction, for a restore.
///
/// Call order: [`WriteEngine::begin_write`], then any statements, then
/// [`WriteEngine::commit`] or [`WriteEngine::rollback`]. The database's constraints stay
/// on: foreign keys are deferred to the end of the transaction where the engine allows
/// (PostgreSQL: `SET CONSTRAINTS ALL DEFERRED`, for the constraints declared
/// `DEFERRABLE`; SQLite: `PRAGMA defer_foreign_keys`), never switched off.
pub trait WriteEngine: Engine {
    /// How statements are written: placeholders and the schema tables are qualified by.
    fn dialect(&self) -> crate::sql::Dialect;
    /// `"schema"."table"` (PostgreSQL) or `"table"` (SQLite).
    fn qualified(&self, table: &str) -> String;
    /// The schema tables live in (PostgreSQL), for subqueries.
    fn schema(&self) -> Option<&str>;
    /// Starts the write transaction (PostgreSQL: `BEGIN`, fixed session settings,
    /// `SET CONSTRAINTS ALL DEFERRED`; SQLite: `BEGIN IMMEDIATE`, foreign keys deferred).
    fn begin_write(&mut self) -> Result<(), DbError>;
    /// Keeps other sessions from writing `tables` until the transaction ends
    /// (PostgreSQL: `SHARE ROW EXCLUSIVE` locks; SQLite: `BEGIN IMMEDIATE` already holds
    /// the database's write lock).
    fn lock_for_write(&mut self, tables: &[&str]) -> Result<(), DbError>;
    /// Runs one statement with bound `params`; the number of rows it changed. `what`
    /// names it in an error.
    fn execute(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<u64, DbError>;
    /// Inserts the rows `rows` hands on (each the values of `columns`, in that order)
    /// into `table` (quoted and qualified, as [`WriteEngine::qualified`] writes it) by
    /// the engine's fastest path, as they come: the number of rows written. PostgreSQL:
    /// one `COPY … FROM STDIN`, several times cheaper for the server than bound `INSERT`s,
    /// which it reads while the next rows are prepared; SQLite: one prepared `INSERT` run
    /// per row. An error of `rows` ends the copy (nothing of it is written) and is
    /// returned.
    fn copy_rows(
        &mut self,
        what: &str,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, DbError>;
    /// Whether `sql` (a `SELECT`) with bound `params` returns a row.
    fn exists(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<bool, DbError>;
    /// Checks the deferred constraints now, so that a violation is an error naming its
    /// table before the transaction is committed (PostgreSQL: `SET CONSTRAINTS ALL
    /// IMMEDIATE`; SQLite: `PRAGMA foreign_key_check` of `tables`).
    fn check_constraints(&mut self, tables: &[&str]) -> Result<(), DbError>;
    /// Moves the sequences behind `table`'s serial and identity columns past their
    /// largest value, only ever forward (PostgreSQL; SQLite picks the next rowid itself).
    fn advance_sequences(&mut self, table: &TableInfo) -> Result<Vec<SequenceMove>, DbError> {
        let _ = table;
        Ok(Vec::new())
    }
    /// The columns of `table` the database computes itself and that may not be written
    /// (PostgreSQL: `GENERATED ALWAYS AS (…) STORED`; SQLite's are not reflected).
    fn generated_columns(&mut self, table: &str) -> Result<Vec<String>, DbError> {
        let _ = table;
        Ok(Vec::new())
    }
    /// Whether `table` has triggers of its own (PostgreSQL: a user's `CREATE TRIGGER`),
    /// which may change or swallow the rows a restore writes.
    fn has_triggers(&mut self, table: &str) -> Result<bool, DbError> {
        let _ = table;
        Ok(false)
    }
    /// The foreign keys a replace's deletes must not reach rows through, each with its
    /// referencing table and what a delete of a referenced row does there: change the
    /// referencing rows (`ON DELETE CASCADE`, `SET NULL`, `SET DEFAULT`), or fail at once
    /// (`RESTRICT`; PostgreSQL: also a key that is not `DEFERRABLE`, which `SET
    /// CONSTRAINTS ALL DEFERRED` leaves checked at each statement).
    fn delete_effects(&mut self) -> Result<Vec<(String, ForeignKey, DeleteEffect)>, DbError>;
    /// Commits the transaction.
    fn commit(&mut self) -> Result<(), DbError>;
    /// Rolls the transaction back (nothing it wrote remains).
    fn rollback(&mut self) -> Result<(), DbError>;
}
