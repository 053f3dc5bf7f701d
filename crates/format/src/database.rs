//! Database archives (format 1.1): what `site/db/schema.json` says about the tenant's
//! tables, and how a column's values are written in `site/db/<table>.jsonl`.
//!
//! A database site's writer (the `db` crate) fills these types from the live schema; a
//! reader checks an archive's rows against them; a restore (next) writes rows back by them.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{FormatVersion, Manifest, PAYLOAD_DIR};

mod rows;
mod values;

#[cfg(test)]
pub(crate) use rows::tests::schema as tests_schema;
pub use rows::{
    DanglingReferences, RowError, RowProblem, RowRef, TableKeys, TableRowsCheck,
    dangling_references,
};
pub use values::check_value;

/// The site-relative directory holding a database archive's tables.
pub const DB_DIR: &str = "db";
/// The site-relative path of the schema document.
pub const DB_SCHEMA_PATH: &str = "db/schema.json";
/// The format version a database archive declares: 1.1 adds `site/db/`, the `table`
/// scope and `records` on table entries.
pub const DATABASE_FORMAT_VERSION: FormatVersion = FormatVersion { major: 1, minor: 1 };

/// The site-relative path of a table's rows: `db/<table>.jsonl`.
#[must_use]
pub fn table_path(table: &str) -> String {
    format!("{DB_DIR}/{table}.jsonl")
}

/// Whether `manifest` declares a database archive: format 1.1 or later, listing
/// `site/db/schema.json`. In any other archive `site/db/` is content of area `other`, as
/// format 1.0 says (docs/FORMAT.md §15.1).
#[must_use]
pub fn is_database_archive(manifest: &Manifest) -> bool {
    manifest.format_version >= DATABASE_FORMAT_VERSION
        && manifest.entries.iter().any(|e| {
            e.path
                .as_str()
                .strip_prefix(PAYLOAD_DIR)
                .and_then(|p| p.strip_prefix('/'))
                == Some(DB_SCHEMA_PATH)
        })
}

/// `site/db/schema.json`: the tenant's tables as the database declared them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "sitepack database schema",
    description = "site/db/schema.json of a database archive (format 1.1)"
)]
pub struct DatabaseSchema {
    /// The database engine the rows were read from.
    pub engine: EngineKind,
    /// The engine's version as it reported it (e.g. `15.19`, `3.46.0`).
    pub engine_version: String,
    /// The tenant: which column holds it and its value.
    pub tenant: Tenant,
    /// The exported tables, parents before the tables that reference them.
    pub tables: Vec<Table>,
    /// The tables of the database that are not in the archive, and why.
    pub skipped: Vec<SkippedTable>,
}

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgresql,
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgresql => "postgresql",
        })
    }
}

/// The tenant column and the tenant's value in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tenant {
    /// The column that says which tenant a row belongs to.
    pub column: String,
    /// The tenant's value in that column.
    pub value: TenantValue,
    /// The table whose primary key is the tenant (an `organizations` table), if the site
    /// names one: its one row, whose key is the tenant's value, is the tenant's own,
    /// whether or not the table has the tenant column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// A tenant value: text or an integer, as the column holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TenantValue {
    /// An integer column's value.
    Integer(i64),
    /// A text column's value.
    Text(String),
}

impl fmt::Display for TenantValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// One exported table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Table {
    /// The table's name; its rows are `site/db/<name>.jsonl`.
    pub name: String,
    /// Why its rows are the tenant's.
    pub role: TableRole,
    /// The columns, in the table's order; every row has exactly these members.
    pub columns: Vec<Column>,
    /// The primary key's columns (empty when the table has none: rows are then in the
    /// order of all their columns).
    pub primary_key: Vec<String>,
    /// Unique constraints other than the primary key, each a list of columns.
    pub unique: Vec<Vec<String>>,
    /// The table's foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// How many rows the archive holds (equal to the entry's `records`).
    pub rows: u64,
}

/// Why a table's rows are in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableRole {
    /// The table has the tenant column: its rows with the tenant's value.
    Tenant,
    /// Owned through a parent: the rows whose parent rows are in the archive.
    Linked,
    /// Master data the tenant's rows reference (a catalogue, a currency list): only the
    /// referenced rows, for reference. A restore never writes them; it checks they exist.
    Reference,
}

impl fmt::Display for TableRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tenant => "tenant",
            Self::Linked => "linked",
            Self::Reference => "reference",
        })
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Column {
    /// The column's name: the member name in every row.
    pub name: String,
    /// How its values are written (see [`ColumnType`]).
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// The type as the database declares it (e.g. `numeric(12,2)`, `VARCHAR(40)`).
    pub declared: String,
    /// Whether it may hold NULL (written as JSON `null`).
    pub nullable: bool,
    /// Whether it has a default value.
    pub has_default: bool,
}

/// A foreign key: `columns` of this table reference `references` of `table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForeignKey {
    /// The referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub table: String,
    /// The referenced columns, in the same order.
    pub references: Vec<String>,
}

/// A table of the database that is not in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedTable {
    /// The table's name.
    pub table: String,
    /// Why it is not there.
    pub reason: SkipReason,
}

/// Why a table is not in an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Listed in the descriptor's `exclude`.
    Excluded,
    /// Listed in the descriptor's `secret_tables`: its rows never travel.
    Secret,
    /// Neither has the tenant column nor is linked to the tenant's rows by a foreign key.
    Unreached,
    /// Outside the archive's scope (`table:NAME`, `user:ID`).
    OutOfScope,
}

impl SkipReason {
    /// What the reason means, for people.
    #[must_use]
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Excluded => "excluded by the descriptor",
            Self::Secret => "a secret table: its rows never travel",
            Self::Unreached => "no tenant column and no foreign key to or from the tenant's tables",
            Self::OutOfScope => "outside the archive's scope",
        }
    }
}

/// How a column's values are written in the archive: a scalar type, or a one-dimensional
/// array of one (`integer[]`). SQL NULL is always JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnType {
    /// The type of the value, or of each element of an array.
    pub scalar: ScalarType,
    /// A one-dimensional array of `scalar` (elements may be `null`).
    pub array: bool,
}

/// The value types of database archives and how each is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// A JSON integer, exact, −2⁶³ … 2⁶³−1.
    Integer,
    /// A decimal as a JSON string holding every digit (`"12.50"`), or `"NaN"`,
    /// `"Infinity"`, `"-Infinity"`.
    Numeric,
    /// A JSON number that reads back to the same binary float; `"NaN"`, `"Infinity"`,
    /// `"-Infinity"` as strings.
    Float,
    /// `true` or `false`.
    Boolean,
    /// A JSON string, any Unicode but U+0000.
    Text,
    /// Bytes as a standard base64 string with padding.
    Bytes,
    /// PostgreSQL: `YYYY-MM-DD` (or `infinity`, `-infinity`); SQLite: the text as stored.
    Date,
    /// PostgreSQL: `HH:MM:SS[.ffffff]`; SQLite: the text as stored.
    Time,
    /// PostgreSQL: `YYYY-MM-DDTHH:MM:SS[.ffffff]` (or `infinity`, `-infinity`); SQLite:
    /// the text as stored.
    Timestamp,
    /// PostgreSQL: RFC 3339 with its offset, `YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM` (or
    /// `infinity`, `-infinity`); SQLite: the text as stored.
    Timestamptz,
    /// The JSON value itself.
    Json,
    /// A UUID as a lowercase hyphenated string.
    Uuid,
}

impl ScalarType {
    /// Every scalar type, in the order of the specification.
    pub const ALL: [Self; 12] = [
        Self::Integer,
        Self::Numeric,
        Self::Float,
        Self::Boolean,
        Self::Text,
        Self::Bytes,
        Self::Date,
        Self::Time,
        Self::Timestamp,
        Self::Timestamptz,
        Self::Json,
        Self::Uuid,
    ];

    /// The type's name in `schema.json`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Numeric => "numeric",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Text => "text",
            Self::Bytes => "bytes",
            Self::Date => "date",
            Self::Time => "time",
            Self::Timestamp => "timestamp",
            Self::Timestamptz => "timestamptz",
            Self::Json => "json",
            Self::Uuid => "uuid",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scalar.as_str())?;
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (base, array) = match s.strip_suffix("[]") {
            Some(base) => (base, true),
            None => (s, false),
        };
        ScalarType::ALL
            .into_iter()
            .find(|t| t.as_str() == base)
            .map(|scalar| Self { scalar, array })
            .ok_or_else(|| format!("`{s}` is not a column type of format 1.1"))
    }
}

impl Serialize for ColumnType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ColumnType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ColumnType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<String> = ScalarType::ALL
            .into_iter()
            .flat_map(|t| [t.as_str().to_owned(), format!("{}[]", t.as_str())])
            .collect();
        schemars::json_schema!({
            "description": "How the column's values are written: a scalar type, or a one-dimensional array of one (`integer[]`).",
            "type": "string",
            "enum": names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_round_trip_through_their_names() {
        for scalar in ScalarType::ALL {
            for array in [false, true] {
                let t = ColumnType { scalar, array };
                assert_eq!(t.to_string().parse::<ColumnType>(), Ok(t));
            }
        }
        for bad in ["", "int", "integer[][]", "[]", "Text"] {
            assert!(bad.parse::<ColumnType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tenant_values_keep_their_json_type() {
        let text: TenantValue = serde_json::from_str(r#""7""#).unwrap();
        let integer: TenantValue = serde_json::from_str("7").unwrap();
        assert_eq!(text, TenantValue::Text("7".into()));
        assert_eq!(integer, TenantValue::Integer(7));
    }
}
