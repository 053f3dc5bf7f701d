//! The rows of a database archive (docs/FORMAT.md §15.5): each table's rows checked one at
//! a time as they stream past ([`TableRowsCheck`]), keeping only their keys, so that the
//! foreign keys between tables can be resolved once every table was read
//! ([`dangling_references`]). Shared by the reader and (next) restore.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher as _, Hash, Hasher};
use std::sync::LazyLock;

use serde_json::Value;
use siphasher::sip128::{Hasher128 as _, SipHasher13};

use super::{
    DatabaseSchema, EngineKind, ForeignKey, Table, TableRole, Tenant, TenantValue, table_path,
};
use crate::{ArchivePath, SchemaViolation};

/// A key's encoding as the checks keep it: its 128-bit `SipHash`, under keys drawn at
/// random per process. 16 bytes per key whatever its columns (bytes, not a `u128`, so
/// that a key takes no more room than an integer's), and no two keys share one — by
/// chance, or by an archive made to, which cannot know the key — so a duplicate or a
/// missing parent is never hidden. Digests never leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyDigest([u8; 16]);

impl Hash for KeyDigest {
    /// Its first eight bytes are as good as all sixteen (a set hashes them again).
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// A key as the checks compare it: one integer as it is (the usual key: nothing to
/// encode or hash), any other as the digest of its encoding. Each key has one form: a
/// single column holding an integer is the integer, anything else is digested. Two keys
/// are the same exactly when their encodings are (an integer's encoding is its digits,
/// which no other value's is), and a set of them hashes under the process's random keys,
/// so no archive can aim at its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Integer(i64),
    Digest(KeyDigest),
}

/// The keys of every [`KeyDigest`] of this process: random (drawn by the standard
/// library's per-process hash keys).
static DIGEST_KEYS: LazyLock<(u64, u64)> = LazyLock::new(|| {
    let random = RandomState::new();
    (random.hash_one(0u8), random.hash_one(1u8))
});

fn digest(encoding: &str) -> KeyDigest {
    let (k0, k1) = *DIGEST_KEYS;
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(encoding.as_bytes());
    KeyDigest(hasher.finish128().as_bytes())
}

/// The most keys [`TableRowsCheck::expect_rows`] makes room for (16 MB while integer keys
/// arrive in order, about 70 MB as a map): an expected count is an estimate, or an
/// archive's claim. Room is address space until keys are written into it.
const MAX_RESERVED_KEYS: u64 = 1 << 20;

/// Keys, each with what was kept of the row that held it first: a table's primary keys
/// (the line), a foreign key's values (the row).
#[derive(Debug, Clone)]
enum KeyMap<V> {
    /// Integers, each larger than the one before (rows in key order, as a backup reads
    /// them, or references to them): none can be there twice, and finding one is a
    /// binary search.
    Ascending(Vec<(i64, V)>),
    /// Any keys.
    Any(HashMap<Key, V>),
}

impl<V> KeyMap<V> {
    fn new() -> Self {
        Self::Ascending(Vec::new())
    }

    /// Keeps `key` with `value()`, unless it is there already: then gives what was kept
    /// with it first.
    fn insert_first(&mut self, key: Key, value: impl FnOnce() -> V) -> Option<&V> {
        if let (Self::Ascending(keys), Key::Integer(integer)) = (&mut *self, key)
            && keys.last().is_none_or(|&(last, _)| integer > last)
        {
            keys.push((integer, value()));
            return None;
        }
        if let Self::Ascending(keys) = self {
            let mut any = HashMap::with_capacity(keys.capacity().max(keys.len() + 1));
            any.extend(keys.drain(..).map(|(key, kept)| (Key::Integer(key), kept)));
            *self = Self::Any(any);
        }
        let Self::Any(keys) = self else {
            unreachable!("made a map above")
        };
        match keys.entry(key) {
            Entry::Occupied(first) => Some(first.into_mut()),
            Entry::Vacant(slot) => {
                slot.insert(value());
                None
            }
        }
    }

    fn contains(&self, key: &Key) -> bool {
        match (self, key) {
            (Self::Ascending(keys), Key::Integer(integer)) => {
                keys.binary_search_by_key(integer, |&(key, _)| key).is_ok()
            }
            // Only integers were kept.
            (Self::Ascending(_), Key::Digest(_)) => false,
            (Self::Any(keys), key) => keys.contains_key(key),
        }
    }

    /// Each key, with what was kept with it.
    fn iter(&self) -> Box<dyn Iterator<Item = (Key, &V)> + '_> {
        match self {
            Self::Ascending(keys) => {
                Box::new(keys.iter().map(|(key, kept)| (Key::Integer(*key), kept)))
            }
            Self::Any(keys) => Box::new(keys.iter().map(|(key, kept)| (*key, kept))),
        }
    }

    fn reserve(&mut self, rows: usize) {
        match self {
            Self::Ascending(keys) => keys.reserve(rows.saturating_sub(keys.len())),
            Self::Any(keys) => keys.reserve(rows.saturating_sub(keys.len())),
        }
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        match self {
            Self::Ascending(keys) => keys.capacity(),
            Self::Any(keys) => keys.capacity(),
        }
    }
}

/// The keys of a column list that a foreign key references.
#[derive(Debug, Clone, Copy)]
enum KeysOf<'a> {
    Primary(&'a KeyMap<u64>),
    Other(&'a HashSet<Key>),
}

impl KeysOf<'_> {
    fn contains(self, key: &Key) -> bool {
        match self {
            Self::Primary(keys) => keys.contains(key),
            Self::Other(keys) => keys.contains(key),
        }
    }
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    /// The line holds JSON that is not an object.
    NotAnObject,
    /// A column of the table is not a member of the row.
    MissingColumn {
        /// The column.
        column: String,
    },
    /// A member of the row is not a column of the table.
    UnknownMember {
        /// The member's name.
        member: String,
    },
    /// A value that its column's type does not allow.
    BadValue {
        /// The column.
        column: String,
        /// What is wrong with it (never the value).
        message: String,
    },
    /// The primary key of an earlier row.
    DuplicateKey {
        /// The line of the earlier row.
        first_line: u64,
    },
    /// The tenant column holds another value than the tenant's.
    OtherTenant {
        /// The tenant column.
        column: String,
    },
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("the row is not a JSON object"),
            Self::MissingColumn { column } => write!(f, "column `{column}` is missing"),
            Self::UnknownMember { member } => {
                write!(f, "member `{member}` is not a column of the table")
            }
            Self::BadValue { column, message } => write!(f, "column `{column}` {message}"),
            Self::DuplicateKey { first_line } => {
                write!(f, "the same primary key as the row on line {first_line}")
            }
            Self::OtherTenant { column } => write!(
                f,
                "column `{column}` holds another tenant's value, not the archive's tenant"
            ),
        }
    }
}

/// A row that breaks the rules of its table: which table, line and primary key, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table `{table}`, line {line}{}: {problem}", key_suffix(.key.as_deref()))]
pub struct RowError {
    /// The table.
    pub table: String,
    /// The 1-based line of `site/db/<table>.jsonl`.
    pub line: u64,
    /// The row's primary key as `(id)=(42)`, when the table has one and the row holds it.
    pub key: Option<String>,
    /// What is wrong.
    pub problem: RowProblem,
}

fn key_suffix(key: Option<&str>) -> String {
    key.map(|k| format!(" (key {k})")).unwrap_or_default()
}

/// A row of a table, as a foreign key's error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRef {
    /// The 1-based line of `site/db/<table>.jsonl`.
    pub line: u64,
    /// Its primary key as `(id)=(42)`, when it has one.
    pub key: Option<Box<str>>,
}

/// Checks the rows of one table, one line at a time, keeping only keys: its primary key
/// (for duplicates and for the foreign keys that reference it), the other column lists
/// foreign keys reference, and each of its own foreign keys' distinct values with the
/// first row that holds them.
#[derive(Debug)]
pub struct TableRowsCheck<'a> {
    table: &'a Table,
    engine: EngineKind,
    /// Each column's index, by name.
    columns: HashMap<&'a str, usize>,
    /// The tenant column and value, for a tenant table.
    tenant: Option<(&'a str, &'a TenantValue)>,
    /// The primary key's column indices (empty: no primary key).
    primary: Vec<usize>,
    /// Each primary key seen, with its first line.
    keys: KeyMap<u64>,
    /// The other column lists that foreign keys reference, and their values.
    referenced: Vec<KeySet>,
    /// This table's foreign keys and the values its rows hold.
    references: Vec<References>,
}

/// The values of one column list.
#[derive(Debug, Clone)]
struct KeySet {
    columns: Vec<String>,
    indices: Vec<usize>,
    values: HashSet<Key>,
}

/// One foreign key's distinct values, each with the first row that holds it.
#[derive(Debug, Clone)]
struct References {
    foreign_key: ForeignKey,
    indices: Vec<usize>,
    first: KeyMap<RowRef>,
    /// The value last kept, when an integer.
    previous_integer: Option<i64>,
    /// The encoding of the value last kept, when another (empty before the first).
    previous: String,
}

impl<'a> TableRowsCheck<'a> {
    /// A check of `table`'s rows, one of `schema`'s tables. Columns that the table's keys
    /// name but that it does not have are ignored here ([`DatabaseSchema::problems`]
    /// reports them).
    #[must_use]
    pub fn new(schema: &'a DatabaseSchema, table: &'a Table) -> Self {
        let columns: HashMap<&str, usize> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let indices = |names: &[String]| -> Option<Vec<usize>> {
            names
                .iter()
                .map(|n| columns.get(n.as_str()).copied())
                .collect()
        };
        let mut referenced: Vec<KeySet> = Vec::new();
        for foreign_key in schema.tables.iter().flat_map(|t| &t.foreign_keys) {
            if foreign_key.table != table.name
                || foreign_key.references == table.primary_key
                || referenced
                    .iter()
                    .any(|k| k.columns == foreign_key.references)
            {
                continue;
            }
            if let Some(found) = indices(&foreign_key.references) {
                referenced.push(KeySet {
                    columns: foreign_key.references.clone(),
                    indices: found,
                    values: HashSet::new(),
                });
            }
        }
        let own_foreign_keys = table
            .foreign_keys
            .iter()
            .filter_map(|fk| {
                Some(References {
                    foreign_key: fk.clone(),
                    indices: indices(&fk.columns)?,
                    first: KeyMap::new(),
                    previous_integer: None,
                    previous: String::new(),
                })
            })
            .collect();
        // The tenant table's row is the tenant's by its key; other tenant tables' rows by
        // the tenant column.
        let tenant = (table.role == TableRole::Tenant)
            .then_some(&schema.tenant)
            .and_then(|t| match tenant_key(t, table) {
                Some(key) => Some((key, &t.value)),
                None => columns
                    .contains_key(t.column.as_str())
                    .then_some((t.column.as_str(), &t.value)),
            });
        Self {
            table,
            engine: schema.engine,
            primary: indices(&table.primary_key).unwrap_or_default(),
            columns,
            tenant,
            keys: KeyMap::new(),
            referenced,
            references: own_foreign_keys,
        }
    }

    /// Makes room for the keys of about `rows` rows at once (of at most about a million
    /// rows): a table's primary keys otherwise move to a larger table
    /// every time they double, which costs a large table more than checking its rows.
    pub fn expect_rows(&mut self, rows: u64) {
        if self.primary.is_empty() {
            return;
        }
        let rows = usize::try_from(rows.min(MAX_RESERVED_KEYS)).unwrap_or(0);
        self.keys.reserve(rows);
    }

    /// Checks the row on line `line` (its parsed value) and keeps its keys. Gives every
    /// problem of the row.
    pub fn row(&mut self, line: u64, row: &Value) -> Vec<RowError> {
        let Value::Object(members) = row else {
            return vec![RowError {
                table: self.table.name.clone(),
                line,
                key: None,
                problem: RowProblem::NotAnObject,
            }];
        };
        let values: Vec<Option<&Value>> = self
            .table
            .columns
            .iter()
            .map(|c| members.get(&c.name))
            .collect();
        let mut problems = self.check(line, &values);
        let key = display(self.table, &self.primary, &values);
        for member in members.keys() {
            if !self.columns.contains_key(member.as_str()) {
                problems.push(RowError {
                    table: self.table.name.clone(),
                    line,
                    key: key.clone(),
                    problem: RowProblem::UnknownMember {
                        member: member.clone(),
                    },
                });
            }
        }
        problems
    }

    /// Checks a row given as its values in the table's column order (as a writer reads
    /// them, before they are written) and keeps its keys: what the archive's reader
    /// will check, so that a writer never writes a row it refuses.
    pub fn row_values(&mut self, line: u64, values: &[Value]) -> Vec<RowError> {
        let values: Vec<Option<&Value>> = values.iter().map(Some).collect();
        let mut problems = self.check(line, &values);
        // A reader parses the row's line as one JSON value: its nesting counts the row.
        for (column, value) in self.table.columns.iter().zip(&values) {
            let depth = value.map_or(0, nesting);
            if depth >= MAX_LINE_NESTING {
                problems.push(RowError {
                    table: self.table.name.clone(),
                    line,
                    key: display(self.table, &self.primary, &values),
                    problem: RowProblem::BadValue {
                        column: column.name.clone(),
                        message: format!(
                            "nests {depth} arrays or objects deep; a row's line may nest at \
                             most {MAX_LINE_NESTING} (the archive's JSON limit), the row itself \
                             being one"
                        ),
                    },
                });
            }
        }
        problems
    }

    /// Whether the check reads the value of column `index` beyond whether it is null
    /// (and how deep it nests): a column of the primary key, of a foreign key, of a
    /// column list a foreign key references, or the tenant's.
    #[must_use]
    pub fn reads_value(&self, index: usize) -> bool {
        self.primary.contains(&index)
            || self
                .referenced
                .iter()
                .any(|set| set.indices.contains(&index))
            || self.references.iter().any(|r| r.indices.contains(&index))
            || self
                .tenant
                .is_some_and(|(column, _)| self.columns.get(column) == Some(&index))
    }

    /// The rules of a row whose values are known by column, and its keys kept.
    fn check(&mut self, line: u64, values: &[Option<&Value>]) -> Vec<RowError> {
        let mut found = Vec::new();
        for (column, value) in self.table.columns.iter().zip(values) {
            match value {
                None => found.push(RowProblem::MissingColumn {
                    column: column.name.clone(),
                }),
                Some(value) => {
                    if let Err(message) = super::check_value(column, self.engine, value) {
                        found.push(RowProblem::BadValue {
                            column: column.name.clone(),
                            message,
                        });
                    }
                }
            }
        }
        if let Some((column, tenant)) = self.tenant {
            let value = self.columns.get(column).and_then(|&i| values[i]);
            if !holds_tenant(value, tenant) {
                found.push(RowProblem::OtherTenant {
                    column: column.to_owned(),
                });
            }
        }
        // One buffer for every key's encoding; a row's key is only spelled out when a
        // message needs it.
        let mut encoding = String::new();
        let (table, primary) = (self.table, &self.primary);
        let key = || display(table, primary, values);
        if !primary.is_empty()
            && let Some(primary_key) = key_of(primary, values, &mut encoding)
            && let Some(&first_line) = self.keys.insert_first(primary_key, || line)
        {
            found.push(RowProblem::DuplicateKey { first_line });
        }
        for set in &mut self.referenced {
            if let Some(value) = key_of(&set.indices, values, &mut encoding) {
                set.values.insert(value);
            }
        }
        for references in &mut self.references {
            // Rows often hold the same parent as the row before (the tenant's, in a tenant
            // table): kept already.
            let value = match single_integer(&references.indices, values) {
                Some(integer) if references.previous_integer == Some(integer) => continue,
                Some(integer) => {
                    references.previous_integer = Some(integer);
                    Key::Integer(integer)
                }
                None => {
                    if !encode_key(&references.indices, values, &mut encoding)
                        || encoding == references.previous
                    {
                        continue;
                    }
                    let value = Key::Digest(digest(&encoding));
                    std::mem::swap(&mut references.previous, &mut encoding);
                    value
                }
            };
            references.first.insert_first(value, || RowRef {
                line,
                key: key().map(Into::into),
            });
        }
        if found.is_empty() {
            return Vec::new();
        }
        let key = key();
        found
            .into_iter()
            .map(|problem| RowError {
                table: self.table.name.clone(),
                line,
                key: key.clone(),
                problem,
            })
            .collect()
    }

    /// What the reader keeps of the table once its rows were read.
    #[must_use]
    pub fn finish(self) -> TableKeys {
        TableKeys {
            table: self.table.name.clone(),
            primary_key: self.table.primary_key.clone(),
            keys: self.keys,
            referenced: self
                .referenced
                .into_iter()
                .map(|set| (set.columns, set.values))
                .collect(),
            references: self
                .references
                .into_iter()
                .map(|r| (r.foreign_key, r.first))
                .collect(),
        }
    }
}

fn holds_tenant(value: Option<&Value>, tenant: &TenantValue) -> bool {
    match (value, tenant) {
        (Some(Value::Number(n)), TenantValue::Integer(t)) => n.as_i64() == Some(*t),
        (Some(Value::String(s)), TenantValue::Text(t)) => s == t,
        _ => false,
    }
}

/// A value as keys compare it: compact JSON, integers in their shortest form.
fn canonical(value: &Value) -> String {
    let mut text = String::new();
    push_canonical(&mut text, value);
    text
}

fn push_canonical(out: &mut String, value: &Value) {
    use fmt::Write as _;
    // Asked of every key of every row: the usual integers and strings skip `fmt`.
    match value {
        Value::Number(n) if let Some(i) = n.as_i64() => {
            out.push_str(itoa::Buffer::new().format(i));
        }
        // Only `"`, `\` and control characters are escaped in JSON's compact form.
        Value::String(s) if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        // Writing to a `String` cannot fail.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// How deeply JSON Lines may nest arrays and objects: `serde_json`'s limit, which every
/// reader of an archive parses with.
const MAX_LINE_NESTING: usize = 127;

/// How many arrays and objects `value` nests (0 for a scalar).
fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// `(a, b)=(1, "x")` for the columns at `indices` of `table`, when the row holds them all.
fn display(table: &Table, indices: &[usize], values: &[Option<&Value>]) -> Option<String> {
    if indices.is_empty() {
        return None;
    }
    let names: Vec<&str> = indices
        .iter()
        .map(|&i| table.columns[i].name.as_str())
        .collect();
    let shown: Option<Vec<String>> = indices.iter().map(|&i| values[i].map(canonical)).collect();
    Some(format!("({})=({})", names.join(", "), shown?.join(", ")))
}

/// The key of the columns at `indices` (encoded, when it is not one integer, in
/// `encoding`, a buffer reused from key to key): `None` when one is missing or null (SQL
/// does not compare NULL, so such a foreign key references nothing).
fn key_of(indices: &[usize], values: &[Option<&Value>], encoding: &mut String) -> Option<Key> {
    if let Some(integer) = single_integer(indices, values) {
        return Some(Key::Integer(integer));
    }
    encode_key(indices, values, encoding).then(|| Key::Digest(digest(encoding)))
}

/// The value of the one column at `indices`, when it is an integer (as a 64-bit signed
/// one): the keys whose encoding is digits alone.
fn single_integer(indices: &[usize], values: &[Option<&Value>]) -> Option<i64> {
    match indices {
        [index] => values[*index].and_then(Value::as_i64),
        _ => None,
    }
}

/// Encodes the key of the columns at `indices` into `encoding`; `false` when one is
/// missing or null.
fn encode_key(indices: &[usize], values: &[Option<&Value>], encoding: &mut String) -> bool {
    encoding.clear();
    encoding.push('[');
    for (n, &i) in indices.iter().enumerate() {
        let Some(value) = values[i].filter(|v| !v.is_null()) else {
            return false;
        };
        if n > 0 {
            encoding.push(',');
        }
        push_canonical(encoding, value);
    }
    encoding.push(']');
    true
}

/// The keys of one table's rows: what resolving foreign keys needs.
#[derive(Debug, Clone)]
pub struct TableKeys {
    table: String,
    primary_key: Vec<String>,
    keys: KeyMap<u64>,
    referenced: Vec<(Vec<String>, HashSet<Key>)>,
    references: Vec<(ForeignKey, KeyMap<RowRef>)>,
}

impl TableKeys {
    /// The table.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The values of `columns` that the table's rows hold, when they were kept.
    fn values_of(&self, columns: &[String]) -> Option<KeysOf<'_>> {
        if columns == self.primary_key.as_slice() && !columns.is_empty() {
            return Some(KeysOf::Primary(&self.keys));
        }
        self.referenced
            .iter()
            .find(|(c, _)| c.as_slice() == columns)
            .map(|(_, values)| KeysOf::Other(values))
    }
}

/// The rows of one table whose foreign key names no row of its parent table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingReferences {
    /// The referencing table.
    pub table: String,
    /// The foreign key.
    pub foreign_key: ForeignKey,
    /// The first row holding each missing value, in line order.
    pub rows: Vec<RowRef>,
}

/// Resolves the foreign keys of `tables` (every table read from one archive) whose parent
/// table is among them: each distinct non-null value must be a key of a parent row.
/// Foreign keys to tables not among them (skipped tables, tables whose rows could not be
/// read) are not checked.
#[must_use]
pub fn dangling_references(tables: &[TableKeys]) -> Vec<DanglingReferences> {
    let by_name: HashMap<&str, &TableKeys> = tables.iter().map(|t| (t.table(), t)).collect();
    let mut found = Vec::new();
    for table in tables {
        for (foreign_key, first) in &table.references {
            let Some(parent) = by_name
                .get(foreign_key.table.as_str())
                .and_then(|p| p.values_of(&foreign_key.references))
            else {
                continue;
            };
            let mut rows: Vec<RowRef> = first
                .iter()
                .filter(|(value, _)| !parent.contains(value))
                .map(|(_, row)| row.clone())
                .collect();
            if rows.is_empty() {
                continue;
            }
            rows.sort_by_key(|r| r.line);
            found.push(DanglingReferences {
                table: table.table.clone(),
                foreign_key: foreign_key.clone(),
                rows,
            });
        }
    }
    found
}

impl DatabaseSchema {
    /// Where `schema.json` contradicts itself, beyond its JSON Schema: table names that
    /// repeat or cannot be file names, columns that repeat, keys naming columns the table
    /// does not have, foreign keys whose two sides differ in length, a tenant table
    /// without the tenant column. Each with its JSON pointer into `schema.json`.
    #[must_use]
    pub fn problems(&self) -> Vec<SchemaViolation> {
        let mut found = Vec::new();
        let mut names = HashSet::new();
        for (t, table) in self.tables.iter().enumerate() {
            let at = format!("/tables/{t}");
            if !names.insert(table.name.as_str()) {
                push(
                    &mut found,
                    format!("{at}/name"),
                    format!("table `{}` is listed twice", table.name),
                );
            }
            let file = table_path(&table.name);
            if file
                .parse::<ArchivePath>()
                .map_or(true, |p| p.components().count() != 2)
            {
                push(
                    &mut found,
                    format!("{at}/name"),
                    "the table's name cannot name its file `db/<name>.jsonl`: it must be one safe path component (docs/FORMAT.md §4)".to_owned(),
                );
            }
            let mut columns = HashSet::new();
            for (c, column) in table.columns.iter().enumerate() {
                if !columns.insert(column.name.as_str()) {
                    push(
                        &mut found,
                        format!("{at}/columns/{c}/name"),
                        format!("column `{}` is listed twice", column.name),
                    );
                }
            }
            let must_be_columns =
                |found: &mut Vec<SchemaViolation>, pointer: &str, list: &[String], of: &Table| {
                    for (i, name) in list.iter().enumerate() {
                        if !of.columns.iter().any(|c| &c.name == name) {
                            push(
                                found,
                                format!("{pointer}/{i}"),
                                format!("`{name}` is not a column of table `{}`", of.name),
                            );
                        }
                    }
                };
            must_be_columns(
                &mut found,
                &format!("{at}/primary_key"),
                &table.primary_key,
                table,
            );
            for (u, unique) in table.unique.iter().enumerate() {
                must_be_columns(&mut found, &format!("{at}/unique/{u}"), unique, table);
            }
            for (f, fk) in table.foreign_keys.iter().enumerate() {
                let fk_at = format!("{at}/foreign_keys/{f}");
                must_be_columns(&mut found, &format!("{fk_at}/columns"), &fk.columns, table);
                if fk.columns.is_empty() || fk.columns.len() != fk.references.len() {
                    push(
                        &mut found,
                        fk_at.clone(),
                        "a foreign key names as many referenced columns as referencing ones, at least one".to_owned(),
                    );
                }
                if let Some(parent) = self.tables.iter().find(|p| p.name == fk.table) {
                    must_be_columns(
                        &mut found,
                        &format!("{fk_at}/references"),
                        &fk.references,
                        parent,
                    );
                }
            }
            if table.role == TableRole::Tenant
                && !columns.contains(self.tenant.column.as_str())
                && tenant_key(&self.tenant, table).is_none()
            {
                push(
                    &mut found,
                    format!("{at}/role"),
                    format!(
                        "a tenant table has the tenant column `{}` (or is the tenant table, keyed by the tenant), but table `{}` has neither",
                        self.tenant.column, table.name
                    ),
                );
            }
        }
        found
    }
}

/// The tenant table's one key column, when `table` is the tenant table (its primary key,
/// a single column, is the tenant).
fn tenant_key<'t>(tenant: &Tenant, table: &'t Table) -> Option<&'t str> {
    match table.primary_key.as_slice() {
        [key] if tenant.table.as_deref() == Some(table.name.as_str()) => Some(key.as_str()),
        _ => None,
    }
}

fn push(found: &mut Vec<SchemaViolation>, pointer: String, message: String) {
    found.push(SchemaViolation { pointer, message });
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_keys_canonical_form_is_its_compact_json_with_integers_shortest() {
        for (value, expected) in [
            (json!(7), "7"),
            (
                json!(-9_223_372_036_854_775_808_i64),
                "-9223372036854775808",
            ),
            (
                json!(18_446_744_073_709_551_615_u64),
                "18446744073709551615",
            ),
            (json!(1.5), "1.5"),
            (json!("plain ünï ✓ \u{7f}"), "\"plain ünï ✓ \u{7f}\""),
            (json!("a\"b"), r#""a\"b""#),
            (json!("a\\b"), r#""a\\b""#),
            (json!("tab\there"), r#""tab\there""#),
            (json!("\u{1}"), r#""\u0001""#),
            (json!(null), "null"),
            (json!([1, "x"]), r#"[1,"x"]"#),
        ] {
            assert_eq!(canonical(&value), expected, "{value}");
        }
        let minus_zero: Value = serde_json::from_str("-0").unwrap();
        assert_eq!(canonical(&minus_zero), "0");
    }

    #[test]
    fn a_key_is_the_integer_one_column_holds_else_its_encodings_digest() {
        let mut encoding = String::new();
        let mut key = |indices: &[usize], values: &[Value]| {
            let values: Vec<Option<&Value>> = values.iter().map(Some).collect();
            key_of(indices, &values, &mut encoding)
        };
        assert_eq!(key(&[0], &[json!(5)]), Some(Key::Integer(5)));
        assert_eq!(key(&[0], &[json!(i64::MIN)]), Some(Key::Integer(i64::MIN)));
        assert_eq!(key(&[1], &[json!("x"), json!(-7)]), Some(Key::Integer(-7)));
        let digest_of = |text: &str| Some(Key::Digest(digest(text)));
        assert_eq!(key(&[0], &[json!("5")]), digest_of(r#"["5"]"#));
        assert_eq!(key(&[0], &[json!(5.0)]), digest_of("[5.0]"));
        assert_eq!(
            key(&[0], &[json!(u64::MAX)]),
            digest_of("[18446744073709551615]")
        );
        assert_eq!(key(&[0, 1], &[json!(5), json!(6)]), digest_of("[5,6]"));
        assert_eq!(key(&[0], &[json!(null)]), None);
        assert_eq!(key(&[0, 1], &[json!(5), json!(null)]), None);
        assert_ne!(digest("[7]"), digest("[8]"));
    }

    #[test]
    fn primary_keys_in_order_or_not_are_told_apart_and_found() {
        let mut keys: KeyMap<u64> = KeyMap::new();
        assert_eq!(keys.insert_first(Key::Integer(-3), || 1).copied(), None);
        assert_eq!(keys.insert_first(Key::Integer(7), || 2).copied(), None);
        assert!(matches!(keys, KeyMap::Ascending(_)));
        assert!(keys.contains(&Key::Integer(-3)) && keys.contains(&Key::Integer(7)));
        assert!(!keys.contains(&Key::Integer(5)) && !keys.contains(&Key::Integer(8)));
        assert!(!keys.contains(&Key::Digest(digest("[7]"))));
        let kept: Vec<(Key, u64)> = keys.iter().map(|(key, &line)| (key, line)).collect();
        assert_eq!(kept, [(Key::Integer(-3), 1), (Key::Integer(7), 2)]);
        // Out of order: the keys kept so far move to a map, with their lines.
        assert_eq!(keys.insert_first(Key::Integer(5), || 3).copied(), None);
        assert!(matches!(keys, KeyMap::Any(_)));
        assert_eq!(keys.insert_first(Key::Integer(7), || 4).copied(), Some(2));
        assert_eq!(keys.insert_first(Key::Integer(-3), || 5).copied(), Some(1));
        assert_eq!(
            keys.insert_first(Key::Digest(digest(r#"["x"]"#)), || 6)
                .copied(),
            None
        );
        assert_eq!(
            keys.insert_first(Key::Digest(digest(r#"["x"]"#)), || 7)
                .copied(),
            Some(6)
        );
        assert!(keys.contains(&Key::Integer(5)) && !keys.contains(&Key::Integer(6)));
        let mut kept: Vec<(Key, u64)> = keys.iter().map(|(key, &line)| (key, line)).collect();
        kept.sort_by_key(|&(_, line)| line);
        assert_eq!(
            kept,
            [
                (Key::Integer(-3), 1),
                (Key::Integer(7), 2),
                (Key::Integer(5), 3),
                (Key::Digest(digest(r#"["x"]"#)), 6)
            ]
        );
        // The same integer twice in a row is a duplicate.
        let mut keys: KeyMap<u64> = KeyMap::new();
        assert_eq!(keys.insert_first(Key::Integer(1), || 1).copied(), None);
        assert_eq!(keys.insert_first(Key::Integer(1), || 2).copied(), Some(1));
        // A first key that is not an integer.
        let mut keys: KeyMap<u64> = KeyMap::new();
        assert_eq!(
            keys.insert_first(Key::Digest(digest("[1,2]")), || 1)
                .copied(),
            None
        );
        assert!(keys.contains(&Key::Digest(digest("[1,2]"))));
        assert!(!keys.contains(&Key::Integer(1)));
    }

    #[test]
    fn references_resolve_alike_to_keys_in_order_out_of_order_and_of_other_types() {
        let schema = schema();
        let mut shops = check(&schema, "shops");
        let mut orders = check(&schema, "orders");
        // Shops out of key order: their keys are kept in a map from the third on.
        for (line, id) in [(1, 5), (2, 9), (3, 2)] {
            assert!(
                shops
                    .row(line, &json!({"id": id, "tenant_id": 7}))
                    .is_empty()
            );
        }
        assert!(
            problems(
                &mut orders,
                &[
                    json!({"id": 10, "shop_id": 9, "parent_id": null, "currency": null}),
                    json!({"id": 11, "shop_id": 2, "parent_id": 10, "currency": null}),
                    // A string or a float is not the integer key it spells.
                    json!({"id": 12, "shop_id": "5", "parent_id": 10.0, "currency": null}),
                    json!({"id": 13, "shop_id": 5, "parent_id": 11, "currency": null}),
                    json!({"id": 14, "shop_id": 3, "parent_id": -1, "currency": null}),
                ],
            )
            .iter()
            .all(|(_, _, problem)| matches!(problem, RowProblem::BadValue { .. }))
        );
        let keys = [shops.finish(), orders.finish()];
        let found: Vec<(String, Vec<u64>)> = dangling_references(&keys)
            .into_iter()
            .map(|d| (d.foreign_key.table, d.rows.iter().map(|r| r.line).collect()))
            .collect();
        assert_eq!(
            found,
            [("shops".into(), vec![3, 5]), ("orders".into(), vec![3, 5])]
        );
    }

    /// A tenant table `shops`, its `orders` (referencing shops, currencies by their
    /// unique `code`, and orders themselves), their `lines` with a composite primary key,
    /// and the reference table `currencies`.
    pub(crate) fn schema() -> DatabaseSchema {
        serde_json::from_value(json!({
            "engine": "postgresql",
            "engine_version": "16.4",
            "tenant": {"column": "tenant_id", "value": 7},
            "tables": [
                {"name": "currencies", "role": "reference", "primary_key": ["id"], "unique": [["code"]],
                 "foreign_keys": [], "rows": 0, "columns": [
                    {"name": "id", "type": "integer", "declared": "int", "nullable": false, "has_default": true},
                    {"name": "code", "type": "text", "declared": "text", "nullable": false, "has_default": false}]},
                {"name": "shops", "role": "tenant", "primary_key": ["id"], "unique": [], "foreign_keys": [],
                 "rows": 0, "columns": [
                    {"name": "id", "type": "integer", "declared": "int", "nullable": false, "has_default": true},
                    {"name": "tenant_id", "type": "integer", "declared": "int", "nullable": false, "has_default": false}]},
                {"name": "orders", "role": "linked", "primary_key": ["id"], "unique": [], "rows": 0,
                 "foreign_keys": [
                    {"columns": ["shop_id"], "table": "shops", "references": ["id"]},
                    {"columns": ["parent_id"], "table": "orders", "references": ["id"]},
                    {"columns": ["currency"], "table": "currencies", "references": ["code"]}],
                 "columns": [
                    {"name": "id", "type": "integer", "declared": "int", "nullable": false, "has_default": true},
                    {"name": "shop_id", "type": "integer", "declared": "int", "nullable": false, "has_default": false},
                    {"name": "parent_id", "type": "integer", "declared": "int", "nullable": true, "has_default": false},
                    {"name": "currency", "type": "text", "declared": "text", "nullable": true, "has_default": false}]},
                {"name": "lines", "role": "linked", "primary_key": ["order_id", "no"], "unique": [], "rows": 0,
                 "foreign_keys": [{"columns": ["order_id"], "table": "orders", "references": ["id"]}],
                 "columns": [
                    {"name": "order_id", "type": "integer", "declared": "int", "nullable": false, "has_default": false},
                    {"name": "no", "type": "integer", "declared": "int", "nullable": false, "has_default": false}]}
            ],
            "skipped": [{"table": "sessions", "reason": "secret"}]
        }))
        .unwrap()
    }

    fn check<'a>(schema: &'a DatabaseSchema, table: &str) -> TableRowsCheck<'a> {
        let table = schema.tables.iter().find(|t| t.name == table).unwrap();
        TableRowsCheck::new(schema, table)
    }

    fn problems(
        check: &mut TableRowsCheck<'_>,
        rows: &[Value],
    ) -> Vec<(u64, Option<String>, RowProblem)> {
        rows.iter()
            .enumerate()
            .flat_map(|(i, row)| check.row(i as u64 + 1, row))
            .map(|e| (e.line, e.key, e.problem))
            .collect()
    }

    #[test]
    fn a_row_nests_no_deeper_than_a_reader_parses() {
        let nested = |depth: usize| -> Value {
            serde_json::from_str(&format!("{}{}", "[".repeat(depth), "]".repeat(depth))).unwrap()
        };
        let line = |depth: usize| format!("{{\"note\":{}}}", nested(depth));
        // The limit is the parser's: a row line one level deeper does not parse.
        let deepest = MAX_LINE_NESTING - 1;
        assert!(serde_json::from_str::<Value>(&line(deepest)).is_ok());
        assert!(serde_json::from_str::<Value>(&line(deepest + 1)).is_err());
        let schema: DatabaseSchema = serde_json::from_value(json!({
            "engine": "postgresql", "engine_version": "16.4",
            "tenant": {"column": "tenant_id", "value": 7},
            "tables": [{"name": "notes", "role": "reference", "primary_key": ["id"], "unique": [],
                        "foreign_keys": [], "rows": 0, "columns": [
                {"name": "id", "type": "integer", "declared": "int", "nullable": false, "has_default": false},
                {"name": "note", "type": "json", "declared": "json", "nullable": false, "has_default": false}]}],
            "skipped": []
        }))
        .unwrap();
        let mut notes = check(&schema, "notes");
        let row = |id: i64, note: Value| vec![json!(id), note];
        assert!(notes.row_values(1, &row(1, nested(deepest))).is_empty());
        let problems = notes.row_values(2, &row(2, nested(deepest + 1)));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .to_string()
                .contains("nests 127 arrays or objects deep"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn objects_count_in_a_rows_nesting_as_arrays_do() {
        let deep =
            |depth: usize| -> Value { (0..depth).fold(json!(1), |inner, _| json!({"k": inner})) };
        assert_eq!(nesting(&deep(3)), 3);
        assert_eq!(nesting(&json!([{"a": []}, 1])), 3);
        assert_eq!(nesting(&json!("text")), 0);
    }

    #[test]
    fn composite_keys_are_told_apart_column_by_column() {
        let schema = schema();
        let mut lines = check(&schema, "lines");
        // Written together, (1, 23) and (12, 3) would be one key.
        assert!(lines.row_values(1, &[json!(1), json!(23)]).is_empty());
        assert!(lines.row_values(2, &[json!(12), json!(3)]).is_empty());
        let again = lines.row_values(3, &[json!(12), json!(3)]);
        assert!(
            matches!(again[0].problem, RowProblem::DuplicateKey { first_line: 2 }),
            "{again:?}"
        );
    }
    #[test]
    fn a_row_has_exactly_the_columns_with_valid_values() {
        let schema = schema();
        let mut orders = check(&schema, "orders");
        let found = problems(
            &mut orders,
            &[
                json!({"id": 1, "shop_id": 1, "parent_id": null, "currency": "EUR"}),
                json!({"id": 2, "shop_id": 1, "parent_id": null}),
                json!({"id": 3, "shop_id": "1", "parent_id": null, "currency": null, "note": "x"}),
                json!([1, 1, null, null]),
            ],
        );
        let key = |k: &str| Some(format!("(id)=({k})"));
        assert_eq!(
            found[0],
            (
                2,
                key("2"),
                RowProblem::MissingColumn {
                    column: "currency".into()
                }
            )
        );
        assert!(
            matches!(&found[1], (3, k, RowProblem::BadValue { column, .. }) if *k == key("3") && column == "shop_id")
        );
        assert_eq!(
            found[2],
            (
                3,
                key("3"),
                RowProblem::UnknownMember {
                    member: "note".into()
                }
            )
        );
        assert_eq!(found[3], (4, None, RowProblem::NotAnObject));
        assert_eq!(found.len(), 4);
    }

    #[test]
    fn primary_keys_are_unique_composite_ones_too() {
        let schema = schema();
        let mut lines = check(&schema, "lines");
        let found = problems(
            &mut lines,
            &[
                json!({"order_id": 1, "no": 1}),
                json!({"order_id": 1, "no": 2}),
                json!({"order_id": 2, "no": 1}),
                json!({"order_id": 1, "no": 2}),
            ],
        );
        assert_eq!(
            found,
            [(
                4,
                Some("(order_id, no)=(1, 2)".into()),
                RowProblem::DuplicateKey { first_line: 2 }
            )]
        );
        let error = lines.row(9, &json!({"order_id": 2, "no": 1}));
        assert_eq!(
            error[0].to_string(),
            "table `lines`, line 9 (key (order_id, no)=(2, 1)): the same primary key as the row on line 3"
        );
    }

    #[test]
    fn room_for_an_archives_claimed_rows_is_bounded_and_changes_no_answer() {
        let schema = schema();
        let mut lines = check(&schema, "lines");
        // A hostile schema.json may claim any count: room is made for at most a bound.
        lines.expect_rows(u64::MAX);
        let room = lines.keys.capacity();
        assert!((1 << 20..1 << 21).contains(&room), "{room}");
        lines.expect_rows(3);
        assert_eq!(lines.keys.capacity(), room);
        let found = problems(
            &mut lines,
            &[
                json!({"order_id": 1, "no": 1}),
                json!({"order_id": 1, "no": 1}),
            ],
        );
        assert_eq!(
            found,
            [(
                2,
                Some("(order_id, no)=(1, 1)".into()),
                RowProblem::DuplicateKey { first_line: 1 }
            )]
        );
    }

    #[test]
    fn a_tenant_tables_rows_are_the_tenants() {
        let schema = schema();
        let mut shops = check(&schema, "shops");
        let found = problems(
            &mut shops,
            &[
                json!({"id": 1, "tenant_id": 7}),
                json!({"id": 2, "tenant_id": 8}),
                json!({"id": 3, "tenant_id": "7"}),
            ],
        );
        let other = RowProblem::OtherTenant {
            column: "tenant_id".into(),
        };
        assert_eq!(found[0], (2, Some("(id)=(2)".into()), other.clone()));
        // "7" is a string: a bad value, and not the tenant's (an integer) either.
        assert!(matches!(found[1].2, RowProblem::BadValue { .. }));
        assert_eq!(found[2], (3, Some("(id)=(3)".into()), other));
    }

    #[test]
    fn a_text_tenant_is_compared_as_text_and_the_tenant_table_by_its_key() {
        let mut schema = schema();
        schema.tenant.value = TenantValue::Text("north".into());
        schema.tables[1].columns[1].column_type = "text".parse().unwrap();
        let mut shops = check(&schema, "shops");
        let found = problems(
            &mut shops,
            &[
                json!({"id": 1, "tenant_id": "north"}),
                json!({"id": 2, "tenant_id": "south"}),
            ],
        );
        let other = |column: &str| RowProblem::OtherTenant {
            column: column.into(),
        };
        assert_eq!(found, [(2, Some("(id)=(2)".into()), other("tenant_id"))]);

        // The tenant table: its key is the tenant, whether or not it has the column.
        let mut schema = self::schema();
        schema.tenant.table = Some("shops".into());
        schema.tables[1].columns.truncate(1);
        let mut shops = check(&schema, "shops");
        let found = problems(&mut shops, &[json!({"id": 7}), json!({"id": 8})]);
        assert_eq!(found, [(2, Some("(id)=(8)".into()), other("id"))]);
    }

    #[test]
    fn a_writers_row_values_are_held_to_the_same_rules() {
        let schema = schema();
        let mut shops = check(&schema, "shops");
        assert!(shops.row_values(1, &[json!(1), json!(7)]).is_empty());
        let found: Vec<RowProblem> = shops
            .row_values(2, &[json!(1), json!(8)])
            .into_iter()
            .map(|e| e.problem)
            .collect();
        assert_eq!(
            found,
            [
                RowProblem::OtherTenant {
                    column: "tenant_id".into()
                },
                RowProblem::DuplicateKey { first_line: 1 },
            ]
        );
    }

    #[test]
    fn foreign_keys_resolve_to_parent_rows_of_the_archive() {
        let schema = schema();
        let mut currencies = check(&schema, "currencies");
        let mut shops = check(&schema, "shops");
        let mut orders = check(&schema, "orders");
        let mut lines = check(&schema, "lines");
        assert!(problems(&mut currencies, &[json!({"id": 1, "code": "EUR"})]).is_empty());
        assert!(problems(&mut shops, &[json!({"id": 1, "tenant_id": 7})]).is_empty());
        assert!(
            problems(
                &mut orders,
                &[
                    json!({"id": 10, "shop_id": 1, "parent_id": null, "currency": "EUR"}),
                    // Refers to a later row of its own table.
                    json!({"id": 11, "shop_id": 1, "parent_id": 12, "currency": null}),
                    json!({"id": 12, "shop_id": 2, "parent_id": 99, "currency": "USD"}),
                    json!({"id": 13, "shop_id": 2, "parent_id": 10, "currency": "EUR"}),
                ],
            )
            .is_empty()
        );
        assert!(
            problems(
                &mut lines,
                &[
                    json!({"order_id": 10, "no": 1}),
                    json!({"order_id": 14, "no": 1})
                ]
            )
            .is_empty()
        );
        let keys = [
            currencies.finish(),
            shops.finish(),
            orders.finish(),
            lines.finish(),
        ];
        let mut found: Vec<(String, String, Vec<u64>)> = dangling_references(&keys)
            .into_iter()
            .map(|d| {
                (
                    d.table,
                    d.foreign_key.table,
                    d.rows.iter().map(|r| r.line).collect(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("lines".into(), "orders".into(), vec![2]),
                ("orders".into(), "currencies".into(), vec![3]),
                ("orders".into(), "orders".into(), vec![3]),
                // Shop 2 is missing: reported once, at its first row.
                ("orders".into(), "shops".into(), vec![3]),
            ]
        );
        // Without the parent table in the archive, nothing is checked.
        assert!(
            dangling_references(&keys[2..3])
                .iter()
                .all(|d| d.foreign_key.table == "orders")
        );
    }

    #[test]
    fn a_schema_that_contradicts_itself_is_reported_with_pointers() {
        assert_eq!(schema().problems(), []);
        let mut bad = schema();
        bad.tables[1].name = "currencies".into();
        bad.tables[0].columns[1].name = "id".into();
        bad.tables[3].primary_key = vec!["order_id".into(), "nope".into()];
        bad.tables[2].foreign_keys[0].references.push("x".into());
        bad.tables[3].name = "a/b".into();
        let pointers: Vec<String> = bad.problems().into_iter().map(|v| v.pointer).collect();
        assert_eq!(
            pointers,
            [
                "/tables/0/columns/1/name",
                "/tables/0/unique/0/0",
                "/tables/1/name",
                "/tables/2/foreign_keys/0",
                "/tables/2/foreign_keys/2/references/0",
                "/tables/3/name",
                "/tables/3/primary_key/1",
            ]
        );
    }
}
