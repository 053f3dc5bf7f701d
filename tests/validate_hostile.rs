//! The command over hostile archives (FORMAT.md §13, §14): its exit codes and that
//! `extract` writes nothing, for a few representative attacks, and that the crafted
//! baseline every hostile archive starts from is what `sitepack create` writes.
//!
//! Every attack of §13, case by case, is checked on the reader's library API by the
//! reader's own suite (`crates/reader/tests/hostile`), with the same crafter
//! (`sitepack_test_support::zipcraft`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sitepack_format::Sha256;

use crate::util::zipcraft::{Entry, Payload, Placement, Zip, manifest_bytes};
use crate::util::{Run, TestSite, create, listing, read_archive, run};

/// A temporary directory: `in/archive.zip`, and `dest/` where `extract` is asked to create
/// `dest/out`.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn holding(bytes: &[u8]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::create_dir(dir.path().join("dest")).unwrap();
        std::fs::write(dir.path().join("in/archive.zip"), bytes).unwrap();
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn archive(&self) -> PathBuf {
        self.root().join("in/archive.zip")
    }

    fn out(&self) -> PathBuf {
        self.root().join("dest/out")
    }

    /// Every path below the sandbox, without following links.
    fn tree(&self) -> Vec<String> {
        sitepack_test_support::tree(self.root())
    }

    /// `sitepack validate in/archive.zip --json ARGS…`.
    fn validate(&self, args: &[&str]) -> Run {
        let archive = self.archive();
        let mut command = vec![
            OsStr::new("validate"),
            archive.as_os_str(),
            "--json".as_ref(),
        ];
        command.extend(args.iter().map(OsStr::new));
        run(command)
    }

    /// `sitepack extract in/archive.zip -o dest/out`.
    fn extract(&self) -> Run {
        run([
            OsStr::new("extract"),
            self.archive().as_os_str(),
            "-o".as_ref(),
            self.out().as_os_str(),
        ])
    }
}

/// The baseline archive.
fn baseline() -> Zip {
    Payload::baseline().zip()
}

#[test]
fn crafted_baseline_is_what_create_writes() {
    let site = TestSite::new("hostile");
    let payload = Payload::baseline();
    for (path, data) in payload.files() {
        site.write(path, data);
    }
    let out = site.out_dir().join("created.zip");
    create(&site.root(), &out, &[]);
    let created = read_archive(&out);

    let names: Vec<String> = payload
        .files()
        .keys()
        .map(|p| format!("site/{p}"))
        .chain(["checksums.sha256".to_owned(), "manifest.json".to_owned()])
        .collect();
    assert_eq!(created.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = names.clone();
        sorted.sort();
        sorted
    });
    assert_eq!(
        String::from_utf8_lossy(&created["manifest.json"]),
        String::from_utf8_lossy(&manifest_bytes(&payload.manifest()))
    );
    assert_eq!(
        String::from_utf8_lossy(&created["checksums.sha256"]),
        String::from_utf8_lossy(&payload.checksums())
    );
    for (path, data) in payload.files() {
        assert_eq!(&created[&format!("site/{path}")], data, "{path}");
    }
}

#[test]
fn crafted_baseline_validates_and_extracts() {
    let bytes = baseline().to_bytes();
    let sandbox = Sandbox::holding(&bytes);
    let archive = sandbox.archive();
    let report = sandbox.validate(&[]).expect(0).json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["findings"], json!([]), "{report:#}");
    assert_eq!(report["archive"], archive.to_str().unwrap());
    assert_eq!(report["digest"], Sha256::of(&bytes).to_string());
    assert_eq!(report["summary"]["errors"], 0);
    assert_eq!(report["summary"]["warnings"], 0);
    assert_eq!(report["summary"]["truncated"], false);

    // What the refusals below compare against: a valid archive is extracted.
    let out = sandbox.out();
    sandbox.extract().expect(0);
    for (path, data) in Payload::baseline().files() {
        assert_eq!(&std::fs::read(out.join("site").join(path)).unwrap(), data);
    }
    assert_eq!(
        std::fs::read(out.join("checksums.sha256")).unwrap(),
        Payload::baseline().checksums()
    );
    assert_eq!(listing(&sandbox.root().join("dest")), ["out"]);
}

/// A few representative attacks, one per kind of check (container, names, modes, limits,
/// completeness, manifest, secrets, not a ZIP), and the finding code each must be reported
/// with.
fn attacks() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let with = |relative: &str, data: &str| Payload::baseline().with(relative, data).zip();
    let mut hidden = baseline();
    let mut entry = Entry::file("site/files/hidden.txt", "not in the directory\n").deflated();
    entry.placement = Placement::LocalOnly;
    hidden.entries.insert(1, entry);
    let mut symlink = with("files/l", "/etc/passwd");
    *symlink.entry_mut("site/files/l") = symlink
        .entry_mut("site/files/l")
        .clone()
        .unix_mode(0o120_777);
    let mut missing = baseline();
    missing.remove("site/files/readme.txt");
    let mut no_manifest = baseline();
    no_manifest.remove("manifest.json");
    vec![
        (
            "hidden local header",
            hidden.to_bytes(),
            "HIDDEN_LOCAL_HEADER",
        ),
        (
            "traversal name",
            {
                let mut zip = baseline();
                zip.entries.push(Entry::file("../pwned", "x\n").deflated());
                zip.to_bytes()
            },
            "UNSAFE_PATH",
        ),
        ("symbolic link", symlink.to_bytes(), "LINK_ENTRY"),
        (
            "2 MiB of zeros",
            Payload::baseline()
                .with("files/zeros.bin", vec![0; 2 << 20])
                .zip()
                .to_bytes(),
            "RATIO_EXCEEDED",
        ),
        ("missing entry", missing.to_bytes(), "MISSING_ENTRY"),
        ("no manifest", no_manifest.to_bytes(), "MANIFEST_MISSING"),
        (
            "password in a tab",
            with(
                "settings/general.json",
                "{\"password\": \"hunter2-do-not-print\"}\n",
            )
            .to_bytes(),
            "SECRET_PRESENT",
        ),
        ("not a ZIP", b"just some text\n".to_vec(), "NOT_A_ZIP"),
    ]
}

/// Each attack: `validate` exits 1 naming it; `extract` exits 1, says why, creates no
/// output directory and leaves nothing behind.
#[test]
fn attacks_exit_1_and_extract_writes_nothing() {
    for (name, bytes, code) in attacks() {
        let sandbox = Sandbox::holding(&bytes);
        let validated = sandbox.validate(&[]).expect(1);
        let report = validated.json();
        assert_eq!(report["valid"], false, "{name}");
        let codes: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| &f["code"])
            .collect();
        assert!(
            codes.contains(&&json!(code)),
            "{name}: no {code} in {codes:?}"
        );
        assert!(
            !validated.stdout.contains("hunter2-do-not-print"),
            "{name}: the report repeats the secret"
        );

        let before = sandbox.tree();
        let extracted = sandbox.extract().expect(1);
        assert!(!extracted.stderr.is_empty(), "{name}: extract says why");
        assert!(
            std::fs::symlink_metadata(sandbox.out()).is_err(),
            "{name}: extract created its output directory"
        );
        assert_eq!(
            sandbox.tree(),
            before,
            "{name}: extract left something behind"
        );
    }
}

/// A warning: `validate` exits 0 (valid) and names it; `--strict` exits 1.
#[test]
fn a_warning_exits_0_and_1_with_strict() {
    let mut zip = baseline();
    zip.comment = b"made by hand".to_vec();
    let sandbox = Sandbox::holding(&zip.to_bytes());
    let report = sandbox.validate(&[]).expect(0).json();
    assert_eq!(report["valid"], true);
    assert_eq!(
        report["findings"][0]["code"], "ARCHIVE_COMMENT",
        "{report:#}"
    );
    let strict = sandbox.validate(&["--strict"]).expect(1).json();
    assert_eq!(strict["valid"], false);
    sandbox.extract().expect(0);
}

/// An archive that cannot be read is an error, not a verdict: exit 2.
#[test]
fn an_unreadable_archive_exits_2() {
    let sandbox = Sandbox::holding(b"");
    std::fs::remove_file(sandbox.archive()).unwrap();
    sandbox.validate(&[]).expect(2);
    sandbox.extract().expect(2);
    assert!(std::fs::symlink_metadata(sandbox.out()).is_err());
}

/// The finding codes of a `validate --json` report.
fn finding_codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Without flags the limits are those docs/COMMANDS.md gives: 1,000,000 entries and
/// 64 GiB in all. Each is reached through what the archive declares (its ZIP64 end
/// record's count, an entry's size), so nothing that large has to exist.
#[test]
fn default_limits_are_a_million_entries_and_64_gib() {
    let declaring_entries = |count: u64| {
        let mut zip = baseline();
        zip.zip64_end = true;
        let mut bytes = zip.to_bytes();
        let signature = 0x0606_4b50_u32.to_le_bytes();
        let at = bytes
            .windows(4)
            .rposition(|w| w == signature)
            .expect("a ZIP64 end record");
        // Entries on this disk, then in total (APPNOTE 4.3.14).
        bytes[at + 24..at + 32].copy_from_slice(&count.to_le_bytes());
        bytes[at + 32..at + 40].copy_from_slice(&count.to_le_bytes());
        bytes
    };
    // The limit is on the total: one entry declares what makes the total `total`.
    let declaring_bytes = |total: u64| {
        let mut zip = baseline();
        let name = "site/files/readme.txt";
        let others: u64 = zip
            .entries
            .iter()
            .filter(|e| e.name != name.as_bytes())
            .map(|e| e.data.len() as u64)
            .sum();
        let entry = zip.entry_mut(name);
        entry.zip64 = true;
        entry.central.uncompressed_size = Some(total - others);
        zip.to_bytes()
    };
    for (name, bytes, code, over) in [
        (
            "1,000,000 entries",
            declaring_entries(1_000_000),
            "TOO_MANY_ENTRIES",
            false,
        ),
        (
            "1,000,001 entries",
            declaring_entries(1_000_001),
            "TOO_MANY_ENTRIES",
            true,
        ),
        ("64 GiB", declaring_bytes(64 << 30), "TOO_LARGE", false),
        (
            "64 GiB + 1",
            declaring_bytes((64 << 30) + 1),
            "TOO_LARGE",
            true,
        ),
    ] {
        let sandbox = Sandbox::holding(&bytes);
        // Either way the archive is invalid (its count or size is a lie); only the limit's
        // finding tells the two apart.
        let report = sandbox.validate(&[]).expect(1).json();
        let codes = finding_codes(&report);
        assert_eq!(
            codes.iter().any(|c| c == code),
            over,
            "{name}: {code} expected only over the limit; {codes:?}"
        );
    }
}

/// A secret value in an archive is named by its finding, never repeated: not by the human
/// reports of `validate` and `preview`, nor by `extract`'s refusal, on either stream.
#[test]
fn human_reports_and_extract_never_repeat_a_secret() {
    const SECRET: &str = "s3cr3t-Value-never-printed";
    let site_keys = r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "secrets": {"keys": ["pin"]}}"#;
    let cases = [
        (
            "password in a tab",
            Payload::baseline().with(
                "settings/general.json",
                format!("{{\"title\": \"t\", \"password\": \"{SECRET}\"}}\n"),
            ),
        ),
        (
            "nested apiKey in a user card",
            Payload::baseline().with(
                "users/u-1.json",
                format!("{{\"id\": \"u-1\", \"crm\": {{\"apiKey\": \"{SECRET}\"}}}}\n"),
            ),
        ),
        (
            "token in a record",
            Payload::baseline().with(
                "modules/crm/contacts.jsonl",
                format!("{{\"id\":\"c-1\",\"portal\":{{\"token\":\"{SECRET}\"}}}}\n"),
            ),
        ),
        (
            "a header given as name and value",
            Payload::baseline().with(
                "themes/hooks.json",
                format!("{{\"headers\": [{{\"name\": \"Proxy-Authorization\", \"value\": \"{SECRET}\"}}]}}\n"),
            ),
        ),
        (
            "a URL with a password",
            Payload::baseline().with(
                "settings/general.json",
                format!("{{\"cache\": \"redis://cache:{SECRET}@10.0.0.7:6379/0\"}}\n"),
            ),
        ),
        (
            "a key the site declares secret",
            Payload::baseline()
                .with("site.json", site_keys)
                .with("settings/general.json", format!("{{\"pin\": \"{SECRET}\"}}\n")),
        ),
    ];
    for (name, payload) in cases {
        let sandbox = Sandbox::holding(&payload.zip().to_bytes());
        let archive = sandbox.archive();
        let out = sandbox.out();
        let commands: [&[&OsStr]; 3] = [
            &["validate".as_ref(), archive.as_os_str()],
            &["preview".as_ref(), archive.as_os_str()],
            &[
                "extract".as_ref(),
                archive.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
            ],
        ];
        for args in commands {
            let said = run(args).expect(1);
            assert!(
                said.stdout.contains("SECRET_PRESENT") || said.stderr.contains("SECRET_PRESENT"),
                "{name}: {args:?} does not name the finding: {said:?}"
            );
            assert!(
                !said.stdout.contains(SECRET) && !said.stderr.contains(SECRET),
                "{name}: {args:?} repeats the secret: {said:?}"
            );
        }
    }
}
