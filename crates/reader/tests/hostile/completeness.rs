//! Completeness and validity (§13.6, §13.7).

use std::fmt::Write as _;

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{DEFLATED, Entry, Payload, STORED, manifest_bytes};

use super::{Case, README, baseline, each, edited, refused, refused_alone};

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
            Code::UnlistedEntry,
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
                Code::UnlistedEntry,
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
        Case::new(
            format!("without {name}"),
            zip.to_bytes(),
            Code::MissingEntry,
        )
        .at(name)
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
                Code::DigestMismatch,
            )
            .at(README),
            Case::new(
                "readme, stored",
                swapped(README, STORED, "Nothing", "Malware"),
                Code::DigestMismatch,
            )
            .at(README),
            Case::new(
                "tab",
                swapped(tab, DEFLATED, "EUR", "USD"),
                Code::DigestMismatch,
            )
            .at(tab),
            Case::new(
                "collection",
                swapped(collection, DEFLATED, "Summit", "Sunset"),
                Code::DigestMismatch,
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
                Code::ChecksumsMissing,
            ),
            Case::new(
                "uppercase digests",
                with_checksums(uppercase_digests),
                Code::ChecksumsMismatch,
            ),
            Case::new(
                "a line missing",
                with_checksums(checksums[first_line_end..].to_owned()),
                Code::ChecksumsMismatch,
            ),
            Case::new(
                "binary-mode markers",
                with_checksums(checksums.replace("  site/", " *site/")),
                Code::ChecksumsMismatch,
            ),
            Case::new(
                "CRLF line ends",
                with_checksums(checksums.replace('\n', "\r\n")),
                Code::ChecksumsMismatch,
            ),
            Case::new(
                "an extra blank line",
                with_checksums(format!("{checksums}\n")),
                Code::ChecksumsMismatch,
            ),
        ],
        refused,
    );
}
