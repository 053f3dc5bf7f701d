//! A replace on PostgreSQL by difference. The archive's rows are copied into temporary
//! tables first; then only the tenant's rows that differ from them are changed: the rows
//! the archive lacks are deleted (children first), its rows the tenant lacks inserted and
//! the rows whose values differ updated (parents first), and the rows already equal are
//! left as they are. The tables end exactly as deleting every row of the scope and
//! inserting the archive's would leave them, but a row that did not change costs no
//! write, no foreign-key check, no index entry and no dead row: a restore into a tenant
//! that changed a little since its backup writes little.
//!
//! Rows are equal when every column's text form is (the form the export reads, under the
//! restore's session settings), so a value that prints differently (`1.0` and `1.00`) is
//! written again. The difference is taken under a savepoint: whatever the database
//! refuses on this path (a key that is not `DEFERRABLE` checked before a later statement
//! repairs it, a unique value moved from one row to another, a value its type refuses) rolls
//! back to it, and the caller deletes and inserts instead, which names the row at fault.

use sitepack_format::database::{ScalarType, TableRole};
use sitepack_reader::Archive;

use super::Mode;
use super::apply::Insert;
use super::check::Checked;
use crate::engine::{SqlValue, WriteEngine};
use crate::sql::{Dialect, quote_ident};
use crate::{ColumnInfo, DbError};

const SAVEPOINT: &str = "sitepack_restore_difference";

/// What the difference changed in one table.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Changes {
    pub deleted: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// One written table and the temporary table holding the archive's rows of it.
struct Loaded<'a> {
    table: &'a str,
    staged: String,
    /// The key's columns: each quoted, its quoted name in the temporary table, and how
    /// the target describes it.
    key: Vec<(String, String, Option<&'a ColumnInfo>)>,
    /// The other written columns: each quoted, its quoted name in the temporary table,
    /// and how the target describes it.
    values: Vec<(String, String, Option<&'a ColumnInfo>)>,
    rows: u64,
}

/// The prefix of the temporary tables' column names: none of the target's columns may
/// start with it, so that the scope's filter, which names the target's columns
/// unqualified, never reads a column of the temporary table.
const STAGED_COLUMN: &str = "sitepack staged ";

/// Replaces the tenant's rows of `written` (parents first) by the archive's, by
/// difference: the changes per table, in `written`'s order; or `None`, with nothing
/// changed, when this path does not apply (SQLite; a table without a primary key or whose
/// columns differ from the archive's) or the database refused it.
pub(super) fn replace_by_difference(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    archive: &Archive,
    written: &[&str],
) -> Result<Option<Vec<Changes>>, DbError> {
    if engine.dialect() != Dialect::Postgres || !written.iter().all(|t| applies(checked, t)) {
        return Ok(None);
    }
    let what = "replacing the tenant's rows";
    engine.execute(what, &format!("SAVEPOINT {SAVEPOINT}"), &[])?;
    match difference(engine, checked, archive, written) {
        Ok(changes) => {
            engine.execute(what, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[])?;
            Ok(Some(changes))
        }
        Err(DbError::Query { .. } | DbError::RestoreRow { .. }) => {
            engine.execute(what, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"), &[])?;
            engine.execute(what, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[])?;
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Whether `table` can be replaced by difference: it has a primary key, the archive's
/// key is the target's, and the archive has every column the target writes (none is
/// left to its default).
fn applies(checked: &Checked, table: &str) -> bool {
    let (Some(schema), Some(info)) = (
        checked.schema.tables.iter().find(|t| t.name == table),
        checked.live.get(table),
    ) else {
        return false;
    };
    let generated = checked.generated.get(table);
    // An update fires the table's own triggers (a "touch updated_at" would change the
    // restored values) and the ON UPDATE actions of keys referencing a column other than
    // the primary key (reaching other tenants' rows); deletes and inserts of the rows do
    // what a restore always did.
    let referenced_otherwise = checked.live.values().any(|other| {
        other
            .foreign_keys
            .iter()
            .any(|fk| fk.table == table && fk.references != info.primary_key)
    });
    !checked.triggered.contains(table)
        && !referenced_otherwise
        && schema.role != TableRole::Reference
        && !info.primary_key.is_empty()
        && !info
            .columns
            .iter()
            .any(|c| c.name.starts_with(STAGED_COLUMN))
        && schema.primary_key == info.primary_key
        && checked.scope_rows.contains_key(table)
        && info
            .columns
            .iter()
            .filter(|c| !generated.is_some_and(|g| g.contains(&c.name)))
            .all(|c| schema.columns.iter().any(|a| a.name == c.name))
}

fn difference(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    archive: &Archive,
    written: &[&str],
) -> Result<Vec<Changes>, DbError> {
    let mut loaded = Vec::with_capacity(written.len());
    for (n, table) in written.iter().enumerate() {
        loaded.push(load(engine, checked, archive, table, n)?);
    }
    let mut changes = vec![Changes::default(); loaded.len()];
    // Children first: a linked table's rows are found through their parents.
    for (table, counts) in loaded.iter().zip(changes.iter_mut()).rev() {
        counts.deleted = delete_absent(engine, checked, table)?;
    }
    for (table, counts) in loaded.iter().zip(changes.iter_mut()) {
        counts.inserted = insert_new(engine, checked, table)?;
        counts.updated = update_changed(engine, checked, table)?;
        counts.unchanged = table.rows.saturating_sub(counts.inserted + counts.updated);
        engine.execute(
            "dropping a temporary table",
            &format!("DROP TABLE {}", table.staged),
            &[],
        )?;
    }
    Ok(changes)
}

/// Copies the archive's rows of `table` into a temporary table of its written columns,
/// renamed.
fn load<'a>(
    engine: &mut dyn WriteEngine,
    checked: &'a Checked,
    archive: &Archive,
    table: &'a str,
    n: usize,
) -> Result<Loaded<'a>, DbError> {
    let staged = format!("pg_temp.{}", quote_ident(&format!("sitepack_restore_{n}")));
    let insert = Insert::new(engine, checked, table, Mode::Replace, Some(staged.clone()))
        .ok_or_else(|| DbError::Plan {
            problem: format!("table \"{table}\" has no column to restore"),
        })?;
    let info = &checked.live[table];
    let columns = insert.column_names();
    let renamed: Vec<String> = (0..columns.len())
        .map(|i| format!("{STAGED_COLUMN}{i}"))
        .collect();
    let mut key = Vec::new();
    let mut values = Vec::new();
    for (name, staged_name) in columns.iter().zip(&renamed) {
        let column = info.columns.iter().find(|c| c.name == *name);
        let entry = (quote_ident(name), quote_ident(staged_name), column);
        if info.primary_key.iter().any(|k| k == name) {
            key.push(entry);
        } else {
            values.push(entry);
        }
    }
    let list: Vec<String> = columns
        .iter()
        .zip(&renamed)
        .map(|(name, staged_name)| format!("{} AS {}", quote_ident(name), quote_ident(staged_name)))
        .collect();
    let what = format!("staging the archive's rows of table \"{table}\"");
    engine.execute(
        &what,
        &format!(
            "CREATE TEMPORARY TABLE {staged} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
            list.join(", "),
            engine.qualified(table)
        ),
        &[],
    )?;
    let renamed: Vec<&str> = renamed.iter().map(String::as_str).collect();
    let rows = insert.copy_all(engine, archive, &renamed)?;
    // Its key, as the target's: a key twice in the archive is refused here, as the
    // target's constraint would refuse it. Building the index also tells the planner
    // how many rows the table holds.
    let staged_key: Vec<&str> = key
        .iter()
        .map(|(_, staged_name, _)| staged_name.as_str())
        .collect();
    engine.execute(
        &what,
        &format!(
            "ALTER TABLE {staged} ADD PRIMARY KEY ({})",
            staged_key.join(", ")
        ),
        &[],
    )?;
    Ok(Loaded {
        table,
        staged,
        key,
        values,
        rows,
    })
}

/// Whether the value of `quoted` (`staged` in the temporary table) differs between the
/// live row and the archive's: by the
/// type's own equality where equal values always print the same (integers, booleans,
/// UUIDs, dates and times, bytes; text and varchar compared byte by byte), else by their
/// text forms (`1.0` and `1.00` are equal numerics, `-0` and `0` equal floats, JSON
/// values equal as `jsonb` may be spelled differently, and a type sitepack does not know
/// may have an equality of its own).
fn column_differs(column: Option<&ColumnInfo>, quoted: &str, staged: &str) -> String {
    let (live, new) = (
        format!("sitepack_live.{quoted}"),
        format!("sitepack_new.{staged}"),
    );
    match comparison(column) {
        Comparison::Native => format!("{live} IS DISTINCT FROM {new}"),
        Comparison::Bytes => {
            format!("{live} COLLATE \"C\" IS DISTINCT FROM {new} COLLATE \"C\"")
        }
        Comparison::Text => format!("{live}::text IS DISTINCT FROM {new}::text"),
    }
}

/// How two values of a column are told apart.
enum Comparison {
    /// By the type's own equality: equal values always print the same.
    Native,
    /// Byte by byte (text and varchar, whatever their collation).
    Bytes,
    /// By their text forms.
    Text,
}

fn comparison(column: Option<&ColumnInfo>) -> Comparison {
    let Some(column) = column else {
        return Comparison::Text;
    };
    let native = column.column_type.is_some_and(|t| {
        !t.array
            && matches!(
                t.scalar,
                ScalarType::Integer
                    | ScalarType::Boolean
                    | ScalarType::Uuid
                    | ScalarType::Date
                    | ScalarType::Time
                    | ScalarType::Timestamp
                    | ScalarType::Timestamptz
                    | ScalarType::Bytes
            )
    });
    if native {
        Comparison::Native
    } else if column.declared == "text" || column.declared.starts_with("character varying") {
        Comparison::Bytes
    } else {
        Comparison::Text
    }
}

/// `sitepack_live.k1 = sitepack_new.s1 AND …` over the key, each compared as
/// [`column_differs`] compares values: a key equal by its type's `=` but spelled
/// differently (`1.0` and `1.00`, a case-insensitive collation's `Alice` and `ALICE`)
/// is another row, deleted and inserted as the archive spells it.
fn same_key(table: &Loaded<'_>) -> String {
    table
        .key
        .iter()
        .map(|(live, staged, column)| match comparison(*column) {
            Comparison::Native => format!("sitepack_live.{live} = sitepack_new.{staged}"),
            Comparison::Bytes => {
                format!("sitepack_live.{live} COLLATE \"C\" = sitepack_new.{staged} COLLATE \"C\"")
            }
            Comparison::Text => {
                format!("sitepack_live.{live}::text = sitepack_new.{staged}::text")
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The scope's filter and its parameters: the tenant's rows of the table.
fn scope(checked: &Checked, table: &str) -> (String, Vec<SqlValue>) {
    let query = &checked.scope_rows[table];
    (
        query.filter.clone().unwrap_or_else(|| "TRUE".to_owned()),
        query.params.iter().map(SqlValue::from).collect(),
    )
}

fn delete_absent(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    table: &Loaded<'_>,
) -> Result<u64, DbError> {
    let (filter, params) = scope(checked, table.table);
    let sql = format!(
        "DELETE FROM {} AS sitepack_live WHERE ({filter}) AND NOT EXISTS (SELECT 1 FROM {} AS sitepack_new WHERE {})",
        engine.qualified(table.table),
        table.staged,
        same_key(table)
    );
    engine.execute(
        &format!(
            "deleting the tenant's rows of table \"{}\" that the archive lacks",
            table.table
        ),
        &sql,
        &params,
    )
}

fn insert_new(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    table: &Loaded<'_>,
) -> Result<u64, DbError> {
    let (filter, params) = scope(checked, table.table);
    let (columns, selected): (Vec<&str>, Vec<String>) = table
        .key
        .iter()
        .chain(&table.values)
        .map(|(live, staged, _)| (live, staged))
        .map(|(live, staged)| (live.as_str(), format!("sitepack_new.{staged}")))
        .unzip();
    // A key of a row outside the scope (another tenant's) is inserted too, and refused by
    // the key's constraint: the caller's delete and insert then names the row.
    let sql = format!(
        "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} AS sitepack_new WHERE NOT EXISTS (SELECT 1 FROM {} AS sitepack_live WHERE {} AND ({filter}))",
        engine.qualified(table.table),
        columns.join(", "),
        selected.join(", "),
        table.staged,
        engine.qualified(table.table),
        same_key(table)
    );
    engine.execute(
        &format!(
            "inserting the archive's new rows of table \"{}\"",
            table.table
        ),
        &sql,
        &params,
    )
}

fn update_changed(
    engine: &mut dyn WriteEngine,
    checked: &Checked,
    table: &Loaded<'_>,
) -> Result<u64, DbError> {
    if table.values.is_empty() {
        return Ok(0);
    }
    let (filter, params) = scope(checked, table.table);
    let columns: Vec<&str> = table
        .values
        .iter()
        .map(|(live, _, _)| live.as_str())
        .collect();
    let from_new: Vec<String> = table
        .values
        .iter()
        .map(|(_, staged, _)| format!("sitepack_new.{staged}"))
        .collect();
    let differs: Vec<String> = table
        .values
        .iter()
        .map(|(live, staged, column)| column_differs(*column, live, staged))
        .collect();
    let sql = format!(
        "UPDATE {} AS sitepack_live SET ({}) = ROW({}) FROM {} AS sitepack_new WHERE {} AND ({filter}) AND ({})",
        engine.qualified(table.table),
        columns.join(", "),
        from_new.join(", "),
        table.staged,
        same_key(table),
        differs.join(" OR "),
    );
    engine.execute(
        &format!(
            "updating the tenant's changed rows of table \"{}\"",
            table.table
        ),
        &sql,
        &params,
    )
}
