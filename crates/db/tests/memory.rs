//! Rows stream: exporting a large table does not hold it in memory.
//! (Alone in its test binary: the peak it reads is the process's.)

mod common;

use common::Fleet;
use sitepack_db::plan::Scope;

/// The process's peak resident memory, in bytes (Linux).
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_large_table_streams_in_flat_memory() {
    const ROWS: u64 = 300_000;
    let fleet = Fleet::with(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, body TEXT NOT NULL, doc JSON);",
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO events SELECT i, 'northwind', printf('%0200d', i), '{{\"n\": ' || i || '}}' FROM n;"
        ),
        "[site]\nid = \"n\"\nname = \"N\"\nurl = \"https://n.example\"\n[database]\nurl = \"sqlite:fleet.db\"\ntenant_column = \"org_id\"\ntenant = \"northwind\"\n",
    );
    let before = peak_resident_bytes();
    let (_staging, summary) = fleet.export_entries(&Scope::Full).unwrap();
    let grown = peak_resident_bytes().saturating_sub(before);
    assert_eq!(summary.rows, ROWS);
    let written = summary.tables[0].size();
    assert!(written > 70_000_000, "{written}");
    // Holding the rows would take several times the file's size (79 MB). What does grow
    // is the foreign-key check's key set: a 16-byte digest per row, about 45 bytes a row
    // with the table around it, 14 MB here (twice that for a moment while it grows).
    assert!(
        grown < 48 * 1024 * 1024,
        "peak grew by {grown} bytes for a {written}-byte table"
    );
}
