//! Where and how the archive is written: nothing half-written, nothing overwritten by
//! accident, the same bytes to a file or a pipe, a summary for scripts, an audit event.

use std::process::Stdio;

use sitepack_format::Sha256;

use crate::util::{TIMESTAMP, TestSite, create, listing, read_archive, sitepack, try_create};

fn small_site() -> TestSite {
    let site = TestSite::new("out-test");
    site.write("settings/general.json", r#"{"title": "Shop"}"#);
    site.write("files/big.txt", "all work and no play\n".repeat(20_000));
    site
}

#[test]
fn an_existing_output_is_refused_without_force() {
    let site = small_site();
    let out = site.out_dir().join("b.zip");
    std::fs::write(&out, "precious").unwrap();
    let result = try_create(&site.root(), &out, &[]).expect(2);
    assert!(
        result.stderr.contains("already exists") && result.stderr.contains("--force"),
        "{}",
        result.stderr
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    assert_eq!(listing(&site.out_dir()), ["b.zip"]);

    create(&site.root(), &out, &["--force"]);
    assert!(read_archive(&out).contains_key("manifest.json"));
    assert_eq!(listing(&site.out_dir()), ["b.zip"]);
}

/// The archive holds the site's data: it is created 0600 whatever the umask, and a
/// replaced output is 0600 too.
#[test]
fn the_archive_is_private_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let site = small_site();
    let out = site.out_dir().join("b.zip");
    let with_umask_000 = |extra: &[&str]| {
        let status = std::process::Command::new("sh")
            .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_sitepack"))
            .arg("create")
            .arg(site.root())
            .arg("-o")
            .arg(&out)
            .args(extra)
            .current_dir(site.out_dir())
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(with_umask_000(&[]), 0o600);
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(with_umask_000(&["--force"]), 0o600);
}

#[test]
fn an_output_inside_the_site_is_refused() {
    let site = small_site();
    for out in [
        site.root().join("backup.zip"),
        site.root().join("files/backup.zip"),
    ] {
        let result = try_create(&site.root(), &out, &[]).expect(2);
        assert!(
            result.stderr.contains("is inside the site"),
            "{}",
            result.stderr
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_missing_output_directory_is_an_error() {
    let site = small_site();
    let out = site.out_dir().join("no/such/dir/b.zip");
    let result = try_create(&site.root(), &out, &[]).expect(2);
    assert!(
        result
            .stderr
            .contains("no/such/dir: cannot open the output directory"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_full_disk_leaves_nothing_behind() {
    // `ulimit -f` makes writes past 64 KiB fail with EFBIG, as a full disk would
    // (SIGXFSZ is ignored so that the write returns an error instead of killing).
    let site = small_site();
    let out_dir = site.out_dir();
    let out = out_dir.join("b.zip");
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec '{}' create '{}' -o '{}' --level 0",
        env!("CARGO_BIN_EXE_sitepack"),
        site.root().display(),
        out.display()
    );
    let output = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("b.zip: cannot write"), "{stderr}");
    assert_eq!(
        listing(&out_dir),
        Vec::<String>::new(),
        "a partial archive was left"
    );
    let audit = std::fs::read_to_string(site.root().join(".sitepack/audit.jsonl")).unwrap();
    assert!(audit.contains("\"outcome\":\"failed\""), "{audit}");
}

#[test]
fn standard_output_gets_the_same_bytes() {
    let site = small_site();
    let out = site.out_dir().join("b.zip");
    create(&site.root(), &out, &[]);
    let piped = sitepack()
        .args([
            "create".as_ref(),
            site.root().as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--timestamp".as_ref(),
            TIMESTAMP.as_ref(),
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        piped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(piped.stdout, std::fs::read(&out).unwrap());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        stderr.contains("sha256 "),
        "the summary goes to stderr: {stderr}"
    );
}

#[test]
fn a_closed_pipe_is_reported_honestly() {
    let site = small_site();
    let script = format!(
        "'{}' create '{}' -o - --level 0 | head -c 10 >/dev/null; echo \"status=${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_sitepack"),
        site.root().display()
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // An archive cut short is not a success, and says why.
    assert!(stdout.contains("status=2"), "{stdout} {stderr}");
    assert!(
        stderr.contains("<standard output>: cannot write"),
        "{stderr}"
    );
}

#[test]
fn json_summary_carries_the_trusted_digest() {
    let site = small_site();
    let out = site.out_dir().join("b.zip");
    let summary = create(&site.root(), &out, &["--json", "--label", "nightly"]).json();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(summary["archive_sha256"], Sha256::of(&bytes).to_string());
    assert_eq!(summary["archive_size"], bytes.len());
    assert_eq!(summary["entries"], 3);
    assert_eq!(summary["stats"]["tabs"], 1);
    assert_eq!(summary["stats"]["files"], 1);
    assert_eq!(summary["label"], "nightly");
    assert_eq!(summary["created_at"], TIMESTAMP);
    assert_eq!(summary["scope"]["kind"], "full");
    assert!(summary["output"].as_str().unwrap().ends_with("b.zip"));
}

#[test]
fn sitepack_state_is_never_archived_and_create_is_audited() {
    let site = small_site();
    site.write(".sitepack/lock", "pid 1");
    site.write(".sitepack/snapshots/old.zip", "x");
    let out = site.out_dir().join("b.zip");
    let summary = create(&site.root(), &out, &["--json"]).json();
    let names: Vec<String> = read_archive(&out).into_keys().collect();
    assert!(names.iter().all(|n| !n.contains(".sitepack")), "{names:?}");
    let audit = std::fs::read_to_string(site.root().join(".sitepack/audit.jsonl")).unwrap();
    let event: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(event["type"], "create");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["details"]["scope"], "full");
    assert_eq!(
        event["details"]["archive_sha256"],
        summary["archive_sha256"]
    );
    assert_eq!(event["details"]["stats"]["entries"], 3);
    assert!(event["actor"].as_str().is_some_and(|a| !a.is_empty()));
}

#[test]
fn json_and_stdout_archive_do_not_mix() {
    let site = small_site();
    let result = try_create(&site.root(), "-", &["--json"]).expect(2);
    assert!(result.stdout_bytes.is_empty());
    assert!(
        result.stderr.contains("use one or the other"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_secret_in_the_label_is_refused() {
    let site = small_site();
    site.write(
        "settings/integrations.json",
        r#"{"stripe": {"api_key": "sk_live_51LabelLeak"}}"#,
    );
    let out = site.out_dir().join("b.zip");
    let result = try_create(
        &site.root(),
        &out,
        &["--label", "rotate sk_live_51LabelLeak soon"],
    )
    .expect(2);
    assert!(
        result.stderr.contains("label contains a secret value"),
        "{}",
        result.stderr
    );
    assert!(
        !result.stderr.contains("sk_live_51LabelLeak"),
        "the error repeats the secret"
    );
    assert!(!out.exists());
}
