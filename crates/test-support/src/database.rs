//! Database archives (format 1.1) for tests: a small tenant's tables as
//! `site/db/schema.json` and `site/db/<table>.jsonl`, in a ZIP that a correct writer
//! would make ([`zipcraft::Payload`](crate::zipcraft::Payload) with the manifest of 1.1:
//! `format_version` `1.1` and `records` on each table's entry).
//!
//! The fixture is plain JSON that a test changes before building the archive, to break
//! one rule at a time.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::zipcraft::Payload;

/// A tenant's tables: the schema (`rows` filled in from the rows when built) and each
/// table's rows, plus how the manifest is written.
#[derive(Debug, Clone)]
pub struct DatabaseFixture {
    /// `site/db/schema.json`; each table's `rows` is set from `rows` unless
    /// [`keep_schema_rows`](Self::keep_schema_rows) is set.
    pub schema: Value,
    /// Each table's rows, in order, written one compact JSON object per line.
    pub rows: BTreeMap<String, Vec<Value>>,
    /// Other site files (`files/…`), by site-relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// `scope` as on the command line (`full`, `user:ID`, `table:NAME`).
    pub scope: String,
    /// `format_version` of the manifest.
    pub format_version: String,
    /// Write `records` on each table's entry.
    pub records: bool,
    /// Leave the schema's `rows` as they are.
    pub keep_schema_rows: bool,
}

/// Every column type of format 1.1 but `integer` (the key), with a valid value.
pub const TYPED_COLUMNS: [(&str, &str); 12] = [
    ("c_numeric", "numeric"),
    ("c_float", "float"),
    ("c_boolean", "boolean"),
    ("c_text", "text"),
    ("c_bytes", "bytes"),
    ("c_date", "date"),
    ("c_time", "time"),
    ("c_timestamp", "timestamp"),
    ("c_timestamptz", "timestamptz"),
    ("c_json", "json"),
    ("c_uuid", "uuid"),
    ("c_integers", "integer[]"),
];

fn column(name: &str, type_name: &str, nullable: bool) -> Value {
    json!({"name": name, "type": type_name, "declared": type_name, "nullable": nullable, "has_default": false})
}

impl Default for DatabaseFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl DatabaseFixture {
    /// Tenant 7 of a PostgreSQL database: `shops` (the tenant table), their `orders`
    /// (referencing shops, and currencies by their unique `code`), `typed` rows with a
    /// column of every type, and the reference table `currencies`; `sessions` skipped as
    /// secret.
    pub fn new() -> Self {
        let mut typed_columns = vec![
            column("id", "integer", false),
            column("shop_id", "integer", false),
        ];
        typed_columns.extend(TYPED_COLUMNS.iter().map(|(n, t)| column(n, t, false)));
        let schema = json!({
            "engine": "postgresql",
            "engine_version": "16.4",
            "tenant": {"column": "tenant_id", "value": 7},
            "tables": [
                {"name": "currencies", "role": "reference", "rows": 0,
                 "columns": [column("id", "integer", false), column("code", "text", false)],
                 "primary_key": ["id"], "unique": [["code"]], "foreign_keys": []},
                {"name": "shops", "role": "tenant", "rows": 0,
                 "columns": [column("id", "integer", false), column("tenant_id", "integer", false),
                             column("name", "text", false)],
                 "primary_key": ["id"], "unique": [], "foreign_keys": []},
                {"name": "orders", "role": "linked", "rows": 0,
                 "columns": [column("id", "integer", false), column("shop_id", "integer", false),
                             column("currency", "text", true), column("total", "numeric", false)],
                 "primary_key": ["id"], "unique": [],
                 "foreign_keys": [
                    {"columns": ["shop_id"], "table": "shops", "references": ["id"]},
                    {"columns": ["currency"], "table": "currencies", "references": ["code"]}]},
                {"name": "typed", "role": "linked", "rows": 0, "columns": typed_columns,
                 "primary_key": ["id"], "unique": [],
                 "foreign_keys": [{"columns": ["shop_id"], "table": "shops", "references": ["id"]}]}
            ],
            "skipped": [{"table": "sessions", "reason": "secret"}]
        });
        let rows = BTreeMap::from([
            (
                "currencies".to_owned(),
                vec![
                    json!({"id": 1, "code": "EUR"}),
                    json!({"id": 2, "code": "USD"}),
                ],
            ),
            (
                "shops".to_owned(),
                vec![
                    json!({"id": 1, "tenant_id": 7, "name": "Trailhead"}),
                    json!({"id": 2, "tenant_id": 7, "name": "Summit"}),
                ],
            ),
            (
                "orders".to_owned(),
                vec![
                    json!({"id": 10, "shop_id": 1, "currency": "EUR", "total": "12.50"}),
                    json!({"id": 11, "shop_id": 2, "currency": null, "total": "0"}),
                    json!({"id": 12, "shop_id": 2, "currency": "USD", "total": "-3.10"}),
                ],
            ),
            ("typed".to_owned(), vec![Self::typed_row(1)]),
        ]);
        Self {
            schema,
            rows,
            files: BTreeMap::new(),
            scope: "full".to_owned(),
            format_version: "1.1".to_owned(),
            records: true,
            keep_schema_rows: false,
        }
    }

    /// A row of `typed` with a valid value in every column.
    pub fn typed_row(id: i64) -> Value {
        json!({
            "id": id,
            "shop_id": 1,
            "c_numeric": "1234.5600",
            "c_float": 0.25,
            "c_boolean": true,
            "c_text": "Grüße\n",
            "c_bytes": "3q2+7w==",
            "c_date": "2026-11-22",
            "c_time": "08:30:00.5",
            "c_timestamp": "2026-11-22T08:30:00",
            "c_timestamptz": "2026-11-22T08:30:00+01:00",
            "c_json": {"tags": ["a", null]},
            "c_uuid": "123e4567-e89b-12d3-a456-426614174000",
            "c_integers": [1, null, 3],
        })
    }

    /// The table `name` in the schema.
    pub fn table_mut(&mut self, name: &str) -> &mut Value {
        self.schema["tables"]
            .as_array_mut()
            .expect("tables")
            .iter_mut()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no table {name}"))
    }

    /// The text of `site/db/<table>.jsonl`.
    pub fn table_text(rows: &[Value]) -> String {
        rows.iter().fold(String::new(), |mut text, row| {
            text.push_str(&serde_json::to_string(row).expect("JSON"));
            text.push('\n');
            text
        })
    }

    /// The site files: `site.json`, `db/schema.json` (pretty), each table's rows, the
    /// other files.
    pub fn payload(&self) -> Payload {
        let mut schema = self.schema.clone();
        if !self.keep_schema_rows {
            for table in schema["tables"].as_array_mut().expect("tables") {
                let name = table["name"].as_str().expect("a name").to_owned();
                table["rows"] = json!(self.rows.get(&name).map_or(0, Vec::len));
            }
        }
        let mut schema_text = serde_json::to_string_pretty(&schema).expect("JSON");
        schema_text.push('\n');
        let mut payload = Payload::new()
            .scope(&self.scope)
            .with("db/schema.json", schema_text);
        for (table, rows) in &self.rows {
            payload = payload.with(&format!("db/{table}.jsonl"), Self::table_text(rows));
        }
        for (path, data) in &self.files {
            payload = payload.with(path, data.clone());
        }
        payload
    }

    /// The manifest a 1.1 writer derives from [`payload`](Self::payload): its
    /// `format_version`, and `records` (the rows) on each table's entry.
    pub fn manifest(&self, payload: &Payload) -> Value {
        let mut manifest = payload.manifest();
        manifest["format_version"] = json!(self.format_version);
        if self.records {
            for entry in manifest["entries"].as_array_mut().expect("entries") {
                let path = entry["path"].as_str().expect("a path").to_owned();
                let table = path
                    .strip_prefix("site/db/")
                    .and_then(|p| p.strip_suffix(".jsonl"));
                if let Some(rows) = table.and_then(|t| self.rows.get(t)) {
                    entry["records"] = json!(rows.len());
                }
            }
        }
        manifest
    }

    /// The archive's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with(|_| {})
    }

    /// The archive's bytes, with the manifest changed by `change` first.
    pub fn to_bytes_with(&self, change: impl FnOnce(&mut Value)) -> Vec<u8> {
        let payload = self.payload();
        let mut manifest = self.manifest(&payload);
        change(&mut manifest);
        payload.zip_with(&manifest).to_bytes()
    }
}
