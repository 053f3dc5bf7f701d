//! Rows stream: restoring a large table does not hold it in memory.
//! (Alone in its test binary: the peak it reads is the process's.)

mod restore_common;

use restore_common::{backup, nothing};
use rusqlite::Connection;
use sitepack_db::sqlite::SqliteEngine;
use sitepack_db::{Descriptor, Mode, apply_restore, plan_restore};

/// One figure of `/proc/self/status`, in bytes (Linux).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Starts measuring the peak afresh (the backup before had its own): the peak resident
/// size is reset to the current one (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    status_bytes("VmRSS:")
}

const SCHEMA: &str = "CREATE TABLE events (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, body TEXT NOT NULL, doc JSON);";
const DESCRIPTOR: &str = "[site]\nid = \"n\"\nname = \"N\"\nurl = \"https://n.example\"\n[database]\nurl = \"sqlite:app.db\"\ntenant_column = \"org_id\"\ntenant = \"northwind\"\n";

#[test]
fn a_large_table_is_restored_in_flat_memory() {
    const ROWS: u64 = 200_000;
    let source = tempfile::tempdir().unwrap();
    let connection = Connection::open(source.path().join("app.db")).unwrap();
    connection.execute_batch(SCHEMA).unwrap();
    connection
        .execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO events SELECT i, 'northwind', printf('%0200d', i), '{{\"n\": ' || i || '}}' FROM n;"
        ))
        .unwrap();
    drop(connection);
    std::fs::write(source.path().join("site.toml"), DESCRIPTOR).unwrap();
    let descriptor = Descriptor::load(&source.path().join("site.toml")).unwrap();
    let archive = backup(&descriptor, "full", &source.path().join("events.zip"));

    let target = tempfile::tempdir().unwrap();
    Connection::open(target.path().join("app.db"))
        .unwrap()
        .execute_batch(SCHEMA)
        .unwrap();
    std::fs::write(target.path().join("site.toml"), DESCRIPTOR).unwrap();
    let descriptor = Descriptor::load(&target.path().join("site.toml")).unwrap();
    let mut engine = SqliteEngine::open_writable(&target.path().join("app.db")).unwrap();

    let before = reset_peak();
    let plan = plan_restore(&mut engine, &descriptor, &archive, Mode::Replace).unwrap();
    let summary = apply_restore(&mut engine, &descriptor, &plan, &archive, &mut nothing).unwrap();
    let grown = status_bytes("VmHWM:").saturating_sub(before);
    eprintln!("restore: peak grew by {grown} bytes");
    assert_eq!(summary.written, ROWS);
    drop(engine);
    let count: u64 = Connection::open(target.path().join("app.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, ROWS);
    // The rows are about 50 MB as JSON, several times that as parsed values: holding the
    // table would show. A batch of 500 rows, SQLite's page cache and the reader's buffers
    // are what may grow.
    assert!(grown < 16 * 1024 * 1024, "peak grew by {grown} bytes");
}
