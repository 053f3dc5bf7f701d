//! A mistyped SITE or TARGET is an error (exit 2) naming the path, never an empty
//! success; a restore into a directory that does not exist says in its plan that it makes
//! a new directory.

use std::ffi::OsStr;

use crate::util::{Run, TestSite, create, listing, run};

#[test]
fn a_missing_site_or_target_directory_exits_2_naming_it() {
    let scratch = TestSite::demo();
    let out = scratch.out_dir();
    let missing = out.join("nonexist");
    let missing = missing.as_os_str();
    let new_archive = out.join("x.zip");
    let commands: Vec<Vec<&OsStr>> = vec![
        vec!["status".as_ref(), missing],
        vec!["status".as_ref(), missing, "--json".as_ref()],
        vec!["keep".as_ref(), missing],
        vec!["revert".as_ref(), missing],
        vec!["audit".as_ref(), missing],
        vec!["stats".as_ref(), missing],
        vec![
            "create".as_ref(),
            missing,
            "-o".as_ref(),
            new_archive.as_os_str(),
        ],
        vec!["list".as_ref(), missing],
        vec!["list".as_ref(), missing, "--json".as_ref()],
        vec![
            "prune".as_ref(),
            missing,
            "--site".as_ref(),
            "acme-shop".as_ref(),
            "--keep-last".as_ref(),
            "1".as_ref(),
        ],
        vec![
            "validate".as_ref(),
            "--from".as_ref(),
            missing,
            "acme-shop/20261122T083000Z-full.zip".as_ref(),
        ],
        vec![
            "restore".as_ref(),
            "--from".as_ref(),
            missing,
            "acme-shop/20261122T083000Z-full.zip".as_ref(),
            out.as_os_str(),
            "--yes".as_ref(),
        ],
    ];
    for command in commands {
        let failed = run(&command);
        assert_eq!(
            failed.code, 2,
            "{command:?}\n{}{}",
            failed.stdout, failed.stderr
        );
        assert!(
            failed.stderr.contains("nonexist"),
            "{command:?}: {}",
            failed.stderr
        );
        assert!(
            !failed.stdout.contains("no restore pending") && !failed.stdout.contains("no backups"),
            "{command:?}: {}",
            failed.stdout
        );
    }
    assert!(
        !out.join("nonexist").exists(),
        "nothing made at a mistyped path"
    );
}

#[test]
fn a_restore_into_a_new_directory_says_so_in_its_plan() {
    let source = TestSite::demo();
    let out = source.out_dir();
    let archive = out.join("shop.zip");
    create(&source.root(), &archive, &[]);
    let new_site = out.join("newsite");
    let restore = |extra: &[&str]| -> Run {
        let mut args: Vec<&OsStr> = vec![
            "restore".as_ref(),
            archive.as_os_str(),
            new_site.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        run(args)
    };

    let dry = restore(&["--dry-run"]).expect(0);
    assert!(
        dry.stdout.contains("a new directory, made by this restore"),
        "{}",
        dry.stdout
    );
    assert!(!new_site.exists(), "a dry run makes nothing");
    let preview = run([
        "preview".as_ref(),
        archive.as_os_str(),
        "--against".as_ref(),
        new_site.as_os_str(),
    ])
    .expect(0);
    assert!(
        preview
            .stdout
            .contains("a new directory the restore would make"),
        "{}",
        preview.stdout
    );
    assert!(!new_site.exists(), "a preview makes nothing");

    let done = restore(&["--yes"]).expect(0);
    assert!(
        done.stdout
            .contains("a new directory, made by this restore"),
        "{}",
        done.stdout
    );
    assert!(listing(&new_site).contains(&"site.json".to_owned()));

    // Once made, it is a site like any other.
    let again = restore(&["--dry-run"]);
    assert!(
        !again.stdout.contains("a new directory"),
        "{}",
        again.stdout
    );
}
