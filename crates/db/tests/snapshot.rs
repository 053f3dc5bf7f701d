//! One consistent snapshot: rows committed while an export runs are whole or absent.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Fleet, column};
use sitepack_db::plan::Scope;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE ledger_a (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, pair INTEGER NOT NULL, note TEXT);
CREATE TABLE ledger_b (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, pair INTEGER NOT NULL, note TEXT);
";

fn pairs(staging: &std::path::Path, table: &str) -> BTreeSet<u64> {
    column(staging, table, "pair")
        .iter()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn pairs_committed_during_an_export_are_whole_or_absent() {
    let fleet = Fleet::with(SCHEMA, "", common::MINIMAL_DESCRIPTOR);
    let seed = fleet.connection();
    seed.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO ledger_a (org_id, pair, note) SELECT 'northwind', i, printf('%0100d', i) FROM n;
         INSERT INTO ledger_b (org_id, pair, note) SELECT org_id, pair, note FROM ledger_a;",
    )
    .unwrap();
    drop(seed);

    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(20_000));
    let writer = {
        let (stop, committed) = (stop.clone(), committed.clone());
        let connection = fleet.connection();
        std::thread::spawn(move || {
            connection
                .busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            let mut pair = 20_000u64;
            while !stop.load(Ordering::Relaxed) && pair < 1_000_000 {
                pair += 1;
                connection
                    .execute_batch(&format!(
                        "BEGIN IMMEDIATE;
                         INSERT INTO ledger_a (org_id, pair, note) VALUES ('northwind', {pair}, 'a');
                         INSERT INTO ledger_b (org_id, pair, note) VALUES ('northwind', {pair}, 'b');
                         COMMIT;"
                    ))
                    .unwrap();
                committed.store(pair, Ordering::Relaxed);
            }
        })
    };

    let mut sizes = BTreeSet::new();
    for _ in 0..6 {
        let (staging, summary) = fleet.export(&Scope::Full).unwrap();
        let a = pairs(staging.path(), "ledger_a");
        let b = pairs(staging.path(), "ledger_b");
        assert_eq!(a.len(), b.len(), "a pair was cut by the snapshot");
        assert_eq!(a, b);
        let rows: Vec<u64> = summary.schema.tables.iter().map(|t| t.rows).collect();
        assert_eq!(rows, [a.len() as u64, b.len() as u64]);
        sizes.insert(a.len());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // The writer really committed while the exports ran.
    assert!(committed.load(Ordering::Relaxed) > 20_000);
    assert!(sizes.len() > 1, "every export saw the same rows: {sizes:?}");
}
