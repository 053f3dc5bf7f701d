//! A database site's staged export: `site.json` and `db/` in one directory, the uploads in
//! their own, the state elsewhere. Its archives are format 1.1, tables carry their row
//! counts, and the uploads go in as `files/` as the scope says.

use std::path::Path;

use sitepack_format::{NoProgress, Scope};
use sitepack_writer::{CreateOptions, Overwrite, Site, create_archive_file};

mod common;
use common::Archive;

struct Staged {
    dir: tempfile::TempDir,
}

impl Staged {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged");
        std::fs::create_dir_all(staged.join("db")).unwrap();
        std::fs::write(
            staged.join("site.json"),
            r#"{"id": "harbor", "name": "Harbor Freight Co", "url": "https://harbor.example"}"#,
        )
        .unwrap();
        std::fs::write(staged.join("db/schema.json"), "{}\n").unwrap();
        std::fs::write(
            staged.join("db/cranes.jsonl"),
            "{\"id\":1,\"yard\":\"north\"}\n{\"id\":2,\"yard\":\"south\",\"api_token\":\"tok-9f8e7d6c5b4a\"}\n{\"id\":3,\"yard\":\"east\"}\n",
        )
        .unwrap();
        let uploads = dir.path().join("uploads");
        std::fs::create_dir_all(uploads.join("users/u-4")).unwrap();
        std::fs::write(uploads.join("manual.pdf"), b"%PDF crane manual").unwrap();
        std::fs::write(uploads.join("users/u-4/avatar.txt"), b"u-4's own").unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn site(&self) -> Site {
        Site::open_database(
            &self.path("staged"),
            Some(&self.path("uploads")),
            &self.path("state"),
        )
        .unwrap()
    }

    fn create(&self, scope: &str, name: &str) -> Archive {
        let out = self.path(name);
        let options = CreateOptions::new(scope.parse::<Scope>().unwrap());
        create_archive_file(&self.site(), &options, &out, Overwrite::Refuse, &NoProgress).unwrap();
        Archive::open(&out)
    }
}

fn paths(archive: &mut Archive) -> Vec<String> {
    archive
        .manifest()
        .entries
        .iter()
        .map(|e| e.path.to_string())
        .collect()
}

#[test]
fn a_database_archive_is_format_1_1_with_row_counts_and_the_uploads_as_files() {
    let staged = Staged::new();
    let site = staged.site();
    assert!(site.is_database());
    assert_eq!(site.state_root(), staged.path("state"));
    let mut archive = staged.create("full", "full.zip");
    let manifest = archive.manifest();
    assert_eq!(manifest.format_version.to_string(), "1.1");
    assert_eq!(
        paths(&mut archive),
        [
            "site/db/cranes.jsonl",
            "site/db/schema.json",
            "site/files/manual.pdf",
            "site/files/users/u-4/avatar.txt",
            "site/site.json",
        ]
    );
    let records: Vec<Option<u64>> = manifest.entries.iter().map(|e| e.records).collect();
    assert_eq!(records, [Some(3), None, None, None, None]);
    // The secret column is redacted as in any JSON Lines entry, and listed.
    assert_eq!(manifest.redactions.len(), 1);
    assert_eq!(manifest.redactions[0].pointer, "/api_token");
    let rows = String::from_utf8(archive.read_entry("site/db/cranes.jsonl")).unwrap();
    assert!(!rows.contains("tok-9f8e7d6c5b4a"), "{rows}");
    assert_eq!(
        archive.read_entry("site/files/manual.pdf"),
        b"%PDF crane manual"
    );
}

#[test]
fn a_user_archive_takes_only_that_users_uploads_and_a_table_archive_none() {
    let staged = Staged::new();
    let mut user = staged.create("user:u-4", "user.zip");
    assert!(paths(&mut user).contains(&"site/files/users/u-4/avatar.txt".to_owned()));
    assert!(!paths(&mut user).contains(&"site/files/manual.pdf".to_owned()));
    let mut table = staged.create("table:cranes", "table.zip");
    assert!(
        paths(&mut table)
            .iter()
            .all(|p| !p.starts_with("site/files/"))
    );
    let mut options = CreateOptions::new(Scope::Full);
    options.options.files = false;
    let out = staged.path("nofiles.zip");
    create_archive_file(
        &staged.site(),
        &options,
        &out,
        Overwrite::Refuse,
        &NoProgress,
    )
    .unwrap();
    let mut nofiles = Archive::open(&out);
    assert!(
        paths(&mut nofiles)
            .iter()
            .all(|p| !p.starts_with("site/files/"))
    );
}

#[test]
fn an_upload_that_cannot_be_read_is_named_in_its_own_directory() {
    let staged = Staged::new();
    std::os::unix::fs::symlink("/etc/passwd", staged.path("uploads/link")).unwrap();
    let options = CreateOptions::new(Scope::Full);
    let err = create_archive_file(
        &staged.site(),
        &options,
        &staged.path("x.zip"),
        Overwrite::Refuse,
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&staged.path("uploads/link").display().to_string()),
        "{err}"
    );
    assert!(!Path::new(&staged.path("x.zip")).exists());
}
