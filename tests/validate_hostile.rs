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
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
            for name in listing(dir) {
                let path = dir.join(&name);
                let relative = format!("{prefix}{name}");
                out.push(relative.clone());
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    walk(&path, &format!("{relative}/"), out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root(), "", &mut out);
        out
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
