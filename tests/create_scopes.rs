//! Every scope, with and without files, holds exactly what docs/FORMAT.md §7 says — checked
//! against an independent reading of the site, on the demo site and on a generated one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::create_reproducible::varied_site;
use crate::util::{TestSite, create, read_archive, site_files};

fn records(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn is_module_data(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 3
        && parts[0] == "modules"
        && (path.ends_with(".json") || path.ends_with(".jsonl"))
}

fn is_collection(path: &str) -> bool {
    is_module_data(path) && path.ends_with(".jsonl")
}

/// What a scope must hold, computed without the writer's code.
fn expected(files: &BTreeMap<String, Vec<u8>>, scope: &str, with_files: bool) -> BTreeSet<String> {
    let (kind, name) = scope.split_once(':').unwrap_or((scope, ""));
    files
        .iter()
        .filter(|(path, bytes)| {
            let is_file = path.starts_with("files/")
                || (path.starts_with("modules/") && !is_module_data(path));
            if is_file && !with_files {
                return false;
            }
            if path.as_str() == "site.json" {
                return true;
            }
            match kind {
                "full" => true,
                "tab" => **path == format!("settings/{name}.json"),
                "module" => path.starts_with(&format!("modules/{name}/")),
                "user" => {
                    **path == format!("users/{name}.json")
                        || path.starts_with(&format!("files/users/{name}/"))
                        || (is_collection(path)
                            && records(bytes).iter().any(|r| r["user_id"] == name))
                }
                _ => unreachable!(),
            }
        })
        .map(|(path, _)| format!("site/{path}"))
        .collect()
}

fn scopes_of(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut scopes = vec!["full".to_owned()];
    let mut modules = BTreeSet::new();
    for path in files.keys() {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["settings", tab] => scopes.push(format!("tab:{}", tab.trim_end_matches(".json"))),
            ["users", user] => scopes.push(format!("user:{}", user.trim_end_matches(".json"))),
            ["modules", module, ..] => {
                modules.insert(format!("module:{module}"));
            }
            _ => {}
        }
    }
    scopes.extend(modules);
    scopes
}

fn check_every_scope(site: &TestSite) {
    let files = site_files(&site.root());
    let scopes = scopes_of(&files);
    assert!(scopes.len() >= 4, "{scopes:?}");
    let out = site.out_dir();
    for scope in &scopes {
        for with_files in [true, false] {
            let archive = out.join(format!("{}-{with_files}.zip", scope.replace(':', "_")));
            let mut args = vec!["--scope", scope.as_str()];
            if !with_files {
                args.push("--no-files");
            }
            create(&site.root(), &archive, &args);
            let entries = read_archive(&archive);
            let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
            let payload: BTreeSet<String> = entries
                .keys()
                .filter(|n| n.starts_with("site/"))
                .cloned()
                .collect();
            let want = expected(&files, scope, with_files);
            assert_eq!(payload, want, "scope {scope}, files {with_files}");
            let listed: BTreeSet<String> = manifest["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(listed, payload, "the manifest lists exactly the payload");
            assert_eq!(manifest["options"]["files"], with_files);
            assert_eq!(manifest["scope"]["kind"], scope.split(':').next().unwrap());
            check_contents(&files, &entries, &manifest, scope);
        }
    }
}

/// Unredacted entries are the site's bytes; user collections hold exactly the user's records.
fn check_contents(
    files: &BTreeMap<String, Vec<u8>>,
    entries: &BTreeMap<String, Vec<u8>>,
    manifest: &Value,
    scope: &str,
) {
    let redacted: BTreeSet<&str> = manifest["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let user = scope.strip_prefix("user:");
    for entry in manifest["entries"].as_array().unwrap() {
        let path = entry["path"].as_str().unwrap();
        let source = &files[&path["site/".len()..]];
        let archived = &entries[path];
        assert_eq!(entry["size"], archived.len());
        if let (Some(user), true) = (user, is_collection(&path["site/".len()..])) {
            let want: Vec<Value> = records(source)
                .into_iter()
                .filter(|r| r["user_id"] == user)
                .map(|r| r["id"].clone())
                .collect();
            let got: Vec<Value> = records(archived)
                .into_iter()
                .map(|r| r["id"].clone())
                .collect();
            assert_eq!(
                got, want,
                "{path}: exactly {user}'s records, in source order"
            );
            assert!(records(archived).iter().all(|r| r["user_id"] == user));
            assert_eq!(entry["records"], want.len());
        } else if !redacted.contains(path) {
            assert_eq!(archived, source, "{path} is copied byte for byte");
        }
        if is_collection(&path["site/".len()..]) && user.is_none() {
            assert_eq!(entry["records"], records(source).len());
        }
    }
}

#[test]
fn every_scope_of_the_demo_site() {
    check_every_scope(&TestSite::demo());
}

#[test]
fn every_scope_of_a_generated_site() {
    check_every_scope(&varied_site());
}

#[test]
fn owner_field_comes_from_site_json() {
    let site = TestSite::bare();
    site.write(
        "site.json",
        r#"{"id": "owned", "name": "O", "url": "https://o.example", "owner_field": "owner"}"#,
    );
    site.write("users/ann.json", r#"{"id": "ann"}"#);
    site.write("modules/tasks/tasks.jsonl", "{\"id\":1,\"owner\":\"ann\"}\n{\"id\":2,\"user_id\":\"ann\"}\n{\"id\":3,\"owner\":\"bob\"}\n");
    let out = site.out_dir().join("ann.zip");
    create(&site.root(), &out, &["--scope", "user:ann"]);
    let entries = read_archive(&out);
    assert_eq!(
        std::str::from_utf8(&entries["site/modules/tasks/tasks.jsonl"]).unwrap(),
        "{\"id\":1,\"owner\":\"ann\"}\n"
    );
}

#[test]
fn manifest_stats_count_the_archive() {
    let site = varied_site();
    let out = site.out_dir().join("full.zip");
    create(&site.root(), &out, &[]);
    let manifest = crate::util::manifest(&out);
    let stats = &manifest["stats"];
    assert_eq!(stats["tabs"], 1);
    assert_eq!(stats["users"], 2);
    assert_eq!(stats["modules"], 1);
    assert_eq!(stats["collections"], 1);
    assert_eq!(stats["records"], 500);
    assert_eq!(stats["documents"], 1);
    assert_eq!(stats["module_files"], 1);
    assert_eq!(stats["files"], 5);
    assert_eq!(stats["other"], 1);
    assert_eq!(
        stats["entries"],
        manifest["entries"].as_array().unwrap().len()
    );
    assert_eq!(
        stats["redactions"],
        manifest["redactions"].as_array().unwrap().len()
    );
}
