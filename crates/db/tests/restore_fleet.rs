//! Restoring the fleet database's archives (every kind of table the planner knows): the
//! full scope and a user's scope.

mod common;
mod restore_common;

use common::Fleet;
use restore_common::{backup, nothing};
use sitepack_db::sqlite::SqliteEngine;
use sitepack_db::{Mode, apply_restore, plan_restore};

fn dump(fleet: &Fleet, sql: &str) -> Vec<String> {
    let connection = fleet.connection();
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of every table, as text.
fn everything(fleet: &Fleet) -> Vec<Vec<String>> {
    [
        "organizations",
        "manufacturers",
        "models",
        "currencies",
        "users",
        "vehicles",
        "drivers",
        "maintenance_logs",
        "log_parts",
        "vehicle_drivers",
        "api_keys",
        "sessions",
        "app_settings",
        "invoices",
    ]
    .iter()
    .map(|t| {
        let connection = fleet.connection();
        let mut statement = connection
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let width = statement.column_count();
        statement
            .query_map([], |row| {
                Ok((0..width)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    })
    .collect()
}

#[test]
fn the_full_scope_comes_back_and_a_user_scope_touches_only_the_users_rows() {
    let fleet = Fleet::new();
    let out = tempfile::tempdir().unwrap();
    let original = everything(&fleet);
    let full = backup(&fleet.descriptor(), "full", &out.path().join("full.zip"));
    let user = backup(&fleet.descriptor(), "user:1", &out.path().join("user.zip"));

    // Damage northwind: a vehicle of each user changed, a log part gone.
    fleet
        .connection()
        .execute_batch(
            "UPDATE vehicles SET plate = 'CHANGED' WHERE org_id = 'northwind';
             DELETE FROM log_parts WHERE log_id = 100 AND line = 2;",
        )
        .unwrap();

    // The user's archive: only user 1's own rows come back.
    let mut engine = SqliteEngine::open_writable(&fleet.db_path()).unwrap();
    let plan = plan_restore(&mut engine, &fleet.descriptor(), &user, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    apply_restore(&mut engine, &fleet.descriptor(), &plan, &user, &mut nothing).unwrap();
    drop(engine);
    assert_eq!(
        dump(
            &fleet,
            "SELECT id || ':' || plate FROM vehicles ORDER BY id"
        ),
        ["10:NW-10", "11:CHANGED", "12:SB-9999"]
    );

    // The full archive: everything as it was, southbay and the tables that never
    // travel (sessions, api_keys, app_settings) untouched throughout.
    let mut engine = SqliteEngine::open_writable(&fleet.db_path()).unwrap();
    let plan = plan_restore(&mut engine, &fleet.descriptor(), &full, Mode::Replace).unwrap();
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    apply_restore(&mut engine, &fleet.descriptor(), &plan, &full, &mut nothing).unwrap();
    drop(engine);
    assert_eq!(everything(&fleet), original);
}
