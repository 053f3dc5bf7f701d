//! Database archives (format 1.1, docs/FORMAT.md §15.7): `site/db/schema.json` against its
//! schema, each table's entry and row count, and — once every table's rows went past the
//! row rules in the data pass — the foreign keys between them.

use std::collections::HashMap;
use std::io;

use sitepack_format::database::{
    DB_DIR, DB_SCHEMA_PATH, DatabaseSchema, RowError, RowProblem, TableKeys, dangling_references,
    table_path,
};
use sitepack_format::{Manifest, PAYLOAD_DIR, parse_site_json, validate_database_schema};

use crate::container::Record;
use crate::finding::{Code, Findings};
use crate::listing::read_small;
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::source::ReadAt;

/// The archive name of `site/db/schema.json`.
pub(crate) fn schema_entry() -> String {
    format!("{PAYLOAD_DIR}/{DB_SCHEMA_PATH}")
}

pub(crate) use sitepack_format::database::is_database_archive as is_database;

/// Whether a site-relative path is under `db/`.
pub(crate) fn in_db_dir(site_path: &str) -> bool {
    site_path
        .strip_prefix(DB_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// What a table's entry gave in the data pass.
#[derive(Debug)]
pub(crate) struct TableOutcome {
    /// Its rows (non-blank lines, whether they parsed or not).
    pub rows: u64,
    /// Its keys, for the foreign keys.
    pub keys: TableKeys,
}

/// What to do about a table that breaks the format: the archive cannot be trusted as it is.
const REMAKE: &str =
    "the archive was altered or made by a faulty writer: make it again from the database";

/// Reads and checks `site/db/schema.json`: one JSON value, valid against
/// `schema/database.schema.json`, consistent with itself. Gives the schema when the
/// tables can be checked against it.
pub(crate) fn read_schema(
    file: &dyn ReadAt,
    files: &HashMap<&[u8], &Record>,
    findings: &mut Findings,
) -> io::Result<Option<DatabaseSchema>> {
    let name = schema_entry();
    let Some(record) = files.get(name.as_bytes()).filter(|r| r.readable()) else {
        // Missing or unreadable: MISSING_ENTRY or a container finding says why.
        return Ok(None);
    };
    let unchecked = "so the tables were not checked";
    let Some(bytes) = read_small(file, record, MAX_MANIFEST_BYTES)? else {
        findings.entry(
            Code::DbSchema,
            &name,
            format!("schema.json cannot be read (damaged, or larger than 64 MiB), {unchecked}"),
        );
        return Ok(None);
    };
    let Ok(value) = parse_site_json(&bytes) else {
        findings.entry(
            Code::DbSchema,
            &name,
            format!("schema.json is not one JSON value (see INVALID_JSON), {unchecked}; {REMAKE}"),
        );
        return Ok(None);
    };
    let mut violations = validate_database_schema(&value);
    let schema = if violations.is_empty() {
        match serde_json::from_value::<DatabaseSchema>(value) {
            Ok(schema) => {
                violations = schema.problems();
                Some(schema)
            }
            Err(e) => {
                findings.entry(
                    Code::DbSchema,
                    &name,
                    format!("schema.json cannot be read as a database schema ({e}), {unchecked}; {REMAKE}"),
                );
                return Ok(None);
            }
        }
    } else {
        None
    };
    if violations.is_empty() {
        return Ok(schema);
    }
    for violation in violations {
        findings.entry(
            Code::DbSchema,
            &name,
            format!(
                "{violation} (schema/database.schema.json, docs/FORMAT.md §15.2), {unchecked}; {REMAKE}"
            ),
        );
    }
    Ok(None)
}

/// Each table of the schema has its entry, stating its rows in `records`; every entry
/// under `site/db/` is the schema or one of its tables.
pub(crate) fn check_entries(manifest: &Manifest, schema: &DatabaseSchema, findings: &mut Findings) {
    let entries: HashMap<&str, Option<u64>> = manifest
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.records))
        .collect();
    for table in &schema.tables {
        let name = format!("{PAYLOAD_DIR}/{}", table_path(&table.name));
        match entries.get(name.as_str()) {
            None => findings.entry(
                Code::DbTableMissing,
                &name,
                format!(
                    "schema.json lists table `{}`, but the archive has no entry for its rows; the archive is incomplete: make it again from the database",
                    table.name
                ),
            ),
            Some(None) => findings.entry(
                Code::DbCount,
                &name,
                format!(
                    "the manifest does not state the number of rows of table `{}` (`records`); {REMAKE}",
                    table.name
                ),
            ),
            Some(Some(_)) => {}
        }
    }
    let tables: Vec<String> = schema
        .tables
        .iter()
        .map(|t| format!("{PAYLOAD_DIR}/{}", table_path(&t.name)))
        .collect();
    let schema_name = schema_entry();
    if entries
        .get(schema_name.as_str())
        .copied()
        .flatten()
        .is_some()
    {
        findings.entry(
            Code::DbCount,
            &schema_name,
            format!("schema.json is a document: it states no records in the manifest; {REMAKE}"),
        );
    }
    for entry in &manifest.entries {
        let path = entry.path.as_str();
        let in_db = path
            .strip_prefix(PAYLOAD_DIR)
            .and_then(|p| p.strip_prefix('/'))
            .is_some_and(in_db_dir);
        if in_db && path != schema_name && !tables.iter().any(|t| t == path) {
            findings.entry(
                Code::DbTableUnknown,
                path,
                "a database archive's site/db/ holds schema.json and one <table>.jsonl per table it lists, but schema.json lists no such table; do not restore this archive: make it again from the database",
            );
        }
    }
}

/// The code of a row's problem.
pub(crate) fn row_code(error: &RowError) -> Code {
    match error.problem {
        RowProblem::DuplicateKey { .. } => Code::DbKeyDuplicate,
        RowProblem::OtherTenant { .. } => Code::DbTenant,
        _ => Code::DbRow,
    }
}

/// What to do about a row that breaks the rules.
pub(crate) fn row_advice(error: &RowError) -> &'static str {
    match error.problem {
        RowProblem::OtherTenant { .. } => {
            "a database archive holds one tenant's rows only: do not restore it, make it again from the database"
        }
        _ => REMAKE,
    }
}

/// Rows of one foreign key reported one by one; the rest are counted in one finding.
const DANGLING_SHOWN: usize = 20;

/// After the data pass: each table's rows against its `records` and `schema.json`'s
/// `rows`, and every foreign key whose parent table's rows were read.
pub(crate) fn finish(
    manifest: &Manifest,
    schema: &DatabaseSchema,
    outcomes: Vec<TableOutcome>,
    findings: &mut Findings,
) {
    let records: HashMap<&str, Option<u64>> = manifest
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.records))
        .collect();
    let mut keys = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let Some(table) = schema
            .tables
            .iter()
            .find(|t| t.name == outcome.keys.table())
        else {
            continue;
        };
        let name = format!("{PAYLOAD_DIR}/{}", table_path(&table.name));
        let stated = records.get(name.as_str()).copied().flatten();
        let mut differs = Vec::new();
        if let Some(stated) = stated.filter(|&s| s != outcome.rows) {
            differs.push(format!("the manifest's records says {stated}"));
        }
        if table.rows != outcome.rows {
            differs.push(format!("schema.json's rows says {}", table.rows));
        }
        if !differs.is_empty() {
            findings.entry(
                Code::DbCount,
                &name,
                format!(
                    "table `{}` holds {} rows, but {}; {REMAKE}",
                    table.name,
                    outcome.rows,
                    differs.join(" and ")
                ),
            );
        }
        keys.push(outcome.keys);
    }
    for dangling in dangling_references(&keys) {
        let name = format!("{PAYLOAD_DIR}/{}", table_path(&dangling.table));
        let fk = &dangling.foreign_key;
        let columns = fk.columns.join(", ");
        let parent = format!("`{}` ({})", fk.table, fk.references.join(", "));
        for row in dangling.rows.iter().take(DANGLING_SHOWN) {
            let key = row
                .key
                .as_deref()
                .map(|k| format!(" (key {k})"))
                .unwrap_or_default();
            findings.entry(
                Code::DbForeignKey,
                &name,
                format!(
                    "table `{}`, line {}{key}: foreign key ({columns}) names a row of {parent} that the archive does not hold; a restore could not write this row: make the archive again from the database",
                    dangling.table, row.line
                ),
            );
        }
        if dangling.rows.len() > DANGLING_SHOWN {
            findings.entry(
                Code::DbForeignKey,
                &name,
                format!(
                    "table `{}`: {} more values of foreign key ({columns}) name rows of {parent} that the archive does not hold",
                    dangling.table,
                    dangling.rows.len() - DANGLING_SHOWN
                ),
            );
        }
    }
}
