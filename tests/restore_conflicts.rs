//! A restore never leaves a site that cannot be backed up, and never plans what it cannot
//! apply: two names that differ only by case (or Unicode case folding), and a file where
//! the archive needs a directory (or the reverse) that the restore would keep, are refused
//! with both paths named, and nothing changes. Where the restore deletes the site's side
//! (replace mode, inside the scope) it is planned and applied. Regression tests for "a
//! merge restore succeeded silently and every later create failed".

use std::path::Path;

use crate::util::{TestSite, create, run, tree};

/// Content valid in any file, `.json` documents included.
const FROM_ARCHIVE: &str = "\"from the archive\"\n";

fn restore(archive: &Path, root: &Path, extra: &[&str]) -> crate::util::Run {
    let mut args = vec![
        "restore".as_ref(),
        archive.as_os_str(),
        root.as_os_str(),
        "--yes".as_ref(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(args)
}

/// A library site whose backup holds `archive_path`; the target (a copy of it without
/// that path) gets `site_path` instead.
fn pair(archive_path: &str, site_path: &str) -> (TestSite, std::path::PathBuf) {
    let source = TestSite::new("north-library");
    source.write("settings/general.json", r#"{"title": "North Library"}"#);
    source.write(archive_path, FROM_ARCHIVE);
    source.write("files/keep/catalogue.txt", "catalogue\n");
    let archive = source.out_dir().join("backup.zip");
    create(&source.root(), &archive, &[]);
    let target = TestSite::new("north-library");
    target.write("settings/general.json", r#"{"title": "North Library"}"#);
    target.write(site_path, "\"already in the site\"\n");
    target.write("files/keep/catalogue.txt", "catalogue\n");
    // Keep the archive beside the target (the source goes away).
    let kept = target.out_dir().join("backup.zip");
    std::fs::copy(&archive, &kept).unwrap();
    (target, kept)
}

#[test]
fn names_that_would_collide_by_case_are_refused_in_merge_mode() {
    let cases = [
        (
            "files/guides/Opening-Hours.txt",
            "files/guides/opening-hours.txt",
        ),
        // Directories collide too, and so do non-ASCII names under case folding.
        ("files/Maps/floor-1.png", "files/maps/floor-2.png"),
        (
            "files/\u{c9}v\u{e9}nements/a.txt",
            "files/\u{e9}v\u{e9}nements/b.txt",
        ),
        (
            "modules/events/Calendar.json",
            "modules/events/calendar.json",
        ),
    ];
    for (archive_path, site_path) in cases {
        let (target, archive) = pair(archive_path, site_path);
        let root = target.root();
        let before = tree(&root);
        let refused = restore(&archive, &root, &[]).expect(1);
        assert!(
            refused
                .stderr
                .contains("names that differ only by case or Unicode form"),
            "{archive_path}: {}",
            refused.stderr
        );
        // Each is named down to its component that collides with the other's (both
        // paths share `files/` or `modules/events/`, so a shared part proves nothing).
        let colliding = |name: &str, other: &str| {
            let mut parts = Vec::new();
            for (part, other_part) in name.split('/').zip(other.split('/')) {
                parts.push(part);
                if part != other_part {
                    break;
                }
            }
            parts.join("/")
        };
        for (name, other) in [(archive_path, site_path), (site_path, archive_path)] {
            assert!(
                refused.stderr.contains(&colliding(name, other)),
                "{name} is not named: {}",
                refused.stderr
            );
        }
        assert_eq!(tree(&root), before, "{archive_path}: the site changed");
        // The dry run and preview say the same before anything is tried.
        let dry = restore(&archive, &root, &["--dry-run"]);
        assert_eq!(dry.code, 1, "{archive_path}: {}", dry.stderr);
        // The site can still be backed up.
        create(&root, &target.out_dir().join("after.zip"), &[]);
    }
}

#[test]
fn a_full_replace_restore_deletes_the_colliding_name_and_the_site_stays_backupable() {
    let (target, archive) = pair(
        "files/guides/Opening-Hours.txt",
        "files/guides/opening-hours.txt",
    );
    let root = target.root();
    let before = tree(&root);
    restore(&archive, &root, &["--mode", "replace"]).expect(0);
    assert!(root.join("files/guides/Opening-Hours.txt").exists());
    assert!(!root.join("files/guides/opening-hours.txt").exists());
    create(&root, &target.out_dir().join("after.zip"), &[]);
    run(["revert".as_ref(), root.as_os_str()]).expect(0);
    assert_eq!(tree(&root), before);
}

#[test]
fn a_file_where_the_archive_needs_a_directory_or_the_reverse_is_planned_or_refused() {
    // (archive path, site path): the site's path is a file where the archive needs a
    // directory, or a directory (holding a file) where the archive has a file.
    let cases = [
        ("files/handouts/week-1.pdf", "files/handouts"),
        ("files/handouts", "files/handouts/week-1.pdf"),
        ("files/a/b/c/deep.txt", "files/a/b"),
    ];
    for (archive_path, site_path) in cases {
        // Merge keeps the site's path: refused, both named, nothing changed.
        let (target, archive) = pair(archive_path, site_path);
        let root = target.root();
        let before = tree(&root);
        let refused = restore(&archive, &root, &[]).expect(1);
        // The file is the shorter path, whichever side holds it.
        let (file, below) = if archive_path.len() < site_path.len() {
            (archive_path, site_path)
        } else {
            (site_path, archive_path)
        };
        assert!(
            refused
                .stderr
                .contains(&format!("a file {file} and a path below it, {below}")),
            "{archive_path}: {}",
            refused.stderr
        );
        assert_eq!(
            tree(&root),
            before,
            "{archive_path}: merge changed the site"
        );

        // Replace deletes it first, under the snapshot; revert gives it back.
        restore(&archive, &root, &["--mode", "replace"]).expect(0);
        assert_eq!(
            std::fs::read_to_string(root.join(archive_path)).unwrap(),
            FROM_ARCHIVE
        );
        create(&root, &target.out_dir().join("after.zip"), &[]);
        run(["revert".as_ref(), root.as_os_str()]).expect(0);
        assert_eq!(tree(&root), before, "{archive_path}: revert");
    }
}

#[test]
fn a_conflict_outside_the_archives_scope_is_refused_even_in_replace_mode() {
    // A user archive brings files/users/u-ben/notes/a.txt; the site has a file
    // files/users/u-ben/notes? No: the conflicting file lies outside the user's scope.
    let source = TestSite::new("north-library");
    source.write("users/u-ben.json", r#"{"id": "u-ben", "name": "Ben"}"#);
    source.write("files/users/u-ben/notes/a.txt", "note\n");
    let archive = source.out_dir().join("ben.zip");
    create(&source.root(), &archive, &["--scope", "user:u-ben"]);
    let target = TestSite::new("north-library");
    target.write("users/u-ben.json", r#"{"id": "u-ben", "name": "Ben"}"#);
    // `files/users/U-BEN/x` is not u-ben's (not a valid user name): outside the scope.
    target.write("files/users/U-BEN/x.txt", "someone else's\n");
    let root = target.root();
    let before = tree(&root);
    let refused = restore(&archive, &root, &["--mode", "replace"]).expect(1);
    assert!(
        refused.stderr.contains("U-BEN") && refused.stderr.contains("u-ben"),
        "{}",
        refused.stderr
    );
    assert_eq!(tree(&root), before);
}

/// Regression: a directory holding no file where the archive has a file passed the plan
/// (the site's tree has only files) and failed half way through the restore.
#[test]
fn an_empty_directory_where_the_archive_has_a_file_is_refused_by_the_plan() {
    let source = TestSite::new("north-library");
    source.write("files/rules/loans.txt", FROM_ARCHIVE);
    let archive = source.out_dir().join("backup.zip");
    create(&source.root(), &archive, &[]);
    let target = TestSite::new("north-library");
    std::fs::create_dir_all(target.root().join("files/rules/loans.txt/drafts")).unwrap();
    let root = target.root();
    let before = tree(&root);
    for mode in ["merge", "replace"] {
        for extra in [&["--dry-run"][..], &[][..]] {
            let args = [&["--mode", mode][..], extra].concat();
            let refused = restore(&archive, &root, &args).expect(1);
            assert!(
                refused
                    .stderr
                    .contains("files/rules/loans.txt is a directory"),
                "{mode} {extra:?}: {}",
                refused.stderr
            );
        }
        assert_eq!(tree(&root), before, "{mode}: the site changed");
    }
}
