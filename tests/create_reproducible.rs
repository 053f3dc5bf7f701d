//! Same site + same options + same timestamp ⇒ byte-identical archive, whatever the
//! number of threads, the order the file system lists files in, or their times and modes.

use std::os::unix::fs::PermissionsExt;

use crate::util::{TestSite, create, site_files};

/// A site with every kind of entry the writer treats differently: documents, redacted
/// documents, collections, precompressed and incompressible media, a file large enough
/// to be streamed, non-ASCII names.
pub fn varied_site() -> TestSite {
    let site = TestSite::new("varied");
    site.write(
        "settings/general.json",
        r#"{"title": "Varied", "smtp": {"password": "pw-123456"}}"#,
    );
    site.write(
        "users/u-1.json",
        r#"{"id": "u-1", "password_hash": "$argon2id$v=19$abc"}"#,
    );
    site.write("users/u-2.json", r#"{"id": "u-2"}"#);
    let mut records = String::new();
    for i in 0..500 {
        let owner = if i % 3 == 0 { "u-1" } else { "u-2" };
        let record =
            serde_json::json!({"id": i, "user_id": owner, "note": format!("record {i} · ünïcode")});
        records.push_str(&record.to_string());
        records.push('\n');
    }
    site.write("modules/crm/contacts.jsonl", &records);
    site.write(
        "modules/crm/config.json",
        r#"{"pipeline": ["lead", "won"]}"#,
    );
    site.write(
        "modules/crm/template.html",
        "<p>https://varied.example</p>\n".repeat(100),
    );
    site.write(
        "files/media/Überweisung – März.pdf",
        b"%PDF-1.4 fake".repeat(100),
    );
    site.write("files/media/photo.jpg", noise(300_000, 1));
    site.write("files/media/noise.bin", noise(200_000, 2));
    site.write(
        "files/logs/big.log",
        "GET /index.html 200 1234 Mozilla/5.0\n".repeat(300_000),
    );
    site.write("files/users/u-1/avatar.png", noise(5_000, 3));
    site.write("README.txt", "other area\n");
    site
}

pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

#[test]
fn two_runs_give_identical_bytes() {
    let site = varied_site();
    let out = site.out_dir();
    create(&site.root(), &out.join("a.zip"), &[]);
    create(&site.root(), &out.join("b.zip"), &[]);
    assert_eq!(
        std::fs::read(out.join("a.zip")).unwrap(),
        std::fs::read(out.join("b.zip")).unwrap()
    );
}

#[test]
fn thread_count_does_not_change_the_bytes() {
    let site = varied_site();
    let out = site.out_dir();
    create(&site.root(), &out.join("t1.zip"), &["--threads", "1"]);
    create(&site.root(), &out.join("t4.zip"), &["--threads", "4"]);
    let one = std::fs::read(out.join("t1.zip")).unwrap();
    assert_eq!(one, std::fs::read(out.join("t4.zip")).unwrap());
    assert!(one.len() > 100_000);
}

#[test]
fn file_times_modes_and_creation_order_do_not_matter() {
    let first = varied_site();
    let out = first.out_dir();
    create(&first.root(), &out.join("first.zip"), &[]);

    // The same content written in another order, with other times and modes.
    let second = TestSite::new("varied");
    let mut files: Vec<(String, Vec<u8>)> = site_files(&first.root()).into_iter().collect();
    files.reverse();
    for (relative, bytes) in &files {
        second.write(relative, bytes);
        let path = second.root().join(relative);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    second.write(
        "site.json",
        std::fs::read(first.root().join("site.json")).unwrap(),
    );
    create(&second.root(), &out.join("second.zip"), &[]);
    assert_eq!(
        std::fs::read(out.join("first.zip")).unwrap(),
        std::fs::read(out.join("second.zip")).unwrap()
    );
}

#[test]
fn source_date_epoch_sets_the_time() {
    let site = varied_site();
    let out = site.out_dir();
    create(&site.root(), &out.join("flag.zip"), &[]);
    let status = crate::util::sitepack()
        .env("SOURCE_DATE_EPOCH", "1795336200") // 2026-11-22T08:30:00Z
        .args([
            "create".as_ref(),
            site.root().as_os_str(),
            "-o".as_ref(),
            out.join("env.zip").as_os_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(out.join("flag.zip")).unwrap(),
        std::fs::read(out.join("env.zip")).unwrap()
    );
}
