//! A fleet database with two tenants, made with rusqlite, and its descriptor.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sitepack_db::plan::Scope;
use sitepack_db::{DbError, Descriptor, ExportSummary, connect, export};
use sitepack_format::NoProgress;

/// The schema: every kind of table the planner knows.
pub const FLEET_SCHEMA: &str = "
CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL);
-- master data, two levels: models (the catalogue) reference manufacturers
CREATE TABLE manufacturers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE models (id INTEGER PRIMARY KEY, manufacturer_id INTEGER NOT NULL REFERENCES manufacturers(id), name TEXT NOT NULL);
CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT NOT NULL);
-- a self-referencing tenant table
CREATE TABLE users (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id), email TEXT NOT NULL UNIQUE, manager_id INTEGER REFERENCES users(id));
CREATE TABLE vehicles (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations, model_id INTEGER REFERENCES models, plate VARCHAR(12) NOT NULL, owner_id INTEGER REFERENCES users(id), bought DATE DEFAULT '2020-01-01');
CREATE TABLE drivers (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, owner_id INTEGER);
-- linked, two levels deep
CREATE TABLE maintenance_logs (id INTEGER PRIMARY KEY, vehicle_id INTEGER NOT NULL REFERENCES vehicles(id), note TEXT);
CREATE TABLE log_parts (log_id INTEGER NOT NULL REFERENCES maintenance_logs(id), line INTEGER NOT NULL, part TEXT, PRIMARY KEY (log_id, line));
-- a join table with a composite key referencing two tenant tables
CREATE TABLE vehicle_drivers (vehicle_id INTEGER NOT NULL REFERENCES vehicles(id), driver_id INTEGER NOT NULL REFERENCES drivers(id), PRIMARY KEY (vehicle_id, driver_id));
CREATE TABLE api_keys (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, secret TEXT NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), token TEXT NOT NULL);
CREATE TABLE app_settings (key TEXT PRIMARY KEY, value TEXT);
-- a tenant table with a foreign key to a secret table
CREATE TABLE invoices (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, currency TEXT REFERENCES currencies(code), amount NUMERIC(12,2), api_key_id INTEGER REFERENCES api_keys(id));
";

/// Two tenants: northwind (the one exported) and southbay, whose distinctive values
/// (`SOUTHBAY_MARKERS`) must never appear in northwind's archive.
pub const FLEET_ROWS: &str = "
INSERT INTO organizations VALUES ('northwind', 'Northwind Haulage'), ('southbay', 'Southbay Freight');
INSERT INTO manufacturers VALUES (1, 'Volvo'), (2, 'Scania'), (3, 'Tatra');
INSERT INTO models VALUES (1, 1, 'FH16'), (2, 2, 'R500'), (3, 3, 'Phoenix');
INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar'), ('GBP', 'Pound');
INSERT INTO users VALUES (1, 'northwind', 'ann@northwind.example', NULL), (2, 'northwind', 'bob@northwind.example', 1), (3, 'southbay', 'sam@southbay.example', NULL);
INSERT INTO vehicles VALUES (10, 'northwind', 1, 'NW-10', 1, '2021-03-04'), (12, 'southbay', 2, 'SB-9999', 3, '2019-05-06');
INSERT INTO vehicles (id, org_id, model_id, plate, owner_id) VALUES (11, 'northwind', NULL, 'NW-11', 2);
INSERT INTO drivers VALUES (20, 'northwind', 'Nora', 1), (21, 'southbay', 'Sven Southbay', 3);
INSERT INTO maintenance_logs VALUES (100, 10, 'oil change'), (101, 11, 'tyres'), (102, 12, 'southern brake job');
INSERT INTO log_parts VALUES (100, 1, 'oil filter'), (100, 2, 'oil'), (101, 1, 'tyre'), (102, 1, 'southern brake pad');
INSERT INTO vehicle_drivers VALUES (10, 20), (11, 20), (12, 21);
INSERT INTO api_keys VALUES (1, 'northwind', 'nw-api-secret-value'), (2, 'southbay', 'sb-api-secret-value');
INSERT INTO sessions VALUES (1, 1, 'session-token-value');
INSERT INTO app_settings VALUES ('theme', 'app-setting-value');
INSERT INTO invoices VALUES (500, 'northwind', 'EUR', 120.5, 1), (501, 'southbay', 'USD', 99, 2);
";

/// Values of southbay (and of tables that never travel) that northwind's archive must
/// not hold.
pub const FOREIGN_MARKERS: &[&str] = &[
    "southbay",
    "Southbay",
    "SB-9999",
    "Scania",
    "R500",
    "Tatra",
    "Phoenix",
    "USD",
    "GBP",
    "southern",
    "api-secret-value",
    "session-token-value",
    "app-setting-value",
];

pub const FLEET_DESCRIPTOR: &str = r#"
[site]
id = "northwind"
name = "Northwind Haulage"
url = "https://northwind.example"
[database]
url = "sqlite:fleet.db"
tenant_column = "org_id"
tenant = "northwind"
tenant_table = "organizations"
exclude = ["sessions"]
secret_tables = ["api_keys"]
owner_column = "owner_id"
"#;

/// A temporary directory holding `fleet.db` and `site.toml`.
pub struct Fleet {
    pub dir: tempfile::TempDir,
}

impl Fleet {
    /// The fleet database with its rows, and the descriptor.
    pub fn new() -> Self {
        Self::with(FLEET_SCHEMA, FLEET_ROWS, FLEET_DESCRIPTOR)
    }

    /// A database made by `schema` and `rows`, with `descriptor`.
    pub fn with(schema: &str, rows: &str, descriptor: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let connection = Connection::open(dir.path().join("fleet.db")).unwrap();
        connection.execute_batch(schema).unwrap();
        connection.execute_batch(rows).unwrap();
        drop(connection);
        std::fs::write(dir.path().join("site.toml"), descriptor).unwrap();
        Self { dir }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("fleet.db")
    }

    /// A read-write connection, to change the rows (foreign keys not enforced: tests
    /// break them on purpose).
    pub fn connection(&self) -> Connection {
        let connection = Connection::open(self.db_path()).unwrap();
        connection
            .execute_batch("PRAGMA foreign_keys = OFF")
            .unwrap();
        connection
    }

    pub fn descriptor(&self) -> Descriptor {
        Descriptor::load(&self.dir.path().join("site.toml")).unwrap()
    }

    /// Rewrites the descriptor: `edit` changes its text.
    pub fn edit_descriptor(&self, edit: impl Fn(&str) -> String) {
        let path = self.dir.path().join("site.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(&text)).unwrap();
    }

    /// Exports `scope` into a new staging directory: its tables as encoded entries.
    pub fn export_entries(
        &self,
        scope: &Scope,
    ) -> Result<(tempfile::TempDir, ExportSummary), DbError> {
        let descriptor = self.descriptor();
        let staging = tempfile::tempdir().unwrap();
        let mut engine = connect(&descriptor)?;
        let summary = export(
            engine.as_mut(),
            &descriptor,
            scope,
            staging.path(),
            6,
            2,
            &NoProgress,
        )?;
        Ok((staging, summary))
    }

    /// Exports `scope` into a new staging directory, its tables written there as the
    /// archive holds them ([`write_tables`]).
    pub fn export(&self, scope: &Scope) -> Result<(tempfile::TempDir, ExportSummary), DbError> {
        let (staging, mut summary) = self.export_entries(scope)?;
        write_tables(staging.path(), &mut summary);
        Ok((staging, summary))
    }
}

/// Writes the archive of an export staged in `staging` (in memory, through the writer)
/// and copies its tables out as `staging/db/<table>.jsonl`, byte for byte.
pub fn write_tables(staging: &Path, summary: &mut ExportSummary) {
    let site = sitepack_writer::Site::open_database(staging, None, staging)
        .unwrap()
        .with_tables(std::mem::take(&mut summary.tables));
    let options = sitepack_writer::CreateOptions::new("full".parse().unwrap());
    let mut archive = Vec::new();
    sitepack_writer::write_archive(
        &site,
        &options,
        &mut archive,
        Path::new("export.zip"),
        &NoProgress,
    )
    .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).unwrap();
        let name = entry.name().unwrap().into_owned();
        let Some(table) = name.strip_prefix("site/db/") else {
            continue;
        };
        if table == "schema.json" {
            continue;
        }
        let mut out = std::fs::File::create(staging.join("db").join(table)).unwrap();
        std::io::copy(&mut entry, &mut out).unwrap();
    }
}

/// Every file under `root`, by relative path, with its bytes.
pub fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

/// The rows of a staged table file.
pub fn rows(staging: &Path, table: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(staging.join(format!("db/{table}.jsonl"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The values of `column` in a staged table, as JSON text.
pub fn column(staging: &Path, table: &str, column: &str) -> Vec<String> {
    rows(staging, table)
        .iter()
        .map(|row| row[column].to_string())
        .collect()
}

/// The smallest descriptor: tenant `northwind` of `fleet.db` by `org_id`.
pub const MINIMAL_DESCRIPTOR: &str = r#"
[site]
id = "northwind"
name = "Northwind"
url = "https://northwind.example"
[database]
url = "sqlite:fleet.db"
tenant_column = "org_id"
tenant = "northwind"
"#;
