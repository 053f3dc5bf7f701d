//! A database site's tables encoded while their rows stream in (`encode_table`), then
//! appended beside its staged files (`Site::with_tables`): redacted and checked as any
//! JSON Lines entry, counted, and reproducible.

use serde_json::{Value, json};
use sitepack_format::{ArchivePath, NoProgress, Scope, SecretPolicy};
use sitepack_writer::{
    CreateOptions, Overwrite, Site, TableEntry, WriterError, create_archive_file, encode_table,
};

mod common;
use common::Archive;

fn staged(dir: &std::path::Path) -> std::path::PathBuf {
    let staged = dir.join("staged");
    std::fs::create_dir_all(staged.join("db")).unwrap();
    std::fs::write(
        staged.join("site.json"),
        r#"{"id": "quay", "name": "Quay Lines", "url": "https://quay.example"}"#,
    )
    .unwrap();
    std::fs::write(staged.join("db/schema.json"), "{}\n").unwrap();
    staged
}

fn table(
    spill: &std::path::Path,
    name: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<TableEntry, WriterError> {
    table_at(spill, name, columns, rows, 6)
}

fn table_at(
    spill: &std::path::Path,
    name: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    level: u32,
) -> Result<TableEntry, WriterError> {
    let path: ArchivePath = format!("db/{name}.jsonl").parse().unwrap();
    let columns: Vec<String> = columns.iter().map(|&c| c.to_owned()).collect();
    encode_table(
        &path,
        &columns,
        &SecretPolicy::default(),
        level,
        spill,
        |writer| {
            for mut row in rows {
                let omitted = writer.write_row(&mut row)?;
                // What was left out is what the policy calls secret.
                assert!(omitted.iter().all(|&i| i == 1 || i == 2), "{omitted:?}");
            }
            Ok::<_, WriterError>(())
        },
    )
}

fn archive(dir: &std::path::Path, tables: Vec<TableEntry>, name: &str) -> Archive {
    let site = Site::open_database(&staged(dir), None, dir)
        .unwrap()
        .with_tables(tables);
    let out = dir.join(name);
    create_archive_file(
        &site,
        &CreateOptions::new(Scope::Full),
        &out,
        Overwrite::Refuse,
        &NoProgress,
    )
    .unwrap();
    Archive::open(&out)
}

fn berths() -> Vec<Vec<Value>> {
    vec![
        vec![
            json!(1),
            json!("north"),
            json!("tok-1a2b3c4d"),
            json!({"crane": "c-1"}),
        ],
        vec![
            json!(2),
            json!("south"),
            Value::Null,
            json!({"smtp": {"password": "hunter22", "host": "mx"}}),
        ],
        vec![
            json!(3),
            json!("postgres://ops:pw-77@db/x"),
            json!(""),
            json!([]),
        ],
    ]
}

#[test]
fn rows_are_redacted_listed_counted_and_written_in_column_order() {
    let dir = tempfile::tempdir().unwrap();
    let berths = table(
        dir.path(),
        "berths",
        &["id", "quay", "api_token", "settings"],
        berths(),
    )
    .unwrap();
    assert_eq!(berths.rows(), 3);
    let mut zip = archive(dir.path(), vec![berths], "quay.zip");
    let rows = String::from_utf8(zip.read_entry("site/db/berths.jsonl")).unwrap();
    assert_eq!(
        rows,
        "{\"id\":1,\"quay\":\"north\",\"settings\":{\"crane\":\"c-1\"}}\n\
         {\"id\":2,\"quay\":\"south\",\"api_token\":null,\"settings\":{\"smtp\":{\"host\":\"mx\"}}}\n\
         {\"id\":3,\"api_token\":\"\",\"settings\":[]}\n"
    );
    let manifest = zip.manifest();
    let entry = manifest
        .entries
        .iter()
        .find(|e| e.path.as_str() == "site/db/berths.jsonl")
        .unwrap();
    assert_eq!(entry.records, Some(3));
    let redactions: Vec<&str> = manifest
        .redactions
        .iter()
        .map(|r| r.pointer.as_str())
        .collect();
    assert_eq!(
        redactions,
        ["/api_token", "/settings/smtp/password", "/quay"]
    );
}

#[test]
fn a_row_holding_a_credential_is_refused_with_its_line_and_member() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        vec![json!(1), json!("fine")],
        vec![
            json!(2),
            json!({"note": "key sk_live_4eC39HqLyjWDarjtT1zdp7dc"}),
        ],
    ];
    let error = table(dir.path(), "notes", &["id", "body"], rows).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, WriterError::CredentialShape { .. }),
        "{error:?}"
    );
    assert!(
        message.starts_with("db/notes.jsonl:2#/body/note: holds a Stripe live secret key"),
        "{message}"
    );
    assert!(!message.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{message}");
}

#[test]
fn the_same_rows_give_the_same_archive() {
    let digests: Vec<Vec<u8>> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let t = table(
                dir.path(),
                "berths",
                &["id", "quay", "api_token", "settings"],
                berths(),
            )
            .unwrap();
            archive(dir.path(), vec![t], "a.zip");
            std::fs::read(dir.path().join("a.zip")).unwrap()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn rows_that_would_look_like_a_decompression_bomb_are_stored() {
    // A megabyte of one repeated character per row deflates past the readers' ratio
    // limit: the entry must be stored, and still hold every row.
    let dir = tempfile::tempdir().unwrap();
    let filler = "a".repeat(1 << 20);
    let rows = (0..8).map(|i| vec![json!(i), json!(filler)]).collect();
    let bulk = table(dir.path(), "bulk", &["id", "blob"], rows).unwrap();
    let size = bulk.size();
    let mut zip = archive(dir.path(), vec![bulk], "bulk.zip");
    let bytes = zip.read_entry("site/db/bulk.jsonl");
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(bytes.split(|&b| b == b'\n').count(), 9);
    let file = std::fs::File::open(dir.path().join("bulk.zip")).unwrap();
    let mut raw = zip::ZipArchive::new(file).unwrap();
    let entry = raw.by_name("site/db/bulk.jsonl").unwrap();
    assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
}

/// How `name` is compressed in the archive at `path`.
fn method(path: &std::path::Path, name: &str) -> zip::CompressionMethod {
    let mut raw = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    raw.by_name(name).unwrap().compression()
}

#[test]
fn rows_are_deflated_or_stored_at_the_level_asked() {
    let rows = || {
        (0..2000)
            .map(|i| vec![json!(i), json!(format!("berth {i}"))])
            .collect()
    };
    for (level, expected) in [
        (6, zip::CompressionMethod::Deflated),
        (0, zip::CompressionMethod::Stored),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let berths = table_at(dir.path(), "berths", &["id", "quay"], rows(), level).unwrap();
        let size = berths.size();
        let mut zip = archive(dir.path(), vec![berths], "quay.zip");
        let bytes = zip.read_entry("site/db/berths.jsonl");
        assert_eq!(bytes.len() as u64, size);
        assert!(bytes.starts_with(b"{\"id\":0,\"quay\":\"berth 0\"}\n"));
        assert_eq!(
            method(&dir.path().join("quay.zip"), "site/db/berths.jsonl"),
            expected,
            "level {level}"
        );
    }
}
