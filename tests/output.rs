//! What every command's output promises: a closed pipe ends it quietly, `--json` gives a
//! JSON document for failures too, `--quiet` prints nothing on success, `create` and
//! `validate` count the same ZIP entries, and progress bars are drawn only on a terminal.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::util::{Run, TestSite, create, on_terminal, run, sitepack};

/// Runs `sitepack ARGS…` with a standard output whose reader is already gone.
fn into_closed_pipe(args: &[&OsStr]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Run::from_command(sitepack().args(args).stdout(writer).stderr(Stdio::piped()))
}

#[test]
fn a_closed_standard_output_ends_every_command_quietly() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("shop.zip");
    create(&site.root(), &archive, &[]);
    let root = site.root();
    let target = site.out_dir().join("backups");
    run([
        "create".as_ref(),
        root.as_os_str(),
        "--to".as_ref(),
        target.as_os_str(),
    ])
    .expect(0);
    let commands: Vec<Vec<&OsStr>> = vec![
        vec!["stats".as_ref(), root.as_os_str(), "--json".as_ref()],
        vec!["stats".as_ref(), root.as_os_str()],
        vec!["validate".as_ref(), archive.as_os_str()],
        vec!["validate".as_ref(), archive.as_os_str(), "--json".as_ref()],
        vec!["preview".as_ref(), archive.as_os_str()],
        vec!["audit".as_ref(), root.as_os_str()],
        vec!["status".as_ref(), root.as_os_str()],
        vec!["list".as_ref(), target.as_os_str()],
        vec!["list".as_ref(), target.as_os_str(), "--json".as_ref()],
    ];
    for command in commands {
        let ended = into_closed_pipe(&command);
        assert_eq!(ended.code, 0, "{command:?}: {}", ended.stderr);
        assert_eq!(ended.stderr, "", "{command:?}");
    }
}

#[test]
fn with_json_a_failure_or_a_refusal_is_a_json_document_too() {
    let site = TestSite::demo();
    let missing = site.out_dir().join("nonexist");
    let failed = run(["stats".as_ref(), missing.as_os_str(), "--json".as_ref()]).expect(2);
    let document = failed.json();
    assert_eq!(document["error"]["kind"], "error", "{document}");
    assert_eq!(document["error"]["exit_code"], 2, "{document}");
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonexist"),
        "{document}"
    );
    assert!(failed.stderr.contains("nonexist"), "{}", failed.stderr);

    let refused = run(["keep".as_ref(), site.root().as_os_str(), "--json".as_ref()]).expect(1);
    let document = refused.json();
    assert_eq!(document["error"]["kind"], "refused", "{document}");
    assert_eq!(document["error"]["exit_code"], 1, "{document}");
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no restore is pending"),
        "{document}"
    );
}

#[test]
fn quiet_prints_nothing_on_success_but_what_json_asks_for() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("shop.zip");
    for quiet in ["-q", "--quiet"] {
        let created = run([
            "create".as_ref(),
            site.root().as_os_str(),
            "-o".as_ref(),
            archive.as_os_str(),
            "--force".as_ref(),
            quiet.as_ref(),
        ])
        .expect(0);
        assert_eq!(created.stdout, "", "{quiet}");
        assert!(archive.exists());
        let validated = run([quiet.as_ref(), "validate".as_ref(), archive.as_os_str()]).expect(0);
        assert_eq!(validated.stdout, "", "{quiet}");
    }
    let json = run([
        "stats".as_ref(),
        site.root().as_os_str(),
        "--json".as_ref(),
        "-q".as_ref(),
    ])
    .expect(0);
    assert!(json.json()["stats"].is_object(), "{}", json.stdout);
    // Errors still say why.
    let missing = site.out_dir().join("nonexist");
    let failed = run(["-q".as_ref(), "stats".as_ref(), missing.as_os_str()]).expect(2);
    assert!(failed.stderr.contains("nonexist"), "{}", failed.stderr);
}

#[test]
fn create_and_validate_count_the_same_zip_entries() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("shop.zip");
    let created = create(&site.root(), &archive, &[]);
    let validated = run(["validate".as_ref(), archive.as_os_str()]).expect(0);
    let report = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    let zip_entries = report["summary"]["entries"].as_u64().unwrap();
    let said = format!("{zip_entries} ZIP entries");
    assert!(created.stdout.contains(&said), "{}", created.stdout);
    assert!(validated.stdout.contains(&said), "{}", validated.stdout);
    let summary = run([
        "create".as_ref(),
        site.root().as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
        "--force".as_ref(),
        "--json".as_ref(),
    ])
    .expect(0)
    .json();
    assert_eq!(summary["zip_entries"], zip_entries, "{summary}");
}

#[test]
fn extract_into_an_existing_empty_directory_keeps_its_mode() {
    let site = TestSite::demo();
    let archive = site.out_dir().join("shop.zip");
    create(&site.root(), &archive, &[]);
    for mode in [0o700, 0o750] {
        let dir = site.out_dir().join(format!("private-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        run([
            "extract".as_ref(),
            archive.as_os_str(),
            "-o".as_ref(),
            dir.as_os_str(),
        ])
        .expect(0);
        let after = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(after, mode, "{}", dir.display());
        assert!(dir.join("manifest.json").exists());
    }
    // A new directory is 0755, as before.
    let new = site.out_dir().join("new");
    run([
        "extract".as_ref(),
        archive.as_os_str(),
        "-o".as_ref(),
        new.as_os_str(),
    ])
    .expect(0);
    assert_eq!(
        std::fs::metadata(&new).unwrap().permissions().mode() & 0o7777,
        0o755
    );
}

/// Regression: arguments the parser refuses printed nothing on standard output, even
/// with `--json`.
#[test]
fn with_json_a_usage_error_is_a_json_document_too() {
    for args in [
        &[
            "prune",
            "some-target",
            "--site",
            "BAD ID",
            "--keep-last",
            "1",
            "--json",
        ][..],
        &[
            "create",
            "some-site",
            "-o",
            "x.zip",
            "--scope",
            "bogus",
            "--json",
        ],
        &["validate", "x.zip", "--max-ratio", "abc", "--json"],
        &["restore", "--json"],
    ] {
        let failed = run(args).expect(2);
        let document = failed.json();
        assert_eq!(document["error"]["kind"], "usage", "{args:?}: {document}");
        assert_eq!(document["error"]["exit_code"], 2, "{args:?}: {document}");
        assert!(
            !failed.stderr.is_empty(),
            "{args:?}: the message is on stderr too"
        );
    }
    // Without --json, standard output stays empty; --help still prints help and exits 0.
    assert!(
        run(["validate", "x.zip", "--max-ratio", "abc"])
            .expect(2)
            .stdout
            .is_empty()
    );
    assert!(
        run(["validate", "--help"])
            .expect(0)
            .stdout
            .contains("--max-ratio")
    );
}

/// Progress bars appear only on a terminal, and `--no-progress` turns them off there.
#[test]
fn progress_bars_only_on_a_terminal() {
    let site = TestSite::new("progress");
    // Enough entries that the bar is drawn before the archive is done.
    for i in 0..200 {
        site.write(
            &format!("files/f{i:03}.txt"),
            format!("file {i}\n").repeat(4096),
        );
    }
    let out = site.out_dir();
    // The bar's message: "N/M entries" (no summary line has a slash in its count).
    let bar = regex::Regex::new(r"\d+/\d+ entries").unwrap();
    let root = site.root();
    let archives = [
        out.join("tty.zip"),
        out.join("off.zip"),
        out.join("pipe.zip"),
    ];
    let create = |archive: &std::path::Path, extra: &[&'static str]| -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "create".into(),
            root.clone().into(),
            "-o".into(),
            archive.into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        args
    };

    let shown = on_terminal(&borrowed(&create(&archives[0], &[])), "");
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        bar.is_match(&shown.stdout),
        "no bar on a terminal: {:?}",
        shown.stdout
    );
    assert!(shown.stdout.contains("sha256 "), "{:?}", shown.stdout);

    let off = on_terminal(&borrowed(&create(&archives[1], &["--no-progress"])), "");
    assert_eq!(off.code, 0, "{}", off.stdout);
    assert!(
        !bar.is_match(&off.stdout),
        "--no-progress: {:?}",
        off.stdout
    );
    assert!(off.stdout.contains("sha256 "), "{:?}", off.stdout);

    let piped = run(create(&archives[2], &[])).expect(0);
    assert!(
        !bar.is_match(&piped.stderr),
        "a bar in a pipe: {:?}",
        piped.stderr
    );
    assert!(!bar.is_match(&piped.stdout), "{:?}", piped.stdout);
}

fn borrowed(args: &[OsString]) -> Vec<&OsStr> {
    args.iter().map(OsString::as_os_str).collect()
}
