//! `sitepack check TARGET`: metadata by byte ranges, `--read-data`, `--read-data-subset
//! N/M` (groups 1..M read every backup once) and `P%` (seeded, reported); each kind of
//! damage (a byte changed, a missing sidecar, a truncated object, a sidecar that
//! disagrees) named with what is wrong; exit 0/1/2; `--on-failure`; the audit log; local
//! and S3 targets; encrypted backups.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::s3::{BUCKET, S3Server};
use crate::util::{Run, TestSite, run, sitepack};

const TIMES: [&str; 5] = [
    "2026-11-20T02:30:00Z",
    "2026-11-21T02:30:00Z",
    "2026-11-22T02:30:00Z",
    "2026-11-23T02:30:00Z",
    "2026-11-24T02:30:00Z",
];

/// Stores one backup of `site` per time in `TIMES`; their names, oldest first.
fn store_backups(
    command: &dyn Fn() -> std::process::Command,
    site: &Path,
    target: &str,
    args: &[&str],
) -> Vec<String> {
    TIMES
        .iter()
        .map(|time| {
            let stored = Run::from_command(
                command()
                    .arg("create")
                    .arg(site)
                    .args(["--to", target, "--timestamp", time, "--json"])
                    .args(args),
            )
            .expect(0)
            .json();
            stored["backup"]["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn check(command: std::process::Command, target: &str, args: &[&str], code: i32) -> Value {
    let mut command = command;
    command.args(["check", target, "--json"]).args(args);
    Run::from_command(&mut command).expect(code).json()
}

/// Each backup's verdict and problems, by name.
fn verdicts(report: &Value) -> BTreeMap<String, (String, bool, String)> {
    report["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                (
                    b["verdict"].as_str().unwrap().to_owned(),
                    b["data_read"].as_bool().unwrap(),
                    b["problems"].to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn subsets_one_to_four_read_every_backup_exactly_once() {
    let site = TestSite::demo();
    let target = site.out_dir().join("target");
    let target = target.to_str().unwrap();
    let names = store_backups(&sitepack, &site.root(), target, &[]);
    let mut times_read: BTreeMap<String, u32> = BTreeMap::new();
    for n in 1..=4 {
        let report = check(
            sitepack(),
            target,
            &["--read-data-subset", &format!("{n}/4")],
            0,
        );
        assert_eq!(report["read_data"], format!("group {n}/4 read"));
        for (name, (verdict, data_read, _)) in verdicts(&report) {
            assert_eq!(verdict, "sound");
            *times_read.entry(name).or_default() += u32::from(data_read);
        }
    }
    assert_eq!(times_read.keys().cloned().collect::<Vec<_>>(), names);
    assert!(times_read.values().all(|&n| n == 1), "{times_read:?}");

    // A random share: seeded, reported, repeatable.
    let first = check(
        sitepack(),
        target,
        &["--read-data-subset", "40%", "--seed", "7"],
        0,
    );
    assert_eq!(first["seed"], 7);
    assert_eq!(first["summary"]["data_read"], 2);
    let again = check(
        sitepack(),
        target,
        &["--read-data-subset", "40%", "--seed", "7"],
        0,
    );
    assert_eq!(verdicts(&first), verdicts(&again));
    let run = Run::from_command(sitepack().args(["check", target, "--read-data-subset", "0/4"]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("N/M"), "{}", run.stderr);
    // A seed chooses nothing in a group: refused rather than silently ignored.
    let run = Run::from_command(sitepack().args([
        "check",
        target,
        "--read-data-subset",
        "2/4",
        "--seed",
        "7",
    ]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--seed"), "{}", run.stderr);
}

#[test]
fn each_kind_of_damage_is_found_and_named_and_metadata_finds_those_that_need_no_data() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let target = out.join("target");
    let target_text = target.to_str().unwrap();
    let names = store_backups(&sitepack, &site.root(), target_text, &[]);
    let object = |name: &str| target.join(name);
    let sidecar = |name: &str| target.join(format!("{name}.json"));
    assert_eq!(
        check(sitepack(), target_text, &["--read-data"], 0)["sound"],
        true
    );

    // [0] one byte changed in the data; [1] its sidecar removed; [2] truncated;
    // [3] its sidecar's time disagrees with the manifest; [4] its sidecar's digest.
    let mut bytes = std::fs::read(object(&names[0])).unwrap();
    bytes[3000] ^= 0x01;
    std::fs::write(object(&names[0]), bytes).unwrap();
    std::fs::remove_file(sidecar(&names[1])).unwrap();
    let bytes = std::fs::read(object(&names[2])).unwrap();
    std::fs::write(object(&names[2]), &bytes[..bytes.len() - 100]).unwrap();
    let edit = |name: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(sidecar(name)).unwrap();
        assert!(text.contains(from));
        std::fs::write(sidecar(name), text.replacen(from, to, 1)).unwrap();
    };
    edit(&names[3], TIMES[3], "2026-11-23T02:31:00Z");
    let digest: Value =
        serde_json::from_slice(&std::fs::read(sidecar(&names[4])).unwrap()).unwrap();
    let digest = digest["sha256"].as_str().unwrap().to_owned();
    edit(&names[4], &digest, &"0".repeat(64));

    let data = check(
        sitepack(),
        target_text,
        &["--read-data", "--orphan-grace", "0"],
        1,
    );
    let found = verdicts(&data);
    assert_eq!(found[&names[0]].0, "damaged");
    assert!(
        found[&names[0]]
            .2
            .contains("does not match its recorded digest"),
        "{}",
        found[&names[0]].2
    );
    assert_eq!(found[&names[2]].0, "damaged");
    assert!(
        found[&names[2]].2.contains("bytes, its sidecar says"),
        "{}",
        found[&names[2]].2
    );
    assert_eq!(found[&names[3]].0, "damaged");
    assert!(
        found[&names[3]].2.contains("the sidecar says created_at"),
        "{}",
        found[&names[3]].2
    );
    assert_eq!(found[&names[4]].0, "damaged");
    assert!(!found.contains_key(&names[1]));
    let missing = data["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0]["key"], names[1].as_str());
    assert!(
        missing[0]["problem"]
            .as_str()
            .unwrap()
            .contains("its sidecar")
    );
    assert_eq!(data["summary"]["damaged"], 4);
    assert_eq!(data["summary"]["missing"], 1);

    // Metadata only: all but the changed byte and the changed digest (which need data).
    let metadata = check(sitepack(), target_text, &["--orphan-grace", "0"], 1);
    let found = verdicts(&metadata);
    assert_eq!(found[&names[0]].0, "sound");
    assert_eq!(found[&names[2]].0, "damaged");
    assert_eq!(found[&names[3]].0, "damaged");
    assert_eq!(found[&names[4]].0, "sound");
    assert_eq!(metadata["missing"][0]["key"], names[1].as_str());
    assert_eq!(metadata["summary"]["data_read"], 0);

    // A young orphan may be an upload still running: said, not counted (the grace).
    let young = check(sitepack(), target_text, &[], 1);
    assert_eq!(young["missing"][0]["damage"], false);
    assert_eq!(young["summary"]["missing"], 0);

    // The human report names each; --on-failure runs with the failures; the audit log
    // of --site-dir records the check.
    let hook_output = out.join("hook.txt");
    let hook = format!(
        "printf '%s' \"$SITEPACK_ERROR\" > '{}'",
        hook_output.display()
    );
    let run = Run::from_command(sitepack().args([
        "check",
        target_text,
        "--orphan-grace",
        "0",
        "--on-failure",
        &hook,
        "--site-dir",
        site.root().to_str().unwrap(),
    ]))
    .expect(1);
    for name in [&names[1], &names[2], &names[3]] {
        assert!(run.stdout.contains(name.as_str()), "{}", run.stdout);
    }
    assert!(run.stdout.contains("DAMAGED"), "{}", run.stdout);
    let told = std::fs::read_to_string(&hook_output).unwrap();
    assert!(
        told.contains(&names[2]) && told.contains(&names[1]),
        "{told}"
    );
    let audit = run_audit(&site.root());
    let last = audit.last().unwrap();
    assert_eq!(last["type"], "check");
    assert_eq!(last["outcome"], "failed");
    assert_eq!(last["details"]["damaged"].as_array().unwrap().len(), 3);
}

fn run_audit(site: &Path) -> Vec<Value> {
    run(["audit".as_ref(), site.as_os_str(), "--json".as_ref()])
        .expect(0)
        .json()["events"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn metadata_checks_of_s3_read_byte_ranges_and_read_data_downloads_everything() {
    let server = S3Server::start();
    let site = TestSite::demo();
    let target = format!("s3://{BUCKET}/checked");
    store_backups(&|| server.sitepack(), &site.root(), &target, &[]);
    let listed = Run::from_command(server.sitepack().args(["list", &target, "--json"]))
        .expect(0)
        .json();
    let total: u64 = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .sum();
    let metadata = check(server.sitepack(), &target, &[], 0);
    let fetched = metadata["summary"]["bytes_fetched"].as_u64().unwrap();
    assert!(fetched > 0 && fetched < total, "{fetched} of {total}");
    let data = check(server.sitepack(), &target, &["--read-data"], 0);
    assert_eq!(data["summary"]["bytes_fetched"].as_u64().unwrap(), total);
    assert_eq!(data["summary"]["data_read"], 5);
}

#[test]
fn an_encrypted_backup_is_read_with_identity_and_without_it_cannot_be_checked() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = out.join("key.txt");
    crate::util::run_tool("age-keygen", &["-o", key.to_str().unwrap()], &out).expect(0);
    let public = crate::util::run_tool("age-keygen", &["-y", key.to_str().unwrap()], &out)
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let target = out.join("target");
    let target = target.to_str().unwrap();
    store_backups(&sitepack, &site.root(), target, &["--encrypt-to", &public]);
    let metadata = check(sitepack(), target, &[], 0);
    assert!(metadata["backups"][0]["encrypted"].as_bool().unwrap());
    // An encrypted backup's metadata is its size and its age header: one overwritten
    // (same size) is found without reading the data.
    let name = metadata["backups"][4]["name"].as_str().unwrap().to_owned();
    let object = Path::new(target).join(&name);
    let mut bytes = std::fs::read(&object).unwrap();
    let saved = bytes.clone();
    bytes[..3].copy_from_slice(b"PK\x03");
    std::fs::write(&object, &bytes).unwrap();
    let found = check(sitepack(), target, &[], 1);
    assert!(
        verdicts(&found)[&name]
            .2
            .contains("does not start as an age file"),
        "{found}"
    );
    std::fs::write(&object, saved).unwrap();
    let no_key = check(sitepack(), target, &["--read-data"], 2);
    assert_eq!(no_key["summary"]["errors"], 5);
    assert!(
        no_key["backups"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("--identity")
    );
    // Said as not checked, never as damaged.
    let human = Run::from_command(sitepack().args(["check", target, "--read-data"]));
    assert_eq!(human.code, 2, "{}", human.stderr);
    assert!(
        human.stderr.contains("5 backup(s) could not be checked")
            && !human.stderr.contains("damaged"),
        "{}",
        human.stderr
    );
    let with_key = check(
        sitepack(),
        target,
        &["--read-data", "--identity", key.to_str().unwrap()],
        0,
    );
    assert_eq!(with_key["summary"]["data_read"], 5);
}

#[test]
fn auto_run_verifies_on_its_own_schedule_rotating_through_the_groups() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let target = out.join("target");
    let hook_output = out.join("hook.txt");
    site.write(
        ".sitepack/config.toml",
        format!(
            "[auto]\ntarget = '{}'\nschedule = 'daily'\n\n[verify]\nschedule = 'daily'\nsubset = '1/3'\n",
            target.display()
        ),
    );
    let auto_run = |now: &str, code: i32| {
        Run::from_command(
            sitepack()
                .env("SITEPACK_NOW", now)
                .args([
                    "auto",
                    "run",
                    site.root().to_str().unwrap(),
                    "--if-due",
                    "--json",
                ])
                .args([
                    "--on-failure",
                    &format!(
                        "printf '%s' \"$SITEPACK_ERROR\" > '{}'",
                        hook_output.display()
                    ),
                ]),
        )
        .expect(code)
        .json()
    };
    let mut groups = Vec::new();
    for day in 20..=23 {
        let report = auto_run(&format!("2026-11-{day}T03:00:00Z"), 0);
        assert_eq!(report["verify"]["sound"], true, "{report}");
        groups.push(report["verify"]["read_data"].as_str().unwrap().to_owned());
        // Later the same day: neither a backup nor a verification is due.
        let again = auto_run(&format!("2026-11-{day}T04:00:00Z"), 0);
        assert!(again.get("verify").is_none(), "{again}");
    }
    assert_eq!(
        groups,
        [
            "group 1/3 read",
            "group 2/3 read",
            "group 3/3 read",
            "group 1/3 read"
        ]
    );
    let checks: Vec<Value> = run_audit(&site.root())
        .into_iter()
        .filter(|e| e["type"] == "check")
        .collect();
    assert_eq!(checks.len(), 4);
    assert_eq!(checks[1]["details"]["subset"], "2/3");
    assert_eq!(checks[1]["details"]["scheduled"], true);

    // A truncated backup: the next verification finds it (metadata suffices), exits 1
    // and runs --on-failure.
    let name = checks[0]["details"]["target"].as_str().unwrap().to_owned();
    assert_eq!(name, target.display().to_string());
    let dir = target.join("acme-shop");
    let archive = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let report = auto_run("2026-11-24T03:00:00Z", 1);
    assert_eq!(report["verify"]["sound"], false);
    let told = std::fs::read_to_string(&hook_output).unwrap();
    assert!(
        told.contains(archive.file_name().unwrap().to_str().unwrap()),
        "{told}"
    );
}

#[test]
fn a_target_or_site_without_backups_is_sound_with_a_warning() {
    let site = TestSite::demo();
    let empty = site.out_dir().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run =
        crate::util::Run::from_command(sitepack().args(["check", &empty.display().to_string()]));
    let run = run.expect(0);
    assert!(run.stdout.contains("SOUND"), "{}", run.stdout);
    assert!(
        run.stderr.contains("warning: no backups found in")
            && run.stderr.contains("nothing was checked"),
        "{}",
        run.stderr
    );
    let run = crate::util::Run::from_command(sitepack().args([
        "check",
        &empty.display().to_string(),
        "--site",
        "nosuch",
    ]))
    .expect(0);
    assert!(run.stderr.contains("for site nosuch"), "{}", run.stderr);
}
