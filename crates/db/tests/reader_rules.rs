//! The export holds every row to the rules the archive's reader applies (format 1.1
//! §15.5): what `create` writes, `validate` accepts, or nothing is written.

use std::path::Path;

use serde_json::Value;
use sitepack_db::sqlite::SqliteEngine;
use sitepack_db::{DbError, Descriptor, Scope, export};
use sitepack_format::NoProgress;

fn depot(dir: &Path, tenant: &str, rows: &str) -> Result<Value, DbError> {
    let db = dir.join("depot.db");
    let _ = std::fs::remove_file(&db);
    let connection = rusqlite::Connection::open(&db).unwrap();
    connection
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE depots (id INTEGER PRIMARY KEY, city TEXT NOT NULL);
             CREATE TABLE forklifts (id INTEGER PRIMARY KEY, depot INTEGER NOT NULL REFERENCES depots (id),
                                     serviced_by INTEGER REFERENCES mechanics (id));
             CREATE TABLE mechanics (id INTEGER PRIMARY KEY, depot INTEGER NOT NULL);
             INSERT INTO depots VALUES (41, 'Rotterdam'), (42, 'Antwerp');
             INSERT INTO mechanics VALUES (1, 41), (2, 42);
             {rows}"
        ))
        .unwrap();
    drop(connection);
    let text = format!(
        "[site]\nid = \"depot\"\nname = \"Depot\"\nurl = \"https://depot.example\"\n\
         [database]\nurl = \"sqlite:depot.db\"\ntenant_column = \"depot\"\ntenant = {tenant}\n"
    );
    let descriptor = Descriptor::parse(&dir.join("depot.toml"), &text).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut engine = SqliteEngine::open(&db).unwrap();
    export(
        &mut engine,
        &descriptor,
        &Scope::Full,
        staging.path(),
        6,
        2,
        &NoProgress,
    )?;
    let schema = std::fs::read(staging.path().join("db/schema.json")).unwrap();
    Ok(serde_json::from_slice(&schema).unwrap())
}

#[test]
fn a_text_tenant_of_integer_columns_is_written_as_the_integer() {
    let dir = tempfile::tempdir().unwrap();
    let rows = "INSERT INTO forklifts VALUES (1, 41, 1);";
    let schema = depot(dir.path(), "\"41\"", rows).unwrap();
    assert_eq!(schema["tenant"]["value"], 41);
    let schema = depot(dir.path(), "41", rows).unwrap();
    assert_eq!(schema["tenant"]["value"], 41);
}

#[test]
fn a_row_whose_parent_is_not_in_the_backup_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite does not enforce foreign keys unless asked: mechanic 9 does not exist.
    let error = depot(
        dir.path(),
        "41",
        "INSERT INTO forklifts VALUES (1, 41, 1), (2, 41, 9);",
    )
    .unwrap_err();
    assert!(matches!(error, DbError::Unarchivable { .. }), "{error:?}");
    let message = error.to_string();
    for words in [
        "\"forklifts\"",
        "(id)=(2)",
        "\"serviced_by\"",
        "\"mechanics\"",
    ] {
        assert!(message.contains(words), "{words}: {message}");
    }
}

#[test]
fn a_foreign_key_through_a_secret_named_column_stops_the_backup() {
    // Redacted on one side, the key would dangle; kept on the other, the secret travels.
    for (parent, child) in [
        (
            "api_token TEXT UNIQUE",
            "badge TEXT REFERENCES keys (api_token)",
        ),
        ("code TEXT UNIQUE", "api_token TEXT REFERENCES keys (code)"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let rows = format!(
            "CREATE TABLE keys (id INTEGER PRIMARY KEY, depot INTEGER NOT NULL, {parent});
             CREATE TABLE doors (id INTEGER PRIMARY KEY, depot INTEGER NOT NULL, {child});"
        );
        let message = depot(dir.path(), "41", &rows).unwrap_err().to_string();
        assert!(
            message.contains("\"keys\"") && message.contains("secrets by their name"),
            "{message}"
        );
    }
}
