//! `sitepack init NEW_SITE --from-template ARCHIVE --id ID --name NAME --url URL`: a new
//! site from the shipped template, under its own identity and URL, with the secrets to
//! enter listed; a refusal (a non-empty `NEW_SITE`, a template that is not a full archive,
//! a corrupted archive) exits 1 and leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::extract::corrupted_archive;
use crate::util::{Run, TestSite, copy_tree, create, listing, repo_root, run, try_create};

fn template_site() -> PathBuf {
    repo_root().join("fixtures/templates/starter-shop")
}

fn template_archive() -> PathBuf {
    repo_root().join("fixtures/templates/starter-shop.zip")
}

/// `sitepack init NEW_SITE --from-template ARCHIVE --id my-shop --name "My Shop"
/// --url https://my-shop.example ARGS…`.
fn init(new_site: &Path, archive: &Path, args: &[&str]) -> Run {
    let mut command = vec![
        "init".as_ref(),
        new_site.as_os_str(),
        "--from-template".as_ref(),
        archive.as_os_str(),
        "--id".as_ref(),
        "my-shop".as_ref(),
        "--name".as_ref(),
        "My Shop".as_ref(),
        "--url".as_ref(),
        "https://my-shop.example".as_ref(),
    ];
    command.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(command)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn init_creates_a_site_with_the_new_identity_and_url() {
    let parent = tempfile::tempdir().unwrap();
    let new_site = parent.path().join("my-shop");
    let done = init(&new_site, &template_archive(), &[]).expect(0);
    assert!(
        done.stdout.contains("created site my-shop"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("enter these before going live:\n  settings/general.json /smtp/password\n"),
        "{}",
        done.stdout
    );
    assert_eq!(listing(parent.path()), ["my-shop"]);

    // site.json: the new identity, everything else of the template's kept.
    let mut expected = read_json(&template_site().join("site.json"));
    expected["id"] = "my-shop".into();
    expected["name"] = "My Shop".into();
    expected["url"] = "https://my-shop.example".into();
    assert_eq!(read_json(&new_site.join("site.json")), expected);

    // URLs rewritten in documents, collections and text module files.
    for path in [
        "settings/general.json",
        "modules/pages/pages.jsonl",
        "modules/pages/home.html",
    ] {
        let text = std::fs::read_to_string(new_site.join(path)).unwrap();
        assert!(!text.contains("starter.example/"), "{path}: {text}");
        assert!(text.contains("https://my-shop.example/"), "{path}: {text}");
    }
    let general = read_json(&new_site.join("settings/general.json"));
    assert_eq!(general["storefront_url"], "https://my-shop.example");
    assert!(general["smtp"].get("password").is_none(), "{general}");
    assert_eq!(
        std::fs::read(new_site.join("users/u-owner.json")).unwrap(),
        std::fs::read(template_site().join("users/u-owner.json")).unwrap()
    );

    // One audit event, in the new site.
    let log = std::fs::read_to_string(new_site.join(".sitepack/audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{log}");
    let event = &events[0];
    assert_eq!(event["type"], "init");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["details"]["template_site_id"], "starter-shop");
    assert_eq!(event["details"]["site"]["id"], "my-shop");
    assert_eq!(event["details"]["secrets_to_enter"], 1);
    let sha = event["details"]["archive_sha256"].as_str().unwrap();
    let validated = run([
        "validate".as_ref(),
        template_archive().as_os_str(),
        "--expect-sha256".as_ref(),
        sha.as_ref(),
    ]);
    validated.expect(0);

    // The new site is a site: it backs up, and the backup validates.
    let archive = parent.path().join("my-shop.zip");
    create(&new_site, &archive, &[]);
    run(["validate".as_ref(), archive.as_os_str()]).expect(0);
    let manifest = crate::util::manifest(&archive);
    assert_eq!(manifest["site"]["id"], "my-shop");
    assert_eq!(manifest["site"]["url"], "https://my-shop.example");
}

#[test]
fn init_json_lists_the_secrets_to_enter() {
    let parent = tempfile::tempdir().unwrap();
    let new_site = parent.path().join("my-shop");
    let summary = init(&new_site, &template_archive(), &["--json"])
        .expect(0)
        .json();
    assert_eq!(summary["site"]["id"], "my-shop");
    assert_eq!(summary["template"]["id"], "starter-shop");
    assert_eq!(summary["files"], 7);
    assert_eq!(
        summary["url_rewrites"]["rules"][0]["from"],
        "https://starter.example"
    );
    assert_eq!(
        summary["secrets_to_enter"],
        serde_json::json!([{"path": "site/settings/general.json", "pointer": "/smtp/password"}])
    );
}

/// The committed template archive is what `create` makes of the committed template site,
/// so the two never drift apart. If this fails, rebuild it (fixtures/templates/README.md).
#[test]
fn the_shipped_template_archive_is_a_fresh_create_of_the_template_site() {
    let site = TestSite::bare();
    copy_tree(&template_site(), &site.root());
    // The template's own audit log (left by a rebuild) is not part of the site.
    let _ = std::fs::remove_dir_all(site.root().join(".sitepack"));
    let fresh = site.out_dir().join("starter-shop.zip");
    try_create(
        &site.root(),
        &fresh,
        &["--timestamp", "2026-11-22T00:00:00Z"],
    )
    .expect(0);
    assert!(
        std::fs::read(&fresh).unwrap() == std::fs::read(template_archive()).unwrap(),
        "fixtures/templates/starter-shop.zip is stale: rebuild it as fixtures/templates/README.md says"
    );
}

#[test]
fn a_new_site_directory_that_is_not_empty_is_refused_and_untouched() {
    let parent = tempfile::tempdir().unwrap();
    let new_site = parent.path().join("my-shop");
    std::fs::create_dir(&new_site).unwrap();
    std::fs::write(new_site.join("notes.txt"), "mine").unwrap();
    let run = init(&new_site, &template_archive(), &[]).expect(1);
    assert!(
        run.stderr.contains("not an empty directory"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(listing(parent.path()), ["my-shop"]);
    assert_eq!(listing(&new_site), ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(new_site.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_template_that_is_not_a_full_archive_is_refused() {
    let parent = tempfile::tempdir().unwrap();
    let tab = parent.path().join("tab.zip");
    create(
        &template_site_copy(&parent),
        &tab,
        &["--scope", "tab:general"],
    );
    let before = listing(parent.path());
    let new_site = parent.path().join("my-shop");
    let run = init(&new_site, &tab, &[]).expect(1);
    assert!(
        run.stderr.contains("must be a full archive"),
        "{}",
        run.stderr
    );
    assert_eq!(listing(parent.path()), before);
}

#[test]
fn a_corrupted_template_is_refused() {
    let site = TestSite::new("tpl");
    let parent = tempfile::tempdir().unwrap();
    let archive = parent.path().join("corrupted.zip");
    corrupted_archive(&site, &archive);
    let new_site = parent.path().join("my-shop");
    let run = init(&new_site, &archive, &[]).expect(1);
    assert!(
        run.stderr.contains("not a valid sitepack archive"),
        "{}",
        run.stderr
    );
    assert_eq!(listing(parent.path()), ["corrupted.zip"]);
}

#[test]
fn a_url_that_is_not_http_is_refused() {
    let parent = tempfile::tempdir().unwrap();
    let new_site = parent.path().join("my-shop");
    let refused = run([
        "init".as_ref(),
        new_site.as_os_str(),
        "--from-template".as_ref(),
        template_archive().as_os_str(),
        "--id".as_ref(),
        "my-shop".as_ref(),
        "--name".as_ref(),
        "My Shop".as_ref(),
        "--url".as_ref(),
        "ftp://my-shop.example".as_ref(),
    ])
    .expect(1);
    assert!(
        refused
            .stderr
            .contains("does not start with http:// or https://"),
        "{}",
        refused.stderr
    );
    assert!(listing(parent.path()).is_empty());
}

/// A copy of the template site inside `parent` (so its audit log stays there).
fn template_site_copy(parent: &tempfile::TempDir) -> PathBuf {
    let root = parent.path().join("template");
    copy_tree(&template_site(), &root);
    let _ = std::fs::remove_dir_all(root.join(".sitepack"));
    root
}

#[test]
fn init_of_a_directory_needs_its_identity() {
    let parent = tempfile::tempdir().unwrap();
    let new_site = parent.path().join("my-shop");
    let template = template_archive();
    let missing = run([
        "init".as_ref(),
        new_site.as_os_str(),
        "--from-template".as_ref(),
        template.as_os_str(),
        "--id".as_ref(),
        "my-shop".as_ref(),
    ])
    .expect(2);
    assert!(
        missing
            .stderr
            .contains("--id, --name and --url are required"),
        "{}",
        missing.stderr
    );
    assert!(listing(parent.path()).is_empty());
}
