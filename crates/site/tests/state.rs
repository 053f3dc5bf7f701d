//! Opening a site for an operation as a library caller meets it: an interrupted restore is
//! recovered first, and a site another holder is changing is refused.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sitepack_format::{ArchivePath, Beneath, INTERNAL_DIR, Timestamp};
use sitepack_site::{
    Action, AuditFilter, Before, Interrupted, Journal, JournalChange, LockKind, Operation, Outcome,
    Places, RestoreMode, SITE_LOCK_NAME, SiteError, SiteLock, SiteRefusal, SiteState, access,
    read_audit_log,
};
use sitepack_writer::VerbatimZip;

const PATH: &str = "settings/general.json";
const BEFORE: &str = r#"{"title": "Before the restore"}"#;

fn demo_site(root: &Path) {
    std::fs::create_dir_all(root.join("settings")).unwrap();
    std::fs::write(
        root.join("site.json"),
        r#"{"id": "demo", "name": "Demo", "url": "https://demo.example"}"#,
    )
    .unwrap();
    std::fs::write(root.join(PATH), BEFORE).unwrap();
}

/// Leaves the site as a restore killed while applying leaves it, written the way the
/// restore writes it: `PATH` saved in the snapshot, the journal in state `applying`
/// naming it, then `PATH` replaced.
fn interrupt_a_restore(root: &Path, id: &str) {
    let places = Places::open(root).unwrap();
    let path: ArchivePath = PATH.parse().unwrap();
    let native = places.site_path(&path);
    let mode = std::fs::metadata(&native).unwrap().permissions().mode() & 0o7777;

    let snapshots = places
        .internal
        .create_dirs(Places::snapshots_dir())
        .unwrap();
    let snapshot = places.internal_path(&Places::snapshot(id));
    let spill = tempfile::tempdir().unwrap();
    let mut zip = VerbatimZip::new(
        BufWriter::new(
            snapshots
                .create_new_file(&format!("{id}.zip"), 0o600)
                .unwrap(),
        ),
        &snapshot,
        Timestamp::now(),
        1,
        spill.path(),
    );
    let stored = zip
        .add_file(
            &Places::snapshot_entry(&path),
            File::open(&native).unwrap(),
            &native,
        )
        .unwrap();
    zip.finish().unwrap().flush().unwrap();

    let mut journal = Journal::new(
        id.to_owned(),
        "backup.zip".to_owned(),
        stored.sha256,
        "full".parse().unwrap(),
        RestoreMode::Replace,
    );
    journal.changes.push(JournalChange {
        path,
        action: Action::Replace,
        before: Some(Before {
            size: stored.size,
            sha256: stored.sha256,
            mode,
        }),
        after: None,
    });
    journal.write(&places).unwrap();
    std::fs::write(&native, r#"{"title": "Half restored"}"#).unwrap();
}

#[test]
fn opening_a_site_recovers_an_interrupted_restore_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    demo_site(&root);
    interrupt_a_restore(&root, "20261122T080000Z-1");

    let opened = SiteState::open(&root, access::Read).unwrap();

    let recovered = opened
        .recovered
        .expect("the interrupted restore is recovered");
    assert_eq!(recovered.restore_id.as_deref(), Some("20261122T080000Z-1"));
    assert_eq!(recovered.interrupted, Interrupted::Restore);
    assert_eq!(recovered.paths_restored, 1);
    assert!(opened.pending.is_none());
    assert_eq!(std::fs::read_to_string(root.join(PATH)).unwrap(), BEFORE);
    // Nothing is left to recover: no journal, no snapshot.
    let internal = root.join(INTERNAL_DIR);
    assert!(!internal.join("restore").exists());
    assert!(!internal.join("snapshots").exists());
    let log = read_audit_log(&root, &AuditFilter::default()).unwrap();
    let [event] = &log.events[..] else {
        panic!("{:?}", log.events)
    };
    assert_eq!(event.operation(), Operation::Recover);
    assert_eq!(event.outcome, Outcome::Ok);

    // The next opening finds nothing to do.
    let opened = SiteState::open(&root, access::Change).unwrap();
    assert!(opened.recovered.is_none());
    assert_eq!(opened.held.root(), root);
}

#[test]
fn a_site_another_holder_is_changing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    demo_site(&root);
    interrupt_a_restore(&root, "20261122T080000Z-2");
    let internal = Beneath::open(&root)
        .unwrap()
        .create_dirs(INTERNAL_DIR)
        .unwrap();
    let holder = SiteLock::try_lock(&internal, SITE_LOCK_NAME, LockKind::Exclusive)
        .unwrap()
        .unwrap();

    let busy = |error: SiteError| {
        assert!(
            matches!(
                &error,
                SiteError::Refused { reason: SiteRefusal::Busy { site } } if *site == root
            ),
            "{error}"
        );
    };
    busy(SiteState::open(&root, access::Change).unwrap_err());
    busy(SiteState::open(&root, access::Create).unwrap_err());
    busy(SiteState::open(&root, access::Read).unwrap_err());
    // A backup leaves the refusal to its own (shared) lock, which records it.
    let opened = SiteState::open(&root, access::Backup).unwrap();
    assert!(opened.recovered.is_none());
    // Nothing was recovered under the other holder's feet.
    assert_ne!(std::fs::read_to_string(root.join(PATH)).unwrap(), BEFORE);

    drop(holder);
    let opened = SiteState::open(&root, access::Change).unwrap();
    assert_eq!(opened.recovered.unwrap().paths_restored, 1);
    assert_eq!(std::fs::read_to_string(root.join(PATH)).unwrap(), BEFORE);
}
