//! The tenant planner and the export, on real SQLite files.

mod common;

use common::{FOREIGN_MARKERS, Fleet, column, files, rows};
use serde_json::{Value, json};
use sitepack_db::plan::Scope;
use sitepack_db::{DbError, connect, tenant_stats};

#[test]
fn exactly_the_tenants_rows_travel() {
    let fleet = Fleet::new();
    let (staging, summary) = fleet.export(&Scope::Full).unwrap();
    let s = staging.path();
    assert_eq!(column(s, "organizations", "id"), [r#""northwind""#]);
    assert_eq!(column(s, "users", "id"), ["1", "2"]);
    assert_eq!(column(s, "vehicles", "id"), ["10", "11"]);
    assert_eq!(column(s, "drivers", "id"), ["20"]);
    assert_eq!(column(s, "invoices", "id"), ["500"]);
    // Linked, one and two levels deep.
    assert_eq!(column(s, "maintenance_logs", "id"), ["100", "101"]);
    assert_eq!(
        rows(s, "log_parts"),
        [
            json!({"log_id": 100, "line": 1, "part": "oil filter"}),
            json!({"log_id": 100, "line": 2, "part": "oil"}),
            json!({"log_id": 101, "line": 1, "part": "tyre"}),
        ]
    );
    // The join table: composite key, both parents the tenant's.
    assert_eq!(
        rows(s, "vehicle_drivers"),
        [
            json!({"vehicle_id": 10, "driver_id": 20}),
            json!({"vehicle_id": 11, "driver_id": 20})
        ]
    );
    // Master data: only the referenced rows, two levels.
    assert_eq!(column(s, "models", "name"), [r#""FH16""#]);
    assert_eq!(column(s, "manufacturers", "name"), [r#""Volvo""#]);
    assert_eq!(column(s, "currencies", "code"), [r#""EUR""#]);
    // The foreign key to the secret table is a value like any other.
    assert_eq!(column(s, "invoices", "api_key_id"), ["1"]);
    for table in ["api_keys", "sessions", "app_settings"] {
        assert!(!s.join(format!("db/{table}.jsonl")).exists(), "{table}");
    }
    // Not one byte of the other tenant or of the tables left behind.
    for (path, bytes) in files(s) {
        let text = String::from_utf8(bytes).unwrap();
        for marker in FOREIGN_MARKERS {
            assert!(!text.contains(marker), "{marker} in {path}");
        }
    }
    assert_eq!(summary.rows, 17);
    let site: Value = serde_json::from_slice(&std::fs::read(s.join("site.json")).unwrap()).unwrap();
    assert_eq!(
        site,
        json!({"id": "northwind", "name": "Northwind Haulage", "url": "https://northwind.example"})
    );
}

#[test]
fn rows_are_compact_json_in_column_and_key_order() {
    let fleet = Fleet::new();
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    let text = std::fs::read_to_string(staging.path().join("db/vehicles.jsonl")).unwrap();
    assert_eq!(
        text,
        "{\"id\":10,\"org_id\":\"northwind\",\"model_id\":1,\"plate\":\"NW-10\",\"owner_id\":1,\"bought\":\"2021-03-04\"}\n\
         {\"id\":11,\"org_id\":\"northwind\",\"model_id\":null,\"plate\":\"NW-11\",\"owner_id\":2,\"bought\":\"2020-01-01\"}\n"
    );
}

#[test]
fn schema_json_describes_the_tables_parents_first() {
    let fleet = Fleet::new();
    let (staging, summary) = fleet.export(&Scope::Full).unwrap();
    let schema: Value =
        serde_json::from_slice(&std::fs::read(staging.path().join("db/schema.json")).unwrap())
            .unwrap();
    assert_eq!(serde_json::to_value(&summary.schema).unwrap(), schema);
    assert_eq!(schema["engine"], "sqlite");
    assert!(schema["engine_version"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        schema["tenant"],
        json!({"column": "org_id", "value": "northwind", "table": "organizations"})
    );
    let tables = schema["tables"].as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "currencies",
            "drivers",
            "invoices",
            "manufacturers",
            "models",
            "organizations",
            "users",
            "vehicles",
            "maintenance_logs",
            "log_parts",
            "vehicle_drivers"
        ]
    );
    // Parents first: every foreign key to a travelling table points backwards.
    for (i, table) in tables.iter().enumerate() {
        for fk in table["foreign_keys"].as_array().unwrap() {
            let parent = fk["table"].as_str().unwrap();
            if let Some(at) = names.iter().position(|n| *n == parent) {
                assert!(at <= i, "{} before its parent {parent}", names[i]);
            }
        }
    }
    let role = |name: &str| tables.iter().find(|t| t["name"] == name).unwrap()["role"].clone();
    for (name, expected) in [
        ("organizations", "tenant"),
        ("users", "tenant"),
        ("invoices", "tenant"),
        ("maintenance_logs", "linked"),
        ("log_parts", "linked"),
        ("vehicle_drivers", "linked"),
        ("models", "reference"),
        ("manufacturers", "reference"),
        ("currencies", "reference"),
    ] {
        assert_eq!(role(name), expected, "{name}");
    }
    assert_eq!(
        schema["skipped"],
        json!([
            {"table": "api_keys", "reason": "secret"},
            {"table": "app_settings", "reason": "unreached"},
            {"table": "sessions", "reason": "excluded"},
        ])
    );
    let vehicles = tables.iter().find(|t| t["name"] == "vehicles").unwrap();
    assert_eq!(vehicles["rows"], 2);
    assert_eq!(vehicles["primary_key"], json!(["id"]));
    assert_eq!(
        vehicles["columns"][3],
        json!({"name": "plate", "type": "text", "declared": "VARCHAR(12)", "nullable": false, "has_default": false})
    );
    assert_eq!(
        vehicles["columns"][5],
        json!({"name": "bought", "type": "date", "declared": "DATE", "nullable": true, "has_default": true})
    );
    // An omitted referenced column is the parent's primary key.
    assert!(
        vehicles["foreign_keys"]
            .as_array()
            .unwrap()
            .contains(&json!({"columns": ["model_id"], "table": "models", "references": ["id"]}))
    );
    let users = tables.iter().find(|t| t["name"] == "users").unwrap();
    assert_eq!(users["unique"], json!([["email"]]));
    assert_eq!(users["columns"][0]["nullable"], false);
    let log_parts = tables.iter().find(|t| t["name"] == "log_parts").unwrap();
    assert_eq!(log_parts["primary_key"], json!(["log_id", "line"]));
    assert!(
        std::fs::read_to_string(staging.path().join("db/schema.json"))
            .unwrap()
            .ends_with("}\n")
    );
}

#[test]
fn the_same_data_stages_the_same_bytes() {
    let fleet = Fleet::new();
    let (first, _) = fleet.export(&Scope::Full).unwrap();
    let (second, _) = fleet.export(&Scope::Full).unwrap();
    let first = files(first.path());
    assert_eq!(first.len(), 13);
    assert_eq!(first, files(second.path()));
}

#[test]
fn an_integer_tenant_compares_as_the_columns_type() {
    let fleet = Fleet::with(
        "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE notes (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, body TEXT);",
        "INSERT INTO tenants VALUES (7, 'seven'), (8, 'eight');
         INSERT INTO notes VALUES (1, 7, 'mine'), (2, 8, 'theirs'), (3, 7, 'also mine');",
        &common::FLEET_DESCRIPTOR
            .replace("org_id", "tenant_id")
            .replace("tenant = \"northwind\"", "tenant = \"7\"")
            .replace("organizations", "tenants")
            .replace(
                "exclude = [\"sessions\"]\nsecret_tables = [\"api_keys\"]\n",
                "",
            ),
    );
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    assert_eq!(column(staging.path(), "notes", "id"), ["1", "3"]);
    assert_eq!(column(staging.path(), "tenants", "name"), [r#""seven""#]);
}

#[test]
fn a_row_referencing_another_tenants_row_is_refused() {
    // A linked row reaching a second tenant-owned parent of another tenant.
    let fleet = Fleet::new();
    fleet
        .connection()
        .execute("INSERT INTO vehicle_drivers VALUES (10, 21)", [])
        .unwrap();
    let error = fleet.export(&Scope::Full).unwrap_err();
    assert!(matches!(error, DbError::TenantLeak { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("table \"vehicle_drivers\""), "{message}");
    assert!(
        message.contains("row vehicle_id=10, driver_id=21"),
        "{message}"
    );
    assert!(message.contains("column \"driver_id\""), "{message}");
    assert!(
        message.contains("\"drivers\" that belongs to another tenant"),
        "{message}"
    );
    assert!(!message.contains("southbay"), "{message}");
    // A scope without the parent table finds it too (before reading any row), and so
    // does stats.
    let error = fleet
        .export(&Scope::Table("vehicle_drivers".into()))
        .unwrap_err();
    assert!(matches!(error, DbError::TenantLeak { .. }), "{error:?}");
    let mut engine = sitepack_db::connect(&fleet.descriptor()).unwrap();
    let error = sitepack_db::tenant_stats(engine.as_mut(), &fleet.descriptor()).unwrap_err();
    assert!(matches!(error, DbError::TenantLeak { .. }), "{error:?}");

    // A self-reference to another tenant's row.
    let fleet = Fleet::new();
    fleet
        .connection()
        .execute("UPDATE users SET manager_id = 3 WHERE id = 2", [])
        .unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with("table \"users\", row id=2, column \"manager_id\": references a row of \"users\" that belongs to another tenant"),
        "{message}"
    );
    assert!(!message.contains("southbay"), "{message}");

    // A tenant row referencing another tenant's row of the tenant table.
    let fleet = Fleet::new();
    fleet
        .connection()
        .execute("UPDATE vehicles SET org_id = 'northwind' WHERE id = 12", [])
        .unwrap();
    fleet
        .connection()
        .execute("UPDATE vehicles SET owner_id = 3 WHERE id = 11", [])
        .unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(message.contains("table \"vehicles\", row id="), "{message}");
    assert!(message.contains("column \"owner_id\""), "{message}");
}

#[test]
fn a_foreign_key_cycle_is_refused_by_name() {
    let fleet = Fleet::with(
        "CREATE TABLE depots (id INTEGER PRIMARY KEY, org_id TEXT, main_truck INTEGER REFERENCES trucks(id));
         CREATE TABLE trucks (id INTEGER PRIMARY KEY, org_id TEXT, depot_id INTEGER REFERENCES depots(id));
         CREATE TABLE standalone (id INTEGER PRIMARY KEY, org_id TEXT);",
        "INSERT INTO standalone VALUES (1, 'northwind');",
        &simple_descriptor(),
    );
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(message.contains("depots -> trucks -> depots"), "{message}");
    assert!(message.contains("exclude one of these tables"), "{message}");

    // Excluding one table breaks the cycle.
    fleet.edit_descriptor(|text| text.replace("[database]", "[database]\nexclude = [\"trucks\"]"));
    fleet.export(&Scope::Full).unwrap();
}

#[test]
fn an_unknown_type_is_refused_where_it_would_travel() {
    let schema = "CREATE TABLE places (id INTEGER PRIMARY KEY, org_id TEXT, shape GEOMETRY);
                  CREATE TABLE blobs (id INTEGER PRIMARY KEY, raw);
                  CREATE TABLE notes (id INTEGER PRIMARY KEY, org_id TEXT, blob_id INTEGER REFERENCES blobs(id));
                  CREATE TABLE ok (id INTEGER PRIMARY KEY, org_id TEXT);";
    let rows = "INSERT INTO ok VALUES (1, 'northwind');";
    let with_exclude = |exclude: &str| {
        simple_descriptor().replace("[database]", &format!("[database]\nexclude = {exclude}"))
    };
    let fleet = Fleet::with(schema, rows, &with_exclude(r#"["blobs", "notes"]"#));
    let error = fleet.export(&Scope::Full).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, DbError::UnsupportedType { .. }));
    assert!(
        message.starts_with("table \"places\", column \"shape\": type GEOMETRY is not supported"),
        "{message}"
    );
    // Reference data travels too: its types are checked.
    let fleet = Fleet::with(schema, rows, &with_exclude(r#"["places"]"#));
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message
            .starts_with("table \"blobs\", column \"raw\": type (none declared) is not supported"),
        "{message}"
    );
    // A table that stays behind (excluded, unreached) may have any type.
    let fleet = Fleet::with(schema, rows, &with_exclude(r#"["places", "notes"]"#));
    let (_, summary) = fleet.export(&Scope::Full).unwrap();
    assert_eq!(summary.schema.tables.len(), 1);
}

#[test]
fn an_unknown_tenant_is_refused() {
    let fleet = Fleet::new();
    fleet.edit_descriptor(|text| text.replace("tenant = \"northwind\"", "tenant = \"nowhere\""));
    let error = fleet.export(&Scope::Full).unwrap_err();
    assert!(matches!(error, DbError::UnknownTenant { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "tenant \"nowhere\" has no rows in sqlite:fleet.db: check tenant and tenant_column in the site descriptor"
    );
    let mut engine = connect(&fleet.descriptor()).unwrap();
    assert!(matches!(
        tenant_stats(engine.as_mut(), &fleet.descriptor()),
        Err(DbError::UnknownTenant { .. })
    ));
}

#[test]
fn a_tenant_column_that_no_table_has_is_refused() {
    let fleet = Fleet::new();
    fleet.edit_descriptor(|text| text.replace("\"org_id\"", "\"tenant_id\""));
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert_eq!(
        message,
        "no table of sqlite:fleet.db has the tenant column \"tenant_id\" (outside exclude and secret_tables): check tenant_column in the site descriptor"
    );
}

#[test]
fn tables_the_descriptor_names_must_exist() {
    for (key, value) in [
        ("secret_tables", "[\"api_key\"]"),
        ("exclude", "[\"session\"]"),
        ("tenant_table", "\"organisation\""),
    ] {
        let fleet = Fleet::new();
        fleet.edit_descriptor(|text| {
            let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(key)).collect();
            kept.join("\n")
                .replace("[database]", &format!("[database]\n{key} = {value}"))
        });
        let message = fleet.export(&Scope::Full).unwrap_err().to_string();
        let name = value.trim_matches(['[', ']', '"']);
        assert!(
            message.contains(&format!(
                "{key} names table \"{name}\", which sqlite:fleet.db does not have"
            )),
            "{message}"
        );
    }
}

#[test]
fn a_value_that_cannot_be_written_is_named() {
    let fleet = Fleet::new();
    fleet
        .connection()
        .execute("UPDATE vehicles SET owner_id = 'nobody' WHERE id = 11", [])
        .unwrap();
    let error = fleet.export(&Scope::Full).unwrap_err();
    assert!(matches!(error, DbError::BadValue { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "table \"vehicles\", row id=11, column \"owner_id\": holds text where the column's type is integer; store the value as the column's type, or change the column's declared type"
    );
}

#[test]
fn a_table_name_that_cannot_be_a_file_name_is_refused() {
    let fleet = Fleet::with(
        "CREATE TABLE \"a/b\" (id INTEGER PRIMARY KEY, org_id TEXT);
         CREATE TABLE ok (id INTEGER PRIMARY KEY, org_id TEXT);",
        "INSERT INTO ok VALUES (1, 'northwind');",
        &simple_descriptor(),
    );
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with("table \"a/b\" cannot travel"),
        "{message}"
    );

    // SQLite folds the case of ASCII letters only: these are two tables, and one file on
    // a case-insensitive file system.
    let fleet = Fleet::with(
        "CREATE TABLE \"\u{c4}pfel\" (id INTEGER PRIMARY KEY, org_id TEXT);
         CREATE TABLE \"\u{e4}pfel\" (id INTEGER PRIMARY KEY, org_id TEXT);",
        "INSERT INTO \"\u{c4}pfel\" VALUES (1, 'northwind');",
        &simple_descriptor(),
    );
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with("tables whose names differ only by case cannot both travel (db/\u{c4}pfel.jsonl and db/\u{e4}pfel.jsonl"),
        "{message}"
    );
}

#[test]
fn the_table_scope_holds_one_table_and_its_reference_rows() {
    let fleet = Fleet::new();
    let (staging, summary) = fleet.export(&Scope::Table("vehicles".into())).unwrap();
    let staged: Vec<String> = files(staging.path()).into_keys().collect();
    assert_eq!(
        staged,
        [
            "db/manufacturers.jsonl",
            "db/models.jsonl",
            "db/schema.json",
            "db/vehicles.jsonl",
            "site.json"
        ]
    );
    assert_eq!(column(staging.path(), "vehicles", "id"), ["10", "11"]);
    assert_eq!(column(staging.path(), "models", "id"), ["1"]);
    let skipped = &summary.schema.skipped;
    let reason = |t: &str| {
        serde_json::to_value(skipped.iter().find(|s| s.table == t).unwrap().reason).unwrap()
    };
    assert_eq!(reason("users"), "out-of-scope");
    assert_eq!(reason("currencies"), "out-of-scope");
    assert_eq!(reason("api_keys"), "secret");

    // A linked table alone: its own filter still reaches through its parents.
    let (staging, _) = fleet.export(&Scope::Table("log_parts".into())).unwrap();
    assert_eq!(rows(staging.path(), "log_parts").len(), 3);

    let message = fleet
        .export(&Scope::Table("trucks".into()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("scope table:trucks: the database has no such table"),
        "{message}"
    );
    assert!(
        message.contains("currencies, drivers, invoices"),
        "{message}"
    );
    let message = fleet
        .export(&Scope::Table("api_keys".into()))
        .unwrap_err()
        .to_string();
    assert!(message.contains("not one of the tenant's"), "{message}");
}

#[test]
fn the_user_scope_holds_the_user_and_their_rows() {
    let fleet = Fleet::new();
    let (staging, _) = fleet.export(&Scope::User("1".into())).unwrap();
    let staged: Vec<String> = files(staging.path()).into_keys().collect();
    assert_eq!(
        staged,
        [
            "db/drivers.jsonl",
            "db/manufacturers.jsonl",
            "db/models.jsonl",
            "db/schema.json",
            "db/users.jsonl",
            "db/vehicles.jsonl",
            "site.json"
        ]
    );
    assert_eq!(column(staging.path(), "users", "id"), ["1"]);
    assert_eq!(column(staging.path(), "vehicles", "id"), ["10"]);
    assert_eq!(column(staging.path(), "drivers", "id"), ["20"]);
    assert_eq!(column(staging.path(), "models", "id"), ["1"]);

    // The other tenant's user is no user of this tenant: refused, not an empty backup.
    let message = fleet
        .export(&Scope::User("3".into()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("user:3") && message.contains("no row"),
        "{message}"
    );
    // `user:01` is user 1 to the database, but not to the files of `files/users/1/`.
    let message = fleet
        .export(&Scope::User("01".into()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("user:01") && message.contains("leading"),
        "{message}"
    );
    // An integer key compares as an integer: "x" is no user id.
    let message = fleet
        .export(&Scope::User("x".into()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("column \"owner_id\" holds integers, and \"x\" is not one"),
        "{message}"
    );
}

#[test]
fn tenant_stats_count_the_same_rows() {
    let fleet = Fleet::new();
    let descriptor = fleet.descriptor();
    let mut engine = connect(&descriptor).unwrap();
    let stats = tenant_stats(engine.as_mut(), &descriptor).unwrap();
    assert_eq!(stats.total, 17);
    assert!(stats.tables.contains(&(
        "log_parts".into(),
        sitepack_format::database::TableRole::Linked,
        3
    )));
    assert_eq!(stats.skipped.len(), 3);
    // The snapshot ended: the same connection exports next, in a snapshot of its own.
    let staging = tempfile::tempdir().unwrap();
    let summary = sitepack_db::export(
        engine.as_mut(),
        &descriptor,
        &Scope::Full,
        staging.path(),
        6,
        2,
        &sitepack_format::NoProgress,
    )
    .unwrap();
    assert_eq!(summary.rows, stats.total);
}

#[test]
fn a_missing_database_file_is_not_created() {
    let fleet = Fleet::new();
    std::fs::remove_file(fleet.db_path()).unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(message.contains("no database file at"), "{message}");
    assert!(message.contains("fleet.db"), "{message}");
    assert!(!fleet.db_path().exists());
}

fn simple_descriptor() -> String {
    common::FLEET_DESCRIPTOR
        .lines()
        .filter(|l| {
            !l.starts_with("tenant_table")
                && !l.starts_with("exclude")
                && !l.starts_with("secret_tables")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let fleet = Fleet::new();
    std::fs::write(fleet.db_path(), vec![b'x'; 4096]).unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with("cannot connect to sqlite:"),
        "{message}"
    );
    assert!(message.contains("a SQLite database?"), "{message}");
}

#[test]
fn progress_counts_tables_and_rows() {
    struct Recorder(std::sync::Mutex<Vec<(u64, u64)>>);
    impl sitepack_format::Progress for Recorder {
        fn begin(&self, entries: u64, bytes: u64) {
            self.0.lock().unwrap().push((entries, bytes));
        }
        fn advance(&self, bytes: u64) {
            self.0.lock().unwrap().push((0, bytes));
        }
    }
    let fleet = Fleet::new();
    let descriptor = fleet.descriptor();
    let mut engine = connect(&descriptor).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let recorder = Recorder(std::sync::Mutex::new(Vec::new()));
    sitepack_db::export(
        engine.as_mut(),
        &descriptor,
        &Scope::Full,
        staging.path(),
        6,
        2,
        &recorder,
    )
    .unwrap();
    let calls = recorder.0.into_inner().unwrap();
    assert_eq!(calls[0], (11, 17));
    assert_eq!(calls.len(), 12);
    assert_eq!(calls[1..].iter().map(|(_, rows)| rows).sum::<u64>(), 17);
}

#[test]
fn the_tenant_table_is_filtered_by_its_key() {
    // The tenant table has the tenant column too (a parent organization): its row is the
    // one whose key is the tenant, whatever that column holds.
    let schema = "CREATE TABLE organizations (id TEXT PRIMARY KEY, org_id TEXT, name TEXT);
                  CREATE TABLE depots (id INTEGER PRIMARY KEY, organization TEXT REFERENCES organizations(id));";
    let rows = "INSERT INTO organizations VALUES ('northwind', 'holding', 'N'), ('southbay', 'northwind', 'S');
                INSERT INTO depots VALUES (1, 'northwind'), (2, 'southbay');";
    let descriptor =
        simple_descriptor().replace("[database]", "[database]\ntenant_table = \"organizations\"");
    let fleet = Fleet::with(schema, rows, &descriptor);
    let (staging, summary) = fleet.export(&Scope::Full).unwrap();
    assert_eq!(column(staging.path(), "organizations", "name"), [r#""N""#]);
    // Linked through the tenant table.
    assert_eq!(column(staging.path(), "depots", "id"), ["1"]);
    assert_eq!(
        summary.schema.tables[1].role,
        sitepack_format::database::TableRole::Linked
    );

    let fleet = Fleet::with(
        "CREATE TABLE organizations (a TEXT, b TEXT, org_id TEXT, PRIMARY KEY (a, b));",
        "",
        &descriptor,
    );
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.contains("tenant_table \"organizations\" needs a primary key of one column"),
        "{message}"
    );
    assert!(message.contains("it has (a, b)"), "{message}");
}

#[test]
fn a_row_holding_a_credential_stops_the_backup_naming_table_row_and_column() {
    let fleet = Fleet::new();
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ0123456789";
    fleet
        .connection()
        .execute(
            "INSERT INTO drivers VALUES (77, 'northwind', ?1, NULL)",
            [format!("call me, token {token}")],
        )
        .unwrap();
    let error = fleet.export(&Scope::Full).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, DbError::Unarchivable { .. }), "{error:?}");
    assert!(
        message.starts_with("table \"drivers\", row id=77, at /name: holds a GitHub token"),
        "{message}"
    );
    assert!(message.contains("secret_tables"), "{message}");
    assert!(!message.contains(token), "{message}");
}

#[test]
fn a_secret_in_a_key_or_a_reference_stops_the_backup_without_showing_it() {
    let descriptor = "[site]\nid = \"acme\"\nname = \"Acme\"\nurl = \"https://acme.example\"\n\
                      [database]\nurl = \"sqlite:fleet.db\"\ntenant_column = \"org_id\"\ntenant = \"acme\"\n";
    // A setting named as a secret: its value is removed, and it is the key a child uses.
    let fleet = Fleet::with(
        "CREATE TABLE settings (name TEXT, value TEXT PRIMARY KEY, org_id TEXT);
         CREATE TABLE uses (id INTEGER PRIMARY KEY, org_id TEXT, setting TEXT REFERENCES settings (value));",
        "INSERT INTO settings VALUES ('colour', 'red', 'acme'), ('api_token', 'tok-5e5e5e', 'acme');
         INSERT INTO uses VALUES (1, 'acme', 'red'), (2, 'acme', 'tok-5e5e5e');",
        descriptor,
    );
    let error = fleet.export(&Scope::Full).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, DbError::Unarchivable { .. }), "{error:?}");
    assert!(message.starts_with("table \"settings\", row"), "{message}");
    assert!(
        message.contains("column \"value\" holds a secret"),
        "{message}"
    );
    assert!(!message.contains("tok-5e5e5e"), "{message}");
    // A URL with a password in a referencing column.
    let fleet = Fleet::with(
        "CREATE TABLE hosts (dsn TEXT PRIMARY KEY, org_id TEXT);
         CREATE TABLE jobs (id INTEGER PRIMARY KEY, org_id TEXT, dsn TEXT REFERENCES hosts (dsn));",
        "INSERT INTO hosts VALUES ('db-1', 'acme');
         INSERT INTO jobs VALUES (1, 'acme', 'db-1');",
        descriptor,
    );
    // (SQLite checks no foreign key on this connection: the parent need not exist.)
    fleet
        .connection()
        .execute(
            "INSERT INTO jobs VALUES (2, 'acme', 'postgres://u:hunter2@db-1/x')",
            [],
        )
        .unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with("table \"jobs\", row id=2: column \"dsn\" holds a secret"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn json_nested_as_deep_as_a_reader_parses_travels_and_deeper_is_refused() {
    let descriptor = "[site]\nid = \"acme\"\nname = \"Acme\"\nurl = \"https://acme.example\"\n\
                      [database]\nurl = \"sqlite:fleet.db\"\ntenant_column = \"org_id\"\ntenant = \"acme\"\n";
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let fleet = Fleet::with(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, org_id TEXT, body JSON);",
        &format!("INSERT INTO docs VALUES (1, 'acme', '{}');", nested(126)),
        descriptor,
    );
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    assert_eq!(common::rows(staging.path(), "docs").len(), 1);
    fleet
        .connection()
        .execute(
            &format!("INSERT INTO docs VALUES (2, 'acme', '{}')", nested(127)),
            [],
        )
        .unwrap();
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(message.contains("table `docs`, line 2"), "{message}");
    assert!(
        message.contains("nests 127 arrays or objects deep"),
        "{message}"
    );
}

#[test]
fn a_table_or_column_named_as_a_secret_is_refused_without_its_name() {
    let descriptor = "[site]\nid = \"acme\"\nname = \"Acme\"\nurl = \"https://acme.example\"\n\
                      [database]\nurl = \"sqlite:fleet.db\"\ntenant_column = \"org_id\"\ntenant = \"acme\"\n";
    for (schema, secret) in [
        (
            "CREATE TABLE hooks (id INTEGER PRIMARY KEY, org_id TEXT, \"https://u:SECRETCOL@h\" TEXT);",
            "SECRETCOL",
        ),
        (
            "CREATE TABLE \"ghp_0123456789abcdefghijABCDEFGHIJ0123456789\" (id INTEGER PRIMARY KEY, org_id TEXT);",
            "0123456789abcdefghij",
        ),
    ] {
        let fleet = Fleet::with(schema, "", descriptor);
        let error = fleet.export(&Scope::Full).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, DbError::Plan { .. }), "{error:?}");
        assert!(message.contains("cannot travel"), "{message}");
        assert!(!message.contains(secret), "{message}");
    }
}

#[test]
fn a_user_archive_whose_rows_refer_to_another_user_says_the_scope_leaves_it_out() {
    let fleet = Fleet::new();
    // User 2 reports to user 1 (both northwind's): a user:2 archive holds no user 1.
    let message = fleet
        .export(&Scope::User("2".into()))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("table \"users\", row (id)=(2): column \"manager_id\" references a row of \"users\" that scope user:2 leaves out"),
        "{message}"
    );
    assert!(message.contains("back up the full scope"), "{message}");
}
