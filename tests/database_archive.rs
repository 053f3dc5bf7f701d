//! Database archives (format 1.1): `preview` shows the engine, the tenant, each table with
//! its role and rows and the tables left out (also as `--json`'s `database`); `validate`
//! names a broken row; `restore` refuses them (exit 1), saying what can be done instead.

use std::path::{Path, PathBuf};

use serde_json::json;
use sitepack_test_support::database::DatabaseFixture;

use crate::util::run;

fn written(dir: &Path, fixture: &DatabaseFixture) -> PathBuf {
    let path = dir.join("db.zip");
    std::fs::write(&path, fixture.to_bytes()).unwrap();
    path
}

#[test]
fn preview_shows_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let archive = written(dir.path(), &DatabaseFixture::new());
    let shown = run(["preview".as_ref(), archive.as_os_str()])
        .expect(0)
        .stdout;
    let (_, rest) = shown
        .split_once("database  ")
        .unwrap_or_else(|| panic!("no database in:\n{shown}"));
    let database = format!("database  {}", rest.split_once("\nverdict").unwrap().0);
    assert_eq!(
        database,
        "database  postgresql 16.4, tenant tenant_id = 7\n\
         tables    4\n\
         \x20 currencies     reference 2 rows\n\
         \x20 shops          tenant    2 rows\n\
         \x20 orders         linked    3 rows\n\
         \x20 typed          linked    1 rows\n\
         skipped   1\n\
         \x20 sessions       a secret table: its rows never travel\n"
    );

    let preview = run(["preview".as_ref(), archive.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    assert_eq!(preview["database"]["engine"], "postgresql");
    assert_eq!(
        preview["database"]["tenant"],
        json!({"column": "tenant_id", "value": 7})
    );
    assert_eq!(
        preview["database"]["tables"][2],
        json!({"name": "orders", "role": "linked", "rows": 3})
    );
    assert_eq!(
        preview["database"]["skipped"],
        json!([{"table": "sessions", "reason": "secret", "explanation": "a secret table: its rows never travel"}])
    );
}

#[test]
fn validate_names_a_broken_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = DatabaseFixture::new();
    fixture.rows.get_mut("shops").unwrap()[0]["tenant_id"] = json!(8);
    let archive = written(dir.path(), &fixture);
    let report = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()])
        .expect(1)
        .json();
    assert_eq!(report["findings"][0]["code"], "DB_TENANT");
    assert_eq!(report["findings"][0]["path"], "site/db/shops.jsonl");
}

#[test]
fn restore_refuses_a_database_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = written(dir.path(), &DatabaseFixture::new());
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let refused = run([
        "restore".as_ref(),
        archive.as_os_str(),
        target.as_os_str(),
        "--yes".as_ref(),
    ])
    .expect(1);
    assert!(
        refused
            .stderr
            .contains("restore refused; nothing was changed")
            && refused
                .stderr
                .contains("restoring into a database comes with database restore"),
        "{}",
        refused.stderr
    );
    // Nothing of the archive, as with every refusal of a plan: the site's own state only.
    assert_eq!(crate::util::listing(&target), [".sitepack"]);

    // A directory the restore would make is not made.
    let new_dir = dir.path().join("new");
    run([
        "restore".as_ref(),
        archive.as_os_str(),
        new_dir.as_os_str(),
        "--yes".as_ref(),
    ])
    .expect(1);
    assert!(!new_dir.exists());
}
