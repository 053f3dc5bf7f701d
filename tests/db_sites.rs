//! Database sites through the command: SITE is a TOML descriptor naming one tenant of a
//! real SQLite file or a real PostgreSQL database (every PostgreSQL test makes its own
//! database, dropped when it ends). A clinic schema of this file's own: `practices` (the
//! tenant table), `users` and `patients` (tenant tables), `appointments` (linked through
//! the patient), `appointment_staff` (linked, composite key), `procedures` →
//! `specialties` (reference tables), `oauth_tokens` (secret), `audit_trail` (excluded)
//! and `weather_cache` (unreached); two tenants, `harbor` (exported) and `hilltop`, with
//! distinctive strings each.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::util::postgres::{PgDb, admin_url, url_with_database};
use crate::util::{Run, TIMESTAMP, copy_tree, create, listing, read_archive, repo_root, run};

const CLINIC_SCHEMA: &str = "
CREATE TABLE practices (id TEXT PRIMARY KEY, name TEXT NOT NULL, motto TEXT);
CREATE TABLE specialties (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE procedures (id INTEGER PRIMARY KEY, specialty_id INTEGER NOT NULL REFERENCES specialties(id), label TEXT NOT NULL);
CREATE TABLE users (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), login TEXT NOT NULL, api_token TEXT);
CREATE TABLE patients (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), full_name TEXT NOT NULL, owner_id INTEGER REFERENCES users(id), totp_secret TEXT);
CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients(id), procedure_id INTEGER REFERENCES procedures(id), note TEXT);
CREATE TABLE appointment_staff (appointment_id INTEGER NOT NULL REFERENCES appointments(id), user_id INTEGER NOT NULL REFERENCES users(id), duty TEXT, PRIMARY KEY (appointment_id, user_id));
CREATE TABLE oauth_tokens (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL, token TEXT NOT NULL);
CREATE TABLE audit_trail (id INTEGER PRIMARY KEY, practice_id TEXT, entry TEXT NOT NULL);
CREATE TABLE weather_cache (city TEXT PRIMARY KEY, forecast TEXT);
";

const CLINIC_ROWS: &str = "
INSERT INTO practices VALUES ('harbor', 'Harbor Street Clinic', 'harbor-motto-anchor'), ('hilltop', 'Hilltop Family Care', 'hill-motto-summit');
INSERT INTO specialties VALUES (1, 'Cardiology Alpha'), (2, 'Dermatology Omega'), (3, 'Unused Specialty Kappa');
INSERT INTO procedures VALUES (1, 1, 'Echo Scan Basic'), (2, 1, 'Stress Test Plus'), (3, 2, 'Cryotherapy Zeta'), (4, 3, 'Unused Procedure Lambda');
INSERT INTO users VALUES (1, 'harbor', 'ada@harbor.test', 'apitok-harbor-7731'), (2, 'harbor', 'ben@harbor.test', 'apitok-harbor-8842'), (3, 'hilltop', 'cy@hill.test', 'apitok-hill-9953');
INSERT INTO patients VALUES (10, 'harbor', 'Alma Harborview', 1, 'totp-harbor-1010'), (11, 'harbor', 'Bruno Quayside', 2, 'totp-harbor-1111'), (12, 'harbor', 'Cora Pierpoint', 1, NULL), (20, 'hilltop', 'Zebulon Quartermaine', 3, 'totp-hill-2020');
INSERT INTO appointments VALUES (100, 10, 1, 'harbor-note-checkup'), (101, 10, 2, 'harbor-note-followup'), (102, 11, NULL, 'harbor-note-walkin'), (103, 12, 1, 'harbor-note-echo'), (200, 20, 3, 'Zebulon knee freeze');
INSERT INTO appointment_staff VALUES (100, 1, 'lead'), (100, 2, 'assist'), (101, 2, 'lead'), (103, 1, 'lead'), (200, 3, 'hill-duty-lead');
INSERT INTO oauth_tokens VALUES (1, 'harbor', 'oauth-harbor-SECRET-5151'), (2, 'hilltop', 'oauth-hill-SECRET-6262');
INSERT INTO audit_trail VALUES (1, 'harbor', 'audit-harbor-login-7070'), (2, 'hilltop', 'audit-hill-login-8080');
INSERT INTO weather_cache VALUES ('Portsmouth', 'weather-unreached-drizzle');
";

/// Strings of the other tenant: never a byte of them in harbor's archive.
const OTHER_TENANT: &[&str] = &[
    "hilltop",
    "Hilltop",
    "hill-",
    "hill.test",
    "Zebulon",
    "Quartermaine",
    "Cryotherapy",
    "Dermatology",
    "Lambda",
    "Kappa",
];

/// Values that never travel whoever's they are: secret tables and secret-named columns,
/// the excluded and the unreached table, reference rows nobody references.
const NEVER_TRAVEL: &[&str] = &[
    "oauth-harbor-SECRET-5151",
    "apitok-harbor-7731",
    "apitok-harbor-8842",
    "totp-harbor-1010",
    "totp-harbor-1111",
    "audit-harbor-login-7070",
    "weather-unreached-drizzle",
    "Unused Procedure",
    "Unused Specialty",
];

/// The harbor tables that travel in a full archive, with their role.
const HARBOR_TABLES: &[(&str, &str)] = &[
    ("practices", "tenant"),
    ("users", "tenant"),
    ("patients", "tenant"),
    ("appointments", "linked"),
    ("appointment_staff", "linked"),
    ("procedures", "reference"),
    ("specialties", "reference"),
];

// ---------------------------------------------------------------------------------------
// The databases.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

const BOTH: [Kind; 2] = [Kind::Sqlite, Kind::Postgres];

/// A database (a SQLite file or a PostgreSQL database) and a directory holding the
/// descriptor `clinic.toml`, the uploads, and an empty `out/`.
struct Clinic {
    dir: tempfile::TempDir,
    kind: Kind,
    pg: Option<PgDb>,
}

impl Clinic {
    /// The clinic schema and rows, with the standard descriptor.
    fn new(kind: Kind) -> Self {
        let clinic = Self::empty(kind);
        clinic.execute(CLINIC_SCHEMA);
        clinic.execute(CLINIC_ROWS);
        clinic.write_descriptor(&clinic.descriptor_text());
        clinic.write_upload("harbor/users/1/avatar.txt", "avatar of ada\n");
        clinic.write_upload("harbor/users/2/badge.txt", "badge of ben\n");
        clinic.write_upload("harbor/leaflets/welcome.txt", "welcome to harbor\n");
        clinic.write_upload("hilltop/leaflets/map.txt", "Hilltop map\n");
        clinic
    }

    /// No tables yet.
    fn empty(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let pg = (kind == Kind::Postgres).then(|| PgDb::new("sitepack_e2e"));
        if kind == Kind::Sqlite {
            // The database file exists from the start, like a PostgreSQL database.
            rusqlite::Connection::open(dir.path().join("clinic.db")).unwrap();
        }
        Self { dir, kind, pg }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn descriptor(&self) -> PathBuf {
        self.root().join("clinic.toml")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.root().join("out").join(name)
    }

    /// The default state directory: `.clinic.sitepack` beside the descriptor.
    fn state_dir(&self) -> PathBuf {
        self.root().join(".clinic.sitepack")
    }

    fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url(),
            None => "sqlite:clinic.db".to_owned(),
        }
    }

    fn descriptor_text(&self) -> String {
        descriptor_with(&self.database_url(), "")
    }

    fn write_descriptor(&self, text: &str) {
        std::fs::write(self.descriptor(), text).unwrap();
    }

    fn write_upload(&self, path: &str, text: &str) {
        let path = self.root().join("uploads").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A connection to the SQLite file (SQLite's default: foreign keys not enforced,
    /// so that a test may point a row at another tenant's).
    fn sqlite(&self) -> rusqlite::Connection {
        let connection = rusqlite::Connection::open(self.root().join("clinic.db")).unwrap();
        connection
            .execute_batch("PRAGMA foreign_keys = OFF")
            .unwrap();
        connection
    }

    fn execute(&self, sql: &str) {
        match &self.pg {
            Some(pg) => pg.client().batch_execute(sql).unwrap(),
            None => self.sqlite().execute_batch(sql).unwrap(),
        }
    }

    /// The first column of every row of `sql`, as text.
    fn strings(&self, sql: &str) -> BTreeSet<String> {
        if let Some(pg) = &self.pg {
            return pg
                .client()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect();
        }
        let connection = self.sqlite();
        let mut statement = connection.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn count(&self, sql: &str) -> u64 {
        let text = self.strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM ({sql}) AS q"));
        text.iter().next().unwrap().parse().unwrap()
    }

    /// The bytes of every file under the directory (the SQLite file included): what a
    /// refused command must leave as it was.
    fn snapshot_files(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut files = std::collections::BTreeMap::new();
        let mut pending = vec![self.root().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let name = path
                        .strip_prefix(self.root())
                        .unwrap()
                        .display()
                        .to_string();
                    files.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
        files
    }
}

/// The clinic descriptor for `url`, with `extra` lines appended to `[database]`.
fn descriptor_with(url: &str, extra: &str) -> String {
    format!(
        r#"[site]
id = "harbor-clinic"
name = "Harbor Street Clinic"
url = "https://harbor.example"

[database]
url = "{url}"
tenant_column = "practice_id"
tenant = "harbor"
tenant_table = "practices"
exclude = ["audit_trail"]
secret_tables = ["oauth_tokens"]
owner_column = "owner_id"
{extra}
[files]
dir = "uploads/harbor"
"#
    )
}

/// The harbor rows of every travelling table, computed with SQL of this test's own.
fn harbor_sql(table: &str) -> &'static str {
    match table {
        "practices" => "SELECT id FROM practices WHERE id = 'harbor'",
        "users" => "SELECT CAST(id AS TEXT) FROM users WHERE practice_id = 'harbor'",
        "patients" => "SELECT CAST(id AS TEXT) FROM patients WHERE practice_id = 'harbor'",
        "appointments" => {
            "SELECT CAST(id AS TEXT) FROM appointments WHERE patient_id IN (SELECT id FROM patients WHERE practice_id = 'harbor')"
        }
        "appointment_staff" => {
            "SELECT CAST(appointment_id AS TEXT) || '/' || CAST(user_id AS TEXT) FROM appointment_staff WHERE appointment_id IN (SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE p.practice_id = 'harbor') OR user_id IN (SELECT id FROM users WHERE practice_id = 'harbor')"
        }
        "procedures" => {
            "SELECT DISTINCT CAST(procedure_id AS TEXT) FROM appointments WHERE procedure_id IS NOT NULL AND patient_id IN (SELECT id FROM patients WHERE practice_id = 'harbor')"
        }
        "specialties" => {
            "SELECT DISTINCT CAST(specialty_id AS TEXT) FROM procedures WHERE id IN (SELECT procedure_id FROM appointments WHERE patient_id IN (SELECT id FROM patients WHERE practice_id = 'harbor'))"
        }
        other => panic!("no SQL for {other}"),
    }
}

/// The key of an archived row, as [`harbor_sql`] writes it.
fn row_key(table: &str, row: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if table == "appointment_staff" {
        format!("{}/{}", text(&row["appointment_id"]), text(&row["user_id"]))
    } else {
        text(&row["id"])
    }
}

// ---------------------------------------------------------------------------------------
// Archives.

/// The entry named `site/<path>` (or `<path>` at the top level).
fn entry<'a>(entries: &'a std::collections::BTreeMap<String, Vec<u8>>, path: &str) -> &'a [u8] {
    entries
        .get(&format!("site/{path}"))
        .or_else(|| entries.get(path))
        .unwrap_or_else(|| panic!("no entry {path} in {:?}", entries.keys()))
}

fn has_entry(entries: &std::collections::BTreeMap<String, Vec<u8>>, path: &str) -> bool {
    entries.contains_key(&format!("site/{path}")) || entries.contains_key(path)
}

/// The archive's site-relative entry names.
fn site_entries(entries: &std::collections::BTreeMap<String, Vec<u8>>) -> BTreeSet<String> {
    entries
        .keys()
        .filter_map(|k| k.strip_prefix("site/"))
        .map(str::to_owned)
        .collect()
}

fn table_rows(entries: &std::collections::BTreeMap<String, Vec<u8>>, table: &str) -> Vec<Value> {
    std::str::from_utf8(entry(entries, &format!("db/{table}.jsonl")))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn schema_json(entries: &std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    serde_json::from_slice(entry(entries, "db/schema.json")).unwrap()
}

/// Panics naming the entry if any entry holds any of `needles`.
#[track_caller]
fn assert_absent(entries: &std::collections::BTreeMap<String, Vec<u8>>, needles: &[&str]) {
    for (name, bytes) in entries {
        for needle in needles {
            assert!(
                !contains(bytes, needle.as_bytes()) && !name.contains(needle),
                "{needle:?} is in archive entry {name}"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn validate(archive: &Path) -> Value {
    let result = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()]);
    let json = result.json();
    assert_eq!(
        result.code,
        0,
        "validate {}: {json:#}\n{}",
        archive.display(),
        result.stderr
    );
    json
}

fn stats_json(clinic: &Clinic) -> Value {
    run([
        "stats".as_ref(),
        clinic.descriptor().as_os_str(),
        "--json".as_ref(),
    ])
    .expect(0)
    .json()
}

// ---------------------------------------------------------------------------------------
// stats

#[test]
fn db_stats_count_the_tenants_rows_per_table() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let stats = stats_json(&clinic);
        let mut expected_total = 0;
        let tables = stats["tables"].as_object().unwrap();
        let names: BTreeSet<&str> = tables.keys().map(String::as_str).collect();
        let expected_names: BTreeSet<&str> = HARBOR_TABLES.iter().map(|(t, _)| *t).collect();
        assert_eq!(names, expected_names, "{kind:?}: {stats:#}");
        for (table, role) in HARBOR_TABLES {
            let rows = clinic.count(harbor_sql(table));
            assert!(rows > 0, "{table}: the fixture has harbor rows");
            assert_eq!(tables[*table], rows, "{kind:?} {table}: {stats:#}");
            assert_eq!(stats["roles"][*table], *role, "{kind:?} {table}");
            expected_total += rows;
        }
        assert_eq!(stats["total"], expected_total, "{kind:?}");
        // The whole database's size, as the engine itself measures it.
        let size_sql = match kind {
            Kind::Sqlite => {
                "SELECT CAST(page_count * page_size AS TEXT) FROM pragma_page_count(), pragma_page_size()"
            }
            Kind::Postgres => "SELECT CAST(pg_database_size(current_database()) AS TEXT)",
        };
        let size: u64 = clinic
            .strings(size_sql)
            .iter()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(size > 0);
        assert_eq!(stats["database_size_bytes"], size, "{kind:?}");
        let skipped: BTreeSet<(String, String)> = stats["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["table"].as_str().unwrap().to_owned(),
                    s["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            skipped,
            [
                ("audit_trail", "excluded"),
                ("oauth_tokens", "secret"),
                ("weather_cache", "unreached"),
            ]
            .iter()
            .map(|(t, r)| ((*t).to_owned(), (*r).to_owned()))
            .collect(),
            "{kind:?}"
        );

        let human = run(["stats".as_ref(), clinic.descriptor().as_os_str()]).expect(0);
        assert!(
            human.stdout.contains(&format!(
                "({expected_total} rows in a backup, reference rows included)"
            )),
            "{kind:?}: {}",
            human.stdout
        );
        for (table, _) in HARBOR_TABLES {
            let rows = clinic.count(harbor_sql(table));
            let line = human
                .stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(table))
                .unwrap_or_else(|| panic!("{kind:?}: no line for {table}:\n{}", human.stdout));
            assert!(
                line.trim_end().ends_with(&format!(" {rows} rows")),
                "{kind:?}: {line}"
            );
        }
        for table in ["audit_trail", "oauth_tokens", "weather_cache"] {
            assert!(human.stdout.contains(table), "{kind:?}: {}", human.stdout);
        }
        // stats reads: no state directory is made.
        assert!(!clinic.state_dir().exists(), "{kind:?}");
    }
}

// ---------------------------------------------------------------------------------------
// create

#[test]
fn db_create_archives_exactly_the_tenants_rows() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.out("harbor.zip");
        create(&clinic.descriptor(), &archive, &[]);
        let findings = validate(&archive);
        assert_eq!(findings["valid"], true, "{kind:?}: {findings:#}");

        let entries = read_archive(&archive);
        assert_absent(&entries, OTHER_TENANT);
        assert_absent(&entries, NEVER_TRAVEL);

        let schema = schema_json(&entries);
        for (table, role) in HARBOR_TABLES {
            let rows = table_rows(&entries, table);
            let archived: BTreeSet<String> = rows.iter().map(|r| row_key(table, r)).collect();
            assert_eq!(
                archived.len(),
                rows.len(),
                "{kind:?} {table}: duplicate rows"
            );
            assert_eq!(
                archived,
                clinic.strings(harbor_sql(table)),
                "{kind:?} {table}: the archived rows are not the tenant's"
            );
            let described = schema["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == *table)
                .unwrap_or_else(|| panic!("{kind:?}: {table} is not in schema.json"));
            assert_eq!(described["rows"], rows.len(), "{kind:?} {table}");
            assert_eq!(described["role"], *role, "{kind:?} {table}");
        }
        // Harbor's own values did travel (the marker checks above are not vacuous).
        let patients = String::from_utf8(entry(&entries, "db/patients.jsonl").to_vec()).unwrap();
        assert!(patients.contains("Alma Harborview"), "{kind:?}: {patients}");
        // The tables that stay behind have no file, and schema.json says why.
        for (table, reason) in [
            ("audit_trail", "excluded"),
            ("oauth_tokens", "secret"),
            ("weather_cache", "unreached"),
        ] {
            assert!(
                !has_entry(&entries, &format!("db/{table}.jsonl")),
                "{kind:?}: {table} travelled"
            );
            let skipped = schema["skipped"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["table"] == table)
                .unwrap_or_else(|| panic!("{kind:?}: {table} is not in skipped: {schema:#}"));
            assert_eq!(skipped["reason"], reason, "{kind:?} {table}");
        }
        // The files directory travels as files/, the other tenant's uploads do not.
        let site = site_entries(&entries);
        for file in [
            "files/users/1/avatar.txt",
            "files/users/2/badge.txt",
            "files/leaflets/welcome.txt",
        ] {
            assert!(
                site.contains(file),
                "{kind:?}: {file} missing from {site:?}"
            );
        }
        assert!(!site.iter().any(|f| f.contains("map.txt")), "{kind:?}");
    }
}

#[test]
fn db_same_data_same_timestamp_gives_identical_archives() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let first = clinic.out("first.zip");
        let second = clinic.out("second.zip");
        create(&clinic.descriptor(), &first, &[]);
        create(&clinic.descriptor(), &second, &[]);
        assert!(
            std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
            "{kind:?}: two archives of the same data differ"
        );
        // A changed row changes the archive: the comparison sees the data.
        clinic.execute("UPDATE patients SET full_name = 'Alma Harborview-Smith' WHERE id = 10");
        let third = clinic.out("third.zip");
        create(&clinic.descriptor(), &third, &[]);
        assert!(
            std::fs::read(&first).unwrap() != std::fs::read(&third).unwrap(),
            "{kind:?}"
        );
    }
}

#[test]
fn db_tables_read_side_by_side_make_the_archive_read_in_order() {
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        "CREATE TABLE readings (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients(id), value NUMERIC, taken TIMESTAMPTZ, doc JSONB);
         INSERT INTO readings SELECT i, 10 + i % 3, i / 7.0, timestamptz '2024-01-01' + i * interval '1 minute', jsonb_build_object('n', i)
           FROM generate_series(1, 20000) i;
         ANALYZE;",
    );
    let in_order = clinic.out("in-order.zip");
    create(&clinic.descriptor(), &in_order, &["--threads", "1"]);
    for threads in ["2", "5"] {
        let side_by_side = clinic.out(&format!("threads-{threads}.zip"));
        create(&clinic.descriptor(), &side_by_side, &["--threads", threads]);
        assert!(
            std::fs::read(&in_order).unwrap() == std::fs::read(&side_by_side).unwrap(),
            "--threads {threads} wrote another archive"
        );
    }
    assert_eq!(validate(&in_order)["valid"], true);
}

#[test]
fn db_of_two_failing_tables_the_first_in_order_is_named_however_many_are_read() {
    // Read side by side, the larger (and later) table fails at its first row, the smaller
    // one only at its last: the error is still the smaller one's, as reading in order.
    let clinic = Clinic::new(Kind::Postgres);
    let key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    clinic.execute(&format!(
        "CREATE TABLE aa_first (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), body TEXT);
         CREATE TABLE zz_last (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), body TEXT);
         INSERT INTO aa_first SELECT i, 'harbor', CASE WHEN i = 20000 THEN '{key}' ELSE 'fine ' || i END
           FROM generate_series(1, 20000) i;
         INSERT INTO zz_last SELECT i, 'harbor', CASE WHEN i = 1 THEN '{key}' ELSE 'fine ' || i END
           FROM generate_series(1, 100000) i;
         ANALYZE;"
    ));
    for threads in ["1", "2", "4"] {
        let archive = clinic.out("refused.zip");
        let result = crate::util::try_create(
            &clinic.descriptor(),
            &archive,
            &["--timestamp", TIMESTAMP, "--threads", threads],
        );
        assert_eq!(result.code, 2, "--threads {threads}: {}", result.stderr);
        assert_mentions(&result.stderr, &["\"aa_first\"", "row id=20000"]);
        assert!(!result.stderr.contains("zz_last"), "{}", result.stderr);
        assert!(!result.stderr.contains(key), "{}", result.stderr);
        assert!(!archive.exists());
        assert_eq!(listing(&clinic.root().join("out")), Vec::<String>::new());
    }
}

#[test]
fn db_a_connection_lost_while_reading_a_table_is_named_with_that_table() {
    // The connection reading `zz_big` is ended by the server while the other reads
    // `mm_big`: the tables left are read on the other connection, so the error names
    // `zz_big`, not a table that failed only because it came next on the lost one.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        "CREATE TABLE aa_tiny (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id));
         INSERT INTO aa_tiny VALUES (1, 'harbor');
         CREATE TABLE zz_big (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), body TEXT);
         INSERT INTO zz_big SELECT i, 'harbor', repeat('x', 300) FROM generate_series(1, 400000) i;
         CREATE TABLE mm_big (LIKE zz_big INCLUDING ALL);
         INSERT INTO mm_big SELECT * FROM zz_big WHERE id <= 300000;
         ANALYZE;",
    );
    let stop = AtomicBool::new(false);
    let pg = clinic.pg.as_ref().unwrap();
    let result = std::thread::scope(|scope| {
        let terminator = scope.spawn(|| {
            let mut watcher = pg.client();
            while !stop.load(Ordering::Relaxed) {
                let ended: bool = watcher
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
                         WHERE datname = current_database() AND state = 'active'
                           AND query LIKE 'SELECT%\"zz_big\"%' AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                if ended {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            false
        });
        let archive = clinic.out("lost.zip");
        let result = crate::util::try_create(
            &clinic.descriptor(),
            &archive,
            &["--timestamp", TIMESTAMP, "--threads", "2"],
        );
        stop.store(true, Ordering::Relaxed);
        assert!(
            terminator.join().unwrap(),
            "the read was not seen: {}",
            result.stderr
        );
        result
    });
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert_mentions(
        &result.stderr,
        &["\"zz_big\"", "was lost", "run the backup again"],
    );
    assert!(!result.stderr.contains("aa_tiny"), "{}", result.stderr);
}

// ---------------------------------------------------------------------------------------
// consistency

/// Stops the writer when the backups end, a failed assertion included (the scope
/// waits for the writer).
struct StopOnDrop<'a>(&'a AtomicBool);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Pairs of rows committed together by another connection while backups run: each
/// backup holds every pair whole or not at all.
fn backups_hold_whole_pairs(clinic: &Clinic, writer: impl FnOnce(&AtomicBool, &Mutex<u64>) + Send) {
    let stop = AtomicBool::new(false);
    let committed = Mutex::new(0u64);
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| writer(&stop, &committed));
        let stopper = StopOnDrop(&stop);
        // Let the writer start.
        while *committed.lock().unwrap() < 5 {
            assert!(
                !handle.is_finished(),
                "the writer stopped before committing"
            );
            std::thread::yield_now();
        }
        let mut seen = Vec::new();
        for n in 0..4 {
            let before = *committed.lock().unwrap();
            let archive = clinic.out(&format!("pairs-{n}.zip"));
            create(&clinic.descriptor(), &archive, &[]);
            let entries = read_archive(&archive);
            let debits: BTreeSet<String> = table_rows(&entries, "debits")
                .iter()
                .map(|r| r["pair"].to_string())
                .collect();
            let credits: BTreeSet<String> = table_rows(&entries, "credits")
                .iter()
                .map(|r| r["pair"].to_string())
                .collect();
            assert_eq!(
                debits.symmetric_difference(&credits).count(),
                0,
                "{:?}: backup {n} holds half pairs",
                clinic.kind
            );
            assert!(debits.len() as u64 >= before, "{:?}", clinic.kind);
            seen.push(debits.len());
        }
        drop(stopper);
        handle.join().unwrap();
        // The writer did commit while the backups ran.
        assert!(
            seen.first() != seen.last(),
            "{:?}: no pair was committed during the backups: {seen:?}",
            clinic.kind
        );
    });
}

const PAIRS_SCHEMA: &str = "
CREATE TABLE practices (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE debits (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), pair INTEGER NOT NULL, memo TEXT);
CREATE TABLE credits (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), pair INTEGER NOT NULL, memo TEXT);
INSERT INTO practices VALUES ('harbor', 'Harbor'), ('hilltop', 'Hilltop');
";

fn pairs_descriptor(url: &str) -> String {
    format!(
        r#"[site]
id = "harbor-ledger"
name = "Harbor ledger"
url = "https://harbor.example"
[database]
url = "{url}"
tenant_column = "practice_id"
tenant = "harbor"
tenant_table = "practices"
"#
    )
}

/// Many pairs already: reading a table takes long enough for commits to land between
/// the two tables' reads if they were not one snapshot.
fn prefill_pairs(clinic: &Clinic) {
    let mut sql = String::from("BEGIN;\n");
    for pair in 0..3000 {
        let memo = "m".repeat(40);
        writeln!(
            sql,
            "INSERT INTO debits VALUES ({pair}, 'harbor', {pair}, '{memo}');\nINSERT INTO credits VALUES ({pair}, 'harbor', {pair}, '{memo}');"
        )
        .unwrap();
    }
    sql.push_str("COMMIT;\n");
    clinic.execute(&sql);
}

#[test]
fn db_postgres_backups_taken_during_commits_hold_whole_pairs() {
    let clinic = Clinic::empty(Kind::Postgres);
    clinic.execute(PAIRS_SCHEMA);
    prefill_pairs(&clinic);
    clinic.write_descriptor(&pairs_descriptor(&clinic.database_url()));
    let url = clinic.database_url();
    backups_hold_whole_pairs(&clinic, |stop, committed| {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut pair: i32 = 100_000;
        while !stop.load(Ordering::Relaxed) {
            let mut tx = client.transaction().unwrap();
            tx.execute(
                "INSERT INTO debits VALUES ($1, 'harbor', $1, 'd')",
                &[&pair],
            )
            .unwrap();
            // A pause inside the transaction: a reader outside one snapshot would see
            // the first row without the second.
            std::thread::sleep(std::time::Duration::from_millis(1));
            tx.execute(
                "INSERT INTO credits VALUES ($1, 'harbor', $1, 'c')",
                &[&pair],
            )
            .unwrap();
            tx.commit().unwrap();
            pair += 1;
            *committed.lock().unwrap() += 1;
        }
    });
}

#[test]
fn db_sqlite_wal_backups_taken_during_commits_hold_whole_pairs() {
    let clinic = Clinic::empty(Kind::Sqlite);
    clinic
        .sqlite()
        .execute_batch("PRAGMA journal_mode = WAL")
        .unwrap();
    clinic.execute(PAIRS_SCHEMA);
    prefill_pairs(&clinic);
    clinic.write_descriptor(&pairs_descriptor("sqlite:clinic.db"));
    let path = clinic.root().join("clinic.db");
    backups_hold_whole_pairs(&clinic, |stop, committed| {
        let mut connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let mut pair: i64 = 100_000;
        while !stop.load(Ordering::Relaxed) {
            let tx = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("INSERT INTO debits VALUES (?1, 'harbor', ?1, 'd')", [pair])
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1));
            tx.execute("INSERT INTO credits VALUES (?1, 'harbor', ?1, 'c')", [pair])
                .unwrap();
            tx.commit().unwrap();
            pair += 1;
            *committed.lock().unwrap() += 1;
        }
    });
}

// ---------------------------------------------------------------------------------------
// stored backups, auto run, preview and validate

#[test]
fn db_create_to_a_directory_is_listed() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let target = clinic.root().join("backups");
        let stored = run([
            "create".as_ref(),
            clinic.descriptor().as_os_str(),
            "--to".as_ref(),
            target.as_os_str(),
            "--timestamp".as_ref(),
            TIMESTAMP.as_ref(),
            "--json".as_ref(),
        ])
        .expect(0)
        .json();
        let listed = run(["list".as_ref(), target.as_os_str(), "--json".as_ref()])
            .expect(0)
            .json();
        let backups = listed["backups"].as_array().unwrap();
        assert_eq!(backups.len(), 1, "{kind:?}: {listed:#}");
        let name = backups[0]["name"].as_str().unwrap();
        assert!(name.starts_with("harbor-clinic/"), "{kind:?}: {name}");
        assert!(stored.to_string().contains(name), "{kind:?}: {stored:#}");
        let human = run(["list".as_ref(), target.as_os_str()]).expect(0);
        assert!(human.stdout.contains(name), "{kind:?}: {}", human.stdout);
        // The stored archive is the tenant's and validates.
        let archive = target.join(name);
        validate(&archive);
        assert_absent(&read_archive(&archive), OTHER_TENANT);
    }
}

#[test]
fn db_auto_run_stores_a_backup() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let target = clinic.root().join("auto-backups");
        let config = clinic.state_dir().join(".sitepack/config.toml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(
            &config,
            format!("[auto]\ntarget = '{}'\n", target.display()),
        )
        .unwrap();
        run([
            "auto".as_ref(),
            "run".as_ref(),
            clinic.descriptor().as_os_str(),
        ])
        .expect(0);
        let listed = run(["list".as_ref(), target.as_os_str(), "--json".as_ref()])
            .expect(0)
            .json();
        let backups = listed["backups"].as_array().unwrap();
        assert_eq!(backups.len(), 1, "{kind:?}: {listed:#}");
        let name = backups[0]["name"].as_str().unwrap();
        assert!(name.starts_with("harbor-clinic/"), "{kind:?}: {name}");
        let archive = target.join(name);
        validate(&archive);
        // The run is in the site's audit log.
        let audit = run([
            "audit".as_ref(),
            clinic.descriptor().as_os_str(),
            "--json".as_ref(),
        ])
        .expect(0)
        .json();
        let operations: Vec<&str> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect();
        assert!(operations.contains(&"auto"), "{kind:?}: {audit:#}");
    }
}

#[test]
fn db_preview_and_validate_read_a_database_archive() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.out("harbor.zip");
        create(&clinic.descriptor(), &archive, &[]);
        let findings = validate(&archive);
        assert_eq!(findings["valid"], true, "{kind:?}: {findings:#}");
        let problems = findings
            .get("findings")
            .or_else(|| findings.get("problems"))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        assert_eq!(problems, Value::Array(Vec::new()), "{kind:?}: {findings:#}");
        run(["validate".as_ref(), archive.as_os_str()]).expect(0);

        let preview = run(["preview".as_ref(), archive.as_os_str(), "--json".as_ref()]).expect(0);
        let json = preview.json();
        let database = &json["database"];
        let engine = match kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgresql",
        };
        assert_eq!(database["engine"], engine, "{kind:?}: {json:#}");
        assert_eq!(database["tenant"]["value"], "harbor", "{kind:?}: {json:#}");
        for (table, role) in HARBOR_TABLES {
            let shown = database["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == *table)
                .unwrap_or_else(|| panic!("{kind:?}: {table} not in {json:#}"));
            assert_eq!(shown["role"], *role, "{kind:?} {table}");
            assert_eq!(
                shown["rows"],
                clinic.count(harbor_sql(table)),
                "{kind:?} {table}"
            );
        }
        let skipped: BTreeSet<&str> = database["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["table"].as_str().unwrap())
            .collect();
        assert_eq!(
            skipped,
            ["audit_trail", "oauth_tokens", "weather_cache"]
                .into_iter()
                .collect(),
            "{kind:?}"
        );
        let human = run(["preview".as_ref(), archive.as_os_str()]).expect(0);
        assert!(
            human.stdout.contains("patients"),
            "{kind:?}: {}",
            human.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------
// scopes

#[test]
fn db_table_scope_holds_the_table_and_its_reference_rows() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.out("appointments.zip");
        create(
            &clinic.descriptor(),
            &archive,
            &["--scope", "table:appointments"],
        );
        validate(&archive);
        let entries = read_archive(&archive);
        assert_eq!(
            site_entries(&entries),
            [
                "site.json",
                "db/schema.json",
                "db/appointments.jsonl",
                "db/procedures.jsonl",
                "db/specialties.jsonl",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            "{kind:?}"
        );
        for table in ["appointments", "procedures", "specialties"] {
            let archived: BTreeSet<String> = table_rows(&entries, table)
                .iter()
                .map(|r| row_key(table, r))
                .collect();
            assert_eq!(
                archived,
                clinic.strings(harbor_sql(table)),
                "{kind:?} {table}"
            );
        }
        assert_absent(&entries, OTHER_TENANT);
        assert_absent(&entries, NEVER_TRAVEL);
        assert_absent(&entries, &["Alma Harborview", "ada@harbor.test"]);
        let schema = schema_json(&entries);
        let out_of_scope: BTreeSet<&str> = schema["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["reason"] == "out-of-scope")
            .map(|s| s["table"].as_str().unwrap())
            .collect();
        assert_eq!(
            out_of_scope,
            ["appointment_staff", "patients", "practices", "users"]
                .into_iter()
                .collect(),
            "{kind:?}: {schema:#}"
        );
    }
}

#[test]
fn db_user_scope_holds_the_users_rows_and_files() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.out("user-1.zip");
        create(&clinic.descriptor(), &archive, &["--scope", "user:1"]);
        validate(&archive);
        let entries = read_archive(&archive);
        let users: Vec<String> = table_rows(&entries, "users")
            .iter()
            .map(|r| row_key("users", r))
            .collect();
        assert_eq!(users, ["1"], "{kind:?}");
        let patients: BTreeSet<String> = table_rows(&entries, "patients")
            .iter()
            .map(|r| row_key("patients", r))
            .collect();
        assert_eq!(
            patients,
            clinic.strings(
                "SELECT CAST(id AS TEXT) FROM patients WHERE practice_id = 'harbor' AND owner_id = 1"
            ),
            "{kind:?}"
        );
        assert_eq!(patients.len(), 2, "{kind:?}");
        let site = site_entries(&entries);
        let files: Vec<&String> = site.iter().filter(|f| f.starts_with("files/")).collect();
        assert_eq!(files, ["files/users/1/avatar.txt"], "{kind:?}");
        // Nothing of the other user, nor of tables without the owner column.
        assert_absent(
            &entries,
            &[
                "ben@harbor.test",
                "Bruno Quayside",
                "badge of ben",
                "welcome to harbor",
                "harbor-note",
            ],
        );
        assert_absent(&entries, OTHER_TENANT);
        assert_absent(&entries, NEVER_TRAVEL);
        assert!(!has_entry(&entries, "db/appointments.jsonl"), "{kind:?}");
        // Nobody's archive (no such user in the tenant) would be an empty backup.
        let nobody = crate::util::try_create(
            &clinic.descriptor(),
            clinic.out("nobody.zip"),
            &["--scope", "user:999"],
        );
        assert_eq!(nobody.code, 2, "{kind:?}: {}", nobody.stderr);
        assert_mentions(&nobody.stderr, &["user:999", "\"users\""]);
        assert!(!clinic.out("nobody.zip").exists());
    }
}

#[test]
fn db_no_files_leaves_the_uploads_out() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.out("data-only.zip");
        create(&clinic.descriptor(), &archive, &["--no-files"]);
        validate(&archive);
        let entries = read_archive(&archive);
        let site = site_entries(&entries);
        assert!(
            !site.iter().any(|f| f.starts_with("files/")),
            "{kind:?}: {site:?}"
        );
        assert_absent(&entries, &["avatar of ada", "welcome to harbor"]);
        for (table, _) in HARBOR_TABLES {
            assert!(
                has_entry(&entries, &format!("db/{table}.jsonl")),
                "{kind:?} {table}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// bad input

/// `create` of `clinic` refused with exit 2: the message (stderr) is returned; no archive,
/// nothing in `out/`, and no staging directory left in the state directory.
#[track_caller]
fn refused_create(clinic: &Clinic) -> String {
    let archive = clinic.out("refused.zip");
    let result =
        crate::util::try_create(&clinic.descriptor(), &archive, &["--timestamp", TIMESTAMP]);
    assert_eq!(
        result.code, 2,
        "{:?}: exit code\n--- stdout\n{}\n--- stderr\n{}",
        clinic.kind, result.stdout, result.stderr
    );
    assert!(!archive.exists(), "{:?}: an archive was left", clinic.kind);
    assert_eq!(listing(&clinic.root().join("out")), Vec::<String>::new());
    let internal = clinic.state_dir().join(".sitepack");
    let leftovers: Vec<String> = listing(&internal)
        .into_iter()
        .filter(|n| n.starts_with("export-"))
        .collect();
    assert!(leftovers.is_empty(), "{:?}: {leftovers:?}", clinic.kind);
    result.stderr
}

#[track_caller]
fn assert_mentions(message: &str, words: &[&str]) {
    for word in words {
        assert!(message.contains(word), "{word:?} not in: {message}");
    }
}

#[test]
fn db_an_unknown_tenant_is_refused() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        clinic.write_descriptor(
            &clinic
                .descriptor_text()
                .replace("tenant = \"harbor\"", "tenant = \"lighthouse\""),
        );
        let message = refused_create(&clinic);
        assert_mentions(&message, &["lighthouse", "no rows", "tenant_column"]);
        let stats = run(["stats".as_ref(), clinic.descriptor().as_os_str()]).expect(2);
        assert_mentions(&stats.stderr, &["lighthouse", "no rows"]);
    }
}

#[test]
fn db_a_tenant_column_no_table_has_is_refused() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        clinic.write_descriptor(&clinic.descriptor_text().replace(
            "tenant_column = \"practice_id\"",
            "tenant_column = \"clinic_ref\"",
        ));
        let message = refused_create(&clinic);
        assert_mentions(&message, &["clinic_ref", "tenant_column"]);
    }
}

#[test]
fn db_a_foreign_key_cycle_is_refused_and_named() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        match kind {
            Kind::Sqlite => clinic.execute(
                "CREATE TABLE wards (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL, head_nurse_id INTEGER REFERENCES nurses(id));
                 CREATE TABLE nurses (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL, ward_id INTEGER REFERENCES wards(id));
                 INSERT INTO wards VALUES (1, 'harbor', NULL); INSERT INTO nurses VALUES (1, 'harbor', 1);",
            ),
            Kind::Postgres => clinic.execute(
                "CREATE TABLE wards (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL, head_nurse_id INTEGER);
                 CREATE TABLE nurses (id INTEGER PRIMARY KEY, practice_id TEXT NOT NULL, ward_id INTEGER REFERENCES wards(id));
                 ALTER TABLE wards ADD FOREIGN KEY (head_nurse_id) REFERENCES nurses(id);
                 INSERT INTO wards VALUES (1, 'harbor', NULL); INSERT INTO nurses VALUES (1, 'harbor', 1);",
            ),
        }
        let message = refused_create(&clinic);
        assert_mentions(&message, &["cycle", "wards", "nurses", "exclude"]);
    }
}

#[test]
fn db_an_unsupported_column_type_is_refused_and_named() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let (column, declared) = match kind {
            Kind::Sqlite => ("aura", "QUANTUMFOAM"),
            Kind::Postgres => ("stay", "interval"),
        };
        clinic.execute(&format!(
            "ALTER TABLE patients ADD COLUMN {column} {declared}"
        ));
        let message = refused_create(&clinic);
        assert_mentions(&message, &["patients", column]);
        assert!(
            message.to_lowercase().contains(&declared.to_lowercase()),
            "{declared} not in: {message}"
        );
        if kind == Kind::Postgres {
            clinic.execute(
                "ALTER TABLE patients DROP COLUMN stay; ALTER TABLE users ADD COLUMN salary money",
            );
            let message = refused_create(&clinic);
            assert_mentions(&message, &["users", "salary", "money"]);
        }
    }
}

#[test]
fn db_a_json_null_in_a_not_null_column_is_refused() {
    // PostgreSQL's `null` needs no parsing to be written, but it is the row's null: the
    // NOT NULL rule must still see it (as `validate` would), in a row among others.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        r#"ALTER TABLE patients ADD COLUMN chart jsonb NOT NULL DEFAULT '{"seen": [1, 2]}';
           UPDATE patients SET chart = 'null'
             WHERE id = (SELECT max(id) FROM patients WHERE practice_id = 'harbor');"#,
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["patients", "chart", "NOT NULL"]);
}

#[test]
fn db_json_keys_travel_parsed_and_their_references_resolve() {
    // Key columns are read by the row check (digests, references): a `jsonb` key is
    // parsed like any value, never stood in for, so two keys stay two.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        r#"CREATE TABLE badges (code jsonb PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id), label jsonb);
           CREATE TABLE swipes (id INTEGER PRIMARY KEY, badge jsonb NOT NULL REFERENCES badges(code));
           INSERT INTO badges VALUES ('{"door": 1}', 'harbor', '{"tags": ["a", "b"]}'),
                                     ('{"door": 2}', 'harbor', '{"tags": []}');
           INSERT INTO swipes VALUES (1, '{"door": 2}'), (2, '{"door": 1}');"#,
    );
    let archive = clinic.out("badges.zip");
    create(&clinic.descriptor(), &archive, &[]);
    assert_eq!(validate(&archive)["valid"], true);
    let entries = read_archive(&archive);
    assert_eq!(
        table_rows(&entries, "badges"),
        [
            json!({"code": {"door": 1}, "practice_id": "harbor", "label": {"tags": ["a", "b"]}}),
            json!({"code": {"door": 2}, "practice_id": "harbor", "label": {"tags": []}}),
        ]
    );
    assert_eq!(
        table_rows(&entries, "swipes"),
        [
            json!({"id": 1, "badge": {"door": 2}}),
            json!({"id": 2, "badge": {"door": 1}})
        ]
    );
}

#[test]
fn db_a_secret_inside_a_json_key_is_refused() {
    // Redacted, the two keys would be one and the row could not be matched again.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        r#"CREATE TABLE badges (code jsonb PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id));
           INSERT INTO badges VALUES ('{"door": 1}', 'harbor'),
                                     ('{"door": 1, "password": "hunter2-badge"}', 'harbor');"#,
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["badges", "code", "secret", "key"]);
    assert!(!message.contains("hunter2-badge"), "{message}");
    // The key lost its secret: the row is named by its line, not by what is left of it.
    assert_mentions(&message, &["row #1"]);
    assert!(!message.contains("door"), "{message}");

    // A key named as a secret.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        "CREATE TABLE keyring (api_token TEXT PRIMARY KEY, practice_id TEXT NOT NULL REFERENCES practices(id));
         INSERT INTO keyring VALUES ('tok-harbor-4711', 'harbor');",
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["keyring", "row #1", "api_token", "secret"]);
    assert!(!message.contains("tok-harbor-4711"), "{message}");
    assert!(!message.contains("null"), "{message}");
}

#[test]
fn db_a_secret_inside_a_json_column_under_a_unique_index_is_refused() {
    // A unique index identifies rows as a unique constraint does: redacted, the two
    // values would be one, and the restore would fail on the duplicate.
    let clinic = Clinic::new(Kind::Postgres);
    clinic.execute(
        r#"CREATE TABLE badges (id INTEGER PRIMARY KEY, code jsonb NOT NULL, practice_id TEXT NOT NULL REFERENCES practices(id));
           CREATE UNIQUE INDEX badges_by_code ON badges (code);
           INSERT INTO badges VALUES (1, '{"door": 1}', 'harbor'),
                                     (2, '{"door": 1, "password": "hunter2-badge"}', 'harbor');"#,
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["badges", "code", "secret", "key"]);
    assert!(!message.contains("hunter2-badge"), "{message}");
}

#[test]
fn db_an_unreachable_server_or_database_is_refused() {
    let clinic = Clinic::new(Kind::Postgres);
    clinic.write_descriptor(&descriptor_with(
        "postgres://postgres@127.0.0.1:1/clinic",
        "",
    ));
    let message = refused_create(&clinic);
    assert_mentions(&message, &["cannot connect", "127.0.0.1:1"]);

    let missing = url_with_database(&admin_url(), "sitepack_e2e_no_such_database");
    clinic.write_descriptor(&descriptor_with(&missing, ""));
    let message = refused_create(&clinic);
    assert_mentions(&message, &["sitepack_e2e_no_such_database"]);
}

#[test]
fn db_a_missing_sqlite_file_is_refused_and_not_made() {
    let clinic = Clinic::new(Kind::Sqlite);
    clinic.write_descriptor(&descriptor_with("sqlite:missing-clinic.db", ""));
    let message = refused_create(&clinic);
    assert_mentions(&message, &["missing-clinic.db"]);
    assert!(!clinic.root().join("missing-clinic.db").exists());
    let stats = run(["stats".as_ref(), clinic.descriptor().as_os_str()]).expect(2);
    assert_mentions(&stats.stderr, &["missing-clinic.db"]);
    assert!(!clinic.root().join("missing-clinic.db").exists());
}

#[test]
fn db_a_malformed_descriptor_is_refused_naming_the_file() {
    let clinic = Clinic::new(Kind::Sqlite);
    let good = clinic.descriptor_text();
    clinic.write_descriptor(&good.replace("owner_column", "owner_colum"));
    let message = refused_create(&clinic);
    assert_mentions(&message, &["clinic.toml", "owner_colum"]);

    clinic.write_descriptor(&good.replace("tenant = \"harbor\"", "tenant = \"harbor"));
    let message = refused_create(&clinic);
    assert_mentions(&message, &["clinic.toml", "line 9"]);
    let stats = run(["stats".as_ref(), clinic.descriptor().as_os_str()]).expect(2);
    assert_mentions(&stats.stderr, &["clinic.toml"]);
}

#[test]
fn db_a_password_in_the_url_is_never_shown() {
    const PASSWORD: &str = "Quetzal-Pw-4417";
    let clinic = Clinic::new(Kind::Postgres);
    // The server trusts the connection: the password is sent and ignored.
    let url = clinic
        .database_url()
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    assert!(
        url.contains(PASSWORD),
        "the admin URL names the user postgres"
    );
    clinic.write_descriptor(&descriptor_with(&url, ""));
    let mut outputs: Vec<Run> = Vec::new();
    outputs.push(run(["stats".as_ref(), clinic.descriptor().as_os_str()]).expect(0));
    outputs.push(
        run([
            "stats".as_ref(),
            clinic.descriptor().as_os_str(),
            "--json".as_ref(),
        ])
        .expect(0),
    );
    let archive = clinic.out("harbor.zip");
    outputs.push(create(&clinic.descriptor(), &archive, &[]));
    outputs.push(
        run([
            "create".as_ref(),
            clinic.descriptor().as_os_str(),
            "-o".as_ref(),
            clinic.out("json.zip").as_os_str(),
            "--json".as_ref(),
        ])
        .expect(0),
    );
    outputs.push(
        run([
            "audit".as_ref(),
            clinic.descriptor().as_os_str(),
            "--json".as_ref(),
        ])
        .expect(0),
    );
    // A failure names the database too: still no password.
    clinic.write_descriptor(&descriptor_with(&url, "").replace("\"harbor\"", "\"lighthouse\""));
    outputs.push(crate::util::try_create(&clinic.descriptor(), clinic.out("x.zip"), &[]).expect(2));
    outputs.push(
        run([
            "stats".as_ref(),
            clinic.descriptor().as_os_str(),
            "--json".as_ref(),
        ])
        .expect(2),
    );
    let unreachable = format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/clinic");
    clinic.write_descriptor(&descriptor_with(&unreachable, ""));
    outputs.push(crate::util::try_create(&clinic.descriptor(), clinic.out("y.zip"), &[]).expect(2));
    for output in &outputs {
        assert!(
            !output.stdout.contains(PASSWORD) && !output.stderr.contains(PASSWORD),
            "the password is shown:\n{}\n{}",
            output.stdout,
            output.stderr
        );
    }
    let audit_log = std::fs::read(clinic.state_dir().join(".sitepack/audit.jsonl")).unwrap();
    assert!(!audit_log.is_empty());
    assert!(!contains(&audit_log, PASSWORD.as_bytes()), "in audit.jsonl");
    assert_absent(&read_archive(&archive), &[PASSWORD]);
}

#[test]
fn db_a_row_pointing_at_another_tenant_is_refused() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        // Harbor's patient 11 owned by hilltop's user 3.
        clinic.execute("UPDATE patients SET owner_id = 3 WHERE id = 11");
        let message = refused_create(&clinic);
        assert_mentions(&message, &["patients", "owner_id", "another tenant"]);
        assert!(!message.contains("hilltop"), "{message}");
        // A linked row too: harbor's appointment staffed by hilltop's user.
        clinic.execute(
            "UPDATE patients SET owner_id = 2 WHERE id = 11; INSERT INTO appointment_staff VALUES (102, 3, 'stray')",
        );
        let message = refused_create(&clinic);
        assert_mentions(
            &message,
            &["appointment_staff", "user_id", "another tenant"],
        );
    }
}

// ---------------------------------------------------------------------------------------
// restore: what a database site does not take

#[test]
fn db_restore_refuses_the_directory_only_options() {
    for kind in BOTH {
        let clinic = Clinic::new(kind);
        let archive = clinic.root().join("harbor.zip");
        create(&clinic.descriptor(), &archive, &[]);
        let before = clinic.snapshot_files();
        let d = clinic.descriptor();
        for (extra, named) in [
            (&["--yes", "--no-files", "--as", "u-1"][..], "--as"),
            (
                &["--yes", "--no-files", "--allow-other-site"][..],
                "--allow-other-site",
            ),
        ] {
            let mut args = vec!["restore".as_ref(), archive.as_os_str(), d.as_os_str()];
            args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
            let result = run(&args).expect(1);
            assert_mentions(&result.stderr, &[named, "nothing was changed"]);
            assert_eq!(
                clinic.snapshot_files(),
                before,
                "{kind:?} {extra:?} changed files"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// the demo

#[test]
fn db_the_demo_descriptor_creates_an_archive_that_validates() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("fixtures/db-demo"), copy.path());
    let archive = copy.path().join("northwind.zip");
    create(&copy.path().join("northwind.toml"), &archive, &[]);
    validate(&archive);
    let entries = read_archive(&archive);
    assert!(has_entry(&entries, "db/schema.json"));
    assert_absent(&entries, &["bluefin", "Bluefin"]);
    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
    assert_eq!(manifest["site"]["id"], "northwind", "{manifest:#}");
}

#[test]
fn db_an_archive_never_overwrites_or_enters_the_sites_own_parts() {
    let clinic = Clinic::new(Kind::Sqlite);
    let database = clinic.root().join("clinic.db");
    let before = std::fs::read(&database).unwrap();
    let descriptor_before = std::fs::read(clinic.descriptor()).unwrap();
    // A first backup makes the state directory.
    crate::util::create(&clinic.descriptor(), &clinic.root().join("first.zip"), &[]);
    let cases = [
        (database.clone(), "over the database file"),
        (clinic.descriptor(), "over the site descriptor"),
        (clinic.state_dir().join("x.zip"), "into the state directory"),
        (
            clinic.root().join("uploads/harbor/x.zip"),
            "into the uploads directory",
        ),
    ];
    for (output, words) in cases {
        let result = crate::util::try_create(&clinic.descriptor(), &output, &["--force"]);
        assert_eq!(result.code, 2, "{}: {}", output.display(), result.stderr);
        assert_mentions(&result.stderr, &[words, "write it somewhere else"]);
    }
    assert!(
        std::fs::read(&database).unwrap() == before,
        "the database changed"
    );
    assert_eq!(
        std::fs::read(clinic.descriptor()).unwrap(),
        descriptor_before
    );
    assert!(!clinic.state_dir().join("x.zip").exists());
    assert!(!clinic.root().join("uploads/harbor/x.zip").exists());

    // Uploads that hold the database (or the state) would carry every tenant's rows.
    clinic.write_descriptor(
        &clinic
            .descriptor_text()
            .replace("dir = \"uploads/harbor\"", "dir = \".\""),
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["[files] dir", "holds the database file"]);
}

#[test]
fn db_a_credential_in_a_refused_rows_key_never_reaches_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    rusqlite::Connection::open(dir.path().join("keys.db"))
        .unwrap()
        .execute_batch(&format!(
            "CREATE TABLE vault (token TEXT PRIMARY KEY, org TEXT NOT NULL, n INTEGER);
             INSERT INTO vault VALUES ('{key}', 'lab', 'not a number');"
        ))
        .unwrap();
    let descriptor = dir.path().join("keys.toml");
    std::fs::write(
        &descriptor,
        "[site]\nid = \"lab\"\nname = \"Lab\"\nurl = \"https://lab.example\"\n\
         [database]\nurl = \"sqlite:keys.db\"\ntenant_column = \"org\"\ntenant = \"lab\"\n",
    )
    .unwrap();
    let failed = crate::util::try_create(&descriptor, dir.path().join("keys.zip"), &["--json"]);
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert_mentions(&failed.stderr, &["\"vault\"", "\"n\""]);
    let log =
        std::fs::read_to_string(dir.path().join(".keys.sitepack/.sitepack/audit.jsonl")).unwrap();
    assert!(log.contains("vault") && log.contains("\"failed\""), "{log}");
    for shown in [&failed.stderr, &failed.stdout, &log] {
        assert!(!shown.contains(key), "{shown}");
    }
}

#[test]
fn db_links_do_not_get_the_sites_own_parts_into_its_uploads() {
    // The uploads directory is a link to the database's directory.
    let clinic = Clinic::new(Kind::Sqlite);
    std::os::unix::fs::symlink(clinic.root(), clinic.root().join("linked-uploads")).unwrap();
    clinic.write_descriptor(
        &clinic
            .descriptor_text()
            .replace("dir = \"uploads/harbor\"", "dir = \"linked-uploads\""),
    );
    let message = refused_create(&clinic);
    assert_mentions(&message, &["holds the database file"]);

    // The state directory is a link into the uploads: refused before anything is made.
    let clinic = Clinic::new(Kind::Sqlite);
    std::os::unix::fs::symlink(
        clinic.root().join("uploads/harbor"),
        clinic.root().join("state-link"),
    )
    .unwrap();
    clinic.write_descriptor(&format!(
        "{}\n[state]\ndir = \"state-link\"\n",
        clinic.descriptor_text()
    ));
    let result = crate::util::try_create(&clinic.descriptor(), clinic.out("x.zip"), &[]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert_mentions(&result.stderr, &["holds the state directory"]);
    assert!(!clinic.root().join("uploads/harbor/.sitepack").exists());

    // SQLite's journal beside the database is the database's too.
    let clinic = Clinic::new(Kind::Sqlite);
    let journal = clinic.root().join("clinic.db-journal");
    let result = crate::util::try_create(&clinic.descriptor(), &journal, &[]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert_mentions(&result.stderr, &["a file of the SQLite database"]);
    assert!(!journal.exists());
}

#[test]
fn db_stored_backups_stay_out_of_the_uploads() {
    let clinic = Clinic::new(Kind::Sqlite);
    let uploads = clinic.root().join("uploads/harbor/backups");
    let result = run([
        "create".as_ref(),
        clinic.descriptor().as_os_str(),
        "--to".as_ref(),
        uploads.as_os_str(),
    ]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(!uploads.exists());

    // auto run: the same target in config.toml fails the run, and says why.
    let internal = clinic.state_dir().join(".sitepack");
    std::fs::create_dir_all(&internal).unwrap();
    std::fs::write(
        internal.join("config.toml"),
        format!("[auto]\ntarget = \"{}\"\n", uploads.display()),
    )
    .unwrap();
    let result = run([
        "auto".as_ref(),
        "run".as_ref(),
        clinic.descriptor().as_os_str(),
    ]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert_mentions(&result.stderr, &["backups"]);
    assert!(!uploads.exists());
}
