//! `sitepack auto run SITE`: automatic backups into a local directory target, driven by
//! `SITE/.sitepack/config.toml`, with the clock simulated through `SITEPACK_NOW`: one
//! backup per period however often `--if-due` is called, a single catch-up after
//! downtime (reported as overdue), retention after each run that spares manual backups,
//! failures that exit 2, are audited and run `--on-failure`, and plain runs that always
//! back up. (S3 targets are covered with the other stored-backup tests.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sitepack_format::Timestamp;

use crate::util::{LockHolder, Run, TestSite, create, listing, manifest, run, sitepack};

/// The demo site's id: every backup name starts with it.
const SITE_ID: &str = "acme-shop";

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A copy of the demo site whose `config.toml` has an `[auto]` table with the target
/// (a directory beside the site, not made yet) and then `settings`; and that target.
fn auto_site(settings: &str) -> (TestSite, PathBuf) {
    let site = TestSite::demo();
    let target = site.out_dir().join("backups");
    site.write(".sitepack/config.toml", config(&target, settings));
    (site, target)
}

fn config(target: &Path, settings: &str) -> String {
    format!("[auto]\ntarget = '{}'\n{settings}", target.display())
}

/// `sitepack auto run SITE ARGS…` with the clock at `now`.
fn auto_run(site: &TestSite, now: &str, args: &[&str]) -> Run {
    Run::from_command(
        sitepack()
            .args(["auto".as_ref(), "run".as_ref(), site.root().as_os_str()])
            .args(args)
            .env("SITEPACK_NOW", now),
    )
}

/// `auto run --if-due --json` at `now`, which must succeed: the report and stderr.
fn run_if_due(site: &TestSite, now: &str) -> (Value, String) {
    let output = auto_run(site, now, &["--if-due", "--json"]).expect(0);
    (output.json(), output.stderr)
}

/// `sitepack list TARGET --json`: the backups, oldest first.
fn list(target: &Path) -> Vec<Value> {
    // A target no backup was ever stored in was never made (and `list` says so, exit 2).
    if !target.exists() {
        return Vec::new();
    }
    let listed = run(["list".as_ref(), target.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    assert_eq!(listed["unreadable"], json!([]), "{listed}");
    listed["backups"].as_array().unwrap().clone()
}

fn names(backups: &[Value]) -> Vec<String> {
    backups
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The site's `auto` events, oldest first.
fn auto_events(site: &TestSite) -> Vec<Value> {
    let root = site.root();
    let audit = run([
        "audit".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
        "--type".as_ref(),
        "auto".as_ref(),
    ])
    .expect(0)
    .json();
    audit["events"].as_array().unwrap().clone()
}

/// `2026-11-22T08:03:00Z` → `acme-shop/20261122T080300Z-full{suffix}.zip`.
fn backup_name(time: &str, suffix: &str) -> String {
    format!(
        "{SITE_ID}/{}-full{suffix}.zip",
        time.replace(['-', ':'], "")
    )
}

fn at(seconds: i64) -> String {
    Timestamp::from_unix_seconds(seconds).unwrap().to_string()
}

fn seconds(time: &str) -> i64 {
    time.parse::<Timestamp>().unwrap().unix_seconds()
}

/// `from`, `from + step`, … up to `to` inclusive.
fn clock(from: &str, to: &str, step: i64) -> Vec<i64> {
    let (mut now, to) = (seconds(from), seconds(to));
    let mut times = Vec::new();
    while now <= to {
        times.push(now);
        now += step;
    }
    times
}

/// Checks one stored backup (from a report or the listing) made at `time`.
#[track_caller]
fn assert_auto_backup(backup: &Value, target: &Path, time: &str, suffix: &str) {
    assert_eq!(backup["name"], backup_name(time, suffix), "{backup}");
    assert_eq!(backup["kind"], "auto", "{backup}");
    assert_eq!(backup["created_at"], time, "{backup}");
    assert_eq!(backup["site"]["id"], SITE_ID, "{backup}");
    assert_eq!(backup["scope"], json!({"kind": "full"}), "{backup}");
    let archive = target.join(backup["name"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&archive).unwrap().len(),
        backup["size"].as_u64().unwrap(),
        "{}",
        archive.display()
    );
    assert_eq!(
        manifest(&archive)["created_at"],
        time,
        "{}",
        archive.display()
    );
}

/// What retention decided in a report: name → (kept, reasons).
fn decisions(report: &Value) -> BTreeMap<String, (bool, Vec<String>)> {
    report["retention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let reasons = d["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            (
                d["backup"]["name"].as_str().unwrap().to_owned(),
                (d["keep"].as_bool().unwrap(), reasons),
            )
        })
        .collect()
}

#[test]
fn hourly_checks_every_seven_minutes_back_up_once_an_hour_and_once_after_downtime() {
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    let mut runs: Vec<String> = Vec::new();
    let mut last: Option<i64> = None;
    for now in clock("2026-11-22T08:03:00Z", "2026-11-22T14:00:00Z", 7 * MINUTE) {
        let (report, stderr) = run_if_due(&site, &at(now));
        // Due when nothing ever succeeded, or when an hour (hh:00) began since the last run.
        let due = last.is_none_or(|last| now.div_euclid(HOUR) > last.div_euclid(HOUR));
        assert_eq!(report["ran"], due, "at {}: {report}", at(now));
        assert_eq!(report["schedule"], "hourly at :00 UTC", "{report}");
        assert_eq!(report["last_success"], json!(last.map(at)), "{report}");
        assert_eq!(report["next_due"], at((now.div_euclid(HOUR) + 1) * HOUR));
        if last.is_some() {
            assert_eq!(report["overdue"], false, "at {}: {report}", at(now));
            assert!(!stderr.contains("older than two periods"), "{stderr}");
        }
        if due {
            assert_auto_backup(&report["stored"], &target, &at(now), "");
            assert_eq!(report["retention"], json!([]), "no retention configured");
            runs.push(at(now));
            last = Some(now);
        } else {
            assert_eq!(report["stored"], Value::Null, "{report}");
        }
    }
    // The first call, then the first call of each hour: 7 backups in 52 calls.
    assert_eq!(
        runs,
        [
            "2026-11-22T08:03:00Z",
            "2026-11-22T09:06:00Z",
            "2026-11-22T10:02:00Z",
            "2026-11-22T11:05:00Z",
            "2026-11-22T12:01:00Z",
            "2026-11-22T13:04:00Z",
            "2026-11-22T14:00:00Z",
        ]
    );
    let listed = list(&target);
    assert_eq!(
        names(&listed),
        runs.iter().map(|t| backup_name(t, "")).collect::<Vec<_>>()
    );
    for (backup, time) in listed.iter().zip(&runs) {
        assert_auto_backup(backup, &target, time, "");
    }

    // Down for 10 hours (ten runs missed): one catch-up backup, flagged as overdue.
    let back = "2026-11-23T00:00:00Z";
    let (report, stderr) = run_if_due(&site, back);
    assert_eq!(report["ran"], true, "{report}");
    assert_eq!(report["overdue"], true, "{report}");
    assert_eq!(report["last_success"], "2026-11-22T14:00:00Z", "{report}");
    assert!(stderr.contains("older than two periods"), "{stderr}");
    assert_auto_backup(&report["stored"], &target, back, "");
    let (report, stderr) = run_if_due(&site, "2026-11-23T00:07:00Z");
    assert_eq!(report["ran"], false, "{report}");
    assert_eq!(report["overdue"], false, "{report}");
    assert_eq!(report["last_success"], back, "{report}");
    assert!(!stderr.contains("older than two periods"), "{stderr}");
    runs.push(back.to_owned());
    assert_eq!(
        names(&list(&target)),
        runs.iter().map(|t| backup_name(t, "")).collect::<Vec<_>>(),
        "exactly one catch-up backup"
    );

    // One `ok` event per backup, each recording what was stored.
    let events = auto_events(&site);
    assert_eq!(events.len(), runs.len(), "{events:#?}");
    for (index, (event, time)) in events.iter().zip(&runs).enumerate() {
        assert_eq!(event["outcome"], "ok", "{event}");
        let details = &event["details"];
        assert_eq!(details["created_at"], time.as_str(), "{event}");
        assert_eq!(details["name"], backup_name(time, ""), "{event}");
        assert_eq!(details["target"], target.display().to_string(), "{event}");
        assert_eq!(details["pruned"], json!([]), "{event}");
        let archive = target.join(backup_name(time, ""));
        assert_eq!(
            details["archive_size"],
            std::fs::metadata(&archive).unwrap().len(),
            "{event}"
        );
        assert!(details["archive_sha256"].is_string(), "{event}");
        if index > 0 {
            assert_eq!(details["overdue"], index == runs.len() - 1, "{event}");
        }
    }
}

#[test]
fn daily_at_a_time_backs_up_at_the_first_check_after_it_each_day() {
    let (site, target) = auto_site("schedule = \"daily\"\ntime = \"02:30\"\nlabel = \"nightly\"\n");
    let scheduled = 2 * HOUR + 30 * MINUTE;
    let step = 37 * MINUTE;
    let mut runs: Vec<String> = Vec::new();
    let mut last: Option<i64> = None;
    for now in clock("2026-11-22T02:33:00Z", "2026-11-24T03:10:00Z", step) {
        let (report, _) = run_if_due(&site, &at(now));
        // The backup day starts at 02:30.
        let day = |t: i64| (t - scheduled).div_euclid(DAY);
        let due = last.is_none_or(|last| day(now) > day(last));
        assert_eq!(report["ran"], due, "at {}: {report}", at(now));
        assert_eq!(report["schedule"], "daily at 02:30 UTC", "{report}");
        assert_eq!(report["next_due"], at((day(now) + 1) * DAY + scheduled));
        if due {
            assert!(
                (now - scheduled).rem_euclid(DAY) < step,
                "not the first check after 02:30: {}",
                at(now)
            );
            assert_auto_backup(&report["stored"], &target, &at(now), "-nightly");
            assert_eq!(report["stored"]["label"], "nightly", "{report}");
            runs.push(at(now));
            last = Some(now);
        } else {
            assert_eq!(report["stored"], Value::Null, "{report}");
        }
    }
    assert_eq!(
        runs,
        [
            "2026-11-22T02:33:00Z",
            "2026-11-23T02:36:00Z",
            "2026-11-24T02:39:00Z",
        ]
    );
    let listed = list(&target);
    assert_eq!(
        names(&listed),
        runs.iter()
            .map(|t| backup_name(t, "-nightly"))
            .collect::<Vec<_>>()
    );
    for (backup, time) in listed.iter().zip(&runs) {
        assert_auto_backup(backup, &target, time, "-nightly");
        assert_eq!(backup["label"], "nightly", "{backup}");
    }
    assert_eq!(auto_events(&site).len(), runs.len());
}

#[test]
fn retention_prunes_old_automatic_backups_after_each_run_but_never_a_manual_one() {
    let (site, target) = auto_site("schedule = \"hourly\"\n[auto.retention]\nkeep_last = 2\n");
    let root = site.root();
    let auto = |time: &str| backup_name(time, "");
    let manual = backup_name("2026-11-22T08:30:00Z", "-by-hand");

    // (time of the run, what retention keeps, what it removes), in order; the manual
    // backup, made between the first two runs, neither counts as one of the last two
    // nor is removed.
    let runs = [
        ("2026-11-22T08:00:00Z", vec![], vec![]),
        (
            "2026-11-22T09:00:00Z",
            vec![auto("2026-11-22T08:00:00Z")],
            vec![],
        ),
        (
            "2026-11-22T10:00:00Z",
            vec![auto("2026-11-22T09:00:00Z")],
            vec![auto("2026-11-22T08:00:00Z")],
        ),
        (
            "2026-11-22T11:00:00Z",
            vec![auto("2026-11-22T10:00:00Z")],
            vec![auto("2026-11-22T09:00:00Z")],
        ),
    ];
    for (index, (time, older_kept, removed)) in runs.iter().enumerate() {
        if index == 1 {
            let made = run([
                "create".as_ref(),
                root.as_os_str(),
                "--to".as_ref(),
                target.as_os_str(),
                "--timestamp".as_ref(),
                "2026-11-22T08:30:00Z".as_ref(),
                "--label".as_ref(),
                "by-hand".as_ref(),
                "--json".as_ref(),
            ])
            .expect(0)
            .json();
            assert_eq!(made["backup"]["name"], manual.as_str(), "{made}");
            assert_eq!(made["backup"]["kind"], "manual", "{made}");
        }
        let report = auto_run(&site, time, &["--if-due", "--json"])
            .expect(0)
            .json();
        assert_eq!(report["ran"], true, "{report}");
        assert_auto_backup(&report["stored"], &target, time, "");

        let mut expected = BTreeMap::new();
        expected.insert(auto(time), (true, vec!["newest", "last"]));
        for name in older_kept {
            expected.insert(name.clone(), (true, vec!["last"]));
        }
        for name in removed {
            expected.insert(name.clone(), (false, vec![]));
        }
        if index >= 1 {
            expected.insert(manual.clone(), (true, vec!["manual"]));
        }
        let expected: BTreeMap<String, (bool, Vec<String>)> = expected
            .into_iter()
            .map(|(name, (keep, reasons))| {
                (
                    name,
                    (keep, reasons.into_iter().map(str::to_owned).collect()),
                )
            })
            .collect();
        assert_eq!(decisions(&report), expected, "after the run at {time}");

        let mut kept: Vec<String> = expected
            .iter()
            .filter(|(_, (keep, _))| *keep)
            .map(|(name, _)| name.clone())
            .collect();
        kept.sort_by_key(|name| name.split('/').nth(1).unwrap().to_owned());
        assert_eq!(
            names(&list(&target)),
            kept,
            "listed after the run at {time}"
        );
        for name in removed {
            assert!(!target.join(name).exists(), "{name} is still there");
            assert!(!target.join(format!("{name}.json")).exists(), "{name}.json");
        }
        let event = auto_events(&site).pop().unwrap();
        assert_eq!(event["details"]["pruned"], json!(removed), "{event}");
    }
    let listed = list(&target);
    let by_hand = listed
        .iter()
        .find(|b| b["name"] == manual.as_str())
        .unwrap();
    assert_eq!(by_hand["kind"], "manual", "{by_hand}");
    assert_eq!(by_hand["label"], "by-hand", "{by_hand}");
}

/// A shell command for `--on-failure` that writes `ERROR|SITE|TARGET` into `out`.
fn notify_into(out: &Path) -> String {
    format!(
        r#"printf "%s|%s|%s" "$SITEPACK_ERROR" "$SITEPACK_SITE" "$SITEPACK_TARGET" > '{}'"#,
        out.display()
    )
}

#[test]
fn a_failed_run_exits_2_lists_nothing_is_audited_and_runs_the_failure_command() {
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    // Where the site's backups go is a regular file, so it cannot be a directory.
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join(SITE_ID), "in the way").unwrap();
    let notified = site.out_dir().join("notified");
    let failed = auto_run(
        &site,
        "2026-11-22T08:03:00Z",
        &[
            "--if-due",
            "--json",
            "--on-failure",
            &notify_into(&notified),
        ],
    )
    .expect(2);
    // With --json, standard output holds the error document (and nothing else).
    let document = failed.json();
    assert_eq!(document["error"]["kind"], "error", "{document}");
    assert_eq!(document["error"]["exit_code"], 2, "{document}");
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains(SITE_ID),
        "{document}"
    );
    assert!(failed.stderr.contains(SITE_ID), "{}", failed.stderr);

    assert_eq!(list(&target), Vec::<Value>::new());
    assert_eq!(listing(&target), [SITE_ID], "nothing left behind");
    assert_eq!(std::fs::read(target.join(SITE_ID)).unwrap(), b"in the way");

    let events = auto_events(&site);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["outcome"], "failed", "{event}");
    assert_eq!(event["details"]["target"], target.display().to_string());
    assert!(event["details"].get("name").is_none(), "{event}");
    let error = event["details"]["error"].as_str().unwrap();
    assert!(error.contains(SITE_ID), "{error}");

    let written = std::fs::read_to_string(&notified).expect("the --on-failure command ran");
    assert_eq!(
        written,
        format!("{error}|{}|{}", site.root().display(), target.display())
    );

    // A failure is not a success: once the target is fixed, the next check backs up.
    std::fs::remove_file(target.join(SITE_ID)).unwrap();
    let (report, _) = run_if_due(&site, "2026-11-22T08:10:00Z");
    assert_eq!(report["ran"], true, "{report}");
    assert_eq!(report["last_success"], Value::Null, "{report}");
    assert_eq!(
        names(&list(&target)),
        [backup_name("2026-11-22T08:10:00Z", "")]
    );
}

#[test]
fn a_bad_config_fails_with_its_problem_is_audited_and_runs_the_failure_command() {
    for (settings, problem) in [
        (
            "schedule = \"hourly\"\n[auto.retention]\nkeep_forever = 3\n",
            "keep_forever",
        ),
        ("schedule = \"fortnightly\"\n", "fortnightly"),
    ] {
        let (site, target) = auto_site(settings);
        let notified = site.out_dir().join("notified");
        let failed = auto_run(
            &site,
            "2026-11-22T08:03:00Z",
            &["--if-due", "--on-failure", &notify_into(&notified)],
        )
        .expect(2);
        assert!(failed.stderr.contains("config.toml"), "{}", failed.stderr);
        assert!(failed.stderr.contains(problem), "{}", failed.stderr);
        assert!(!target.exists(), "nothing was stored");
        assert_eq!(list(&target), Vec::<Value>::new());

        let written = std::fs::read_to_string(&notified).expect("the --on-failure command ran");
        // The error (which may itself contain `|`), the site, and no target: the
        // config that names it could not be read.
        let error = written
            .strip_suffix(&format!("|{}|", site.root().display()))
            .unwrap_or_else(|| panic!("ERROR|SITE|: {written}"));
        assert!(error.contains(problem), "{written}");

        let events = auto_events(&site);
        assert_eq!(
            events.len(),
            1,
            "one failed `auto` event for {problem}: {events:#?}"
        );
        assert_eq!(events[0]["outcome"], "failed", "{}", events[0]);
        let error = events[0]["details"]["error"].as_str().unwrap();
        assert!(error.contains(problem), "{error}");
    }
}

#[test]
fn without_a_config_file_auto_run_fails_naming_it() {
    let site = TestSite::demo();
    let failed = auto_run(&site, "2026-11-22T08:03:00Z", &["--if-due"]).expect(2);
    assert!(failed.stderr.contains("config.toml"), "{}", failed.stderr);
}

#[test]
fn without_if_due_auto_run_always_backs_up() {
    let (site, target) = auto_site("");
    let first = "2026-11-22T08:30:00Z";
    let (report, _) = run_if_due(&site, first);
    assert_eq!(report["ran"], true, "never backed up: due");
    let not_due = auto_run(&site, "2026-11-22T08:31:00Z", &["--if-due"]).expect(0);
    assert!(
        not_due.stdout.starts_with("not due (daily at 00:00 UTC)"),
        "{}",
        not_due.stdout
    );

    let forced = ["2026-11-22T08:32:00Z", "2026-11-22T08:33:00Z"];
    for time in forced {
        let made = auto_run(&site, time, &[]).expect(0);
        assert!(
            made.stdout
                .starts_with(&format!("stored {} (", backup_name(time, ""))),
            "{}",
            made.stdout
        );
        assert!(made.stdout.contains("digest verified"), "{}", made.stdout);
    }
    let listed = list(&target);
    let expected = [first, forced[0], forced[1]];
    assert_eq!(
        names(&listed),
        expected.map(|t| backup_name(t, "")).to_vec()
    );
    for (backup, time) in listed.iter().zip(expected) {
        assert_auto_backup(backup, &target, time, "");
    }
    assert_eq!(auto_events(&site).len(), 3);
}

#[test]
fn a_retention_failure_after_a_stored_backup_still_records_the_success() {
    let (site, target) = auto_site("schedule = \"hourly\"\n[auto.retention]\nkeep_last = 1\n");
    run_if_due(&site, "2026-11-22T08:00:00Z");
    let notified = site.out_dir().join("notified");
    // The removal of the 08:00 backup is refused (a delete denied by the target).
    let failed = Run::from_command(
        sitepack()
            .args(["auto".as_ref(), "run".as_ref(), site.root().as_os_str()])
            .args([
                "--if-due",
                "--json",
                "--on-failure",
                &notify_into(&notified),
            ])
            .env("SITEPACK_NOW", "2026-11-22T09:00:00Z")
            .env("SITEPACK_FAILPOINT", "delete:1:error"),
    )
    .expect(2);
    assert!(
        failed.stderr.contains(&format!(
            "{} was stored and verified",
            backup_name("2026-11-22T09:00:00Z", "")
        )),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("injected failure"),
        "{}",
        failed.stderr
    );
    let report = failed.json();
    assert_auto_backup(&report["stored"], &target, "2026-11-22T09:00:00Z", "");
    assert!(report["retention_error"].is_string(), "{report}");
    let written = std::fs::read_to_string(&notified).expect("the --on-failure command ran");
    assert!(written.starts_with("retention failed: "), "{written}");

    let event = auto_events(&site).pop().unwrap();
    assert_eq!(event["outcome"], "ok", "{event}");
    assert!(event["details"]["retention_error"].is_string(), "{event}");
    // The success counts: the next checks of the hour make no other backup, and the
    // next hour's run prunes what was left.
    let (report, _) = run_if_due(&site, "2026-11-22T09:10:00Z");
    assert_eq!(report["ran"], false, "{report}");
    let (report, _) = run_if_due(&site, "2026-11-22T10:00:00Z");
    assert_eq!(report["ran"], true, "{report}");
    assert_eq!(
        names(&list(&target)),
        [backup_name("2026-11-22T10:00:00Z", "")]
    );
}

/// `auto run --if-due` at each of `times` with `env` set; the names in the target after.
fn run_ticks(site: &TestSite, target: &Path, times: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    for time in times {
        let mut command = sitepack();
        command
            .args(["auto".as_ref(), "run".as_ref(), site.root().as_os_str()])
            .arg("--if-due")
            .env("SITEPACK_NOW", time);
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from_command(&mut command).expect(0);
    }
    names(&list(target))
}

#[test]
fn an_audit_log_that_cannot_be_written_still_gives_one_backup_per_period() {
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    // The site's disk is full: no event can be appended.
    let full_disk = [("SITEPACK_FAILPOINT", "audit-append:1:error")];
    let warned = Run::from_command(
        sitepack()
            .args(["auto".as_ref(), "run".as_ref(), site.root().as_os_str()])
            .arg("--if-due")
            .env("SITEPACK_NOW", "2026-11-22T08:03:00Z")
            .envs(full_disk),
    )
    .expect(0);
    assert!(
        warned.stderr.contains("cannot append to the audit log"),
        "{}",
        warned.stderr
    );
    let ticks = [
        "2026-11-22T08:10:00Z",
        "2026-11-22T08:17:00Z",
        "2026-11-22T08:59:00Z",
    ];
    assert_eq!(
        run_ticks(&site, &target, &ticks, &full_disk),
        [backup_name("2026-11-22T08:03:00Z", "")],
        "one backup in the 08:00 period"
    );
    assert_eq!(
        run_ticks(&site, &target, &["2026-11-22T09:01:00Z"], &full_disk),
        [
            backup_name("2026-11-22T08:03:00Z", ""),
            backup_name("2026-11-22T09:01:00Z", "")
        ]
    );
}

#[test]
fn an_audit_log_whose_last_line_was_cut_short_gives_no_second_backup_and_loses_no_event() {
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    run_ticks(&site, &target, &["2026-11-22T08:03:00Z"], &[]);
    // A crash cut the last event short.
    let log = site.root().join(".sitepack/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, &text[..text.len() - 20]).unwrap();

    let ticks = ["2026-11-22T08:10:00Z", "2026-11-22T08:50:00Z"];
    assert_eq!(
        run_ticks(&site, &target, &ticks, &[]),
        [backup_name("2026-11-22T08:03:00Z", "")]
    );
    run_ticks(&site, &target, &["2026-11-22T09:05:00Z"], &[]);
    let events = auto_events(&site);
    assert_eq!(
        events.len(),
        1,
        "the torn line is skipped, the next event kept: {events:#?}"
    );
    assert_eq!(
        events[0]["details"]["name"],
        backup_name("2026-11-22T09:05:00Z", "")
    );
}

/// Checks `--if-due` at each of `checks` (in order): it backs up at the first check, then
/// at the first check at or after each of `fires` (computed by the test) since the last
/// backup, and names the next firing as `next_due`. Returns the times it backed up.
fn assert_runs_when_fired(
    site: &TestSite,
    target: &Path,
    checks: &[i64],
    fires: &[i64],
) -> Vec<String> {
    let mut last: Option<i64> = None;
    let mut runs = Vec::new();
    for &now in checks {
        let (report, _) = run_if_due(site, &at(now));
        let due = last.is_none_or(|last| fires.iter().any(|&f| last < f && f <= now));
        assert_eq!(report["ran"], due, "at {}: {report}", at(now));
        let next = fires
            .iter()
            .find(|&&f| f > now)
            .expect("the test's fires go far enough");
        assert_eq!(report["next_due"], at(*next), "at {}: {report}", at(now));
        if due {
            assert_auto_backup(&report["stored"], target, &at(now), "");
            runs.push(at(now));
            last = Some(now);
        }
    }
    assert_eq!(
        names(&list(target)),
        runs.iter().map(|t| backup_name(t, "")).collect::<Vec<_>>()
    );
    runs
}

#[test]
fn weekly_checks_every_five_hours_back_up_once_a_week_on_its_day_and_time() {
    let (site, target) = auto_site("schedule = \"weekly\"\nweekday = \"wed\"\ntime = \"02:30\"\n");
    // Wednesdays at 02:30 UTC: 2026-11-25, 2026-12-02, 2026-12-09, 2026-12-16.
    let fires: Vec<i64> = (0..4)
        .map(|week| seconds("2026-11-25T02:30:00Z") + week * 7 * DAY)
        .collect();
    let checks = clock("2026-11-22T08:03:00Z", "2026-12-10T12:00:00Z", 5 * HOUR);
    let runs = assert_runs_when_fired(&site, &target, &checks, &fires);
    assert_eq!(
        runs,
        [
            "2026-11-22T08:03:00Z",
            "2026-11-25T06:03:00Z",
            "2026-12-02T03:03:00Z",
            "2026-12-09T05:03:00Z",
        ]
    );
}

#[test]
fn a_cron_schedule_backs_up_once_after_each_time_it_fires() {
    // At minute 30 of every sixth hour, Monday to Friday.
    let (site, target) = auto_site("schedule = \"30 */6 * * 1-5\"\n");
    // 2026-11-27 is a Friday: its four times, none on the weekend, then Monday's.
    let friday = seconds("2026-11-27T00:30:00Z");
    let monday = seconds("2026-11-30T00:30:00Z");
    let fires: Vec<i64> = (0..4)
        .map(|i| friday + i * 6 * HOUR)
        .chain((0..4).map(|i| monday + i * 6 * HOUR))
        .collect();
    let checks = clock("2026-11-26T23:50:00Z", "2026-11-30T13:00:00Z", 50 * MINUTE);
    let runs = assert_runs_when_fired(&site, &target, &checks, &fires);
    assert_eq!(
        runs,
        [
            "2026-11-26T23:50:00Z",
            "2026-11-27T00:40:00Z",
            "2026-11-27T06:30:00Z",
            "2026-11-27T13:10:00Z",
            "2026-11-27T19:00:00Z",
            "2026-11-30T01:10:00Z",
            "2026-11-30T07:00:00Z",
            "2026-11-30T12:50:00Z",
        ]
    );
}

#[test]
fn a_cron_schedule_that_never_fires_is_refused() {
    for schedule in ["0 0 30 2 *", "0 12 31 4,6,9,11 *"] {
        let (site, target) = auto_site(&format!("schedule = \"{schedule}\"\n"));
        let notified = site.out_dir().join("notified");
        let failed = auto_run(
            &site,
            "2026-11-22T08:03:00Z",
            &["--if-due", "--on-failure", &notify_into(&notified)],
        )
        .expect(2);
        assert!(failed.stderr.contains("never fires"), "{}", failed.stderr);
        assert!(failed.stderr.contains(schedule), "{}", failed.stderr);
        assert!(notified.exists(), "the --on-failure command ran");
        assert!(!target.exists());
    }
}

#[test]
fn a_backup_dated_in_the_future_is_a_clock_problem_and_backups_go_on_by_the_current_clock() {
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    // One run with the clock a year ahead.
    let future = "2027-11-22T08:03:00Z";
    run_ticks(&site, &target, &[future], &[]);

    let (report, stderr) = run_if_due(&site, "2026-11-22T09:05:00Z");
    assert_eq!(report["ran"], true, "due by the current clock: {report}");
    assert_eq!(report["backup_in_future"], future, "{report}");
    assert!(
        stderr.contains(future) && stderr.contains("clock"),
        "{stderr}"
    );
    let (report, stderr) = run_if_due(&site, "2026-11-22T09:40:00Z");
    assert_eq!(report["ran"], false, "{report}");
    assert_eq!(report["last_success"], "2026-11-22T09:05:00Z", "{report}");
    assert!(stderr.contains("clock"), "still said: {stderr}");
    let (report, _) = run_if_due(&site, "2026-11-22T10:00:00Z");
    assert_eq!(report["ran"], true, "{report}");
    assert_eq!(
        names(&list(&target)),
        [
            backup_name("2026-11-22T09:05:00Z", ""),
            backup_name("2026-11-22T10:00:00Z", ""),
            backup_name(future, ""),
        ]
    );
}

/// `auto run --if-due --on-failure …` that must fail (exit 2): stderr, and what the hook
/// was told (`ERROR|SITE|TARGET`).
fn failed_run(site: &Path, notified: &Path) -> (String, String) {
    let failed = Run::from_command(
        sitepack()
            .args(["auto".as_ref(), "run".as_ref(), site.as_os_str()])
            .args(["--if-due", "--on-failure", &notify_into(notified)])
            .env("SITEPACK_NOW", "2026-11-22T08:03:00Z"),
    )
    .expect(2);
    let told = std::fs::read_to_string(notified).expect("the --on-failure command ran");
    (failed.stderr, told)
}

#[test]
fn every_failure_of_auto_run_runs_the_failure_command_and_is_audited() {
    // A missing site directory (a typo in the cron line): no site to audit in.
    let scratch = TestSite::bare();
    let missing = scratch.out_dir().join("no-such-site");
    let (stderr, told) = failed_run(&missing, &scratch.out_dir().join("notified"));
    assert!(stderr.contains("no-such-site"), "{stderr}");
    assert!(!stderr.contains("restore"), "{stderr}");
    assert!(told.contains("no-such-site"), "{told}");
    assert!(!missing.exists(), "nothing made at a mistyped path");

    // A directory that is no site (no site.json): nothing is written into it, and the
    // error says what is missing, as `create` does.
    let not_a_site = scratch.out_dir().join("not-a-site");
    std::fs::create_dir(&not_a_site).unwrap();
    let (stderr, told) = failed_run(&not_a_site, &scratch.out_dir().join("notified-2"));
    assert!(stderr.contains("site.json"), "{stderr}");
    assert!(told.contains("site.json"), "{told}");
    assert_eq!(
        listing(&not_a_site),
        Vec::<String>::new(),
        "nothing written"
    );

    // Another automatic run holds .sitepack/auto.lock.
    let (site, target) = auto_site("schedule = \"hourly\"\n");
    let notified = site.out_dir().join("notified-auto-lock");
    {
        let _running = LockHolder::hold(&site.root(), "auto.lock");
        let (stderr, told) = failed_run(&site.root(), &notified);
        assert!(stderr.contains("auto.lock"), "{stderr}");
        assert!(told.contains("auto.lock"), "{told}");
    }
    let events = auto_events(&site);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["outcome"], "failed");
    assert_eq!(events[0]["details"]["target"], target.display().to_string());
    assert!(
        events[0]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("auto.lock")
    );

    // A restore pending review while another command holds the site lock: refused by the
    // lock, and said as it is (no "restore was refused").
    let archive = site.out_dir().join("shop.zip");
    create(&site.root(), &archive, &[]);
    site.write("robots.txt", "changed since the backup");
    run([
        "restore".as_ref(),
        archive.as_os_str(),
        site.root().as_os_str(),
        "--yes".as_ref(),
        "--mode".as_ref(),
        "replace".as_ref(),
    ])
    .expect(0);
    let notified = site.out_dir().join("notified-site-lock");
    {
        let _restoring = LockHolder::new(&site.root());
        let (stderr, told) = failed_run(&site.root(), &notified);
        assert!(stderr.contains("holds .sitepack/lock"), "{stderr}");
        assert!(!stderr.contains("restore was refused"), "{stderr}");
        assert!(told.contains("holds .sitepack/lock"), "{told}");
    }
    let events = auto_events(&site);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["outcome"], "failed");
    assert!(
        events[1]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("holds .sitepack/lock")
    );
    assert_eq!(list(&target), Vec::<Value>::new(), "nothing was stored");
}

/// An S3 endpoint the client could not use (a forgotten scheme) fails the run like any
/// other failure — exit 2, a failed `auto` event, the failure command run — and names the
/// endpoint; `create --to` and `list` with such an `--endpoint` exit 2 the same way.
#[test]
fn a_malformed_s3_endpoint_is_a_failure_not_a_crash() {
    let site = TestSite::demo();
    site.write(
        ".sitepack/config.toml",
        "[auto]\ntarget = 's3://backups/pre'\nendpoint = '127.0.0.1:9555'\nschedule = 'hourly'\n",
    );
    let notified = site.out_dir().join("notified");
    let failed = auto_run(
        &site,
        "2026-11-22T08:03:00Z",
        &["--on-failure", &notify_into(&notified)],
    )
    .expect(2);
    assert!(
        failed.stderr.contains("the S3 endpoint `127.0.0.1:9555`"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    let events = auto_events(&site);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["outcome"], "failed", "{events:#?}");
    let said = std::fs::read_to_string(&notified).expect("the failure command ran");
    assert!(said.contains("127.0.0.1:9555"), "{said}");

    let root = site.root().display().to_string();
    for args in [
        vec!["create", root.as_str(), "--to", "s3://backups/pre"],
        vec!["list", "s3://backups/pre"],
    ] {
        let failed = run(args.into_iter().chain(["--endpoint", "notaurl"])).expect(2);
        assert!(
            failed.stderr.contains("the S3 endpoint `notaurl`"),
            "{}",
            failed.stderr
        );
    }
}

/// A restore cut off while it was applying is undone before the run, and the run says so
/// on standard error, as every command that recovers a site does.
#[test]
fn a_run_after_an_interrupted_restore_says_it_recovered_it() {
    let (site, _target) = auto_site("schedule = \"hourly\"\n");
    let archive = site.out_dir().join("shop.zip");
    create(&site.root(), &archive, &[]);
    site.write("robots.txt", "changed since the backup");
    run([
        "restore".as_ref(),
        archive.as_os_str(),
        site.root().as_os_str(),
        "--yes".as_ref(),
        "--mode".as_ref(),
        "replace".as_ref(),
    ])
    .expect(0);
    // As a kill in the middle of the apply step leaves it.
    let journal = site.root().join(".sitepack/restore/journal.json");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"pending\""), "{text}");
    std::fs::write(&journal, text.replace("\"pending\"", "\"applying\"")).unwrap();

    let ran = auto_run(&site, "2026-11-22T08:03:00Z", &[]).expect(0);
    assert!(ran.stderr.contains("recovered: "), "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(site.root().join("robots.txt")).unwrap(),
        "changed since the backup",
        "the restore was undone"
    );
}
