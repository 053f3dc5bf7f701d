//! Every SQLite value type's encoding, and the values refused.

mod common;

use common::{Fleet, rows};
use serde_json::json;
use sitepack_db::DbError;
use sitepack_db::plan::Scope;

const SCHEMA: &str = "
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    n BIGINT,
    t NVARCHAR(20),
    b BLOB,
    f DOUBLE PRECISION,
    d DECIMAL(12,2),
    flag BOOLEAN,
    day DATE,
    at DATETIME,
    clock TIME,
    doc JSON,
    uid UUID
);";

fn sample(values: &str) -> Fleet {
    Fleet::with(
        SCHEMA,
        &format!("INSERT INTO samples VALUES (1, 'northwind', {values});"),
        common::MINIMAL_DESCRIPTOR,
    )
}

const NULLS: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";

#[test]
fn every_type_is_written_as_format_1_1_says() {
    let fleet = sample(
        "-9223372036854775808, 'Zoë ✓', X'00FF10', 0.1, 12.5, 1, '2024-02-29', '2024-02-29 13:45:00', '13:45:00.5', \
         '{\"b\": 1.10, \"a\": [12345678901234567890, null]}', '0f8fad5b-d9cb-469f-a165-70867728950e'",
    );
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    let text = std::fs::read_to_string(staging.path().join("db/samples.jsonl")).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"id":1,"org_id":"northwind","n":-9223372036854775808,"t":"Zoë ✓","b":"AP8Q","f":0.1,"d":"12.5","flag":true,"#,
            r#""day":"2024-02-29","at":"2024-02-29 13:45:00","clock":"13:45:00.5","doc":{"b":1.10,"a":[12345678901234567890,null]},"#,
            r#""uid":"0f8fad5b-d9cb-469f-a165-70867728950e"}"#,
            "\n"
        )
    );
    let schema = std::fs::read_to_string(staging.path().join("db/schema.json")).unwrap();
    for (column, declared, t) in [
        ("n", "BIGINT", "integer"),
        ("t", "NVARCHAR(20)", "text"),
        ("b", "BLOB", "bytes"),
        ("f", "DOUBLE PRECISION", "float"),
        ("d", "DECIMAL(12,2)", "numeric"),
        ("flag", "BOOLEAN", "boolean"),
        ("day", "DATE", "date"),
        ("at", "DATETIME", "timestamp"),
        ("clock", "TIME", "time"),
        ("doc", "JSON", "json"),
        ("uid", "UUID", "uuid"),
    ] {
        let described = format!(
            "\"name\": \"{column}\",\n          \"type\": \"{t}\",\n          \"declared\": \"{declared}\""
        );
        assert!(schema.contains(&described), "{described}\n{schema}");
    }
}

#[test]
fn numbers_keep_their_digits() {
    // Numeric: an integer, a real, and text (a numeric column keeps as text only what is
    // no number literal: SQLite turns even a long decimal into a real on insert).
    let fleet = Fleet::with(
        SCHEMA,
        "INSERT INTO samples (id, org_id, d, f, doc) VALUES \
           (1, 'northwind', 12, 3, 7), \
           (2, 'northwind', 0.30000000000000004, 1e300, 2.5), \
           (3, 'northwind', 'NaN', 9e999, '[1e2]'), \
           (4, 'northwind', -7.25, -9e999, 'false'), \
           (5, 'northwind', NULL, NULL, NULL);",
        common::MINIMAL_DESCRIPTOR,
    );
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    let text = std::fs::read_to_string(staging.path().join("db/samples.jsonl")).unwrap();
    let picked: Vec<String> = text
        .lines()
        .map(|line| {
            let d = line
                .split("\"d\":")
                .nth(1)
                .unwrap()
                .split(",\"flag\"")
                .next()
                .unwrap();
            let f = line
                .split("\"f\":")
                .nth(1)
                .unwrap()
                .split(",\"d\"")
                .next()
                .unwrap();
            let doc = line
                .split("\"doc\":")
                .nth(1)
                .unwrap()
                .split(",\"uid\"")
                .next()
                .unwrap();
            format!("{d} {f} {doc}")
        })
        .collect();
    assert_eq!(
        picked,
        [
            // A float column stores an integer as a real.
            r#""12" 3.0 7"#,
            r#""0.30000000000000004" 1e+300 2.5"#,
            r#""NaN" "Infinity" [1e+2]"#,
            r#""-7.25" "-Infinity" false"#,
            "null null null",
        ]
    );
}

#[test]
fn values_the_type_cannot_hold_are_refused_by_row_and_column() {
    let cases = [
        (
            "'12a', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "n",
            "holds text where the column's type is integer",
        ),
        (
            "1.5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "n",
            "holds a real number where the column's type is integer",
        ),
        (
            "NULL, 'a' || char(0) || 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "t",
            "NUL character",
        ),
        (
            "NULL, CAST(X'FF' AS TEXT), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "t",
            "not valid UTF-8",
        ),
        (
            "NULL, NULL, 'text', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "b",
            "holds text where the column's type is bytes",
        ),
        (
            "NULL, NULL, NULL, 'abc', NULL, NULL, NULL, NULL, NULL, NULL, NULL",
            "f",
            "holds text where the column's type is float",
        ),
        (
            "NULL, NULL, NULL, NULL, '12,5', NULL, NULL, NULL, NULL, NULL, NULL",
            "d",
            "not a decimal number in a numeric column",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, 2, NULL, NULL, NULL, NULL, NULL",
            "flag",
            "holds 2 in a boolean column",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, 'yes', NULL, NULL, NULL, NULL, NULL",
            "flag",
            "holds text where the column's type is boolean",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, 20240229, NULL, NULL, NULL, NULL",
            "day",
            "holds an integer where the column's type is date",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1.5, NULL, NULL, NULL",
            "at",
            "holds a real number where the column's type is timestamp",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, X'01', NULL, NULL",
            "clock",
            "holds a BLOB where the column's type is time",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{oops', NULL",
            "doc",
            "not one JSON document (invalid JSON",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{\"a\": 1, \"a\": 2}', NULL",
            "doc",
            "duplicate key /a",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0F8FAD5B-D9CB-469F-A165-70867728950E'",
            "uid",
            "lowercase hyphenated UUID",
        ),
        (
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, X'0f8fad5bd9cb469fa16570867728950e'",
            "uid",
            "holds a BLOB where the column's type is uuid",
        ),
    ];
    for (values, column, problem) in cases {
        let fleet = sample(values);
        let error = fleet.export(&Scope::Full).unwrap_err();
        assert!(
            matches!(error, DbError::BadValue { .. }),
            "{values}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "table \"samples\", row id=1, column \"{column}\": "
            )),
            "{values}: {message}"
        );
        assert!(message.contains(problem), "{values}: {message}");
        let repeated = ["12,5", "0F8FAD5B"].iter().any(|v| message.contains(v));
        assert!(!repeated, "a value is never repeated: {message}");
    }
}

#[test]
fn nulls_are_null_and_every_member_is_there() {
    let fleet = sample(NULLS);
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    let row = &rows(staging.path(), "samples")[0];
    assert_eq!(row["uid"], json!(null));
    assert_eq!(row.as_object().unwrap().len(), 13);
}

#[test]
fn a_table_without_a_primary_key_is_ordered_and_named_by_all_its_columns() {
    let fleet = Fleet::with(
        "CREATE TABLE events (org_id TEXT, at TEXT, n INTEGER);",
        "INSERT INTO events VALUES ('northwind', 'b', 2), ('northwind', 'a', 9), ('northwind', 'a', 'x');",
        common::MINIMAL_DESCRIPTOR,
    );
    let message = fleet.export(&Scope::Full).unwrap_err().to_string();
    assert!(
        message.starts_with(
            "table \"events\", row org_id=\"northwind\", at=\"a\", n=\"x\", column \"n\""
        ),
        "{message}"
    );
    fleet
        .connection()
        .execute("DELETE FROM events WHERE n = 'x'", [])
        .unwrap();
    let (staging, _) = fleet.export(&Scope::Full).unwrap();
    assert_eq!(
        rows(staging.path(), "events"),
        [
            json!({"org_id": "northwind", "at": "a", "n": 9}),
            json!({"org_id": "northwind", "at": "b", "n": 2})
        ]
    );
}
