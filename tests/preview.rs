//! `sitepack preview`: what an archive holds, before restoring it — checked against counts
//! computed here from the site tree and from the secret table of `fixtures/README.md`, not
//! from sitepack's code. Also: the `--json` reports of `validate` match
//! `schema/report.schema.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::extract::corrupted_archive;
use crate::util::{
    TIMESTAMP, TestSite, create, demo_site, manifest, read_archive, repo_root, run, site_files,
};
use crate::validate_interop::{findings, nordic_site, sha256_file};

fn preview_json(archive: &Path, code: i32) -> Value {
    run(["preview".as_ref(), archive.as_os_str(), "--json".as_ref()])
        .expect(code)
        .json()
}

fn preview_human(archive: &Path, code: i32) -> String {
    let result = run(["preview".as_ref(), archive.as_os_str()]).expect(code);
    result.stdout
}

fn records(bytes: &[u8]) -> u64 {
    let lines = std::str::from_utf8(bytes).unwrap().split('\n');
    let count = lines
        .filter(|l| !l.trim_matches([' ', '\t', '\r']).is_empty())
        .count();
    u64::try_from(count).unwrap()
}

/// The preview's `counts`, computed from the site's files (site-relative path → bytes) as
/// they were archived and the archive's payload bytes. Every name in these sites is valid,
/// so the classification of FORMAT.md §6.1 reduces to the shape of the path.
fn expected_counts(files: &BTreeMap<String, Vec<u8>>, archive: &Path) -> Value {
    let payload: Vec<Vec<u8>> = read_archive(archive)
        .into_iter()
        .filter(|(name, _)| name.starts_with("site/"))
        .map(|(_, bytes)| bytes)
        .collect();
    let (mut tabs, mut users, mut other, mut file_count, mut file_bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut modules: BTreeMap<&str, (Vec<Value>, u64, u64)> = BTreeMap::new();
    for (path, bytes) in files {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["site.json"] => {}
            ["settings", f] if f.ends_with(".json") => tabs += 1,
            ["users", f] if f.ends_with(".json") => users += 1,
            ["modules", module, rest @ ..] if !rest.is_empty() => {
                let m = modules.entry(module).or_default();
                match rest {
                    [f] if f.ends_with(".jsonl") => m.0.push(json!({
                        "name": f.trim_end_matches(".jsonl"),
                        "records": records(bytes),
                    })),
                    [f] if f.ends_with(".json") => m.1 += 1,
                    _ => m.2 += 1,
                }
            }
            ["files", ..] => {
                file_count += 1;
                file_bytes += u64::try_from(bytes.len()).unwrap();
            }
            _ => other += 1,
        }
    }
    let modules: Vec<Value> = modules
        .into_iter()
        .map(|(name, (collections, documents, module_files))| {
            json!({"name": name, "collections": collections, "documents": documents, "files": module_files})
        })
        .collect();
    json!({
        "entries": payload.len(),
        "bytes": payload.iter().map(Vec::len).sum::<usize>(),
        "tabs": tabs,
        "users": users,
        "modules": modules,
        "files": file_count,
        "file_bytes": file_bytes,
        "other": other,
    })
}

/// The secret table of `fixtures/README.md`: (archive path, pointer, record id).
fn readme_secrets() -> BTreeSet<(String, String, Option<String>)> {
    let readme = std::fs::read_to_string(repo_root().join("fixtures/README.md")).unwrap();
    let section = readme
        .split("## Secrets in the demo site")
        .nth(1)
        .unwrap()
        .split("\n### ")
        .next()
        .unwrap();
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            // | # | file | record | pointer | value | caught by |
            cells.get(1)?.trim().parse::<u32>().ok()?;
            let record = unquote(cells[3]);
            Some((
                format!("site/{}", unquote(cells[2])),
                unquote(cells[4]),
                (record != "—").then_some(record),
            ))
        })
        .collect()
}

fn redaction_set(redactions: &Value) -> BTreeSet<(String, String, Option<String>)> {
    redactions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["pointer"].as_str().unwrap().to_owned(),
                r.get("record").map(|id| id.as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

#[test]
fn demo_archive_preview_json() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("demo.zip");
    let label = "Vor der Migration · März";
    create(&site.root(), &archive, &["--label", label]);
    let preview = preview_json(&archive, 0);

    assert_eq!(preview["valid"], true, "{preview:#}");
    assert_eq!(preview["archive"], archive.to_str().unwrap());
    assert_eq!(preview["digest"], sha256_file(&archive));
    assert_eq!(findings(&preview, "error"), BTreeSet::new(), "{preview:#}");

    let shown = &preview["manifest"];
    let site_json: Value =
        serde_json::from_slice(&std::fs::read(demo_site().join("site.json")).unwrap()).unwrap();
    assert_eq!(
        shown["site"],
        json!({"id": site_json["id"], "name": site_json["name"], "url": site_json["url"]})
    );
    assert_eq!(shown["site"]["id"], "acme-shop");
    assert_eq!(shown["created_at"], TIMESTAMP);
    assert_eq!(shown["generator"], manifest(&archive)["generator"]);
    assert_eq!(shown["generator"]["name"], "sitepack");
    assert_eq!(shown["label"], label);
    assert_eq!(shown["scope"], json!({"kind": "full"}));
    assert_eq!(shown["options"], json!({"files": true}));

    let files = site_files(&demo_site());
    let expected = expected_counts(&files, &archive);
    assert_eq!(shown["counts"], expected, "{preview:#}");
    // What fixtures/README.md says about the demo site, so the computation above is sane.
    assert_eq!(expected["entries"], 43);
    assert_eq!(expected["tabs"], 5);
    assert_eq!(expected["users"], 12);
    assert_eq!(expected["files"], 15);
    assert_eq!(expected["other"], 3);
    let records: Vec<u64> = expected["modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["collections"].as_array().unwrap().clone())
        .map(|c| c["records"].as_u64().unwrap())
        .collect();
    assert_eq!(records, [24, 16, 21, 30]);

    let secrets = readme_secrets();
    assert_eq!(secrets.len(), 21, "the README's secret table has 21 rows");
    assert_eq!(redaction_set(&shown["redactions"]), secrets);
    assert_eq!(shown["redactions"], manifest(&archive)["redactions"]);
}

#[test]
fn demo_archive_preview_for_people() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("demo.zip");
    create(&site.root(), &archive, &[]);
    let text = preview_human(&archive, 0);
    for needle in ["acme-shop", "Acme Outdoor Supply", "full", "re-enter"] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
}

#[test]
fn user_archive_preview() {
    let site = nordic_site();
    let archive = site.out_dir().join("user.zip");
    create(&site.root(), &archive, &["--scope", "user:u-1"]);
    let preview = preview_json(&archive, 0);
    assert_eq!(preview["valid"], true, "{preview:#}");
    let shown = &preview["manifest"];
    assert_eq!(
        shown["site"],
        json!({"id": "fjord-books", "name": "Fjordbøker AS", "url": "https://fjord.example"})
    );
    assert_eq!(shown["scope"], json!({"kind": "user", "name": "u-1"}));
    assert_eq!(shown["options"], json!({"files": true}));
    assert!(shown.get("label").is_none(), "no label: omitted");

    // The files as archived: the user's own, and the records u-1 owns.
    let mut files: BTreeMap<String, Vec<u8>> = site_files(&site.root())
        .into_iter()
        .filter(|(path, _)| {
            path == "site.json" || path == "users/u-1.json" || path.starts_with("files/users/u-1/")
        })
        .collect();
    files.insert(
        "modules/shop/orders.jsonl".into(),
        read_archive(&archive)["site/modules/shop/orders.jsonl"].clone(),
    );
    let expected = expected_counts(&files, &archive);
    assert_eq!(
        expected["modules"],
        json!([{"name": "shop", "collections": [{"name": "orders", "records": 2}], "documents": 0, "files": 0}])
    );
    assert_eq!(expected["files"], 3);
    assert_eq!(shown["counts"], expected, "{preview:#}");
    assert_eq!(
        shown["redactions"],
        json!([{"path": "site/modules/shop/orders.jsonl", "pointer": "/payment/card_token", "record": "x-3"}])
    );

    let text = preview_human(&archive, 0);
    for needle in ["fjord-books", "user", "u-1", "re-enter"] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
}

#[test]
fn module_data_only_archive_preview() {
    let site = nordic_site();
    let archive = site.out_dir().join("module.zip");
    create(
        &site.root(),
        &archive,
        &["--scope", "module:shop", "--no-files"],
    );
    let shown = &preview_json(&archive, 0)["manifest"];
    assert_eq!(shown["scope"], json!({"kind": "module", "name": "shop"}));
    assert_eq!(shown["options"], json!({"files": false}));
    assert_eq!(shown["counts"]["files"], 0);
    assert_eq!(
        shown["counts"]["modules"],
        json!([{"name": "shop", "collections": [{"name": "orders", "records": 3}], "documents": 1, "files": 0}])
    );
}

#[test]
fn invalid_archive_preview_still_shows_the_site() {
    let site = TestSite::new("damaged");
    let archive = site.out_dir().join("damaged.zip");
    corrupted_archive(&site, &archive);

    let preview = preview_json(&archive, 1);
    assert_eq!(preview["valid"], false, "{preview:#}");
    let errors = findings(&preview, "error");
    assert!(
        errors.contains(&("CRC_MISMATCH".into(), "site/files/marker.png".into())),
        "{preview:#}"
    );
    assert_eq!(preview["manifest"]["site"]["id"], "damaged");
    assert_eq!(preview["manifest"]["scope"], json!({"kind": "full"}));

    let result = run(["preview".as_ref(), archive.as_os_str()]).expect(1);
    // The site's line (the archive's own name, damaged.zip, is not enough).
    assert!(
        result
            .stdout
            .lines()
            .any(|l| l == "site      damaged (Test site damaged, https://damaged.example)"),
        "{}",
        result.stdout
    );
    let both = format!("{}{}", result.stdout, result.stderr);
    assert!(both.contains("CRC_MISMATCH"), "{both}");
}

#[test]
fn preview_of_what_is_not_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.zip");
    std::fs::write(&junk, "this is not a ZIP file at all, just some text\n").unwrap();
    let preview = preview_json(&junk, 1);
    assert_eq!(preview["valid"], false);
    assert_eq!(preview["manifest"], Value::Null, "{preview:#}");
    assert!(
        findings(&preview, "error").contains(&("NOT_A_ZIP".into(), String::new())),
        "{preview:#}"
    );

    let missing = dir.path().join("missing.zip");
    let result = run(["preview".as_ref(), missing.as_os_str(), "--json".as_ref()]).expect(2);
    assert!(result.stderr.contains("missing.zip"), "{}", result.stderr);
}
/// `validate --json` documents, valid and invalid, match `schema/report.schema.json`
/// (JSON Schema 2020-12, `format` assertions on).
#[test]
fn validate_json_matches_the_report_schema() {
    let path = repo_root().join("schema/report.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} does not compile: {e}", path.display()));

    let good_site = TestSite::demo();
    let good = good_site.out_dir().join("demo.zip");
    create(&good_site.root(), &good, &[]);
    // An access key id (not a secret by itself) travels, with a CREDENTIAL_SHAPE warning.
    good_site.write(
        "files/docs/ops.txt",
        "bucket reader: AKIAZ7Q2W4E6R8T0Y3U5\n",
    );
    let warned = good_site.out_dir().join("warned.zip");
    create(&good_site.root(), &warned, &[]);
    let bad_site = TestSite::new("damaged");
    let bad = bad_site.out_dir().join("damaged.zip");
    corrupted_archive(&bad_site, &bad);
    let junk = bad_site.out_dir().join("junk.zip");
    std::fs::write(&junk, b"PK\x03\x04 and then nothing").unwrap();

    for (archive, extra, code) in [
        (&good, None, 0),
        (&good, Some("--strict"), 0), // the demo's example key id is allowed
        (&warned, None, 0),
        (&warned, Some("--strict"), 1), // a CREDENTIAL_SHAPE warning
        (&bad, None, 1),
        (&junk, None, 1),
    ] {
        let mut args = vec!["validate".as_ref(), archive.as_os_str(), "--json".as_ref()];
        args.extend(extra.map(std::ffi::OsStr::new));
        let report = run(args).expect(code).json();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} {extra:?}: {errors:#?}\n{report:#}",
            archive.display()
        );
        assert_eq!(report["valid"], code == 0, "{report:#}");
    }
}
