//! Restoring a database archive into a real PostgreSQL database: every test makes its
//! own databases and drops them.

mod pg_server;
mod restore_common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use pg_server::{admin_client, admin_url};
use postgres::{Client, NoTls};
use restore_common::{backup, nothing};
use sitepack_db::postgres::PostgresEngine;
use sitepack_db::restore::{ColumnChange, ColumnNote, RefusalKind};
use sitepack_db::{
    DbError, Descriptor, Mode, RestoreSummary, WriteEngine, apply_restore, plan_restore,
};

/// A database of one test (with a descriptor in a temporary directory), dropped at the
/// end, passed or failed.
struct TestDb {
    name: String,
    dir: tempfile::TempDir,
}

impl TestDb {
    fn new(schema: &str, rows: &str, tenant: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sitepack_r_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin_client()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let db = Self {
            name,
            dir: tempfile::tempdir().unwrap(),
        };
        db.sql(schema);
        db.sql(rows);
        db.set_tenant(tenant, true);
        db
    }

    fn url(&self) -> String {
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&self.name);
        url.to_string()
    }

    fn set_tenant(&self, tenant: &str, tenant_table: bool) {
        let table = if tenant_table {
            "tenant_table = \"orgs\"\n"
        } else {
            ""
        };
        std::fs::write(
            self.dir.path().join("site.toml"),
            format!(
                "[site]\nid = \"org{tenant}\"\nname = \"Org {tenant}\"\nurl = \"https://org{tenant}.example\"\n[database]\nurl = \"{}\"\ntenant_column = \"org_id\"\ntenant = \"{tenant}\"\n{table}",
                self.url()
            ),
        )
        .unwrap();
    }

    /// Plans and applies a replace of `archive` (with no hooks), refusing on a refusal.
    fn replace(&self, archive: &sitepack_reader::Archive) -> Result<RestoreSummary, DbError> {
        let mut engine = self.writer();
        let plan = plan_restore(&mut engine, &self.descriptor(), archive, Mode::Replace)?;
        apply_restore(
            &mut engine,
            &self.descriptor(),
            &plan,
            archive,
            &mut nothing,
        )
    }

    fn descriptor(&self) -> Descriptor {
        Descriptor::load(&self.dir.path().join("site.toml")).unwrap()
    }

    fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).unwrap()
    }

    fn sql(&self, sql: &str) {
        self.client().batch_execute(sql).unwrap();
    }

    fn writer(&self) -> PostgresEngine {
        PostgresEngine::connect(&self.url(), None, "public").unwrap()
    }

    /// Each row `select` returns, as PostgreSQL writes its first column as text.
    fn dump(&self, select: &str) -> Vec<String> {
        self.client()
            .query(select, &[])
            .unwrap()
            .iter()
            .map(|row| {
                row.get::<_, Option<String>>(0)
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect()
    }

    /// A tenant's rows, table by table, as row literals.
    fn tenant_rows(&self, org: i32) -> Vec<Vec<String>> {
        vec![
            self.dump(&format!("SELECT o::text FROM orgs o WHERE id = {org}")),
            self.dump(&format!("SELECT p::text FROM projects p WHERE org_id = {org} ORDER BY id")),
            self.dump(&format!("SELECT t::text FROM tasks t WHERE org_id = {org} ORDER BY 1")),
            self.dump(&format!(
                "SELECT n::text FROM task_notes n JOIN tasks t USING (project_id, seq) WHERE t.org_id = {org} ORDER BY n.id"
            )),
        ]
    }

    /// Every row of `tables`.
    fn everything(&self, tables: &[&str]) -> Vec<Vec<String>> {
        tables
            .iter()
            .map(|t| self.dump(&format!("SELECT x::text FROM {t} x ORDER BY x::text")))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&admin_url(), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Tenants by an integer column: a tenant table, a reference table, a serial key, a
/// composite key, a linked table without the tenant column (two-column foreign key,
/// identity key), and a table the tenant rule does not reach.
const SCHEMA: &str = "
CREATE TABLE orgs (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (id serial PRIMARY KEY, org_id integer NOT NULL REFERENCES orgs(id), title text NOT NULL, currency text REFERENCES currencies(code), budget numeric(12,2), title_length integer GENERATED ALWAYS AS (length(title)) STORED);
CREATE TABLE tasks (project_id integer NOT NULL REFERENCES projects(id), seq integer NOT NULL, org_id integer NOT NULL REFERENCES orgs(id), done boolean NOT NULL DEFAULT false, tags text[], PRIMARY KEY (project_id, seq));
CREATE TABLE task_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project_id integer NOT NULL, seq integer NOT NULL, body text, FOREIGN KEY (project_id, seq) REFERENCES tasks(project_id, seq) DEFERRABLE);
CREATE TABLE audit (id serial PRIMARY KEY, what text);
";

const TABLES: &[&str] = &[
    "orgs",
    "currencies",
    "projects",
    "tasks",
    "task_notes",
    "audit",
];

const ROWS: &str = "
INSERT INTO orgs VALUES (1, 'Acme'), (2, 'Globex');
INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar'), ('GBP', 'Pound');
INSERT INTO projects (org_id, title, currency, budget) VALUES (1, 'Alpha', 'EUR', 1200.50), (1, 'Beta', 'USD', NULL), (2, 'Gamma', 'GBP', 7);
INSERT INTO tasks VALUES (1, 1, 1, true, '{urgent,\"a \\\"b\\\"\"}'), (1, 2, 1, false, NULL), (2, 1, 1, false, '{}'), (3, 1, 2, true, '{x}');
INSERT INTO task_notes (project_id, seq, body) VALUES (1, 1, 'first'), (1, 1, 'second'), (2, 1, NULL), (3, 1, 'globex note');
INSERT INTO audit (what) VALUES ('created');
";

const DAMAGE: &str = "
DELETE FROM task_notes WHERE body = 'second';
UPDATE projects SET title = 'Alpha (edited)', budget = 1 WHERE id = 1;
UPDATE tasks SET tags = '{changed}' WHERE project_id = 1 AND seq = 1;
INSERT INTO projects VALUES (50, 1, 'New since the backup', NULL, NULL, DEFAULT);
INSERT INTO tasks VALUES (50, 1, 1, false, NULL);
INSERT INTO task_notes (project_id, seq, body) VALUES (50, 1, 'added');
";

fn archive_of(db: &TestDb, dir: &Path, name: &str) -> sitepack_reader::Archive {
    backup(&db.descriptor(), "full", &dir.join(name))
}

#[test]
fn replace_brings_back_the_tenant_and_leaves_the_other_alone() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    let archived = db.tenant_rows(1);
    db.sql(DAMAGE);
    assert_ne!(db.tenant_rows(1), archived);
    let globex = db.tenant_rows(2);
    let untouched = db.everything(&["currencies", "audit"]);
    // The transaction that last wrote each of the tenant's rows the damage left alone.
    let last_written = "SELECT xmin::text FROM projects WHERE id = 2
        UNION ALL SELECT xmin::text FROM tasks WHERE (project_id, seq) IN ((1, 2), (2, 1))
        UNION ALL SELECT xmin::text FROM orgs WHERE id = 1";
    let before = db.dump(last_written);

    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let projects = plan.table("projects").unwrap();
    assert_eq!((projects.archive_rows, projects.target_rows), (2, Some(3)));
    let mut inside = Vec::new();
    let summary = apply_restore(
        &mut engine,
        &db.descriptor(),
        &plan,
        &archive,
        &mut |engine: &mut dyn WriteEngine| {
            // The hook sees the restored rows, in the same transaction.
            inside.push(engine.exists(
                "looking",
                "SELECT 1 FROM projects WHERE id = $1 AND title = $2",
                &[
                    sitepack_db::SqlValue::Integer(1),
                    sitepack_db::SqlValue::Text("Alpha".into()),
                ],
            )?);
            Ok(())
        },
    )
    .unwrap();
    drop(engine);
    assert_eq!(inside, [true]);
    assert_eq!(db.tenant_rows(1), archived);
    assert_eq!(db.tenant_rows(2), globex);
    assert_eq!(db.everything(&["currencies", "audit"]), untouched);
    // Only what the damage changed was written: project 1 and task (1, 1) updated, the
    // note "second" inserted; project 50, its task and note deleted. The other rows
    // were already as archived, and were not written again.
    let counts: Vec<(&str, u64, u64, u64)> = summary
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.written, t.deleted, t.unchanged))
        .collect();
    assert_eq!(
        counts,
        [
            ("orgs", 0, 0, 1),
            ("projects", 1, 1, 1),
            ("tasks", 1, 1, 2),
            ("task_notes", 1, 1, 2)
        ]
    );
    assert_eq!(
        (summary.written, summary.deleted, summary.unchanged),
        (3, 3, 6)
    );
    assert_eq!(db.dump(last_written), before);
    // The sequences were ahead of the restored keys: left where they were.
    assert!(summary.sequences.is_empty(), "{:?}", summary.sequences);
    db.sql("INSERT INTO projects (org_id, title) VALUES (1, 'after')");
}

#[test]
fn merge_keeps_the_rows_the_archive_lacks() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    let archived = db.tenant_rows(1);
    db.sql(DAMAGE);
    let globex = db.tenant_rows(2);
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
    let now = db.tenant_rows(1);
    for (table, rows) in archived.iter().enumerate() {
        for row in rows {
            assert!(now[table].contains(row), "{row} in {:?}", now[table]);
        }
    }
    assert!(
        now[1].contains(&"(50,1,\"New since the backup\",,,20)".to_owned()),
        "{:?}",
        now[1]
    );
    assert_eq!(now[3].len(), 4, "{:?}", now[3]);
    assert_eq!(db.tenant_rows(2), globex);
}

#[test]
fn refusals_are_all_listed_and_change_nothing() {
    let source = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path(), "acme.zip");
    // Globex's site, whose schema moved on: projects.owner NOT NULL without default,
    // tasks.done now an integer, task_notes dropped, budget dropped, a currency missing.
    let target = TestDb::new(
        &format!(
            "{SCHEMA}
             DROP TABLE task_notes;
             ALTER TABLE projects ADD COLUMN owner text NOT NULL, ADD COLUMN color text, DROP COLUMN budget;
             ALTER TABLE tasks ALTER COLUMN done DROP DEFAULT, ALTER COLUMN done TYPE integer USING done::integer;"
        ),
        "INSERT INTO orgs VALUES (1, 'Acme'), (2, 'Globex');
         INSERT INTO currencies VALUES ('EUR', 'Euro'), ('GBP', 'Pound');
         INSERT INTO projects (org_id, title, currency, owner) VALUES (1, 'Kept', 'EUR', 'ann');",
        "2",
    );
    let tables = ["orgs", "currencies", "projects", "tasks", "audit"];
    let before = target.everything(&tables);
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
            (RefusalKind::MissingReference, Some("currencies"), None),
            (RefusalKind::MissingColumn, Some("projects"), Some("owner")),
            (RefusalKind::Type, Some("tasks"), Some("done")),
            (RefusalKind::MissingTable, Some("task_notes"), None),
        ],
        "{:#?}",
        plan.refusals
    );
    assert_eq!(plan.refusals[1].row.as_deref(), Some("code=\"USD\""));
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
            // Computed by the database, never written.
            ColumnNote {
                column: "title_length".into(),
                change: ColumnChange::Generated
            },
        ]
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
    drop(engine);
    assert_eq!(target.everything(&tables), before);
}

#[test]
fn a_replace_never_reaches_another_tenants_rows_through_a_cascade_or_an_immediate_key() {
    // Globex's project hangs under one of Acme's by a cascading self-reference; an
    // excluded table references Acme by a key that is not DEFERRABLE.
    let db = TestDb::new(
        &format!(
            "{SCHEMA}
             ALTER TABLE projects ADD COLUMN parent_id integer REFERENCES projects(id) ON DELETE CASCADE;
             CREATE TABLE links (id serial PRIMARY KEY, org integer NOT NULL REFERENCES orgs(id));"
        ),
        ROWS,
        "1",
    );
    let descriptor = db.dir.path().join("site.toml");
    let text = std::fs::read_to_string(&descriptor).unwrap();
    std::fs::write(&descriptor, format!("{text}exclude = [\"links\"]\n")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    let tables = [
        "orgs",
        "currencies",
        "projects",
        "tasks",
        "task_notes",
        "audit",
        "links",
    ];
    let plan_of = |db: &TestDb| {
        plan_restore(&mut db.writer(), &db.descriptor(), &archive, Mode::Replace).unwrap()
    };
    // Without rows reaching them, neither key stops the replace.
    assert!(!plan_of(&db).is_refused(), "{:#?}", plan_of(&db).refusals);

    db.sql("UPDATE projects SET parent_id = 1 WHERE id = 3; INSERT INTO links (org) VALUES (1);");
    let before = db.everything(&tables);
    let plan = plan_of(&db);
    let found: Vec<(Option<&str>, &str)> = plan
        .refusals
        .iter()
        .map(|r| (r.table.as_deref(), r.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].0, Some("links"));
    assert!(found[0].1.contains("DEFERRABLE"), "{}", found[0].1);
    assert_eq!(found[1].0, Some("projects"));
    assert!(
        found[1]
            .1
            .contains("1 of its rows that are not the tenant's"),
        "{}",
        found[1].1
    );
    let mut engine = db.writer();
    let error =
        apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap_err();
    assert!(matches!(error, DbError::RestoreRefused { .. }), "{error}");
    drop(engine);
    assert_eq!(
        db.everything(&tables),
        before,
        "Globex's project is still there"
    );
}

#[test]
fn a_key_collision_is_named_without_the_values_of_the_key() {
    // Globex already has a project titled as one of Acme's, and titles are unique now.
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    db.sql("UPDATE projects SET title = 'Beta' WHERE id = 3; UPDATE projects SET title = 'Beta old' WHERE id = 2; CREATE UNIQUE INDEX projects_title ON projects (title);");
    let before = db.everything(TABLES);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    let error = apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing)
        .unwrap_err()
        .to_string();
    assert!(error.contains("projects_title"), "{error}");
    assert!(
        !error.contains("=(") && !error.contains("(Beta)"),
        "{error}"
    );
    drop(engine);
    assert_eq!(db.everything(TABLES), before);
}

#[test]
fn a_column_narrowed_since_the_backup_is_refused_before_it_rounds_a_value() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    // 1200.50 would become 1200.5 (numeric(12,1)); a wider integer is fine.
    db.sql("ALTER TABLE projects ALTER COLUMN budget TYPE numeric(12,1); ALTER TABLE tasks ALTER COLUMN seq TYPE bigint;");
    let plan = plan_restore(&mut db.writer(), &db.descriptor(), &archive, Mode::Replace).unwrap();
    let found: Vec<(RefusalKind, Option<&str>, Option<&str>)> = plan
        .refusals
        .iter()
        .map(|r| (r.kind, r.table.as_deref(), r.column.as_deref()))
        .collect();
    assert_eq!(
        found,
        [(RefusalKind::Type, Some("projects"), Some("budget"))],
        "{:#?}",
        plan.refusals
    );
    assert!(
        plan.refusals[0].message.contains("numeric(12,1)"),
        "{}",
        plan.refusals[0].message
    );
}

#[test]
fn a_row_the_target_refuses_rolls_everything_back() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    db.sql(DAMAGE);
    // A constraint only the target has (existing rows not checked): "Beta" breaks it.
    db.sql("UPDATE projects SET title = 'Beta two' WHERE id = 2; ALTER TABLE projects ADD CONSTRAINT no_beta CHECK (title <> 'Beta') NOT VALID;");
    let before = db.everything(TABLES);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let error =
        apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("table \"projects\", row id=2:"),
        "{message}"
    );
    assert!(message.contains("constraint \"no_beta\""), "{message}");
    // The row is named by its key; its values are not repeated.
    assert!(!message.contains("Failing row"), "{message}");
    // The connection is usable again, the database as it was.
    assert!(
        !engine
            .exists(
                "looking",
                "SELECT 1 FROM projects WHERE title = 'Alpha'",
                &[]
            )
            .unwrap()
    );
    drop(engine);
    assert_eq!(db.everything(TABLES), before);
}

#[test]
fn an_empty_database_gets_the_tenant_and_its_sequences_move_on() {
    let source = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path(), "acme.zip");
    let target = TestDb::new(
        SCHEMA,
        "INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar');",
        "1",
    );
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let summary = apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    assert_eq!(target.tenant_rows(1), source.tenant_rows(1));
    let moved: Vec<(&str, &str, i64)> = summary
        .sequences
        .iter()
        .map(|s| (s.table.as_str(), s.column.as_str(), s.value))
        .collect();
    assert_eq!(moved, [("projects", "id", 2), ("task_notes", "id", 3)]);
    // The application's next rows, without ids, get new keys.
    target.sql(
        "INSERT INTO projects (org_id, title) VALUES (1, 'next');
         INSERT INTO task_notes (project_id, seq, body) VALUES (1, 1, 'next');",
    );
    assert_eq!(target.dump("SELECT max(id)::text FROM projects"), ["3"]);
    assert_eq!(target.dump("SELECT max(id)::text FROM task_notes"), ["4"]);
}

/// Every PostgreSQL type the format writes, arrays included.
const SAMPLES: &str = "
CREATE TABLE samples (
  id int PRIMARY KEY, org_id int NOT NULL,
  i2 int2, i4 int4, i8 int8, num numeric, num_s numeric(12,3), f4 float4, f8 float8, flag bool,
  t text, vc varchar(10), ch char(3), \"by\" bytea, d date, tm time, ts timestamp, tstz timestamptz,
  j json, jb jsonb, u uuid,
  ai int4[], at text[], an numeric[], ab bytea[], ad date[], aj jsonb[], af float8[], ats timestamptz[]
);";

const SAMPLE_ROWS: &str = r#"
INSERT INTO samples VALUES
 (1, 1, -32768, 2147483647, -9223372036854775808, '123456789012345678901234567890.123456789', '-0.001', 0.1, 0.30000000000000004, true,
  'Zoë "q" \ back ✓', 'abc', 'ab', '\x00ff10', '2024-02-29', '24:00:00', '2024-02-29 13:45:00.123456', '2024-02-29 13:45:00+01',
  '{"b":1.10,"a":[12345678901234567890,null]}', '{"b": 1.10, "a": [1, null]}', '0f8fad5b-d9cb-469f-a165-70867728950e',
  '{1,NULL,3}', '{"a\"b",NULL,"c\\d","",NULL}', '{1.50,NaN}', '{"\\x00ff",NULL,"\\x"}', '{2024-01-01,infinity}', ARRAY['{"k":1}'::jsonb, NULL, '"s"'], '{NaN,Infinity,-Infinity,1.5}', '{2024-01-01 00:00:00+00,-infinity}'),
 (2, 1, 0, 0, 0, 'NaN', '0.000', 'Infinity', '-Infinity', false,
  '', '', '', '\x', 'infinity', '00:00:00', '-infinity', 'infinity',
  '[]', '{}', NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
 (3, 1, NULL, NULL, NULL, 'Infinity', NULL, 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL, '-infinity', NULL, 'infinity', '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 1, 1, 2, 3, '-0', '7', -0.0, 1e308, true, 'x', 'y', 'zzz', '\xdeadbeef', '0001-01-01', '23:59:59.999999', '9999-12-31 23:59:59.999999', '0001-01-01 00:00:00+00',
  '"just a string"', '12.500', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{-1}', '{"{}","NULL"}', '{-0.5}', '{"\\x01"}', '{0001-01-01}', '{"[1,2]"}', '{2.2250738585072014e-308}', NULL),
 (6, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, E'tab\there\nline\rreturn \\. \\N \\x', E'\n', E'\t', NULL, NULL, NULL, NULL, NULL,
  '{"k":"a\tb\nc"}', '{"k": "a\tb\nc"}', NULL, NULL, E'{"\t","\n\\\\"}', NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 2, 9, 9, 9, '9', '9', 9, 9, true, 'other tenant', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

#[test]
fn every_value_type_round_trips_into_an_empty_database() {
    let source = TestDb::new(SAMPLES, SAMPLE_ROWS, "1");
    source.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path(), "samples.zip");
    let target = TestDb::new(SAMPLES, "", "1");
    target.set_tenant("1", false);
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    let select = "SELECT s::text FROM samples s WHERE org_id = 1 ORDER BY id";
    let expected = source.dump(select);
    assert_eq!(expected.len(), 5);
    assert_eq!(target.dump(select), expected);
    // The other tenant's row was not in the archive.
    assert_eq!(target.dump("SELECT count(*)::text FROM samples"), ["5"]);
}

#[test]
fn a_merge_never_takes_over_another_tenants_linked_row() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    // Acme's note 2 is gone, and globex's note now has its key.
    db.sql(
        "DELETE FROM task_notes WHERE id = 2;
         INSERT INTO task_notes (id, project_id, seq, body) OVERRIDING SYSTEM VALUE VALUES (2, 3, 1, 'globex took 2');",
    );
    let before = db.everything(TABLES);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Merge).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    let error = apply_restore(&mut engine, &db.descriptor(), &plan, &archive, &mut nothing)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "table \"task_notes\", row id=2: its primary key belongs to a row of another tenant"
        ),
        "{error}"
    );
    drop(engine);
    assert_eq!(db.everything(TABLES), before);
}

#[test]
fn other_sessions_cannot_write_the_restored_tables_meanwhile() {
    let db = TestDb::new(SCHEMA, ROWS, "1");
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "acme.zip");
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Replace).unwrap();
    let mut attempts = Vec::new();
    apply_restore(
        &mut engine,
        &db.descriptor(),
        &plan,
        &archive,
        &mut |_: &mut dyn WriteEngine| {
            // The application, writing while the restore runs: it waits (here: gives up).
            let mut other = db.client();
            for sql in [
                "SET lock_timeout = '200ms'; INSERT INTO task_notes (project_id, seq, body) VALUES (3, 1, 'meanwhile')",
                "SET lock_timeout = '200ms'; INSERT INTO audit (what) VALUES ('meanwhile')",
            ] {
                attempts.push(other.batch_execute(sql).is_ok());
            }
            Ok(())
        },
    )
    .unwrap();
    drop(engine);
    // task_notes is restored (held); audit is not in the archive (free).
    assert_eq!(attempts, [false, true]);
}

#[test]
fn a_sqlite_archive_restores_into_postgresql_and_a_value_it_refuses_is_not_repeated() {
    let source = tempfile::tempdir().unwrap();
    let connection = rusqlite::Connection::open(source.path().join("app.db")).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL, day DATE, n NUMERIC);
             INSERT INTO events VALUES (1, 1, '2024-01-01', 12.5), (2, 1, 'secret-ish text', 3), (3, 2, NULL, NULL);",
        )
        .unwrap();
    drop(connection);
    std::fs::write(
        source.path().join("site.toml"),
        "[site]\nid = \"org1\"\nname = \"Org 1\"\nurl = \"https://org1.example\"\n[database]\nurl = \"sqlite:app.db\"\ntenant_column = \"org_id\"\ntenant = \"1\"\n",
    )
    .unwrap();
    let descriptor = Descriptor::load(&source.path().join("site.toml")).unwrap();
    let archive = backup(&descriptor, "full", &source.path().join("events.zip"));
    let target = TestDb::new(
        "CREATE TABLE events (id integer PRIMARY KEY, org_id integer NOT NULL, day date, n numeric);",
        "",
        "1",
    );
    target.set_tenant("1", false);
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(
        (plan.archive_engine, plan.engine),
        (
            sitepack_format::database::EngineKind::Sqlite,
            sitepack_format::database::EngineKind::Postgresql
        )
    );
    let error = apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("table \"events\", row id=2:"), "{error}");
    assert!(
        error.contains("invalid input syntax for type date"),
        "{error}"
    );
    assert!(!error.contains("secret-ish"), "{error}");
    drop(engine);
    assert_eq!(target.dump("SELECT count(*)::text FROM events"), ["0"]);

    // Without the row PostgreSQL refuses, the rest comes over.
    let connection = rusqlite::Connection::open(source.path().join("app.db")).unwrap();
    connection
        .execute_batch("DELETE FROM events WHERE id = 2")
        .unwrap();
    drop(connection);
    let archive = backup(&descriptor, "full", &source.path().join("events2.zip"));
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    assert_eq!(
        target.dump("SELECT e::text FROM events e ORDER BY id"),
        ["(1,1,2024-01-01,12.5)"]
    );
}

#[test]
fn rows_referencing_later_rows_of_their_own_table_restore() {
    // 600 people, each managed by one further on (beyond the first batch of 500): a
    // foreign key that is not DEFERRABLE, checked at each statement's end.
    let schema = "CREATE TABLE people (id integer PRIMARY KEY, org_id integer NOT NULL, manager_id integer REFERENCES people(id), name text NOT NULL);";
    let rows =
        "INSERT INTO people SELECT i, 1, NULL, 'person ' || i FROM generate_series(1, 600) AS i;
                UPDATE people SET manager_id = 601 - id WHERE id <> 300;
                INSERT INTO people VALUES (1000, 2, NULL, 'other tenant');";
    let source = TestDb::new(schema, rows, "1");
    source.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&source, out.path(), "people.zip");
    let target = TestDb::new(
        schema,
        "INSERT INTO people VALUES (1000, 2, NULL, 'other tenant');",
        "1",
    );
    target.set_tenant("1", false);
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    let select = "SELECT p::text FROM people p ORDER BY id";
    assert_eq!(target.dump(select), source.dump(select));

    // Replacing them again changes nothing: every row is already as archived.
    let mut engine = target.writer();
    let plan = plan_restore(&mut engine, &target.descriptor(), &archive, Mode::Replace).unwrap();
    let summary = apply_restore(
        &mut engine,
        &target.descriptor(),
        &plan,
        &archive,
        &mut nothing,
    )
    .unwrap();
    drop(engine);
    assert_eq!(
        (summary.deleted, summary.written, summary.unchanged),
        (0, 0, 600)
    );
    assert_eq!(target.dump(select), source.dump(select));
}

#[test]
fn a_replace_the_difference_cannot_make_deletes_and_inserts_instead() {
    // Two of the tenant's users swapped their unique e-mail addresses since the backup:
    // updating either row first collides with the other (the constraint is checked at
    // once), so the rows are deleted and inserted instead, with the same result.
    let schema = "CREATE TABLE users (id integer PRIMARY KEY, org_id integer NOT NULL, email text NOT NULL UNIQUE, name text);";
    let rows = "INSERT INTO users VALUES (1, 1, 'a@example.org', 'A'), (2, 1, 'b@example.org', 'B'), (3, 1, 'c@example.org', 'C'), (4, 2, 'z@example.org', 'other tenant');";
    let db = TestDb::new(schema, rows, "1");
    db.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "users.zip");
    let select = "SELECT u::text FROM users u ORDER BY id";
    let archived = db.dump(select);
    db.sql(
        "UPDATE users SET email = 'x' WHERE id = 1;
         UPDATE users SET email = 'a@example.org' WHERE id = 2;
         UPDATE users SET email = 'b@example.org' WHERE id = 1;
         INSERT INTO users VALUES (5, 1, 'new@example.org', 'added');",
    );
    let summary = db.replace(&archive).unwrap();
    assert_eq!(db.dump(select), archived);
    assert_eq!(
        (summary.deleted, summary.written, summary.unchanged),
        (4, 3, 0)
    );
}

#[test]
fn a_replace_never_updates_a_column_other_tenants_reference_and_a_merge_is_refused() {
    // Tenant 2's row references tenant 1's parent by its unique code, with an ON UPDATE
    // action: updating the code in place would carry to tenant 2's row.
    let schema = "CREATE TABLE parents (id integer PRIMARY KEY, org_id integer NOT NULL, code text UNIQUE);
        CREATE TABLE children (id integer PRIMARY KEY, org_id integer NOT NULL, pcode text REFERENCES parents(code) ON UPDATE SET NULL DEFERRABLE, note text);";
    let db = TestDb::new(schema, "INSERT INTO parents VALUES (1, 1, 'A');", "1");
    db.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "parents.zip");
    db.sql(
        "UPDATE parents SET code = 'B' WHERE id = 1;
         INSERT INTO children VALUES (3, 2, 'B', 'the other tenant''s');",
    );
    let theirs = "SELECT c::text FROM children c WHERE org_id = 2";
    let before = db.dump(theirs);
    // Deleting the parent leaves tenant 2's reference dangling: the database refuses.
    assert!(db.replace(&archive).is_err());
    assert_eq!(db.dump(theirs), before);
    let mut engine = db.writer();
    let plan = plan_restore(&mut engine, &db.descriptor(), &archive, Mode::Merge).unwrap();
    assert!(
        plan.refusals
            .iter()
            .any(|r| r.table.as_deref() == Some("children") && r.message.contains("\"code\"")),
        "{:?}",
        plan.refusals
    );
    drop(engine);
    assert_eq!(db.dump(theirs), before);
}

#[test]
fn a_replace_gives_back_values_triggers_would_change_and_keys_spelled_otherwise() {
    // A "touch updated_at" trigger fires on UPDATE, never on INSERT; a numeric key
    // equal to the archive's but printed with another scale.
    let schema = "CREATE TABLE items (id integer PRIMARY KEY, org_id integer NOT NULL, name text, updated_at timestamptz);
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
        CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
        CREATE TABLE prices (p numeric PRIMARY KEY, org_id integer NOT NULL, v integer);";
    let rows = "INSERT INTO items VALUES (1, 1, 'x', '2020-01-01T00:00:00Z'), (2, 1, 'y', '2020-01-02T00:00:00Z');
        INSERT INTO prices VALUES (1.0, 1, 1), (2, 1, 2);";
    let db = TestDb::new(schema, rows, "1");
    db.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "items.zip");
    let select = "SELECT t::text FROM items t UNION ALL SELECT t::text FROM prices t ORDER BY 1";
    let archived = db.dump(select);
    db.sql(
        "UPDATE items SET name = 'changed' WHERE id = 1; UPDATE prices SET p = 1.00 WHERE v = 1;",
    );
    assert_ne!(db.dump(select), archived);
    db.replace(&archive).unwrap();
    assert_eq!(db.dump(select), archived);
}

#[test]
fn a_replace_by_difference_gives_back_keys_equal_but_spelled_otherwise() {
    let schema = "CREATE TABLE prices (p numeric PRIMARY KEY, org_id integer NOT NULL, v integer);";
    let db = TestDb::new(
        schema,
        "INSERT INTO prices VALUES (1.0, 1, 1), (2, 1, 2);",
        "1",
    );
    db.set_tenant("1", false);
    let out = tempfile::tempdir().unwrap();
    let archive = archive_of(&db, out.path(), "prices.zip");
    let select = "SELECT t::text FROM prices t ORDER BY 1";
    let archived = db.dump(select);
    db.sql("UPDATE prices SET p = 1.00 WHERE v = 1;");
    assert_ne!(db.dump(select), archived);
    let summary = db.replace(&archive).unwrap();
    assert_eq!(db.dump(select), archived);
    // By difference: the row with the other spelling deleted, the archive's inserted.
    assert_eq!(
        (summary.deleted, summary.written, summary.unchanged),
        (1, 1, 1)
    );
}
