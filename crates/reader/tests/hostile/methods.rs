//! Encryption and methods (§13.1).

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{
    DEFLATED, Entry, FLAG_ENCRYPTED, FLAG_MASKED_HEADER, FLAG_STRONG_ENCRYPTION, STORED, deflate,
    extra_field, unicode_path_extra,
};

use super::{Case, EntryEdit, README, baseline, each, edited, refused};

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
            .map(|(name, edit)| {
                Case::new(name, edited(README, edit), Code::EncryptedEntry).at(README)
            })
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
                    Code::UnsupportedMethod,
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
                Code::CorruptData,
            ),
            Case::new(
                "stream cut short",
                raw(|d| d[..d.len() / 2].to_vec()),
                Code::CorruptData,
            ),
            Case::new(
                "bytes after the stream",
                raw(|d| [d, b"junk"].concat()),
                Code::CorruptData,
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
                Case::new(label, bytes, Code::UnicodePathMismatch).at(README)
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
            Code::DirectoryWithData,
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
