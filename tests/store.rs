//! Saved backups: `create --to TARGET`, `list`, `prune`, and `validate` / `preview` /
//! `restore` of a stored backup, in a local directory and in a real S3-compatible server
//! on loopback (`s3s-fs`, which checks signatures): wrong credentials, a missing bucket,
//! an unreachable server, an interrupted upload and a tampered object.

use std::path::Path;

use serde_json::Value;

use crate::util::s3::{BUCKET, S3Server};
use crate::util::{Run, TIMESTAMP, TestSite, run, site_files, tree};

/// `create SITE --to TARGET --timestamp T ARGS…` through `command`.
fn create_to(mut command: std::process::Command, site: &Path, target: &str, args: &[&str]) -> Run {
    command
        .arg("create")
        .arg(site)
        .args(["--to", target, "--json"])
        .args(args);
    Run::from_command(&mut command)
}

fn listed(mut command: std::process::Command, target: &str) -> Vec<Value> {
    command.args(["list", target, "--json"]);
    Run::from_command(&mut command).expect(0).json()["backups"]
        .as_array()
        .unwrap()
        .clone()
}

fn audit_events(site: &Path) -> Vec<Value> {
    run(["audit".as_ref(), site.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json()["events"]
        .as_array()
        .unwrap()
        .clone()
}

/// `len` bytes that do not compress (xorshift).
fn incompressible(len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Every regular file below `dir`.
fn files_below(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.extend(files_below(&entry.path()));
        } else {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

#[test]
fn a_backup_stored_in_a_directory_is_listed_and_read_back_as_stored() {
    let site = TestSite::demo();
    let target = site.out_dir().join("backups");
    let target_text = target.to_str().unwrap();
    let stored = create_to(
        crate::util::sitepack(),
        &site.root(),
        target_text,
        &[
            "--timestamp",
            TIMESTAMP,
            "--label",
            "before upgrade",
            "--scope",
            "module:notes",
        ],
    )
    .expect(0)
    .json();
    let name = stored["backup"]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        name,
        "acme-shop/20261122T083000Z-module-notes-before-upgrade.zip"
    );
    // The archive and its sidecar, and nothing else.
    let archive = target.join(&name);
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(target.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    assert_eq!(sidecar["size"], bytes.len());
    assert_eq!(sidecar["kind"], "manual");
    assert_eq!(sidecar["scope"]["kind"], "module");
    assert_eq!(sidecar["created_at"], TIMESTAMP);
    assert_eq!(files_below(&target).len(), 2);

    let backups = listed(crate::util::sitepack(), target_text);
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0], sidecar);
    let human = run(["list", target_text]).expect(0);
    assert!(human.stdout.contains(&name), "{}", human.stdout);
    assert!(human.stdout.contains("before upgrade"), "{}", human.stdout);

    // By file:// URL and by --from, the stored backup validates, previews and restores.
    let url = format!("file://{}", archive.display());
    let report = run(["validate", &url, "--json"]).expect(0).json();
    assert_eq!(report["archive"], url.as_str());
    assert_eq!(report["digest"], sidecar["sha256"]);
    run(["preview", "--from", target_text, &name]).expect(0);
    let restored = site.out_dir().join("restored");
    run([
        "restore",
        "--from",
        target_text,
        &name,
        restored.to_str().unwrap(),
        "--yes",
    ])
    .expect(0);
    assert_eq!(
        site_files(&restored)["modules/notes/notes.jsonl"],
        std::fs::read(site.root().join("modules/notes/notes.jsonl")).unwrap()
    );
    // The create is in the site's audit log, with where it went.
    let events = audit_events(&site.root());
    let last = events.last().unwrap();
    assert_eq!(last["type"], "create");
    assert_eq!(last["outcome"], "ok");
    assert_eq!(last["details"]["name"], name.as_str());
    assert_eq!(last["details"]["to"], target_text);
}

#[test]
fn a_stored_backup_that_was_changed_is_refused() {
    let site = TestSite::demo();
    let target = site.out_dir().join("backups");
    let stored = create_to(
        crate::util::sitepack(),
        &site.root(),
        target.to_str().unwrap(),
        &[],
    )
    .expect(0)
    .json();
    let name = stored["backup"]["name"].as_str().unwrap();
    let archive = target.join(name);
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&archive, &bytes).unwrap();
    let url = format!("file://{}", archive.display());
    // A digest mismatch is a verdict (exit 1), as with --expect-sha256.
    let refused = run(["validate", url.as_str()]).expect(1);
    assert!(
        refused
            .stderr
            .contains("does not match its recorded digest"),
        "{}",
        refused.stderr
    );
    // A preview reads the metadata only, and says so; `--against` (a restore plan) needs
    // the whole archive, which is downloaded and refused.
    let preview = run(["preview", url.as_str(), "--json"]).expect(0).json();
    assert_eq!(preview["data_checked"], false);
    let against = site.out_dir().join("sandbox");
    let refused = run([
        "preview",
        url.as_str(),
        "--against",
        against.to_str().unwrap(),
    ])
    .expect(1);
    assert!(
        refused
            .stderr
            .contains("does not match its recorded digest"),
        "{}",
        refused.stderr
    );
    // The same bytes as a plain file are checked by validate itself (and fail there too).
    run(["validate".as_ref(), archive.as_os_str()]).expect(1);
}

#[test]
fn a_wrong_sidecar_digest_is_a_mismatch_exit_1_however_the_backup_is_named() {
    let site = TestSite::demo();
    let target = site.out_dir().join("backups");
    let stored = create_to(
        crate::util::sitepack(),
        &site.root(),
        target.to_str().unwrap(),
        &[],
    )
    .expect(0)
    .json();
    let name = stored["backup"]["name"].as_str().unwrap();
    let archive = target.join(name);
    // The archive is intact; the digest recorded beside it is not its digest.
    let sidecar = target.join(format!("{name}.json"));
    let recorded = stored["backup"]["sha256"].as_str().unwrap();
    let wrong = "0".repeat(64);
    let text = std::fs::read_to_string(&sidecar).unwrap();
    std::fs::write(&sidecar, text.replace(recorded, &wrong)).unwrap();

    let url = format!("file://{}", archive.display());
    let target_text = target.to_str().unwrap();
    let mismatches: [Vec<&str>; 4] = [
        vec!["validate", archive.to_str().unwrap()],
        vec!["validate", url.as_str()],
        vec!["validate", "--from", target_text, name],
        vec![
            "validate",
            archive.to_str().unwrap(),
            "--expect-sha256",
            wrong.as_str(),
        ],
    ];
    for command in mismatches {
        let report = run(command.iter().chain(&["--json"])).expect(1).json();
        assert_eq!(report["valid"], false, "{command:?}: {report}");
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "ARCHIVE_DIGEST_MISMATCH"),
            "{command:?}: {report}"
        );
    }
    let sandbox = site.out_dir().join("sandbox");
    for archive_arg in [archive.to_str().unwrap(), url.as_str()] {
        let refused = run(["restore", archive_arg, sandbox.to_str().unwrap(), "--yes"]).expect(1);
        assert!(
            refused
                .stderr
                .contains("does not match its recorded digest"),
            "{}",
            refused.stderr
        );
        assert!(!sandbox.exists(), "nothing was restored");
    }
    // A file with no sidecar beside it is checked by itself.
    let copy = site.out_dir().join("copy.zip");
    std::fs::copy(&archive, &copy).unwrap();
    run(["validate".as_ref(), copy.as_os_str()]).expect(0);
}

#[test]
fn a_backup_stored_in_s3_is_listed_validated_previewed_and_restored() {
    let server = S3Server::start();
    let site = TestSite::demo();
    let target = format!("s3://{BUCKET}/site-backups");
    let stored = create_to(server.sitepack(), &site.root(), &target, &["--label", "s3"])
        .expect(0)
        .json();
    let name = stored["backup"]["name"].as_str().unwrap().to_owned();
    let stored_size = stored["backup"]["size"].as_u64().unwrap();
    // On the server: the archive and its sidecar, under the prefix.
    let on_disk = server
        .data_dir()
        .join(BUCKET)
        .join("site-backups")
        .join(&name);
    assert_eq!(std::fs::metadata(&on_disk).unwrap().len(), stored_size);

    let backups = listed(server.sitepack(), &target);
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0]["name"], name.as_str());
    assert_eq!(backups[0]["sha256"], stored["backup"]["sha256"]);
    let mut other_site = server.sitepack();
    other_site.args(["list", &target, "--site", "other-site", "--json"]);
    let other = Run::from_command(&mut other_site).expect(0).json();
    assert_eq!(other["backups"], serde_json::json!([]));

    let url = format!("{target}/{name}");
    let mut validate = server.sitepack();
    validate.args(["validate", &url, "--json"]);
    let report = Run::from_command(&mut validate).expect(0);
    assert_eq!(report.json()["digest"], stored["backup"]["sha256"]);
    assert!(report.stderr.contains("fetched"), "{}", report.stderr);

    let mut preview = server.sitepack();
    preview.args(["preview", "--from", &target, &name, "--json"]);
    let preview = Run::from_command(&mut preview).expect(0).json();
    assert_eq!(preview["manifest"]["site"]["id"], "acme-shop");
    assert_eq!(preview["archive"], name.as_str());

    let restored = site.out_dir().join("from-s3");
    let mut restore = server.sitepack();
    restore.args(["restore", &url, restored.to_str().unwrap(), "--yes"]);
    Run::from_command(&mut restore).expect(0);
    // The restore records the backup by its URL, with the digest the sidecar vouches for.
    let restored_event = audit_events(&restored)
        .into_iter()
        .rfind(|e| e["type"] == "restore")
        .unwrap();
    assert_eq!(restored_event["details"]["archive"], url.as_str());
    assert_eq!(
        restored_event["details"]["archive_sha256"],
        stored["backup"]["sha256"]
    );
    let original = tree(&site.root());
    let restored_tree = tree(&restored);
    // Everything but the redacted documents comes back byte for byte.
    for path in [
        "modules/notes/notes.jsonl",
        "files/media/café-logo.png",
        "users/u-ada.json",
    ] {
        assert_eq!(restored_tree.get(path), original.get(path), "{path}");
    }
}

#[test]
fn wrong_credentials_a_missing_bucket_and_a_dead_server_fail_clearly_and_list_nothing() {
    let server = S3Server::start();
    let site = TestSite::demo();
    let target = format!("s3://{BUCKET}/x");

    let mut wrong = server.sitepack();
    wrong.env("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    let failed = create_to(wrong, &site.root(), &target, &[]).expect(2);
    assert!(
        failed.stderr.contains("refused the credentials"),
        "{}",
        failed.stderr
    );

    // (s3s-fs makes a bucket on the first upload into it, unlike S3: ask for a listing.)
    let mut missing = server.sitepack();
    missing.args(["list", "s3://no-such-bucket"]);
    let failed = Run::from_command(&mut missing).expect(2);
    assert!(
        failed.stderr.contains("bucket does not exist"),
        "{}",
        failed.stderr
    );

    let mut dead = server.sitepack();
    dead.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let failed = create_to(dead, &site.root(), &target, &[]).expect(2);
    assert!(
        failed.stderr.contains("cannot be reached"),
        "{}",
        failed.stderr
    );

    assert!(listed(server.sitepack(), &target).is_empty());
    assert!(files_below(&server.data_dir().join(BUCKET)).is_empty());
    // Each failure is in the site's audit log, with its error.
    let events = audit_events(&site.root());
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "create" && e["outcome"] == "failed")
        .collect();
    assert_eq!(failures.len(), 2, "{events:?}");
    assert!(
        failures[0]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("credentials")
    );
}

#[test]
fn an_interrupted_upload_is_aborted_on_the_server_and_nothing_is_listed() {
    let server = S3Server::start();
    let site = TestSite::demo();
    // 20 MB that do not compress: a multipart upload of three parts.
    let noise = incompressible(20_000_000);
    site.write("files/video.bin", &noise);
    let target = format!("s3://{BUCKET}/big");
    let mut interrupted = server.sitepack();
    interrupted.env("SITEPACK_FAILPOINT", "upload:2:error");
    let failed = create_to(interrupted, &site.root(), &target, &[]).expect(2);
    assert!(
        failed.stderr.contains("injected failure"),
        "{}",
        failed.stderr
    );
    assert!(listed(server.sitepack(), &target).is_empty());
    // No object, no sidecar and no uploaded part is left on the server.
    assert_eq!(files_below(server.data_dir()), Vec::<String>::new());

    // Uninterrupted, the same upload completes and is listed.
    create_to(server.sitepack(), &site.root(), &target, &[]).expect(0);
    let backups = listed(server.sitepack(), &target);
    assert_eq!(backups.len(), 1);
    assert!(backups[0]["size"].as_u64().unwrap() > 20_000_000);
}

#[test]
fn prune_in_s3_keeps_what_the_rules_say_and_a_dry_run_removes_nothing() {
    let server = S3Server::start();
    let site = TestSite::demo();
    let target = format!("s3://{BUCKET}");
    for time in [
        "2026-11-01T10:00:00Z",
        "2026-11-02T09:00:00Z",
        "2026-11-02T18:00:00Z",
        "2026-11-03T08:00:00Z",
    ] {
        create_to(
            server.sitepack(),
            &site.root(),
            &target,
            &["--timestamp", time],
        )
        .expect(0);
    }
    let prune = |args: &[&str]| {
        let mut command = server.sitepack();
        command
            .args(["prune", &target, "--site", "acme-shop", "--json"])
            .args(args);
        Run::from_command(&mut command)
    };
    // Manual backups are never pruned without --include-manual.
    let untouched = prune(&["--keep-last", "1"]).expect(0).json();
    assert!(
        untouched["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["keep"] == true)
    );
    assert_eq!(listed(server.sitepack(), &target).len(), 4);

    let dry = prune(&["--keep-daily", "2", "--include-manual", "--dry-run"])
        .expect(0)
        .json();
    let kept: Vec<(String, bool)> = dry["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["backup"]["created_at"].as_str().unwrap().to_owned(),
                d["keep"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("2026-11-01T10:00:00Z".to_owned(), false),
            ("2026-11-02T09:00:00Z".to_owned(), false),
            ("2026-11-02T18:00:00Z".to_owned(), true),
            ("2026-11-03T08:00:00Z".to_owned(), true),
        ]
    );
    assert_eq!(listed(server.sitepack(), &target).len(), 4);

    let site_dir = site.root();
    prune(&[
        "--keep-daily",
        "2",
        "--include-manual",
        "--site-dir",
        site_dir.to_str().unwrap(),
    ])
    .expect(0);
    let event = audit_events(&site.root()).pop().unwrap();
    assert_eq!(event["type"], "prune");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["details"]["kept"], 2);
    assert_eq!(event["details"]["removed"].as_array().unwrap().len(), 2);
    let left: Vec<String> = listed(server.sitepack(), &target)
        .iter()
        .map(|b| b["created_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["2026-11-02T18:00:00Z", "2026-11-03T08:00:00Z"]);
    // The removed archives are gone from the server too, not only their sidecars.
    assert_eq!(files_below(&server.data_dir().join(BUCKET)).len(), 4);

    let no_rule = prune(&[]).expect(2);
    assert!(no_rule.stderr.contains("--keep"), "{}", no_rule.stderr);
}

/// The first number in "fetched N of M bytes" on standard error.
fn fetched(stderr: &str) -> u64 {
    let at = stderr.find("fetched ").expect("says how much it fetched") + "fetched ".len();
    stderr[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn preview_and_validate_no_data_of_an_s3_object_fetch_only_its_metadata() {
    let server = S3Server::start();
    let site = TestSite::demo();
    let noise = incompressible(12_000_000);
    site.write("files/video.bin", &noise);
    let target = format!("s3://{BUCKET}/ranges");
    let stored = create_to(server.sitepack(), &site.root(), &target, &[])
        .expect(0)
        .json();
    let name = stored["backup"]["name"].as_str().unwrap();
    let archive_size = stored["backup"]["size"].as_u64().unwrap();
    let url = format!("{target}/{name}");

    let mut preview = server.sitepack();
    preview.args(["preview", &url, "--json"]);
    let preview = Run::from_command(&mut preview).expect(0);
    let shown = preview.json();
    assert_eq!(shown["data_checked"], false);
    assert_eq!(shown["manifest"]["site"]["id"], "acme-shop");
    assert!(shown["manifest"]["counts"]["file_bytes"].as_u64().unwrap() > 12_000_000);
    assert!(fetched(&preview.stderr) < 512 * 1024, "{}", preview.stderr);
    assert!(archive_size > 12_000_000);

    let mut metadata = server.sitepack();
    metadata.args(["validate", &url, "--no-data", "--json"]);
    let metadata = Run::from_command(&mut metadata).expect(0);
    let report = metadata.json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["data_checked"], false);
    assert_eq!(report["digest"], stored["backup"]["sha256"]);
    assert!(
        fetched(&metadata.stderr) < 512 * 1024,
        "{}",
        metadata.stderr
    );

    // A changed byte in the big file's data: --no-data does not read it, a full validate
    // (which downloads and checks the sidecar's digest) refuses the object.
    let object = server.data_dir().join(BUCKET).join("ranges").join(name);
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[5_000_000] ^= 1;
    std::fs::write(&object, &bytes).unwrap();
    let mut metadata = server.sitepack();
    metadata.args(["validate", &url, "--no-data"]);
    Run::from_command(&mut metadata).expect(0);
    let mut full = server.sitepack();
    full.args(["validate", &url]);
    let full = Run::from_command(&mut full).expect(1);
    assert!(full.stderr.contains("recorded digest"), "{}", full.stderr);

    // A changed name in the central directory is metadata: --no-data finds it.
    let at = bytes
        .windows(b"manifest.json".len())
        .rposition(|w| w == b"manifest.json")
        .unwrap();
    bytes[at] = b'M';
    std::fs::write(&object, &bytes).unwrap();
    let mut metadata = server.sitepack();
    metadata.args(["validate", &url, "--no-data", "--json"]);
    let broken = Run::from_command(&mut metadata).expect(1).json();
    assert_eq!(broken["valid"], false);
}

#[test]
fn validate_no_data_of_a_local_archive_checks_the_metadata_only() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("a.zip");
    crate::util::create(&site.root(), &archive, &[]);
    let report = run([
        "validate".as_ref(),
        archive.as_os_str(),
        "--no-data".as_ref(),
        "--json".as_ref(),
    ])
    .expect(0)
    .json();
    assert_eq!(report["data_checked"], false);
    assert_eq!(report["valid"], true);
    let human = run([
        "validate".as_ref(),
        archive.as_os_str(),
        "--no-data".as_ref(),
    ])
    .expect(0);
    assert!(
        human.stdout.contains("entry data not read"),
        "{}",
        human.stdout
    );
    let full = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    assert_eq!(full["data_checked"], true);
    assert_eq!(full["digest"], report["digest"]);
}
