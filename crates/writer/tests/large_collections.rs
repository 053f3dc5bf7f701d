//! Collections larger than the streaming threshold are checked and redacted line by line
//! (memory stays flat) and give the bytes a small collection would: the file's own when
//! nothing is removed, every kept record on its own line when something is.

use sitepack_format::{NoProgress, Scope};
use sitepack_writer::{CreateOptions, Overwrite, Site, create_archive_file};

mod common;
use common::Archive;

/// Well over the 8 MiB streaming threshold.
const RECORDS: usize = 120_000;

fn record(i: usize, secret: bool) -> String {
    let token = if secret {
        format!(",\"api_key\":\"k-{i:08}-lighthouse\"")
    } else {
        String::new()
    };
    format!(
        "{{\"id\":{i},\"user_id\":\"u-{}\",\"note\":\"keeper's log entry number {i}, weather fair, lamp lit at dusk\"{token}}}",
        i % 7
    )
}

fn archive_of(collection: &[u8], scope: &str) -> (Archive, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("modules/log")).unwrap();
    std::fs::write(
        root.join("site.json"),
        r#"{"id": "lighthouse", "name": "Lighthouse", "url": "https://lighthouse.example"}"#,
    )
    .unwrap();
    std::fs::write(root.join("modules/log/entries.jsonl"), collection).unwrap();
    std::fs::create_dir_all(root.join("users")).unwrap();
    std::fs::write(root.join("users/u-3.json"), r#"{"id": "u-3"}"#).unwrap();
    let out = dir.path().join("out.zip");
    let site = Site::open(&root).unwrap();
    let options = CreateOptions::new(scope.parse::<Scope>().unwrap());
    create_archive_file(&site, &options, &out, Overwrite::Refuse, &NoProgress).unwrap();
    (Archive::open(&out), dir)
}

fn lines(secret_every: usize) -> Vec<String> {
    (0..RECORDS)
        .map(|i| record(i, secret_every > 0 && i % secret_every == 0))
        .collect()
}

#[test]
fn an_untouched_large_collection_keeps_its_bytes_blank_lines_and_all() {
    let mut text = lines(0).join("\n");
    assert!(text.len() > 8 * 1024 * 1024);
    // A blank line and no final newline: kept exactly, as for a small file.
    text.insert_str(text.find('\n').unwrap(), "\n   ");
    let (mut archive, _dir) = archive_of(text.as_bytes(), "full");
    let entry = archive.read_entry("site/modules/log/entries.jsonl");
    assert!(entry == text.as_bytes(), "the entry differs from the file");
    let manifest = archive.manifest();
    assert_eq!(manifest.entries[0].records, Some(RECORDS as u64));
}

#[test]
fn a_large_collection_with_secrets_is_redacted_record_by_record() {
    let text = lines(1000).join("\n") + "\n";
    let (mut archive, _dir) = archive_of(text.as_bytes(), "full");
    let entry = String::from_utf8(archive.read_entry("site/modules/log/entries.jsonl")).unwrap();
    assert!(!entry.contains("-lighthouse\""), "a secret went in");
    assert_eq!(entry.lines().count(), RECORDS);
    let manifest = archive.manifest();
    assert_eq!(manifest.redactions.len(), RECORDS / 1000);
    assert_eq!(manifest.redactions[1].record, Some(serde_json::json!(1000)));
    // Untouched records are copied as they were.
    assert!(entry.contains(&format!("{}\n", record(1, false))));
}

#[test]
fn a_large_collection_is_filtered_to_the_users_records() {
    let text = lines(0).join("\n") + "\n";
    let (mut archive, _dir) = archive_of(text.as_bytes(), "user:u-3");
    let entry = String::from_utf8(archive.read_entry("site/modules/log/entries.jsonl")).unwrap();
    let expected: String = (0..RECORDS)
        .filter(|i| i % 7 == 3)
        .map(|i| record(i, false) + "\n")
        .collect();
    assert!(entry == expected, "the user's records differ");
}
