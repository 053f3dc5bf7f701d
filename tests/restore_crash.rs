//! Crash safety of `sitepack restore` and `sitepack revert`: each is killed with a real
//! SIGKILL (`SITEPACK_FAILPOINT`) at every one of its steps, and the next sitepack command
//! must put the site back wholly as it was before the restore, byte for byte and mode for
//! mode — or, for a kill once the restore is complete, leave it pending review, from which
//! `revert` gives back the site as it was before.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::util::{
    Node, TestSite, assert_same_tree, create, listing, read_archive, run, sitepack, tree,
};

type Tree = BTreeMap<String, Node>;

/// A demo site changed after its full backup, so that restoring the backup in replace
/// mode replaces, deletes (emptying two directories) and adds (into two nested
/// directories that no longer exist).
struct Scenario {
    site: TestSite,
    archive: PathBuf,
}

impl Scenario {
    fn new() -> Self {
        let site = TestSite::demo();
        let archive = site.out_dir().join("backup.zip");
        create(&site.root(), &archive, &[]);
        let root = site.root();
        // Replaced: a collection with one record more, a settings tab edited (mode 0600).
        let notes = root.join("modules/notes/notes.jsonl");
        let mut text = std::fs::read_to_string(&notes).unwrap();
        text.push_str(
            r#"{"id":"n-900","user_id":"u-ada","title":"After the backup","body":"Written later.","pinned":false,"created_at":"2026-11-01T10:00:00Z"}"#,
        );
        text.push('\n');
        std::fs::write(&notes, text).unwrap();
        let general = root.join("settings/general.json");
        let text = std::fs::read_to_string(&general)
            .unwrap()
            .replace("Acme Outdoor Supply GmbH", "Acme Outdoor Supply AG");
        std::fs::write(&general, text).unwrap();
        set_mode(&general, 0o600);
        // Deleted, with the two directories it leaves empty: an executable file the
        // backup lacks.
        site.write("files/extra/deep/run.sh", "#!/bin/sh\necho later\n");
        set_mode(&root.join("files/extra/deep/run.sh"), 0o755);
        // Added back, into `files/media/` and `files/media/products/`, which are gone.
        std::fs::remove_dir_all(root.join("files/media")).unwrap();
        Self { site, archive }
    }

    fn root(&self) -> PathBuf {
        self.site.root()
    }

    /// `restore ARCHIVE SITE --yes --mode replace`.
    fn restore_args(&self) -> Vec<OsString> {
        vec![
            "restore".into(),
            self.archive.clone().into(),
            self.root().into(),
            "--yes".into(),
            "--mode".into(),
            "replace".into(),
        ]
    }

    /// How many changes the restore makes, from a dry run (which must list adds,
    /// replaces and deletes).
    fn change_count(&self) -> usize {
        let mut args = self.restore_args();
        args.extend(["--dry-run".into(), "--json".into()]);
        let output = run(&args).expect(0).json();
        let changes = output["plan"]["changes"].as_array().unwrap();
        let actions: Vec<&str> = changes
            .iter()
            .map(|c| c["action"].as_str().unwrap())
            .collect();
        for action in ["add", "replace", "delete"] {
            assert!(
                actions.contains(&action),
                "the scenario has no {action}: {actions:?}"
            );
        }
        changes.len()
    }

    /// A complete restore, then its revert, which gives back `before`.
    fn restore_and_revert(&self, before: &Tree) {
        run(self.restore_args()).expect(0);
        assert!(&tree(&self.root()) != before, "the restore changed nothing");
        run(args(&["revert"], &self.root())).expect(0);
        assert_settled(&self.root(), before);
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `COMMAND SITE EXTRA…`.
fn args(command: &[&str], site: &Path) -> Vec<OsString> {
    let mut all: Vec<OsString> = vec![command[0].into(), site.into()];
    all.extend(command[1..].iter().map(OsString::from));
    all
}

/// Runs `sitepack ARGS…` with `SITEPACK_FAILPOINT=point`, which must kill it (SIGKILL).
fn kill_at(point: &str, args: &[OsString]) {
    let status = sitepack()
        .args(args)
        .env("SITEPACK_FAILPOINT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sitepack");
    assert_eq!(
        status.signal(),
        Some(9),
        "sitepack {args:?} was not killed at {point}: {status}"
    );
}

/// The site is `before`, and neither restore work nor a snapshot is left.
#[track_caller]
fn assert_settled(root: &Path, before: &Tree) {
    assert_same_tree(&tree(root), before);
    assert_eq!(
        listing(&root.join(".sitepack/restore")),
        Vec::<String>::new()
    );
    assert_eq!(
        listing(&root.join(".sitepack/snapshots")),
        Vec::<String>::new()
    );
}

/// `status SITE --json` after a kill: it says it recovered from `interrupted`, putting
/// back `paths_restored` paths, nothing is pending, and the site is `before` again.
#[track_caller]
fn assert_recovered(root: &Path, before: &Tree, interrupted: &str, paths_restored: usize) {
    let status = run(args(&["status", "--json"], root)).expect(0).json();
    let recovered = &status["recovered"];
    assert_eq!(recovered["interrupted"], interrupted, "{status}");
    assert_eq!(recovered["paths_restored"], paths_restored, "{status}");
    assert_eq!(
        recovered["restore_id"].is_null(),
        interrupted == "restore_before_changes",
        "{status}"
    );
    assert!(status["pending"].is_null(), "{status}");
    assert_settled(root, before);
}

/// The `type` of every event in the site's audit log, oldest first.
fn audit_types(root: &Path) -> Vec<String> {
    run(args(&["audit", "--json"], root)).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn count(types: &[String], kind: &str) -> usize {
    types.iter().filter(|t| *t == kind).count()
}

/// Kills the restore at each of `points` in turn (`None`: no path changed yet; `Some(n)`:
/// `n` paths changed), checks that `status` puts the site back as it was (as
/// `interrupted`) and records a `recover` event, and that a restore then succeeds (and its
/// revert gives back the site, for the next kill point).
fn kill_restore_and_recover(scenario: &Scenario, points: &[(String, Option<usize>)]) {
    let root = scenario.root();
    let before = tree(&root);
    let recovers = count(&audit_types(&root), "recover");
    for (index, (point, changed)) in points.iter().enumerate() {
        kill_at(point, &scenario.restore_args());
        let work_left = !listing(&root.join(".sitepack/restore")).is_empty()
            || !listing(&root.join(".sitepack/snapshots")).is_empty();
        assert!(
            work_left,
            "{point}: the killed restore left nothing to recover"
        );
        match changed {
            None => assert_same_tree(&tree(&root), &before),
            Some(_) => assert!(tree(&root) != before, "{point}: the site is unchanged"),
        }
        let interrupted = match (point.as_str(), changed) {
            ("journal", _) | (_, Some(_)) => "restore",
            _ => "restore_before_changes",
        };
        assert_recovered(&root, &before, interrupted, changed.unwrap_or(0));
        let types = audit_types(&root);
        assert_eq!(count(&types, "recover"), recovers + index + 1, "{point}");
        assert_eq!(types.last().map(String::as_str), Some("recover"), "{point}");
        scenario.restore_and_revert(&before);
    }
}

#[test]
fn a_restore_killed_while_staging_leaves_the_site_as_it_was() {
    let scenario = Scenario::new();
    let n = scenario.change_count();
    let points: Vec<_> = (1..=n).map(|i| (format!("stage:{i}"), None)).collect();
    kill_restore_and_recover(&scenario, &points);
}

#[test]
fn a_restore_killed_after_its_snapshot_or_its_journal_leaves_the_site_as_it_was() {
    let scenario = Scenario::new();
    kill_restore_and_recover(
        &scenario,
        &[("snapshot".to_owned(), None), ("journal".to_owned(), None)],
    );
}

#[test]
fn a_restore_killed_after_any_change_is_undone_by_the_next_command() {
    let scenario = Scenario::new();
    let n = scenario.change_count();
    let points: Vec<_> = (1..=n).map(|i| (format!("apply:{i}"), Some(i))).collect();
    kill_restore_and_recover(&scenario, &points);
}

#[test]
fn create_after_a_killed_restore_backs_up_the_site_as_it_was() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let before = tree(&root);
    let expected = scenario.site.out_dir().join("before.zip");
    create(&root, &expected, &[]);
    kill_at("apply:2", &scenario.restore_args());
    assert!(tree(&root) != before, "the killed restore changed nothing");

    let actual = scenario.site.out_dir().join("after-kill.zip");
    let created = create(&root, &actual, &[]);
    assert!(
        created.stderr.contains("recovered: an interrupted restore"),
        "{}",
        created.stderr
    );
    let (actual, expected) = (read_archive(&actual), read_archive(&expected));
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &expected {
        assert!(
            actual[name] == *bytes,
            "{name} differs from the backup before"
        );
    }
    assert_settled(&root, &before);
    assert_eq!(count(&audit_types(&root), "recover"), 1);
    // Nothing is left to recover.
    let status = run(args(&["status", "--json"], &root)).expect(0).json();
    assert!(status["recovered"].is_null(), "{status}");
}

#[test]
fn a_restore_killed_once_complete_stays_pending_and_revert_gives_back_the_site() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let before = tree(&root);
    // The same restore, not killed, into an identical site.
    let reference = Scenario::new();
    assert_same_tree(&tree(&reference.root()), &before);
    run(reference.restore_args()).expect(0);
    let after = tree(&reference.root());
    assert!(after != before, "the restore changed nothing");

    kill_at("pending", &scenario.restore_args());
    let status = run(args(&["status", "--json"], &root)).expect(0).json();
    assert!(status["recovered"].is_null(), "{status}");
    assert!(status["pending"].is_object(), "{status}");
    assert_same_tree(&tree(&root), &after);
    assert_eq!(count(&audit_types(&root), "recover"), 0);
    // The restore's event was written before it was marked complete.
    assert_eq!(
        audit_types(&root).last().map(String::as_str),
        Some("restore")
    );
    // Still pending: another restore is refused, and changes nothing.
    run(scenario.restore_args()).expect(1);
    assert_same_tree(&tree(&root), &after);

    let reverted = run(args(&["revert", "--json"], &root)).expect(0).json();
    assert_eq!(
        reverted["paths_restored"],
        scenario_changes(&reverted),
        "{reverted}"
    );
    assert_settled(&root, &before);
    let status = run(args(&["status", "--json"], &root)).expect(0).json();
    assert!(status["pending"].is_null(), "{status}");
    assert!(status["recovered"].is_null(), "{status}");
}

/// Added + replaced + deleted of the restore a `revert --json` settled.
fn scenario_changes(settled: &Value) -> u64 {
    ["added", "replaced", "deleted"]
        .iter()
        .map(|k| settled["restore"][k].as_u64().unwrap())
        .sum()
}

#[test]
fn a_revert_killed_at_any_path_is_completed_by_the_next_command() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let before = tree(&root);
    let n = scenario.change_count();
    for i in 1..=n {
        run(scenario.restore_args()).expect(0);
        kill_at(&format!("revert:{i}"), &args(&["revert"], &root));
        assert!(tree(&root) != before, "revert:{i}: the revert was complete");
        assert_recovered(&root, &before, "revert", n - i);
    }
    assert_eq!(count(&audit_types(&root), "recover"), n);
}

#[test]
fn a_recovery_killed_at_each_of_its_steps_is_finished_by_the_next_command() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let before = tree(&root);
    let n = scenario.change_count();
    kill_at(&format!("apply:{n}"), &scenario.restore_args());
    // Each recovery starts over, and gets one path further before it is killed.
    for i in 1..=n {
        kill_at(&format!("recover:{i}"), &args(&["status"], &root));
        assert!(
            tree(&root) != before,
            "recover:{i}: the recovery was complete"
        );
    }
    // Every path is back; the directories the restore made are not gone yet.
    assert_recovered(&root, &before, "restore", 0);
    assert_eq!(count(&audit_types(&root), "recover"), 1);
    scenario.restore_and_revert(&before);
}

#[test]
fn a_recovery_killed_once_is_finished_by_a_restore() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let before = tree(&root);
    kill_at("apply:3", &scenario.restore_args());
    // The undo goes last change first: its first step is the last change, which the
    // killed restore never reached, so the killed recovery put nothing back yet.
    kill_at("recover:1", &args(&["stats"], &root));
    // The restore finishes the recovery first (the three changes applied), then restores.
    let mut restore = scenario.restore_args();
    restore.push("--json".into());
    let output = run(&restore).expect(0).json();
    assert_eq!(output["recovered"]["interrupted"], "restore", "{output}");
    assert_eq!(output["recovered"]["paths_restored"], 3, "{output}");
    run(args(&["revert"], &root)).expect(0);
    assert_settled(&root, &before);
}

#[test]
fn a_sandbox_restore_killed_midway_leaves_only_the_internal_directory() {
    let demo = TestSite::demo();
    let archive = demo.out_dir().join("full.zip");
    create(&demo.root(), &archive, &[]);
    let sandbox = demo.out_dir().join("sandbox");
    let restore: Vec<OsString> = vec![
        "restore".into(),
        archive.into(),
        sandbox.clone().into(),
        "--yes".into(),
    ];
    kill_at("apply:3", &restore);
    assert!(tree(&sandbox).len() >= 3, "nothing was restored");

    assert_recovered(&sandbox, &Tree::new(), "restore", 3);
    assert_eq!(listing(&sandbox), [".sitepack"]);
    // The sandbox takes a restore again.
    run(&restore).expect(0);
    assert!(tree(&sandbox).contains_key("site.json"));
}

#[test]
fn a_directory_a_delete_emptied_comes_back_with_its_mode() {
    let scenario = Scenario::new();
    let root = scenario.root();
    set_mode(&root.join("files/extra"), 0o750);
    set_mode(&root.join("files/extra/deep"), 0o700);
    let before = tree(&root);
    // Deletes come first: `apply:1` removed the file and both directories.
    kill_at("apply:1", &scenario.restore_args());
    assert!(!root.join("files/extra").exists());
    assert_recovered(&root, &before, "restore", 1);
    // The same through `revert`.
    run(scenario.restore_args()).expect(0);
    run(args(&["revert"], &root)).expect(0);
    assert_settled(&root, &before);
}

/// The loops above cover every change: the dry run counts them as the restore does.
#[test]
fn no_restore_step_comes_after_the_last_counted_change() {
    let scenario = Scenario::new();
    let n = scenario.change_count();
    let status = sitepack()
        .args(scenario.restore_args())
        .env("SITEPACK_FAILPOINT", format!("apply:{}", n + 1))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}

/// The newest `recover` event of the site.
fn last_recover_event(root: &Path) -> Value {
    let audit = run(args(&["audit", "--json", "--type", "recover"], root))
        .expect(0)
        .json();
    audit["events"].as_array().unwrap().last().unwrap().clone()
}

#[test]
fn a_recover_event_says_which_restore_it_undid() {
    let scenario = Scenario::new();
    let root = scenario.root();
    let digest = run([
        "validate".as_ref(),
        scenario.archive.as_os_str(),
        "--json".as_ref(),
    ])
    .expect(0)
    .json()["digest"]
        .clone();
    // Killed while changing the site: the journal names the restore and its archive.
    kill_at("apply:1", &scenario.restore_args());
    run(args(&["status"], &root)).expect(0);
    let event = last_recover_event(&root);
    let details = &event["details"];
    assert!(details["restore_id"].is_string(), "{event}");
    assert_eq!(
        details["archive"],
        scenario.archive.display().to_string(),
        "{event}"
    );
    assert_eq!(details["archive_sha256"], digest, "{event}");
    assert_eq!(details["mode"], "replace", "{event}");
    assert!(details["started_at"].is_string(), "{event}");

    // Killed after its snapshot, before its journal: the snapshot's name is its id.
    kill_at("snapshot", &scenario.restore_args());
    run(args(&["status"], &root)).expect(0);
    let event = last_recover_event(&root);
    assert_eq!(event["details"]["interrupted"], "restore_before_changes");
    assert!(event["details"]["restore_id"].is_string(), "{event}");
}
