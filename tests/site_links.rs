//! Nothing is read or written outside a site through a symbolic link: a directory of the
//! site swapped for a link after a restore (or while it is pending, or interrupted), and
//! links inside `.sitepack/`, are refused — never followed — and whatever the link points
//! at stays as it was. Regression tests for "revert wrote into the link's target" and
//! "the audit event was appended to the link's target".

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use sitepack_format::{Beneath, INTERNAL_DIR};
use sitepack_site::{LockKind, SITE_LOCK_NAME, SiteLock};

use crate::util::{TestSite, create, listing, run, site_files, tree};

/// A small clinic site with nested uploads and a module, other than the demo.
fn clinic() -> TestSite {
    let site = TestSite::new("riverside-clinic");
    site.write("settings/general.json", r#"{"title": "Riverside Clinic"}"#);
    site.write("files/reports/2026/q1.txt", "first quarter\n");
    site.write("files/reports/2026/q2.txt", "second quarter\n");
    site.write("files/forms/intake.txt", "name, date of birth\n");
    site.write(
        "modules/rota/shifts.jsonl",
        "{\"id\":\"s-1\",\"who\":\"dr-kim\"}\n{\"id\":\"s-2\",\"who\":\"dr-ola\"}\n",
    );
    site
}

/// A directory outside the site with one file, to check nothing reaches it.
struct Victim {
    dir: PathBuf,
}

impl Victim {
    fn new(site: &TestSite, name: &str) -> Self {
        let dir = site.out_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["q1.txt", "q2.txt", "intake.txt", "shifts.jsonl"] {
            std::fs::write(dir.join(file), "VICTIM\n").unwrap();
        }
        Self { dir }
    }

    #[track_caller]
    fn untouched(&self, what: &str) {
        let names = listing(&self.dir);
        assert_eq!(
            names,
            ["intake.txt", "q1.txt", "q2.txt", "shifts.jsonl"],
            "{what}: files appeared in or vanished from the link's target"
        );
        for name in names {
            assert_eq!(
                std::fs::read_to_string(self.dir.join(&name)).unwrap(),
                "VICTIM\n",
                "{what}: {name} outside the site was overwritten"
            );
        }
    }
}

/// Moves `relative` away (to `moved-…` at the site root) and puts a link to `target` in
/// its place; returns where it went.
fn swap_for_link(root: &Path, relative: &str, target: &Path) -> PathBuf {
    let moved = root.join(format!("moved-{}", relative.replace('/', "-")));
    std::fs::rename(root.join(relative), &moved).unwrap();
    symlink(target, root.join(relative)).unwrap();
    moved
}

fn undo_swap(root: &Path, relative: &str, moved: &Path) {
    std::fs::remove_file(root.join(relative)).unwrap();
    std::fs::rename(moved, root.join(relative)).unwrap();
}

#[test]
fn revert_refuses_a_directory_swapped_for_a_link_and_writes_nothing_outside() {
    // Each directory on the way to the restored paths, at several depths.
    for swapped in [
        "files/reports/2026",
        "files/reports",
        "files",
        "modules/rota",
    ] {
        let site = clinic();
        let root = site.root();
        let archive = site.out_dir().join("backup.zip");
        create(&root, &archive, &[]);
        // Edited after the backup: the restore replaces them, the revert puts them back.
        site.write("files/reports/2026/q1.txt", "edited\n");
        site.write("files/forms/intake.txt", "edited\n");
        site.write(
            "modules/rota/shifts.jsonl",
            "{\"id\":\"s-9\",\"who\":\"x\"}\n",
        );
        let before = tree(&root);
        run([
            "restore".as_ref(),
            archive.as_os_str(),
            root.as_os_str(),
            "--yes".as_ref(),
            "--mode".as_ref(),
            "replace".as_ref(),
        ])
        .expect(0);

        let victim = Victim::new(&site, "victim");
        let moved = swap_for_link(&root, swapped, &victim.dir);
        let refused = run(["revert".as_ref(), root.as_os_str()]).expect(2);
        assert!(
            refused.stderr.contains("symbolic link") && refused.stderr.contains(swapped),
            "{swapped}: {}",
            refused.stderr
        );
        victim.untouched(swapped);
        // Every later command refuses too, until the link is gone; then revert completes.
        run(["status".as_ref(), root.as_os_str()]).expect(2);
        victim.untouched(swapped);
        undo_swap(&root, swapped, &moved);
        run(["status".as_ref(), root.as_os_str()]).expect(0);
        assert_eq!(tree(&root), before, "{swapped}: the revert did not finish");
    }
}

#[test]
fn recovery_of_a_killed_restore_refuses_a_swapped_directory() {
    let site = clinic();
    let root = site.root();
    let archive = site.out_dir().join("backup.zip");
    create(&root, &archive, &[]);
    site.write("files/reports/2026/q2.txt", "edited\n");
    site.write("files/reports/2026/q3.txt", "added later\n");
    let before = tree(&root);
    let killed = crate::util::sitepack()
        .env("SITEPACK_FAILPOINT", "apply:1")
        .args(["restore".as_ref(), archive.as_os_str(), root.as_os_str()])
        .args(["--yes", "--mode", "replace"])
        .status()
        .unwrap();
    assert!(!killed.success(), "the restore was not killed");
    let victim = Victim::new(&site, "victim");
    let moved = swap_for_link(&root, "files/reports", &victim.dir);
    let refused = run(["status".as_ref(), root.as_os_str()]).expect(2);
    assert!(
        refused.stderr.contains("files/reports"),
        "{}",
        refused.stderr
    );
    victim.untouched("recovery");
    undo_swap(&root, "files/reports", &moved);
    run(["status".as_ref(), root.as_os_str()]).expect(0);
    assert_eq!(tree(&root), before);
}

#[test]
fn a_restore_into_a_site_with_a_swapped_directory_is_refused() {
    let site = clinic();
    let root = site.root();
    let archive = site.out_dir().join("backup.zip");
    create(&root, &archive, &[]);
    let victim = Victim::new(&site, "victim");
    swap_for_link(&root, "files/forms", &victim.dir);
    for mode in ["merge", "replace"] {
        let refused = run([
            "restore".as_ref(),
            archive.as_os_str(),
            root.as_os_str(),
            "--yes".as_ref(),
            "--mode".as_ref(),
            mode.as_ref(),
        ]);
        assert_ne!(refused.code, 0, "{mode}: {}", refused.stderr);
        assert!(refused.stderr.contains("files/forms"), "{}", refused.stderr);
        victim.untouched(mode);
    }
    // And a backup of it refuses the link rather than archiving what it points at.
    let out = site.out_dir().join("linked.zip");
    let refused = crate::util::try_create(&root, &out, &[]).expect(2);
    assert!(refused.stderr.contains("files/forms"), "{}", refused.stderr);
    assert!(!out.exists());
}

/// Links inside `.sitepack/`: at the directory itself and at each file or directory
/// sitepack keeps there. Each is refused; its target is never created or written.
#[test]
fn links_inside_the_state_directory_are_refused() {
    let cases = [
        (".sitepack", true),
        (".sitepack/audit.jsonl", false),
        (".sitepack/lock", false),
        (".sitepack/snapshots", true),
        (".sitepack/restore", true),
    ];
    for (link, is_dir) in cases {
        let site = clinic();
        let root = site.root();
        let archive = site.out_dir().join("backup.zip");
        create(&root, &archive, &["--no-files"]);
        std::fs::remove_dir_all(root.join(INTERNAL_DIR)).unwrap();
        std::fs::create_dir_all(root.join(INTERNAL_DIR)).unwrap();
        let outside = site.out_dir().join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        let target = if is_dir {
            outside.clone()
        } else {
            outside.join("target-file")
        };
        if link == ".sitepack" {
            std::fs::remove_dir(root.join(INTERNAL_DIR)).unwrap();
        }
        symlink(&target, root.join(link)).unwrap();
        let site_before = site_files(&root);

        let backup = crate::util::try_create(&root, site.out_dir().join("b.zip"), &[]);
        let restore = run([
            "restore".as_ref(),
            archive.as_os_str(),
            root.as_os_str(),
            "--yes".as_ref(),
            "--mode".as_ref(),
            "replace".as_ref(),
        ]);
        let status = run(["status".as_ref(), root.as_os_str()]);
        assert!(
            listing(&outside).is_empty(),
            "{link}: sitepack wrote {:?} through the link (create: {}, restore: {}, status: {})",
            listing(&outside),
            backup.stderr,
            restore.stderr,
            status.stderr
        );
        assert_eq!(site_files(&root), site_before, "{link}: the site changed");
        if link == ".sitepack/audit.jsonl" {
            // The log is a record, not the operation: the backup is written, and the
            // warning names the link it would not follow.
            assert_eq!(restore.code, 0, "{}", restore.stderr);
            assert_eq!(backup.code, 0, "{}", backup.stderr);
            assert!(
                backup.stderr.contains("audit.jsonl") && backup.stderr.contains("symbolic link"),
                "{}",
                backup.stderr
            );
        } else {
            // The restore could not keep its state safely, so it changed nothing.
            assert_ne!(restore.code, 0, "{link}: {}", restore.stderr);
            assert!(
                restore.stderr.contains("symbolic link"),
                "{link}: {}",
                restore.stderr
            );
        }
    }
}

/// `create` takes the site lock shared: it is refused while a restore, revert or
/// recovery holds it, and runs beside other backups.
#[test]
fn create_waits_for_no_restore_and_runs_beside_other_backups() {
    let site = clinic();
    let root = site.root();
    std::fs::create_dir_all(root.join(INTERNAL_DIR)).unwrap();
    let internal = Beneath::open(&root.join(INTERNAL_DIR)).unwrap();
    let out = site.out_dir().join("during-restore.zip");
    {
        let _restoring = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Exclusive)
            .unwrap()
            .unwrap();
        let refused = crate::util::try_create(&root, &out, &[]).expect(2);
        assert!(
            refused.stderr.contains("changing this site right now")
                && !refused.stderr.contains("restore was refused"),
            "{}",
            refused.stderr
        );
        assert!(!out.exists());
        // The refused backup is recorded, as every create is.
        let log = std::fs::read_to_string(root.join(".sitepack/audit.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "create", "{last}");
        assert_eq!(last["outcome"], "failed", "{last}");
    }
    let _other_backup = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Shared)
        .unwrap()
        .unwrap();
    create(&root, &out, &[]);
}
