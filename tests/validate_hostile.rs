//! Hostile archives (FORMAT.md §13, §14), crafted byte by byte with `util::zipcraft`.
//!
//! Each archive is a valid sitepack archive but for one attack: its manifest and checksums
//! are what a correct writer derives from its files (the baseline tests prove it). For each
//! one, `validate --json` must name the attack by its finding code — with the entry where
//! the finding has one — and exit 1, and `extract` must exit 1 having written nothing
//! anywhere: no output directory, nothing new beside it or beside the archive.
//!
//! Cases are tables; a failing case is named, and every case of a table runs even when an
//! earlier one fails.

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sitepack_format::Sha256;

use crate::util::zipcraft::{
    Anchor, DEFLATED, Descriptor, EOCD_SIGNATURE, Entry, FLAG_ENCRYPTED, FLAG_MASKED_HEADER,
    FLAG_STRONG_ENCRYPTION, FLAG_UTF8, Offsets, Payload, Placement, STORED, Zip, deflate,
    extra_field, manifest_bytes, unicode_path_extra,
};
use crate::util::{TestSite, create, listing, read_archive, run};

// ---------------------------------------------------------------------------------------
// Harness

/// A temporary directory: `in/archive.zip`, and `dest/` where `extract` is asked to create
/// `dest/out`.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::create_dir(dir.path().join("dest")).unwrap();
        Self { dir }
    }

    fn holding(bytes: &[u8]) -> Self {
        let sandbox = Self::new();
        sandbox.put(bytes);
        sandbox
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn put(&self, bytes: &[u8]) {
        std::fs::write(self.archive(), bytes).unwrap();
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
}

/// What `validate --json` said.
struct Report {
    code: i32,
    stdout: String,
    json: Value,
}

fn validate(archive: &Path, args: &[&str]) -> Report {
    let mut command = vec![
        OsStr::new("validate"),
        archive.as_os_str(),
        "--json".as_ref(),
    ];
    command.extend(args.iter().map(OsStr::new));
    let run = run(command);
    let json = run.json();
    Report {
        code: run.code,
        stdout: run.stdout,
        json,
    }
}

impl Report {
    fn findings(&self) -> &[Value] {
        self.json["findings"].as_array().map_or(&[], Vec::as_slice)
    }

    fn with_code(&self, code: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["code"] == code)
            .collect()
    }

    fn codes(&self, severity: &str) -> Vec<&str> {
        self.findings()
            .iter()
            .filter(|f| f["severity"] == severity)
            .map(|f| f["code"].as_str().unwrap_or("?"))
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {}, findings:\n{}",
            self.code,
            serde_json::to_string_pretty(self.findings()).unwrap()
        )
    }
}

/// Where a finding must point.
enum At {
    /// At this entry name.
    Entry(String),
    /// At one of these names (which of two colliding entries, say, is up to the reader).
    OneOf(Vec<String>),
    /// At the whole archive: no `path`.
    Archive,
    /// Anywhere (the path of a non-UTF-8 name, or of a label, is the reader's choice).
    Anywhere,
}

/// One hostile archive and the finding that must name its attack.
struct Case {
    name: String,
    bytes: Vec<u8>,
    code: &'static str,
    at: At,
    /// Text the finding's message must contain (a JSON pointer, "newer").
    saying: Option<&'static str>,
}

impl Case {
    fn new(name: impl Into<String>, bytes: Vec<u8>, code: &'static str) -> Self {
        Self {
            name: name.into(),
            bytes,
            code,
            at: At::Anywhere,
            saying: None,
        }
    }

    fn saying(self, text: &'static str) -> Self {
        Self {
            saying: Some(text),
            ..self
        }
    }

    /// An archive with nothing to find.
    fn clean(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self::new(name, bytes, "")
    }

    fn at(self, path: &str) -> Self {
        Self {
            at: At::Entry(path.to_owned()),
            ..self
        }
    }

    fn at_one_of(self, paths: &[&str]) -> Self {
        Self {
            at: At::OneOf(paths.iter().map(|p| (*p).to_owned()).collect()),
            ..self
        }
    }

    fn whole_archive(self) -> Self {
        Self {
            at: At::Archive,
            ..self
        }
    }

    /// Asserts that `report` has a finding of this case's code and severity at its place.
    #[track_caller]
    fn assert_found(&self, report: &Report, severity: &str) {
        let name = &self.name;
        let hits: Vec<&Value> = report
            .with_code(self.code)
            .into_iter()
            .filter(|f| f["severity"] == severity)
            .collect();
        assert!(
            !hits.is_empty(),
            "{name}: no {severity} {} finding; {report}",
            self.code
        );
        let placed = |f: &&Value| match &self.at {
            At::Entry(path) => f["path"] == path.as_str(),
            At::OneOf(paths) => paths.iter().any(|p| f["path"] == p.as_str()),
            At::Archive => f.get("path").is_none_or(Value::is_null),
            At::Anywhere => true,
        };
        assert!(
            hits.iter().any(placed),
            "{name}: {} finding not at {}; {report}",
            self.code,
            match &self.at {
                At::Entry(path) => format!("{path:?}"),
                At::OneOf(paths) => format!("one of {paths:?}"),
                At::Archive => "the whole archive (no path)".to_owned(),
                At::Anywhere => unreachable!(),
            }
        );
        if let Some(text) = self.saying {
            assert!(
                hits.iter()
                    .filter(|f| placed(f))
                    .any(|f| f["message"].as_str().unwrap_or("").contains(text)),
                "{name}: no {} message says {text:?}; {report}",
                self.code
            );
        }
    }
}

/// Runs `check` on every case, then fails naming every case that failed.
fn each(cases: Vec<Case>, check: fn(&Case)) {
    assert!(!cases.is_empty());
    let total = cases.len();
    let failed: Vec<String> = cases
        .into_iter()
        .filter(|case| catch_unwind(AssertUnwindSafe(|| check(case))).is_err())
        .map(|case| case.name)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {total} cases failed (details above): {failed:#?}",
        failed.len()
    );
}

/// `validate` finds the case's error and exits 1; `extract` exits 1 and writes nothing.
fn refused(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    refused_in(case, &sandbox);
}

fn refused_in(case: &Case, sandbox: &Sandbox) {
    let report = validate(&sandbox.archive(), &[]);
    assert_invalid(case, &report);
    assert_extract_refused(case, sandbox);
}

#[track_caller]
fn assert_invalid(case: &Case, report: &Report) {
    assert_eq!(
        report.code, 1,
        "{}: validate exit code; {report}",
        case.name
    );
    assert_eq!(report.json["valid"], false, "{}: valid", case.name);
    case.assert_found(report, "error");
}

/// `extract` exits 1, creates no output directory and leaves the sandbox as it was.
#[track_caller]
fn assert_extract_refused(case: &Case, sandbox: &Sandbox) {
    let before = sandbox.tree();
    let run = run([
        OsStr::new("extract"),
        sandbox.archive().as_os_str(),
        "-o".as_ref(),
        sandbox.out().as_os_str(),
    ]);
    assert_eq!(
        run.code, 1,
        "{}: extract exit code\n--- stderr\n{}",
        case.name, run.stderr
    );
    assert!(!run.stderr.is_empty(), "{}: extract says why", case.name);
    assert!(
        std::fs::symlink_metadata(sandbox.out()).is_err(),
        "{}: extract created its output directory",
        case.name
    );
    assert_eq!(
        sandbox.tree(),
        before,
        "{}: extract left something behind",
        case.name
    );
}

/// Like [`refused`], and the case's code is the only error: nothing but the attack was
/// caught, so the attack alone is what is tested.
fn refused_alone(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let report = validate(&sandbox.archive(), &[]);
    assert_invalid(case, &report);
    let errors = report.codes("error");
    assert!(
        errors.iter().all(|code| *code == case.code),
        "{}: errors other than {}; {report}",
        case.name,
        case.code
    );
    assert_extract_refused(case, &sandbox);
}

/// A warning: `validate` exits 0 with the case's warning and no error; `--strict` exits 1
/// with `valid: false`.
fn warned(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let report = validate(&sandbox.archive(), &[]);
    assert_eq!(
        report.code, 0,
        "{}: validate exit code; {report}",
        case.name
    );
    assert_eq!(report.json["valid"], true, "{}: valid", case.name);
    assert_eq!(report.codes("error"), Vec::<&str>::new(), "{}", case.name);
    case.assert_found(&report, "warning");

    let strict = validate(&sandbox.archive(), &["--strict"]);
    assert_eq!(
        strict.code, 1,
        "{}: --strict exit code; {strict}",
        case.name
    );
    assert_eq!(strict.json["valid"], false, "{}: --strict valid", case.name);
    case.assert_found(&strict, "warning");
}

/// `validate` exits 0 with no finding at all.
fn accepted(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let report = validate(&sandbox.archive(), &[]);
    assert_eq!(
        report.code, 0,
        "{}: validate exit code; {report}",
        case.name
    );
    assert_eq!(report.json["valid"], true, "{}: valid", case.name);
    assert!(
        report.findings().is_empty(),
        "{}: findings; {report}",
        case.name
    );
}

// ---------------------------------------------------------------------------------------
// Builders

/// The baseline archive.
fn baseline() -> Zip {
    Payload::baseline().zip()
}

/// The baseline with the site file `relative` (under `site/`), listed in the manifest with
/// its true size, digest and area.
fn listed(relative: &str, data: impl Into<Vec<u8>>) -> Vec<u8> {
    Payload::baseline().with(relative, data).zip().to_bytes()
}

/// The baseline with one more entry named `name`: listed in the manifest when it is UTF-8
/// under `site/` (the name attack is then the only thing wrong with the ZIP), else only in
/// the ZIP.
fn with_entry_named(name: &[u8], data: &[u8]) -> Vec<u8> {
    let relative = std::str::from_utf8(name)
        .ok()
        .and_then(|n| n.strip_prefix("site/"));
    if let Some(relative) = relative {
        listed(relative, data)
    } else {
        let mut zip = baseline();
        zip.entries.push(Entry::file(name, data).deflated());
        zip.to_bytes()
    }
}

/// Changes an entry's fields.
type EntryEdit = fn(&mut Entry);

/// The baseline with the entry `name` edited.
fn edited(name: &str, edit: impl FnOnce(&mut Entry)) -> Vec<u8> {
    let mut zip = baseline();
    edit(zip.entry_mut(name));
    zip.to_bytes()
}

/// The baseline archive with an edited manifest (checksums as the payload implies).
fn with_manifest(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let payload = Payload::baseline();
    let mut manifest = payload.manifest();
    edit(&mut manifest);
    payload.zip_with(&manifest).to_bytes()
}

/// The manifest entry of `path`.
fn manifest_entry<'a>(manifest: &'a mut Value, path: &str) -> &'a mut Value {
    manifest["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} is listed"))
}

/// One `UNSAFE_PATH` case per name, each at its entry.
fn unsafe_names(names: &[&str]) -> Vec<Case> {
    names
        .iter()
        .map(|name| {
            Case::new(
                format!("entry named {name:?}"),
                with_entry_named(name.as_bytes(), b"x\n"),
                "UNSAFE_PATH",
            )
            .at(name)
        })
        .collect()
}

const README: &str = "site/files/readme.txt";

// ---------------------------------------------------------------------------------------
// The baseline is valid

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
    let report = validate(&archive, &[]);
    assert_eq!(report.code, 0, "{report}");
    assert_eq!(report.json["valid"], true);
    assert_eq!(report.findings(), &[] as &[Value], "{report}");
    assert_eq!(report.json["archive"], archive.to_str().unwrap());
    assert_eq!(report.json["digest"], Sha256::of(&bytes).to_string());
    assert_eq!(report.json["summary"]["errors"], 0);
    assert_eq!(report.json["summary"]["warnings"], 0);
    assert_eq!(report.json["summary"]["truncated"], false);

    // What the refusals below compare against: a valid archive is extracted.
    let out = sandbox.out();
    run([
        OsStr::new("extract"),
        archive.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
    .expect(0);
    for (path, data) in Payload::baseline().files() {
        assert_eq!(&std::fs::read(out.join("site").join(path)).unwrap(), data);
    }
    assert_eq!(
        std::fs::read(out.join("checksums.sha256")).unwrap(),
        Payload::baseline().checksums()
    );
    assert_eq!(listing(&sandbox.root().join("dest")), ["out"]);
}

/// What §3.2 says readers accept, written the way other tools write it: none of it is a
/// finding. (The knobs the attacks below use must not be findings on their own.)
#[test]
fn container_variants_other_tools_write_are_accepted() {
    let each_entry = |edit: fn(&mut Entry)| {
        let mut zip = baseline();
        zip.entries.iter_mut().for_each(edit);
        zip.to_bytes()
    };
    let mut zip64_end = baseline();
    zip64_end.zip64_end = true;
    let mut everything_zip64 = baseline();
    everything_zip64.zip64_end = true;
    everything_zip64
        .entries
        .iter_mut()
        .for_each(|e| e.zip64 = true);
    let mut reversed = baseline();
    reversed.entries.reverse();
    let mut with_directories = baseline();
    for (index, name) in [(0, "site/"), (1, "site/files/"), (2, "site/modules/crm/")] {
        with_directories
            .entries
            .insert(index, Entry::directory(name));
    }
    let mut python_directories = baseline();
    python_directories
        .entries
        .insert(0, Entry::directory("site/files/").unix_mode(0o040_755));

    each(
        vec![
            Case::clean("crafted baseline", baseline().to_bytes()),
            Case::clean("every entry stored", each_entry(|e| e.method = STORED)),
            Case::clean("ZIP64 end record", zip64_end.to_bytes()),
            Case::clean("ZIP64 everywhere", everything_zip64.to_bytes()),
            Case::clean(
                "data descriptors with signature",
                each_entry(|e| e.descriptor = Descriptor::Signed),
            ),
            Case::clean(
                "data descriptors without signature",
                each_entry(|e| e.descriptor = Descriptor::Unsigned),
            ),
            Case::clean(
                "ZIP64 data descriptors",
                each_entry(|e| {
                    e.descriptor = Descriptor::Signed;
                    e.zip64 = true;
                }),
            ),
            Case::clean("entries in reverse order", reversed.to_bytes()),
            Case::clean("directory entries", with_directories.to_bytes()),
            Case::clean("Unix-only directory entry", python_directories.to_bytes()),
            Case::clean(
                "MS-DOS archive attributes",
                each_entry(|e| *e = e.clone().dos_attributes(0x20)),
            ),
            Case::clean(
                "Unix mode 0600 and version made by 2.0",
                each_entry(|e| {
                    *e = e.clone().unix_mode(0o100_600);
                    e.version_made_by = 0x0314; // Unix, APPNOTE 2.0
                }),
            ),
            Case::clean(
                "Info-ZIP time and uid/gid extra fields",
                each_entry(|e| {
                    let time = extra_field(0x5455, &[1, 0x68, 0x9f, 0x1d, 0x6a]);
                    let owner = extra_field(0x7875, &[1, 4, 0xe8, 3, 0, 0, 4, 0xe8, 3, 0, 0]);
                    e.local_extra = [time.clone(), owner.clone()].concat();
                    e.central_extra = [time, owner].concat();
                }),
            ),
            Case::clean(
                "unknown extra field",
                each_entry(|e| e.central_extra = extra_field(0xCAFE, b"whatever")),
            ),
            Case::clean(
                "matching Unicode Path extra fields",
                each_entry(|e| {
                    let name = String::from_utf8(e.name.clone()).unwrap();
                    e.local_extra = unicode_path_extra(&e.name, &name);
                    e.central_extra = e.local_extra.clone();
                }),
            ),
        ],
        accepted,
    );
}

// ---------------------------------------------------------------------------------------
// Names (§4, §13.3)

#[test]
fn traversal_names_are_unsafe() {
    // Each `..` chain stays inside the sandbox, so a broken extract is caught by its tree.
    each(
        unsafe_names(&[
            "../pwned",
            "site/../../../pwned",
            "site/files/../x",
            "site/files/a/../../x",
            "site/files/../../../../pwned",
            "site/files/..",
            "site/files/./x",
            "./site/files/x",
        ]),
        refused,
    );
}

#[test]
fn absolute_names_are_unsafe() {
    // Absolute names that a broken extract would write into the sandbox, where its tree
    // check sees them.
    let cases: Vec<(Case, Sandbox)> = ["pwned", "dest/out/../pwned", "in/archive.zip"]
        .into_iter()
        .map(|target| {
            let sandbox = Sandbox::new();
            let name = format!("{}/{target}", sandbox.root().display());
            let case = Case::new(
                format!("entry named {name:?}"),
                with_entry_named(name.as_bytes(), b"x\n"),
                "UNSAFE_PATH",
            )
            .at(&name);
            sandbox.put(&case.bytes);
            (case, sandbox)
        })
        .collect();
    let total = cases.len();
    let failed: Vec<&str> = cases
        .iter()
        .filter(|(case, sandbox)| {
            catch_unwind(AssertUnwindSafe(|| refused_in(case, sandbox))).is_err()
        })
        .map(|(case, _)| case.name.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {total} failed: {failed:#?}",
        failed.len()
    );

    // Outside the sandbox: validated only, so that a broken extract run as root cannot
    // write there.
    for name in ["/etc/x", "/site/files/x", "\\site\\files\\x", "//server/x"] {
        let sandbox = Sandbox::holding(&with_entry_named(name.as_bytes(), b"x\n"));
        let report = validate(&sandbox.archive(), &[]);
        let case = Case::new(format!("entry named {name:?}"), Vec::new(), "UNSAFE_PATH").at(name);
        assert_invalid(&case, &report);
    }
}

#[test]
fn drive_letter_names_are_unsafe() {
    each(
        unsafe_names(&[
            "C:\\x",
            "C:x",
            "c:/x",
            "site/files/C:x",
            "site/files/C:\\x",
            "site/files/readme.txt:stream",
        ]),
        refused,
    );
}

#[test]
fn unc_names_are_unsafe() {
    each(
        unsafe_names(&[
            "\\\\server\\share\\x",
            "\\\\?\\C:\\x",
            "\\\\.\\pipe\\x",
            "site/files/\\\\server\\share\\x",
        ]),
        refused,
    );
}

#[test]
fn backslash_names_are_unsafe() {
    each(
        unsafe_names(&[
            "site\\files\\x",
            "site/files/a\\b",
            "site/files/..\\..\\..\\..\\pwned",
            "site/files/x\\",
        ]),
        refused,
    );
}

#[test]
fn nul_in_names_is_unsafe() {
    each(
        unsafe_names(&[
            "site/files/a\0b",
            "site/files/readme.txt\0.png",
            "site/files/\0",
            "\0",
        ]),
        refused,
    );
}

#[test]
fn control_characters_in_names_are_unsafe() {
    each(
        unsafe_names(&[
            "site/files/a\x1bb",
            "site/files/tab\there",
            "site/files/new\nline",
            "site/files/cr\r",
            "site/files/del\x7f",
            "site/files/next\u{85}line",
        ]),
        refused,
    );
}

#[test]
fn bidi_and_other_format_characters_in_names_are_unsafe() {
    each(
        unsafe_names(&[
            "site/files/invoice\u{202E}fdp.exe",
            "site/files/\u{2066}x\u{2069}",
            "site/files/zero\u{200B}width",
            "site/files/\u{FEFF}bom",
            "site/files/a\u{2028}b",
            "site/files/a\u{2029}b",
            "site/files/private\u{E000}",
            "site/files/unassigned\u{0378}",
        ]),
        refused,
    );
}

#[test]
fn non_nfc_names_are_unsafe() {
    each(
        unsafe_names(&[
            "site/files/e\u{301}.txt",
            "site/files/A\u{30A}ngstr\u{F6}m",
            "site/files/\u{212B}",
            "site/files/\u{FB01}le\u{301}",
        ]),
        refused,
    );
}

#[test]
fn reserved_device_names_are_unsafe() {
    each(
        unsafe_names(&[
            "site/files/con.txt",
            "site/files/aux",
            "site/files/NUL.tar.gz",
            "site/files/prn .txt",
            "site/files/COM\u{B9}",
            "site/files/lpt0",
            "site/files/conin$",
            "site/CON/x",
        ]),
        refused,
    );
}

#[test]
fn trailing_dot_or_space_is_unsafe() {
    each(
        unsafe_names(&[
            "site/files/x.",
            "site/files/x ",
            "site/files/dir./x",
            "site/files/dir /x",
            "site/files/...",
        ]),
        refused,
    );
}

#[test]
fn empty_components_and_overlong_names_are_unsafe() {
    let long_component = format!("site/files/{}", "a".repeat(256));
    let long_path = format!("site/files/{}x", "b/".repeat(507));
    assert!(long_path.len() > 1024);
    each(
        unsafe_names(&["site/files//x", "site//x", &long_component, &long_path]),
        refused,
    );
}

#[test]
fn non_utf8_names_are_refused() {
    let names: &[&[u8]] = &[
        b"site/files/\xff.txt",
        b"site/files/\xc3\x28",
        b"site/files/\xed\xa0\x80",
        b"site/files/..\xc0\xaf..\xc0\xafpwned",
        b"\xc0\xae\xc0\xae/pwned",
    ];
    each(
        names
            .iter()
            .map(|name| {
                Case::new(
                    format!("entry named {:?}", String::from_utf8_lossy(name)),
                    with_entry_named(name, b"x\n"),
                    "NAME_NOT_UTF8",
                )
            })
            .collect(),
        refused,
    );
}

#[test]
fn non_ascii_name_without_the_utf8_flag_is_a_warning() {
    let cases = ["files/Überweisung.txt", "files/李雷/头像.png"]
        .into_iter()
        .map(|relative| {
            let name = format!("site/{relative}");
            let mut zip = Payload::baseline().with(relative, "x\n").zip();
            zip.entry_mut(&name).flags &= !FLAG_UTF8;
            Case::new(
                format!("{name:?} without bit 11"),
                zip.to_bytes(),
                "UTF8_FLAG_MISSING",
            )
            .at(&name)
        })
        .collect();
    each(cases, warned);
}

#[test]
fn duplicate_names_are_refused() {
    let twice = |name: &str, data: &[u8]| {
        let mut zip = baseline();
        zip.entries.push(Entry::file(name, data).deflated());
        zip.to_bytes()
    };
    let readme = Payload::baseline().files()["files/readme.txt"].clone();
    let mut other_manifest = Payload::baseline().manifest();
    other_manifest["label"] = json!("the second manifest");
    each(
        vec![
            Case::new(
                "readme twice, same data",
                twice(README, &readme),
                "DUPLICATE_NAME",
            )
            .at(README),
            Case::new(
                "readme twice, other data",
                twice(README, b"#!/bin/sh\nrm -rf ~\n"),
                "DUPLICATE_NAME",
            )
            .at(README),
            Case::new(
                "site.json twice",
                twice(
                    "site/site.json",
                    br#"{"id": "evil", "name": "e", "url": "https://e.example"}"#,
                ),
                "DUPLICATE_NAME",
            )
            .at("site/site.json"),
            Case::new(
                "manifest.json twice",
                twice("manifest.json", &manifest_bytes(&other_manifest)),
                "DUPLICATE_NAME",
            )
            .at("manifest.json"),
            Case::new(
                "checksums.sha256 twice",
                twice("checksums.sha256", &Payload::baseline().checksums()),
                "DUPLICATE_NAME",
            )
            .at("checksums.sha256"),
        ],
        refused,
    );
}

#[test]
fn case_collisions_are_refused() {
    let pairs = [
        ("files/A.txt", "files/a.txt"),
        ("files/Readme.txt", "files/README.TXT"),
        ("files/Straße.txt", "files/STRASSE.txt"),
        ("files/\u{3C2}.txt", "files/\u{3C3}.txt"),
    ];
    let cases = pairs
        .into_iter()
        .map(|(a, b)| {
            let bytes = Payload::baseline()
                .with(a, "a\n")
                .with(b, "b\n")
                .zip()
                .to_bytes();
            let (a, b) = (format!("site/{a}"), format!("site/{b}"));
            Case::new(format!("{a:?} and {b:?}"), bytes, "NAME_COLLISION").at_one_of(&[&a, &b])
        })
        .collect();
    each(cases, refused);
}

/// Only entries collide (§4): directories that differ in case alone hold different files.
#[test]
fn directories_differing_only_in_case_are_accepted() {
    let bytes = Payload::baseline()
        .with("files/Docs/x.txt", "x\n")
        .with("files/docs/y.txt", "y\n")
        .zip()
        .to_bytes();
    each(
        vec![Case::clean("files/Docs/x.txt and files/docs/y.txt", bytes)],
        accepted,
    );
}

#[test]
fn file_directory_conflicts_are_refused() {
    let pair = |a: &str, b: &str| {
        let bytes = Payload::baseline()
            .with(a, "a\n")
            .with(b, "b\n")
            .zip()
            .to_bytes();
        let (a, b) = (format!("site/{a}"), format!("site/{b}"));
        Case::new(format!("{a:?} and {b:?}"), bytes, "FILE_DIR_CONFLICT").at_one_of(&[&a, &b])
    };
    let mut directory_entry = Payload::baseline().with("files/x", "a\n").zip();
    directory_entry
        .entries
        .insert(0, Entry::directory("site/files/x/"));
    each(
        vec![
            pair("files/x", "files/x/y"),
            pair("files/X", "files/x/y"),
            pair("files/x", "files/x/y/z"),
            Case::new(
                "file site/files/x and directory entry site/files/x/",
                directory_entry.to_bytes(),
                "FILE_DIR_CONFLICT",
            )
            .at_one_of(&["site/files/x", "site/files/x/"]),
        ],
        refused,
    );
}

// ---------------------------------------------------------------------------------------
// Modes (§13.3)

/// Gives an entry other attributes (mode, host).
type Attributes = fn(Entry) -> Entry;

/// The baseline with `site/<relative>` holding `data` and given `attributes`.
fn with_mode(relative: &str, data: &[u8], attributes: Attributes) -> Vec<u8> {
    let name = format!("site/{relative}");
    let mut zip = Payload::baseline().with(relative, data).zip();
    let index = zip.index(&name);
    zip.entries[index] = attributes(zip.entries[index].clone());
    zip.to_bytes()
}

#[test]
fn symlink_entries_are_refused() {
    let link = |e: Entry| e.unix_mode(0o120_777);
    let mut link_then_entry_below = Payload::baseline()
        .with("files/l", "/tmp")
        .with("files/l/x", "through the link\n")
        .zip();
    *link_then_entry_below.entry_mut("site/files/l") = link_then_entry_below
        .entry_mut("site/files/l")
        .clone()
        .unix_mode(0o120_777);
    each(
        vec![
            Case::new(
                "link to /etc/passwd",
                with_mode("files/passwd", b"/etc/passwd", link),
                "LINK_ENTRY",
            )
            .at("site/files/passwd"),
            Case::new(
                "link to ../../../../etc/passwd",
                with_mode("files/rel", b"../../../../etc/passwd", link),
                "LINK_ENTRY",
            )
            .at("site/files/rel"),
            Case::new(
                "link to a sibling",
                with_mode("files/sibling", b"readme.txt", |e| e.unix_mode(0o120_644)),
                "LINK_ENTRY",
            )
            .at("site/files/sibling"),
            Case::new(
                "link site/files/l, then site/files/l/x",
                link_then_entry_below.to_bytes(),
                "LINK_ENTRY",
            )
            .at("site/files/l"),
            Case::new(
                "DOS reparse point",
                with_mode("files/junction", b"C:\\Windows", |e| {
                    e.dos_attributes(0x420)
                }),
                "LINK_ENTRY",
            )
            .at("site/files/junction"),
        ],
        refused,
    );
}

#[test]
fn special_modes_are_refused() {
    let cases: Vec<(&str, Attributes)> = vec![
        ("setuid", |e| e.unix_mode(0o104_755)),
        ("setgid", |e| e.unix_mode(0o102_755)),
        ("setuid without a type", |e| e.unix_mode(0o004_755)),
        ("FIFO", |e| e.unix_mode(0o010_644)),
        ("character device", |e| e.unix_mode(0o020_644)),
        ("block device", |e| e.unix_mode(0o060_644)),
        ("socket", |e| e.unix_mode(0o140_644)),
        ("directory type on a file entry", |e| e.unix_mode(0o040_755)),
        ("DOS directory attribute on a file entry", |e| {
            e.dos_attributes(0x10)
        }),
    ];
    let mut regular_directory = baseline();
    regular_directory
        .entries
        .insert(0, Entry::directory("site/files/").unix_mode(0o100_644));
    let mut cases: Vec<Case> = cases
        .into_iter()
        .map(|(name, mode)| {
            Case::new(
                name,
                with_mode("files/tool", b"#!/bin/sh\n", mode),
                "SPECIAL_MODE",
            )
            .at("site/files/tool")
        })
        .collect();
    cases.push(
        Case::new(
            "regular-file type on a directory entry",
            regular_directory.to_bytes(),
            "SPECIAL_MODE",
        )
        .at_one_of(&["site/files/", "site/files"]),
    );
    each(cases, refused);
}

// ---------------------------------------------------------------------------------------
// Local header against central directory (§13.2)

#[test]
fn local_header_mismatches_are_refused() {
    let variants: Vec<(&str, EntryEdit)> = vec![
        ("local name differs", |e| {
            e.local.name = Some(b"site/files/evil.txt".to_vec());
        }),
        ("local name differs, same length", |e| {
            e.local.name = Some(b"site/files/readme.exe".to_vec());
        }),
        ("local name is a traversal", |e| {
            e.local.name = Some(b"site/../../../../pwned".to_vec());
        }),
        ("local method stored, central deflate", |e| {
            e.local.method = Some(STORED);
        }),
        ("local method deflate, central stored", |e| {
            e.method = STORED;
            e.local.method = Some(DEFLATED);
        }),
        ("local CRC differs from central", |e| {
            e.local.crc = Some(e.crc() ^ 1);
        }),
        ("local compressed size differs", |e| {
            e.local.compressed_size = Some(e.stored_bytes().len() as u64 + 1);
        }),
        ("local uncompressed size differs", |e| {
            e.local.uncompressed_size = Some(e.data.len() as u64 + 1);
        }),
        ("local flags differ", |e| {
            e.local.flags = Some(FLAG_UTF8);
        }),
        ("data descriptor CRC differs", |e| {
            e.descriptor = Descriptor::Signed;
            e.local.crc = Some(e.crc() ^ 1);
        }),
        ("no local header signature", |e| {
            e.local_signature = 0x0807_4b50;
        }),
    ];
    each(
        variants
            .into_iter()
            .map(|(name, edit)| {
                Case::new(name, edited(README, edit), "LOCAL_HEADER_MISMATCH").at(README)
            })
            .collect(),
        refused,
    );
}

#[test]
fn crc_mismatch_is_the_only_error() {
    let wrong_crc = |method: u16| {
        edited(README, |e| {
            e.method = method;
            let wrong = e.crc() ^ 0xdead_beef;
            e.local.crc = Some(wrong);
            e.central.crc = Some(wrong);
        })
    };
    each(
        vec![
            Case::new("wrong CRC, deflated", wrong_crc(DEFLATED), "CRC_MISMATCH").at(README),
            Case::new("wrong CRC, stored", wrong_crc(STORED), "CRC_MISMATCH").at(README),
        ],
        refused_alone,
    );
}

#[test]
fn hidden_local_headers_are_refused() {
    let hidden = |at: fn(&Zip) -> usize, name: &str, data: &[u8]| {
        let mut zip = baseline();
        let mut entry = Entry::file(name, data).deflated();
        entry.placement = Placement::LocalOnly;
        let index = at(&zip);
        zip.entries.insert(index, entry);
        zip.to_bytes()
    };
    let middle = |zip: &Zip| zip.entries.len() / 2;
    let last = |zip: &Zip| zip.entries.len();
    let junk_between = |at: usize, junk: &[u8]| {
        let mut zip = baseline();
        zip.between.push((at, junk.to_vec()));
        zip.to_bytes()
    };
    let entries = baseline().entries.len();
    each(
        vec![
            // No entry starts at offset 0 either: both checks apply.
            Case::new(
                "unlisted local header first",
                hidden(|_| 0, "site/files/evil.txt", b"evil\n"),
                "PREPENDED_DATA",
            )
            .whole_archive(),
            Case::new(
                "unlisted local header first",
                hidden(|_| 0, "site/files/evil.txt", b"evil\n"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "unlisted local header in the middle",
                hidden(middle, "site/files/evil.txt", b"evil\n"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "unlisted local header before the central directory",
                hidden(last, "site/files/evil.txt", b"evil\n"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "unlisted second local header of the readme",
                hidden(last, README, b"#!/bin/sh\nrm -rf ~\n"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "unlisted traversal local header",
                hidden(middle, "../../../../pwned", b"evil\n"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "junk between two entries",
                junk_between(2, b"junk"),
                "HIDDEN_LOCAL_HEADER",
            ),
            Case::new(
                "zeros before the central directory",
                junk_between(entries, &[0; 100]),
                "HIDDEN_LOCAL_HEADER",
            ),
        ],
        refused,
    );
}

#[test]
fn concatenated_archives_are_refused() {
    let first = baseline().to_bytes();
    let second = Payload::baseline()
        .with("files/second.txt", "second\n")
        .zip();
    let evil_first = with_entry_named(b"site/files/../../../../pwned", b"evil\n");
    let mut absolute = second.clone();
    absolute.prepended.clone_from(&first);
    absolute.offsets = Offsets::FromFile;
    each(
        vec![
            Case::new(
                "cat a.zip b.zip",
                [first.clone(), second.to_bytes()].concat(),
                "PREPENDED_DATA",
            )
            .whole_archive(),
            Case::new(
                "cat evil.zip good.zip",
                [evil_first, second.to_bytes()].concat(),
                "PREPENDED_DATA",
            )
            .whole_archive(),
            // No entry starts at offset 0, and the first archive's local headers are
            // listed by no central record: both checks apply.
            Case::new(
                "a.zip followed by b.zip with adjusted offsets",
                absolute.to_bytes(),
                "PREPENDED_DATA",
            )
            .whole_archive(),
            Case::new(
                "a.zip followed by b.zip with adjusted offsets",
                absolute.to_bytes(),
                "HIDDEN_LOCAL_HEADER",
            ),
        ],
        refused,
    );
}

#[test]
fn eocd_signature_inside_the_comment_is_refused() {
    let with_comment = |comment: Vec<u8>| {
        let mut zip = baseline();
        zip.comment = comment;
        zip.to_bytes()
    };
    let signature = EOCD_SIGNATURE.to_le_bytes();
    let fake_eocd = [&signature[..], &[0; 18]].concat();
    let mut fake_with_comment = [&signature[..], &[0; 16]].concat();
    fake_with_comment.extend_from_slice(&8u16.to_le_bytes());
    fake_with_comment.extend_from_slice(b"12345678");
    each(
        vec![
            Case::new(
                "a second, exact EOCD",
                with_comment(fake_eocd),
                "MULTIPLE_EOCD",
            ),
            Case::new(
                "a second EOCD with its own comment",
                with_comment(fake_with_comment),
                "MULTIPLE_EOCD",
            ),
            Case::new(
                "the signature and 30 more bytes",
                with_comment([&signature[..], &[b'x'; 30]].concat()),
                "MULTIPLE_EOCD",
            ),
            Case::new(
                "the signature alone",
                with_comment([b"see ", &signature[..], b" here"].concat()),
                "MULTIPLE_EOCD",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}

#[test]
fn archive_comment_is_a_warning() {
    let mut zip = baseline();
    zip.comment = b"made by hand".to_vec();
    each(
        vec![Case::new("archive comment", zip.to_bytes(), "ARCHIVE_COMMENT").whole_archive()],
        warned,
    );
}

#[test]
fn prepended_data_is_refused() {
    let prepended = |bytes: &[u8], offsets: Offsets| {
        let mut zip = baseline();
        zip.prepended = bytes.to_vec();
        zip.offsets = offsets;
        zip.to_bytes()
    };
    let stub = [b"MZ".as_slice(), &[0x90; 126]].concat();
    each(
        vec![
            Case::new(
                "shell script, offsets unadjusted",
                prepended(b"#!/bin/sh\nexit 0\n", Offsets::FromArchive),
                "PREPENDED_DATA",
            ),
            Case::new(
                "one zero byte, offsets unadjusted",
                prepended(&[0], Offsets::FromArchive),
                "PREPENDED_DATA",
            ),
            Case::new(
                "self-extractor stub, offsets adjusted",
                prepended(&stub, Offsets::FromFile),
                "PREPENDED_DATA",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}

#[test]
fn trailing_junk_is_refused() {
    let trailing = |bytes: &[u8]| {
        let mut zip = baseline();
        zip.trailing = bytes.to_vec();
        zip.to_bytes()
    };
    let signature = EOCD_SIGNATURE.to_le_bytes();
    each(
        vec![
            Case::new("one byte", trailing(b"x"), "TRAILING_DATA"),
            Case::new("100 zeros", trailing(&[0; 100]), "TRAILING_DATA"),
            Case::new(
                "a lone EOCD signature",
                trailing(&signature),
                "TRAILING_DATA",
            ),
            Case::new(
                "another archive's local header",
                trailing(&Entry::file("site/files/x", "x").local_record()),
                "TRAILING_DATA",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}

#[test]
fn overlapping_entries_are_refused() {
    // Two central records, one local header.
    let mut shared = Payload::baseline()
        .with("files/a.txt", "same\n")
        .with("files/b.txt", "same\n")
        .zip();
    let a = shared.index("site/files/a.txt");
    shared.entry_mut("site/files/b.txt").placement = Placement::CentralAt(Anchor::LocalHeaderOf(a));

    // The same, under one name: a second central record of the readme.
    let mut same_name = baseline();
    let readme = same_name.index(README);
    let mut again = same_name.entries[readme].clone();
    again.placement = Placement::CentralAt(Anchor::LocalHeaderOf(readme));
    same_name.entries.push(again);

    // A stored entry whose data is another entry's whole local record (a nested bomb).
    let inner = Entry::file("site/files/inner.txt", "inner\n");
    let mut nested = Payload::baseline()
        .with("files/inner.txt", "inner\n")
        .with("files/outer.bin", inner.local_record())
        .zip();
    let outer = nested.index("site/files/outer.bin");
    nested.entries[outer].method = STORED;
    *nested.entry_mut("site/files/inner.txt") = Entry {
        placement: Placement::CentralAt(Anchor::DataOf(outer)),
        ..inner
    };

    // The last local record claims bytes of the central directory.
    let mut into_central = baseline();
    let readme = into_central.remove(README);
    into_central.entries.push(readme);
    let last = into_central.entry_mut(README);
    last.method = STORED;
    let claimed = Some(last.data.len() as u64 + 16);
    last.local.compressed_size = claimed;
    last.central.compressed_size = claimed;

    each(
        vec![
            Case::new(
                "two central records at one local header",
                shared.to_bytes(),
                "OVERLAPPING_ENTRIES",
            ),
            Case::new(
                "two central records of one name at one local header",
                same_name.to_bytes(),
                "OVERLAPPING_ENTRIES",
            ),
            Case::new(
                "an entry inside another's data",
                nested.to_bytes(),
                "OVERLAPPING_ENTRIES",
            ),
            Case::new(
                "an entry reaching into the central directory",
                into_central.to_bytes(),
                "OVERLAPPING_ENTRIES",
            ),
        ],
        refused,
    );
}

// ---------------------------------------------------------------------------------------
// Limits (§13.4)

#[test]
fn misstated_sizes_are_size_mismatches() {
    let declared = |size: fn(u64) -> u64| {
        edited(README, |e| {
            let declared = Some(size(e.data.len() as u64));
            e.local.uncompressed_size = declared;
            e.central.uncompressed_size = declared;
        })
    };
    let manifest_size = with_manifest(|m| {
        let entry = manifest_entry(m, README);
        entry["size"] = json!(entry["size"].as_u64().unwrap() + 1);
        m["stats"]["bytes"] = json!(m["stats"]["bytes"].as_u64().unwrap() + 1);
    });
    each(
        vec![
            Case::new(
                "declared one byte short",
                declared(|n| n - 1),
                "SIZE_MISMATCH",
            ),
            Case::new("declared half", declared(|n| n / 2), "SIZE_MISMATCH"),
            Case::new("declared empty", declared(|_| 0), "SIZE_MISMATCH"),
            Case::new(
                "declared one byte long",
                declared(|n| n + 1),
                "SIZE_MISMATCH",
            ),
            Case::new(
                "manifest size one byte long",
                manifest_size,
                "SIZE_MISMATCH",
            ),
        ]
        .into_iter()
        .map(|case| case.at(README))
        .collect(),
        refused,
    );
}

/// `data` deflated, and the ratio limits on either side of its ratio: the largest that
/// it exceeds and the smallest that it does not.
fn ratio_limits(data: &[u8]) -> (u64, u64) {
    let compressed = deflate(data).len() as u64;
    let size = data.len() as u64;
    ((size - 1) / compressed, size.div_ceil(compressed))
}

#[test]
fn ratio_bombs_are_refused() {
    let zeros = |size: usize| listed("files/zeros.bin", vec![0; size]);
    for size in [1 << 20 | 1, 2 << 20, 16 << 20] {
        let (exceeded, _) = ratio_limits(&vec![0; size]);
        assert!(
            exceeded >= 1000,
            "{size} zeros deflate to a ratio over 1000"
        );
    }
    each(
        vec![
            Case::new("1 MiB + 1 zeros", zeros(1 << 20 | 1), "RATIO_EXCEEDED"),
            Case::new("2 MiB zeros", zeros(2 << 20), "RATIO_EXCEEDED"),
            Case::new("16 MiB zeros", zeros(16 << 20), "RATIO_EXCEEDED"),
        ]
        .into_iter()
        .map(|case| case.at("site/files/zeros.bin"))
        .collect(),
        refused,
    );
}

#[test]
fn ratio_applies_only_above_one_mib() {
    let bytes = listed("files/zeros.bin", vec![0; 1 << 20]);
    let sandbox = Sandbox::holding(&bytes);
    let report = validate(&sandbox.archive(), &[]);
    assert_eq!(report.code, 0, "exactly 1 MiB of zeros; {report}");
    assert!(report.findings().is_empty(), "{report}");
}

#[test]
fn max_ratio_sets_the_limit() {
    // Zeros: a bomb by default, accepted under a higher limit.
    let zeros = vec![0; 2 << 20];
    let (exceeded, kept) = ratio_limits(&zeros);
    let sandbox = Sandbox::holding(&listed("files/zeros.bin", zeros));
    let at_limit = validate(&sandbox.archive(), &["--max-ratio", &kept.to_string()]);
    assert_eq!(at_limit.code, 0, "--max-ratio {kept}; {at_limit}");
    assert!(at_limit.findings().is_empty(), "{at_limit}");
    let raised = validate(&sandbox.archive(), &["--max-ratio", "2000"]);
    assert_eq!(raised.code, 0, "--max-ratio 2000; {raised}");
    let case = Case::new("zeros", Vec::new(), "RATIO_EXCEEDED").at("site/files/zeros.bin");
    assert_invalid(
        &case,
        &validate(&sandbox.archive(), &["--max-ratio", &exceeded.to_string()]),
    );

    // Low-entropy text: accepted by default, a bomb under a lower limit.
    let mut state: u32 = 1;
    let text: Vec<u8> = (0..2 << 20)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if state & 0x1_0000 == 0 { b'a' } else { b'b' }
        })
        .collect();
    let (exceeded, kept) = ratio_limits(&text);
    assert!((2..1000).contains(&exceeded), "ratio {exceeded}");
    let sandbox = Sandbox::holding(&listed("files/text.txt", text));
    let default = validate(&sandbox.archive(), &[]);
    assert_eq!(default.code, 0, "{default}");
    let at_limit = validate(&sandbox.archive(), &["--max-ratio", &kept.to_string()]);
    assert_eq!(at_limit.code, 0, "--max-ratio {kept}; {at_limit}");
    let case = Case::new("text", Vec::new(), "RATIO_EXCEEDED").at("site/files/text.txt");
    assert_invalid(
        &case,
        &validate(&sandbox.archive(), &["--max-ratio", &exceeded.to_string()]),
    );
}

#[test]
fn max_entries_and_max_bytes_set_the_limits() {
    let zip = baseline();
    let entries = zip.entries.len();
    let bytes: usize = zip.entries.iter().map(|e| e.data.len()).sum();
    let sandbox = Sandbox::holding(&zip.to_bytes());
    let archive = sandbox.archive();

    let at = |flag: &str, value: usize| validate(&archive, &[flag, &value.to_string()]);
    for (flag, limit) in [("--max-entries", entries), ("--max-bytes", bytes)] {
        let report = at(flag, limit);
        assert_eq!(
            report.code, 0,
            "{flag} {limit} (exactly what it holds); {report}"
        );
    }
    let too_many = Case::new("--max-entries", Vec::new(), "TOO_MANY_ENTRIES").whole_archive();
    assert_invalid(&too_many, &at("--max-entries", 2));
    assert_invalid(&too_many, &at("--max-entries", entries - 1));
    let too_large = Case::new("--max-bytes", Vec::new(), "TOO_LARGE");
    assert_invalid(&too_large, &at("--max-bytes", 10));
    assert_invalid(&too_large, &at("--max-bytes", bytes - 1));
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
        let report = validate(&sandbox.archive(), &[]);
        // Either way the archive is invalid (its count or size is a lie); only the limit's
        // finding tells the two apart.
        assert_eq!(report.code, 1, "{name}: {report}");
        assert_eq!(
            !report.with_code(code).is_empty(),
            over,
            "{name}: {code} expected only over the limit; {report}"
        );
    }
}

#[test]
fn expected_digest_is_checked() {
    let bytes = baseline().to_bytes();
    let digest = Sha256::of(&bytes).to_string();
    let sandbox = Sandbox::holding(&bytes);
    let archive = sandbox.archive();

    let right = validate(&archive, &["--expect-sha256", &digest]);
    assert_eq!(right.code, 0, "{right}");
    assert!(right.findings().is_empty(), "{right}");
    assert_eq!(right.json["digest"], digest.as_str());

    let other = Sha256::of(b"another archive").to_string();
    let case = Case::new("another digest", Vec::new(), "ARCHIVE_DIGEST_MISMATCH").whole_archive();
    let wrong = validate(&archive, &["--expect-sha256", &other]);
    assert_invalid(&case, &wrong);
    assert_eq!(wrong.json["digest"], digest.as_str());
}

// ---------------------------------------------------------------------------------------
// Completeness and validity (§13.6, §13.7)

#[test]
fn unlisted_entries_are_refused() {
    let plus = |entry: Entry| {
        let mut zip = baseline();
        zip.entries.push(entry);
        zip.to_bytes()
    };
    let file = |name: &str| {
        Case::new(
            format!("unlisted {name:?}"),
            plus(Entry::file(name, "extra\n").deflated()),
            "UNLISTED_ENTRY",
        )
        .at(name)
    };
    each(
        vec![
            file("site/files/extra.txt"),
            file("evil.sh"),
            file("site.json"),
            file("META-INF/MANIFEST.MF"),
            file("site/.sitepack/state.json"),
            Case::new(
                "directory entry outside site/",
                plus(Entry::directory("other/")),
                "UNLISTED_ENTRY",
            )
            .at_one_of(&["other/", "other"]),
        ],
        refused,
    );
}

#[test]
fn missing_entries_are_refused() {
    let without = |name: &str| {
        let mut zip = baseline();
        zip.remove(name);
        Case::new(format!("without {name}"), zip.to_bytes(), "MISSING_ENTRY").at(name)
    };
    each(
        vec![
            without(README),
            without("site/users/u-1.json"),
            without("site/modules/crm/contacts.jsonl"),
            without("site/site.json"),
        ],
        refused,
    );
}

#[test]
fn digest_mismatch_with_the_right_crc_is_the_only_error() {
    // Same size, CRC-32 of the new bytes: only the manifest's SHA-256 can tell.
    let swapped = |name: &str, method: u16, from: &str, to: &str| {
        edited(name, |e| {
            let text = String::from_utf8(e.data.clone()).unwrap();
            assert!(text.contains(from) && from.len() == to.len());
            e.data = text.replacen(from, to, 1).into_bytes();
            e.method = method;
        })
    };
    let tab = "site/settings/general.json";
    let collection = "site/modules/crm/contacts.jsonl";
    each(
        vec![
            Case::new(
                "readme, deflated",
                swapped(README, DEFLATED, "see", "SEE"),
                "DIGEST_MISMATCH",
            )
            .at(README),
            Case::new(
                "readme, stored",
                swapped(README, STORED, "Nothing", "Malware"),
                "DIGEST_MISMATCH",
            )
            .at(README),
            Case::new(
                "tab",
                swapped(tab, DEFLATED, "EUR", "USD"),
                "DIGEST_MISMATCH",
            )
            .at(tab),
            Case::new(
                "collection",
                swapped(collection, DEFLATED, "Summit", "Sunset"),
                "DIGEST_MISMATCH",
            )
            .at(collection),
        ],
        refused_alone,
    );
}

#[test]
fn bad_checksums_file_is_refused() {
    let payload = Payload::baseline();
    let checksums = String::from_utf8(payload.checksums()).unwrap();
    let with_checksums = |text: String| {
        payload
            .zip_with_metadata(text.into_bytes(), manifest_bytes(&payload.manifest()))
            .to_bytes()
    };
    let mut without = baseline();
    without.remove("checksums.sha256");
    let first_line_end = checksums.find('\n').unwrap() + 1;
    let mut uppercase_digests = String::new();
    for line in checksums.lines() {
        let (digest, path) = line.split_once("  ").unwrap();
        writeln!(uppercase_digests, "{}  {path}", digest.to_uppercase()).unwrap();
    }
    each(
        vec![
            Case::new(
                "no checksums.sha256",
                without.to_bytes(),
                "CHECKSUMS_MISSING",
            ),
            Case::new(
                "uppercase digests",
                with_checksums(uppercase_digests),
                "CHECKSUMS_MISMATCH",
            ),
            Case::new(
                "a line missing",
                with_checksums(checksums[first_line_end..].to_owned()),
                "CHECKSUMS_MISMATCH",
            ),
            Case::new(
                "binary-mode markers",
                with_checksums(checksums.replace("  site/", " *site/")),
                "CHECKSUMS_MISMATCH",
            ),
            Case::new(
                "CRLF line ends",
                with_checksums(checksums.replace('\n', "\r\n")),
                "CHECKSUMS_MISMATCH",
            ),
            Case::new(
                "an extra blank line",
                with_checksums(format!("{checksums}\n")),
                "CHECKSUMS_MISMATCH",
            ),
        ],
        refused,
    );
}

// ---------------------------------------------------------------------------------------
// Manifest (§13.5)

type ManifestEdit = fn(&mut Value);

/// Manifest edits that break the schema or the type rules of §10, with the JSON pointer
/// of the violation.
fn schema_violations() -> Vec<(&'static str, &'static str, ManifestEdit)> {
    vec![
        ("format is not sitepack", "/format", |m| {
            m["format"] = json!("zipfile");
        }),
        ("format_version a number", "/format_version", |m| {
            m["format_version"] = json!(1.0);
        }),
        (
            "format_version with a leading zero",
            "/format_version",
            |m| {
                m["format_version"] = json!("1.00");
            },
        ),
        ("created_at without T", "/created_at", |m| {
            m["created_at"] = json!("2026-11-22 08:30:00Z");
        }),
        ("created_at with an offset", "/created_at", |m| {
            m["created_at"] = json!("2026-11-22T08:30:00+01:00");
        }),
        ("empty generator name", "/generator/name", |m| {
            m["generator"]["name"] = json!("");
        }),
        ("site url not a URI", "/site/url", |m| {
            m["site"]["url"] = json!("not a uri");
        }),
        ("bad site id", "/site/id", |m| {
            m["site"]["id"] = json!("Hostile Site");
        }),
        ("full scope with a name", "/scope", |m| {
            m["scope"] = json!({"kind": "full", "name": "x"});
        }),
        ("unknown scope kind", "/scope", |m| {
            m["scope"] = json!({"kind": "galaxy", "name": "x"});
        }),
        ("options.files a string", "/options/files", |m| {
            m["options"]["files"] = json!("yes");
        }),
        ("size a string", "/entries/0/size", |m| {
            m["entries"][0]["size"] = json!("21");
        }),
        ("size negative", "/entries/0/size", |m| {
            m["entries"][0]["size"] = json!(-1);
        }),
        ("size over 64 bits", "/entries/0/size", |m| {
            m["entries"][0]["size"] = serde_json::from_str("18446744073709551616").unwrap();
        }),
        ("uppercase sha256", "/entries/0/sha256", |m| {
            let upper = m["entries"][0]["sha256"].as_str().unwrap().to_uppercase();
            m["entries"][0]["sha256"] = json!(upper);
        }),
        ("unknown area", "/entries/0/area", |m| {
            m["entries"][0]["area"] = json!("bogus");
        }),
        ("records negative", "/entries/1/records", |m| {
            m["entries"][1]["records"] = json!(-2);
        }),
        (
            "redaction pointer without a slash",
            "/redactions/0/pointer",
            |m| {
                m["redactions"] =
                    json!([{"path": "site/settings/general.json", "pointer": "password"}]);
                m["stats"]["redactions"] = json!(1);
            },
        ),
        ("stats missing", "", |m| {
            m.as_object_mut().unwrap().remove("stats");
        }),
        ("entries not an array", "/entries", |m| {
            m["entries"] = json!({});
        }),
    ]
}

#[test]
fn manifest_schema_violations_are_refused() {
    let mut cases: Vec<Case> = schema_violations()
        .into_iter()
        .map(|(name, _, edit)| {
            Case::new(name, with_manifest(edit), "MANIFEST_SCHEMA").at("manifest.json")
        })
        .collect();
    // A listed path that is not under site/ (its entry is then also unlisted and missing).
    cases.push(
        Case::new(
            "listed path outside site/",
            with_manifest(|m| m["entries"][0]["path"] = json!("files/readme.txt")),
            "MANIFEST_SCHEMA",
        )
        .at("manifest.json"),
    );
    each(cases, refused);
}

#[test]
fn manifest_schema_findings_carry_the_json_pointer() {
    let cases = schema_violations()
        .into_iter()
        .filter(|(_, pointer, _)| !pointer.is_empty())
        .map(|(name, pointer, edit)| {
            Case::new(name, with_manifest(edit), "MANIFEST_SCHEMA").saying(pointer)
        })
        .collect();
    each(cases, refused);
}

#[test]
fn other_major_versions_are_refused() {
    let version = |v: &'static str| with_manifest(move |m| m["format_version"] = json!(v));
    let cases = [
        ("2.0", "newer"),
        ("10.3", "newer"),
        ("0.9", "older"),
        ("0.0", "older"),
    ];
    each(
        cases
            .into_iter()
            .map(|(v, relation)| {
                Case::new(
                    format!("format_version {v}"),
                    version(v),
                    "UNSUPPORTED_VERSION",
                )
                .at("manifest.json")
                .saying(relation)
            })
            .collect(),
        refused,
    );
}

#[test]
fn another_major_version_skips_the_version_1_checks() {
    // A 2.0 manifest of a shape version 1 does not know, and no checksums.sha256: only
    // the version is reported (§13.5 check 31).
    let payload = Payload::baseline();
    let manifest = json!({
        "format": "sitepack",
        "format_version": "2.0",
        "created": 1_795_336_200,
        "contents": {"site/files/readme.txt": {"bytes": 21}},
    });
    let mut zip = payload.zip_with(&manifest);
    zip.remove("checksums.sha256");
    each(
        vec![Case::new("2.0 manifest", zip.to_bytes(), "UNSUPPORTED_VERSION").at("manifest.json")],
        refused_alone,
    );
}

#[test]
fn unreadable_manifests_are_refused() {
    let payload = Payload::baseline();
    let manifest = manifest_bytes(&payload.manifest());
    let with_manifest_bytes = |bytes: Vec<u8>| {
        payload
            .zip_with_metadata(payload.checksums(), bytes)
            .to_bytes()
    };
    let text = String::from_utf8(manifest.clone()).unwrap();
    let mut not_utf8 = manifest.clone();
    not_utf8[text.find("Test site").unwrap()] = 0xff;
    let mut without = baseline();
    without.remove("manifest.json");
    let mut renamed = baseline();
    renamed.entry_mut("manifest.json").name = b"Manifest.json".to_vec();
    each(
        vec![
            Case::new("no manifest.json", without.to_bytes(), "MANIFEST_MISSING"),
            Case::new("Manifest.json", renamed.to_bytes(), "MANIFEST_MISSING"),
            Case::new(
                "byte order mark",
                with_manifest_bytes([b"\xef\xbb\xbf".as_slice(), &manifest].concat()),
                "MANIFEST_INVALID_JSON",
            ),
            Case::new(
                "a repeated key",
                with_manifest_bytes(
                    text.replacen(
                        "\"format\": \"sitepack\",",
                        "\"format\": \"sitepack\",\n  \"format\": \"sitepack\",",
                        1,
                    )
                    .into_bytes(),
                ),
                "MANIFEST_INVALID_JSON",
            ),
            Case::new(
                "two JSON values",
                with_manifest_bytes([manifest.as_slice(), b"{}\n"].concat()),
                "MANIFEST_INVALID_JSON",
            ),
            Case::new(
                "cut short",
                with_manifest_bytes(manifest[..manifest.len() / 2].to_vec()),
                "MANIFEST_INVALID_JSON",
            ),
            Case::new(
                "not UTF-8",
                with_manifest_bytes(not_utf8),
                "MANIFEST_INVALID_JSON",
            ),
        ],
        refused,
    );
}

#[test]
fn manifest_over_64_mib_is_refused() {
    let payload = Payload::baseline();
    let mut manifest = manifest_bytes(&payload.manifest());
    manifest.resize(64 << 20 | 1, b' ');
    each(
        vec![
            Case::new(
                "64 MiB + 1 manifest",
                payload
                    .zip_with_metadata(payload.checksums(), manifest)
                    .to_bytes(),
                "MANIFEST_TOO_LARGE",
            )
            .at("manifest.json"),
        ],
        refused,
    );
}

#[test]
fn entry_listed_twice_is_refused() {
    let bytes = with_manifest(|m| {
        let readme = manifest_entry(m, README).clone();
        m["entries"].as_array_mut().unwrap().push(readme);
    });
    each(
        vec![
            Case::new("readme listed twice", bytes, "LISTED_TWICE")
                .at_one_of(&[README, "manifest.json"]),
        ],
        refused,
    );
}

#[test]
fn unknown_fields_and_wrong_stats_are_warnings() {
    each(
        vec![
            Case::new(
                "unknown top-level field",
                with_manifest(|m| m["compression_hint"] = json!("zstd")),
                "UNKNOWN_FIELD",
            ),
            Case::new(
                "unknown entry field",
                with_manifest(|m| m["entries"][0]["mode"] = json!(420)),
                "UNKNOWN_FIELD",
            ),
            Case::new(
                "tabs miscounted",
                with_manifest(|m| m["stats"]["tabs"] = json!(7)),
                "STATS_MISMATCH",
            ),
        ],
        warned,
    );
}

// ---------------------------------------------------------------------------------------
// Content (§13.8)

#[test]
fn entries_outside_the_declared_scope_are_refused() {
    let tab = Payload::new()
        .with("settings/general.json", "{\"title\": \"t\"}\n")
        .scope("tab:general");
    let user = Payload::new()
        .with("users/u-1.json", "{\"id\": \"u-1\"}\n")
        .scope("user:u-1");
    let case = |name: &str, payload: Payload, path: &str| {
        Case::new(name, payload.zip().to_bytes(), "OUT_OF_SCOPE").at(path)
    };
    each(
        vec![
            case(
                "tab archive with a user card",
                tab.clone().with("users/u-1.json", "{\"id\": \"u-1\"}\n"),
                "site/users/u-1.json",
            ),
            case(
                "tab archive with another tab",
                tab.clone().with("settings/billing.json", "{}\n"),
                "site/settings/billing.json",
            ),
            case(
                "tab archive with a file",
                tab.with("files/readme.txt", "x\n"),
                "site/files/readme.txt",
            ),
            case(
                "module archive with a tab",
                Payload::new()
                    .with("modules/crm/notes.json", "{}\n")
                    .with("settings/general.json", "{}\n")
                    .scope("module:crm"),
                "site/settings/general.json",
            ),
            case(
                "user archive with another user's card",
                user.clone().with("users/u-2.json", "{\"id\": \"u-2\"}\n"),
                "site/users/u-2.json",
            ),
            case(
                "user archive with another user's files",
                user.clone().with("files/users/u-2/cv.pdf", "%PDF\n"),
                "site/files/users/u-2/cv.pdf",
            ),
            case(
                "user archive with another user's record",
                user.with(
                    "modules/crm/contacts.jsonl",
                    "{\"id\":\"c-1\",\"user_id\":\"u-1\"}\n{\"id\":\"c-2\",\"user_id\":\"u-2\"}\n",
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "data-only archive with a file",
                Payload::baseline().data_only(),
                README,
            ),
            case(
                "sitepack's own state",
                Payload::baseline().with(".sitepack/audit.jsonl", "{}\n"),
                "site/.sitepack/audit.jsonl",
            ),
        ],
        refused,
    );
}

#[test]
fn record_count_mismatches_are_refused() {
    let contacts = "site/modules/crm/contacts.jsonl";
    let tab = "site/settings/general.json";
    let records = |path: &'static str, records: Option<i64>| {
        with_manifest(move |m| {
            let entry = manifest_entry(m, path).as_object_mut().unwrap();
            match records {
                Some(n) => entry.insert("records".to_owned(), json!(n)),
                None => entry.remove("records"),
            };
        })
    };
    each(
        vec![
            Case::new(
                "one record too many",
                records(contacts, Some(3)),
                "RECORD_COUNT_MISMATCH",
            )
            .at(contacts),
            Case::new(
                "one record too few",
                records(contacts, Some(1)),
                "RECORD_COUNT_MISMATCH",
            )
            .at(contacts),
            Case::new(
                "records absent",
                records(contacts, None),
                "RECORD_COUNT_MISMATCH",
            )
            .at(contacts),
            Case::new(
                "records on a tab",
                records(tab, Some(1)),
                "RECORD_COUNT_MISMATCH",
            )
            .at(tab),
        ],
        refused,
    );
}

#[test]
fn bad_content_is_refused() {
    let case = |name: &str, relative: &str, data: &str, code: &'static str| {
        Case::new(name, listed(relative, data), code).at(&format!("site/{relative}"))
    };
    let contacts = "modules/crm/contacts.jsonl";
    each(
        vec![
            case(
                "tab not JSON",
                "settings/general.json",
                "{\"title\": ",
                "INVALID_JSON",
            ),
            case(
                "tab an array",
                "settings/general.json",
                "[1, 2]\n",
                "INVALID_JSON",
            ),
            case(
                "two documents",
                "modules/crm/pipeline.json",
                "{}\n{}\n",
                "INVALID_JSON",
            ),
            case(
                "other JSON not JSON",
                "themes/app.json",
                "nope\n",
                "INVALID_JSON",
            ),
            case("record an array", contacts, "[1]\n", "INVALID_JSONL"),
            case(
                "record without id",
                contacts,
                "{\"name\": \"x\"}\n",
                "INVALID_JSONL",
            ),
            case(
                "record id a fraction",
                contacts,
                "{\"id\": 1.5}\n",
                "INVALID_JSONL",
            ),
            case(
                "record id too large",
                contacts,
                "{\"id\": 9223372036854775808}\n",
                "INVALID_JSONL",
            ),
            // Regression: the second of two equal keys hid the first one's secret.
            case(
                "duplicate key in a tab",
                "settings/general.json",
                "{\"mail\": {\"pass\": \"Kz-dup-77\", \"pass\": null}}\n",
                "INVALID_JSON",
            )
            .saying("/mail/pass"),
            case(
                "duplicate key in a record",
                contacts,
                "{\"id\": \"c-1\"}\n{\"id\": \"c-2\", \"id\": \"c-3\"}\n",
                "INVALID_JSONL",
            )
            .saying("duplicate key /id at line 2"),
            case(
                "duplicate key in other JSON Lines",
                "themes/log.jsonl",
                "{\"x\": [{\"auth\": 1, \"auth\": 2}]}\n",
                "INVALID_JSON",
            )
            .saying("/x/0/auth"),
            case(
                "duplicate key in site.json",
                "site.json",
                r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "url": "https://hostile.example"}"#,
                "INVALID_JSON",
            )
            .saying("/url"),
            case(
                "duplicate record id",
                contacts,
                "{\"id\": \"c-1\"}\n{\"id\": \"c-1\"}\n",
                "DUPLICATE_RECORD_ID",
            ),
            case(
                "user card of another id",
                "users/u-1.json",
                "{\"id\": \"u-2\"}\n",
                "USER_ID_MISMATCH",
            ),
            case(
                "site.json of another site",
                "site.json",
                r#"{"id": "other", "name": "Test site hostile", "url": "https://hostile.example"}"#,
                "SITE_MISMATCH",
            ),
            Case::new(
                "area of the readme says tab",
                with_manifest(|m| manifest_entry(m, README)["area"] = json!("tab")),
                "AREA_MISMATCH",
            )
            .at(README),
        ],
        refused,
    );
}

// ---------------------------------------------------------------------------------------
// Secrets (§13.9)

const SECRET: &str = "hunter2-do-not-print";

#[test]
fn secrets_present_are_refused_without_repeating_them() {
    let case = |name: &str, payload: Payload, path: &str| {
        Case::new(name, payload.zip().to_bytes(), "SECRET_PRESENT").at(path)
    };
    let site_keys = r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "secrets": {"keys": ["pin"]}}"#;
    each(
        vec![
            case(
                "password in a tab",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"title\": \"t\", \"password\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "nested apiKey in a user card",
                Payload::baseline().with(
                    "users/u-1.json",
                    format!("{{\"id\": \"u-1\", \"crm\": {{\"apiKey\": \"{SECRET}\"}}}}\n"),
                ),
                "site/users/u-1.json",
            ),
            case(
                "token in a record",
                Payload::baseline().with(
                    "modules/crm/contacts.jsonl",
                    format!("{{\"id\":\"c-1\",\"portal\":{{\"token\":\"{SECRET}\"}}}}\n"),
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "client_secret in another JSON file",
                Payload::baseline().with(
                    "themes/config.json",
                    format!("{{\"client_secret\": \"{SECRET}\"}}\n"),
                ),
                "site/themes/config.json",
            ),
            // Regression: names and places the policy once let through (D9).
            case(
                "full-width password in a tab",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"ｐａｓｓｗｏｒｄ\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "plural apiKeys in a record",
                Payload::baseline().with(
                    "modules/crm/contacts.jsonl",
                    format!("{{\"id\":\"c-1\",\"apiKeys\":[\"{SECRET}\"]}}\n"),
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "a header given as name and value",
                Payload::baseline().with(
                    "themes/hooks.json",
                    format!("{{\"headers\": [{{\"name\": \"Proxy-Authorization\", \"value\": \"{SECRET}\"}}]}}\n"),
                ),
                "site/themes/hooks.json",
            ),
            case(
                "a URL with a password",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"cache\": \"redis://cache:{SECRET}@10.0.0.7:6379/0\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "a key the site declares secret",
                Payload::baseline().with("site.json", site_keys).with(
                    "settings/general.json",
                    format!("{{\"pin\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
        ],
        |case| {
            refused(case);
            let sandbox = Sandbox::holding(&case.bytes);
            let report = validate(&sandbox.archive(), &[]);
            assert!(
                !report.stdout.contains(SECRET),
                "{}: the report repeats the secret",
                case.name
            );
            // Nor do the human reports, nor extract's refusal, on either stream.
            let archive = sandbox.archive();
            let out = sandbox.out();
            let commands: [&[&OsStr]; 3] = [
                &["validate".as_ref(), archive.as_os_str()],
                &["preview".as_ref(), archive.as_os_str()],
                &["extract".as_ref(), archive.as_os_str(), "-o".as_ref(), out.as_os_str()],
            ];
            for args in commands {
                let said = run(args).expect(1);
                assert!(
                    said.stdout.contains("SECRET_PRESENT") || said.stderr.contains("SECRET_PRESENT"),
                    "{}: {args:?} does not name the finding: {said:?}",
                    case.name
                );
                assert!(
                    !said.stdout.contains(SECRET) && !said.stderr.contains(SECRET),
                    "{}: {args:?} repeats the secret: {said:?}",
                    case.name
                );
            }
        },
    );
}

#[test]
fn credential_shapes_are_warnings_without_repeating_them() {
    const SHAPES: &[&str] = &[
        "AKIAZ7Q2W4E6R8T0Y3U5",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "xoxb-1234567890-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
    ];
    let mut cases: Vec<Case> = SHAPES
        .iter()
        .map(|shape| {
            let bytes = listed("files/notes.txt", format!("deploy with {shape} today\n"));
            Case::new(*shape, bytes, "CREDENTIAL_SHAPE").at("site/files/notes.txt")
        })
        .collect();
    cases.push(Case::new(
        format!("label with {}", SHAPES[0]),
        Payload::baseline()
            .label(&format!("before rotating {}", SHAPES[0]))
            .zip()
            .to_bytes(),
        "CREDENTIAL_SHAPE",
    ));
    each(cases, |case| {
        warned(case);
        let sandbox = Sandbox::holding(&case.bytes);
        let report = validate(&sandbox.archive(), &[]);
        for shape in SHAPES {
            assert!(
                !report.stdout.contains(shape),
                "{}: the report repeats it",
                case.name
            );
        }
        // A warning does not stop extraction.
        let out = sandbox.out();
        run([
            OsStr::new("extract"),
            sandbox.archive().as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .expect(0);
        assert!(out.join("manifest.json").is_file());
    });
}

/// Regression: a credential in an entry's name (or in a JSON member's name) was not
/// reported, and any finding about the entry printed the name with the credential. Now
/// the name is a `CREDENTIAL_SHAPE` warning and every finding masks the credential (`…`).
#[test]
fn credentials_in_entry_and_member_names_are_reported_masked() {
    const SECRETS: &[&str] = &["ABCDEFGHIJ0123456789", "KEYNAMESECRET99"];
    let payload = Payload::baseline().with("settings/x.json", "{}\n");
    let mut manifest = payload.manifest();
    manifest["redactions"] = serde_json::json!([
        {"path": "site/settings/x.json", "pointer": "/sk_live_KEYNAMESECRET99_token"}
    ]);
    manifest["stats"]["redactions"] = 1.into();
    let cases = vec![
        Case::new(
            "redaction pointer",
            payload.zip_with(&manifest).to_bytes(),
            "CREDENTIAL_SHAPE",
        )
        .at("manifest.json")
        .saying("/…_token"),
        Case::new(
            "file name",
            listed("files/sk_live_ABCDEFGHIJ0123456789.txt", "hello\n"),
            "CREDENTIAL_SHAPE",
        )
        .at("site/files/….txt")
        .saying("name"),
        Case::new(
            "member name",
            listed("settings/x.json", r#"{"sk_live_KEYNAMESECRET99": 1}"#),
            "CREDENTIAL_SHAPE",
        )
        .at("site/settings/x.json"),
    ];
    each(cases, |case| {
        warned(case);
        let sandbox = Sandbox::holding(&case.bytes);
        for args in [&[][..], &["--strict"][..]] {
            let report = validate(&sandbox.archive(), args);
            for secret in SECRETS {
                assert!(
                    !report.stdout.contains(secret),
                    "{}: the report repeats it: {}",
                    case.name,
                    report.stdout
                );
            }
        }
    });
}

/// Regression (D9): a credential shape in JSON was reported without its place, and AWS's
/// documented example key id made `validate --strict` fail with no way to accept it.
#[test]
fn credential_shapes_in_json_name_their_pointer_and_allowed_ones_are_quiet() {
    let contacts = "modules/crm/contacts.jsonl";
    let warn = |name: &str, path: &str, data: &str, saying: &'static str| {
        Case::new(name, listed(path, data), "CREDENTIAL_SHAPE")
            .at(&format!("site/{path}"))
            .saying(saying)
    };
    each(
        vec![
            warn(
                "in a tab",
                "settings/general.json",
                "{\"ops\": {\"deploy\": \"ghp_Zz09Yy98Xx87Ww76Vv65Uu54Tt43Ss32Rr21\"}}\n",
                "at /ops/deploy contains something shaped like a GitHub token",
            ),
            warn(
                "in a record",
                contacts,
                "{\"id\": \"c-1\", \"memo\": [\"xoxb-9876543210-zyxwvutsrq\"]}\n",
                "record \"c-1\" at /memo/0",
            ),
            warn(
                "in other JSON Lines",
                "themes/log.jsonl",
                "{}\n{\"k\": \"-----BEGIN DSA PRIVATE KEY-----\"}\n",
                "line 2 at /k",
            ),
            warn(
                "on a line of a module file",
                "modules/crm/app.env",
                "A=1\nB=sk_live_Mm12Nn34Bb56Vv78\n",
                "line 2 contains",
            ),
        ],
        warned,
    );
    let site_allowing = r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "secrets": {"allow": [{"value": "sk_live_Mm12Nn34Bb56Vv78"}, {"path": "files/keys/*.pem"}]}}"#;
    each(
        vec![
            Case::clean(
                "AWS's documented example key id",
                listed("files/notes.txt", "id AKIAIOSFODNN7EXAMPLE\n"),
            ),
            Case::clean(
                "a value the site allows",
                Payload::baseline()
                    .with("site.json", site_allowing)
                    .with("modules/crm/app.env", "B=sk_live_Mm12Nn34Bb56Vv78\n")
                    .zip()
                    .to_bytes(),
            ),
            Case::clean(
                "a file the site allows",
                Payload::baseline()
                    .with("site.json", site_allowing)
                    .with("files/keys/test.pem", "-----BEGIN PRIVATE KEY-----\n")
                    .zip()
                    .to_bytes(),
            ),
        ],
        accepted,
    );
}

// ---------------------------------------------------------------------------------------
// Encryption and methods (§13.1)

#[test]
fn encrypted_entries_are_refused() {
    let variants: Vec<(&str, EntryEdit)> = vec![
        ("bit 0", |e| e.flags |= FLAG_ENCRYPTED),
        ("bit 6", |e| {
            e.flags |= FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION;
        }),
        ("bit 13", |e| e.flags |= FLAG_MASKED_HEADER),
        ("method 99 (AES)", |e| {
            e.method = 99;
            e.central_extra = extra_field(0x9901, &[2, 0, b'A', b'E', 3, 8, 0]);
            e.local_extra.clone_from(&e.central_extra);
        }),
    ];
    each(
        variants
            .into_iter()
            .map(|(name, edit)| Case::new(name, edited(README, edit), "ENCRYPTED_ENTRY").at(README))
            .collect(),
        refused,
    );
}

#[test]
fn unsupported_methods_are_refused() {
    each(
        [1, 6, 9, 12, 14, 93, 95]
            .into_iter()
            .map(|method| {
                Case::new(
                    format!("method {method}"),
                    edited(README, |e| e.method = method),
                    "UNSUPPORTED_METHOD",
                )
                .at(README)
            })
            .collect(),
        refused,
    );
}

#[test]
fn corrupt_deflate_streams_are_refused() {
    let raw =
        |bytes: fn(&[u8]) -> Vec<u8>| edited(README, |e| e.raw = Some(bytes(&deflate(&e.data))));
    each(
        vec![
            Case::new(
                "reserved block type",
                raw(|_| vec![0xff; 16]),
                "CORRUPT_DATA",
            ),
            Case::new(
                "stream cut short",
                raw(|d| d[..d.len() / 2].to_vec()),
                "CORRUPT_DATA",
            ),
            Case::new(
                "bytes after the stream",
                raw(|d| [d, b"junk"].concat()),
                "CORRUPT_DATA",
            ),
        ]
        .into_iter()
        .map(|case| case.at(README))
        .collect(),
        refused,
    );
}

#[test]
fn unicode_path_mismatches_are_refused() {
    let name = README.as_bytes();
    let variants: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "central, another name",
            unicode_path_extra(name, "site/files/evil.txt"),
            true,
        ),
        (
            "local, another name",
            unicode_path_extra(name, "site/files/evil.txt"),
            false,
        ),
        (
            "central, a traversal",
            unicode_path_extra(name, "../../../../pwned"),
            true,
        ),
        (
            "local, accented",
            unicode_path_extra(name, "site/files/réadme.txt"),
            false,
        ),
    ];
    each(
        variants
            .into_iter()
            .map(|(label, extra, central)| {
                let bytes = edited(README, |e| {
                    if central {
                        e.central_extra = extra;
                    } else {
                        e.local_extra = extra;
                    }
                });
                Case::new(label, bytes, "UNICODE_PATH_MISMATCH").at(README)
            })
            .collect(),
        refused,
    );
}

#[test]
fn directory_entries_with_data_are_refused() {
    let directory = |name: &str, data: &[u8], method: u16| {
        let mut zip = baseline();
        let mut entry = Entry::directory(name);
        entry.data = data.to_vec();
        entry.method = method;
        zip.entries.insert(0, entry);
        let trimmed = name.trim_end_matches('/');
        Case::new(
            format!("{name:?} holding {} bytes", data.len()),
            zip.to_bytes(),
            "DIRECTORY_WITH_DATA",
        )
        .at_one_of(&[name, trimmed])
    };
    each(
        vec![
            directory("site/files/d/", b"x", STORED),
            directory("site/files/d/", &[b'a'; 1000], DEFLATED),
            directory("site/", b"#!/bin/sh\n", STORED),
        ],
        refused,
    );
}

// ---------------------------------------------------------------------------------------
// Not a ZIP (§13.1)

#[test]
fn truncated_archives_are_not_zips() {
    // Every cut below loses the whole EOCD record: "no candidate" (§13.1 check 1).
    let bytes = baseline().to_bytes();
    let cut = |len: usize| {
        Case::new(
            format!("first {len} bytes"),
            bytes[..len].to_vec(),
            "NOT_A_ZIP",
        )
    };
    each(
        vec![cut(bytes.len() / 2), cut(bytes.len() - 10), cut(21), cut(0)]
            .into_iter()
            .map(Case::whole_archive)
            .collect(),
        refused,
    );
}

#[test]
fn other_files_are_not_zips() {
    let manifest = manifest_bytes(&Payload::baseline().manifest());
    each(
        vec![
            Case::new("text", b"hello, world\n".to_vec(), "NOT_A_ZIP"),
            Case::new("4 KiB of zeros", vec![0; 4096], "NOT_A_ZIP"),
            Case::new("a manifest alone", manifest, "NOT_A_ZIP"),
            Case::new(
                "gzip header",
                b"\x1f\x8b\x08\0\0\0\0\0\0\x03junk".to_vec(),
                "NOT_A_ZIP",
            ),
            Case::new(
                "a lone local record",
                Entry::file("site/site.json", "{}").local_record(),
                "NOT_A_ZIP",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}

#[test]
fn multi_disk_archives_are_refused() {
    let eocd = |edit: fn(&mut Zip)| {
        let mut zip = baseline();
        edit(&mut zip);
        zip.to_bytes()
    };
    each(
        vec![
            Case::new(
                "disk number 1",
                eocd(|z| z.eocd.disk = Some(1)),
                "MULTI_DISK",
            ),
            Case::new(
                "central directory on disk 1",
                eocd(|z| z.eocd.central_directory_disk = Some(1)),
                "MULTI_DISK",
            ),
            Case::new(
                "fewer entries on this disk than in total",
                eocd(|z| {
                    let count = u16::try_from(z.entries.len()).unwrap();
                    z.eocd.entries_on_disk = Some(count - 1);
                }),
                "MULTI_DISK",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}

#[test]
fn bad_central_directories_are_refused() {
    let eocd = |edit: fn(&mut Zip, u16)| {
        let mut zip = baseline();
        let count = u16::try_from(zip.entries.len()).unwrap();
        edit(&mut zip, count);
        zip.to_bytes()
    };
    let central_size = |bytes: &[u8]| {
        let eocd = bytes.len() - 22;
        u32::from_le_bytes(bytes[eocd + 12..eocd + 16].try_into().unwrap())
    };
    let clean = baseline().to_bytes();
    let mut size_too_large = baseline();
    size_too_large.eocd.central_directory_size = Some(central_size(&clean) + 8);
    let offset = |bytes: &[u8]| {
        let eocd = bytes.len() - 22;
        u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap())
    };
    let mut offset_too_large = baseline();
    offset_too_large.eocd.central_directory_offset = Some(offset(&clean) + 8);
    each(
        vec![
            Case::new(
                "EOCD counts one record more",
                eocd(|z, n| {
                    z.eocd.entries_on_disk = Some(n + 1);
                    z.eocd.entries_total = Some(n + 1);
                }),
                "BAD_CENTRAL_DIRECTORY",
            ),
            Case::new(
                "EOCD counts one record fewer",
                eocd(|z, n| {
                    z.eocd.entries_on_disk = Some(n - 1);
                    z.eocd.entries_total = Some(n - 1);
                }),
                "BAD_CENTRAL_DIRECTORY",
            ),
            Case::new(
                "central directory size 8 bytes too large",
                size_too_large.to_bytes(),
                "BAD_CENTRAL_DIRECTORY",
            ),
            Case::new(
                "central directory offset 8 bytes too large",
                offset_too_large.to_bytes(),
                "BAD_CENTRAL_DIRECTORY",
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
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
            &["extract".as_ref(), archive.as_os_str(), "-o".as_ref(), out.as_os_str()],
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
