//! `sitepack restore ARCHIVE SITE.toml` and its review (`status`, `keep`, `revert`) on
//! real SQLite files and real PostgreSQL databases (each test makes its own, dropped when
//! it ends). A shop schema of this file's own: `tenants` (the tenant table), `customers`
//! (tenant rows, a `password` column sitepack redacts in archives), `orders` (linked
//! through the customer), `currencies` (reference); two tenants, `acme` (restored) and
//! `beta` (never touched).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::postgres::PgDb;
use crate::util::{Run, create, run};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

const BOTH: [Kind; 2] = [Kind::Sqlite, Kind::Postgres];

const SCHEMA: &str = "
CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE currencies (code TEXT PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE customers (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, password TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), currency TEXT REFERENCES currencies(code), note TEXT);
INSERT INTO tenants VALUES ('acme', 'Acme Anvils'), ('beta', 'Beta Bakery');
INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'Dollar'), ('JPY', 'Yen');
";

/// A shop database with `customers` acme customers (one order each) and 3 beta ones, and
/// the descriptor `shop.toml` (tenant acme) beside it.
struct Shop {
    dir: tempfile::TempDir,
    pg: Option<PgDb>,
}

impl Shop {
    fn new(kind: Kind, customers: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = (kind == Kind::Postgres).then(|| PgDb::new("sitepack_dbrestore"));
        let shop = Self { dir, pg };
        shop.execute(SCHEMA);
        let mut sql = String::new();
        for id in 1..=customers {
            let password = if id % 2 == 0 {
                "'postgres://app:hunter2@db.example/shop'".to_owned()
            } else {
                format!("'pw-{id}'")
            };
            writeln!(
                sql,
                "INSERT INTO customers VALUES ({id}, 'acme', 'customer {id}', {password});"
            )
            .unwrap();
            writeln!(
                sql,
                "INSERT INTO orders VALUES ({}, {id}, 'EUR', 'order of {id}');",
                id + 100_000
            )
            .unwrap();
        }
        for id in 900_001..=900_003 {
            writeln!(
                sql,
                "INSERT INTO customers VALUES ({id}, 'beta', 'beta customer {id}', 'beta-pw');"
            )
            .unwrap();
            writeln!(
                sql,
                "INSERT INTO orders VALUES ({}, {id}, 'USD', 'beta order');",
                id + 100_000
            )
            .unwrap();
        }
        shop.execute(&format!("BEGIN; {sql} COMMIT;"));
        shop.write_descriptor("shop.toml", "");
        shop
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn descriptor(&self) -> PathBuf {
        self.root().join("shop.toml")
    }

    fn state_dir(&self) -> PathBuf {
        self.root().join(".shop.sitepack")
    }

    fn url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url(),
            None => "sqlite:shop.db".to_owned(),
        }
    }

    /// Writes a descriptor of tenant acme called `name`, with `extra` appended.
    fn write_descriptor(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.root().join(name);
        std::fs::write(
            &path,
            format!(
                "[site]\nid = \"acme\"\nname = \"Acme Anvils\"\nurl = \"https://acme.example\"\n\n\
                 [database]\nurl = \"{}\"\ntenant_column = \"tenant_id\"\ntenant = \"acme\"\n\
                 tenant_table = \"tenants\"\n{extra}",
                self.url()
            ),
        )
        .unwrap();
        path
    }

    /// Writes a descriptor of tenant `tenant` called `name`.
    fn tenant_descriptor(&self, name: &str, tenant: &str) -> PathBuf {
        let path = self.root().join(name);
        std::fs::write(
            &path,
            format!(
                "[site]\nid = \"{tenant}\"\nname = \"{tenant}\"\nurl = \"https://{tenant}.example\"\n\n\
                 [database]\nurl = \"{}\"\ntenant_column = \"tenant_id\"\ntenant = \"{tenant}\"\n\
                 tenant_table = \"tenants\"\n",
                self.url()
            ),
        )
        .unwrap();
        path
    }

    fn execute(&self, sql: &str) {
        match &self.pg {
            Some(pg) => postgres::Client::connect(&pg.url(), postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
            None => rusqlite::Connection::open(self.root().join("shop.db"))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
        }
    }

    fn strings(&self, sql: &str) -> BTreeSet<String> {
        if let Some(pg) = &self.pg {
            return postgres::Client::connect(&pg.url(), postgres::NoTls)
                .unwrap()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect();
        }
        let connection = rusqlite::Connection::open(self.root().join("shop.db")).unwrap();
        let mut statement = connection.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Every row of a tenant, as text.
    fn rows(&self, tenant: &str) -> BTreeSet<String> {
        let mut rows = self.strings(&format!(
            "SELECT 'tenant ' || id || '|' || name FROM tenants WHERE id = '{tenant}'"
        ));
        rows.extend(self.strings(&format!(
            "SELECT 'customer ' || id || '|' || name || '|' || COALESCE(password, '<null>') \
             FROM customers WHERE tenant_id = '{tenant}'"
        )));
        rows.extend(self.strings(&format!(
            "SELECT 'order ' || o.id || '|' || o.customer_id || '|' || COALESCE(o.currency, '<null>') \
             || '|' || COALESCE(o.note, '<null>') FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE c.tenant_id = '{tenant}'"
        )));
        rows
    }

    /// Rows deleted, changed and added for acme.
    fn damage(&self) {
        self.execute(
            "DELETE FROM orders WHERE id = 100003;
             DELETE FROM customers WHERE id = 3;
             UPDATE customers SET name = 'renamed by mistake', password = 'changed-pw' WHERE id = 1;
             UPDATE orders SET note = 'changed note', currency = 'JPY' WHERE id = 100002;
             INSERT INTO customers VALUES (5000, 'acme', 'added since', 'added-pw');
             INSERT INTO orders VALUES (105000, 5000, 'USD', 'added order');",
        );
    }

    /// The snapshots (and temporary files) in the state directory, without the
    /// `.committed` copies of their markers.
    fn snapshot_files(&self) -> Vec<String> {
        self.snapshot_dir_entries()
            .into_iter()
            .filter(|name| !name.ends_with(".committed"))
            .collect()
    }

    fn snapshot_dir_entries(&self) -> Vec<String> {
        let dir = self.state_dir().join(".sitepack/db-snapshots");
        let mut names: Vec<String> = std::fs::read_dir(dir).map_or_else(
            |_| Vec::new(),
            |entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            },
        );
        names.sort();
        names
    }
}

fn restore(archive: &Path, site: &Path, args: &[&str]) -> Run {
    let mut command = vec![
        "restore".as_ref(),
        archive.as_os_str(),
        site.as_os_str(),
        "--no-progress".as_ref(),
    ];
    command.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(command)
}

fn review(command: &str, site: &Path) -> Run {
    run([command.as_ref(), site.as_os_str(), "--json".as_ref()])
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

fn audit_operations(site: &Path) -> Vec<String> {
    let run = run(["audit".as_ref(), site.as_os_str(), "--json".as_ref()]).expect(0);
    let events = json(&run);
    let events = events
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| events.as_array().cloned().unwrap_or_default());
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn db_restore_replace_gives_back_the_archive_and_revert_the_damage() {
    for kind in BOTH {
        let shop = Shop::new(kind, 20);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        let archived = shop.rows("acme");
        let beta = shop.rows("beta");
        shop.damage();
        let damaged = shop.rows("acme");
        assert_ne!(damaged, archived);

        let done = restore(
            &archive,
            &shop.descriptor(),
            &["--mode", "replace", "--yes", "--json"],
        )
        .expect(0);
        let done = json(&done);
        assert_eq!(done["plan"]["mode"], "replace", "{kind:?}");
        let customers = done["plan"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "customers")
            .unwrap();
        assert_eq!(customers["archive_rows"], 20);
        assert_eq!(customers["target_rows"], 20);
        // The archive redacted the passwords: the restored rows have none.
        let mut expected = archived.clone();
        expected = expected
            .into_iter()
            .map(|row| match row.strip_prefix("customer ") {
                Some(rest) => {
                    let (keep, _) = rest.rsplit_once('|').unwrap();
                    format!("customer {keep}|<null>")
                }
                None => row,
            })
            .collect();
        // Passwords that are no secret by shape travel (`pw-N` under a `password`
        // column is redacted by its name; every one is).
        assert_eq!(shop.rows("acme"), expected, "{kind:?}");
        assert_eq!(
            shop.rows("beta"),
            beta,
            "{kind:?}: the other tenant changed"
        );

        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert_eq!(status["pending"]["mode"], "replace", "{kind:?}: {status}");
        assert_eq!(shop.snapshot_files().len(), 1);

        // A second restore is refused, here and from another machine's state directory.
        let again = restore(&archive, &shop.descriptor(), &["--yes"]).expect(1);
        assert!(
            again.stderr.contains("keep") && again.stderr.contains("revert"),
            "{}",
            again.stderr
        );
        let other = shop.write_descriptor("other.toml", "[state]\ndir = \"other-machine\"\n");
        let from_other = restore(&archive, &other, &["--yes"]).expect(1);
        assert!(
            from_other.stderr.contains("pending review"),
            "{}",
            from_other.stderr
        );
        let other_status = json(&review("status", &other).expect(0));
        assert_eq!(other_status["pending"]["snapshot_present"], false);
        assert_eq!(
            shop.rows("acme"),
            expected,
            "{kind:?}: a refused restore changed rows"
        );

        let reverted = json(&review("revert", &shop.descriptor()).expect(0));
        assert_eq!(reverted["settled"], "reverted");
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}: revert is not exact");
        assert_eq!(shop.rows("beta"), beta);
        assert!(shop.snapshot_files().is_empty());
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null(), "{status}");
        review("keep", &shop.descriptor()).expect(1);
        let ops = audit_operations(&shop.descriptor());
        for wanted in ["restore ok", "restore refused", "revert ok", "keep refused"] {
            assert!(
                ops.iter().any(|o| o == wanted),
                "{kind:?}: {wanted} not in {ops:?}"
            );
        }
    }
}

#[test]
fn db_merge_keeps_rows_the_archive_lacks_and_keep_drops_the_snapshot() {
    for kind in BOTH {
        let shop = Shop::new(kind, 10);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.damage();
        restore(&archive, &shop.descriptor(), &["--mode", "merge", "--yes"]).expect(0);
        let rows = shop.rows("acme");
        // Added since: kept. Deleted: back. Changed: the archive's (the password, redacted
        // in the archive, stays as the target had it).
        assert!(
            rows.contains("customer 5000|added since|added-pw"),
            "{kind:?}: {rows:?}"
        );
        assert!(rows.contains("order 105000|5000|USD|added order"));
        assert!(rows.contains("customer 3|customer 3|<null>"), "{rows:?}");
        assert!(rows.contains("order 100003|3|EUR|order of 3"));
        assert!(
            rows.contains("customer 1|customer 1|changed-pw"),
            "{rows:?}"
        );
        assert!(rows.contains("order 100002|2|EUR|order of 2"));
        assert_eq!(shop.snapshot_files().len(), 1);
        let kept = json(&review("keep", &shop.descriptor()).expect(0));
        assert_eq!(kept["settled"], "kept");
        assert!(shop.snapshot_files().is_empty());
        assert_eq!(shop.rows("acme"), rows, "keep changed rows");
        // sitepack's own table never travels: not in a backup, not among the skipped.
        let after = shop.root().join("after.zip");
        create(&shop.descriptor(), &after, &[]);
        let entries = crate::util::read_archive(&after);
        assert!(
            entries
                .values()
                .all(|bytes| !String::from_utf8_lossy(bytes).contains("sitepack_restore_state")),
            "{kind:?}: the state table travelled"
        );
        // Nothing pending: a new restore may run.
        restore(&archive, &shop.descriptor(), &["--dry-run"]).expect(0);
        restore(
            &archive,
            &shop.descriptor(),
            &["--yes", "--mode", "replace"],
        )
        .expect(0);
        review("keep", &shop.descriptor()).expect(0);
    }
}

#[test]
fn db_a_refused_restore_changes_nothing_and_names_every_reason() {
    for kind in BOTH {
        let shop = Shop::new(kind, 5);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        // Two problems: a reference row gone, a column added NOT NULL without default.
        // (PostgreSQL: the foreign key's trigger set aside for this session, as a broken
        // database would have it.)
        let unchecked = if kind == Kind::Postgres {
            "SET session_replication_role = replica;"
        } else {
            "PRAGMA foreign_keys = OFF;"
        };
        shop.execute(&format!(
            "{unchecked} DELETE FROM currencies WHERE code = 'EUR';
             ALTER TABLE customers ADD COLUMN vip_level INTEGER NOT NULL DEFAULT 0;"
        ));
        // (the DEFAULT keeps the ALTER possible; dropping it makes the column unfillable)
        match kind {
            Kind::Postgres => shop.execute("ALTER TABLE customers ALTER COLUMN vip_level DROP DEFAULT"),
            Kind::Sqlite => shop.execute(
                "PRAGMA foreign_keys = OFF; CREATE TABLE c2 (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, password TEXT, vip_level INTEGER NOT NULL);
                 INSERT INTO c2 SELECT * FROM customers; DROP TABLE customers; ALTER TABLE c2 RENAME TO customers;",
            ),
        }
        let before = shop.rows("acme");
        let refused = restore(
            &archive,
            &shop.descriptor(),
            &["--yes", "--mode", "replace"],
        )
        .expect(1);
        assert!(
            refused.stderr.contains("EUR"),
            "{kind:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("vip_level"),
            "{kind:?}: {}",
            refused.stderr
        );
        // Said once, as a list; the plan shown says it was refused, not a dry run.
        assert!(
            refused
                .stderr
                .contains("restore refused; nothing was changed:\n  - ")
                && !refused.stderr.contains("the restore is refused"),
            "{kind:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stdout.contains("(refused: nothing is changed)")
                && !refused.stdout.contains("dry run"),
            "{kind:?}: {}",
            refused.stdout
        );
        assert_eq!(shop.rows("acme"), before);
        assert!(shop.snapshot_files().is_empty());
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null());
        // preview --against says the same, and exits 1.
        let preview = run([
            "preview".as_ref(),
            archive.as_os_str(),
            "--against".as_ref(),
            shop.descriptor().as_os_str(),
            "--json".as_ref(),
        ])
        .expect(1);
        let preview = json(&preview);
        assert!(
            !preview["against"]["replace"]["refusals"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn db_restore_asks_for_yes_refuses_unsupported_options_and_files() {
    let shop = Shop::new(Kind::Sqlite, 3);
    std::fs::create_dir_all(shop.root().join("uploads")).unwrap();
    std::fs::write(shop.root().join("uploads/logo.txt"), "logo\n").unwrap();
    let with_files = shop.write_descriptor("files.toml", "[files]\ndir = \"uploads\"\n");
    let archive = shop.root().join("acme.zip");
    create(&with_files, &archive, &[]);
    shop.damage();
    let before = shop.rows("acme");
    let no_yes = restore(&archive, &with_files, &[]).expect(1);
    assert!(no_yes.stderr.contains("--yes"), "{}", no_yes.stderr);
    // Files, and no place for them in the descriptor: refused, naming the way out.
    let files = restore(&archive, &shop.descriptor(), &["--yes"]).expect(1);
    assert!(
        files.stderr.contains("[files] dir") && files.stderr.contains("--no-files"),
        "{}",
        files.stderr
    );
    let as_user = restore(
        &archive,
        &with_files,
        &["--yes", "--no-files", "--as", "u-1"],
    )
    .expect(1);
    assert!(as_user.stderr.contains("--as"), "{}", as_user.stderr);
    let dry = restore(&archive, &with_files, &["--dry-run", "--no-files"]).expect(0);
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    assert_eq!(shop.rows("acme"), before);
    restore(
        &archive,
        &with_files,
        &["--yes", "--no-files", "--mode", "replace"],
    )
    .expect(0);
    assert_ne!(shop.rows("acme"), before);
    review("revert", &with_files).expect(0);
    assert_eq!(shop.rows("acme"), before);
}

/// `sitepack restore ARCHIVE SITE --yes --mode replace --no-progress`, to run.
fn replace_command(archive: &Path, site: &Path) -> std::process::Command {
    let mut command = crate::util::sitepack();
    command.args([
        "restore".as_ref(),
        archive.as_os_str(),
        site.as_os_str(),
        "--yes".as_ref(),
        "--mode".as_ref(),
        "replace".as_ref(),
        "--no-progress".as_ref(),
    ]);
    command
}

/// Runs `sitepack restore …` with `SITEPACK_FAILPOINT=point`, which must kill it.
fn killed_restore(point: &str, archive: &Path, site: &Path) {
    let output = replace_command(archive, site)
        .env("SITEPACK_FAILPOINT", point)
        .output()
        .unwrap();
    assert_eq!(
        output.status.signal(),
        Some(9),
        "{point}: not killed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn db_a_killed_restore_leaves_the_tenant_before_or_after_and_the_state_truthful() {
    for kind in BOTH {
        let shop = Shop::new(kind, 3000);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.damage();
        let damaged = shop.rows("acme");
        let beta = shop.rows("beta");

        // Killed with the snapshot written and the marker inserted, before COMMIT: rolled
        // back; the snapshot is no one's and the next command removes it.
        killed_restore("db-restore:snapshot-written", &archive, &shop.descriptor());
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}: not rolled back");
        assert_eq!(shop.snapshot_files().len(), 1, "{kind:?}");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null(), "{kind:?}: {status}");
        assert_eq!(
            status["removed_snapshots"].as_array().map(Vec::len),
            Some(1)
        );
        assert!(shop.snapshot_files().is_empty());
        assert!(
            audit_operations(&shop.descriptor()).contains(&"recover ok".to_owned()),
            "{kind:?}"
        );

        // Killed after COMMIT: restored and pending, with its snapshot.
        killed_restore("db-restore:committed", &archive, &shop.descriptor());
        let restored = shop.rows("acme");
        assert_ne!(restored, damaged, "{kind:?}");
        // The tenant's row, 3000 customers and 3000 orders, as archived.
        assert_eq!(restored.len(), 6001, "{kind:?}");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert_eq!(
            status["pending"]["snapshot_present"], true,
            "{kind:?}: {status}"
        );
        // Another restore is refused; revert gives back the damaged rows exactly.
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(1);
        review("revert", &shop.descriptor()).expect(0);
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
        assert_eq!(shop.rows("beta"), beta, "{kind:?}");
        assert!(shop.snapshot_files().is_empty());
    }
}

#[test]
fn db_postgres_a_restore_killed_at_any_moment_leaves_the_tenant_whole_and_status_truthful() {
    let shop = Shop::new(Kind::Postgres, 4000);
    let archive = shop.root().join("acme.zip");
    create(&shop.descriptor(), &archive, &[]);
    shop.damage();
    let damaged = shop.rows("acme");
    let beta = shop.rows("beta");
    // How long a whole restore takes, and what it leaves.
    let started = std::time::Instant::now();
    restore(
        &archive,
        &shop.descriptor(),
        &["--yes", "--mode", "replace"],
    )
    .expect(0);
    let whole = started.elapsed();
    let restored = shop.rows("acme");
    assert_ne!(restored, damaged);
    review("revert", &shop.descriptor()).expect(0);
    assert_eq!(shop.rows("acme"), damaged);

    // Killed at moments spread over the whole run: validating, planning, writing the
    // snapshot, copying and changing rows, committing.
    let mut seen = BTreeSet::new();
    for step in 1..=9 {
        let at = whole * step / 10;
        let mut child = replace_command(&archive, &shop.descriptor())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill();
        child.wait().unwrap();
        let now = shop.rows("acme");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        if now == restored {
            assert_eq!(
                status["pending"]["snapshot_present"], true,
                "killed at {at:?}: restored but not pending: {status}"
            );
            review("revert", &shop.descriptor()).expect(0);
            seen.insert("after");
        } else {
            assert_eq!(now, damaged, "killed at {at:?}: neither before nor after");
            assert!(
                status["pending"].is_null(),
                "killed at {at:?}: rolled back but pending: {status}"
            );
            seen.insert("before");
        }
        assert_eq!(shop.rows("acme"), damaged, "killed at {at:?}");
        assert_eq!(shop.rows("beta"), beta, "killed at {at:?}");
        assert!(
            shop.snapshot_files().is_empty(),
            "killed at {at:?}: {:?}",
            shop.snapshot_files()
        );
    }
    // The moments reached both sides of the commit.
    assert!(seen.contains("before"), "{seen:?}");
}

#[test]
fn db_a_lost_marker_never_costs_the_snapshot_of_a_committed_restore() {
    for kind in BOTH {
        let shop = Shop::new(kind, 20);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.damage();
        let damaged = shop.rows("acme");
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
        let snapshots = shop.snapshot_files();
        assert_eq!(snapshots.len(), 1, "{kind:?}");
        // The committed restore's copy of its marker lies beside the snapshot.
        assert_eq!(
            shop.snapshot_dir_entries(),
            [snapshots[0].clone(), format!("{}.committed", snapshots[0])],
            "{kind:?}"
        );
        // The application's migrations drop sitepack's table while the restore is
        // pending: the snapshot is still the restore's way back, never an orphan.
        shop.execute("DROP TABLE sitepack_restore_state");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert_eq!(status["pending"]["marker_lost"], true, "{kind:?}: {status}");
        assert_eq!(
            status["pending"]["archive"].as_str(),
            archive.to_str(),
            "{kind:?}: {status}"
        );
        assert_eq!(
            shop.snapshot_files(),
            snapshots,
            "{kind:?}: snapshot removed"
        );
        // Another restore waits for the review; revert puts the damaged rows back.
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(1);
        assert_eq!(shop.snapshot_files(), snapshots, "{kind:?}");
        review("revert", &shop.descriptor()).expect(0);
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
        assert!(shop.snapshot_dir_entries().is_empty(), "{kind:?}");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null(), "{kind:?}: {status}");

        // The row deleted while the table stays (another tenant's restore made the table
        // again): the same. Then a revert killed after its COMMIT is not made twice.
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
        shop.execute("DELETE FROM sitepack_restore_state");
        // A dry run, which changes nothing, sees the restore pending too.
        let dry = restore(&archive, &shop.descriptor(), &["--dry-run"]).expect(1);
        assert!(
            dry.stderr.contains("pending review"),
            "{kind:?}: {}",
            dry.stderr
        );
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert_eq!(status["pending"]["marker_lost"], true, "{kind:?}: {status}");
        let output = crate::util::sitepack()
            .args(["revert".as_ref(), shop.descriptor().as_os_str()])
            .env("SITEPACK_FAILPOINT", "db-revert:committed")
            .output()
            .unwrap();
        assert_eq!(output.status.signal(), Some(9), "{kind:?}: not killed");
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
        shop.execute("INSERT INTO customers VALUES (7000, 'acme', 'after the revert', NULL)");
        let after = shop.rows("acme");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null(), "{kind:?}: {status}");
        review("revert", &shop.descriptor()).expect(1);
        assert_eq!(shop.rows("acme"), after, "{kind:?}");
        assert!(shop.snapshot_dir_entries().is_empty(), "{kind:?}");

        // And keep, after the table is dropped.
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
        shop.execute("DROP TABLE sitepack_restore_state");
        review("keep", &shop.descriptor()).expect(0);
        assert!(shop.snapshot_dir_entries().is_empty(), "{kind:?}");
        assert_ne!(shop.rows("acme"), after, "{kind:?}");
    }
}

#[test]
fn db_an_application_table_named_like_sitepacks_state_is_named_and_never_used() {
    for kind in BOTH {
        let shop = Shop::new(kind, 5);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.execute("CREATE TABLE sitepack_restore_state (id INTEGER PRIMARY KEY, note TEXT)");
        let before = shop.rows("acme");
        // Neither can tell what is pending: an error, nothing changed.
        for run in [
            review("status", &shop.descriptor()),
            restore(&archive, &shop.descriptor(), &["--yes"]),
        ] {
            let run = run.expect(2);
            assert!(
                run.stderr.contains("is not sitepack's") && run.stderr.contains("rename"),
                "{kind:?}: {}",
                run.stderr
            );
        }
        assert_eq!(shop.rows("acme"), before, "{kind:?}");
    }
}

#[test]
fn db_a_marker_naming_a_path_is_refused_and_no_file_is_touched() {
    for kind in BOTH {
        let shop = Shop::new(kind, 5);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        // The first restore makes the state table; it is kept.
        restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
        review("keep", &shop.descriptor()).expect(0);
        let victim = shop.root().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        for name in [
            victim.display().to_string(),
            "../../../victim.txt".to_owned(),
        ] {
            shop.execute(&format!(
                "DELETE FROM sitepack_restore_state; INSERT INTO sitepack_restore_state VALUES \
                 ('tenant_id=\"acme\"', '{name}', '00', 'replace', 'x.zip', '2026-01-01T00:00:00Z')"
            ));
            // status cannot say what is pending (an error); keep and revert refuse.
            for (command, code) in [("status", 2), ("keep", 1), ("revert", 1)] {
                let run = review(command, &shop.descriptor()).expect(code);
                assert!(
                    run.stderr.contains("not a snapshot name"),
                    "{kind:?} {command}: {}",
                    run.stderr
                );
            }
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
            assert!(!shop.root().join("victim.txt.committed").exists());
        }
    }
}

#[test]
fn db_a_row_the_database_refuses_is_a_refusal_named_and_audited_as_one() {
    for kind in BOTH {
        let shop = Shop::new(kind, 20);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.damage();
        // A rule the application added since the backup, which an archived row breaks.
        match kind {
            Kind::Postgres => shop.execute(
                "ALTER TABLE customers ADD CONSTRAINT short_names CHECK (length(name) < 10) NOT VALID",
            ),
            Kind::Sqlite => shop.execute(
                "CREATE TRIGGER short_names BEFORE INSERT ON customers WHEN length(NEW.name) >= 10 \
                 BEGIN SELECT RAISE(ABORT, 'names must be short'); END;",
            ),
        }
        let damaged = shop.rows("acme");
        let refused = restore(
            &archive,
            &shop.descriptor(),
            &["--yes", "--mode", "replace"],
        )
        .expect(1);
        assert!(
            refused.stderr.contains("customers") && refused.stderr.contains("nothing was changed"),
            "{kind:?}: {}",
            refused.stderr
        );
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
        assert!(shop.snapshot_files().is_empty(), "{kind:?}");
        let operations = audit_operations(&shop.descriptor());
        assert_eq!(
            operations.last().map(String::as_str),
            Some("restore refused"),
            "{kind:?}: {operations:?}"
        );
    }
}

#[test]
fn db_postgres_a_restore_running_elsewhere_holds_the_tenants_lock() {
    let shop = Shop::new(Kind::Postgres, 5);
    let archive = shop.root().join("acme.zip");
    create(&shop.descriptor(), &archive, &[]);
    shop.damage();
    let before = shop.rows("acme");
    // Another session holds the tenant's restore lock, as a running restore does.
    let mut other = postgres::Client::connect(&shop.url(), postgres::NoTls).unwrap();
    let mut held = other.transaction().unwrap();
    held.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&"sitepack:public:tenant_id=\"acme\""],
    )
    .unwrap();
    let refused = restore(&archive, &shop.descriptor(), &["--yes"]).expect(1);
    assert!(
        refused.stderr.contains("another restore"),
        "{}",
        refused.stderr
    );
    assert_eq!(shop.rows("acme"), before);
    assert!(
        shop.snapshot_files().is_empty(),
        "the refused restore left its snapshot"
    );
    held.rollback().unwrap();
    restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
    review("revert", &shop.descriptor()).expect(0);
    assert_eq!(shop.rows("acme"), before);
}

/// The snapshot of the pending restore.
fn the_snapshot(shop: &Shop) -> PathBuf {
    let files = shop.snapshot_files();
    assert_eq!(files.len(), 1, "{files:?}");
    shop.state_dir()
        .join(".sitepack/db-snapshots")
        .join(&files[0])
}

#[test]
fn db_a_snapshot_is_only_trusted_as_its_own_and_a_changed_one_is_refused() {
    for kind in BOTH {
        let shop = Shop::new(kind, 4);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        shop.damage();
        let damaged = shop.rows("acme");
        restore(
            &archive,
            &shop.descriptor(),
            &["--yes", "--mode", "replace"],
        )
        .expect(0);
        let restored = shop.rows("acme");
        let snapshot = the_snapshot(&shop);
        // It holds the secrets whole: as an archive from elsewhere it is not valid.
        let validated = run(["validate".as_ref(), snapshot.as_os_str()]).expect(1);
        assert!(
            validated.stdout.contains("SECRET_PRESENT"),
            "{}",
            validated.stdout
        );
        // Changed on disk: the revert refuses it, nothing changes, the restore stays pending.
        let original = std::fs::read(&snapshot).unwrap();
        let mut changed = original.clone();
        let last = changed.len() - 1;
        changed[last] ^= 0x01;
        std::fs::write(&snapshot, &changed).unwrap();
        let refused = review("revert", &shop.descriptor());
        assert_ne!(refused.code, 0, "{kind:?}");
        assert_eq!(shop.rows("acme"), restored);
        std::fs::write(&snapshot, &original).unwrap();
        // A revert killed after its COMMIT: the rows are back, nothing is pending, and
        // the snapshot left behind is removed by the next command.
        let output = crate::util::sitepack()
            .args(["revert".as_ref(), shop.descriptor().as_os_str()])
            .env("SITEPACK_FAILPOINT", "db-revert:committed")
            .output()
            .unwrap();
        assert_eq!(output.status.signal(), Some(9), "{kind:?}: not killed");
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
        let status = json(&review("status", &shop.descriptor()).expect(0));
        assert!(status["pending"].is_null(), "{status}");
        assert!(shop.snapshot_files().is_empty());
    }
}

#[test]
fn db_a_table_scope_restore_reverts_exactly() {
    for kind in BOTH {
        let shop = Shop::new(kind, 6);
        let archive = shop.root().join("orders.zip");
        create(&shop.descriptor(), &archive, &["--scope", "table:orders"]);
        // A row the archive's orders reference gone: refused by the database, rolled back
        // (exit 1, nothing changed).
        shop.execute("DELETE FROM orders WHERE id = 100003; DELETE FROM customers WHERE id = 3;");
        let before = shop.rows("acme");
        let refused = restore(
            &archive,
            &shop.descriptor(),
            &["--yes", "--mode", "replace"],
        )
        .expect(1);
        assert!(
            refused.stderr.contains("customers"),
            "{kind:?}: {}",
            refused.stderr
        );
        assert_eq!(shop.rows("acme"), before);
        assert!(shop.snapshot_files().is_empty(), "{kind:?}");
        shop.execute(
            "INSERT INTO customers VALUES (3, 'acme', 'customer 3', NULL);
             UPDATE customers SET name = 'renamed by mistake' WHERE id = 1;
             UPDATE orders SET note = 'changed note', currency = 'JPY' WHERE id = 100002;
             DELETE FROM orders WHERE id = 100004;
             INSERT INTO orders VALUES (105000, 1, 'USD', 'added order');",
        );
        let damaged = shop.rows("acme");
        let done = json(
            &restore(
                &archive,
                &shop.descriptor(),
                &["--yes", "--json", "--mode", "replace"],
            )
            .expect(0),
        );
        assert_eq!(done["plan"]["scope"], "table:orders", "{kind:?}");
        let rows = shop.rows("acme");
        // The orders are the archive's (the changed one and the deleted one back, the
        // added one gone); the customers as they were.
        assert!(
            rows.contains("order 100002|2|EUR|order of 2"),
            "{kind:?}: {rows:?}"
        );
        assert!(rows.contains("order 100004|4|EUR|order of 4"), "{rows:?}");
        assert!(
            !rows.iter().any(|r| r.starts_with("order 105000")),
            "{rows:?}"
        );
        assert!(
            rows.contains("customer 1|renamed by mistake|pw-1"),
            "{rows:?}"
        );
        review("revert", &shop.descriptor()).expect(0);
        assert_eq!(shop.rows("acme"), damaged, "{kind:?}");
    }
}

#[test]
fn db_a_backup_while_a_restore_is_pending_keeps_its_snapshot() {
    let shop = Shop::new(Kind::Sqlite, 4);
    let archive = shop.root().join("acme.zip");
    create(&shop.descriptor(), &archive, &[]);
    shop.damage();
    let damaged = shop.rows("acme");
    restore(
        &archive,
        &shop.descriptor(),
        &["--yes", "--mode", "replace"],
    )
    .expect(0);
    let snapshot = the_snapshot(&shop);
    // A backup, stats and a dry run while it is pending touch neither the snapshot nor
    // the review (the directory sites' recovery is not the database site's).
    create(
        &shop.descriptor(),
        &shop.root().join("while-pending.zip"),
        &[],
    );
    run(["stats".as_ref(), shop.descriptor().as_os_str()]).expect(0);
    restore(&archive, &shop.descriptor(), &["--dry-run"]).expect(1);
    assert!(
        snapshot.is_file(),
        "the snapshot of the pending restore was removed"
    );
    review("revert", &shop.descriptor()).expect(0);
    assert_eq!(shop.rows("acme"), damaged);
}

/// A tenant's rows without their keys (nor the passwords, redacted from archives):
/// customers with their orders, followed through the tenant's own rows.
fn shape(shop: &Shop, tenant: &str) -> BTreeSet<String> {
    let mut rows = shop.strings(&format!(
        "SELECT 'tenant ' || name FROM tenants WHERE id = '{tenant}'"
    ));
    rows.extend(shop.strings(&format!(
        "SELECT 'customer ' || name FROM customers WHERE tenant_id = '{tenant}'"
    )));
    rows.extend(shop.strings(&format!(
        "SELECT 'order ' || c.name || '|' || COALESCE(o.currency, '<null>') || '|' || \
         COALESCE(o.note, '<null>') FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE c.tenant_id = '{tenant}'"
    )));
    rows
}

#[test]
fn db_restore_as_another_tenant_gives_fresh_keys_and_revert_gives_it_back() {
    for kind in BOTH {
        let shop = Shop::new(kind, 5);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        let beta = shop.tenant_descriptor("beta.toml", "beta");
        let acme_before = shop.rows("acme");
        let beta_before = shop.rows("beta");
        let acme_shape = shape(&shop, "acme");

        let other = restore(&archive, &beta, &["--yes", "--mode", "replace"]).expect(1);
        assert!(
            other.stderr.contains("--allow-other-site --as beta"),
            "{}",
            other.stderr
        );
        let no_allow = restore(&archive, &beta, &["--yes", "--as", "beta"]).expect(1);
        assert!(
            no_allow.stderr.contains("--allow-other-site"),
            "{}",
            no_allow.stderr
        );
        let wrong = restore(
            &archive,
            &beta,
            &["--yes", "--allow-other-site", "--as", "gamma"],
        )
        .expect(1);
        assert!(
            wrong.stderr.contains("--as gamma is not the tenant"),
            "{}",
            wrong.stderr
        );
        let rewrite = restore(
            &archive,
            &beta,
            &[
                "--yes",
                "--allow-other-site",
                "--as",
                "beta",
                "--no-rewrite",
            ],
        )
        .expect(1);
        assert!(
            rewrite.stderr.contains("--no-rewrite"),
            "{}",
            rewrite.stderr
        );
        assert_eq!(
            shop.rows("beta"),
            beta_before,
            "{kind:?}: refused, nothing changed"
        );

        let preview = run([
            "preview".as_ref(),
            archive.as_os_str(),
            "--against".as_ref(),
            beta.as_os_str(),
            "--allow-other-site".as_ref(),
            "--as".as_ref(),
            "beta".as_ref(),
            "--json".as_ref(),
        ])
        .expect(0);
        let replace = &json(&preview)["against"]["replace"];
        assert_eq!(replace["as_tenant"], "beta", "{replace}");
        assert_eq!(replace["refusals"].as_array().map(Vec::len), Some(0));

        let done = restore(
            &archive,
            &beta,
            &[
                "--yes",
                "--allow-other-site",
                "--as",
                "beta",
                "--mode",
                "replace",
                "--json",
            ],
        )
        .expect(0);
        let plan = &json(&done)["plan"];
        assert_eq!(plan["as_tenant"], "beta");
        assert!(
            plan["rekeyed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["table"] == "orders"
                    && c["column"] == "customer_id"
                    && c["change"] == "offset"
                    && c["follows"] == "customers.id"),
            "{plan}"
        );
        assert_eq!(shop.rows("acme"), acme_before, "{kind:?}: acme untouched");
        // acme's rows as beta's, every order with its customer; the keys are new ones.
        assert_eq!(shape(&shop, "beta"), acme_shape, "{kind:?}");
        let smallest: BTreeSet<String> =
            shop.strings("SELECT CAST(min(id) AS TEXT) FROM customers WHERE tenant_id = 'beta'");
        let smallest: i64 = smallest.first().unwrap().parse().unwrap();
        assert!(smallest > 900_003, "{kind:?}: {smallest}");

        review("revert", &beta).expect(0);
        assert_eq!(shop.rows("beta"), beta_before, "{kind:?}: reverted exactly");
        assert_eq!(shop.rows("acme"), acme_before);
    }
}

#[test]
fn db_init_from_template_makes_a_new_tenant_and_refuses_one_with_rows() {
    for kind in BOTH {
        let shop = Shop::new(kind, 4);
        let archive = shop.root().join("acme.zip");
        create(&shop.descriptor(), &archive, &[]);
        let acme_before = shop.rows("acme");
        let init = |site: &Path, extra: &[&str]| {
            let mut command = vec![
                "init".as_ref(),
                site.as_os_str(),
                "--from-template".as_ref(),
                archive.as_os_str(),
            ];
            command.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
            run(command)
        };
        let gamma = shop.tenant_descriptor("gamma.toml", "gamma");
        let identity = init(&gamma, &["--id", "gamma"]).expect(2);
        assert!(identity.stderr.contains("--id"), "{}", identity.stderr);
        assert!(shop.rows("gamma").is_empty());

        let made = init(&gamma, &["--json"]).expect(0);
        assert_eq!(json(&made)["plan"]["as_tenant"], "gamma");
        assert_eq!(
            shop.strings("SELECT name FROM customers WHERE tenant_id = 'gamma'")
                .len(),
            4,
            "{kind:?}"
        );
        assert_eq!(
            shop.strings("SELECT name FROM tenants WHERE id = 'gamma'"),
            BTreeSet::from(["Acme Anvils".to_owned()])
        );
        assert_eq!(shop.rows("acme"), acme_before);
        review("keep", &gamma).expect(0);

        let gamma_now = shop.rows("gamma");
        let again = init(&gamma, &[]).expect(1);
        assert!(again.stderr.contains("already holds"), "{}", again.stderr);
        assert_eq!(shop.rows("gamma"), gamma_now);
        let beta = shop.tenant_descriptor("beta.toml", "beta");
        let beta_before = shop.rows("beta");
        init(&beta, &[]).expect(1);
        assert_eq!(shop.rows("beta"), beta_before, "{kind:?}");
        let missing = shop.root().join("delta.toml");
        init(&missing, &[]).expect(2);
    }
}

/// Every file below `dir` with its bytes, and every link with its target (directories
/// are where files are: an archive holds no empty one).
fn tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut std::collections::BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).unwrap();
                out.insert(name, format!("link {}", target.display()));
            } else if kind.is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.insert(name, format!("file {bytes:?}"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// An uploads directory of the shop's tenant, and a descriptor (`files.toml`) naming it
/// (its state directory the shop's, whose snapshots `Shop` lists).
fn with_uploads(shop: &Shop) -> (PathBuf, PathBuf) {
    let uploads = shop.root().join("media/acme");
    for (path, bytes) in [
        ("logo.txt", b"the logo\n".to_vec()),
        ("docs/guide/intro.md", b"# Intro\n".to_vec()),
        ("users/1/avatar.bin", (0u8..=255).rev().collect()),
        ("users/2/notes.txt", b"user two\n".to_vec()),
    ] {
        let at = uploads.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, bytes).unwrap();
    }
    let descriptor = shop.write_descriptor(
        "files.toml",
        "users_table = \"customers\"\nowner_column = \"customer_id\"\n\n[files]\ndir = \"media/acme\"\n\n\
         [state]\ndir = \".shop.sitepack\"\n",
    );
    (uploads, descriptor)
}

/// [`with_uploads`], and a full backup of it (`acme.zip`).
fn backed_up_with_uploads(shop: &Shop) -> (PathBuf, PathBuf, PathBuf) {
    let (uploads, descriptor) = with_uploads(shop);
    let archive = shop.root().join("acme.zip");
    create(&descriptor, &archive, &[]);
    (uploads, descriptor, archive)
}

/// Changes, removes and adds uploaded files, and turns a file into a directory.
fn damage_uploads(uploads: &Path) {
    std::fs::write(uploads.join("logo.txt"), "another logo\n").unwrap();
    std::fs::remove_file(uploads.join("docs/guide/intro.md")).unwrap();
    std::fs::write(uploads.join("added.txt"), "added later\n").unwrap();
    std::fs::create_dir_all(uploads.join("users/1/avatar.bin.d")).unwrap();
    std::fs::write(uploads.join("users/2/notes.txt"), "rewritten\n").unwrap();
    std::fs::create_dir_all(uploads.join("users/3")).unwrap();
    std::fs::write(uploads.join("users/3/new.txt"), "user three\n").unwrap();
}

#[test]
fn db_restore_puts_back_the_uploaded_files_with_the_rows_and_revert_both() {
    for kind in BOTH {
        let shop = Shop::new(kind, 4);
        let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
        let archived = tree(&uploads);
        damage_uploads(&uploads);
        shop.damage();
        let (damaged_files, damaged_rows) = (tree(&uploads), shop.rows("acme"));

        let dry = restore(&archive, &descriptor, &["--dry-run", "--mode", "replace"]).expect(0);
        assert!(
            dry.stdout.contains("uploaded files"),
            "{kind:?}: {}",
            dry.stdout
        );
        assert_eq!(
            tree(&uploads),
            damaged_files,
            "{kind:?}: a dry run changed files"
        );

        let done = restore(
            &archive,
            &descriptor,
            &["--yes", "--mode", "replace", "--json"],
        );
        let done = json(&done.expect(0));
        assert_eq!(
            tree(&uploads),
            archived,
            "{kind:?}: not the archive's files"
        );
        assert_ne!(shop.rows("acme"), damaged_rows, "{kind:?}");
        let files = &done["restore"]["files"];
        // logo and users/2 rewritten, the guide put back; added.txt, users/3/new.txt
        // and the directory left in avatar's place removed.
        assert_eq!(files["written"], 3, "{kind:?}: {done}");
        assert_eq!(files["unchanged"], 1, "{kind:?}: {done}");
        assert_eq!(files["removed"], 2, "{kind:?}: {done}");
        let audit = run(["audit".as_ref(), descriptor.as_os_str(), "--json".as_ref()]).expect(0);
        let events = json(&audit)["events"].clone();
        let restored = events
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["type"] == "restore");
        assert_eq!(
            restored.unwrap()["details"]["files"],
            true,
            "{kind:?}: {events}"
        );
        // Nothing staged is left: only what the files' permissions were, for a revert.
        let staged = shop.state_dir().join(".sitepack/db-files");
        let left = crate::util::listing(&staged);
        assert!(
            left.len() == 1 && left[0].ends_with(".metadata.json"),
            "{kind:?}: {left:?}"
        );

        let reverted = json(&review("revert", &descriptor).expect(0));
        assert_eq!(tree(&uploads), damaged_files, "{kind:?}: revert");
        assert_eq!(shop.rows("acme"), damaged_rows, "{kind:?}: revert");
        assert!(
            reverted["files"]["written"].as_u64() > Some(0),
            "{reverted}"
        );
        assert!(crate::util::listing(&staged).is_empty(), "{kind:?}");
        assert!(shop.snapshot_files().is_empty(), "{kind:?}");
    }
}

#[test]
fn db_merge_writes_the_archives_files_over_and_keeps_the_others() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    std::fs::write(uploads.join("logo.txt"), "another logo\n").unwrap();
    std::fs::write(uploads.join("added.txt"), "added later\n").unwrap();
    let before = tree(&uploads);
    restore(&archive, &descriptor, &["--yes", "--mode", "merge"]).expect(0);
    let merged = tree(&uploads);
    assert_eq!(merged["logo.txt"], format!("file {:?}", b"the logo\n"));
    assert_eq!(merged["added.txt"], before["added.txt"]);
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), before);

    // A directory where the archive has a file: a merge refuses before anything changes.
    std::fs::remove_file(uploads.join("logo.txt")).unwrap();
    std::fs::create_dir(uploads.join("logo.txt")).unwrap();
    let rows = shop.rows("acme");
    let before = tree(&uploads);
    let refused = restore(&archive, &descriptor, &["--yes", "--mode", "merge"]).expect(1);
    assert!(refused.stderr.contains("logo.txt"), "{}", refused.stderr);
    assert_eq!(tree(&uploads), before);
    assert_eq!(shop.rows("acme"), rows);
    assert!(shop.snapshot_files().is_empty());
}

#[test]
fn db_a_user_archive_restores_only_that_users_files_and_no_files_none() {
    let shop = Shop::new(Kind::Sqlite, 3);
    let (uploads, descriptor) = with_uploads(&shop);
    let archive = shop.root().join("user1.zip");
    create(&descriptor, &archive, &["--scope", "user:1"]);
    // A link elsewhere in the uploads: refused (the snapshot reads them all), exit 1.
    std::os::unix::fs::symlink("/etc/hostname", uploads.join("docs/link.txt")).unwrap();
    let refused = restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(1);
    assert!(refused.stderr.contains("link.txt"), "{}", refused.stderr);
    std::fs::remove_file(uploads.join("docs/link.txt")).unwrap();
    damage_uploads(&uploads);
    let damaged = tree(&uploads);
    restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(0);
    // users/1 is the archive's again (the directory in its way gone); nothing outside
    // it moved.
    assert_eq!(tree(&uploads), damaged);
    assert!(!uploads.join("users/1/avatar.bin.d").exists());
    assert_eq!(
        std::fs::read(uploads.join("users/1/avatar.bin")).unwrap(),
        (0u8..=255).rev().collect::<Vec<u8>>()
    );
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), damaged);

    let full = shop.root().join("acme.zip");
    create(&descriptor, &full, &[]);
    restore(
        &full,
        &descriptor,
        &["--yes", "--mode", "replace", "--no-files"],
    )
    .expect(0);
    assert_eq!(tree(&uploads), damaged, "--no-files changed files");
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), damaged);
}

#[test]
fn db_a_restore_killed_between_its_commit_and_its_files_is_finished_by_the_next_command() {
    for kind in BOTH {
        let shop = Shop::new(kind, 3);
        let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
        let archived = tree(&uploads);
        damage_uploads(&uploads);
        let damaged = tree(&uploads);

        // Killed after COMMIT, before the files: the rows are restored, the files not yet.
        killed_restore("db-restore:committed", &archive, &descriptor);
        assert_eq!(tree(&uploads), damaged, "{kind:?}");
        let status = json(&review("status", &descriptor).expect(0));
        assert_eq!(
            status["files_finished"][0]["step"], "restore",
            "{kind:?}: {status}"
        );
        assert_eq!(
            tree(&uploads),
            archived,
            "{kind:?}: status did not finish the files"
        );
        assert_eq!(status["pending"]["snapshot_present"], true);

        // A revert killed after its COMMIT: the next command puts the files back.
        let output = crate::util::sitepack()
            .args(["revert".as_ref(), descriptor.as_os_str()])
            .env("SITEPACK_FAILPOINT", "db-revert:committed")
            .output()
            .unwrap();
        assert_eq!(output.status.signal(), Some(9), "{kind:?}");
        let status = run(["status".as_ref(), descriptor.as_os_str()]).expect(0);
        assert!(
            status.stderr.contains("finished the revert"),
            "{kind:?}: {}",
            status.stderr
        );
        assert!(json(&review("status", &descriptor).expect(0))["pending"].is_null());
        assert_eq!(tree(&uploads), damaged, "{kind:?}");
        assert!(shop.snapshot_files().is_empty(), "{kind:?}");

        // Killed with a file written beside its place, before its rename: the next
        // command finishes the files and removes that temporary file.
        killed_restore("db-files:temporary", &archive, &descriptor);
        let left = crate::util::listing(&uploads.join("docs/guide"));
        assert!(
            left.iter().any(|n| n.starts_with(".sitepack-")),
            "{kind:?}: {left:?}"
        );
        let dry = restore(&archive, &descriptor, &["--dry-run"]).expect(1);
        assert!(
            dry.stderr.contains("not all in place"),
            "{kind:?}: {}",
            dry.stderr
        );
        review("status", &descriptor).expect(0);
        assert_eq!(tree(&uploads), archived, "{kind:?}");
        review("revert", &descriptor).expect(0);
        assert_eq!(tree(&uploads), damaged, "{kind:?}");
        // The same in a merge, which removes nothing else.
        let output = crate::util::sitepack()
            .args([
                "restore".as_ref(),
                archive.as_os_str(),
                descriptor.as_os_str(),
            ])
            .args(["--yes", "--mode", "merge", "--no-progress"])
            .env("SITEPACK_FAILPOINT", "db-files:temporary")
            .output()
            .unwrap();
        assert_eq!(output.status.signal(), Some(9), "{kind:?}");
        review("status", &descriptor).expect(0);
        let temporaries: Vec<String> = tree(&uploads)
            .into_keys()
            .filter(|path| path.contains(".sitepack-"))
            .collect();
        assert!(temporaries.is_empty(), "{kind:?}: {temporaries:?}");
        review("revert", &descriptor).expect(0);
        assert_eq!(tree(&uploads), damaged, "{kind:?}");

        // Killed before COMMIT: nothing changed, the staged files are discarded.
        killed_restore("db-restore:snapshot-written", &archive, &descriptor);
        review("status", &descriptor).expect(0);
        assert_eq!(tree(&uploads), damaged, "{kind:?}");
        let staged = shop.state_dir().join(".sitepack/db-files");
        assert!(crate::util::listing(&staged).is_empty(), "{kind:?}");
    }
}

#[test]
fn db_a_link_in_the_uploads_is_never_followed() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    let outside = shop.root().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "not the site's\n").unwrap();
    std::fs::remove_dir_all(uploads.join("docs")).unwrap();
    std::os::unix::fs::symlink(&outside, uploads.join("docs")).unwrap();
    let rows = shop.rows("acme");
    // The snapshot cannot hold a link: refused whole, nothing changed anywhere.
    let refused = restore(&archive, &descriptor, &["--yes", "--mode", "replace"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(refused.stderr.contains("docs"), "{}", refused.stderr);
    assert_eq!(shop.rows("acme"), rows);
    assert!(uploads.join("docs").is_symlink());
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "not the site's\n"
    );
    assert_eq!(crate::util::listing(&outside), vec!["keep.txt".to_owned()]);
}

#[test]
fn db_two_tenants_never_share_a_state_directory_for_their_reviews() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let archive = shop.root().join("acme.zip");
    create(&shop.descriptor(), &archive, &[]);
    restore(&archive, &shop.descriptor(), &["--yes"]).expect(0);
    // beta's descriptor pointed at acme's state directory.
    let beta = shop.tenant_descriptor("beta.toml", "beta");
    let text = std::fs::read_to_string(&beta).unwrap();
    std::fs::write(
        &beta,
        format!("{text}\n[state]\ndir = \".shop.sitepack\"\n"),
    )
    .unwrap();
    let snapshots = shop.snapshot_dir_entries();
    for command in ["status", "keep", "revert"] {
        let refused = run([command.as_ref(), beta.as_os_str()]).expect(1);
        assert!(
            refused.stderr.contains("[state] dir"),
            "{command}: {}",
            refused.stderr
        );
        assert_eq!(shop.snapshot_dir_entries(), snapshots, "{command}");
    }
    let beta_archive = shop.root().join("beta.zip");
    create(&beta, &beta_archive, &[]);
    restore(&beta_archive, &beta, &["--yes"]).expect(1);
    restore(&beta_archive, &beta, &["--dry-run"]).expect(1);
    // acme's review goes on.
    review("revert", &shop.descriptor()).expect(0);
}

#[test]
fn db_an_uploads_directory_that_is_a_link_is_never_followed_by_restore_or_revert() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    let outside = shop.root().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("precious.conf"), "not the site's\n").unwrap();
    let moved = shop.root().join("media/moved");

    // Restore through a link: refused before anything changes.
    std::fs::rename(&uploads, &moved).unwrap();
    std::os::unix::fs::symlink(&outside, &uploads).unwrap();
    let rows = shop.rows("acme");
    let refused = restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(1);
    assert!(
        refused.stderr.contains("symbolic link"),
        "{}",
        refused.stderr
    );
    assert_eq!(shop.rows("acme"), rows);
    assert_eq!(
        crate::util::listing(&outside),
        vec!["precious.conf".to_owned()]
    );

    // A link put in its place after the restore: the revert refuses, the rows stay.
    std::fs::remove_file(&uploads).unwrap();
    std::fs::rename(&moved, &uploads).unwrap();
    restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(0);
    let restored = shop.rows("acme");
    std::fs::rename(&uploads, &moved).unwrap();
    std::os::unix::fs::symlink(&outside, &uploads).unwrap();
    let refused = review("revert", &descriptor).expect(1);
    assert!(
        refused.stderr.contains("symbolic link"),
        "{}",
        refused.stderr
    );
    assert_eq!(shop.rows("acme"), restored);
    assert_eq!(
        crate::util::listing(&outside),
        vec!["precious.conf".to_owned()]
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("precious.conf")).unwrap(),
        "not the site's\n"
    );
    // Put back, the revert goes through.
    std::fs::remove_file(&uploads).unwrap();
    std::fs::rename(&moved, &uploads).unwrap();
    review("revert", &descriptor).expect(0);
}

#[test]
fn db_a_restore_of_uploads_holding_the_database_or_the_state_is_refused() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let archive = shop.root().join("acme.zip");
    let (_, descriptor) = with_uploads(&shop);
    create(&descriptor, &archive, &[]);
    let rows = shop.rows("acme");
    let listing = crate::util::listing(shop.root());
    let snapshots = shop.root().join(".in-state/.sitepack/db-snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    for (name, layout, said) in [
        // The database file (and the descriptors) in the uploads.
        (
            "everything.toml",
            "\n[files]\ndir = \".\"\n[state]\ndir = \"elsewhere-state\"\n",
            "database",
        ),
        // The state directory in the uploads.
        (
            "state-inside.toml",
            "\n[files]\ndir = \"media/acme\"\n[state]\ndir = \"media/acme/.state\"\n",
            "state directory",
        ),
        // The uploads in the state directory (where the snapshots are).
        (
            "uploads-inside.toml",
            "\n[files]\ndir = \".in-state/.sitepack/db-snapshots\"\n[state]\ndir = \".in-state\"\n",
            "inside the state",
        ),
    ] {
        let descriptor = shop.write_descriptor(name, layout);
        let refused = restore(&archive, &descriptor, &["--yes", "--mode", "replace"]);
        assert_ne!(refused.code, 0, "{name}: {}", refused.stderr);
        assert!(refused.stderr.contains(said), "{name}: {}", refused.stderr);
    }
    assert!(crate::util::listing(&snapshots).is_empty());
    assert_eq!(shop.rows("acme"), rows);
    let mut now = crate::util::listing(shop.root());
    now.retain(|name| {
        ![
            "everything.toml",
            "state-inside.toml",
            "uploads-inside.toml",
            ".in-state",
        ]
        .contains(&name.as_str())
    });
    assert_eq!(now, listing);
}

#[test]
fn db_a_merge_keeps_every_other_file_and_their_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    // Names like the ones sitepack writes beside a file, and a private file.
    for name in [
        ".sitepack-logo.txt.tmp",
        &format!(".sitepack-{}-0.tmp", std::process::id()),
    ] {
        std::fs::write(uploads.join(name), "a user's file\n").unwrap();
    }
    std::fs::write(uploads.join("logo.txt"), "changed\n").unwrap();
    std::fs::set_permissions(
        uploads.join("logo.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // A set-user-ID file of another user: its copy keeps both, or neither.
    let notes = uploads.join("users/2/notes.txt");
    std::fs::write(&notes, "changed\n").unwrap();
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    if root {
        std::os::unix::fs::chown(&notes, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&notes, std::fs::Permissions::from_mode(0o4750)).unwrap();
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&notes).unwrap());
    let before = tree(&uploads);
    restore(&archive, &descriptor, &["--yes", "--mode", "merge"]).expect(0);
    let meta = std::fs::metadata(&notes).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        owner,
        "owner changed"
    );
    assert_eq!(meta.permissions().mode() & 0o7777, 0o4750);
    let merged = tree(&uploads);
    assert_eq!(merged["logo.txt"], format!("file {:?}", b"the logo\n"));
    assert_eq!(merged.len(), before.len(), "{merged:?}");
    let mode = std::fs::metadata(uploads.join("logo.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the file's permissions changed");
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), before);
}

#[test]
fn db_a_link_in_the_restored_area_is_refused_in_either_mode_with_nothing_changed() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    std::os::unix::fs::symlink("/etc/hostname", uploads.join("docs/guide/link.txt")).unwrap();
    let rows = shop.rows("acme");
    let before = tree(&uploads);
    for (mode, dry) in [
        ("merge", "--yes"),
        ("replace", "--yes"),
        ("replace", "--dry-run"),
    ] {
        let refused = restore(&archive, &descriptor, &[dry, "--mode", mode]).expect(1);
        assert!(
            refused.stderr.contains("link.txt") && refused.stderr.contains("symbolic link"),
            "{mode}: {}",
            refused.stderr
        );
        assert_eq!(tree(&uploads), before, "{mode}");
        assert_eq!(shop.rows("acme"), rows, "{mode}");
    }
}

/// Runs `sitepack ARGS` with `SITEPACK_FAILPOINT=failpoint` (`""`: none): its exit code
/// and standard error.
fn sitepack_failing(args: &[&std::ffi::OsStr], failpoint: &str) -> (Option<i32>, String) {
    let output = crate::util::sitepack()
        .args(args)
        .env("SITEPACK_FAILPOINT", failpoint)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[test]
fn db_files_that_cannot_be_written_after_the_commit_are_said_and_finished_later() {
    let shop = Shop::new(Kind::Sqlite, 3);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    let archived = tree(&uploads);
    damage_uploads(&uploads);
    let damaged = tree(&uploads);
    let (site, zip) = (descriptor.as_os_str(), archive.as_os_str());
    let replace = [
        "restore".as_ref(),
        zip,
        site,
        "--yes".as_ref(),
        "--mode".as_ref(),
        "replace".as_ref(),
        "--no-progress".as_ref(),
    ];
    let second_file_fails = "db-files:2:error";
    let first_file_fails = "db-files:1:error";

    let mut as_json = replace.to_vec();
    as_json.push("--json".as_ref());
    let output = crate::util::sitepack()
        .args(&as_json)
        .env("SITEPACK_FAILPOINT", second_file_fails)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rows were restored") && stderr.contains("pending review"),
        "{stderr}"
    );
    // The report says what committed, for a script to see.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["restore"]["files_unfinished"].is_string(),
        "{report}"
    );
    assert!(
        report["restore"]["summary"]["written"].as_u64() > Some(0),
        "{report}"
    );
    assert!(
        report["restore"]["pending"]["snapshot"].is_string(),
        "{report}"
    );
    let audit = run(["audit".as_ref(), site, "--json".as_ref()]).expect(0);
    let events = json(&audit)["events"].clone();
    let restored = events
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["type"] == "restore");
    let restored = restored.unwrap();
    assert_eq!(restored["outcome"], "failed", "{restored}");
    assert!(restored["details"]["restore_id"].is_string(), "{restored}");
    // status still says what is pending, and finishes the files.
    let status = json(&review("status", &descriptor).expect(0));
    assert!(status["pending"]["snapshot"].is_string(), "{status}");
    assert!(status["files_finished"][0]["step"] == "restore", "{status}");
    assert_eq!(tree(&uploads), archived);
    // A second restore while one is pending is refused; revert puts the files back.
    assert_eq!(sitepack_failing(&replace, "").0, Some(1));
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), damaged);

    // A revert whose files fail: the next restore is refused until they are in.
    restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(0);
    let (code, _) = sitepack_failing(&["revert".as_ref(), site], first_file_fails);
    assert_eq!(code, Some(2));
    let (code, stderr) = sitepack_failing(&replace, first_file_fails);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("reverted"), "{stderr}");
    // The backup waits for the files too.
    let backup = crate::util::try_create(&descriptor, shop.root().join("mid.zip"), &[]);
    assert_ne!(backup.code, 0, "{}", backup.stderr);
    assert!(
        backup.stderr.contains("sitepack status"),
        "{}",
        backup.stderr
    );
    let status = json(&review("status", &descriptor).expect(0));
    assert_eq!(status["files_finished"][0]["step"], "revert", "{status}");
    // The reverted restore's snapshot goes with its files, not as a stale one.
    assert!(status["removed_snapshots"].is_null(), "{status}");
    assert!(shop.snapshot_files().is_empty());
    assert_eq!(tree(&uploads), damaged);

    // Files failing after a restore: keep is refused, status reports, revert undoes.
    assert_eq!(sitepack_failing(&replace, first_file_fails).0, Some(2));
    let (code, stderr) = sitepack_failing(&["keep".as_ref(), site], first_file_fails);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("could not all be written"), "{stderr}");
    let output = crate::util::sitepack()
        .args(["status".as_ref(), site, "--json".as_ref()])
        .env("SITEPACK_FAILPOINT", first_file_fails)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(status["files_unfinished"].is_string(), "{status}");
    assert!(status["pending"]["snapshot"].is_string(), "{status}");
    let (code, stderr) = sitepack_failing(&["revert".as_ref(), site], "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(tree(&uploads), damaged);
}

#[test]
fn db_revert_gives_back_the_owner_and_permissions_of_the_files_it_puts_back() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    // Added after the backup, private: a replace removes them, a revert puts them back.
    std::fs::create_dir(uploads.join("private")).unwrap();
    std::fs::write(uploads.join("private/key.txt"), "mine\n").unwrap();
    let set_mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(&uploads.join("private/key.txt"), 0o600);
    set_mode(&uploads.join("private"), 0o700);
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        std::os::unix::fs::chown(uploads.join("private/key.txt"), Some(1000), Some(1000)).unwrap();
    }
    let before = tree(&uploads);
    restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(0);
    assert!(!uploads.join("private").exists());
    // Staged copies are kept private too.
    let staged = shop.state_dir().join(".sitepack/db-files");
    let mode = std::fs::metadata(&staged).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let snapshots = shop.state_dir().join(".sitepack/db-snapshots");
    let mode = std::fs::metadata(snapshots).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    review("revert", &descriptor).expect(0);
    assert_eq!(tree(&uploads), before);
    let key = std::fs::metadata(uploads.join("private/key.txt")).unwrap();
    assert_eq!(key.permissions().mode() & 0o7777, 0o600);
    let dir = std::fs::metadata(uploads.join("private")).unwrap();
    assert_eq!(dir.permissions().mode() & 0o7777, 0o700);
    if root {
        assert_eq!((key.uid(), key.gid()), (1000, 1000));
    }
    assert!(
        crate::util::listing(&staged).is_empty(),
        "{:?}",
        crate::util::listing(&staged)
    );
}

#[test]
fn db_a_file_name_the_snapshot_cannot_hold_is_refused_before_anything_changes() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    std::fs::write(uploads.join("docs/new\nline.txt"), "x").unwrap();
    let rows = shop.rows("acme");
    for args in [&["--dry-run"][..], &["--yes"][..]] {
        let refused = restore(&archive, &descriptor, args).expect(1);
        assert!(
            refused.stderr.contains("cannot hold"),
            "{args:?}: {}",
            refused.stderr
        );
    }
    // Names that differ only in case.
    std::fs::remove_file(uploads.join("docs/new\nline.txt")).unwrap();
    std::fs::write(uploads.join("docs/Case.txt"), "x").unwrap();
    std::fs::write(uploads.join("docs/case.txt"), "y").unwrap();
    for args in [&["--dry-run"][..], &["--yes"][..]] {
        let refused = restore(&archive, &descriptor, args).expect(1);
        assert!(
            refused.stderr.contains("only in case"),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(shop.rows("acme"), rows);
    assert!(shop.snapshot_files().is_empty());
}

#[test]
fn db_a_hard_link_in_the_uploads_never_has_its_permissions_changed_by_a_revert() {
    use std::os::unix::fs::PermissionsExt;
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    restore(&archive, &descriptor, &["--yes", "--mode", "replace"]).expect(0);
    // Put in the uploads since: a second name of a file elsewhere, with the bytes the
    // revert would give back there.
    let outside = shop.root().join("outside.txt");
    std::fs::write(&outside, "the logo\n").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(uploads.join("logo.txt")).unwrap();
    std::fs::hard_link(&outside, uploads.join("logo.txt")).unwrap();
    review("revert", &descriptor).expect(0);
    let mode = std::fs::metadata(&outside).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "the other name's permissions changed");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "the logo\n");
}

#[test]
fn db_what_a_killed_staging_left_is_removed_and_a_linked_staging_directory_refused() {
    let shop = Shop::new(Kind::Sqlite, 2);
    let (uploads, descriptor, archive) = backed_up_with_uploads(&shop);
    // A run killed while staging, before its journal: its copies, a temporary file.
    let staged = shop.state_dir().join(".sitepack/db-files");
    let orphan = staged.join("restore-20260101T000000000Z-1.zip.restore");
    std::fs::create_dir_all(orphan.join("docs")).unwrap();
    std::fs::write(orphan.join("docs/a.txt"), "a").unwrap();
    std::fs::write(staged.join(".tmp-json-abc"), "{").unwrap();
    review("status", &descriptor).expect(0);
    let left = crate::util::listing(&staged);
    assert!(left.is_empty(), "{left:?}");

    // The staging directory made a link to somewhere else: refused, nothing there changes.
    std::fs::remove_dir(&staged).unwrap();
    let elsewhere = shop.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &staged).unwrap();
    let before = tree(&uploads);
    let rows = shop.rows("acme");
    let refused = restore(&archive, &descriptor, &["--yes", "--mode", "replace"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(refused.stderr.contains("db-files"), "{}", refused.stderr);
    assert!(crate::util::listing(&elsewhere).is_empty());
    assert_eq!(tree(&uploads), before);
    assert_eq!(shop.rows("acme"), rows);
}
