//! Restoring a database archive into a real SQLite database.

mod restore_common;

use std::path::{Path, PathBuf};

use restore_common::{backup, nothing};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sitepack_db::restore::{ColumnChange, ColumnNote, RefusalKind};
use sitepack_db::sqlite::SqliteEngine;
use sitepack_db::{DbError, Descriptor, Mode, WriteEngine, apply_restore, plan_restore};

/// Tenants by a text column; a tenant table, a reference table, tenant tables with a
/// composite key, a linked table without the tenant column (two-column foreign key), and
/// a table the tenant rule does not reach.
const SCHEMA: &str = "
CREATE TABLE tenants (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE countries (iso TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE projects (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(code), title TEXT NOT NULL, country TEXT REFERENCES countries(iso), budget NUMERIC);
CREATE TABLE tasks (project_id INTEGER NOT NULL REFERENCES projects(id), seq INTEGER NOT NULL, tenant TEXT NOT NULL, done BOOLEAN NOT NULL DEFAULT 0, PRIMARY KEY (project_id, seq));
CREATE TABLE task_notes (project_id INTEGER NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL, body TEXT, PRIMARY KEY (project_id, seq, n), FOREIGN KEY (project_id, seq) REFERENCES tasks(project_id, seq));
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
";

const ROWS: &str = "
INSERT INTO tenants VALUES ('acme', 'Acme'), ('globex', 'Globex');
INSERT INTO countries VALUES ('DE', 'Germany'), ('FR', 'France'), ('IT', 'Italy');
INSERT INTO projects VALUES (1, 'acme', 'Alpha', 'DE', 1200.5), (2, 'acme', 'Beta', 'FR', NULL), (3, 'globex', 'Gamma', 'IT', 7);
INSERT INTO tasks VALUES (1, 1, 'acme', 1), (1, 2, 'acme', 0), (2, 1, 'acme', 0), (3, 1, 'globex', 1);
INSERT INTO task_notes VALUES (1, 1, 1, 'first'), (1, 1, 2, 'second'), (2, 1, 1, NULL), (3, 1, 1, 'globex note');
INSERT INTO audit VALUES (1, 'created');
";

const TABLES: &[&str] = &[
    "tenants",
    "countries",
    "projects",
    "tasks",
    "task_notes",
    "audit",
];

fn descriptor_text(tenant: &str) -> String {
    format!(
        "[site]\nid = \"{tenant}\"\nname = \"{tenant}\"\nurl = \"https://{tenant}.example\"\n[database]\nurl = \"sqlite:app.db\"\ntenant_column = \"tenant\"\ntenant = \"{tenant}\"\ntenant_table = \"tenants\"\n"
    )
}

/// A directory with `app.db` (made by `schema` and `rows`) and `site.toml` (tenant
/// `tenant`).
struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    fn new(schema: &str, rows: &str, tenant: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let connection = Connection::open(dir.path().join("app.db")).unwrap();
        connection.execute_batch(schema).unwrap();
        connection.execute_batch(rows).unwrap();
        std::fs::write(dir.path().join("site.toml"), descriptor_text(tenant)).unwrap();
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("app.db")
    }

    fn descriptor(&self) -> Descriptor {
        Descriptor::load(&self.dir.path().join("site.toml")).unwrap()
    }

    fn sql(&self, sql: &str) {
        Connection::open(self.path())
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    fn writer(&self) -> SqliteEngine {
        SqliteEngine::open_writable(&self.path()).unwrap()
    }

    /// Every row `select` returns, each column as its storage class and value.
    fn dump(&self, select: &str) -> Vec<String> {
        let connection = Connection::open(self.path()).unwrap();
        let mut statement = connection.prepare(select).unwrap();
        let width = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..width)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Null => "NULL".to_owned(),
                    ValueRef::Integer(n) => format!("int:{n}"),
                    ValueRef::Real(f) => format!("real:{f:?}"),
                    ValueRef::Text(t) => format!("text:{}", String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => format!("blob:{b:02x?}"),
                })
                .collect();
            out.push(cells.join("|"));
        }
        out
    }

    /// A tenant's rows, table by table (the tenant table's, the tenant tables', the
    /// linked table's through its parent).
    fn tenant_rows(&self, tenant: &str) -> Vec<Vec<String>> {
        vec![
            self.dump(&format!("SELECT * FROM tenants WHERE code = '{tenant}'")),
            self.dump(&format!("SELECT * FROM projects WHERE tenant = '{tenant}' ORDER BY id")),
            self.dump(&format!("SELECT * FROM tasks WHERE tenant = '{tenant}' ORDER BY 1, 2")),
            self.dump(&format!(
                "SELECT n.* FROM task_notes n JOIN tasks t USING (project_id, seq) WHERE t.tenant = '{tenant}' ORDER BY 1, 2, 3"
            )),
        ]
    }

    /// Every row of every table.
    fn everything(&self) -> Vec<Vec<String>> {
        TABLES
            .iter()
            .map(|t| self.dump(&format!("SELECT * FROM {t} ORDER BY 1, 2")))
            .collect()
    }
}

/// Damages acme: a row deleted, one changed, rows added (in a tenant and a linked table).
const DAMAGE: &str = "
PRAGMA foreign_keys = ON;
DELETE FROM task_notes WHERE project_id = 1 AND seq = 1 AND n = 2;
UPDATE projects SET title = 'Alpha (edited)', budget = 1 WHERE id = 1;
INSERT INTO projects VALUES (50, 'acme', 'New since the backup', NULL, NULL);
INSERT INTO tasks VALUES (50, 1, 'acme', 0);
INSERT INTO task_notes VALUES (50, 1, 1, 'added');
";

fn archive_of(db: &Db, dir: &Path) -> sitepack_reader::Archive {
    backup(&db.descriptor(), "full", &dir.join("acme.zip"))
}

#[test]
fn replace_brings_back_the_tenant_and_leaves_the_other_alone() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    let archived = db.tenant_rows("acme");
    db.sql(DAMAGE);
    assert_ne!(db.tenant_rows("acme"), archived);
    let globex = db.tenant_rows("globex");
    let others = [
        db.dump("SELECT * FROM countries ORDER BY 1"),
        db.dump("SELECT * FROM audit ORDER BY 1"),
    ];

    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let projects = plan.table("projects").unwrap();
    assert_eq!((projects.archive_rows, projects.target_rows), (2, Some(3)));
    assert_eq!(plan.table("task_notes").unwrap().target_rows, Some(3));
    assert_eq!(plan.table("countries").unwrap().target_rows, None);
    // The plan serializes, for --json.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["tables"][0]["name"], "countries");
    assert_eq!(json["tables"][0]["role"], "reference");
    assert_eq!(json["mode"], "replace");

    let mut hook_ran = false;
    let summary = apply_restore(
        &mut engine,
        &db.descriptor(),
        &plan,
        &archive,
        &mut |engine: &mut dyn WriteEngine| {
            hook_ran = true;
            // Inside the same transaction: a marker the caller writes.
            engine.execute(
                "marking",
                "INSERT INTO audit (what) VALUES (?1)",
                &[sitepack_db::SqlValue::Text("restored".into())],
            )?;
            Ok(())
        },
    )
    .unwrap();
    drop(engine);
    assert!(hook_ran);
    assert_eq!(db.tenant_rows("acme"), archived);
    assert_eq!(db.tenant_rows("globex"), globex);
    assert_eq!(db.dump("SELECT * FROM countries ORDER BY 1"), others[0]);
    assert_eq!(
        db.dump("SELECT what FROM audit ORDER BY 1"),
        ["text:created", "text:restored"]
    );
    assert_eq!(summary.written, 1 + 2 + 3 + 3);
    assert_eq!(summary.deleted, 1 + 3 + 4 + 3);
    let notes = summary
        .tables
        .iter()
        .find(|t| t.table == "task_notes")
        .unwrap();
    assert_eq!((notes.deleted, notes.written), (3, 3));
    // The foreign keys hold (they were on throughout).
    assert!(db.dump("PRAGMA foreign_key_check").is_empty());
}

#[test]
fn merge_keeps_the_rows_the_archive_lacks() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    let archived = db.tenant_rows("acme");
    db.sql(DAMAGE);
    let globex = db.tenant_rows("globex");
    // As the command will: the descriptor's database, opened to write.
    let mut engine = sitepack_db::connect_writable(&db.descriptor()).unwrap();
    let plan = plan_restore(engine.as_mut(), &db.descriptor(), &archive, Mode::Merge).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    apply_restore(
        engine.as_mut(),
        &db.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    assert_eq!(
        db.dump("SELECT id, title, budget FROM projects WHERE tenant = 'acme' ORDER BY id"),
        [
            "int:1|text:Alpha|real:1200.5",
            "int:2|text:Beta|NULL",
            "int:50|text:New since the backup|NULL"
        ]
    );
    let now = db.tenant_rows("acme");
    // The deleted note is back, the added one stays.
    assert!(now[3].contains(&"int:1|int:1|int:2|text:second".to_owned()));
    assert!(now[3].contains(&"int:50|int:1|int:1|text:added".to_owned()));
    for (table, rows) in archived.iter().enumerate() {
        for row in rows {
            assert!(now[table].contains(row), "{row}");
        }
    }
    assert_eq!(db.tenant_rows("globex"), globex);
}

#[test]
fn a_merge_never_takes_over_another_tenants_row() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    // Project 2 is now globex's (its tasks and notes gone with it).
    db.sql("DELETE FROM task_notes WHERE project_id = 2; DELETE FROM tasks WHERE project_id = 2; UPDATE projects SET tenant = 'globex' WHERE id = 2;");
    let before = db.everything();
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Merge).unwrap();
    let error =
        apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("table \"projects\", row id=2"),
        "{message}"
    );
    assert!(message.contains("another tenant"), "{message}");
    drop(engine);
    assert_eq!(db.everything(), before);
}

/// The target of the refusals: a column added NOT NULL without default, a dropped
/// table, a reference row missing, a type that cannot hold the values.
const CHANGED_SCHEMA: &str = "
CREATE TABLE tenants (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE countries (iso TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE projects (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(code), title TEXT NOT NULL, country TEXT REFERENCES countries(iso), budget NUMERIC, owner TEXT NOT NULL, color TEXT);
CREATE TABLE tasks (project_id INTEGER NOT NULL REFERENCES projects(id), seq INTEGER NOT NULL, tenant TEXT NOT NULL, done TEXT NOT NULL DEFAULT 'no', PRIMARY KEY (project_id, seq));
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
";

#[test]
fn refusals_are_all_listed_and_change_nothing() {
    let source = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path());
    // The target belongs to globex's site, and its schema moved on.
    let target = Db::new(
        CHANGED_SCHEMA,
        "INSERT INTO tenants VALUES ('acme', 'Acme'), ('globex', 'Globex');
         INSERT INTO countries VALUES ('DE', 'Germany');
         INSERT INTO projects VALUES (9, 'acme', 'Kept', 'DE', NULL, 'ann', NULL);
         INSERT INTO audit VALUES (1, 'created');",
        "globex",
    );
    let before = target.everything_of(&["tenants", "countries", "projects", "tasks", "audit"]);
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    let kinds: Vec<(RefusalKind, Option<&str>, Option<&str>)> = plan
        .refusals
        .iter()
        .map(|r| (r.kind, r.table.as_deref(), r.column.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            (RefusalKind::Tenant, None, None),
            (RefusalKind::MissingReference, Some("countries"), None),
            (RefusalKind::MissingColumn, Some("projects"), Some("owner")),
            (RefusalKind::Type, Some("tasks"), Some("done")),
            (RefusalKind::MissingTable, Some("task_notes"), None),
        ],
        "{:#?}",
        plan.refusals
    );
    let missing = &plan.refusals[1];
    assert_eq!(missing.row.as_deref(), Some("iso=\"FR\""));
    assert!(
        missing.message.contains("create these first"),
        "{}",
        missing.message
    );
    // The fine differences are noted.
    assert!(
        plan.table("projects")
            .unwrap()
            .columns
            .contains(&ColumnNote {
                column: "color".into(),
                change: ColumnChange::Defaulted
            })
    );
    let error = apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap_err();
    let DbError::RestoreRefused { reasons } = &error else {
        panic!("{error}");
    };
    assert_eq!(reasons.len(), 5);
    let message = error.to_string();
    assert!(message.contains("tenant \"acme\""), "{message}");
    assert!(message.contains("\"owner\""), "{message}");
    assert!(message.contains("table \"task_notes\""), "{message}");
    drop(engine);
    assert_eq!(
        target.everything_of(&["tenants", "countries", "projects", "tasks", "audit"]),
        before
    );
}

impl Db {
    fn without_tenant_table(&self) {
        let path = self.dir.path().join("site.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("tenant_table = \"tenants\"\n", "")).unwrap();
    }

    fn everything_of(&self, tables: &[&str]) -> Vec<Vec<String>> {
        tables
            .iter()
            .map(|t| self.dump(&format!("SELECT * FROM {t} ORDER BY 1, 2")))
            .collect()
    }
}

#[test]
fn defaulted_and_discarded_columns_restore() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    db.sql("ALTER TABLE projects ADD COLUMN color TEXT DEFAULT 'blue'; ALTER TABLE projects DROP COLUMN budget; UPDATE projects SET title = 'x';");
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(
        plan.table("projects").unwrap().columns,
        [
            ColumnNote {
                column: "budget".into(),
                change: ColumnChange::Discarded
            },
            ColumnNote {
                column: "color".into(),
                change: ColumnChange::Defaulted
            },
        ]
    );
    apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap();
    drop(engine);
    assert_eq!(
        db.dump("SELECT id, title, color FROM projects ORDER BY id"),
        [
            "int:1|text:Alpha|text:blue",
            "int:2|text:Beta|text:blue",
            "int:3|text:x|text:blue"
        ]
    );
}

#[test]
fn a_row_the_target_refuses_rolls_everything_back() {
    let source = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path());
    // The target has a CHECK the source did not: project "Beta" breaks it.
    let target = Db::new(
        &SCHEMA.replace(
            "budget NUMERIC)",
            "budget NUMERIC, CHECK (title <> 'Beta'))",
        ),
        &ROWS.replace("'Beta'", "'Beta two'"),
        "acme",
    );
    let before = target.everything();
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let error = apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("table \"projects\", row id=2:"),
        "{message}"
    );
    assert!(message.contains("CHECK constraint failed"), "{message}");
    assert!(message.contains("rolled back"), "{message}");
    drop(engine);
    assert_eq!(target.everything(), before);

    // The caller's hook failing rolls back as well.
    let db = Db::new(SCHEMA, ROWS, "acme");
    let archive = backup(&db.descriptor(), "full", &out.path().join("again.zip"));
    db.sql(DAMAGE);
    let before = db.everything();
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    let error = apply_restore(
        &mut engine,
        &db.descriptor(),
        &plan,
        &archive,
        &mut |_: &mut dyn WriteEngine| {
            Err(DbError::Plan {
                problem: "the snapshot could not be written".into(),
            })
        },
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "the snapshot could not be written");
    drop(engine);
    assert_eq!(db.everything(), before);
}

/// Every SQLite type the format writes.
const SAMPLES: &str = "
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    n BIGINT,
    t NVARCHAR(20),
    b BLOB,
    f DOUBLE PRECISION,
    d DECIMAL(12,2),
    flag BOOLEAN,
    day DATE,
    at DATETIME,
    clock TIME,
    doc JSON,
    uid UUID
);";

#[test]
fn every_value_type_round_trips_into_an_empty_database() {
    let source = Db::new(
        SAMPLES,
        "INSERT INTO samples VALUES
           (1, 'acme', -9223372036854775808, 'Zoë ✓ \"quoted\" \\ back', X'00FF10', 0.1, 12.5, 1, '2024-02-29', '2024-02-29 13:45:00', '13:45:00.5', '{\"b\": 1.10, \"a\": [12345678901234567890, null]}', '0f8fad5b-d9cb-469f-a165-70867728950e'),
           (2, 'acme', 9223372036854775807, '', X'', 9e999, 'NaN', 0, 'not a date', 'whenever', '25:99', '[100, {\"k\": \"v\"}]', NULL),
           (3, 'acme', 0, 'x', X'FF', -9e999, -7.25, NULL, NULL, NULL, NULL, 7, NULL),
           (4, 'acme', NULL, NULL, NULL, 1e300, 3, NULL, NULL, NULL, NULL, 2.5, NULL),
           (5, 'acme', 1, NULL, NULL, -0.0, 0.30000000000000004, NULL, NULL, NULL, NULL, 'false', NULL),
           (6, 'acme', 2, NULL, NULL, 3, 123456789, NULL, NULL, NULL, NULL, '\"text\"', NULL),
           (7, 'other', 3, 'not acme', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
        "acme",
    );
    source.without_tenant_table();
    let out = tempfile::tempdir().unwrap();
    let archive = backup(
        &source.descriptor(),
        "full",
        &out.path().join("samples.zip"),
    );
    let target = Db::new(SAMPLES, "", "acme");
    target.without_tenant_table();
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(plan.table("samples").unwrap().target_rows, Some(0));
    apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    // JSON comes back as the same JSON value (its text as a JSON writer writes it: the
    // source's spaces are not part of the value), every other column byte for byte.
    let select = "SELECT id, tenant, n, t, b, f, d, flag, day, at, clock, uid, json_extract(doc, '$') FROM samples WHERE tenant = 'acme' ORDER BY id";
    let expected = source.dump(select);
    assert_eq!(expected.len(), 6);
    assert_eq!(target.dump(select), expected);
    // By type too.
    let types = "SELECT typeof(n), typeof(b), typeof(f), typeof(d), typeof(flag), typeof(doc) FROM samples ORDER BY id";
    assert_eq!(target.dump(types), source.dump(&format!("{types} LIMIT 6")));
}

#[test]
fn a_table_scope_touches_only_its_table() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = backup(
        &db.descriptor(),
        "table:tasks",
        &out.path().join("tasks.zip"),
    );
    db.sql("PRAGMA foreign_keys = ON; UPDATE tasks SET done = 1 WHERE tenant = 'acme'; UPDATE projects SET title = 'changed' WHERE id = 1;");
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let written: Vec<&str> = plan
        .tables
        .iter()
        .filter(|t| t.target_rows.is_some())
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(written, ["tasks"]);
    apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap();
    drop(engine);
    assert_eq!(
        db.dump("SELECT project_id, seq, done FROM tasks WHERE tenant = 'acme' ORDER BY 1, 2"),
        [
            "int:1|int:1|int:1",
            "int:1|int:2|int:0",
            "int:2|int:1|int:0"
        ]
    );
    assert_eq!(
        db.dump("SELECT title FROM projects WHERE id = 1"),
        ["text:changed"]
    );
}

#[test]
fn a_replace_that_would_cascade_outside_the_archive_is_refused() {
    let db = Db::new(
        &format!(
            "{SCHEMA}
             CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE);"
        ),
        &format!("{ROWS} INSERT INTO bookmarks VALUES (1, 1), (2, 3);"),
        "acme",
    );
    let path = db.dir.path().join("site.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}exclude = [\"bookmarks\"]\n")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert_eq!(plan.refusals.len(), 1, "{:?}", plan.refusals);
    let refusal = &plan.refusals[0];
    assert_eq!(refusal.kind, RefusalKind::Cascade);
    assert_eq!(refusal.table.as_deref(), Some("bookmarks"));
    assert!(
        refusal
            .message
            .contains("1 of its rows reference the tenant's rows of \"projects\""),
        "{}",
        refusal.message
    );
    // A merge deletes nothing: it may; but its revert (a replace) would be refused, and
    // the plan says so before it is made.
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Merge).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let blocked: Vec<Option<&str>> = plan
        .revert_refused
        .iter()
        .map(|r| r.table.as_deref())
        .collect();
    assert_eq!(blocked, [Some("bookmarks")]);
    apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap();
    drop(engine);
    assert_eq!(
        db.dump("SELECT * FROM bookmarks ORDER BY id"),
        ["int:1|int:1", "int:2|int:3"]
    );
}

#[test]
fn a_row_outside_the_archive_referencing_a_deleted_row_stops_the_replace() {
    let db = Db::new(
        &format!(
            "{SCHEMA}
             CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES projects(id));"
        ),
        ROWS,
        "acme",
    );
    let path = db.dir.path().join("site.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}exclude = [\"bookmarks\"]\n")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    // A project made after the backup, and a bookmark (outside the archive) on it.
    db.sql(
        "PRAGMA foreign_keys = ON;
         INSERT INTO projects VALUES (50, 'acme', 'New', NULL, NULL);
         INSERT INTO bookmarks VALUES (1, 50), (2, 1);",
    );
    let before = db.everything_of(&["projects", "tasks", "task_notes", "bookmarks"]);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let error = apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "table \"bookmarks\", row rowid=1: references a row of \"projects\" that does not exist once the archive's rows are written (a FOREIGN KEY constraint); create the row, or restore an archive that holds it; nothing was restored (rolled back)"
    );
    drop(engine);
    assert_eq!(
        db.everything_of(&["projects", "tasks", "task_notes", "bookmarks"]),
        before
    );
}

/// A caller's hooks: reads the rows about to change before, and the restored ones after.
#[derive(Default)]
struct Snapshot {
    before: Vec<(String, Vec<String>)>,
    committed_rows: u64,
}

impl sitepack_db::restore::RestoreHooks for Snapshot {
    fn before_changes(
        &mut self,
        engine: &mut dyn WriteEngine,
        tables: &[sitepack_db::restore::ScopeTable],
    ) -> Result<(), DbError> {
        for table in tables {
            let mut rows = Vec::new();
            engine.for_each_row(&table.query, &table.columns, &mut |values| {
                rows.push(serde_json::Value::Array(values).to_string());
                Ok(())
            })?;
            self.before.push((table.table.clone(), rows));
        }
        Ok(())
    }

    fn before_commit(
        &mut self,
        _: &mut dyn WriteEngine,
        summary: &sitepack_db::RestoreSummary,
    ) -> Result<(), DbError> {
        self.committed_rows = summary.written;
        Ok(())
    }
}

#[test]
fn the_hooks_see_the_rows_before_and_after_in_the_same_transaction() {
    let db = Db::new(SCHEMA, ROWS, "acme");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path());
    db.sql(DAMAGE);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    let mut snapshot = Snapshot::default();
    apply_restore(
        &mut engine,
        &db.descriptor(),
        &plan,
        &archive,
        &mut snapshot,
    )
    .unwrap();
    let tables: Vec<&str> = snapshot.before.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tables, ["tenants", "projects", "tasks", "task_notes"]);
    // The damaged state, as the replace found it.
    assert_eq!(
        snapshot.before[1].1,
        [
            r#"[1,"acme","Alpha (edited)","DE","1"]"#,
            r#"[2,"acme","Beta","FR",null]"#,
            r#"[50,"acme","New since the backup",null,null]"#
        ]
    );
    assert_eq!(snapshot.committed_rows, 9);
}

#[test]
fn a_column_redacted_as_a_secret_is_null_after_a_replace_and_kept_by_a_merge() {
    let schema = format!(
        "{SCHEMA}
         CREATE TABLE mailers (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, host TEXT NOT NULL, smtp_password TEXT);"
    );
    let rows = format!(
        "{ROWS} INSERT INTO mailers VALUES (1, 'acme', 'mail.acme.example', 'hunter2-but-longer'), (2, 'acme', 'backup.acme.example', NULL);"
    );
    let out = tempfile::tempdir().unwrap();
    for (mode, expected) in [
        (Mode::Replace, "int:1|text:mail.acme.example|NULL"),
        (
            Mode::Merge,
            "int:1|text:mail.acme.example|text:hunter2-but-longer",
        ),
    ] {
        let db = Db::new(&schema, &rows, "acme");
        let archive = backup(
            &db.descriptor(),
            "full",
            &out.path().join(format!("{mode:?}.zip")),
        );
        let mut engine = db.writer();
        let plan = plan_restore(&mut engine, &db.descriptor(), &archive, mode).unwrap();
        assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
        assert_eq!(
            plan.table("mailers").unwrap().columns,
            [ColumnNote {
                column: "smtp_password".into(),
                change: ColumnChange::Redacted
            }]
        );
        apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap();
        drop(engine);
        assert_eq!(
            db.dump("SELECT id, host, smtp_password FROM mailers ORDER BY id"),
            [expected, "int:2|text:backup.acme.example|NULL"],
            "{mode:?}"
        );
    }
}
