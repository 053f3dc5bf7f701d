//! The human output of every command, pinned as snapshots (`tests/snapshots/`), so that a
//! change of wording or layout is a reviewed diff: both streams and the exit code, on one
//! small site made here. Temporary paths, digests, restore ids and clock times are
//! filtered out; sizes are kept, as `create` is reproducible.

use std::ffi::OsStr;
use std::path::Path;

use crate::extract::corrupted_archive;
use crate::util::{Run, TIMESTAMP, TestSite, create, run, sitepack};

/// A small site with one of everything: a tab holding a secret and the site's URL, a
/// user, a collection, a file.
fn tiny_shop() -> TestSite {
    let site = TestSite::bare();
    site.write(
        "site.json",
        r#"{"id": "tiny-shop", "name": "Tiny Shop", "url": "https://tiny.example"}"#,
    );
    site.write(
        "settings/general.json",
        r#"{"title": "Tiny", "api_key": "tiny-secret-value", "home": "https://tiny.example/home"}"#,
    );
    site.write(
        "users/u-ada.json",
        r#"{"id": "u-ada", "name": "Ada", "password_hash": "$argon2id$v=19$x"}"#,
    );
    site.write(
        "modules/notes/notes.jsonl",
        "{\"id\": \"n-1\", \"user_id\": \"u-ada\", \"text\": \"hello\"}\n{\"id\": \"n-2\", \"text\": \"world\"}\n",
    );
    site.write("files/readme.txt", "hello\n");
    site
}

/// What a user sees: the exit code, then each stream.
fn shown(run: &Run) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    )
}

/// Snapshot settings replacing `dir` (the test's temporary directory) by `[TMP]`, and
/// digests and restore ids (they hold the clock) by placeholders.
fn filtered(dir: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex::escape(&dir.display().to_string()), "[TMP]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\b[0-9a-f]{12}(…|\s)", "[SHA256-12]$1");
    settings.add_filter(r"\b\d{8}T\d{6}Z-\d+\b", "[RESTORE-ID]");
    settings.set_omit_expression(true);
    settings
}

/// [`filtered`], and the times that come from the clock (not `--timestamp`) as `[NOW]`.
fn filtered_with_clock(dir: &Path) -> insta::Settings {
    let mut settings = filtered(dir);
    settings.add_filter(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", "[NOW]");
    settings
}

/// The site's temporary directory (holding `site/` and `out/`).
fn tmp(site: &TestSite) -> std::path::PathBuf {
    site.root().parent().unwrap().to_path_buf()
}

fn archive_of(site: &TestSite) -> std::path::PathBuf {
    let archive = site.out_dir().join("tiny.zip");
    create(&site.root(), &archive, &[]);
    archive
}

#[test]
fn create_summary() {
    let site = tiny_shop();
    let archive = site.out_dir().join("tiny.zip");
    let made = create(&site.root(), &archive, &[]);
    let scoped = create(
        &site.root(),
        &site.out_dir().join("ada.zip"),
        &["--scope", "user:u-ada", "--no-files"],
    );
    filtered(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("create", shown(&made));
        insta::assert_snapshot!("create_user_scope", shown(&scoped));
    });
}

#[test]
fn validate_report() {
    let site = tiny_shop();
    let archive = archive_of(&site);
    let valid = run(["validate".as_ref(), archive.as_os_str()]).expect(0);
    let damaged = site.out_dir().join("damaged.zip");
    corrupted_archive(&site, &damaged);
    let invalid = run(["validate".as_ref(), damaged.as_os_str()]).expect(1);
    filtered(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("validate_valid", shown(&valid));
        insta::assert_snapshot!("validate_invalid", shown(&invalid));
    });
}

#[test]
fn preview() {
    let site = tiny_shop();
    let archive = archive_of(&site);
    let shown_preview = run(["preview".as_ref(), archive.as_os_str()]).expect(0);
    filtered(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("preview", shown(&shown_preview));
    });
}

/// A copy of the site at another URL, with a tab changed, a user added and a file only it
/// has: every kind of change a restore plan names.
fn changed_copy(site: &TestSite) -> std::path::PathBuf {
    let copy = site.out_dir().join("copy");
    crate::util::copy_tree(&site.root(), &copy);
    std::fs::write(
        copy.join("site.json"),
        r#"{"id": "tiny-shop", "name": "Tiny Shop (staging)", "url": "https://staging.tiny.example"}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("settings/general.json"),
        r#"{"title": "Changed", "api_key": "staging-secret", "home": "https://staging.tiny.example/home"}"#,
    )
    .unwrap();
    std::fs::write(copy.join("users/u-bob.json"), r#"{"id": "u-bob"}"#).unwrap();
    std::fs::remove_file(copy.join("files/readme.txt")).unwrap();
    std::fs::write(copy.join("files/only-here.txt"), "staging\n").unwrap();
    copy
}

#[test]
fn preview_against() {
    let site = tiny_shop();
    let archive = archive_of(&site);
    let copy = changed_copy(&site);
    let against = run([
        "preview".as_ref(),
        archive.as_os_str(),
        "--against".as_ref(),
        copy.as_os_str(),
    ])
    .expect(0);
    filtered(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("preview_against", shown(&against));
    });
}

#[test]
fn restore_plan_and_review() {
    let site = tiny_shop();
    let archive = archive_of(&site);
    let copy = changed_copy(&site);
    let restore = |extra: &[&str], code: i32| {
        let mut args = vec![
            "restore".as_ref(),
            archive.as_os_str(),
            copy.as_os_str(),
            "--no-progress".as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        run(args).expect(code)
    };
    let review = |command: &str, extra: &[&str], code: i32| {
        let mut args = vec![command.as_ref(), copy.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        run(args).expect(code)
    };
    let plan = restore(&["--dry-run", "--mode", "replace"], 0);
    let without_yes = restore(&[], 1);
    let restored = restore(&["--yes", "--mode", "replace"], 0);
    let status = review("status", &[], 0);
    let kept = review("keep", &[], 0);
    let nothing_pending = review("status", &[], 0);
    std::fs::write(
        copy.join("settings/general.json"),
        r#"{"title": "Changed again"}"#,
    )
    .unwrap();
    restore(&["--yes"], 0);
    std::fs::write(
        copy.join("settings/general.json"),
        r#"{"title": "Edited since"}"#,
    )
    .unwrap();
    let status_changed = review("status", &[], 0);
    let revert_refused = review("revert", &[], 1);
    let reverted = review("revert", &["--force"], 0);
    filtered_with_clock(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("restore_dry_run", shown(&plan));
        insta::assert_snapshot!("restore_without_yes", shown(&without_yes));
        insta::assert_snapshot!("restore", shown(&restored));
        insta::assert_snapshot!("status_pending", shown(&status));
        insta::assert_snapshot!("keep", shown(&kept));
        insta::assert_snapshot!("status_nothing_pending", shown(&nothing_pending));
        insta::assert_snapshot!("status_changed_since", shown(&status_changed));
        insta::assert_snapshot!("revert_refused", shown(&revert_refused));
        insta::assert_snapshot!("revert", shown(&reverted));
    });
}

#[test]
fn audit() {
    let site = tiny_shop();
    // The actor is the login name from the environment: one fixed here.
    let as_operator = |args: &[&OsStr], code: i32| {
        let mut command = sitepack();
        command
            .args(args)
            .env_remove("SUDO_USER")
            .env_remove("LOGNAME")
            .env("USER", "operator");
        Run::from_command(&mut command).expect(code)
    };
    let archive = site.out_dir().join("tiny.zip");
    let no_dir = site.out_dir().join("no/such/dir/copy.zip");
    let (archive, no_dir) = (archive.as_os_str(), no_dir.as_os_str());
    let timestamp = ["--timestamp".as_ref(), TIMESTAMP.as_ref()];
    as_operator(
        &[
            &[
                "create".as_ref(),
                site.root().as_os_str(),
                "-o".as_ref(),
                archive,
            ][..],
            &timestamp,
        ]
        .concat(),
        0,
    );
    let copy = changed_copy(&site);
    let copy = copy.as_os_str();
    // Every outcome: a refused restore, a restore, a revert, a refused keep, a failed create.
    as_operator(&["restore".as_ref(), archive, copy], 1);
    as_operator(&["restore".as_ref(), archive, copy, "--yes".as_ref()], 0);
    as_operator(&["revert".as_ref(), copy], 0);
    as_operator(&["keep".as_ref(), copy], 1);
    as_operator(
        &[
            &["create".as_ref(), copy, "-o".as_ref(), no_dir][..],
            &timestamp,
        ]
        .concat(),
        2,
    );
    let log = run(["audit".as_ref(), copy]).expect(0);
    let restores = run([
        "audit".as_ref(),
        copy,
        "--type".as_ref(),
        "restore".as_ref(),
        "--limit".as_ref(),
        "1".as_ref(),
    ])
    .expect(0);
    filtered_with_clock(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("audit", shown(&log));
        insta::assert_snapshot!("audit_type_limit", shown(&restores));
    });
}

/// Three nightly full backups and a user export stored in a directory target.
fn stored_backups(site: &TestSite) -> (std::path::PathBuf, Vec<Run>) {
    let target = site.out_dir().join("backups");
    let made = [
        ("2026-11-20T02:30:00Z", &["--label", "nightly"][..]),
        ("2026-11-21T02:30:00Z", &["--label", "nightly"][..]),
        ("2026-11-22T02:30:00Z", &["--label", "nightly"][..]),
        ("2026-11-22T03:00:00Z", &["--scope", "user:u-ada"][..]),
    ]
    .into_iter()
    .map(|(time, args)| {
        let mut command = sitepack();
        command
            .arg("create")
            .arg(site.root())
            .arg("--to")
            .arg(&target)
            .args(["--timestamp", time])
            .args(args);
        Run::from_command(&mut command).expect(0)
    })
    .collect();
    (target, made)
}

#[test]
fn create_to_list_and_prune() {
    let site = tiny_shop();
    let (target, made) = stored_backups(&site);
    // An orphan: an archive whose sidecar never came (a run killed in between).
    let orphan = target.join("tiny-shop/20261119T023000Z-full.zip");
    std::fs::copy(
        target.join("tiny-shop/20261120T023000Z-full-nightly.zip"),
        &orphan,
    )
    .unwrap();
    // Stored at 2026-11-22T00:00:00Z: 36 hours old at noon the next day.
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_305_600))
        .unwrap();
    // A day after the last backup (orphans' ages count from the clock).
    let at_noon = |args: &[&str]| {
        let mut command = sitepack();
        command
            .args(args)
            .env("SITEPACK_NOW", "2026-11-23T12:00:00Z");
        Run::from_command(&mut command).expect(0)
    };
    let target_text = target.to_str().unwrap();
    let listed = at_noon(&["list", target_text]);
    let listed_all = at_noon(&["list", target_text, "--all"]);
    let prune = |extra: &[&str]| {
        let keep_last = [
            "prune",
            target_text,
            "--site",
            "tiny-shop",
            "--keep-last",
            "1",
        ];
        at_noon(&[&keep_last[..], &["--include-manual"], extra].concat())
    };
    let dry_run = prune(&["--dry-run"]);
    let pruned = prune(&[]);
    let after = at_noon(&["list", target_text, "--all"]);
    filtered(&tmp(&site)).bind(|| {
        insta::assert_snapshot!("create_to_new_target", shown(&made[0]));
        insta::assert_snapshot!("create_to", shown(&made[1]));
        insta::assert_snapshot!("list", shown(&listed));
        insta::assert_snapshot!("list_all", shown(&listed_all));
        insta::assert_snapshot!("prune_dry_run", shown(&dry_run));
        insta::assert_snapshot!("prune", shown(&pruned));
        insta::assert_snapshot!("list_after_prune", shown(&after));
    });
}
