//! Where backups may be stored: never inside the site they back up (each backup would
//! hold the ones before it, and a replace restore would delete them), never in a
//! directory that depends on where cron runs; a new target directory is said, not made
//! silently. Regression tests for the adversarial review of "Broken promises I/II".

use std::path::Path;

use serde_json::Value;

use crate::util::{TestSite, listing, run};

fn audit_events(site: &Path) -> Vec<Value> {
    std::fs::read_to_string(site.join(".sitepack/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn bakery() -> TestSite {
    let site = TestSite::new("corner-bakery");
    site.write("settings/general.json", r#"{"title": "Corner Bakery"}"#);
    site.write("files/menu.txt", "rye, spelt\n");
    site
}

#[test]
fn a_target_inside_the_site_is_refused_however_it_is_named() {
    let site = bakery();
    let root = site.root();
    let link = site.out_dir().join("shop-link");
    std::os::unix::fs::symlink(&root, &link).unwrap();
    let relative_from_out = "../site/stash/deeper".to_owned();
    for target in [
        root.join("backups").display().to_string(),
        link.join("backups").display().to_string(),
        format!("file://{}", root.join("files/archive").display()),
        relative_from_out,
    ] {
        let refused = crate::util::sitepack()
            .current_dir(site.out_dir())
            .args([
                "create".as_ref(),
                root.as_os_str(),
                "--to".as_ref(),
                target.as_ref(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{target}: {stderr}");
        assert!(stderr.contains("inside the site"), "{target}: {stderr}");
        assert_eq!(
            listing(&root),
            [".sitepack", "files", "settings", "site.json"],
            "{target}: something was written into the site"
        );
        let last = audit_events(&root).pop().unwrap();
        assert_eq!(
            (last["type"].as_str(), last["outcome"].as_str()),
            (Some("create"), Some("failed")),
            "{last}"
        );
    }
    // And so is an automatic backup configured into the site.
    site.write(
        ".sitepack/config.toml",
        format!(
            "[auto]\ntarget = \"{}\"\nschedule = \"daily\"\n",
            root.join("bk").display()
        ),
    );
    let refused = run(["auto".as_ref(), "run".as_ref(), root.as_os_str()]).expect(2);
    assert!(
        refused.stderr.contains("inside the site"),
        "{}",
        refused.stderr
    );
    assert!(!root.join("bk").exists());
}

#[test]
fn a_relative_target_in_the_config_is_refused_and_a_new_target_directory_is_said() {
    let site = bakery();
    let root = site.root();
    site.write(
        ".sitepack/config.toml",
        "[auto]\ntarget = \"nightly-backups\"\nschedule = \"daily\"\n",
    );
    let refused = crate::util::sitepack()
        .current_dir(site.out_dir())
        .args(["auto".as_ref(), "run".as_ref(), root.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("relative directory"), "{stderr}");
    assert!(!site.out_dir().join("nightly-backups").exists());

    let target = site.out_dir().join("new-target");
    let made = run([
        "create".as_ref(),
        root.as_os_str(),
        "--to".as_ref(),
        target.as_os_str(),
    ])
    .expect(0);
    assert!(
        made.stderr
            .contains("did not exist: it was created as a new target directory"),
        "{}",
        made.stderr
    );
    // The second backup into it says nothing of the kind.
    let again = run([
        "create".as_ref(),
        root.as_os_str(),
        "--to".as_ref(),
        target.as_os_str(),
        "--label".as_ref(),
        "second".as_ref(),
    ])
    .expect(0);
    assert!(!again.stderr.contains("did not exist"), "{}", again.stderr);
}
