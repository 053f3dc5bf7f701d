//! `sitepack restore ARCHIVE SITE`, `status`, `keep` and `revert`: round trips of every
//! scope in both modes, what stays untouched, byte-identical reverts, the lock, the
//! pending review, cross-site restores with URL rewriting, and dry runs that match what
//! the restore then does. (Kills at every step are in `restore_crash.rs`.)

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::extract::corrupted_archive;
use crate::util::{
    LockHolder, Node, Run, TestSite, assert_same_tree, create, on_terminal, read_archive, run,
    site_files, tree,
};

/// `sitepack restore ARCHIVE SITE --yes --json ARGS…`.
fn restore(archive: &Path, site: &Path, args: &[&str]) -> Run {
    let mut command = vec![
        "restore".as_ref(),
        archive.as_os_str(),
        site.as_os_str(),
        "--yes".as_ref(),
        "--json".as_ref(),
    ];
    command.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(command)
}

fn status(site: &Path) -> Value {
    run(["status".as_ref(), site.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json()
}

fn revert(site: &Path) -> Run {
    run(["revert".as_ref(), site.as_os_str()])
}

fn keep(site: &Path) -> Run {
    run(["keep".as_ref(), site.as_os_str()])
}

fn archive_of(site: &TestSite, scope: &str) -> PathBuf {
    let archive = site
        .out_dir()
        .join(format!("{}.zip", scope.replace(':', "-")));
    create(&site.root(), &archive, &["--scope", scope]);
    archive
}

/// The archive's payload: `site/…` entries, by site-relative path.
fn payload(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    read_archive(archive)
        .into_iter()
        .filter_map(|(name, data)| Some((name.strip_prefix("site/")?.to_owned(), data)))
        .collect()
}

fn json_at(root: &Path, path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root.join(path)).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The records of a collection, by id.
fn records(root: &Path, path: &str) -> BTreeMap<String, Value> {
    std::fs::read_to_string(root.join(path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let record: Value = serde_json::from_str(l).unwrap();
            (record["id"].as_str().unwrap().to_owned(), record)
        })
        .collect()
}

fn audit_types(site: &Path) -> Vec<String> {
    let output = run(["audit".as_ref(), site.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    output["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn no_restore_state_left(site: &Path) {
    for dir in ["restore", "snapshots"] {
        assert!(
            !site.join(".sitepack").join(dir).exists(),
            ".sitepack/{dir} was left behind"
        );
    }
}

const SCOPES: [&str; 4] = ["full", "tab:general", "module:notes", "user:u-ada"];
const MODES: [&str; 2] = ["merge", "replace"];

#[test]
fn every_scope_and_mode_restores_into_an_empty_directory_exactly_as_archived() {
    let source = TestSite::demo();
    for scope in SCOPES {
        let archive = archive_of(&source, scope);
        let expected = payload(&archive);
        for mode in MODES {
            let target = source.out_dir().join(format!("new-{scope}-{mode}"));
            let output = restore(&archive, &target, &["--mode", mode])
                .expect(0)
                .json();
            assert_eq!(output["plan"]["site_json"], "taken_from_archive");
            // Every file is the archive's (secrets absent: the archive has none), and
            // nothing else is there.
            assert_eq!(site_files(&target), expected, "{scope} {mode}");
            assert_eq!(
                status(&target)["pending"]["scope"]["kind"],
                scope.split(':').next().unwrap()
            );
            revert(&target).expect(0);
            assert!(
                site_files(&target).is_empty(),
                "{scope} {mode}: revert left files"
            );
            no_restore_state_left(&target);
        }
    }
}

/// The edits made to the target before restoring into it, each in or out of a scope.
fn edit_site(site: &TestSite) {
    let root = site.root();
    let mut general = json_at(&root, "settings/general.json");
    general["store_name"] = "Edited store".into();
    site.write(
        "settings/general.json",
        serde_json::to_vec_pretty(&general).unwrap(),
    );
    // A replaced file keeps its mode; a revert puts it back too.
    std::fs::set_permissions(
        root.join("settings/general.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let notes = std::fs::read_to_string(root.join("modules/notes/notes.jsonl"))
        .unwrap()
        .replace("\"title\":\"Q2 goals\"", "\"title\":\"Edited goals\"");
    assert!(notes.contains("Edited goals"));
    site.write(
        "modules/notes/notes.jsonl",
        format!(
            "{notes}{}\n{}\n",
            r#"{"id":"n-999","user_id":"u-ada","title":"local only"}"#,
            r#"{"id":"n-998","user_id":"u-bruno","title":"local only"}"#
        ),
    );
    let mut ada = json_at(&root, "users/u-ada.json");
    ada["display_name"] = "Edited Ada".into();
    site.write("users/u-ada.json", serde_json::to_vec_pretty(&ada).unwrap());
    site.write("files/users/u-ada/extra.txt", "added by the user");
    site.write("modules/notes/extra.txt", "added in the module");
    let mut config = json_at(&root, "modules/orders/config.json");
    config["edited"] = true.into();
    site.write(
        "modules/orders/config.json",
        serde_json::to_vec_pretty(&config).unwrap(),
    );
}

/// An archive of the demo site in `scope` (the site it was made of is returned to keep it
/// alive), and another copy of the demo site, edited by [`edit_site`].
fn edited_site_and_archive(scope: &str) -> (TestSite, PathBuf, TestSite) {
    let original = TestSite::demo();
    let archive = archive_of(&original, scope);
    let site = TestSite::demo();
    edit_site(&site);
    (original, archive, site)
}

/// The edited paths, and which scopes each belongs to.
fn in_scope(scope: &str, path: &str) -> bool {
    match scope {
        "full" => true,
        "tab:general" => path == "settings/general.json",
        "module:notes" => path.starts_with("modules/notes/"),
        "user:u-ada" => path == "users/u-ada.json" || path.starts_with("files/users/u-ada/"),
        _ => unreachable!(),
    }
}

#[test]
fn every_scope_and_mode_round_trips_into_the_same_site_and_reverts_byte_for_byte() {
    let original = TestSite::demo();
    for scope in SCOPES {
        let archive = archive_of(&original, scope);
        for mode in MODES {
            let site = TestSite::demo();
            let root = site.root();
            edit_site(&site);
            let before = tree(&root);
            restore(&archive, &root, &["--mode", mode]).expect(0);
            let after = tree(&root);
            let label = format!("{scope} {mode}");
            let o = original.root();

            // Documents in scope are the archive's again (secrets kept from the site).
            for doc in [
                "settings/general.json",
                "users/u-ada.json",
                "modules/orders/config.json",
            ] {
                let expected = if in_scope(scope, doc) {
                    json_at(&o, doc)
                } else {
                    file_json(&before, doc)
                };
                assert_eq!(json_at(&root, doc), expected, "{label}: {doc}");
            }
            let general_mode = std::fs::metadata(root.join("settings/general.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(general_mode, 0o600, "{label}: the file's mode changed");

            // Records: upserted by id in merge, exactly the scope's in replace.
            let notes = records(&root, "modules/notes/notes.jsonl");
            let notes_in_scope = scope != "tab:general";
            let title = notes["n-001"]["title"].as_str().unwrap();
            assert_eq!(
                title,
                if notes_in_scope {
                    "Q2 goals"
                } else {
                    "Edited goals"
                },
                "{label}"
            );
            let ada_extra_kept = !notes_in_scope || mode == "merge";
            assert_eq!(
                notes.contains_key("n-999"),
                ada_extra_kept,
                "{label}: n-999"
            );
            // u-bruno's record is outside a user:u-ada restore.
            let bruno_extra_kept = !notes_in_scope || mode == "merge" || scope == "user:u-ada";
            assert_eq!(
                notes.contains_key("n-998"),
                bruno_extra_kept,
                "{label}: n-998"
            );

            // Files only the site has: kept by merge, deleted by replace in scope.
            for extra in ["files/users/u-ada/extra.txt", "modules/notes/extra.txt"] {
                let kept = mode == "merge" || !in_scope(scope, extra);
                assert_eq!(root.join(extra).exists(), kept, "{label}: {extra}");
            }

            // Everything else is byte-identical to before the restore.
            let touched = [
                "settings/general.json",
                "users/u-ada.json",
                "modules/orders/config.json",
                "modules/notes/notes.jsonl",
                "files/users/u-ada/extra.txt",
                "modules/notes/extra.txt",
            ];
            for (path, node) in &before {
                if !touched.contains(&path.as_str()) {
                    assert_eq!(after.get(path), Some(node), "{label}: {path} changed");
                }
            }
            assert!(
                after.keys().all(|p| before.contains_key(p)),
                "{label}: the restore added paths"
            );

            // Revert: byte for byte (modes and directories included) the tree before.
            revert(&root).expect(0);
            assert_same_tree(&tree(&root), &before);
            no_restore_state_left(&root);
            assert_eq!(status(&root)["pending"], Value::Null);
        }
    }
}

/// A file of a tree, parsed as JSON.
fn file_json(tree: &BTreeMap<String, Node>, path: &str) -> Value {
    let Node::File { bytes, .. } = &tree[path] else {
        panic!("{path} is not a file");
    };
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn a_dry_run_changes_nothing_and_plans_exactly_what_the_restore_then_does() {
    let (_original, archive, site) = edited_site_and_archive("full");
    let root = site.root();
    for mode in MODES {
        let before = tree(&root);
        let internal_before = crate::util::listing(&root.join(".sitepack"));
        let dry = restore(&archive, &root, &["--mode", mode, "--dry-run"])
            .expect(0)
            .json();
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["restore"], Value::Null);
        assert_same_tree(&tree(&root), &before);
        assert_eq!(
            crate::util::listing(&root.join(".sitepack")),
            internal_before,
            "a dry run changed .sitepack/"
        );

        let real = restore(&archive, &root, &["--mode", mode]).expect(0).json();
        assert_eq!(real["plan"], dry["plan"], "{mode}: the plans differ");
        let after = tree(&root);
        let changes = dry["plan"]["changes"].as_array().unwrap();
        assert!(!changes.is_empty());
        let mut planned_paths = Vec::new();
        for change in changes {
            let path = change["path"].as_str().unwrap();
            planned_paths.push(path);
            match change["action"].as_str().unwrap() {
                "add" => assert!(
                    !before.contains_key(path) && after.contains_key(path),
                    "{path}"
                ),
                "delete" => assert!(
                    before.contains_key(path) && !after.contains_key(path),
                    "{path}"
                ),
                "replace" => assert_ne!(before.get(path), after.get(path), "{path}"),
                other => panic!("action {other}"),
            }
        }
        // What the plan does not list is untouched.
        for (path, node) in &before {
            if !planned_paths.contains(&path.as_str()) && matches!(node, Node::File { .. }) {
                assert_eq!(
                    after.get(path),
                    Some(node),
                    "{mode}: {path} is not in the plan"
                );
            }
        }
        let pending = &real["restore"]["pending"];
        let count = |action: &str| changes.iter().filter(|c| c["action"] == action).count();
        assert_eq!(pending["added"], count("add"));
        assert_eq!(pending["replaced"], count("replace"));
        assert_eq!(pending["deleted"], count("delete"));
        revert(&root).expect(0);
        assert_same_tree(&tree(&root), &before);
    }
}

#[test]
fn a_restore_is_pending_until_kept_and_a_second_one_is_refused_meanwhile() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let output = restore(&archive, &root, &[]).expect(0).json();
    let id = output["restore"]["pending"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let snapshot = PathBuf::from(output["restore"]["pending"]["snapshot"].as_str().unwrap());
    assert!(snapshot.starts_with(root.join(".sitepack/snapshots")));
    assert!(snapshot.is_file());
    assert_eq!(status(&root)["pending"]["id"], id.as_str());

    let restored = tree(&root);
    let second = restore(&archive, &root, &["--mode", "replace"]).expect(1);
    assert!(
        second.stderr.contains("pending review"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("sitepack keep"), "{}", second.stderr);
    assert_same_tree(&tree(&root), &restored);

    keep(&root).expect(0);
    assert_same_tree(&tree(&root), &restored);
    no_restore_state_left(&root);
    assert_eq!(status(&root)["pending"], Value::Null);
    let nothing = keep(&root).expect(1);
    assert!(
        nothing.stderr.contains("no restore is pending"),
        "{}",
        nothing.stderr
    );
    revert(&root).expect(1);

    restore(&archive, &root, &["--mode", "replace"]).expect(0);
    assert_eq!(
        audit_types(&root)
            .into_iter()
            .filter(|t| t != "create")
            .collect::<Vec<_>>(),
        // The second, refused restore is recorded too, and so are the refused keep and
        // revert (nothing pending).
        ["restore", "restore", "keep", "keep", "revert", "restore"]
    );
}

#[test]
fn the_snapshot_holds_the_replaced_files_byte_for_byte() {
    let (_original, archive, site) = edited_site_and_archive("full");
    let root = site.root();
    let before = site_files(&root);
    let output = restore(&archive, &root, &["--mode", "replace"])
        .expect(0)
        .json();
    let snapshot = PathBuf::from(output["restore"]["pending"]["snapshot"].as_str().unwrap());
    let saved = read_archive(&snapshot);
    for change in output["plan"]["changes"].as_array().unwrap() {
        let path = change["path"].as_str().unwrap();
        let entry = saved.get(&format!("site/{path}"));
        match change["action"].as_str().unwrap() {
            "add" => assert_eq!(entry, None, "{path}"),
            _ => assert_eq!(entry, before.get(path), "{path}"),
        }
    }
    // Readable by unzip too, and private to the owner (it holds the site's secrets).
    let listed = crate::util::run_tool("unzip", &["-t", "-q", snapshot.to_str().unwrap()], &root);
    assert_eq!(listed.code, 0, "{}", listed.stdout);
    let mode = std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_restore_while_another_command_holds_the_lock_is_refused() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let before = tree(&root);
    {
        let _held = LockHolder::new(&root);
        let refused = restore(&archive, &root, &[]).expect(1);
        assert!(
            refused.stderr.contains("another sitepack command"),
            "{}",
            refused.stderr
        );
        assert_same_tree(&tree(&root), &before);
        keep(&root).expect(1);
    }
    restore(&archive, &root, &[]).expect(0);
    // While a restore is pending, its snapshot exists: a command that reads the site
    // takes the lock to check it, and is refused while another command holds it.
    let _held = LockHolder::new(&root);
    let busy = run(["status".as_ref(), root.as_os_str()]);
    assert_eq!(busy.code, 1, "{}", busy.stderr);
    assert!(
        busy.stderr.contains("another sitepack command"),
        "{}",
        busy.stderr
    );
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_changed() {
    let original = TestSite::demo();
    let archive = archive_of(&original, "full");
    let site = TestSite::demo();
    edit_site(&site);
    let before = tree(&site.root());
    // A refusal (exit 1, as every refused restore), recorded in the audit log.
    let refused = run([
        "restore".as_ref(),
        archive.as_os_str(),
        site.root().as_os_str(),
    ])
    .expect(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_same_tree(&tree(&site.root()), &before);
    assert_eq!(
        crate::util::listing(&site.root().join(".sitepack")),
        ["audit.jsonl"],
        "nothing but the event is written"
    );
    let event = last_event(&site.root());
    assert_eq!(event["type"], "restore", "{event}");
    assert_eq!(event["outcome"], "refused", "{event}");
    assert_eq!(event["details"]["archive"], archive.display().to_string());
    assert!(
        event["details"]["error"]
            .as_str()
            .unwrap()
            .contains("--yes"),
        "{event}"
    );
}

/// The newest event of the site's audit log.
fn last_event(root: &Path) -> Value {
    let audit = run(["audit".as_ref(), root.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    audit["events"].as_array().unwrap().last().unwrap().clone()
}

#[test]
fn a_restore_declined_at_the_prompt_is_a_refusal_and_is_audited() {
    let original = TestSite::demo();
    let archive = archive_of(&original, "full");
    let site = TestSite::demo();
    edit_site(&site);
    let before = tree(&site.root());
    // A terminal (script(1) gives one) that answers "n".
    let command = format!(
        "'{}' restore '{}' '{}' --no-progress",
        env!("CARGO_BIN_EXE_sitepack"),
        archive.display(),
        site.root().display()
    );
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("script(1) from util-linux");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"n\n").unwrap();
    let declined = Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(declined.code, 1, "{}{}", declined.stdout, declined.stderr);
    assert!(declined.stdout.contains("cancelled"), "{}", declined.stdout);
    assert_same_tree(&tree(&site.root()), &before);
    let event = last_event(&site.root());
    assert_eq!(event["type"], "restore", "{event}");
    assert_eq!(event["outcome"], "refused", "{event}");
    assert!(event["details"]["archive_sha256"].is_string(), "{event}");
    assert!(
        event["details"]["error"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{event}"
    );
}

#[test]
fn an_invalid_archive_changes_nothing() {
    let source = TestSite::demo();
    let archive = source.out_dir().join("corrupt.zip");
    corrupted_archive(&source, &archive);
    let site = TestSite::demo();
    let before = tree(&site.root());
    let refused = restore(&archive, &site.root(), &[]).expect(1);
    assert!(
        refused.stderr.contains("not a valid sitepack archive"),
        "{}",
        refused.stderr
    );
    assert_same_tree(&tree(&site.root()), &before);
    assert!(!site.root().join(".sitepack").exists());
    // Nor is a directory created for a new site.
    let new = source.out_dir().join("new-site");
    restore(&archive, &new, &[]).expect(1);
    assert!(!new.exists());
}

/// A site of its own, `id` at `url`, whose content carries `url` in every form.
fn site_with_urls(id: &str, url: &str) -> TestSite {
    let site = TestSite::new(id);
    site.write(
        "site.json",
        format!(r#"{{"id": "{id}", "name": "Site {id}", "url": "{url}"}}"#),
    );
    let host = url.trim_start_matches("https://");
    let escaped = url.replace('/', "\\/");
    let encoded = url.replace(':', "%3A").replace('/', "%2F");
    site.write(
        "settings/general.json",
        serde_json::to_vec_pretty(&serde_json::json!({
            "home": format!("{url}/home"),
            "embedded_json": format!(r#"{{"link":"{escaped}\/cart"}}"#),
            "cdn": format!("//{host}/img/logo.png"),
            "tracking": format!("https://t.example/?u={encoded}%2Fthanks"),
            "similar_host": format!("{url}.evil.example/x"),
        }))
        .unwrap(),
    );
    site.write(
        "modules/pages/page.html",
        format!(r#"<a href="{url}/a">a</a><img src="//{host}/b.png"><script>var u="{escaped}\/c";</script>"#),
    );
    site.write("modules/pages/logo.png", format!("\u{89}PNG {url}/binary"));
    site
}

#[test]
fn a_restore_from_another_site_needs_the_flag_and_rewrites_its_urls_in_every_form() {
    let source = site_with_urls("old-shop", "https://old.example");
    let archive = archive_of(&source, "full");
    let target = TestSite::new("new-shop");
    target.write(
        "site.json",
        r#"{"id": "new-shop", "name": "New", "url": "https://new.example"}"#,
    );
    let root = target.root();
    let before = tree(&root);
    let refused = restore(&archive, &root, &[]).expect(1);
    assert!(
        refused.stderr.contains("--allow-other-site"),
        "{}",
        refused.stderr
    );
    assert_same_tree(&tree(&root), &before);

    let output = restore(&archive, &root, &["--allow-other-site"])
        .expect(0)
        .json();
    assert_eq!(output["plan"]["site_json"], "kept");
    assert_eq!(
        std::fs::read(root.join("site.json")).unwrap(),
        std::fs::read(target.root().join("site.json")).unwrap()
    );
    assert_eq!(json_at(&root, "site.json")["id"], "new-shop");
    let general = json_at(&root, "settings/general.json");
    assert_eq!(general["home"], "https://new.example/home");
    assert_eq!(
        general["embedded_json"],
        r#"{"link":"https:\/\/new.example\/cart"}"#
    );
    assert_eq!(general["cdn"], "//new.example/img/logo.png");
    assert_eq!(
        general["tracking"],
        "https://t.example/?u=https%3A%2F%2Fnew.example%2Fthanks"
    );
    // Another host that merely starts with the old one is left alone.
    assert_eq!(
        general["similar_host"],
        "https://old.example.evil.example/x"
    );
    let page = std::fs::read_to_string(root.join("modules/pages/page.html")).unwrap();
    assert_eq!(
        page,
        r#"<a href="https://new.example/a">a</a><img src="//new.example/b.png"><script>var u="https:\/\/new.example\/c";</script>"#
    );
    // Binary files are never touched.
    assert_eq!(
        std::fs::read(root.join("modules/pages/logo.png")).unwrap(),
        std::fs::read(source.root().join("modules/pages/logo.png")).unwrap()
    );
    assert!(output["plan"]["url_rewrites"]["total"].as_u64().unwrap() >= 7);

    // --no-rewrite keeps the archive's URLs.
    revert(&root).expect(0);
    restore(&archive, &root, &["--allow-other-site", "--no-rewrite"]).expect(0);
    let general = json_at(&root, "settings/general.json");
    assert_eq!(general["home"], "https://old.example/home");
}

/// `--rewrite-url FROM=TO` rewrites what it names, in every form, even when the site's
/// URL is the archive's (so nothing would be rewritten without it); other hosts and
/// binary files stay as they are.
#[test]
fn rewrite_url_rewrites_the_urls_it_names_in_every_form() {
    // The content carries a CDN's URL; the site itself is at https://old.example.
    let source = site_with_urls("old-shop", "https://cdn.old.example");
    let site_json = r#"{"id": "old-shop", "name": "Old", "url": "https://old.example"}"#;
    source.write("site.json", site_json);
    let archive = archive_of(&source, "full");
    let target = TestSite::new("old-shop");
    target.write("site.json", site_json);
    let root = target.root();

    let plain = restore(&archive, &root, &[]).expect(0).json();
    assert_eq!(plain["plan"]["url_rewrites"]["total"], 0, "{plain:#}");
    let general = json_at(&root, "settings/general.json");
    assert_eq!(general["home"], "https://cdn.old.example/home");
    revert(&root).expect(0);

    let rewrite = [
        "--rewrite-url",
        "https://cdn.old.example=https://cdn.new.example",
    ];
    let planned = run([
        &["preview", archive.to_str().unwrap(), "--json", "--against"][..],
        &[root.to_str().unwrap()],
        &rewrite,
    ]
    .concat())
    .expect(0)
    .json();
    let output = restore(&archive, &root, &rewrite).expect(0).json();
    let total = output["plan"]["url_rewrites"]["total"].as_u64().unwrap();
    assert!(total >= 7, "{output:#}");
    assert_eq!(
        planned["against"]["merge"]["plan"]["url_rewrites"]["total"], total,
        "the preview announces the same rewrites: {planned:#}"
    );
    let general = json_at(&root, "settings/general.json");
    assert_eq!(general["home"], "https://cdn.new.example/home");
    assert_eq!(
        general["embedded_json"],
        r#"{"link":"https:\/\/cdn.new.example\/cart"}"#
    );
    assert_eq!(general["cdn"], "//cdn.new.example/img/logo.png");
    assert_eq!(
        general["tracking"],
        "https://t.example/?u=https%3A%2F%2Fcdn.new.example%2Fthanks"
    );
    assert_eq!(
        general["similar_host"],
        "https://cdn.old.example.evil.example/x"
    );
    let page = std::fs::read_to_string(root.join("modules/pages/page.html")).unwrap();
    assert_eq!(
        page,
        r#"<a href="https://cdn.new.example/a">a</a><img src="//cdn.new.example/b.png"><script>var u="https:\/\/cdn.new.example\/c";</script>"#
    );
    assert_eq!(
        std::fs::read(root.join("modules/pages/logo.png")).unwrap(),
        std::fs::read(source.root().join("modules/pages/logo.png")).unwrap()
    );
    // The site keeps its own identity and URL.
    assert_eq!(json_at(&root, "site.json")["url"], "https://old.example");
}

#[test]
fn a_user_restored_as_a_new_user_takes_the_new_id_everywhere() {
    let original = TestSite::demo();
    let archive = archive_of(&original, "user:u-ada");
    let site = TestSite::demo();
    let root = site.root();
    let taken = restore(&archive, &root, &["--as", "u-bruno"]).expect(1);
    assert!(taken.stderr.contains("u-bruno"), "{}", taken.stderr);
    let not_user = restore(
        &archive_of(&original, "module:notes"),
        &root,
        &["--as", "u-new"],
    )
    .expect(1);
    assert!(not_user.stderr.contains("--as"), "{}", not_user.stderr);
    // A site directory's --as is a user id.
    let not_a_name = restore(&archive, &root, &["--as", "Not A Name"]).expect(2);
    assert!(
        not_a_name.stderr.contains("'--as <ID>'"),
        "{}",
        not_a_name.stderr
    );

    // The account was deleted; its backup comes back under a new id.
    std::fs::remove_file(root.join("users/u-ada.json")).unwrap();
    std::fs::remove_dir_all(root.join("files/users/u-ada")).unwrap();
    let notes = std::fs::read_to_string(root.join("modules/notes/notes.jsonl")).unwrap();
    let mut others = String::new();
    for line in notes
        .lines()
        .filter(|l| !l.contains(r#""user_id":"u-ada""#))
    {
        others.push_str(line);
        others.push('\n');
    }
    site.write("modules/notes/notes.jsonl", &others);
    restore(&archive, &root, &["--as", "u-new"]).expect(0);
    let card = json_at(&root, "users/u-new.json");
    assert_eq!(card["id"], "u-new");
    assert!(!root.join("users/u-ada.json").exists());
    let notes = records(&root, "modules/notes/notes.jsonl");
    let ada_notes: Vec<String> = records(&original.root(), "modules/notes/notes.jsonl")
        .into_iter()
        .filter(|(_, r)| r["user_id"] == "u-ada")
        .map(|(id, _)| id)
        .collect();
    assert!(!ada_notes.is_empty());
    for id in ada_notes {
        assert_eq!(notes[id.as_str()]["user_id"], "u-new", "{id}");
    }
    assert!(root.join("files/users/u-new/avatar.png").exists());
    assert!(!root.join("files/users/u-ada").exists());
}

#[test]
fn the_audit_log_records_each_restore_keep_and_revert_with_its_archive_and_counts() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let output = restore(&archive, &root, &["--mode", "replace"])
        .expect(0)
        .json();
    revert(&root).expect(0);
    let log = run(["audit".as_ref(), root.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    let events: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "create")
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let (restored, reverted) = (events[0], events[1]);
    assert_eq!(restored["type"], "restore");
    assert_eq!(restored["outcome"], "ok");
    let details = &restored["details"];
    assert_eq!(details["restore_id"], output["restore"]["pending"]["id"]);
    assert_eq!(
        details["archive_sha256"],
        output["restore"]["pending"]["archive_sha256"]
    );
    assert_eq!(details["scope"], "module:notes");
    assert_eq!(details["mode"], "replace");
    assert_eq!(details["deleted"], 1);
    assert!(details["records"]["deleted"].as_u64().unwrap() >= 2);
    assert_eq!(reverted["type"], "revert");
    assert_eq!(reverted["details"]["restore_id"], details["restore_id"]);
    // A refused restore is recorded too, with its reason.
    restore(&archive, &root, &["--as", "u-new"]).expect(1);
    let log = run(["audit".as_ref(), root.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    let last = log["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "restore");
    assert_eq!(last["outcome"], "refused");
    assert!(
        last["details"]["error"].as_str().unwrap().contains("--as"),
        "{last}"
    );
}

#[test]
fn a_restore_that_fails_part_way_is_undone_at_once_and_recorded() {
    let (_original, archive, site) = edited_site_and_archive("full");
    let root = site.root();
    let before = tree(&root);
    // The third change fails as a full disk would.
    let failed = crate::util::Run::from_command(
        crate::util::sitepack()
            .env("SITEPACK_FAILPOINT", "apply:3:error")
            .args([
                "restore".as_ref(),
                archive.as_os_str(),
                root.as_os_str(),
                "--yes".as_ref(),
                "--mode".as_ref(),
                "replace".as_ref(),
            ]),
    )
    .expect(2);
    assert!(
        failed.stderr.contains("injected failure"),
        "{}",
        failed.stderr
    );
    assert_same_tree(&tree(&root), &before);
    no_restore_state_left(&root);
    let status = status(&root);
    assert_eq!(status["recovered"], Value::Null);
    assert_eq!(status["pending"], Value::Null);
    let log = run(["audit".as_ref(), root.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    let last = log["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "restore");
    assert_eq!(last["outcome"], "failed");
    assert!(
        last["details"]["error"]
            .as_str()
            .unwrap()
            .contains("injected"),
        "{last}"
    );
    // Nothing is pending: the next restore goes ahead.
    restore(&archive, &root, &[]).expect(0);
}

#[test]
fn a_damaged_snapshot_stops_the_revert_keeps_the_journal_and_a_repaired_one_finishes_it() {
    let (_original, archive, site) = edited_site_and_archive("full");
    let root = site.root();
    let before = tree(&root);
    let output = restore(&archive, &root, &["--mode", "replace"])
        .expect(0)
        .json();
    let snapshot = PathBuf::from(output["restore"]["pending"]["snapshot"].as_str().unwrap());
    let good = std::fs::read(&snapshot).unwrap();
    let mut bad = good.clone();
    bad.truncate(good.len() - 30);
    std::fs::write(&snapshot, &bad).unwrap();

    let failed = revert(&root).expect(2);
    assert!(
        failed.stderr.contains(snapshot.to_str().unwrap()),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("tries again"), "{}", failed.stderr);
    // Every later command tries again, and says why it cannot finish.
    let again = run(["status".as_ref(), root.as_os_str()]).expect(2);
    assert!(
        again.stderr.contains("pre-restore snapshot"),
        "{}",
        again.stderr
    );

    std::fs::write(&snapshot, &good).unwrap();
    let recovered = status(&root);
    assert_eq!(recovered["recovered"]["interrupted"], "revert");
    assert_same_tree(&tree(&root), &before);
    no_restore_state_left(&root);
}

#[test]
fn preview_against_a_site_with_a_pending_restore_says_a_restore_would_be_refused() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let output = restore(&archive, &root, &[]).expect(0).json();
    let preview = run([
        "preview".as_ref(),
        archive.as_os_str(),
        "--json".as_ref(),
        "--against".as_ref(),
        root.as_os_str(),
    ])
    .expect(1)
    .json();
    assert_eq!(
        preview["against"]["pending_restore"],
        output["restore"]["pending"]["id"]
    );
}

#[test]
fn on_a_terminal_the_restore_asks_first_and_only_yes_goes_ahead() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let before = tree(&root);
    let args = [
        "restore".as_ref(),
        archive.as_os_str(),
        root.as_os_str(),
        "--mode".as_ref(),
        "replace".as_ref(),
        "--no-progress".as_ref(),
    ];
    for answer in ["n\n", "\n", "maybe\n"] {
        let declined = on_terminal(&args, answer);
        assert_eq!(declined.code, 1, "{answer:?}: {}", declined.stdout);
        assert!(declined.stdout.contains("[y/N]"), "{}", declined.stdout);
        assert!(declined.stdout.contains("cancelled"), "{}", declined.stdout);
        assert_same_tree(&tree(&root), &before);
    }
    let accepted = on_terminal(&args, "y\n");
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    // The plan is shown before the question.
    let plan_at = accepted.stdout.find("to replace").unwrap();
    assert!(plan_at < accepted.stdout.find("[y/N]").unwrap());
    assert!(
        accepted.stdout.contains("pending review"),
        "{}",
        accepted.stdout
    );
    assert_eq!(status(&root)["pending"]["mode"], "replace");
}

#[test]
fn every_refusal_exits_1_and_is_recorded_in_the_audit_log() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let refused_events = || -> Vec<(String, String)> {
        let audit = run(["audit".as_ref(), root.as_os_str(), "--json".as_ref()])
            .expect(0)
            .json();
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "refused")
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    e["details"]["error"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // Nothing pending: keep and revert are refused.
    for command in ["keep", "revert"] {
        run([command.as_ref(), root.as_os_str()]).expect(1);
    }
    {
        // Another command holds the site lock.
        let _held = LockHolder::new(&root);
        restore(&archive, &root, &[]).expect(1);
    }
    let events = refused_events();
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["keep", "revert", "restore"], "{events:#?}");
    assert!(events[0].1.contains("no restore is pending"), "{events:#?}");
    assert!(
        events[2].1.contains("another sitepack command"),
        "{events:#?}"
    );
}

#[test]
fn status_and_revert_name_the_edits_made_since_the_restore_and_revert_needs_force() {
    let (_original, archive, site) = edited_site_and_archive("module:notes");
    let root = site.root();
    let before = tree(&root);
    restore(&archive, &root, &["--mode", "replace"]).expect(0);
    let touched = ["modules/notes/notes.jsonl", "modules/notes/extra.txt"];
    let pending = run(["status".as_ref(), root.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    assert_eq!(
        pending["pending"]["changed_since_restore"],
        serde_json::json!([]),
        "{pending}"
    );
    // Someone works on the restored site: edits a restored file, brings back a deleted one.
    let mut notes = std::fs::read(root.join(touched[0])).unwrap();
    notes.extend_from_slice(b"{\"id\":\"n-after\",\"user_id\":\"u-ada\"}\n");
    std::fs::write(root.join(touched[0]), &notes).unwrap();
    site.write(touched[1], "written again after the restore");
    let edited = tree(&root);

    let status = run(["status".as_ref(), root.as_os_str()]).expect(0);
    for path in touched {
        assert!(status.stdout.contains(path), "{}", status.stdout);
    }
    assert!(
        status.stdout.contains("changed since the restore"),
        "{}",
        status.stdout
    );

    let refused = run(["revert".as_ref(), root.as_os_str()]).expect(1);
    for path in touched {
        assert!(refused.stderr.contains(path), "{}", refused.stderr);
    }
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_same_tree(&tree(&root), &edited);

    // --force throws the edits away: the site is as before the restore.
    run(["revert".as_ref(), root.as_os_str(), "--force".as_ref()]).expect(0);
    assert_same_tree(&tree(&root), &before);
}
