//! Names (§4, §13.3).

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::json;
use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{Entry, FLAG_UTF8, Payload, manifest_bytes};

use super::{
    Case, README, Sandbox, accepted, assert_invalid, baseline, each, refused, refused_in,
    unsafe_names, validate, warned, with_entry_named,
};

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
                Code::UnsafePath,
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
        let case = Case::new(
            format!("entry named {name:?}"),
            Vec::new(),
            Code::UnsafePath,
        )
        .at(name);
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
                    Code::NameNotUtf8,
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
                Code::Utf8FlagMissing,
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
                Code::DuplicateName,
            )
            .at(README),
            Case::new(
                "readme twice, other data",
                twice(README, b"#!/bin/sh\nrm -rf ~\n"),
                Code::DuplicateName,
            )
            .at(README),
            Case::new(
                "site.json twice",
                twice(
                    "site/site.json",
                    br#"{"id": "evil", "name": "e", "url": "https://e.example"}"#,
                ),
                Code::DuplicateName,
            )
            .at("site/site.json"),
            Case::new(
                "manifest.json twice",
                twice("manifest.json", &manifest_bytes(&other_manifest)),
                Code::DuplicateName,
            )
            .at("manifest.json"),
            Case::new(
                "checksums.sha256 twice",
                twice("checksums.sha256", &Payload::baseline().checksums()),
                Code::DuplicateName,
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
            Case::new(format!("{a:?} and {b:?}"), bytes, Code::NameCollision).at_one_of(&[&a, &b])
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
        Case::new(format!("{a:?} and {b:?}"), bytes, Code::FileDirConflict).at_one_of(&[&a, &b])
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
                Code::FileDirConflict,
            )
            .at_one_of(&["site/files/x", "site/files/x/"]),
        ],
        refused,
    );
}
