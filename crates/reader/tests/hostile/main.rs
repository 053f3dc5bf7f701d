//! Hostile archives (FORMAT.md §13, §14), crafted byte by byte with
//! `sitepack_test_support::zipcraft`, one module per section of §13.
//!
//! Each archive is a valid sitepack archive but for one attack: its manifest and checksums
//! are what a correct writer derives from its files (the baseline tests prove it). For each
//! one, `validate` must name the attack by its finding [`Code`] — with the entry where the
//! finding has one — and find the archive invalid, and `extract_to` must fail having
//! written nothing anywhere: no output directory, nothing new beside it or beside the
//! archive. (The command's exit codes over a few of these are checked by the end-to-end
//! suite, `tests/validate_hostile.rs`.)
//!
//! Cases are tables; a failing case is named, and every case of a table runs even when an
//! earlier one fails.

// Test tables are long by design.
#![allow(clippy::too_many_lines)]

mod baseline;
mod completeness;
mod container;
mod content;
mod limits;
mod manifest;
mod methods;
mod modes;
mod names;
mod not_a_zip;
mod secrets;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sitepack_format::Sha256;
use sitepack_reader::{Archive, Code, Finding, Limits, Report, Severity};
use sitepack_test_support::listing;
use sitepack_test_support::zipcraft::{Entry, Payload, Zip};

// ---------------------------------------------------------------------------------------
// Harness

/// A temporary directory: `in/archive.zip`, and `dest/` where `extract_to` is asked to
/// create `dest/out`.
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
        sitepack_test_support::tree(self.root())
    }

    /// Extracts the archive to `dest/out`.
    fn extract(&self) -> Result<(), sitepack_reader::ReaderError> {
        Archive::open(self.archive())?
            .extract_to(&self.out())
            .map(|_| ())
    }
}

/// What `validate` can be asked besides the defaults (the command's options).
#[derive(Debug, Clone)]
enum Opt {
    /// Warnings make the archive invalid.
    Strict,
    MaxEntries(u64),
    MaxBytes(u64),
    MaxRatio(u64),
    /// The archive's SHA-256 as recorded outside it.
    ExpectSha256(Sha256),
}

/// What `validate` said, and its JSON form (which must never repeat a secret).
struct Verdict {
    report: Report,
    json: String,
}

fn validate(archive: &Path, options: &[Opt]) -> Verdict {
    let mut limits = Limits::default();
    for option in options {
        match option {
            Opt::MaxEntries(n) => limits.max_entries = *n,
            Opt::MaxBytes(n) => limits.max_bytes = *n,
            Opt::MaxRatio(n) => limits.max_ratio = *n,
            Opt::Strict | Opt::ExpectSha256(_) => {}
        }
    }
    let mut report = Archive::open(archive).unwrap().validate(&limits).unwrap();
    // In the command's order: the expected digest, then strictness.
    for option in options {
        if let Opt::ExpectSha256(expected) = option {
            report = report.expect_digest(expected);
        }
    }
    if options.iter().any(|o| matches!(o, Opt::Strict)) {
        report = report.strict();
    }
    let json = serde_json::to_string_pretty(&report).unwrap();
    Verdict { report, json }
}

impl Verdict {
    fn findings(&self) -> &[Finding] {
        &self.report.findings
    }

    fn with_code(&self, code: Code) -> Vec<&Finding> {
        self.findings().iter().filter(|f| f.code == code).collect()
    }

    fn codes(&self, severity: Severity) -> Vec<Code> {
        self.findings()
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| f.code)
            .collect()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "valid {}, findings:\n{}",
            self.report.valid,
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
    /// `None`: an archive with nothing to find.
    code: Option<Code>,
    at: At,
    /// Text the finding's message must contain (a JSON pointer, "newer").
    saying: Option<&'static str>,
}

impl Case {
    fn new(name: impl Into<String>, bytes: Vec<u8>, code: Code) -> Self {
        Self {
            code: Some(code),
            ..Self::clean(name, bytes)
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
        Self {
            name: name.into(),
            bytes,
            code: None,
            at: At::Anywhere,
            saying: None,
        }
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

    fn code(&self) -> Code {
        self.code
            .unwrap_or_else(|| panic!("{}: a clean case has no code", self.name))
    }

    /// Asserts that `verdict` has a finding of this case's code and severity at its place.
    #[track_caller]
    fn assert_found(&self, verdict: &Verdict, severity: Severity) {
        let name = &self.name;
        let code = self.code();
        let hits: Vec<&Finding> = verdict
            .with_code(code)
            .into_iter()
            .filter(|f| f.severity == severity)
            .collect();
        assert!(
            !hits.is_empty(),
            "{name}: no {severity:?} {code} finding; {verdict}"
        );
        let placed = |f: &&Finding| match &self.at {
            At::Entry(path) => f.path.as_deref() == Some(path.as_str()),
            At::OneOf(paths) => paths.iter().any(|p| f.path.as_deref() == Some(p.as_str())),
            At::Archive => f.path.is_none(),
            At::Anywhere => true,
        };
        assert!(
            hits.iter().any(placed),
            "{name}: {code} finding not at {}; {verdict}",
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
                    .any(|f| f.message.contains(text)),
                "{name}: no {code} message says {text:?}; {verdict}"
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

/// `validate` finds the case's error and the archive invalid; `extract_to` fails and
/// writes nothing.
fn refused(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    refused_in(case, &sandbox);
}

fn refused_in(case: &Case, sandbox: &Sandbox) {
    let verdict = validate(&sandbox.archive(), &[]);
    assert_invalid(case, &verdict);
    assert_extract_refused(case, sandbox);
}

#[track_caller]
fn assert_invalid(case: &Case, verdict: &Verdict) {
    assert!(!verdict.report.valid, "{}: valid; {verdict}", case.name);
    case.assert_found(verdict, Severity::Error);
}

/// `extract_to` fails, creates no output directory and leaves the sandbox as it was.
#[track_caller]
fn assert_extract_refused(case: &Case, sandbox: &Sandbox) {
    let before = sandbox.tree();
    let error = sandbox.extract().err();
    assert!(error.is_some(), "{}: extract_to succeeded", case.name);
    assert!(
        std::fs::symlink_metadata(sandbox.out()).is_err(),
        "{}: extract_to created its output directory",
        case.name
    );
    assert_eq!(
        sandbox.tree(),
        before,
        "{}: extract_to left something behind",
        case.name
    );
}

/// Like [`refused`], and the case's code is the only error: nothing but the attack was
/// caught, so the attack alone is what is tested.
fn refused_alone(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let verdict = validate(&sandbox.archive(), &[]);
    assert_invalid(case, &verdict);
    let errors = verdict.codes(Severity::Error);
    assert!(
        errors.iter().all(|code| *code == case.code()),
        "{}: errors other than {}; {verdict}",
        case.name,
        case.code()
    );
    assert_extract_refused(case, &sandbox);
}

/// A warning: `validate` finds the archive valid with the case's warning and no error;
/// strict, it finds it invalid.
fn warned(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let verdict = validate(&sandbox.archive(), &[]);
    assert!(verdict.report.valid, "{}: not valid; {verdict}", case.name);
    assert_eq!(verdict.codes(Severity::Error), [], "{}", case.name);
    case.assert_found(&verdict, Severity::Warning);

    let strict = validate(&sandbox.archive(), &[Opt::Strict]);
    assert!(
        !strict.report.valid,
        "{}: valid when strict; {strict}",
        case.name
    );
    case.assert_found(&strict, Severity::Warning);
}

/// `validate` finds the archive valid with no finding at all.
fn accepted(case: &Case) {
    let sandbox = Sandbox::holding(&case.bytes);
    let verdict = validate(&sandbox.archive(), &[]);
    assert!(verdict.report.valid, "{}: not valid; {verdict}", case.name);
    assert!(
        verdict.findings().is_empty(),
        "{}: findings; {verdict}",
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
                Code::UnsafePath,
            )
            .at(name)
        })
        .collect()
}

const README: &str = "site/files/readme.txt";
