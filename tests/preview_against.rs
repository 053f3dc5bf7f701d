//! `sitepack preview ARCHIVE --against SITE`: what a restore would change, in both modes,
//! without changing anything.

use std::path::Path;

use serde_json::Value;

use crate::util::{TestSite, create, run, site_files};

/// `preview --json --against SITE`, expecting `code`; the site must not change.
fn against(archive: &Path, site: &Path, extra: &[&str], code: i32) -> Value {
    let before = site_files(site);
    let mut args = vec![
        "preview".to_owned(),
        archive.display().to_string(),
        "--json".to_owned(),
        "--against".to_owned(),
        site.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let output = run(&args).expect(code).json();
    assert_eq!(
        site_files(site),
        before,
        "preview --against changed the site"
    );
    output
}

/// `(action, path)` of every change a mode's plan lists.
fn changes(output: &Value, mode: &str) -> Vec<(String, String)> {
    output["against"][mode]["plan"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no {mode} plan: {}", output["against"][mode]))
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn archive_of(site: &TestSite) -> std::path::PathBuf {
    let archive = site.out_dir().join("backup.zip");
    create(&site.root(), &archive, &[]);
    archive
}

#[test]
fn an_unchanged_site_plans_nothing() {
    let site = TestSite::demo();
    let archive = archive_of(&site);
    let output = against(&archive, &site.root(), &[], 0);
    assert!(changes(&output, "merge").is_empty());
    assert!(changes(&output, "replace").is_empty());
    assert_eq!(output["against"]["merge"]["plan"]["site_json"], "kept");
    // The preview itself is still there.
    assert_eq!(output["manifest"]["site"]["id"], "acme-shop");
}

#[test]
fn merge_and_replace_differ_on_what_the_archive_lacks() {
    let site = TestSite::new("garden");
    site.write("settings/general.json", r#"{"title": "Garden"}"#);
    site.write(
        "modules/notes/notes.jsonl",
        "{\"id\": 1, \"user_id\": \"u-1\", \"text\": \"one\"}\n",
    );
    site.write("files/plan.txt", "beds\n");
    let archive = archive_of(&site);
    // After the backup: a tab edited, a record and a file added, a file removed.
    site.write("settings/general.json", r#"{"title": "Garden (edited)"}"#);
    site.write(
        "modules/notes/notes.jsonl",
        "{\"id\": 1, \"user_id\": \"u-1\", \"text\": \"one\"}\n{\"id\": 2, \"user_id\": \"u-1\", \"text\": \"two\"}\n",
    );
    site.write("files/new.txt", "later\n");
    std::fs::remove_file(site.root().join("files/plan.txt")).unwrap();

    let output = against(&archive, &site.root(), &[], 0);
    let replace_tab = ("replace".to_owned(), "settings/general.json".to_owned());
    let add_plan = ("add".to_owned(), "files/plan.txt".to_owned());
    assert_eq!(
        changes(&output, "merge"),
        [add_plan.clone(), replace_tab.clone()]
    );
    assert_eq!(
        changes(&output, "replace"),
        [
            ("delete".to_owned(), "files/new.txt".to_owned()),
            add_plan,
            ("replace".to_owned(), "modules/notes/notes.jsonl".to_owned()),
            replace_tab,
        ]
    );
    let notes = &output["against"]["replace"]["plan"]["changes"][2]["records"];
    assert_eq!(
        (notes["deleted"].as_u64(), notes["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn another_site_is_refused_unless_allowed() {
    let source = TestSite::new("orchard");
    source.write(
        "settings/general.json",
        r#"{"home": "https://orchard.example/start"}"#,
    );
    let archive = archive_of(&source);
    let target = TestSite::new("meadow");
    let output = against(&archive, &target.root(), &[], 1);
    let refusal = output["against"]["merge"]["refused"].as_str().unwrap();
    assert!(
        refusal.contains("orchard") && refusal.contains("meadow"),
        "{refusal}"
    );

    let output = against(&archive, &target.root(), &["--allow-other-site"], 0);
    let plan = &output["against"]["merge"]["plan"];
    assert_eq!(plan["site_json"], "kept");
    // The source URL is rewritten to the target's, and counted.
    assert_eq!(plan["url_rewrites"]["total"], 1);
    assert_eq!(
        changes(&output, "merge"),
        [("add".to_owned(), "settings/general.json".to_owned())]
    );
}

#[test]
fn an_empty_directory_takes_everything() {
    let site = TestSite::demo();
    let archive = archive_of(&site);
    let sandbox = tempfile::tempdir().unwrap();
    let output = against(&archive, sandbox.path(), &[], 0);
    let plan = &output["against"]["merge"]["plan"];
    assert_eq!(plan["site_json"], "taken_from_archive");
    let merge = changes(&output, "merge");
    assert_eq!(
        merge.len() as u64,
        output["manifest"]["counts"]["entries"].as_u64().unwrap()
    );
    assert!(merge.iter().all(|(action, _)| action == "add"), "{merge:?}");
}

#[test]
fn planning_flags_need_a_site() {
    let site = TestSite::new("lone");
    let archive = archive_of(&site);
    let result = run(["preview", archive.to_str().unwrap(), "--no-files"]).expect(2);
    assert!(result.stderr.contains("--against"), "{}", result.stderr);
}
