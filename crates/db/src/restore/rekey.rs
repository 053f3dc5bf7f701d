//! Fresh keys for a restore under another tenant (`--as`, and `init` from a template):
//! the archive's rows are written as the descriptor's tenant's, with keys that cannot
//! meet the target's rows.
//!
//! Per column of the written (tenant and linked) tables, decided from the archive's
//! `schema.json` alone ([`rekeyed_columns`], shown in the plan):
//!
//! - the tenant column, and the tenant table's key, hold the new tenant;
//! - a one-column integer primary key gets `old + offset`, one offset per table, chosen
//!   inside the restore's transaction ([`Rekey::build`]) so that every new key is above
//!   the target's largest key of that column (no per-row map: memory stays flat);
//! - a one-column UUID primary key gets a UUID v5 of (a namespace drawn at random for
//!   this restore, the old UUID): fresh, and the same for every reference to it;
//! - a column of a foreign key that references one of those follows it (the same
//!   offset, UUID function or tenant), in any written table: self-references, composite
//!   keys, and a primary key that is its parent's (a one-to-one table) included;
//! - anything else is kept: text keys (one that another tenant's row holds is refused by
//!   the database, naming the row), and reference tables and the references to them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sitepack_format::database::{
    Column, ColumnType, DatabaseSchema, ScalarType, TableRole, TenantValue,
};
use sitepack_reader::Archive;

use super::stream_rows;
use crate::DbError;
use crate::engine::WriteEngine;
use crate::sql::{RowQuery, quote_ident};

/// A column whose values a restore under another tenant changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RekeyedColumn {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// How its values change.
    pub change: KeyChange,
    /// For a foreign key's column: the key whose new values it takes (`table.column`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
}

/// How a rekeyed column's values change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChange {
    /// The new tenant's value.
    Tenant,
    /// An integer key: `old + offset`, above the target's largest key.
    Offset,
    /// A UUID key: a UUID v5 of this restore's random namespace and the old one.
    Uuid,
}

/// The columns a restore of the archive described by `schema` as another tenant
/// rewrites, table by table in the archive's order (parents first, so that a key is
/// known before the foreign keys that follow it).
#[must_use]
pub fn rekeyed_columns(schema: &DatabaseSchema) -> Vec<RekeyedColumn> {
    let tenant = &schema.tenant;
    let scalar = |column: &Column, scalar: ScalarType| {
        column.column_type
            == ColumnType {
                scalar,
                array: false,
            }
    };
    // The keys rows are renumbered by, each with how and the key whose values it takes
    // (itself, or the key a primary key that is also a foreign key follows).
    let mut keys: BTreeMap<(String, String), (KeyChange, String)> = BTreeMap::new();
    let mut columns = Vec::new();
    for table in schema
        .tables
        .iter()
        .filter(|t| t.role != TableRole::Reference)
    {
        let name = |column: &str| format!("{}.{column}", table.name);
        let followed = |keys: &BTreeMap<(String, String), (KeyChange, String)>, column: &str| {
            table.foreign_keys.iter().find_map(|fk| {
                let at = fk.columns.iter().position(|c| c == column)?;
                let parent = fk.references.get(at)?;
                keys.get(&(fk.table.clone(), parent.clone())).cloned()
            })
        };
        let has_tenant = table.columns.iter().any(|c| c.name == tenant.column);
        if has_tenant {
            keys.insert(
                (table.name.clone(), tenant.column.clone()),
                (KeyChange::Tenant, name(&tenant.column)),
            );
        }
        // The table's own key first: its rows' references (self-references too) follow it.
        let mut own: Option<(String, KeyChange, Option<String>)> = None;
        if let [key] = table.primary_key.as_slice()
            && *key != tenant.column
            && let Some(column) = table.columns.iter().find(|c| c.name == *key)
        {
            own = if tenant.table.as_deref() == Some(table.name.as_str()) {
                Some((key.clone(), KeyChange::Tenant, None))
            } else if let Some((change, origin)) = followed(&keys, key) {
                // A one-to-one table whose key is its parent's.
                Some((key.clone(), change, Some(origin)))
            } else if scalar(column, ScalarType::Integer) {
                Some((key.clone(), KeyChange::Offset, None))
            } else if scalar(column, ScalarType::Uuid) {
                Some((key.clone(), KeyChange::Uuid, None))
            } else {
                None
            };
            if let Some((key, change, follows)) = &own {
                let origin = follows.clone().unwrap_or_else(|| name(key));
                keys.insert((table.name.clone(), key.clone()), (*change, origin));
            }
        }
        for column in &table.columns {
            let rekeyed = if has_tenant && column.name == tenant.column {
                Some((KeyChange::Tenant, None))
            } else if let Some((key, change, follows)) = &own
                && *key == column.name
            {
                Some((*change, follows.clone()))
            } else {
                followed(&keys, &column.name).map(|(change, origin)| (change, Some(origin)))
            };
            if let Some((change, follows)) = rekeyed {
                columns.push(RekeyedColumn {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    change,
                    follows,
                });
            }
        }
    }
    columns
}

/// The tenant value `wanted` as a column holding `like` holds it (`"7"` as `7` in an
/// integer column); `wanted` itself when it cannot be.
#[must_use]
pub(crate) fn tenant_value_like(wanted: &TenantValue, like: &TenantValue) -> TenantValue {
    match (wanted, like) {
        (TenantValue::Text(text), TenantValue::Integer(_)) => text
            .parse()
            .map_or_else(|_| wanted.clone(), TenantValue::Integer),
        (TenantValue::Integer(n), TenantValue::Text(_)) => TenantValue::Text(n.to_string()),
        _ => wanted.clone(),
    }
}

fn tenant_json(value: &TenantValue) -> Value {
    match value {
        TenantValue::Integer(n) => Value::from(*n),
        TenantValue::Text(s) => Value::from(s.as_str()),
    }
}

/// How one column's values change, resolved.
#[derive(Debug, Clone)]
enum Change {
    Tenant,
    Offset(i64),
    Uuid,
}

/// The rewriting of the archive's rows of one restore under another tenant.
#[derive(Debug)]
pub(crate) struct Rekey {
    tenant: Value,
    namespace: uuid::Uuid,
    /// Per table, per column.
    columns: BTreeMap<String, BTreeMap<String, Change>>,
}

impl Rekey {
    /// Chooses the offsets, inside the restore's transaction (before anything is
    /// deleted): each integer key's is such that the archive's smallest key lands above
    /// the target's largest (0 when it already is), so no new key meets a row of the
    /// target, whichever tenant's.
    pub(crate) fn build(
        engine: &mut dyn WriteEngine,
        schema: &DatabaseSchema,
        archive: &Archive,
        columns: &[RekeyedColumn],
        tenant: &TenantValue,
    ) -> Result<Self, DbError> {
        let mut offsets: BTreeMap<String, i64> = BTreeMap::new();
        for key in columns
            .iter()
            .filter(|c| c.change == KeyChange::Offset && c.follows.is_none())
        {
            let Some(column) = schema
                .tables
                .iter()
                .find(|t| t.name == key.table)
                .and_then(|t| t.columns.iter().find(|c| c.name == key.column))
            else {
                continue;
            };
            let target_max = largest_key(engine, &key.table, column)?;
            let archive_min = smallest_archived(archive, &key.table, &key.column)?;
            let offset = match (target_max, archive_min) {
                (Some(max), Some(min)) if max >= min => {
                    max.checked_sub(min).and_then(|d| d.checked_add(1))
                }
                _ => Some(0),
            }
            .ok_or_else(|| DbError::Plan {
                problem: format!(
                    "table \"{}\": the keys of column \"{}\" cannot be renumbered above the database's largest one (64-bit integers overflow)",
                    key.table, key.column
                ),
            })?;
            offsets.insert(format!("{}.{}", key.table, key.column), offset);
        }
        let mut resolved: BTreeMap<String, BTreeMap<String, Change>> = BTreeMap::new();
        for column in columns {
            let change = match column.change {
                KeyChange::Tenant => Change::Tenant,
                KeyChange::Uuid => Change::Uuid,
                KeyChange::Offset => {
                    let key = column
                        .follows
                        .clone()
                        .unwrap_or_else(|| format!("{}.{}", column.table, column.column));
                    Change::Offset(offsets.get(&key).copied().unwrap_or(0))
                }
            };
            resolved
                .entry(column.table.clone())
                .or_default()
                .insert(column.column.clone(), change);
        }
        Ok(Self {
            tenant: tenant_json(tenant),
            namespace: uuid::Uuid::new_v4(),
            columns: resolved,
        })
    }

    /// `row` of `table` with its keys, references and tenant rewritten.
    pub(crate) fn row(
        &self,
        table: &str,
        mut row: Map<String, Value>,
    ) -> Result<Map<String, Value>, DbError> {
        let Some(columns) = self.columns.get(table) else {
            return Ok(row);
        };
        for (column, change) in columns {
            let Some(value) = row.get_mut(column) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let fresh = match change {
                Change::Tenant => Some(self.tenant.clone()),
                Change::Offset(offset) => value
                    .as_i64()
                    .and_then(|old| old.checked_add(*offset))
                    .map(Value::from),
                Change::Uuid => value
                    .as_str()
                    .and_then(|old| uuid::Uuid::parse_str(old).ok())
                    .map(|old| {
                        Value::from(
                            uuid::Uuid::new_v5(&self.namespace, old.as_bytes())
                                .hyphenated()
                                .to_string(),
                        )
                    }),
            };
            match fresh {
                Some(fresh) => *value = fresh,
                None => {
                    return Err(DbError::RestoreRow {
                        table: table.to_owned(),
                        row: format!("{column}={value}"),
                        problem: format!(
                            "column \"{column}\" cannot be given a fresh key (not a key of its type, or past the 64-bit integers); the archive does not follow format 1.1"
                        ),
                    });
                }
            }
        }
        Ok(row)
    }
}

/// The largest value of `column` in the target's `table` (every tenant's rows).
fn largest_key(
    engine: &mut dyn WriteEngine,
    table: &str,
    column: &Column,
) -> Result<Option<i64>, DbError> {
    let quoted = quote_ident(&column.name);
    let query = RowQuery {
        table: table.to_owned(),
        filter: Some(format!(
            "{quoted} = (SELECT max({quoted}) FROM {})",
            engine.qualified(table)
        )),
        params: Vec::new(),
        order_by: Vec::new(),
    };
    let mut largest = None;
    engine.for_each_row(&query, std::slice::from_ref(column), &mut |values| {
        largest = values.first().and_then(Value::as_i64);
        Ok(())
    })?;
    Ok(largest)
}

/// The smallest value of `column` in the archive's rows of `table` (one pass, nothing
/// held).
fn smallest_archived(archive: &Archive, table: &str, column: &str) -> Result<Option<i64>, DbError> {
    let mut smallest: Option<i64> = None;
    stream_rows(archive, table, &mut |_, row| {
        if let Some(key) = row.get(column).and_then(Value::as_i64) {
            smallest = Some(smallest.map_or(key, |s| s.min(key)));
        }
        Ok(())
    })?;
    Ok(smallest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_values_take_the_columns_type() {
        let integer = TenantValue::Integer(1);
        let text = TenantValue::Text("a".into());
        assert_eq!(
            tenant_value_like(&TenantValue::Text("7".into()), &integer),
            TenantValue::Integer(7)
        );
        assert_eq!(
            tenant_value_like(&TenantValue::Integer(7), &text),
            TenantValue::Text("7".into())
        );
        assert_eq!(tenant_value_like(&text, &text), text);
    }
}
