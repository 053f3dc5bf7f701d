//! The plan's SQL in the PostgreSQL dialect, run on the real server: schema-qualified
//! subqueries, row values for composite keys, numbered parameters, the leak checks.
//! (The PostgreSQL engine itself is tested with its own module.)

use std::sync::atomic::{AtomicU32, Ordering};

use postgres::types::ToSql;
use postgres::{Client, NoTls};
use sitepack_db::plan::{Scope, SqlStyle, plan};
use sitepack_db::sql::{Dialect, Param, RowQuery, quote_ident};
use sitepack_db::{ColumnInfo, Descriptor, TableInfo};
use sitepack_format::database::{ColumnType, ForeignKey, ScalarType};

fn server_url() -> String {
    std::env::var("SITEPACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of this test's own, dropped at the end (also on failure).
struct TestDatabase {
    name: String,
}

impl TestDatabase {
    fn new() -> (Self, Client) {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sitepack_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(&server_url(), NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} ({e}): start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or set SITEPACK_TEST_POSTGRES_URL",
                server_url()
            )
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .unwrap();
        let mut config: postgres::Config = server_url().parse().unwrap();
        config.dbname(&name);
        let client = config.connect(NoTls).unwrap();
        (Self { name }, client)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&server_url(), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&self.name)
            ));
        }
    }
}

fn column(name: &str, scalar: ScalarType) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        declared: scalar.as_str().into(),
        column_type: Some(ColumnType {
            scalar,
            array: false,
        }),
        nullable: true,
        has_default: false,
    }
}

fn table(
    name: &str,
    key: &[&str],
    columns: &[(&str, ScalarType)],
    fks: &[(&[&str], &str, &[&str])],
) -> TableInfo {
    TableInfo {
        name: name.into(),
        columns: columns.iter().map(|(n, t)| column(n, *t)).collect(),
        primary_key: key.iter().map(|k| (*k).to_owned()).collect(),
        unique: Vec::new(),
        foreign_keys: fks
            .iter()
            .map(|(columns, table, references)| ForeignKey {
                columns: columns.iter().map(|c| (*c).to_owned()).collect(),
                table: (*table).to_owned(),
                references: references.iter().map(|c| (*c).to_owned()).collect(),
            })
            .collect(),
    }
}

/// The first column of the rows `query` selects, as text, in its order.
fn select(client: &mut Client, query: &RowQuery) -> Vec<String> {
    let params: Vec<Box<dyn ToSql + Sync>> = query
        .params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Integer(n) => Box::new(*n),
                Param::Text(s) => Box::new(s.clone()),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(AsRef::as_ref).collect();
    let sql = format!(
        "SELECT {}::text{}",
        quote_ident(&query.order_by[0]),
        query.from_clause(Some("Fleet App"))
    );
    client
        .query(&sql, &refs)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

const SCHEMA: &str = r#"
CREATE SCHEMA "Fleet App";
SET search_path TO "Fleet App";
CREATE TABLE orgs (id text PRIMARY KEY);
CREATE TABLE makers (id bigint PRIMARY KEY, name text);
CREATE TABLE models (id bigint PRIMARY KEY, maker_id bigint REFERENCES makers);
CREATE TABLE vehicles (id bigint PRIMARY KEY, "org id" text REFERENCES orgs, model_id bigint REFERENCES models);
CREATE TABLE drivers (region text, code bigint, "org id" text, PRIMARY KEY (region, code));
CREATE TABLE assignments (vehicle_id bigint REFERENCES vehicles, region text, code bigint,
    PRIMARY KEY (vehicle_id, region, code), FOREIGN KEY (region, code) REFERENCES drivers);
CREATE TABLE notes (id bigint PRIMARY KEY, assignment_vehicle bigint, region text, code bigint,
    FOREIGN KEY (assignment_vehicle, region, code) REFERENCES assignments);
INSERT INTO orgs VALUES ('north'), ('south');
INSERT INTO makers VALUES (1, 'm1'), (2, 'm2'), (3, 'm3');
INSERT INTO models VALUES (10, 1), (20, 2), (30, 3);
INSERT INTO vehicles VALUES (100, 'north', 10), (101, 'north', NULL), (200, 'south', 20);
INSERT INTO drivers VALUES ('eu', 1, 'north'), ('eu', 2, 'south'), ('us', 1, 'north');
INSERT INTO assignments VALUES (100, 'eu', 1), (101, 'us', 1), (200, 'eu', 2);
INSERT INTO notes VALUES (1, 100, 'eu', 1), (2, 200, 'eu', 2), (3, 101, 'us', 1);
-- The queries must name the schema themselves.
RESET search_path;
"#;

#[test]
fn the_plans_sql_selects_the_tenants_rows_on_postgresql() {
    use ScalarType::{Integer as I, Text as T};
    let (_database, mut client) = TestDatabase::new();
    client.batch_execute(SCHEMA).unwrap();
    let tables = vec![
        table("orgs", &["id"], &[("id", T)], &[]),
        table("makers", &["id"], &[("id", I), ("name", T)], &[]),
        table(
            "models",
            &["id"],
            &[("id", I), ("maker_id", I)],
            &[(&["maker_id"], "makers", &["id"])],
        ),
        table(
            "vehicles",
            &["id"],
            &[("id", I), ("org id", T), ("model_id", I)],
            &[
                (&["org id"], "orgs", &["id"]),
                (&["model_id"], "models", &["id"]),
            ],
        ),
        table(
            "drivers",
            &["region", "code"],
            &[("region", T), ("code", I), ("org id", T)],
            &[],
        ),
        table(
            "assignments",
            &["vehicle_id", "region", "code"],
            &[("vehicle_id", I), ("region", T), ("code", I)],
            &[
                (&["vehicle_id"], "vehicles", &["id"]),
                (&["region", "code"], "drivers", &["region", "code"]),
            ],
        ),
        table(
            "notes",
            &["id"],
            &[
                ("id", I),
                ("assignment_vehicle", I),
                ("region", T),
                ("code", I),
            ],
            &[(
                &["assignment_vehicle", "region", "code"],
                "assignments",
                &["vehicle_id", "region", "code"],
            )],
        ),
    ];
    let descriptor = Descriptor::parse(
        std::path::Path::new("/sites/north.toml"),
        "[site]\nid = \"north\"\nname = \"North\"\nurl = \"https://north.example\"\n[database]\nurl = \"postgres://postgres@127.0.0.1/x\"\ntenant_column = \"org id\"\ntenant = \"north\"\ntenant_table = \"orgs\"\nschema = \"Fleet App\"\n",
    )
    .unwrap();
    let style = SqlStyle {
        dialect: Dialect::Postgres,
        schema: Some("Fleet App"),
    };
    let full = plan(&tables, &descriptor, &Scope::Full, style).unwrap();
    let selected = |client: &mut Client, name: &str| {
        let table = full.tables.iter().find(|t| t.info.name == name).unwrap();
        select(client, &table.query)
    };
    assert_eq!(selected(&mut client, "orgs"), ["north"]);
    assert_eq!(selected(&mut client, "vehicles"), ["100", "101"]);
    assert_eq!(selected(&mut client, "drivers"), ["eu", "us"]);
    assert_eq!(selected(&mut client, "assignments"), ["100", "101"]);
    assert_eq!(selected(&mut client, "notes"), ["1", "3"]);
    assert_eq!(selected(&mut client, "models"), ["10"]);
    assert_eq!(selected(&mut client, "makers"), ["1"]);
    for check in &full.leak_checks {
        assert!(select(&mut client, &check.query).is_empty(), "{check:?}");
    }

    // A north vehicle driven by a south driver: the composite key's leak check finds it.
    client
        .batch_execute(r#"INSERT INTO "Fleet App".assignments VALUES (100, 'eu', 2)"#)
        .unwrap();
    let leaks: Vec<(String, Vec<String>)> = full
        .leak_checks
        .iter()
        .map(|check| (check.parent.clone(), select(&mut client, &check.query)))
        .filter(|(_, rows)| !rows.is_empty())
        .collect();
    assert_eq!(leaks, [("drivers".to_owned(), vec!["100".to_owned()])]);
}
