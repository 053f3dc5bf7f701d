//! The PostgreSQL engine against the real server: every test makes its own database.

mod pg_server;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use pg_server::{admin_client, admin_url};
use postgres::{Client, NoTls};
use serde_json::Value;
use sitepack_db::postgres::PostgresEngine;
use sitepack_db::sql::{Param, RowQuery};
use sitepack_db::{DbError, Engine, SnapshotReader, TableInfo};
use sitepack_format::database::{Column, ColumnType, EngineKind, ForeignKey, ScalarType};

/// A database (and roles) of one test, dropped when the test ends, passed or failed.
struct TestDb {
    name: String,
    roles: Mutex<Vec<String>>,
}

impl TestDb {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sitepack_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin_client()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self {
            name,
            roles: Mutex::new(Vec::new()),
        }
    }

    /// The URL of this database, as `user` (the admin URL's user when `None`).
    fn url_as(&self, user: Option<&str>) -> String {
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&self.name);
        if let Some(user) = user {
            url.set_username(user).unwrap();
        }
        url.to_string()
    }

    fn url(&self) -> String {
        self.url_as(None)
    }

    fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).unwrap()
    }

    fn setup(&self, sql: &str) {
        self.client().batch_execute(sql).unwrap();
    }

    fn engine(&self) -> PostgresEngine {
        PostgresEngine::connect(&self.url(), None, "public").unwrap()
    }

    /// A role that may log in and nothing else, dropped with the database.
    fn role(&self, suffix: &str) -> String {
        let role = format!("{}_{suffix}", self.name);
        admin_client()
            .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
            .unwrap();
        self.roles.lock().unwrap().push(role.clone());
        role
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Ok(mut admin) = Client::connect(&admin_url(), NoTls) else {
            return;
        };
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
        for role in self.roles.lock().unwrap().iter() {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
        }
    }
}

fn table<'a>(tables: &'a [TableInfo], name: &str) -> &'a TableInfo {
    tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in {tables:?}"))
}

fn columns_of(info: &TableInfo) -> Vec<Column> {
    info.columns
        .iter()
        .map(|c| {
            let column_type = c
                .column_type
                .unwrap_or_else(|| panic!("{}: type {} unknown", c.name, c.declared));
            c.to_column(column_type)
        })
        .collect()
}

fn all_rows(table: &str, order_by: &[&str]) -> RowQuery {
    RowQuery {
        table: table.to_owned(),
        filter: None,
        params: Vec::new(),
        order_by: order_by.iter().map(|&c| c.to_owned()).collect(),
    }
}

/// The rows `query` selects, each as the JSON text of its values (exact digits).
fn read(engine: &mut PostgresEngine, query: &RowQuery, columns: &[Column]) -> Vec<String> {
    let mut rows = Vec::new();
    engine
        .for_each_row(query, columns, &mut |values| {
            rows.push(serde_json::to_string(&values).unwrap());
            Ok(())
        })
        .unwrap();
    rows
}

/// Reads the whole of `name` in a snapshot, with the types reflection gives.
fn read_table(engine: &mut PostgresEngine, name: &str) -> Vec<String> {
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let info = table(&tables, name);
    let columns = columns_of(info);
    let keys: Vec<&str> = info.primary_key.iter().map(String::as_str).collect();
    let rows = read(engine, &all_rows(name, &keys), &columns);
    engine.end_snapshot().unwrap();
    rows
}

/// A table with every type format 1.1 writes, and rows of edge values.
const EVERYTHING: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE DOMAIN money_amount AS numeric CHECK (VALUE <> 13);
         CREATE DOMAIN positive AS int4 CHECK (VALUE > 0);
         CREATE TABLE everything (
             id int8 PRIMARY KEY,
             small int2, medium int4, big int8,
             exact numeric, amount money_amount, count_of positive,
             single float4, double float8,
             flag bool,
             body text, label varchar(40), code char(4), ident name, mood mood,
             data bytea,
             day date, clock time, at timestamp, at_tz timestamptz,
             doc jsonb, raw_doc json,
             uid uuid,
             numbers int4[], words text[], amounts numeric[], days date[], moods mood[], docs jsonb[]
         );
         SET TimeZone = 'Europe/Berlin';
         INSERT INTO everything VALUES (
             1,
             -32768, -2147483648, -9223372036854775808,
             '-1234567890123456789012345678901234567890.0123456789', 12.5, 1,
             0.1, '-0',
             true,
             '', 'héllo 😀 שלום עולם', 'ab', 'a name', 'happy',
             '',
             'infinity', '00:00:00', '-infinity', '2024-01-02 03:04:05.123456+05:30',
             '{\"big\": 123456789012345678901234567890, \"nested\": {\"a\": [1, 2.50, null]}}',
             '{\"z\": 1e400, \"a\": 0.1000000000000000000001}',
             'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
             '{1,NULL,3}', '{\"a\",\"\",NULL,\"😀\"}', '{1.50,NaN,NULL}', '{2024-02-29,infinity}', '{ok,sad}', '{\"[1, {}]\",NULL}'
         ), (
             2,
             32767, 2147483647, 9223372036854775807,
             'NaN', 'Infinity', 2147483647,
             '-Infinity', 'NaN',
             false,
             E'tab\\there \"quoted\" \\\\ back', 'x', 'abcd', '', 'sad',
             '\\x00ff10',
             '0001-01-01', '24:00:00', '2024-02-29 23:59:59.5', '9999-12-31 23:59:59.999999+00',
             '[]', '\"just a string\"',
             '00000000-0000-0000-0000-000000000000',
             '{}', '{}', '{}', '{}', '{}', '{}'
         ), (
             3,
             0, 0, 0,
             '-Infinity', '0.0000', 5,
             3.4028235e38, 0.1,
             NULL,
             NULL, NULL, NULL, NULL, NULL,
             NULL,
             '2000-01-01', '12:30:00.25', '1999-12-31 23:59:59.000001', '-infinity',
             'null', 'null',
             NULL,
             NULL, NULL, NULL, NULL, NULL, NULL
         ), (
             4,
             NULL, NULL, NULL, NULL, NULL, NULL, 1e-45, 1.7976931348623157e308, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL
         );";

#[test]
fn every_supported_type_is_encoded_exactly() {
    let db = TestDb::new();
    db.setup(EVERYTHING);
    let mut engine = db.engine();
    assert_eq!(engine.kind(), EngineKind::Postgresql);
    let version = engine.version();
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains(' '),
        "{version}"
    );

    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let info = table(&tables, "everything");
    let types: Vec<(&str, String)> = info
        .columns
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.column_type.map(|t| t.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let expected_types: Vec<(&str, String)> = [
        ("id", "integer"),
        ("small", "integer"),
        ("medium", "integer"),
        ("big", "integer"),
        ("exact", "numeric"),
        ("amount", "numeric"),
        ("count_of", "integer"),
        ("single", "float"),
        ("double", "float"),
        ("flag", "boolean"),
        ("body", "text"),
        ("label", "text"),
        ("code", "text"),
        ("ident", "text"),
        ("mood", "text"),
        ("data", "bytes"),
        ("day", "date"),
        ("clock", "time"),
        ("at", "timestamp"),
        ("at_tz", "timestamptz"),
        ("doc", "json"),
        ("raw_doc", "json"),
        ("uid", "uuid"),
        ("numbers", "integer[]"),
        ("words", "text[]"),
        ("amounts", "numeric[]"),
        ("days", "date[]"),
        ("moods", "text[]"),
        ("docs", "json[]"),
    ]
    .into_iter()
    .map(|(name, t)| (name, t.to_owned()))
    .collect();
    assert_eq!(types, expected_types);
    let declared: Vec<&str> = info.columns.iter().map(|c| c.declared.as_str()).collect();
    assert_eq!(&declared[4..7], ["numeric", "money_amount", "positive"]);
    assert_eq!(declared[11], "character varying(40)");

    let columns = columns_of(info);
    let rows = read(&mut engine, &all_rows("everything", &["id"]), &columns);
    engine.end_snapshot().unwrap();
    let expected = [
        concat!(
            r#"[1,-32768,-2147483648,-9223372036854775808,"#,
            r#""-1234567890123456789012345678901234567890.0123456789","12.5",1,"#,
            r#"0.1,-0.0,true,"","héllo 😀 שלום עולם","ab  ","a name","happy","","#,
            r#""infinity","00:00:00","-infinity","2024-01-01T21:34:05.123456+00:00","#,
            r#"{"big":123456789012345678901234567890,"nested":{"a":[1,2.50,null]}},"#,
            // serde_json writes the exponent's sign; the digits are the document's.
            r#"{"z":1e+400,"a":0.1000000000000000000001},"#,
            r#""a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","#,
            r#"[1,null,3],["a","",null,"😀"],["1.50","NaN",null],["2024-02-29","infinity"],["ok","sad"],[[1,{}],null]]"#,
        ),
        concat!(
            r#"[2,32767,2147483647,9223372036854775807,"NaN","Infinity",2147483647,"#,
            r#""-Infinity","NaN",false,"tab\there \"quoted\" \\ back","x","abcd","","sad","#,
            r#""AP8Q","0001-01-01","24:00:00","2024-02-29T23:59:59.5","9999-12-31T23:59:59.999999+00:00","#,
            r#"[],"just a string","00000000-0000-0000-0000-000000000000",[],[],[],[],[],[]]"#,
        ),
        concat!(
            r#"[3,0,0,0,"-Infinity","0.0000",5,3.4028235e+38,0.1,null,null,null,null,null,null,null,"#,
            r#""2000-01-01","12:30:00.25","1999-12-31T23:59:59.000001","-infinity",null,null,null,"#,
            r#"null,null,null,null,null,null]"#,
        ),
        concat!(
            r#"[4,null,null,null,null,null,null,1e-45,1.7976931348623157e+308,null,null,null,null,null,"#,
            r#"null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]"#,
        ),
    ];
    assert_eq!(rows.len(), expected.len());
    for (row, expected) in rows.iter().zip(expected) {
        assert_eq!(row, expected);
    }
}

#[test]
fn arrays_of_every_kind_hold_their_elements_encodings() {
    let db = TestDb::new();
    db.setup(
        "CREATE DOMAIN positive AS int4 CHECK (VALUE > 0);
         CREATE DOMAIN tags AS text[];
         CREATE TABLE lists (
             id int4 PRIMARY KEY,
             smalls int2[], bigs int8[], positives positive[], singles float4[], doubles float8[],
             flags bool[], blobs bytea[], clocks time[], stamps timestamp[], moments timestamptz[],
             uids uuid[], raw_docs json[], labels tags, names varchar(5)[]
         );
         INSERT INTO lists VALUES (
             1, '{-32768,NULL}', '{9223372036854775807}', '{1,2}', '{0.1,NaN}', '{-Infinity,2.5}',
             '{true,false,NULL}', ARRAY['\\x'::bytea, '\\x00ff'::bytea], '{23:59:59.000100}',
             '{infinity,2001-02-03 04:05:06}', '{2001-02-03 04:05:06-02}',
             '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', ARRAY['{\"a\": 1.0}'::json, NULL],
             '{x,y}', '{\"a,b\",\"\"}'
         );",
    );
    let mut engine = db.engine();
    let rows = read_table(&mut engine, "lists");
    assert_eq!(
        rows,
        [concat!(
            r#"[1,[-32768,null],[9223372036854775807],[1,2],[0.1,"NaN"],["-Infinity",2.5],"#,
            r#"[true,false,null],["","AP8="],["23:59:59.0001"],["infinity","2001-02-03T04:05:06"],"#,
            r#"["2001-02-03T06:05:06+00:00"],["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",null],"#,
            r#"[{"a":1.0},null],["x","y"],["a,b",""]]"#,
        )]
    );
}

#[test]
fn one_byte_chars_read_as_postgresql_prints_them() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE letters (id int4 PRIMARY KEY, letter \"char\", letters \"char\"[]);
         INSERT INTO letters VALUES (1, 'x', '{a,b}'), (2, chr(233)::\"char\", NULL), (3, '', NULL);",
    );
    let mut engine = db.engine();
    assert_eq!(
        read_table(&mut engine, "letters"),
        [
            r#"[1,"x",["a","b"]]"#,
            r#"[2,"\\303",null]"#,
            r#"[3,"",null]"#
        ]
    );
    let printed: Vec<String> = db
        .client()
        .query("SELECT letter::text FROM letters ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(printed, ["x", "\\303", ""]);
}

#[test]
fn floats_read_back_to_the_same_binary_value() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE floats (id int4 PRIMARY KEY, single float4, double float8);
         INSERT INTO floats SELECT i, (i * 0.1 + 1e-7 * i)::float4, sqrt(i::float8) / 7
         FROM generate_series(1, 500) AS i;",
    );
    let mut engine = db.engine();
    let expected: Vec<(f32, f64)> = db
        .client()
        .query("SELECT single, double FROM floats ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let rows = read_table(&mut engine, "floats");
    for (row, (single, double)) in rows.iter().zip(expected) {
        let values: Vec<Value> = serde_json::from_str(row).unwrap();
        let text_single = values[1].to_string();
        let text_double = values[2].to_string();
        assert_eq!(
            text_single.parse::<f32>().unwrap().to_bits(),
            single.to_bits()
        );
        assert_eq!(
            text_double.parse::<f64>().unwrap().to_bits(),
            double.to_bits()
        );
        // Written as the f32 it is, not widened to the f64 digits of the same bits.
        assert!(text_single.len() <= 16, "{text_single}");
    }
}

#[test]
fn unknown_types_are_none_and_named_by_their_declaration() {
    let db = TestDb::new();
    db.setup(
        "CREATE TYPE pair AS (a int4, b text);
         CREATE DOMAIN span AS interval;
         CREATE TABLE odd (
             id int4 PRIMARY KEY,
             wait interval, price money, address inet, spot point, both_of pair,
             clock_tz timetz, period int4range, doc xml, bits bit(3), search tsvector,
             waits span, spots point[], pairs pair[], grid int4[][]
         );",
    );
    let mut engine = db.engine();
    let tables = engine.reflect().unwrap();
    let info = table(&tables, "odd");
    let unknown: Vec<(&str, &str)> = info
        .columns
        .iter()
        .filter(|c| c.column_type.is_none())
        .map(|c| (c.name.as_str(), c.declared.as_str()))
        .collect();
    assert_eq!(
        unknown,
        vec![
            ("wait", "interval"),
            ("price", "money"),
            ("address", "inet"),
            ("spot", "point"),
            ("both_of", "pair"),
            ("clock_tz", "time with time zone"),
            ("period", "int4range"),
            ("doc", "xml"),
            ("bits", "bit(3)"),
            ("search", "tsvector"),
            ("waits", "span"),
            ("spots", "point[]"),
            ("pairs", "pair[]"),
        ]
    );
    // A declared second dimension is not part of the type: the values are checked.
    assert_eq!(
        info.columns.last().unwrap().column_type,
        Some(ColumnType {
            scalar: ScalarType::Integer,
            array: true
        })
    );
}

#[test]
fn keys_nullability_and_defaults_are_reflected() {
    let db = TestDb::new();
    db.setup(
        "CREATE SCHEMA other;
         CREATE TABLE other.currency (code text PRIMARY KEY);
         CREATE TABLE other.hidden (id int4 PRIMARY KEY);
         CREATE TABLE parent (
             a int4 NOT NULL,
             b text NOT NULL,
             serial_no serial,
             made timestamptz NOT NULL DEFAULT now(),
             ident int8 GENERATED ALWAYS AS IDENTITY,
             doubled int4 GENERATED ALWAYS AS (a * 2) STORED,
             x int4, y int4, note text,
             PRIMARY KEY (b, a),
             CONSTRAINT u_x UNIQUE (x),
             CONSTRAINT u_yx UNIQUE (y, x)
         );
         CREATE TABLE child (
             id int4 PRIMARY KEY,
             pb text, pa int4,
             currency text REFERENCES other.currency,
             CONSTRAINT to_parent FOREIGN KEY (pb, pa) REFERENCES parent (b, a)
         );
         CREATE TABLE no_key (v text);
         CREATE TABLE no_columns ();
         CREATE TABLE measure (day date, v int4, PRIMARY KEY (day)) PARTITION BY RANGE (day);
         CREATE TABLE measure_2024 PARTITION OF measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE VIEW parent_view AS SELECT * FROM parent;",
    );
    let mut engine = db.engine();
    let tables = engine.reflect().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["child", "measure", "no_columns", "no_key", "parent"]
    );
    assert!(table(&tables, "no_columns").columns.is_empty());

    let parent = table(&tables, "parent");
    assert_eq!(parent.primary_key, ["b", "a"]);
    assert_eq!(parent.unique, [vec!["x"], vec!["y", "x"]]);
    assert!(parent.foreign_keys.is_empty());
    let flags: Vec<(&str, bool, bool)> = parent
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.nullable, c.has_default))
        .collect();
    assert_eq!(
        flags,
        [
            ("a", false, false),
            ("b", false, false),
            ("serial_no", false, true),
            ("made", false, true),
            ("ident", false, true),
            ("doubled", true, true),
            ("x", true, false),
            ("y", true, false),
            ("note", true, false),
        ]
    );

    let child = table(&tables, "child");
    assert_eq!(child.primary_key, ["id"]);
    assert_eq!(
        child.foreign_keys,
        [
            ForeignKey {
                columns: vec!["currency".into()],
                table: "other.currency".into(),
                references: vec!["code".into()],
            },
            ForeignKey {
                columns: vec!["pb".into(), "pa".into()],
                table: "parent".into(),
                references: vec!["b".into(), "a".into()],
            },
        ]
    );
    assert!(table(&tables, "no_key").primary_key.is_empty());
    assert_eq!(table(&tables, "measure").primary_key, ["day"]);

    // Another schema's tables are that schema's.
    let mut other = PostgresEngine::connect(&db.url(), None, "other").unwrap();
    let names: Vec<String> = other
        .reflect()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["currency", "hidden"]);
}

#[test]
fn unique_indexes_on_columns_are_unique_keys_each_once() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE parent (
             a int4 NOT NULL, b text NOT NULL, x int4, y int4, note text,
             PRIMARY KEY (b, a),
             CONSTRAINT u_x UNIQUE (x)
         );
         -- A unique index identifies rows as a unique constraint does; a partial one, one
         -- on an expression, and a plain index do not.
         CREATE UNIQUE INDEX u_note ON parent (note);
         CREATE UNIQUE INDEX u_cover ON parent (x, y) INCLUDE (note);
         CREATE UNIQUE INDEX u_partial ON parent (y) WHERE y > 0;
         CREATE UNIQUE INDEX u_lower ON parent (lower(note));
         CREATE INDEX plain ON parent (note);
         -- One that repeats a constraint, and one on the primary key: listed once, and
         -- not at all.
         CREATE UNIQUE INDEX u_x_again ON parent (x);
         CREATE UNIQUE INDEX u_key_again ON parent (b, a);
         -- One a foreign key references is still a unique index.
         CREATE TABLE coded (id int4 PRIMARY KEY, code text NOT NULL, other text NOT NULL);
         CREATE UNIQUE INDEX coded_code ON coded (code);
         CREATE UNIQUE INDEX coded_other ON coded (other);
         CREATE TABLE by_code (id int4 PRIMARY KEY, code text REFERENCES coded (code));",
    );
    let tables = db.engine().reflect().unwrap();
    assert_eq!(
        table(&tables, "parent").unique,
        [vec!["x", "y"], vec!["note"], vec!["x"]]
    );
    assert_eq!(
        table(&tables, "coded").unique,
        [vec!["code"], vec!["other"]]
    );
}

#[test]
fn queries_bind_their_parameters_and_stream_in_key_order() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE item (org int4 NOT NULL, id int4 NOT NULL, name text, owner uuid,
                            PRIMARY KEY (id, org));
         INSERT INTO item SELECT i % 3, 1000 - i, 'n' || i,
                                 CASE WHEN i % 2 = 0 THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid END
         FROM generate_series(1, 999) AS i;
         CREATE TABLE tagged (tag text PRIMARY KEY, big int8);
         INSERT INTO tagged VALUES ('x', 1), ('y', 2), ('O''Brien; DROP TABLE item', 3);
         ANALYZE item;",
    );
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let item_columns = columns_of(table(&tables, "item"));
    let query = RowQuery {
        table: "item".into(),
        filter: Some("\"org\" = $1 AND \"name\" <> $2".into()),
        params: vec![Param::Integer(1), Param::Text("n1".into())],
        order_by: vec!["id".into(), "org".into()],
    };
    assert_eq!(engine.count(&query).unwrap(), 332);
    let rows = read(&mut engine, &query, &item_columns);
    assert_eq!(rows.len(), 332);
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Vec<Value>>(r).unwrap()[1]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in key order");
    assert_eq!(ids.first(), Some(&3));

    // A text value binds to a uuid column, an integer to an int8 one.
    let by_owner = RowQuery {
        filter: Some("\"owner\" = $1".into()),
        params: vec![Param::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())],
        ..query.clone()
    };
    assert_eq!(engine.count(&by_owner).unwrap(), 499);
    let tagged_columns = columns_of(table(&tables, "tagged"));
    let tagged = RowQuery {
        table: "tagged".into(),
        filter: Some("\"tag\" = $1 OR \"big\" = $2".into()),
        params: vec![
            Param::Text("O'Brien; DROP TABLE item".into()),
            Param::Integer(2),
        ],
        order_by: vec!["tag".into()],
    };
    assert_eq!(
        read(&mut engine, &tagged, &tagged_columns),
        [r#"["O'Brien; DROP TABLE item",3]"#, r#"["y",2]"#]
    );
    assert_eq!(engine.count(&all_rows("item", &["id"])).unwrap(), 999);
    // The planner's estimate (for progress), with the same bound parameters: analysed,
    // it is close to the count.
    let estimate = engine.estimate(&by_owner).unwrap();
    assert!((400..=600).contains(&estimate), "{estimate}");
    engine.end_snapshot().unwrap();
}

/// 20 MB of rows: a read of them is still running when its first row arrives.
const WIDE: &str = "CREATE TABLE wide (id int4 PRIMARY KEY, filler text);
     INSERT INTO wide SELECT i, repeat('x', 200) FROM generate_series(1, 100000) AS i;";

#[test]
fn rows_stream_while_the_server_is_still_sending_and_a_callback_can_stop_them() {
    let db = TestDb::new();
    db.setup(WIDE);
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let columns = columns_of(table(&tables, "wide"));
    let mut observer = db.client();
    let mut seen = 0;
    let mut state_at_first_row = String::new();
    let error = engine
        .for_each_row(&all_rows("wide", &["id"]), &columns, &mut |values| {
            seen += 1;
            assert_eq!(values[0], 1);
            // Had all the rows been fetched first, the query would be over.
            state_at_first_row = observer
                .query_one(
                    "SELECT state FROM pg_stat_activity
                     WHERE datname = current_database() AND application_name = 'sitepack'",
                    &[],
                )
                .unwrap()
                .get(0);
            Err(DbError::Query {
                what: "writing".into(),
                reason: "stop".into(),
            })
        })
        .unwrap_err();
    assert_eq!(error.to_string(), "writing: stop");
    assert_eq!(seen, 1);
    assert_eq!(state_at_first_row, "active");
    // The connection is usable after an interrupted read.
    assert_eq!(engine.count(&all_rows("wide", &["id"])).unwrap(), 100_000);
    engine.end_snapshot().unwrap();
}

/// A thread committing an order and its line in one transaction each, until `stop`;
/// it gives the last id.
fn pair_writer(db: &TestDb, stop: &Arc<AtomicBool>) -> thread::JoinHandle<i64> {
    let stop = Arc::clone(stop);
    let mut client = db.client();
    thread::spawn(move || {
        let mut id: i64 = 0;
        while !stop.load(Ordering::Relaxed) {
            id += 1;
            let mut transaction = client.transaction().unwrap();
            transaction
                .execute("INSERT INTO orders VALUES ($1)", &[&id])
                .unwrap();
            transaction
                .execute("INSERT INTO lines VALUES ($1, $1)", &[&id])
                .unwrap();
            transaction.commit().unwrap();
        }
        id
    })
}

#[test]
fn a_snapshot_sees_each_committed_pair_whole_or_not_at_all() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE orders (id int8 PRIMARY KEY);
         CREATE TABLE lines (id int8 PRIMARY KEY, order_id int8 NOT NULL REFERENCES orders);",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = pair_writer(&db, &stop);
    let mut engine = db.engine();
    let ids_of = |engine: &mut PostgresEngine, name: &str, columns: &[Column]| {
        let mut ids = BTreeSet::new();
        engine
            .for_each_row(&all_rows(name, &["id"]), columns, &mut |values| {
                ids.insert(values[0].as_i64().unwrap());
                Ok(())
            })
            .unwrap();
        ids
    };
    let mut sizes = Vec::new();
    for _ in 0..6 {
        thread::sleep(Duration::from_millis(150));
        engine.begin_snapshot().unwrap();
        let tables = engine.reflect().unwrap();
        let orders = ids_of(&mut engine, "orders", &columns_of(table(&tables, "orders")));
        // The writer keeps committing pairs between the two reads.
        thread::sleep(Duration::from_millis(150));
        let line_columns = columns_of(table(&tables, "lines"));
        let lines = ids_of(&mut engine, "lines", &line_columns[..1]);
        engine.end_snapshot().unwrap();
        assert_eq!(orders, lines, "a pair was cut by the snapshot");
        sizes.push(orders.len());
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "the writer did not write: {sizes:?}"
    );
    assert!(written > 0);
}

/// The rows `query` selects on `reader`, as [`read`] gives them.
fn read_on(reader: &mut dyn SnapshotReader, query: &RowQuery, columns: &[Column]) -> Vec<String> {
    let mut rows = Vec::new();
    reader
        .for_each_row_verbatim(query, columns, &|_, _| None, &mut |values, encoded| {
            assert!(encoded.is_empty());
            rows.push(serde_json::to_string(&values).unwrap());
            Ok(())
        })
        .unwrap();
    rows
}

/// How many connections named `sitepack` the database has.
fn sitepack_connections(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'sitepack'",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_snapshot_reader_reads_the_engines_snapshot_on_a_second_connection() {
    let db = TestDb::new();
    db.setup(&format!(
        "{EVERYTHING}
         CREATE TABLE orders (id int8 PRIMARY KEY);
         CREATE TABLE lines (id int8 PRIMARY KEY, order_id int8 NOT NULL REFERENCES orders);"
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = pair_writer(&db, &stop);
    let mut engine = db.engine();
    let mut sizes = Vec::new();
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(150));
        engine.begin_snapshot().unwrap();
        let tables = engine.reflect().unwrap();
        let order_columns = columns_of(table(&tables, "orders"));
        let orders = read(&mut engine, &all_rows("orders", &["id"]), &order_columns);
        let mut reader = engine
            .snapshot_reader()
            .unwrap()
            .expect("a second connection");
        assert_eq!(sitepack_connections(&db), 2);
        // The writer keeps committing pairs: the reader still sees the engine's.
        thread::sleep(Duration::from_millis(150));
        let line_columns = columns_of(table(&tables, "lines"));
        let lines = read_on(
            reader.as_mut(),
            &all_rows("lines", &["id"]),
            &line_columns[..1],
        );
        assert_eq!(orders, lines, "the second connection read another snapshot");
        sizes.push(orders.len());
        // Every type reads as on the engine's own connection.
        let everything = all_rows("everything", &["id"]);
        let columns = columns_of(table(&tables, "everything"));
        assert_eq!(
            read_on(reader.as_mut(), &everything, &columns),
            read(&mut engine, &everything, &columns)
        );
        drop(reader);
        engine.end_snapshot().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "the writer did not write: {sizes:?}"
    );
    // A dropped reader closes its connection.
    assert_eq!(sitepack_connections(&db), 1);
}

#[test]
fn a_schema_change_waiting_for_the_snapshot_makes_its_rows_read_on_the_engines_own() {
    // The engine holds the table; an ALTER TABLE queues behind that lock. A second
    // connection's lock would queue behind the ALTER while the engine waits for it.
    let db = TestDb::new();
    db.setup("CREATE TABLE things (id int4 PRIMARY KEY); INSERT INTO things VALUES (1), (2);");
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    engine.hold_tables(&["things"]).unwrap();
    let alter = {
        let mut client = db.client();
        thread::spawn(move || {
            client
                .batch_execute("ALTER TABLE things ADD COLUMN later int4")
                .unwrap();
        })
    };
    let mut watcher = db.client();
    while watcher
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 0
    {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(engine.snapshot_reader().unwrap().is_none());
    assert_eq!(sitepack_connections(&db), 1);
    let columns = columns_of(table(&tables, "things"));
    assert_eq!(
        read(&mut engine, &all_rows("things", &["id"]), &columns),
        ["[1]", "[2]"]
    );
    engine.end_snapshot().unwrap();
    alter.join().unwrap();
    // With no one waiting, a second connection holds the tables too.
    engine.begin_snapshot().unwrap();
    engine.hold_tables(&["things"]).unwrap();
    let reader = engine.snapshot_reader().unwrap();
    assert!(reader.is_some());
    let held: i64 = watcher
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.application_name = 'sitepack' AND l.relation = 'things'::regclass
               AND l.mode = 'AccessShareLock' AND l.granted",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 2);
    drop(reader);
    engine.end_snapshot().unwrap();
}

#[test]
fn a_second_connection_ended_by_the_server_is_a_lost_connection() {
    let db = TestDb::new();
    db.setup(WIDE);
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    engine.hold_tables(&["wide"]).unwrap();
    let columns = columns_of(table(&tables, "wide"));
    let mut reader = engine
        .snapshot_reader()
        .unwrap()
        .expect("a second connection");
    // Another thread ends the read's session once it runs (the rows' callback runs inside
    // the reader's client and may not use another).
    let (done, terminated) = mpsc::channel();
    let terminator = {
        let mut watcher = db.client();
        thread::spawn(move || {
            loop {
                let ended: bool = watcher
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
                         WHERE datname = current_database() AND query LIKE 'SELECT%wide%'
                           AND state = 'active' AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                if ended {
                    done.send(()).unwrap();
                    return;
                }
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut waited = false;
    assert!(!reader.is_broken());
    let error = reader
        .for_each_row_verbatim(
            &all_rows("wide", &["id"]),
            &columns,
            &|_, _| None,
            &mut |_, _| {
                if !waited {
                    terminated.recv().unwrap();
                    waited = true;
                }
                Ok(())
            },
        )
        .unwrap_err()
        .to_string();
    terminator.join().unwrap();
    assert!(waited);
    assert!(reader.is_broken());
    assert!(error.starts_with("reading table \"wide\""), "{error}");
    assert!(error.contains("was lost"), "{error}");
    assert!(error.contains("run the backup again"), "{error}");
    drop(reader);
    engine.end_snapshot().unwrap();
}

#[test]
fn a_role_allowed_one_connection_reads_on_the_engines_own() {
    let db = TestDb::new();
    db.setup("CREATE TABLE things (id int4 PRIMARY KEY); INSERT INTO things VALUES (1), (2);");
    let role = db.role("single");
    db.setup(&format!(
        "ALTER ROLE {role} CONNECTION LIMIT 1; GRANT SELECT ON things TO {role};"
    ));
    let mut engine = PostgresEngine::connect(&db.url_as(Some(&role)), None, "public").unwrap();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    assert!(engine.snapshot_reader().unwrap().is_none());
    // The snapshot is still the engine's, and its rows are still read.
    let columns = columns_of(table(&tables, "things"));
    assert_eq!(
        read(&mut engine, &all_rows("things", &["id"]), &columns),
        ["[1]", "[2]"]
    );
    engine.end_snapshot().unwrap();
}

#[test]
fn the_databases_own_timeouts_do_not_cut_a_snapshot_short() {
    let db = TestDb::new();
    db.setup(&format!(
        "CREATE TABLE slow (id int4 PRIMARY KEY);
         INSERT INTO slow VALUES (1), (2);
         ALTER DATABASE {} SET statement_timeout = '200ms';
         ALTER DATABASE {} SET idle_in_transaction_session_timeout = '200ms';",
        db.name, db.name
    ));
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    thread::sleep(Duration::from_millis(500));
    let query = RowQuery {
        filter: Some("pg_sleep(0.2) IS NOT NULL".into()),
        ..all_rows("slow", &["id"])
    };
    let rows = read(&mut engine, &query, &columns_of(table(&tables, "slow")));
    assert_eq!(rows, ["[1]", "[2]"]);
    engine.end_snapshot().unwrap();
}

#[test]
fn held_tables_make_a_schema_change_wait_until_the_snapshot_ends() {
    let db = TestDb::new();
    db.setup("CREATE TABLE held (id int4 PRIMARY KEY); CREATE TABLE free (id int4);");
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    engine.hold_tables(&["held"]).unwrap();
    let (done, finished) = mpsc::channel();
    let mut client = db.client();
    let alter = thread::spawn(move || {
        client
            .batch_execute("SET statement_timeout = '30s'")
            .unwrap();
        let result = client.batch_execute("ALTER TABLE held ADD COLUMN extra int4");
        done.send(result.map_err(|e| e.to_string())).unwrap();
    });
    // A table not held may change meanwhile.
    db.client()
        .batch_execute("ALTER TABLE free ADD COLUMN extra int4")
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    assert!(
        finished.try_recv().is_err(),
        "ALTER TABLE completed while the table was held"
    );
    engine.end_snapshot().unwrap();
    let result = finished.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(result, Ok(()));
    alter.join().unwrap();
}

#[test]
fn a_table_another_session_keeps_locked_is_named_after_the_lock_timeout() {
    let db = TestDb::new();
    db.setup("CREATE TABLE busy (id int4); CREATE TABLE calm (id int4);");
    let mut blocker = db.client();
    blocker
        .batch_execute("BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let error = engine
        .hold_tables(&["calm", "busy"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"public\".\"busy\""), "{error}");
    // Only the table that is locked is named.
    assert!(!error.contains("calm"), "{error}");
    assert!(error.contains("another session"), "{error}");
    assert!(error.contains("ALTER TABLE"), "{error}");
    engine.end_snapshot().unwrap();
    blocker.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn values_format_1_1_cannot_write_are_refused_with_table_row_and_column() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE shaped (id int4, part int4, grid int4[], PRIMARY KEY (id, part));
         INSERT INTO shaped VALUES (1, 1, '{1,2}'), (2, 7, '{{1,2},{3,4}}');
         CREATE TABLE shifted (id int4 PRIMARY KEY, v text[]);
         INSERT INTO shifted VALUES (1, '[0:1]={a,b}');
         CREATE TABLE old (d date, t timestamptz);
         INSERT INTO old VALUES ('2000-01-01', '2000-01-01 00:00:00+00'), ('0044-03-15 BC', NULL);
         CREATE TABLE future (id int4 PRIMARY KEY, t timestamp);
         INSERT INTO future VALUES (1, '10000-01-01 00:00:00');
         CREATE TABLE twice (id int4 PRIMARY KEY, doc json);
         INSERT INTO twice VALUES (1, '{\"role\": \"admin\", \"role\": \"user\"}');",
    );
    let mut engine = db.engine();
    let cases: [(&str, &[&str], &str, &str, &str); 5] = [
        (
            "shaped",
            &["id", "part"],
            "id=2, part=7",
            "grid",
            "2-dimensional",
        ),
        ("shifted", &["id"], "id=1", "v", "indexed from 0"),
        ("old", &["d", "t"], "#1", "d", "44 BC"),
        ("future", &["id"], "id=1", "t", "10000"),
        // A `json` value keeps both keys; a parser would keep one, unseen.
        ("twice", &["id"], "id=1", "doc", "duplicate key"),
    ];
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    for (name, order, row_key, column, problem) in cases {
        let columns = columns_of(table(&tables, name));
        let error = engine
            .for_each_row(&all_rows(name, order), &columns, &mut |_| Ok(()))
            .unwrap_err();
        let DbError::BadValue {
            table: t,
            row,
            column: c,
            problem: p,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(
            (t.as_str(), row.as_str(), c.as_str()),
            (name, row_key, column)
        );
        assert!(p.contains(problem), "{error}");
    }
    engine.end_snapshot().unwrap();
}

#[test]
fn a_column_whose_type_changed_since_reflection_is_named() {
    let db = TestDb::new();
    db.setup("CREATE TABLE drifting (id int4 PRIMARY KEY, v int4)");
    let mut engine = db.engine();
    let tables = engine.reflect().unwrap();
    let columns = columns_of(table(&tables, "drifting"));
    db.setup("ALTER TABLE drifting ALTER COLUMN v TYPE text");
    let error = engine
        .for_each_row(&all_rows("drifting", &["id"]), &columns, &mut |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"drifting\", column \"v\""), "{error}");
    assert!(error.contains("schema changed"), "{error}");
}

const PASSWORD: &str = "s3cr3t-Pw-4711";

fn connect_error(url: &str, password: Option<&str>, schema: &str) -> String {
    let Err(error) = PostgresEngine::connect(url, password, schema) else {
        panic!("connected to {url}");
    };
    let message = error.to_string();
    for shown in [&message, &format!("{error:?}")] {
        assert!(!shown.contains(PASSWORD), "password shown: {shown}");
    }
    message
}

#[test]
fn an_unreachable_server_is_named_with_its_port() {
    for (url, password) in [
        (
            format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/x"),
            None,
        ),
        (
            "postgres://postgres@127.0.0.1:1/x".to_owned(),
            Some(PASSWORD),
        ),
        (
            format!("postgres://postgres@127.0.0.1:1/x?password={PASSWORD}"),
            None,
        ),
        (
            format!("host=127.0.0.1 port=1 user=postgres password={PASSWORD} dbname=x"),
            None,
        ),
    ] {
        let message = connect_error(&url, password, "public");
        assert!(message.contains("127.0.0.1:1"), "{message}");
        assert!(message.contains("check that it is running"), "{message}");
    }
    let message = connect_error(
        &format!("postgres://postgres:{PASSWORD}@127.0.0.1:5432/postgres?sslmode=require"),
        None,
        "public",
    );
    assert!(message.contains("TLS (sslmode=require)"), "{message}");
    let message = connect_error("postgres://u:p@[not a url", None, "public");
    assert!(message.contains("postgres://USER@HOST"), "{message}");
}

#[test]
fn a_missing_database_or_schema_is_named() {
    let db = TestDb::new();
    let mut url = url::Url::parse(&db.url()).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    let with_password = url.to_string();
    url.set_path("sitepack_no_such_database");
    let message = connect_error(url.as_str(), None, "public");
    assert!(
        message.contains("database \"sitepack_no_such_database\" does not exist on 127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("cannot connect to postgres://…@127.0.0.1:"),
        "{message}"
    );

    let message = connect_error(&with_password, None, "tenants");
    assert!(
        message.contains(&format!(
            "schema \"tenants\" does not exist in database \"{}\"",
            db.name
        )),
        "{message}"
    );
}

#[test]
fn a_table_the_role_cannot_read_is_named_with_the_grant_to_give() {
    let db = TestDb::new();
    let role = db.role("reader");
    db.setup(&format!(
        "CREATE TABLE open_t (id int4 PRIMARY KEY);
         CREATE TABLE secret (id int4 PRIMARY KEY);
         GRANT SELECT ON open_t TO {role};"
    ));
    let mut engine = PostgresEngine::connect(&db.url_as(Some(&role)), None, "public").unwrap();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let error = engine
        .hold_tables(&["open_t", "secret"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"public\".\"secret\""), "{error}");
    assert!(!error.contains("open_t"), "{error}");
    assert!(error.contains(&format!("role \"{role}\"")), "{error}");
    assert!(
        error.contains(&format!(
            "GRANT SELECT ON \"public\".\"secret\" TO \"{role}\""
        )),
        "{error}"
    );
    engine.end_snapshot().unwrap();

    engine.begin_snapshot().unwrap();
    let columns = columns_of(table(&tables, "secret"));
    let error = engine
        .for_each_row(&all_rows("secret", &["id"]), &columns, &mut |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("permission denied for table secret"),
        "{error}"
    );
    assert!(error.contains("GRANT SELECT"), "{error}");
    engine.end_snapshot().unwrap();
}

#[test]
fn a_schema_the_role_may_not_use_is_named() {
    let db = TestDb::new();
    let role = db.role("outsider");
    db.setup("CREATE SCHEMA closed; CREATE TABLE closed.t (id int4);");
    let message = connect_error(&db.url_as(Some(&role)), Some(PASSWORD), "closed");
    assert!(
        message.contains(&format!("GRANT USAGE ON SCHEMA \"closed\" TO \"{role}\"")),
        "{message}"
    );
}

#[test]
fn a_table_without_a_key_is_ordered_by_every_column_json_ones_by_their_text() {
    let db = TestDb::new();
    db.setup(
        "CREATE TABLE loose (org text, j json, ja json[]);
         INSERT INTO loose VALUES ('b', '{\"x\": 2}', ARRAY['[1]'::json]),
                                  ('a', '{\"x\": 1}', NULL), ('a', '[]', NULL);
         ANALYZE loose;",
    );
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let columns = columns_of(table(&tables, "loose"));
    let query = all_rows("loose", &["org", "j", "ja"]);
    assert_eq!(engine.estimate(&query).unwrap(), 3);
    assert_eq!(
        read(&mut engine, &query, &columns),
        [
            r#"["a",[],null]"#,
            r#"["a",{"x":1},null]"#,
            r#"["b",{"x":2},[[1]]]"#
        ]
    );
    engine.end_snapshot().unwrap();
}

#[test]
fn jsonb_values_given_verbatim_are_exactly_what_parsing_them_gives() {
    let db = TestDb::new();
    db.setup(
        r#"CREATE TABLE docs (id int8 PRIMARY KEY, doc jsonb, docs jsonb[], raw json);
         INSERT INTO docs VALUES
           (1, '{"qty": 2, "tags": ["t2", "t2"], "price": 12.50}', NULL, '{"a" : 1}'),
           (2, '[1e3, -0.000, 123456789012345678901234567890.10, true, null, {}, []]', NULL, NULL),
           (3, '"a: b, c"', NULL, NULL),
           (4, '{"nested": {"deeper": [[["ünï ✓"]]]}, "a b": "x , y", "z": ""}', NULL, NULL),
           (5, '{"line": "two\nlines"}', NULL, NULL),
           (6, '{"api_key": "x"}', NULL, NULL),
           (7, NULL, ARRAY['{"a": 1}'::jsonb], NULL),
           (8, '12', NULL, NULL);"#,
    );
    let mut engine = db.engine();
    engine.begin_snapshot().unwrap();
    let tables = engine.reflect().unwrap();
    let columns = columns_of(table(&tables, "docs"));
    let query = all_rows("docs", &["id"]);
    let parsed = read(&mut engine, &query, &columns);
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let policy = sitepack_format::SecretPolicy::default();
    let rules = policy.record_rules(&"db/docs.jsonl".parse().unwrap(), &names);
    let asked = Mutex::new(Vec::new());
    let verbatim = |index: usize, text: &str| {
        asked.lock().unwrap().push((index, text.to_owned()));
        rules.verbatim_json(index, text)
    };
    let mut given = Vec::new();
    let mut written = Vec::new();
    engine
        .for_each_row_verbatim(&query, &columns, &verbatim, &mut |mut values, encoded| {
            given.push(encoded.iter().map(|(i, _)| *i).collect::<Vec<_>>());
            for (index, text) in encoded {
                assert_eq!(values[index], Value::Bool(true), "its place holds true");
                values[index] = serde_json::from_str(&text).unwrap();
                assert_eq!(serde_json::to_string(&values[index]).unwrap(), text);
            }
            written.push(serde_json::to_string(&values).unwrap());
            Ok(())
        })
        .unwrap();
    engine.end_snapshot().unwrap();
    assert_eq!(written, parsed, "the same values, written the same way");
    // Only the jsonb column's non-null values are offered, as PostgreSQL writes them;
    // an escape or a secret member name keeps a value parsed.
    let asked = asked.into_inner().unwrap();
    assert_eq!(asked.len(), 7, "{asked:?}");
    assert!(asked.iter().all(|(index, _)| *index == 1));
    assert_eq!(
        asked[0].1,
        r#"{"qty": 2, "tags": ["t2", "t2"], "price": 12.50}"#
    );
    assert_eq!(
        given,
        [
            vec![1],
            vec![1],
            vec![1],
            vec![1],
            vec![],
            vec![],
            vec![],
            vec![1]
        ]
    );
}
