//! Which tables and rows are the tenant's, decided from the live schema alone.
//!
//! - **Tenant** tables have the tenant column: their rows with the tenant's value. The
//!   descriptor's `tenant_table` is one too: its row whose primary key is the tenant
//!   (filtered by that key, whether or not it also has the tenant column).
//! - **Linked** tables have no tenant column but foreign keys to tenant or linked tables
//!   (transitively): exactly the rows whose parent rows are included, through any of
//!   those keys. A self-reference never includes a row.
//! - **Reference** tables (master data) have no tenant column and are referenced by
//!   included rows without being linked themselves: only the referenced rows
//!   (transitively: a catalogue's manufacturers).
//! - Excluded and secret tables never travel. A foreign key from a travelling table to
//!   one of them does not stop the table: its columns' values are written as values, and
//!   the referenced rows stay behind.
//! - Every other table is not reached by the tenant rule and stays behind.
//!
//! Every row selected is checked for a tenant leak: a foreign key from an included row to
//! a row of a tenant or linked table that is not the tenant's is refused (see
//! [`LeakCheck`]). Tables are ordered parents first; a foreign-key cycle between two
//! travelling tables is refused.

use std::collections::{BTreeMap, BTreeSet};

use sitepack_format::database::{
    Column, ColumnType, ForeignKey, ScalarType, SkipReason, SkippedTable, Table, TableRole,
    TenantValue, table_path,
};
use sitepack_format::{ArchivePath, TreeConflict, first_tree_conflict};

use crate::descriptor::Descriptor;
use crate::sql::{Dialect, Param, RowQuery, quote_ident};
use crate::{ColumnInfo, DbError, TableInfo};

/// Which part of the tenant's rows an archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every table the tenant rule reaches.
    Full,
    /// One table with the tenant's rows of it, and the reference rows they reference.
    Table(String),
    /// The users table's row whose primary key is the id, every row of the tenant whose
    /// `owner_column` is the id, and the reference rows they reference.
    User(String),
}

impl TryFrom<&sitepack_format::Scope> for Scope {
    type Error = DbError;

    /// `full`, `table:NAME` and `user:ID` apply to a database site; `tab:` and `module:`
    /// are the scopes of a directory site.
    fn try_from(scope: &sitepack_format::Scope) -> Result<Self, DbError> {
        match scope {
            sitepack_format::Scope::Full => Ok(Self::Full),
            sitepack_format::Scope::Table(name) => Ok(Self::Table(name.to_string())),
            sitepack_format::Scope::User(id) => Ok(Self::User(id.to_string())),
            other @ (sitepack_format::Scope::Tab(_) | sitepack_format::Scope::Module(_)) => {
                Err(DbError::Plan {
                    problem: format!(
                        "scope {other} does not apply to a database site: use full, table:NAME or user:ID"
                    ),
                })
            }
        }
    }
}

/// The tables and rows of one archive.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The tables that travel, parents first.
    pub tables: Vec<PlannedTable>,
    /// The database's other tables, by name, and why they stay behind.
    pub skipped: Vec<SkippedTable>,
    /// Every table the plan's queries read: the travelling ones and the tables their
    /// conditions go through (a linked table's parents, also outside a scope), by name.
    /// They are the tables to hold for the snapshot.
    pub read: Vec<String>,
    /// The foreign keys to check for rows of another tenant before anything is written.
    pub leak_checks: Vec<LeakCheck>,
    /// The rows of every tenant table of the full plan (whatever the scope): a tenant with
    /// none at all is unknown.
    pub tenant_rows: Vec<RowQuery>,
}

/// One table that travels.
#[derive(Debug, Clone)]
pub struct PlannedTable {
    /// Why its rows are the tenant's.
    pub role: TableRole,
    /// The table as reflected.
    pub info: TableInfo,
    /// Its columns as `schema.json` describes them.
    pub columns: Vec<Column>,
    /// The rows that travel, in key order.
    pub query: RowQuery,
}

impl PlannedTable {
    /// The table's entry in `schema.json`, holding `rows` rows.
    #[must_use]
    pub fn schema_table(&self, rows: u64) -> Table {
        Table {
            name: self.info.name.clone(),
            role: self.role,
            columns: self.columns.clone(),
            primary_key: self.info.primary_key.clone(),
            unique: self.info.unique.clone(),
            foreign_keys: self.info.foreign_keys.clone(),
            rows,
        }
    }
}

/// A foreign key from travelling rows to a tenant or linked table: `query` selects the
/// travelling rows whose referenced row is not the tenant's (it must select none).
#[derive(Debug, Clone)]
pub struct LeakCheck {
    /// The referencing table.
    pub table: String,
    /// The foreign key's columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub parent: String,
    /// The columns that name an offending row (its primary key, else all its columns).
    pub key: Vec<Column>,
    /// The offending rows.
    pub query: RowQuery,
}

/// A SQL condition under construction: text and parameters, numbered when rendered.
#[derive(Debug, Clone, Default)]
struct Condition(Vec<Piece>);

#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Param(Param),
}

impl Condition {
    fn sql(text: impl Into<String>) -> Self {
        Self(vec![Piece::Sql(text.into())])
    }

    fn push_sql(&mut self, text: &str) {
        self.0.push(Piece::Sql(text.to_owned()));
    }

    fn push_param(&mut self, param: Param) {
        self.0.push(Piece::Param(param));
    }

    fn push(&mut self, other: &Self) {
        self.0.extend(other.0.iter().cloned());
    }

    /// `a OR b OR …`, each in parentheses.
    fn any(conditions: Vec<Self>) -> Self {
        let mut all = Self::default();
        for (i, condition) in conditions.into_iter().enumerate() {
            if i > 0 {
                all.push_sql(" OR ");
            }
            all.push_sql("(");
            all.push(&condition);
            all.push_sql(")");
        }
        all
    }

    /// `(self) AND (other)`.
    fn and(&self, other: &Self) -> Self {
        let mut both = Self::sql("(");
        both.push(self);
        both.push_sql(") AND (");
        both.push(other);
        both.push_sql(")");
        both
    }

    fn render(&self, dialect: Dialect) -> (String, Vec<Param>) {
        let mut sql = String::new();
        let mut params = Vec::new();
        for piece in &self.0 {
            match piece {
                Piece::Sql(text) => sql.push_str(text),
                Piece::Param(param) => {
                    params.push(param.clone());
                    sql.push_str(&dialect.placeholder(params.len()));
                }
            }
        }
        (sql, params)
    }
}

/// How the plan writes SQL: the dialect, and the schema that qualifies table names in
/// subqueries (PostgreSQL).
#[derive(Debug, Clone, Copy)]
pub struct SqlStyle<'a> {
    /// The parameters' placeholders.
    pub dialect: Dialect,
    /// The schema of every table, or `None` (SQLite).
    pub schema: Option<&'a str>,
}

impl SqlStyle<'_> {
    fn table(&self, name: &str) -> String {
        match self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
            None => quote_ident(name),
        }
    }
}

/// `(a, b)`, or `a` for one column.
fn column_list(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    if quoted.len() == 1 {
        quoted.join("")
    } else {
        format!("({})", quoted.join(", "))
    }
}

/// `a, b`: a subquery's select list.
fn select_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<columns> IN (SELECT <picked> FROM <table> WHERE <condition>)`.
fn in_subquery(
    style: SqlStyle<'_>,
    columns: &[String],
    table: &str,
    picked: &[String],
    condition: &Condition,
) -> Condition {
    let mut c = Condition::sql(format!(
        "{} IN (SELECT {} FROM {} WHERE ",
        column_list(columns),
        select_list(picked),
        style.table(table)
    ));
    c.push(condition);
    c.push_sql(")");
    c
}

/// `"column" = <value>`, the value bound as the column's type.
fn equals(table: &TableInfo, column: &str, value: &TenantValue) -> Result<Condition, DbError> {
    let info = table.columns.iter().find(|c| c.name == column);
    let param = bound_as(info, value).ok_or_else(|| DbError::Plan {
        problem: format!(
            "table \"{}\", column \"{column}\" holds integers, and {value} is not one: check the value in the descriptor or the scope",
            table.name
        ),
    })?;
    let mut c = Condition::sql(format!("{} = ", quote_ident(column)));
    c.push_param(param);
    Ok(c)
}

/// `value` as a parameter of the column's type: an integer column compares to an integer.
fn bound_as(column: Option<&ColumnInfo>, value: &TenantValue) -> Option<Param> {
    let integer = column
        .and_then(|c| c.column_type)
        .is_some_and(|t| t.scalar == ScalarType::Integer && !t.array);
    match value {
        TenantValue::Integer(n) if integer => Some(Param::Integer(*n)),
        TenantValue::Integer(n) => Some(Param::Text(n.to_string())),
        TenantValue::Text(s) if integer => s.parse().ok().map(Param::Integer),
        TenantValue::Text(s) => Some(Param::Text(s.clone())),
    }
}

/// The rows a scope selects: the condition per travelling table.
type Selection = BTreeMap<String, Condition>;
/// The tables the descriptor keeps back, and why.
type Blocked<'a> = BTreeMap<&'a str, SkipReason>;
/// The role of every table the tenant rule reaches.
type Roles<'a> = BTreeMap<&'a str, TableRole>;

struct Planner<'a> {
    tables: BTreeMap<&'a str, &'a TableInfo>,
    descriptor: &'a Descriptor,
    style: SqlStyle<'a>,
}

impl<'a> Planner<'a> {
    fn table(&self, name: &str) -> &'a TableInfo {
        self.tables[name]
    }

    fn has_tenant_column(&self, name: &str) -> bool {
        self.table(name)
            .columns
            .iter()
            .any(|c| c.name == self.descriptor.tenant_column)
    }

    fn names(&self) -> String {
        self.tables.keys().copied().collect::<Vec<_>>().join(", ")
    }

    /// Foreign keys of `table` to other tables of the database, in declaration order.
    fn parents<'s>(&'s self, table: &str) -> impl Iterator<Item = &'a ForeignKey> + 's {
        let table = self.table(table);
        table
            .foreign_keys
            .iter()
            .filter(move |fk| fk.table != table.name && self.tables.contains_key(fk.table.as_str()))
    }

    /// Refuses a table of the descriptor that the database does not have.
    fn check_named(&self, key: &str, name: &str) -> Result<(), DbError> {
        if self.tables.contains_key(name) {
            Ok(())
        } else {
            Err(DbError::Plan {
                problem: format!(
                    "the site descriptor's {key} names table \"{name}\", which {} does not have (its tables: {}); correct the name",
                    self.descriptor.display_url(),
                    self.names()
                ),
            })
        }
    }
}

/// Plans the archive of `scope` over the reflected `tables` of `descriptor`'s database.
pub fn plan(
    tables: &[TableInfo],
    descriptor: &Descriptor,
    scope: &Scope,
    style: SqlStyle<'_>,
) -> Result<Plan, DbError> {
    let planner = Planner {
        // sitepack's own table (a pending restore: `crate::review`) is never the tenant's.
        tables: tables
            .iter()
            .filter(|t| t.name != crate::review::STATE_TABLE)
            .map(|t| (t.name.as_str(), t))
            .collect(),
        descriptor,
        style,
    };
    let (blocked, roles) = assign_roles(&planner)?;
    let order = dependency_order(&planner, &roles)?;
    let full = full_selection(&planner, &order, &roles)?;
    let tenant_rows = order
        .iter()
        .filter(|name| roles[*name] == TableRole::Tenant)
        .map(|name| row_query(&planner, name, &full[*name]))
        .collect();

    let (kept, selection) = scoped_selection(&planner, scope, &order, &roles, &full)?;

    let mut travelling = Vec::new();
    let mut leak_checks = Vec::new();
    for &name in order.iter().filter(|name| kept.contains(*name)) {
        let info = planner.table(name);
        let columns = typed_columns(info)?;
        let condition = &selection[name];
        if roles[name] != TableRole::Reference {
            for fk in &info.foreign_keys {
                if let Some(TableRole::Tenant | TableRole::Linked) = roles.get(fk.table.as_str()) {
                    leak_checks.push(leak_check(&planner, info, &columns, condition, fk, &full));
                }
            }
        }
        travelling.push(PlannedTable {
            role: roles[name],
            info: info.clone(),
            columns,
            query: row_query(&planner, name, condition),
        });
    }
    check_file_names(&travelling)?;
    refuse_secret_names(&travelling)?;

    let skipped = planner
        .tables
        .keys()
        .filter(|name| !kept.contains(*name))
        .map(|&name| SkippedTable {
            table: name.to_owned(),
            reason: match (blocked.get(name), roles.contains_key(name)) {
                (Some(reason), _) => *reason,
                (None, true) => SkipReason::OutOfScope,
                (None, false) => SkipReason::Unreached,
            },
        })
        .collect();
    Ok(Plan {
        tables: travelling,
        read: roles.keys().map(|&name| name.to_owned()).collect(),
        skipped,
        leak_checks,
        tenant_rows,
    })
}

/// The tables the descriptor keeps back, and the role of every table the tenant rule
/// reaches.
fn assign_roles<'a>(planner: &Planner<'a>) -> Result<(Blocked<'a>, Roles<'a>), DbError> {
    let mut blocked: BTreeMap<&str, SkipReason> = BTreeMap::new();
    for name in &planner.descriptor.exclude {
        planner.check_named("exclude", name)?;
        blocked.insert(name.as_str(), SkipReason::Excluded);
    }
    for name in &planner.descriptor.secret_tables {
        planner.check_named("secret_tables", name)?;
        blocked.insert(name.as_str(), SkipReason::Secret);
    }
    let candidates: Vec<&str> = planner
        .tables
        .keys()
        .copied()
        .filter(|name| !blocked.contains_key(name))
        .collect();

    // Roles: tenant tables, then linked ones to a fixed point, then reference ones.
    let mut roles: BTreeMap<&str, TableRole> = BTreeMap::new();
    for &name in &candidates {
        if planner.has_tenant_column(name) {
            roles.insert(name, TableRole::Tenant);
        }
    }
    if roles.is_empty() {
        return Err(DbError::Plan {
            problem: format!(
                "no table of {} has the tenant column \"{}\"{}: check tenant_column in the site descriptor",
                planner.descriptor.display_url(),
                planner.descriptor.tenant_column,
                if blocked.is_empty() {
                    ""
                } else {
                    " (outside exclude and secret_tables)"
                }
            ),
        });
    }
    if let Some(tenant_table) = &planner.descriptor.tenant_table {
        planner.check_named("tenant_table", tenant_table)?;
        if let Some(reason) = blocked.get(tenant_table.as_str()) {
            return Err(DbError::Plan {
                problem: format!(
                    "the site descriptor's tenant_table \"{tenant_table}\" is also {}: remove it from one of them",
                    if *reason == SkipReason::Secret {
                        "a secret table"
                    } else {
                        "excluded"
                    }
                ),
            });
        }
        if planner.table(tenant_table).primary_key.len() != 1 {
            return Err(DbError::Plan {
                problem: format!(
                    "tenant_table \"{tenant_table}\" needs a primary key of one column (the tenant's value); it has {}: name another table or remove tenant_table",
                    describe_key(&planner.table(tenant_table).primary_key)
                ),
            });
        }
        roles.insert(tenant_table.as_str(), TableRole::Tenant);
    }
    let mut changed = true;
    while changed {
        changed = false;
        for &name in &candidates {
            if !roles.contains_key(name)
                && planner
                    .parents(name)
                    .any(|fk| roles.contains_key(fk.table.as_str()))
            {
                roles.insert(name, TableRole::Linked);
                changed = true;
            }
        }
    }
    changed = true;
    while changed {
        changed = false;
        for &name in &candidates {
            if !roles.contains_key(name)
                && roles.keys().any(|&child| {
                    planner
                        .parents(child)
                        .any(|fk| fk.table == name && roles.contains_key(child))
                })
            {
                roles.insert(name, TableRole::Reference);
                changed = true;
            }
        }
    }

    Ok((blocked, roles))
}

fn describe_key(key: &[String]) -> String {
    if key.is_empty() {
        "none".into()
    } else {
        format!("({})", key.join(", "))
    }
}

/// The travelling tables, parents first (ties by name); self-references do not count. A
/// cycle is refused, named.
fn dependency_order<'a>(
    planner: &Planner<'a>,
    roles: &BTreeMap<&'a str, TableRole>,
) -> Result<Vec<&'a str>, DbError> {
    let parents_of = |name: &str| -> BTreeSet<&'a str> {
        planner
            .parents(name)
            .filter_map(|fk| roles.get_key_value(fk.table.as_str()).map(|(k, _)| *k))
            .collect()
    };
    let mut waiting: BTreeMap<&'a str, BTreeSet<&'a str>> =
        roles.keys().map(|&name| (name, parents_of(name))).collect();
    let mut order = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let ready: Vec<&'a str> = waiting
            .iter()
            .filter(|(_, parents)| parents.is_empty())
            .map(|(name, _)| *name)
            .collect();
        let Some(&next) = ready.first() else {
            return Err(cycle_error(&waiting));
        };
        waiting.remove(next);
        for parents in waiting.values_mut() {
            parents.remove(next);
        }
        order.push(next);
    }
    Ok(order)
}

/// Names one cycle among `waiting` (every table there waits for another there).
fn cycle_error(waiting: &BTreeMap<&str, BTreeSet<&str>>) -> DbError {
    let mut path: Vec<&str> = Vec::new();
    let mut current = waiting.keys().next().copied().unwrap_or_default();
    while !path.contains(&current) {
        path.push(current);
        current = waiting
            .get(current)
            .and_then(|parents| parents.iter().next().copied())
            .unwrap_or_default();
    }
    let start = path.iter().position(|&t| t == current).unwrap_or(0);
    let mut cycle: Vec<&str> = path[start..].to_vec();
    cycle.push(current);
    DbError::Plan {
        problem: format!(
            "the foreign keys of the tenant's tables form a cycle: {} (each references the next); sitepack cannot order their rows, parents first: exclude one of these tables in the site descriptor (exclude = [\"{}\"])",
            cycle.join(" -> "),
            cycle[cycle.len() - 2]
        ),
    }
}

/// The full plan's condition for every travelling table.
fn full_selection(
    planner: &Planner<'_>,
    order: &[&str],
    roles: &BTreeMap<&str, TableRole>,
) -> Result<Selection, DbError> {
    let descriptor = planner.descriptor;
    let mut full = Selection::new();
    for &name in order {
        let info = planner.table(name);
        let condition = match roles[name] {
            TableRole::Tenant if descriptor.tenant_table.as_deref() == Some(name) => {
                equals(info, &info.primary_key[0], &descriptor.tenant)?
            }
            TableRole::Tenant => equals(info, &descriptor.tenant_column, &descriptor.tenant)?,
            TableRole::Linked => Condition::any(
                planner
                    .parents(name)
                    .filter(|fk| {
                        matches!(
                            roles.get(fk.table.as_str()),
                            Some(TableRole::Tenant | TableRole::Linked)
                        )
                    })
                    .map(|fk| {
                        in_subquery(
                            planner.style,
                            &fk.columns,
                            &fk.table,
                            &fk.references,
                            &full[fk.table.as_str()],
                        )
                    })
                    .collect(),
            ),
            TableRole::Reference => continue,
        };
        full.insert(name.to_owned(), condition);
    }
    let all: BTreeSet<&str> = order.iter().copied().collect();
    add_references(planner, order, roles, &all, &mut full);
    Ok(full)
}

/// Adds the condition of every reference table in `kept` (children first, so that a
/// catalogue's condition is known before its manufacturers'): the rows that the kept rows
/// reference.
fn add_references(
    planner: &Planner<'_>,
    order: &[&str],
    roles: &BTreeMap<&str, TableRole>,
    kept: &BTreeSet<&str>,
    selection: &mut Selection,
) {
    for &name in order.iter().rev() {
        if roles[name] != TableRole::Reference
            || !kept.contains(name)
            || selection.contains_key(name)
        {
            continue;
        }
        let mut referenced = Vec::new();
        for &child in order {
            if !kept.contains(child) || child == name {
                continue;
            }
            let Some(child_condition) = selection.get(child) else {
                continue;
            };
            for fk in planner.parents(child).filter(|fk| fk.table == name) {
                referenced.push(in_subquery(
                    planner.style,
                    &fk.references,
                    child,
                    &fk.columns,
                    child_condition,
                ));
            }
        }
        selection.insert(name.to_owned(), Condition::any(referenced));
    }
}

/// The tables a scope keeps and their conditions.
fn scoped_selection<'a>(
    planner: &Planner<'a>,
    scope: &Scope,
    order: &[&'a str],
    roles: &BTreeMap<&'a str, TableRole>,
    full: &Selection,
) -> Result<(BTreeSet<&'a str>, Selection), DbError> {
    let descriptor = planner.descriptor;
    let mut kept: BTreeSet<&'a str> = BTreeSet::new();
    let mut selection = Selection::new();
    match scope {
        Scope::Full => {
            return Ok((roles.keys().copied().collect(), full.clone()));
        }
        Scope::Table(table) => {
            let Some((&name, _)) = roles.get_key_value(table.as_str()) else {
                return Err(DbError::Plan {
                    problem: format!(
                        "scope table:{table}: {}; the tenant's tables are {}",
                        if planner.tables.contains_key(table.as_str()) {
                            "that table is not one of the tenant's"
                        } else {
                            "the database has no such table"
                        },
                        roles.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            kept.insert(name);
            selection.insert(name.to_owned(), full[name].clone());
        }
        Scope::User(id) => {
            let users = descriptor.users_table.as_str();
            let Some((&users_name, role)) = roles.get_key_value(users) else {
                return Err(DbError::Plan {
                    problem: format!(
                        "scope user:{id}: users table \"{users}\" is not one of the tenant's tables; set users_table in the site descriptor (the tenant's tables are {})",
                        roles.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            let Some(owner_column) = descriptor.owner_column.as_deref() else {
                return Err(DbError::Plan {
                    problem: format!(
                        "scope user:{id}: the site descriptor sets no owner_column, the column that names a row's owner; add it under [database]"
                    ),
                });
            };
            let users_info = planner.table(users_name);
            if *role == TableRole::Reference || users_info.primary_key.len() != 1 {
                return Err(DbError::Plan {
                    problem: format!(
                        "scope user:{id}: users table \"{users}\" must be a tenant table with a primary key of one column; set users_table in the site descriptor"
                    ),
                });
            }
            let value = TenantValue::Text(id.clone());
            for &name in order {
                if roles[name] == TableRole::Reference {
                    continue;
                }
                let info = planner.table(name);
                let mut own = Vec::new();
                if name == users_name {
                    own.push(equals(info, &info.primary_key[0], &value)?);
                }
                if info.columns.iter().any(|c| c.name == owner_column) {
                    own.push(equals(info, owner_column, &value)?);
                }
                if !own.is_empty() {
                    kept.insert(name);
                    selection.insert(name.to_owned(), full[name].and(&Condition::any(own)));
                }
            }
        }
    }
    // The reference tables the kept rows reach, through reference tables.
    let mut changed = true;
    while changed {
        changed = false;
        for &name in order {
            if roles[name] == TableRole::Reference
                && !kept.contains(name)
                && kept
                    .iter()
                    .any(|child| planner.parents(child).any(|fk| fk.table == name))
            {
                kept.insert(name);
                changed = true;
            }
        }
    }
    add_references(planner, order, roles, &kept, &mut selection);
    Ok((kept, selection))
}

/// `table`'s columns with their types; a column of a type sitepack does not know is
/// refused.
fn typed_columns(table: &TableInfo) -> Result<Vec<Column>, DbError> {
    table
        .columns
        .iter()
        .map(|c| {
            c.column_type
                .map(|t: ColumnType| c.to_column(t))
                .ok_or_else(|| DbError::UnsupportedType {
                    table: table.name.clone(),
                    column: c.name.clone(),
                    declared: if c.declared.is_empty() {
                        "(none declared)".into()
                    } else {
                        c.declared.clone()
                    },
                })
        })
        .collect()
}

/// The columns rows are ordered by: the primary key, else every column.
fn order_columns(table: &TableInfo) -> Vec<String> {
    if table.primary_key.is_empty() {
        table.columns.iter().map(|c| c.name.clone()).collect()
    } else {
        table.primary_key.clone()
    }
}

fn row_query(planner: &Planner<'_>, table: &str, condition: &Condition) -> RowQuery {
    let (filter, params) = condition.render(planner.style.dialect);
    RowQuery {
        table: table.to_owned(),
        filter: Some(filter),
        params,
        order_by: order_columns(planner.table(table)),
    }
}

/// The rows of `table` (selected by `condition`) whose `fk` references a row of its
/// parent that the full plan does not select.
fn leak_check(
    planner: &Planner<'_>,
    table: &TableInfo,
    columns: &[Column],
    condition: &Condition,
    fk: &ForeignKey,
    full: &Selection,
) -> LeakCheck {
    let mut not_tenant = Condition::sql("(");
    not_tenant.push(&full[fk.table.as_str()]);
    not_tenant.push_sql(") IS NOT TRUE");
    let offending = condition.and(&in_subquery(
        planner.style,
        &fk.columns,
        &fk.table,
        &fk.references,
        &not_tenant,
    ));
    let order_by = order_columns(table);
    LeakCheck {
        table: table.name.clone(),
        columns: fk.columns.clone(),
        parent: fk.table.clone(),
        key: columns
            .iter()
            .filter(|c| order_by.contains(&c.name))
            .cloned()
            .collect(),
        query: row_query(planner, &table.name, &offending),
    }
}

/// Refuses a travelling table or column whose name is itself a secret (a credential
/// shape, a URL with a password): names travel in `schema.json` and on every row, where
/// the archive's writer would refuse or remove them. The name is never repeated.
fn refuse_secret_names(tables: &[PlannedTable]) -> Result<(), DbError> {
    let policy = sitepack_format::SecretPolicy::default();
    let schema_path: sitepack_format::ArchivePath = sitepack_format::database::DB_SCHEMA_PATH
        .parse()
        .map_err(|e: sitepack_format::FormatError| DbError::Plan {
            problem: e.to_string(),
        })?;
    let secret = |name: &str| {
        sitepack_format::contains_url_with_password(name)
            || policy
                .credentials_in(&schema_path, name.as_bytes())
                .iter()
                .any(|m| m.secret)
    };
    for table in tables {
        let what = if secret(&table.info.name) {
            "its name holds".to_owned()
        } else if let Some(index) = table.info.columns.iter().position(|c| secret(&c.name)) {
            format!("the name of its column {} holds", index + 1)
        } else {
            continue;
        };
        let problem = format!(
            "table \"{}\" cannot travel: {what} a credential or a URL with a password, which \
             names would carry into the archive; rename it, or exclude the table in the site \
             descriptor",
            table.info.name
        );
        return Err(DbError::Plan {
            problem: sitepack_format::mask_url_user_info(&sitepack_format::mask_credentials(
                &problem,
            )),
        });
    }
    Ok(())
}

/// Every travelling table's rows become `db/<table>.jsonl`: the name must make a valid
/// archive path, and no two may differ only by case or normalization.
fn check_file_names(tables: &[PlannedTable]) -> Result<(), DbError> {
    let mut paths = Vec::with_capacity(tables.len());
    for table in tables {
        if table.info.name.contains('/') {
            return Err(DbError::Plan {
                problem: format!(
                    "table \"{}\" cannot travel: its name holds a slash, and its rows would be a file in a directory of db/; exclude it in the site descriptor or rename it",
                    table.info.name.escape_debug()
                ),
            });
        }
        let path: ArchivePath = table_path(&table.info.name).parse().map_err(|e| DbError::Plan {
            problem: format!(
                "table \"{}\" cannot travel: its rows would be {e}; exclude it in the site descriptor or rename it",
                table.info.name.escape_debug()
            ),
        })?;
        paths.push(path);
    }
    match first_tree_conflict(&paths) {
        None => Ok(()),
        Some(TreeConflict::Collision { first, second }) => Err(DbError::Plan {
            problem: format!(
                "tables whose names differ only by case cannot both travel ({first} and {second} would be one file on many file systems): exclude one of them in the site descriptor"
            ),
        }),
        Some(TreeConflict::FileAndDirectory { file, below }) => Err(DbError::Plan {
            problem: format!(
                "table file {file} and {below} cannot both exist: exclude one of the tables in the site descriptor"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn column(name: &str, scalar: ScalarType) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            declared: scalar.as_str().into(),
            column_type: Some(ColumnType {
                scalar,
                array: false,
            }),
            nullable: false,
            has_default: false,
        }
    }

    fn table(name: &str, columns: Vec<ColumnInfo>, foreign_keys: Vec<ForeignKey>) -> TableInfo {
        TableInfo {
            name: name.into(),
            primary_key: vec![columns[0].name.clone()],
            columns,
            unique: Vec::new(),
            foreign_keys,
        }
    }

    fn fk(columns: &[&str], table: &str, references: &[&str]) -> ForeignKey {
        ForeignKey {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            table: table.into(),
            references: references.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn postgres_queries_qualify_every_table_and_number_their_parameters() {
        let descriptor = Descriptor::parse(
            Path::new("/sites/acme.toml"),
            "[site]\nid = \"acme\"\nname = \"Acme\"\nurl = \"https://acme.example\"\n[database]\nurl = \"postgres://app:pw@db/acme\"\ntenant_column = \"org_id\"\ntenant = \"7\"\nschema = \"app\"\n",
        )
        .unwrap();
        let tables = vec![
            table(
                "vehicles",
                vec![
                    column("id", ScalarType::Integer),
                    column("org_id", ScalarType::Integer),
                    column("model", ScalarType::Text),
                ],
                vec![fk(&["model"], "models", &["code"])],
            ),
            table(
                "logs",
                vec![
                    column("id", ScalarType::Integer),
                    column("vehicle_id", ScalarType::Integer),
                ],
                vec![fk(&["vehicle_id"], "vehicles", &["id"])],
            ),
            table("models", vec![column("code", ScalarType::Text)], Vec::new()),
        ];
        let style = SqlStyle {
            dialect: Dialect::Postgres,
            schema: Some("app"),
        };
        let plan = plan(&tables, &descriptor, &Scope::Full, style).unwrap();
        let query = |name: &str| {
            plan.tables
                .iter()
                .find(|t| t.info.name == name)
                .map(|t| t.query.clone())
                .unwrap()
        };
        let vehicles = query("vehicles");
        assert_eq!(vehicles.filter.as_deref(), Some("\"org_id\" = $1"));
        // The tenant "7" is bound as the integer column's type.
        assert_eq!(vehicles.params, [Param::Integer(7)]);
        let logs = query("logs");
        assert_eq!(
            logs.filter.as_deref(),
            Some(
                "(\"vehicle_id\" IN (SELECT \"id\" FROM \"app\".\"vehicles\" WHERE \"org_id\" = $1))"
            )
        );
        assert_eq!(
            query("models").filter.as_deref(),
            Some(
                "(\"code\" IN (SELECT \"model\" FROM \"app\".\"vehicles\" WHERE \"org_id\" = $1))"
            )
        );
        assert_eq!(logs.order_by, ["id"]);
        let check = &plan.leak_checks[0];
        assert_eq!(
            (check.table.as_str(), check.parent.as_str()),
            ("logs", "vehicles")
        );
        assert_eq!(
            check.query.filter.as_deref(),
            Some(
                "((\"vehicle_id\" IN (SELECT \"id\" FROM \"app\".\"vehicles\" WHERE \"org_id\" = $1))) AND (\"vehicle_id\" IN (SELECT \"id\" FROM \"app\".\"vehicles\" WHERE (\"org_id\" = $2) IS NOT TRUE))"
            )
        );
        assert_eq!(check.query.params, [Param::Integer(7), Param::Integer(7)]);

        // A scope reads through the parents of the tables it keeps: they are held too.
        let scoped =
            super::plan(&tables, &descriptor, &Scope::Table("logs".into()), style).unwrap();
        let travelling: Vec<&str> = scoped.tables.iter().map(|t| t.info.name.as_str()).collect();
        assert_eq!(travelling, ["logs"]);
        assert_eq!(scoped.read, ["logs", "models", "vehicles"]);
    }

    #[test]
    fn directory_scopes_do_not_apply() {
        let scope: sitepack_format::Scope = "tab:general".parse().unwrap();
        let message = Scope::try_from(&scope).unwrap_err().to_string();
        assert_eq!(
            message,
            "scope tab:general does not apply to a database site: use full, table:NAME or user:ID"
        );
        let scope: sitepack_format::Scope = "user:7".parse().unwrap();
        assert_eq!(Scope::try_from(&scope).unwrap(), Scope::User("7".into()));
    }
}
