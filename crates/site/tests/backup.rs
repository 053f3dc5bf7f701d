//! The backup entry point as a library caller meets it: under the site lock, and
//! recorded in the audit log whatever happens.

use std::path::Path;

use sitepack_format::{Beneath, INTERNAL_DIR};
use sitepack_site::{
    ArchiveOutput, AuditFilter, Details, LockKind, Operation, Outcome, SITE_LOCK_NAME, SiteError,
    SiteLock, create_backup, read_audit_log,
};
use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site};

fn demo_site(dir: &Path) -> Site {
    std::fs::create_dir_all(dir.join("settings")).unwrap();
    std::fs::write(
        dir.join("site.json"),
        r#"{"id": "demo", "name": "Demo", "url": "https://demo.example"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("settings/general.json"), r#"{"title": "Demo"}"#).unwrap();
    Site::open(dir).unwrap()
}

fn back_up(site: &Site, out: &Path) -> Result<sitepack_site::Backup, SiteError> {
    let output = ArchiveOutput::File {
        path: out,
        overwrite: Overwrite::Refuse,
    };
    create_backup(
        site,
        &CreateOptions::new("full".parse().unwrap()),
        output,
        &NoProgress,
    )
}

#[test]
fn a_backup_of_a_site_being_changed_is_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    let site = demo_site(&root);
    let internal = Beneath::open(&root)
        .unwrap()
        .create_dirs(INTERNAL_DIR)
        .unwrap();
    let out = dir.path().join("refused.zip");
    {
        // A restore holds the lock.
        let _restoring = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Exclusive)
            .unwrap()
            .unwrap();
        let error = back_up(&site, &out).unwrap_err();
        assert!(
            matches!(&error, SiteError::Busy { site } if *site == root),
            "{error}"
        );
        assert!(!out.exists());
    }
    let log = read_audit_log(&root, &AuditFilter::default()).unwrap();
    let [event] = &log.events[..] else {
        panic!("{:?}", log.events)
    };
    assert_eq!(event.operation(), Operation::Create);
    assert_eq!(event.outcome, Outcome::Failed);
    assert!(
        event
            .details
            .error()
            .is_some_and(|e| e.contains("changing this site right now")),
        "{event:?}"
    );

    // Other backups hold it shared, and do not stand in the way.
    let _other_backup = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Shared)
        .unwrap()
        .unwrap();
    let backup = back_up(&site, &out).unwrap();
    assert!(backup.audit_warning.is_none());
    let log = read_audit_log(&root, &AuditFilter::default()).unwrap();
    let Details::Create(details) = &log.events[1].details else {
        panic!("{:?}", log.events[1])
    };
    assert_eq!(log.events[1].outcome, Outcome::Ok);
    assert_eq!(details.archive_sha256, Some(backup.summary.archive_sha256));
    assert_eq!(details.output.as_deref(), out.to_str());
}
