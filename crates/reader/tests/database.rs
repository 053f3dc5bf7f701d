//! Database archives (format 1.1, FORMAT.md §15): the reader's checks of `site/db/`, one
//! broken rule per case, on real ZIPs built by `sitepack_test_support::database`; and what
//! the same content means under format 1.0.

use std::path::PathBuf;

use serde_json::{Value, json};
use sitepack_reader::{Archive, Code, Finding, Limits, Report};
use sitepack_test_support::database::{DatabaseFixture, TYPED_COLUMNS};

/// An archive file in a temporary directory.
struct Written {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(bytes: &[u8]) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.zip");
    std::fs::write(&path, bytes).unwrap();
    Written { _dir: dir, path }
}

fn validate(bytes: &[u8]) -> Report {
    let written = write(bytes);
    Archive::open(&written.path)
        .unwrap()
        .validate(&Limits::default())
        .unwrap()
}

fn codes(report: &Report) -> Vec<Code> {
    report.findings.iter().map(|f| f.code).collect()
}

fn show(report: &Report) -> String {
    serde_json::to_string_pretty(&report.findings).unwrap()
}

/// The findings of `report` with `code`; fails unless there is one, and unless every
/// finding of the report has that code.
fn only(report: &Report, code: Code) -> Vec<&Finding> {
    assert!(!report.valid, "valid: {}", show(report));
    assert!(
        !report.findings.is_empty() && report.findings.iter().all(|f| f.code == code),
        "expected only {code}: {}",
        show(report)
    );
    report.findings.iter().collect()
}

#[test]
fn a_database_archive_validates_without_findings() {
    let mut fixture = DatabaseFixture::new();
    fixture
        .files
        .insert("files/logo.png".into(), b"\x89PNG".to_vec());
    let bytes = fixture.to_bytes();
    let report = validate(&bytes);
    assert!(report.valid, "{}", show(&report));
    assert!(report.findings.is_empty(), "{}", show(&report));

    // stats count as before: the tables are `other` entries, and `records` counts module
    // collections only (the payload's stats know nothing of tables).
    let payload = fixture.payload();
    let manifest = fixture.manifest(&payload);
    assert_eq!(manifest["stats"]["other"], 5);
    assert_eq!(manifest["stats"]["records"], 0);
    assert_eq!(manifest["stats"]["collections"], 0);
    // Counting the tables' rows in stats.records is off.
    let report = validate(&fixture.to_bytes_with(|m| m["stats"]["records"] = json!(8)));
    assert!(report.valid);
    assert_eq!(codes(&report), [Code::StatsMismatch], "{}", show(&report));
}

#[test]
fn user_and_table_scoped_database_archives_validate() {
    for scope in ["user:u-7", "table:orders"] {
        let mut fixture = DatabaseFixture::new();
        fixture.scope = scope.to_owned();
        let report = validate(&fixture.to_bytes());
        assert!(report.findings.is_empty(), "{scope}: {}", show(&report));
    }
}

/// A value of the wrong encoding in each typed column (and a null in a NOT NULL one).
#[test]
fn each_column_type_refuses_values_of_another_encoding() {
    let bad: [(&str, Value); 13] = [
        ("c_numeric", json!(1234.56)),
        ("c_float", json!("0.25")),
        ("c_boolean", json!("yes")),
        ("c_text", json!("nul\u{0}byte")),
        ("c_bytes", json!("not base64!")),
        ("c_date", json!("22.11.2026")),
        ("c_time", json!("8:30")),
        ("c_timestamp", json!("2026-11-22 08:30:00")),
        ("c_timestamptz", json!("2026-11-22T08:30:00")),
        ("c_uuid", json!("123E4567-E89B-12D3-A456-426614174000")),
        ("c_integers", json!([1, "two"])),
        ("id", json!(9_223_372_036_854_775_808_u64)),
        ("c_json", Value::Null),
    ];
    assert_eq!(bad.len(), TYPED_COLUMNS.len() + 1);
    for (column, value) in bad {
        let mut fixture = DatabaseFixture::new();
        let mut row = DatabaseFixture::typed_row(2);
        row[column] = value.clone();
        fixture.rows.get_mut("typed").unwrap().push(row);
        let report = validate(&fixture.to_bytes());
        let found = only(&report, Code::DbRow);
        assert_eq!(found.len(), 1, "{column}: {}", show(&report));
        let message = &found[0].message;
        assert_eq!(found[0].path.as_deref(), Some("site/db/typed.jsonl"));
        assert!(
            message.contains("table `typed`, line 2")
                && message.contains(&format!("column `{column}`")),
            "{column}: {message}"
        );
        if column != "id" {
            assert!(message.contains("(key (id)=(2))"), "{message}");
        }
        if let Some(text) = value.as_str() {
            assert!(
                !message.contains(text),
                "the message repeats the value: {message}"
            );
        }
    }
}

#[test]
fn a_row_holds_exactly_its_tables_columns() {
    let mut fixture = DatabaseFixture::new();
    let orders = fixture.rows.get_mut("orders").unwrap();
    orders[0].as_object_mut().unwrap().remove("total");
    orders[1]["discount"] = json!("5");
    orders.push(json!(["not", "an", "object"]));
    fixture.table_mut("orders")["rows"] = json!(4);
    let report = validate(&fixture.to_bytes());
    let messages: Vec<&str> = only(&report, Code::DbRow)
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3, "{}", show(&report));
    assert!(
        messages[0]
            .starts_with("table `orders`, line 1 (key (id)=(10)): column `total` is missing"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with(
            "table `orders`, line 2 (key (id)=(11)): member `discount` is not a column"
        ),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].starts_with("table `orders`, line 4: the row is not a JSON object"),
        "{}",
        messages[2]
    );
}

#[test]
fn primary_keys_are_unique() {
    let mut fixture = DatabaseFixture::new();
    fixture
        .rows
        .get_mut("orders")
        .unwrap()
        .push(json!({"id": 11, "shop_id": 1, "currency": null, "total": "1"}));
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbKeyDuplicate);
    assert!(
        found[0].message.starts_with(
            "table `orders`, line 4 (key (id)=(11)): the same primary key as the row on line 2"
        ),
        "{}",
        found[0].message
    );
}

#[test]
fn a_foreign_key_names_a_row_of_the_archive() {
    let mut fixture = DatabaseFixture::new();
    let orders = fixture.rows.get_mut("orders").unwrap();
    orders.push(json!({"id": 13, "shop_id": 3, "currency": "GBP", "total": "1"}));
    // A NULL foreign key references nothing: not checked.
    orders.push(json!({"id": 14, "shop_id": 1, "currency": null, "total": "1"}));
    let report = validate(&fixture.to_bytes());
    let mut messages: Vec<&str> = only(&report, Code::DbForeignKey)
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    messages.sort_unstable();
    assert_eq!(messages.len(), 2, "{}", show(&report));
    assert!(messages[0].starts_with("table `orders`, line 4 (key (id)=(13)): foreign key (currency) names a row of `currencies` (code) that the archive does not hold"), "{}", messages[0]);
    assert!(messages[1].starts_with("table `orders`, line 4 (key (id)=(13)): foreign key (shop_id) names a row of `shops` (id)"), "{}", messages[1]);
}

#[test]
fn a_foreign_key_to_a_table_not_in_the_archive_is_not_checked() {
    let mut fixture = DatabaseFixture::new();
    // `currencies` skipped (excluded): the orders' currencies cannot be resolved here.
    fixture.rows.remove("currencies");
    fixture.schema["tables"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "currencies");
    fixture.schema["skipped"]
        .as_array_mut()
        .unwrap()
        .push(json!({"table": "currencies", "reason": "excluded"}));
    let report = validate(&fixture.to_bytes());
    assert!(report.findings.is_empty(), "{}", show(&report));
}

#[test]
fn many_dangling_rows_are_reported_by_the_first_ones_and_a_count() {
    let mut fixture = DatabaseFixture::new();
    let orders = fixture.rows.get_mut("orders").unwrap();
    for id in 100..130 {
        orders.push(json!({"id": id, "shop_id": id, "currency": null, "total": "1"}));
    }
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbForeignKey);
    assert_eq!(found.len(), 21, "{}", show(&report));
    assert!(
        found[0].message.contains("line 4 (key (id)=(100))"),
        "{}",
        found[0].message
    );
    assert!(
        found[20]
            .message
            .contains("10 more values of foreign key (shop_id)"),
        "{}",
        found[20].message
    );
}

#[test]
fn a_tenant_tables_rows_hold_the_tenants_value() {
    let mut fixture = DatabaseFixture::new();
    fixture.rows.get_mut("shops").unwrap()[1]["tenant_id"] = json!(8);
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbTenant);
    assert!(
        found[0].message.starts_with(
            "table `shops`, line 2 (key (id)=(2)): column `tenant_id` holds another tenant's value"
        ),
        "{}",
        found[0].message
    );

    // A text tenant is compared as text: "7" is not 7.
    let mut fixture = DatabaseFixture::new();
    fixture.schema["tenant"]["value"] = json!("7");
    fixture.table_mut("shops")["columns"][1]["type"] = json!("text");
    for shop in fixture.rows.get_mut("shops").unwrap() {
        shop["tenant_id"] = json!("7");
    }
    assert!(validate(&fixture.to_bytes()).findings.is_empty());
    fixture.rows.get_mut("shops").unwrap()[0]["tenant_id"] = json!("07");
    only(&validate(&fixture.to_bytes()), Code::DbTenant);
}

#[test]
fn a_tables_rows_are_its_records_and_its_schema_rows() {
    // The manifest's records off by one.
    let bytes = DatabaseFixture::new().to_bytes_with(|manifest| {
        let entry = manifest["entries"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["path"] == "site/db/orders.jsonl")
            .unwrap();
        entry["records"] = json!(4);
    });
    let report = validate(&bytes);
    let found = only(&report, Code::DbCount);
    assert_eq!(
        found[0].message,
        "table `orders` holds 3 rows, but the manifest's records says 4; the archive was altered or made by a faulty writer: make it again from the database"
    );

    // schema.json's rows off.
    let mut fixture = DatabaseFixture::new();
    fixture.keep_schema_rows = true;
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbCount);
    assert_eq!(found.len(), 4, "{}", show(&report));
    assert!(
        found
            .iter()
            .all(|f| f.message.contains("schema.json's rows says 0"))
    );

    // records on schema.json.
    let bytes = DatabaseFixture::new().to_bytes_with(|manifest| {
        let entry = manifest["entries"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["path"] == "site/db/schema.json")
            .unwrap();
        entry["records"] = json!(1);
    });
    let report = validate(&bytes);
    let found = only(&report, Code::DbCount);
    assert_eq!(found[0].path.as_deref(), Some("site/db/schema.json"));

    // No records at all.
    let mut fixture = DatabaseFixture::new();
    fixture.records = false;
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbCount);
    assert_eq!(found.len(), 4, "{}", show(&report));
    assert!(
        found[0]
            .message
            .contains("does not state the number of rows"),
        "{}",
        found[0].message
    );
}

#[test]
fn every_table_has_its_entry_and_every_entry_is_a_table() {
    let mut fixture = DatabaseFixture::new();
    fixture.rows.remove("typed");
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbTableMissing);
    assert_eq!(found[0].path.as_deref(), Some("site/db/typed.jsonl"));

    let mut fixture = DatabaseFixture::new();
    fixture
        .rows
        .insert("audit_log".into(), vec![json!({"id": 1})]);
    fixture
        .files
        .insert("db/notes.txt".into(), b"hello\n".to_vec());
    let report = validate(&fixture.to_bytes());
    let paths: Vec<&str> = only(&report, Code::DbTableUnknown)
        .iter()
        .filter_map(|f| f.path.as_deref())
        .collect();
    assert_eq!(paths, ["site/db/audit_log.jsonl", "site/db/notes.txt"]);
}

/// A way to break schema.json: what it breaks, how, and where the finding points.
type Breakage = (&'static str, fn(&mut DatabaseFixture), &'static str);

#[test]
fn a_schema_that_breaks_its_json_schema_is_reported_by_pointer() {
    let cases: [Breakage; 4] = [
        (
            "engine",
            |f| f.schema["engine"] = json!("oracle"),
            "at /engine:",
        ),
        (
            "column type",
            |f| f.table_mut("orders")["columns"][3]["type"] = json!("money"),
            "at /tables/2/columns/3/type:",
        ),
        (
            "missing tenant",
            |f| {
                f.schema.as_object_mut().unwrap().remove("tenant");
            },
            "at /:",
        ),
        (
            "key column that does not exist",
            |f| f.table_mut("orders")["primary_key"] = json!(["order_id"]),
            "at /tables/2/primary_key/0:",
        ),
    ];
    for (what, change, pointer) in cases {
        let mut fixture = DatabaseFixture::new();
        change(&mut fixture);
        let report = validate(&fixture.to_bytes());
        let found = only(&report, Code::DbSchema);
        assert!(
            found.iter().any(|f| f.message.starts_with(pointer)
                && f.path.as_deref() == Some("site/db/schema.json")
                && f.message.contains("the tables were not checked")),
            "{what}: {}",
            show(&report)
        );
    }
}

#[test]
fn findings_per_table_are_capped() {
    let mut fixture = DatabaseFixture::new();
    let typed = fixture.rows.get_mut("typed").unwrap();
    for id in 2..200 {
        let mut row = DatabaseFixture::typed_row(id);
        row["c_boolean"] = json!(0);
        typed.push(row);
    }
    let report = validate(&fixture.to_bytes());
    assert_eq!(only(&report, Code::DbRow).len(), 20, "{}", show(&report));
}

/// Under format 1.0, `site/db/` is area `other`: schema.json a document, the tables JSON
/// Lines. A 1.0 manifest of the same content gets 1.0's checks and none of 1.1's.
#[test]
fn a_1_0_manifest_keeps_1_0_rules_for_db_content() {
    // Rows that break every row rule: 1.0 knows nothing of tables.
    let mut fixture = DatabaseFixture::new();
    fixture.format_version = "1.0".to_owned();
    fixture.records = false;
    fixture
        .rows
        .get_mut("orders")
        .unwrap()
        .push(json!({"id": 10, "what": "no columns"}));
    fixture.rows.insert("unknown".into(), vec![json!([1])]);
    let report = validate(&fixture.to_bytes());
    assert!(report.findings.is_empty(), "{}", show(&report));

    // JSON content rules still apply to them.
    fixture.rows.insert("broken".into(), vec![json!({"k": 1})]);
    let payload = fixture
        .payload()
        .with("db/broken.jsonl", "{\"k\": 1, \"k\": 2}\n");
    let report = validate(&payload.zip_with(&fixture.manifest(&payload)).to_bytes());
    assert_eq!(codes(&report), [Code::InvalidJson], "{}", show(&report));

    // `records` on a table entry is what a 1.0 reader refuses: only collections state
    // records (FORMAT.md §13.8, check 44).
    let mut fixture = DatabaseFixture::new();
    fixture.format_version = "1.0".to_owned();
    let report = validate(&fixture.to_bytes());
    assert_eq!(
        codes(&report),
        [Code::RecordCountMismatch; 4],
        "{}",
        show(&report)
    );

    // A user-scope archive: area `other` is outside a user scope in 1.0.
    let mut fixture = DatabaseFixture::new();
    fixture.format_version = "1.0".to_owned();
    fixture.records = false;
    fixture.scope = "user:u-7".to_owned();
    let report = validate(&fixture.to_bytes());
    assert_eq!(codes(&report), [Code::OutOfScope; 5], "{}", show(&report));
}

/// A 1.1 manifest without `site/db/schema.json` is no database archive: `site/db/` is
/// content of area `other`, as in 1.0.
#[test]
fn a_1_1_manifest_without_schema_json_is_directory_content() {
    let mut fixture = DatabaseFixture::new();
    fixture.records = false;
    let payload = fixture.payload();
    let mut files = payload.files().clone();
    files.remove("db/schema.json");
    let payload = files.into_iter().fold(
        sitepack_test_support::zipcraft::Payload::new(),
        |p, (path, data)| p.with(&path, data),
    );
    let report = validate(&payload.zip_with(&fixture.manifest(&payload)).to_bytes());
    assert!(report.findings.is_empty(), "{}", show(&report));
}

/// The table scope is format 1.1: a manifest that says 1.0 is refused, as the reader of
/// format 1.0 refuses the unknown scope kind (its manifest schema has no `table`).
#[test]
fn a_table_scope_under_format_1_0_is_a_manifest_schema_error() {
    let mut fixture = DatabaseFixture::new();
    fixture.scope = "table:orders".to_owned();
    fixture.format_version = "1.0".to_owned();
    fixture.records = false;
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::ManifestSchema);
    assert!(
        found[0]
            .message
            .starts_with("at /scope: the scope kind `table` is format 1.1"),
        "{}",
        found[0].message
    );

    // What format 1.0's manifest schema (as 1.0 readers embed it) says of the table scope.
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/manifest-1.0.schema.json")).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let mut fixture = DatabaseFixture::new();
    fixture.scope = "table:orders".to_owned();
    let manifest = fixture.manifest(&fixture.payload());
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert_eq!(errors, ["/scope"]);
    let mut full = manifest.clone();
    full["scope"] = json!({"kind": "full"});
    assert!(validator.is_valid(&full));
}

/// `validate --no-data` reads schema.json: its checks and the tables' entries, no rows.
#[test]
fn a_metadata_check_reads_schema_json() {
    let mut fixture = DatabaseFixture::new();
    fixture.rows.get_mut("shops").unwrap()[0]["tenant_id"] = json!(8);
    let written = write(&fixture.to_bytes());
    let archive = Archive::open(&written.path).unwrap();
    assert!(
        archive
            .validate_metadata(&Limits::default())
            .unwrap()
            .findings
            .is_empty()
    );

    fixture.schema["engine"] = json!("oracle");
    fixture.rows.remove("typed");
    let written = write(&fixture.to_bytes());
    let archive = Archive::open(&written.path).unwrap();
    let report = archive.validate_metadata(&Limits::default()).unwrap();
    assert_eq!(codes(&report), [Code::DbSchema], "{}", show(&report));
}

#[test]
fn a_preview_shows_the_engine_tenant_tables_and_skipped_tables() {
    let written = write(&DatabaseFixture::new().to_bytes());
    let preview = Archive::open(&written.path).unwrap().preview().unwrap();
    assert!(preview.valid);
    let database = preview.database.as_ref().unwrap();
    assert_eq!(database.tenant_text(), "tenant_id = 7");
    let json = serde_json::to_value(&preview).unwrap();
    assert_eq!(
        json["database"],
        json!({
            "engine": "postgresql",
            "engine_version": "16.4",
            "tenant": {"column": "tenant_id", "value": 7},
            "tables": [
                {"name": "currencies", "role": "reference", "rows": 2},
                {"name": "shops", "role": "tenant", "rows": 2},
                {"name": "orders", "role": "linked", "rows": 3},
                {"name": "typed", "role": "linked", "rows": 1},
            ],
            "skipped": [{"table": "sessions", "reason": "secret", "explanation": "a secret table: its rows never travel"}],
        })
    );

    // A directory archive's preview has no `database` member.
    let mut fixture = DatabaseFixture::new();
    fixture.format_version = "1.0".to_owned();
    fixture.records = false;
    let written = write(&fixture.to_bytes());
    let preview = Archive::open(&written.path).unwrap().preview().unwrap();
    assert!(preview.database.is_none());
    assert!(
        serde_json::to_value(&preview)
            .unwrap()
            .get("database")
            .is_none()
    );
}

/// The writer of format 1.0 archives a staged database site's `db/` as directory
/// content: area `other`, no `records`, format 1.0 — valid under 1.0's rules, whatever the
/// rows hold.
#[test]
fn a_writer_made_1_0_archive_of_db_content_is_directory_content() {
    use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site, create_archive_file};

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    let mut fixture = DatabaseFixture::new();
    fixture.rows.get_mut("orders").unwrap()[0] = json!({"not": "a row of orders"});
    for (path, data) in fixture.payload().files() {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, data).unwrap();
    }
    let out = dir.path().join("site.zip");
    create_archive_file(
        &Site::open(&root).unwrap(),
        &CreateOptions::new("full".parse().unwrap()),
        &out,
        Overwrite::Refuse,
        &NoProgress,
    )
    .unwrap();
    let archive = Archive::open(&out).unwrap();
    let report = archive.validate(&Limits::default()).unwrap();
    assert!(report.findings.is_empty(), "{}", show(&report));
    let manifest = archive.manifest().unwrap();
    assert_eq!(manifest.format_version.to_string(), "1.0");
    assert!(manifest.entries.iter().all(|e| e.records.is_none()
        && e.area == sitepack_format::AreaKind::Other
        || e.path.as_str() == "site/site.json"));
    assert!(archive.preview().unwrap().database.is_none());
}

#[test]
fn a_database_archive_extracts_like_any_archive() {
    let fixture = DatabaseFixture::new();
    let written = write(&fixture.to_bytes());
    let out = written.path.with_file_name("out");
    Archive::open(&written.path)
        .unwrap()
        .extract_to(&out)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("site/db/orders.jsonl")).unwrap(),
        DatabaseFixture::table_text(&fixture.rows["orders"])
    );
    assert!(out.join("site/db/schema.json").is_file());
}

/// Rows are JSON Lines values: the secret policy applies to them as to any JSON entry.
/// A value under a secret key is `SECRET_PRESENT` (never repeated); a row from which it was
/// removed lacks a column. (So a database writer must not archive a secret column's
/// values at all: it leaves the column, or the table, out of schema.json.)
#[test]
fn a_row_holding_a_secret_is_reported_without_its_value() {
    let mut fixture = DatabaseFixture::new();
    let shops = fixture.table_mut("shops");
    shops["columns"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "smtp_password", "type": "text", "declared": "text", "nullable": true, "has_default": false}));
    for shop in fixture.rows.get_mut("shops").unwrap() {
        shop["smtp_password"] = Value::Null;
    }
    assert!(validate(&fixture.to_bytes()).findings.is_empty());

    fixture.rows.get_mut("shops").unwrap()[1]["smtp_password"] = json!("Hunter2-secret");
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::SecretPresent);
    assert!(
        found[0].message.contains("line 2 at /smtp_password"),
        "{}",
        found[0].message
    );
    assert!(!serde_json::to_string(&report).unwrap().contains("Hunter2"));

    fixture.rows.get_mut("shops").unwrap()[1]
        .as_object_mut()
        .unwrap()
        .remove("smtp_password");
    let report = validate(&fixture.to_bytes());
    let found = only(&report, Code::DbRow);
    assert!(
        found[0]
            .message
            .contains("column `smtp_password` is missing"),
        "{}",
        found[0].message
    );
}

/// How many findings of `report` have `code`.
fn count(report: &Report, code: Code) -> usize {
    report.findings.iter().filter(|f| f.code == code).count()
}

#[test]
fn the_tenant_table_is_the_tenants_by_its_key() {
    // `shops` without the tenant column: the tenant table, whose key is the tenant.
    let mut fixture = DatabaseFixture::new();
    fixture.schema["tenant"]["table"] = json!("shops");
    fixture.table_mut("shops")["columns"] = json!([
        {"name": "id", "type": "integer", "declared": "int", "nullable": false, "has_default": false},
        {"name": "name", "type": "text", "declared": "text", "nullable": false, "has_default": false}
    ]);
    fixture
        .rows
        .insert("shops".into(), vec![json!({"id": 7, "name": "Trailhead"})]);
    for order in fixture.rows.get_mut("orders").unwrap() {
        order["shop_id"] = json!(7);
    }
    fixture.rows.insert("typed".into(), Vec::new());
    let report = validate(&fixture.to_bytes());
    assert!(report.is_valid(), "{}", show(&report));

    // Another key in the tenant table is another tenant's row.
    fixture.rows.get_mut("shops").unwrap()[0]["id"] = json!(8);
    let report = validate(&fixture.to_bytes());
    assert_eq!(count(&report, Code::DbTenant), 1, "{}", show(&report));

    // Not named as the tenant table, a tenant table needs the tenant column.
    fixture.schema["tenant"]
        .as_object_mut()
        .unwrap()
        .remove("table");
    let report = validate(&fixture.to_bytes());
    assert_eq!(count(&report, Code::DbSchema), 1, "{}", show(&report));
}

#[test]
fn a_row_may_lack_only_the_columns_the_manifest_lists_as_redacted() {
    let mut fixture = DatabaseFixture::new();
    fixture.rows.get_mut("orders").unwrap()[0]
        .as_object_mut()
        .unwrap()
        .remove("total");
    let listed = |manifest: &mut serde_json::Value, pointer: &str| {
        manifest["redactions"] = json!([{"path": "site/db/orders.jsonl", "pointer": pointer}]);
        manifest["stats"]["redactions"] = json!(1);
    };
    let report = validate(&fixture.to_bytes_with(|m| listed(m, "/total")));
    assert!(report.is_valid(), "{}", show(&report));
    // A redaction of another column, or of a member inside one, does not excuse it.
    for pointer in ["/currency", "/total/x"] {
        let report = validate(&fixture.to_bytes_with(|m| listed(m, pointer)));
        assert_eq!(
            count(&report, Code::DbRow),
            1,
            "{pointer}: {}",
            show(&report)
        );
    }
}
