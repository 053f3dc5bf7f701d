//! The checks before a restore: tenant, schema compatibility, reference rows, and what
//! each table holds now. Every problem is collected; nothing is written.

use std::collections::{BTreeMap, BTreeSet};

use sitepack_format::PAYLOAD_DIR;
use sitepack_format::database::{
    Column, ColumnType, DatabaseSchema, EngineKind, ScalarType, Table, TableRole, TenantValue,
    table_path,
};
use sitepack_reader::Archive;

use super::values::bind;
use super::{
    ColumnChange, ColumnNote, Mode, Refusal, RefusalKind, RestoreOptions, RestorePlan, TablePlan,
    archive_schema, rekeyed_columns, row_name, stream_rows, tenant_value_like,
};
use crate::descriptor::Descriptor;
use crate::engine::{DeleteEffect, SqlValue, WriteEngine};
use crate::plan::{Scope, SqlStyle, plan};
use crate::sql::{Param, RowQuery, quote_ident};
use crate::{DbError, TableInfo};

/// Reference rows missing from one table named one by one, before they are counted.
const MISSING_NAMED: usize = 50;
/// Reference rows looked up in one query.
const REFERENCE_BATCH: usize = 500;

/// Looks up the archive's reference rows in the target, a batch at a time.
struct ReferenceLookup<'a> {
    dialect: crate::sql::Dialect,
    qualified: String,
    what: String,
    table: &'a str,
    key: &'a [String],
    unique: bool,
    missing: usize,
}

impl ReferenceLookup<'_> {
    /// `"a" = $1 AND "b" IS NULL`, numbering from `*n`.
    fn matches(&self, values: &[SqlValue], n: &mut usize, params: &mut Vec<SqlValue>) -> String {
        let mut conditions = Vec::with_capacity(self.key.len());
        for (column, value) in self.key.iter().zip(values) {
            if *value == SqlValue::Null {
                conditions.push(format!("{} IS NULL", quote_ident(column)));
            } else {
                *n += 1;
                params.push(value.clone());
                conditions.push(format!(
                    "{} = {}",
                    quote_ident(column),
                    self.dialect.placeholder(*n)
                ));
            }
        }
        conditions.join(" AND ")
    }

    /// Names each row of `batch` the target lacks.
    fn check(
        &mut self,
        engine: &mut dyn WriteEngine,
        batch: &[(String, Vec<SqlValue>)],
        refusals: &mut Vec<Refusal>,
    ) -> Result<(), DbError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.unique {
            let mut n = 0;
            let mut params = Vec::with_capacity(batch.len() * self.key.len());
            let any: Vec<String> = batch
                .iter()
                .map(|(_, values)| format!("({})", self.matches(values, &mut n, &mut params)))
                .collect();
            let sql = format!(
                "SELECT 1 WHERE (SELECT count(*) FROM {} WHERE {}) < {}",
                self.qualified,
                any.join(" OR "),
                batch.len()
            );
            if !engine.exists(&self.what, &sql, &params)? {
                return Ok(());
            }
        }
        for (name, values) in batch {
            let mut params = Vec::with_capacity(self.key.len());
            let condition = self.matches(values, &mut 0, &mut params);
            let sql = format!("SELECT 1 FROM {} WHERE {condition}", self.qualified);
            if engine.exists(&self.what, &sql, &params)? {
                continue;
            }
            self.missing += 1;
            if self.missing <= MISSING_NAMED {
                refusals.push(Refusal {
                    kind: RefusalKind::MissingReference,
                    table: Some(self.table.to_owned()),
                    column: None,
                    row: Some(name.clone()),
                    message: format!(
                        "reference table \"{}\": row {name} is not in the database; the archive's rows reference it, and a restore never writes reference (master) data: create these first, then restore",
                        self.table
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The plan and what applying it needs: the live tables and the export plan's queries.
pub(crate) struct Checked {
    pub plan: RestorePlan,
    pub schema: DatabaseSchema,
    /// The target's tables, by name.
    pub live: BTreeMap<String, TableInfo>,
    /// The rows of the tenant the archive's scope covers, per written table (the export
    /// plan's queries).
    pub scope_rows: BTreeMap<String, RowQuery>,
    /// The target's columns of each of those tables, typed as the export reads them.
    pub scope_columns: BTreeMap<String, Vec<sitepack_format::database::Column>>,
    /// The columns redacted from some rows, per table.
    pub redacted: BTreeMap<String, BTreeSet<String>>,
    /// The columns the target computes (never written), per written table.
    pub generated: BTreeMap<String, BTreeSet<String>>,
    /// The written tables with triggers of their own.
    pub triggered: BTreeSet<String>,
    /// Under another tenant (`--as`): the fresh keys, chosen inside the transaction once
    /// the checks pass (`None` until then, and for a restore of the tenant's own rows).
    pub rekey: Option<super::rekey::Rekey>,
}

/// Plans the restore of `archive` into the database of `descriptor` that `engine` is
/// connected to, in `mode`: every check made and every problem reported in
/// [`RestorePlan::refusals`], nothing written. An error is a failure to read (the
/// archive, the database), not a refusal.
pub fn plan_restore(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    archive: &Archive,
    mode: Mode,
) -> Result<RestorePlan, DbError> {
    plan_restore_with(engine, descriptor, archive, &RestoreOptions::new(mode))
}

/// [`plan_restore`] with every option: an archive of another tenant written as the
/// descriptor's with fresh keys (`as_tenant`, the plan lists the columns rewritten in
/// [`RestorePlan::rekeyed`]), a new tenant only (`new_tenant`).
pub fn plan_restore_with(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    archive: &Archive,
    options: &RestoreOptions,
) -> Result<RestorePlan, DbError> {
    Ok(check(engine, descriptor, archive, options)?.plan)
}

/// The tenant values are one when equal, or when one is the other's digits (`"7"` in the
/// descriptor, `7` in an integer column).
fn same_tenant(archive: &TenantValue, descriptor: &TenantValue) -> bool {
    let text = |v: &TenantValue| match v {
        TenantValue::Integer(n) => n.to_string(),
        TenantValue::Text(s) => s.clone(),
    };
    archive == descriptor || text(archive) == text(descriptor)
}

/// How the target's column holds the archive's values: `Some(false)` as they are,
/// `Some(true)` widened, `None` not at all.
fn compatible(from: ColumnType, to: ColumnType) -> Option<bool> {
    if from == to {
        return Some(false);
    }
    if from.array != to.array {
        return None;
    }
    match (from.scalar, to.scalar) {
        (ScalarType::Integer, ScalarType::Numeric)
        | (
            ScalarType::Integer
            | ScalarType::Numeric
            | ScalarType::Uuid
            | ScalarType::Date
            | ScalarType::Time
            | ScalarType::Timestamp
            | ScalarType::Timestamptz,
            ScalarType::Text,
        ) => Some(true),
        _ => None,
    }
}

fn narrowed_refusal(table: &str, column: &Column, declared: &str) -> Refusal {
    refusal(
        RefusalKind::Type,
        Some(table),
        Some(&column.name),
        format!(
            "table \"{table}\", column \"{}\": the archive's values are {}, the database now declares {declared}, which would round or cut them; change the column's type back, or restore into a database of the archive's schema",
            column.name, column.declared
        ),
    )
}

/// Whether a PostgreSQL column declared `to` may not hold every value of one declared
/// `from` (both of the same sitepack type): a smaller integer or float, fewer digits or
/// fraction digits of a numeric, a shorter or fixed length text, a coarser time. A change
/// not known to keep every value counts as narrowing.
fn narrows(from: &str, to: &str) -> bool {
    let (from, to) = (
        from.trim().to_ascii_lowercase(),
        to.trim().to_ascii_lowercase(),
    );
    if from == to {
        return false;
    }
    // `name(args) rest`: the base name (with what follows the arguments) and the arguments.
    let split = |declared: &str| -> (String, Option<Vec<u32>>) {
        match (declared.find('('), declared.find(')')) {
            (Some(open), Some(close)) if open < close => {
                let args = declared[open + 1..close]
                    .split(',')
                    .map(|a| a.trim().parse().ok())
                    .collect::<Option<Vec<u32>>>();
                let base = format!("{}{}", &declared[..open], &declared[close + 1..]);
                (base.split_whitespace().collect::<Vec<_>>().join(" "), args)
            }
            _ => (declared.to_owned(), Some(Vec::new())),
        }
    };
    let ((from_base, from_args), (to_base, to_args)) = (split(&from), split(&to));
    let (Some(from_args), Some(to_args)) = (from_args, to_args) else {
        return true;
    };
    let integer_rank = |base: &str| match base {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        _ => None,
    };
    if let (Some(a), Some(b)) = (integer_rank(&from_base), integer_rank(&to_base)) {
        return b < a;
    }
    match (from_base.as_str(), to_base.as_str()) {
        ("real", "double precision")
        | ("json" | "jsonb", "json" | "jsonb")
        | ("character varying" | "text", "text") => false,
        ("numeric", "numeric") => match (from_args.as_slice(), to_args.as_slice()) {
            (_, []) => false,
            ([], _) => true,
            (from, to) => {
                let (p1, s1) = (from[0], from.get(1).copied().unwrap_or(0));
                let (p2, s2) = (to[0], to.get(1).copied().unwrap_or(0));
                s2 < s1 || p2.saturating_sub(s2) < p1.saturating_sub(s1)
            }
        },
        ("character varying" | "text", "character varying") => {
            match (from_args.as_slice(), to_args.as_slice()) {
                (_, []) => false,
                ([from], [to]) => to < from,
                _ => true,
            }
        }
        (a, b) if a == b && (a.starts_with("timestamp") || a.starts_with("time")) => {
            // Fraction digits: 6 unless given.
            let digits = |args: &[u32]| args.first().copied().unwrap_or(6);
            digits(&to_args) < digits(&from_args)
        }
        _ => true,
    }
}

fn refusal(
    kind: RefusalKind,
    table: Option<&str>,
    column: Option<&str>,
    message: String,
) -> Refusal {
    Refusal {
        kind,
        table: table.map(str::to_owned),
        column: column.map(str::to_owned),
        row: None,
        message,
    }
}

/// The columns of `table` redacted from some rows, by the manifest.
fn redactions(
    archive: &Archive,
    schema: &DatabaseSchema,
) -> Result<BTreeMap<String, BTreeSet<String>>, DbError> {
    let manifest = archive.manifest()?;
    let mut redacted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for table in &schema.tables {
        let entry = format!("{PAYLOAD_DIR}/{}", table_path(&table.name));
        for redaction in manifest
            .redactions
            .iter()
            .filter(|r| r.path.as_str() == entry)
        {
            let column = redaction
                .pointer
                .strip_prefix('/')
                .unwrap_or(&redaction.pointer)
                .replace("~1", "/")
                .replace("~0", "~");
            redacted
                .entry(table.name.clone())
                .or_default()
                .insert(column);
        }
    }
    Ok(redacted)
}

/// Every check of a restore: the plan, with what applying it needs.
#[allow(clippy::too_many_lines)]
pub(crate) fn check(
    engine: &mut dyn WriteEngine,
    descriptor: &Descriptor,
    archive: &Archive,
    options: &RestoreOptions,
) -> Result<Checked, DbError> {
    let mode = options.mode;
    let schema = archive_schema(archive)?;
    let manifest_scope = archive.manifest()?.scope.clone();
    let mut refusals = Vec::new();
    refuse_tenant(&schema, &manifest_scope, descriptor, options, &mut refusals);
    let rekeyed = if options.as_tenant.is_some() {
        rekeyed_columns(&schema)
    } else {
        Vec::new()
    };

    let tables = engine.reflect()?;
    let live: BTreeMap<String, TableInfo> =
        tables.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let style = SqlStyle {
        dialect: engine.dialect(),
        schema: engine.schema(),
    };
    let export_plan =
        Scope::try_from(&manifest_scope).and_then(|scope| plan(&tables, descriptor, &scope, style));
    let export_plan = match export_plan {
        Ok(found) => Some(found),
        Err(e) => {
            refusals.push(refusal(
                RefusalKind::Plan,
                None,
                None,
                format!(
                    "the database's tenant plan for scope {manifest_scope} cannot be made: {e}"
                ),
            ));
            None
        }
    };
    let redacted = redactions(archive, &schema)?;

    let mut planned = Vec::with_capacity(schema.tables.len());
    let mut scope_rows = BTreeMap::new();
    let mut scope_columns = BTreeMap::new();
    let mut generated = BTreeMap::new();
    let mut triggered = BTreeSet::new();
    for table in &schema.tables {
        let mut entry = TablePlan {
            name: table.name.clone(),
            role: table.role,
            archive_rows: table.rows,
            target_rows: None,
            columns: Vec::new(),
        };
        let Some(info) = live.get(&table.name) else {
            refusals.push(refusal(
                RefusalKind::MissingTable,
                Some(&table.name),
                None,
                format!(
                    "table \"{}\" ({} rows in the archive) is not in the database: create it first (the application's migrations), then restore",
                    table.name, table.rows
                ),
            ));
            planned.push(entry);
            continue;
        };
        let before = refusals.len();
        // Declared types are compared only between PostgreSQL databases: SQLite's are
        // names the application chose, and another engine's mean other things.
        let postgres_both =
            schema.engine == EngineKind::Postgresql && engine.kind() == EngineKind::Postgresql;
        compare_columns(
            table,
            info,
            redacted.get(&table.name),
            postgres_both,
            &mut entry,
            &mut refusals,
        );
        if table.role != TableRole::Reference {
            let computed: BTreeSet<String> =
                engine.generated_columns(&table.name)?.into_iter().collect();
            for column in table.columns.iter().filter(|c| computed.contains(&c.name)) {
                entry.columns.push(ColumnNote {
                    column: column.name.clone(),
                    change: ColumnChange::Generated,
                });
            }
            generated.insert(table.name.clone(), computed);
            if engine.has_triggers(&table.name)? {
                triggered.insert(table.name.clone());
            }
        }
        if table.role == TableRole::Reference {
            if refusals.len() == before {
                check_references(engine, archive, table, info, &mut refusals)?;
            }
            planned.push(entry);
            continue;
        }
        if mode == Mode::Merge && info.primary_key.is_empty() {
            refusals.push(refusal(
                RefusalKind::NoPrimaryKey,
                Some(&table.name),
                None,
                format!(
                    "table \"{}\" has no primary key in the database: a merge cannot match its rows; restore with replace",
                    table.name
                ),
            ));
        }
        if let Some(export_plan) = &export_plan {
            match export_plan
                .tables
                .iter()
                .find(|t| t.info.name == table.name && t.role != TableRole::Reference)
            {
                Some(found) => {
                    entry.target_rows = Some(engine.count(&found.query)?);
                    scope_rows.insert(table.name.clone(), found.query.clone());
                    scope_columns.insert(table.name.clone(), found.columns.clone());
                }
                None => refusals.push(refusal(
                    RefusalKind::Plan,
                    Some(&table.name),
                    None,
                    format!(
                        "table \"{}\" holds the tenant's rows in the archive ({}), but the database and the site descriptor no longer make it one of the tenant's tables in scope {manifest_scope} (excluded or secret in the descriptor, or its tenant column or foreign keys are gone): its rows could not be replaced; fix the descriptor or the schema",
                        table.name, table.role
                    ),
                )),
            }
        }
        planned.push(entry);
    }

    if options.new_tenant {
        refuse_tenant_rows(descriptor, &planned, &mut refusals);
    }
    let mut revert_refused = Vec::new();
    match mode {
        Mode::Replace => refuse_cascades(engine, &scope_rows, &mut refusals)?,
        Mode::Merge => {
            refuse_updated_references(&schema, &live, &mut refusals);
            // Its revert is a replace: what would refuse that is said now.
            refuse_cascades(engine, &scope_rows, &mut revert_refused)?;
        }
    }
    let plan = RestorePlan {
        mode,
        archive_engine: schema.engine,
        engine: engine.kind(),
        tenant: schema.tenant.value.clone(),
        as_tenant: options
            .as_tenant
            .as_ref()
            .map(|t| tenant_value_like(t, &schema.tenant.value)),
        rekeyed,
        new_tenant: options.new_tenant,
        scope: manifest_scope.to_string(),
        tables: planned,
        refusals,
        revert_refused,
    };
    Ok(Checked {
        plan,
        schema,
        live,
        scope_rows,
        scope_columns,
        redacted,
        generated,
        triggered,
        rekey: None,
    })
}

/// The archive must be of the descriptor's tenant; or, with `--as`, `--as` must name the
/// descriptor's tenant and the archive be of the full scope (a user's or a table's rows
/// reach rows of the archive's tenant that are not in it).
fn refuse_tenant(
    schema: &DatabaseSchema,
    scope: &sitepack_format::Scope,
    descriptor: &Descriptor,
    options: &RestoreOptions,
    refusals: &mut Vec<Refusal>,
) {
    let archived = format!(
        "the archive holds tenant {} (column \"{}\"), the site descriptor {} names tenant {} (column \"{}\")",
        schema.tenant.value,
        schema.tenant.column,
        descriptor.path.display(),
        descriptor.tenant,
        descriptor.tenant_column
    );
    if schema.tenant.column != descriptor.tenant_column {
        refusals.push(refusal(
            RefusalKind::Tenant,
            None,
            None,
            format!("{archived}: the tenant columns differ; restore it into a site of the archive's tenant column"),
        ));
        return;
    }
    let Some(as_tenant) = &options.as_tenant else {
        if !same_tenant(&schema.tenant.value, &descriptor.tenant) {
            refusals.push(refusal(
                RefusalKind::Tenant,
                None,
                None,
                format!(
                    "{archived}: restore it into that tenant's site, or write its rows as tenant {} with fresh keys: --allow-other-site --as {}",
                    descriptor.tenant,
                    tenant_argument(&descriptor.tenant)
                ),
            ));
        }
        return;
    };
    if !same_tenant(as_tenant, &descriptor.tenant) {
        refusals.push(refusal(
            RefusalKind::Tenant,
            None,
            None,
            format!(
                "--as {} is not the tenant the site descriptor {} names ({}): the descriptor names the tenant the rows are written as; give --as {}, or a descriptor of tenant {}",
                tenant_argument(as_tenant),
                descriptor.path.display(),
                descriptor.tenant,
                tenant_argument(&descriptor.tenant),
                as_tenant
            ),
        ));
    }
    if *scope != sitepack_format::Scope::Full {
        refusals.push(refusal(
            RefusalKind::Tenant,
            None,
            None,
            format!(
                "the archive's scope is {scope}: only a full archive can be written as another tenant (a user's or a table's rows reference rows of tenant {} that are not in it); make a full archive",
                schema.tenant.value
            ),
        ));
    }
}

/// A tenant value as `--as` takes it.
fn tenant_argument(value: &TenantValue) -> String {
    match value {
        TenantValue::Integer(n) => n.to_string(),
        TenantValue::Text(s) => s.clone(),
    }
}

/// A new tenant (`init`) must hold none of the archive's scope's rows.
fn refuse_tenant_rows(descriptor: &Descriptor, tables: &[TablePlan], refusals: &mut Vec<Refusal>) {
    for table in tables {
        if let Some(rows) = table.target_rows.filter(|&n| n > 0) {
            refusals.push(refusal(
                RefusalKind::TenantNotEmpty,
                Some(&table.name),
                None,
                format!(
                    "table \"{}\" already holds {rows} row(s) of tenant {}: a new tenant is made from a template only when it holds none; restore into it instead, or name a new tenant in the descriptor",
                    table.name, descriptor.tenant
                ),
            ));
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

/// Refuses a replace whose deletes would reach rows it does not delete: rows of a table
/// outside the archive, or rows of an archived table that are not the tenant's (another
/// tenant's row referencing one of the tenant's), through a foreign key whose `ON
/// DELETE` action would change them (`CASCADE`, `SET NULL`, `SET DEFAULT`) or that
/// forbids the delete at once (`RESTRICT`, or on PostgreSQL a key not `DEFERRABLE`: the
/// replace deletes rows before it inserts them again).
/// A merge updates the rows it matches, every column but the key: a column other
/// tables' foreign keys reference (a unique column, not the key) would carry its `ON
/// UPDATE` action to their rows, another tenant's included. Refused.
fn refuse_updated_references(
    schema: &DatabaseSchema,
    live: &BTreeMap<String, TableInfo>,
    refusals: &mut Vec<Refusal>,
) {
    for table in schema
        .tables
        .iter()
        .filter(|t| t.role != TableRole::Reference)
    {
        let Some(info) = live.get(&table.name) else {
            continue;
        };
        for (child, fk) in live
            .values()
            .flat_map(|c| c.foreign_keys.iter().map(move |fk| (&c.name, fk)))
            .filter(|(_, fk)| fk.table == table.name && fk.references != info.primary_key)
        {
            refusals.push(Refusal {
                kind: RefusalKind::Cascade,
                table: Some(child.clone()),
                column: fk.columns.first().cloned(),
                row: None,
                message: format!(
                    "table \"{child}\" references table \"{}\" by column(s) {} other than its primary key: a merge updates those columns in the tenant's rows, which would carry to the rows referencing them (another tenant's included); restore with replace",
                    table.name,
                    fk.references
                        .iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
}

fn refuse_cascades(
    engine: &mut dyn WriteEngine,
    scope_rows: &BTreeMap<String, RowQuery>,
    refusals: &mut Vec<Refusal>,
) -> Result<(), DbError> {
    for (child, fk, effect) in engine.delete_effects()? {
        let Some(parent) = scope_rows.get(&fk.table) else {
            continue;
        };
        let references: Vec<String> = fk.references.iter().map(|c| quote_ident(c)).collect();
        let referencing = format!(
            "{} IN (SELECT {} FROM {} WHERE {})",
            column_list(&fk.columns),
            references.join(", "),
            engine.qualified(&fk.table),
            parent.filter.as_deref().unwrap_or("TRUE")
        );
        let count = |engine: &mut dyn WriteEngine, filter: String, params: Vec<Param>| {
            engine.count(&RowQuery {
                table: child.clone(),
                filter: Some(filter),
                params,
                order_by: Vec::new(),
            })
        };
        let mut reached = count(engine, referencing.clone(), parent.params.clone())?;
        // The child's own deleted rows may reference them: only the others count (two
        // counts, each a join the planner does in one pass; a NOT over a subquery is
        // evaluated row by row). The child's filter binds its parameters after the
        // parent's.
        if reached > 0
            && let Some(own) = scope_rows.get(&child)
        {
            let Some(own_filter) = own.filter_after(parent.params.len(), engine.dialect()) else {
                continue;
            };
            let params = parent.params.iter().chain(&own.params).cloned().collect();
            let deleted = count(
                engine,
                format!("({referencing}) AND ({own_filter})"),
                params,
            )?;
            reached = reached.saturating_sub(deleted);
        }
        if reached == 0 {
            continue;
        }
        let columns = fk
            .columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let whose = if scope_rows.contains_key(&child) {
            format!(
                "{reached} of its rows that are not the tenant's (another tenant's, or outside the archive's scope)"
            )
        } else {
            format!("it is not in the archive, but {reached} of its rows")
        };
        let (kind, consequence, remedy) = match effect {
            DeleteEffect::Changes => (
                RefusalKind::Cascade,
                "with an ON DELETE action that would delete or change them when a replace deletes those rows",
                "restore with merge, or remove those rows first",
            ),
            DeleteEffect::Forbids => (
                RefusalKind::Cascade,
                "by a foreign key checked at once (ON DELETE RESTRICT, or not DEFERRABLE): a replace deletes those rows before it inserts them again, which that key forbids",
                "restore with merge, or declare the foreign key DEFERRABLE",
            ),
        };
        refusals.push(Refusal {
            kind,
            table: Some(child.clone()),
            column: fk.columns.first().cloned(),
            row: None,
            message: format!(
                "table \"{child}\": {whose} reference the tenant's rows of \"{}\" (column {columns}) {consequence}: {remedy}",
                fk.table
            ),
        });
    }
    Ok(())
}

/// The archive's columns against the target's: notes for the fine differences, refusals
/// for the others.
fn compare_columns(
    table: &Table,
    info: &TableInfo,
    redacted: Option<&BTreeSet<String>>,
    postgres_both: bool,
    entry: &mut TablePlan,
    refusals: &mut Vec<Refusal>,
) {
    let written = table.role != TableRole::Reference;
    for column in &table.columns {
        let Some(target) = info.columns.iter().find(|c| c.name == column.name) else {
            if table.primary_key.contains(&column.name) {
                refusals.push(refusal(
                    RefusalKind::MissingColumn,
                    Some(&table.name),
                    Some(&column.name),
                    format!(
                        "table \"{}\", column \"{}\": part of the archive's primary key, and the database dropped it: the rows cannot be matched; add the column back, then restore",
                        table.name, column.name
                    ),
                ));
            } else if written {
                entry.columns.push(ColumnNote {
                    column: column.name.clone(),
                    change: ColumnChange::Discarded,
                });
            }
            continue;
        };
        let narrowed = postgres_both && narrows(&column.declared, &target.declared);
        match target.column_type.map(|t| (t, compatible(column.column_type, t))) {
            Some((_, Some(false))) if narrowed => {
                refusals.push(narrowed_refusal(&table.name, column, &target.declared));
            }
            Some((_, Some(false))) => {}
            Some((to, Some(true))) => entry.columns.push(ColumnNote {
                column: column.name.clone(),
                change: ColumnChange::Widened {
                    from: column.column_type.to_string(),
                    to: to.to_string(),
                },
            }),
            found => refusals.push(refusal(
                RefusalKind::Type,
                Some(&table.name),
                Some(&column.name),
                format!(
                    "table \"{}\", column \"{}\": the archive's values are {} ({}), the database declares {}{}, which cannot hold them exactly; change the column's type back, or restore into a database of the archive's schema",
                    table.name,
                    column.name,
                    column.column_type,
                    column.declared,
                    if target.declared.is_empty() { "no type" } else { &target.declared },
                    found.map_or_else(
                        || " (a type sitepack does not know)".to_owned(),
                        |(to, _)| format!(" ({to})")
                    )
                ),
            )),
        }
        if written && redacted.is_some_and(|r| r.contains(&column.name)) {
            if target.nullable {
                entry.columns.push(ColumnNote {
                    column: column.name.clone(),
                    change: ColumnChange::Redacted,
                });
            } else {
                refusals.push(refusal(
                    RefusalKind::MissingColumn,
                    Some(&table.name),
                    Some(&column.name),
                    format!(
                        "table \"{}\", column \"{}\": its values were redacted from the archive as secrets, and the database holds it NOT NULL: make it nullable, or restore from an archive made without the redaction",
                        table.name, column.name
                    ),
                ));
            }
        }
    }
    if !written {
        return;
    }
    for target in &info.columns {
        if table.columns.iter().any(|c| c.name == target.name) {
            continue;
        }
        if target.nullable || target.has_default {
            entry.columns.push(ColumnNote {
                column: target.name.clone(),
                change: ColumnChange::Defaulted,
            });
        } else {
            refusals.push(refusal(
                RefusalKind::MissingColumn,
                Some(&table.name),
                Some(&target.name),
                format!(
                    "table \"{}\", column \"{}\": the database has it NOT NULL without a default, and the archive has no values for it; give it a default or make it nullable, then restore",
                    table.name, target.name
                ),
            ));
        }
    }
}

/// Every reference row of the archive must be in the target, by primary key (by every
/// column when the table has none).
fn check_references(
    engine: &mut dyn WriteEngine,
    archive: &Archive,
    table: &Table,
    info: &TableInfo,
    refusals: &mut Vec<Refusal>,
) -> Result<(), DbError> {
    let key: Vec<String> = if table.primary_key.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| info.columns.iter().any(|l| l.name == c.name))
            .map(|c| c.name.clone())
            .collect()
    } else {
        table.primary_key.clone()
    };
    let types: Vec<ColumnType> = key
        .iter()
        .filter_map(|k| table.columns.iter().find(|c| c.name == *k))
        .map(|c| c.column_type)
        .collect();
    let mut lookup = ReferenceLookup {
        dialect: engine.dialect(),
        qualified: engine.qualified(&table.name),
        what: format!("checking the reference rows of table \"{}\"", table.name),
        key: &key,
        // Keys of a primary key are unique in the archive and in the target: a batch is
        // all there when the target counts as many.
        unique: !table.primary_key.is_empty(),
        table: &table.name,
        missing: 0,
    };
    let kind = engine.kind();
    let mut batch: Vec<(String, Vec<SqlValue>)> = Vec::with_capacity(REFERENCE_BATCH);
    stream_rows(archive, &table.name, &mut |line, row| {
        let mut values = Vec::with_capacity(key.len());
        for (column, column_type) in key.iter().zip(&types) {
            let value = row.get(column).cloned().unwrap_or_default();
            values.push(bind(&value, *column_type, kind).map_err(|problem| {
                DbError::RestoreRow {
                    table: table.name.clone(),
                    row: row_name(&key, line, &row),
                    problem: format!("column \"{column}\" {problem}"),
                }
            })?);
        }
        batch.push((row_name(&key, line, &row), values));
        if batch.len() >= REFERENCE_BATCH {
            lookup.check(engine, &batch, refusals)?;
            batch.clear();
        }
        Ok(())
    })?;
    lookup.check(engine, &batch, refusals)?;
    let missing = lookup.missing;
    if missing > MISSING_NAMED {
        refusals.push(refusal(
            RefusalKind::MissingReference,
            Some(&table.name),
            None,
            format!(
                "reference table \"{}\": {} more rows of the archive are not in the database (the first {MISSING_NAMED} are named above): create these first, then restore",
                table.name,
                missing - MISSING_NAMED
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn narrowed_postgresql_types_are_told_from_widened_ones() {
        for (from, to) in [
            ("smallint", "integer"),
            ("integer", "bigint"),
            ("real", "double precision"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(11,3)"),
            ("numeric(10,2)", "numeric"),
            ("character varying(5)", "character varying(9)"),
            ("character varying(5)", "text"),
            ("text", "character varying"),
            ("timestamp(3) with time zone", "timestamp with time zone"),
            ("jsonb", "json"),
            ("Integer", "integer"),
        ] {
            assert!(!super::narrows(from, to), "{from} -> {to}");
        }
        for (from, to) in [
            ("bigint", "integer"),
            ("double precision", "real"),
            ("numeric", "numeric(31,2)"),
            ("numeric(12,4)", "numeric(12,2)"),
            ("numeric(12,2)", "numeric(11,2)"),
            ("text", "character varying(5)"),
            ("character varying(9)", "character varying(5)"),
            ("timestamp with time zone", "timestamp(0) with time zone"),
            ("time(6) without time zone", "time(2) without time zone"),
            ("character(3)", "character(2)"),
            ("mood", "feeling"),
        ] {
            assert!(super::narrows(from, to), "{from} -> {to}");
        }
    }
}
