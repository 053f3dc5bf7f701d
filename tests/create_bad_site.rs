//! Sites that cannot be backed up as they are: exit 2, a message that names the file
//! and says what to do, and no output file (nor a temporary one) left behind.

use std::os::unix::fs::PermissionsExt;

use crate::util::{TestSite, listing, try_create};

/// Builds a broken site, then checks `create` refuses it with `expected` in stderr.
fn refuses(build: impl FnOnce(&TestSite), scope: &str, expected: &[&str]) {
    let site = TestSite::new("broken");
    site.write("settings/general.json", r#"{"title": "ok"}"#);
    site.write("users/u-1.json", r#"{"id": "u-1"}"#);
    site.write(
        "modules/crm/contacts.jsonl",
        "{\"id\": 1, \"user_id\": \"u-1\"}\n",
    );
    build(&site);
    let out_dir = site.out_dir();
    let out = out_dir.join("backup.zip");
    let result = try_create(&site.root(), &out, &["--scope", scope]);
    assert_eq!(result.code, 2, "stderr: {}", result.stderr);
    for needle in expected {
        assert!(
            result.stderr.contains(needle),
            "expected {needle:?} in:\n{}",
            result.stderr
        );
    }
    assert_eq!(
        listing(&out_dir),
        Vec::<String>::new(),
        "something was left behind"
    );
}

#[test]
fn missing_site_json() {
    refuses(
        |s| std::fs::remove_file(s.root().join("site.json")).unwrap(),
        "full",
        &["site.json: missing", "id, name and url"],
    );
}

#[test]
fn site_json_against_its_schema() {
    refuses(
        |s| {
            s.write(
                "site.json",
                r#"{"id": "Bad Id", "name": "x", "url": "https://x.example"}"#,
            );
        },
        "full",
        &["site.json", "/id", "schema/site.schema.json"],
    );
    refuses(
        |s| s.write("site.json", r#"{"id": "ok", "name": "x"}"#),
        "full",
        &["site.json", "url"],
    );
    refuses(
        |s| {
            s.write("site.json", r#"{"id": "ok", "name": "x", "url": "https://x.example", "secrets": {"pointers": ["settings/a.json"]}}"#);
        },
        "full",
        &["site.json", "/secrets/pointers/0"],
    );
}

#[test]
fn site_json_that_is_not_json() {
    refuses(
        |s| s.write("site.json", "{\"id\": \"ok\",\n  \"name\": }"),
        "full",
        &["site.json:2:11: invalid JSON"],
    );
}

#[test]
fn invalid_json_names_line_and_column() {
    refuses(
        |s| s.write("settings/general.json", "{\n  \"a\": 1,\n  \"b\" 2\n}"),
        "full",
        &[
            "settings/general.json:3:7: invalid JSON",
            "fix or remove the file",
        ],
    );
    // Any `.json` outside `files/` (uploads, which are bytes) is a JSON document, so a
    // broken one is never archived unchecked.
    refuses(
        |s| s.write("export/data.json", "[1, 2"),
        "full",
        &["export/data.json:1:5: invalid JSON"],
    );
}

#[test]
fn invalid_json_lines_name_the_line() {
    refuses(
        |s| s.write("modules/crm/contacts.jsonl", "{\"id\": 1}\n{\"id\": 2\n"),
        "module:crm",
        &["modules/crm/contacts.jsonl:2:", "invalid JSON"],
    );
}

#[test]
fn record_without_id() {
    refuses(
        |s| {
            s.write(
                "modules/crm/contacts.jsonl",
                "{\"id\": 1}\n\n{\"name\": \"no id\"}\n",
            );
        },
        "full",
        &["modules/crm/contacts.jsonl:3: record has no \"id\""],
    );
}

#[test]
fn duplicate_record_id() {
    refuses(
        |s| {
            s.write(
                "modules/crm/deals.jsonl",
                "{\"id\": \"d-1\"}\n{\"id\": \"d-2\"}\n{\"id\": \"d-1\"}\n",
            );
        },
        "user:u-1",
        &["modules/crm/deals.jsonl:3: duplicate record id \"d-1\" (first on line 1)"],
    );
}

#[test]
fn user_card_whose_id_is_not_its_name() {
    refuses(
        |s| s.write("users/u-2.json", r#"{"id": "u-3"}"#),
        "full",
        &["users/u-2.json", "must equal its file name"],
    );
}

#[test]
fn symlinks_are_refused_not_followed() {
    refuses(
        |s| {
            std::fs::create_dir_all(s.root().join("files")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", s.root().join("files/passwd")).unwrap();
        },
        "full",
        &["files/passwd: is a symbolic link", "never follows links"],
    );
    refuses(
        |s| std::os::unix::fs::symlink("/etc", s.root().join("etc")).unwrap(),
        "full",
        &["etc: is a symbolic link"],
    );
    refuses(
        |s| std::os::unix::fs::symlink("/nonexistent", s.root().join("dangling.txt")).unwrap(),
        "full",
        &["dangling.txt: is a symbolic link"],
    );
}

#[test]
fn special_files_are_refused() {
    refuses(
        |s| {
            let status = std::process::Command::new("mkfifo")
                .arg(s.root().join("pipe"))
                .status()
                .unwrap();
            assert!(status.success());
        },
        "full",
        &["pipe: is not a regular file"],
    );
}

#[test]
fn unsafe_names_are_refused() {
    for (name, reason) in [
        ("CON.txt", "reserved device name"),
        ("files/a\\b.txt", "backslash"),
        ("files/trailing.", "ends in a dot or a space"),
        ("files/Cafe\u{301}.txt", "not in Unicode NFC form"),
        (
            "files/bidi\u{202e}fdp.exe",
            "control or format character U+202E",
        ),
        ("files/x:y.txt", "contains `:`"),
    ] {
        refuses(
            |s| s.write(name, "x"),
            "full",
            &["cannot be archived", reason],
        );
    }
}

#[test]
fn names_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    refuses(
        |s| {
            std::fs::create_dir_all(s.root().join("files")).unwrap();
            std::fs::write(
                s.root()
                    .join("files")
                    .join(std::ffi::OsStr::from_bytes(b"bad-\xff.txt")),
                "x",
            )
            .unwrap();
        },
        "full",
        &["not valid UTF-8"],
    );
}

#[test]
fn case_and_normalization_collisions_are_refused() {
    refuses(
        |s| {
            s.write("files/Readme.txt", "a");
            s.write("files/README.TXT", "b");
        },
        "full",
        &[
            "files/README.TXT and files/Readme.txt collide",
            "rename one",
        ],
    );
    refuses(
        |s| {
            s.write("files/Docs/a.txt", "a");
            s.write("files/docs/b.txt", "b");
        },
        "full",
        &["files/Docs and files/docs collide"],
    );
}

#[test]
fn unreadable_files_are_reported() {
    // Root reads everything, so the command runs as an unprivileged user (setpriv).
    let site = TestSite::new("locked");
    site.write("settings/general.json", r#"{"a": 1}"#);
    site.write("files/private.txt", "secret-ish");
    let locked = site.root().join("files/private.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let top = site.root().parent().unwrap().to_path_buf();
    for dir in [
        &top,
        &site.root(),
        &site.root().join("files"),
        &site.root().join("settings"),
    ] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out_dir = site.out_dir();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = out_dir.join("b.zip");
    let output = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_sitepack"),
            "create",
        ])
        .arg(site.root())
        .arg("-o")
        .arg(&out)
        .output()
        .expect("setpriv (util-linux) is needed by this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("files/private.txt: cannot read"),
        "{stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert_eq!(listing(&out_dir), Vec::<String>::new());
}

#[test]
fn unknown_scope_targets_list_what_exists() {
    refuses(
        |_| {},
        "tab:billing",
        &["there is no tab `billing`", "tabs that exist: general"],
    );
    refuses(
        |s| s.write("modules/notes/n.jsonl", ""),
        "module:blog",
        &[
            "there is no module `blog`",
            "modules that exist: crm, notes",
        ],
    );
    refuses(
        |_| {},
        "user:u-9",
        &["there is no user `u-9`", "users that exist: u-1"],
    );
}

#[test]
fn bad_scope_syntax_is_a_usage_error() {
    refuses(|_| {}, "group:admins", &["not a scope"]);
    refuses(|_| {}, "tab:../x", &["not a valid name"]);
}

/// Regression: `create` named one problem per run (a link, then a record without an
/// id, then bad JSON: three runs). Every problem of the site is named in one run.
#[test]
fn every_problem_of_the_site_is_named_in_one_run() {
    let site = TestSite::new("tide-tables");
    site.write("settings/general.json", r#"{"title": "Tide Tables"}"#);
    site.write("settings/broken.json", "{\"title\": ");
    site.write(
        "modules/ports/harbours.jsonl",
        "{\"id\":\"h-1\"}\n{\"name\":\"no id\"}\n",
    );
    site.write("modules/ports/dup.json", r#"{"depth": 1, "depth": 2}"#);
    site.write("users/u-kai.json", r#"{"id": "u-someone-else"}"#);
    site.write("files/charts/a.txt", "fine\n");
    std::os::unix::fs::symlink("/etc/hostname", site.root().join("files/charts/link.txt")).unwrap();
    let out = site.out_dir().join("tides.zip");
    let refused = crate::util::try_create(&site.root(), &out, &[]).expect(2);
    for named in [
        "5 problems",
        "settings/broken.json",
        "modules/ports/harbours.jsonl",
        "modules/ports/dup.json",
        "users/u-kai.json",
        "files/charts/link.txt",
    ] {
        assert!(
            refused.stderr.contains(named),
            "{named} is not named:\n{}",
            refused.stderr
        );
    }
    assert!(!out.exists());
    assert_eq!(crate::util::listing(&site.out_dir()), Vec::<String>::new());
}
