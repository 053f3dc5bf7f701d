//! `sitepack audit`: listing the site's audit log, whatever state it is in.

use std::ffi::OsStr;

use crate::util::{Run, TestSite, run, try_create};

/// `sitepack audit SITE ARGS…`.
fn audit(site: &TestSite, args: &[&str]) -> Run {
    let root = site.root();
    let mut command = vec![OsStr::new("audit"), root.as_os_str()];
    command.extend(args.iter().map(OsStr::new));
    run(command)
}

/// One event line as sitepack writes it.
fn event(time: &str, kind: &str, outcome: &str, details: &serde_json::Value) -> String {
    serde_json::json!({
        "time": time, "type": kind, "actor": "ada", "outcome": outcome, "details": details,
    })
    .to_string()
}

/// The event lines of human output (the time column starts each one).
fn event_lines(run: &Run) -> Vec<&str> {
    run.stdout.lines().filter(|l| l.starts_with("20")).collect()
}

#[test]
fn a_successful_and_a_failed_create_are_listed_in_order() {
    let site = TestSite::new("audited");
    site.write("settings/general.json", "{}");
    let good = site.out_dir().join("good.zip");
    let summary = try_create(&site.root(), &good, &["--json"])
        .expect(0)
        .json();
    let missing = site.out_dir().join("no-such-dir/bad.zip");
    let failed = try_create(&site.root(), &missing, &[]).expect(2);
    assert!(failed.stderr.contains("no-such-dir"), "{}", failed.stderr);

    let listed = audit(&site, &[]).expect(0);
    assert!(listed.stderr.is_empty(), "{}", listed.stderr);
    let lines = event_lines(&listed);
    assert_eq!(lines.len(), 2, "{}", listed.stdout);
    let sha = summary["archive_sha256"].as_str().unwrap();
    assert!(lines[0].contains("  create   ok       "), "{}", lines[0]);
    assert!(lines[0].contains("scope full"), "{}", lines[0]);
    assert!(
        lines[0].contains(&good.display().to_string()),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(&format!("sha256 {}…", &sha[..12])),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("2 entries"), "{}", lines[0]);
    assert!(lines[1].contains("  create   failed   "), "{}", lines[1]);
    assert!(
        lines[1].contains(&missing.display().to_string()),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("error: "), "{}", lines[1]);

    let json = audit(&site, &["--json"]).expect(0).json();
    assert_eq!(json["site"], site.root().display().to_string());
    assert_eq!(json["matched"], 2);
    assert_eq!(json["bad_lines"], serde_json::json!([]));
    assert_eq!(json["bad_line_count"], 0);
    let events = json["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    for (event, outcome) in events.iter().zip(["ok", "failed"]) {
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["time", "type", "actor", "outcome", "details"]);
        assert_eq!(event["type"], "create");
        assert_eq!(event["outcome"], outcome);
        assert!(!event["actor"].as_str().unwrap().is_empty());
    }
    assert_eq!(events[0]["details"]["archive_sha256"], sha);
    assert_eq!(events[0]["details"]["output"], good.display().to_string());
    assert!(events[1]["details"]["error"].is_string());
    assert!(events[0]["time"].as_str().unwrap() <= events[1]["time"].as_str().unwrap());

    // The newest one only.
    let newest = audit(&site, &["--limit", "1", "--json"]).expect(0).json();
    assert_eq!(newest["matched"], 2);
    assert_eq!(newest["events"].as_array().unwrap().len(), 1);
    assert_eq!(newest["events"][0]["outcome"], "failed");
    let newest = audit(&site, &["--limit", "1"]).expect(0);
    assert_eq!(event_lines(&newest), [lines[1]]);

    let creates = audit(&site, &["--type", "create"]).expect(0);
    assert_eq!(event_lines(&creates), lines);
    let restores = audit(&site, &["--type", "restore"]).expect(0);
    assert_eq!(restores.stdout, "no restore events\n");
}

#[test]
fn type_and_limit_select_the_newest_matching_events() {
    let site = TestSite::new("mixed");
    let details = |n: u32| serde_json::json!({ "n": n });
    let log: String = [
        event("2026-11-22T08:30:01Z", "create", "ok", &details(1)),
        event("2026-11-22T08:30:02Z", "restore", "ok", &details(2)),
        event("2026-11-22T08:30:03Z", "keep", "ok", &details(3)),
        event("2026-11-22T08:30:04Z", "restore", "failed", &details(4)),
        event("2026-11-22T08:30:05Z", "create", "ok", &details(5)),
        event("2026-11-22T08:30:06Z", "restore", "ok", &details(6)),
    ]
    .map(|line| line + "\n")
    .concat();
    site.write(".sitepack/audit.jsonl", log);
    let numbers = |args: &[&str]| -> Vec<u64> {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        audit(&site, &with_json).expect(0).json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["details"]["n"].as_u64().unwrap())
            .collect()
    };
    let cases: &[(&[&str], &[u64])] = &[
        (&[], &[1, 2, 3, 4, 5, 6]),
        (&["--type", "restore"], &[2, 4, 6]),
        (&["--type", "restore", "--limit", "2"], &[4, 6]),
        (&["--limit", "2", "--type", "create"], &[1, 5]),
        (&["--limit", "4"], &[3, 4, 5, 6]),
        (&["--limit", "99"], &[1, 2, 3, 4, 5, 6]),
        (&["--type", "keep"], &[3]),
        (&["--type", "prune"], &[]),
    ];
    for (args, expected) in cases {
        assert_eq!(numbers(args), *expected, "{args:?}");
    }
    let human = audit(&site, &["--type", "restore", "--limit", "2"]).expect(0);
    assert_eq!(
        human.stdout,
        "2026-11-22T08:30:04Z  restore  failed   ada\n2026-11-22T08:30:06Z  restore  ok       ada\n"
    );
}

#[test]
fn bad_lines_are_named_and_the_good_events_still_listed() {
    let site = TestSite::new("damaged");
    let first = event(
        "2026-11-22T08:30:01Z",
        "create",
        "ok",
        &serde_json::json!({"scope": "full"}),
    );
    let second = event(
        "2026-11-22T08:30:02Z",
        "create",
        "failed",
        &serde_json::json!({}),
    );
    let third = event("2026-11-22T08:30:03Z", "keep", "ok", &serde_json::json!({}));
    let cut = event(
        "2026-11-22T08:30:04Z",
        "create",
        "ok",
        &serde_json::json!({}),
    );
    let log = format!(
        "{first}\n{{\"time\": \"2026-11-22T08:30:0\u{0}\u{0}\u{0}hunter2-token\n{second}\n[\"hunter2-token\"]\n{third}\n{}",
        &cut[..cut.len() - 10]
    );
    site.write(".sitepack/audit.jsonl", log);

    let listed = audit(&site, &[]).expect(0);
    let lines = event_lines(&listed);
    assert_eq!(lines.len(), 3, "{}", listed.stdout);
    assert!(lines[0].starts_with("2026-11-22T08:30:01Z  create   ok"));
    assert!(lines[1].starts_with("2026-11-22T08:30:02Z  create   failed"));
    assert!(lines[2].starts_with("2026-11-22T08:30:03Z  keep     ok"));

    let log_path = site.root().join(".sitepack/audit.jsonl");
    let warnings: Vec<&str> = listed.stderr.lines().collect();
    assert_eq!(warnings.len(), 3, "{}", listed.stderr);
    for (warning, line) in warnings.iter().zip([2, 4, 6]) {
        assert!(
            warning.starts_with(&format!("warning: {} line {line}: ", log_path.display())),
            "{warning}"
        );
    }
    assert!(warnings[1].contains("not an object"), "{}", warnings[1]);
    assert!(
        warnings[2].contains("incomplete last line"),
        "{}",
        warnings[2]
    );
    assert!(
        !listed.stderr.contains("hunter2"),
        "bad lines are described, never quoted: {}",
        listed.stderr
    );

    let json = audit(&site, &["--json"]).expect(0).json();
    assert_eq!(json["events"].as_array().unwrap().len(), 3);
    assert_eq!(json["bad_line_count"], 3);
    let bad = json["bad_lines"].as_array().unwrap();
    let numbers: Vec<u64> = bad.iter().map(|b| b["line"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [2, 4, 6]);
    for entry in bad {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["line", "problem"]);
    }

    // Filters apply to the good events; bad lines are always named.
    let keeps = audit(&site, &["--type", "keep"]).expect(0);
    assert_eq!(event_lines(&keeps).len(), 1);
    assert_eq!(keeps.stderr.lines().count(), 3);
}

#[test]
fn a_site_without_a_log_has_no_events() {
    let site = TestSite::new("quiet");
    let listed = audit(&site, &[]).expect(0);
    assert_eq!(listed.stdout, "no events\n");
    assert!(listed.stderr.is_empty(), "{}", listed.stderr);
    let json = audit(&site, &["--json", "--type", "create"])
        .expect(0)
        .json();
    assert_eq!(
        json,
        serde_json::json!({
            "site": site.root().display().to_string(),
            "events": [],
            "matched": 0,
            "bad_lines": [],
            "bad_line_count": 0,
        })
    );
    assert!(
        !site.root().join(".sitepack").exists(),
        "listing writes nothing"
    );
}

#[test]
fn a_missing_site_or_a_file_is_an_error() {
    let site = TestSite::new("here");
    let missing = site.root().join("nowhere");
    let result = run([OsStr::new("audit"), missing.as_os_str()]).expect(2);
    assert!(
        result.stderr.contains("nowhere: no such directory"),
        "{}",
        result.stderr
    );
    assert!(result.stdout.is_empty());

    let file = site.root().join("site.json");
    let result = run([OsStr::new("audit"), file.as_os_str()]).expect(2);
    assert!(
        result.stderr.contains("site.json: not a directory"),
        "{}",
        result.stderr
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let site = TestSite::new("opts");
    let result = audit(&site, &["--type", "delete"]).expect(2);
    assert!(
        result
            .stderr
            .contains("create, restore, keep, revert, init, recover, auto, prune"),
        "{}",
        result.stderr
    );
    audit(&site, &["--limit", "0"]).expect(2);
    audit(&site, &["--limit", "many"]).expect(2);
    let help = run(["audit", "--help"]).expect(0);
    assert!(help.stdout.contains("--type <OP>"), "{}", help.stdout);
    assert!(
        help.stdout.contains("possible values: create, restore"),
        "{}",
        help.stdout
    );
}

/// Something other than a file where the log should be is an error naming it (exit 2),
/// never "no events".
#[test]
fn a_directory_in_place_of_the_log_is_an_error() {
    let site = TestSite::new("dirlog");
    std::fs::create_dir_all(site.root().join(".sitepack/audit.jsonl")).unwrap();
    for args in [&[][..], &["--json"][..]] {
        let result = audit(&site, args).expect(2);
        assert!(
            result.stderr.contains("audit.jsonl"),
            "{args:?}: {}",
            result.stderr
        );
        assert!(!result.stdout.contains("no events"), "{}", result.stdout);
    }
}
