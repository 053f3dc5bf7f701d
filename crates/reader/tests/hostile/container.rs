//! The local header against the central directory, and the container around the entries (§13.2).

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{
    Anchor, DEFLATED, Descriptor, EOCD_SIGNATURE, Entry, FLAG_UTF8, Offsets, Payload, Placement,
    STORED, Zip,
};

use super::{
    Case, EntryEdit, README, baseline, each, edited, refused, refused_alone, warned,
    with_entry_named,
};

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
                Case::new(name, edited(README, edit), Code::LocalHeaderMismatch).at(README)
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
            Case::new(
                "wrong CRC, deflated",
                wrong_crc(DEFLATED),
                Code::CrcMismatch,
            )
            .at(README),
            Case::new("wrong CRC, stored", wrong_crc(STORED), Code::CrcMismatch).at(README),
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
                Code::PrependedData,
            )
            .whole_archive(),
            Case::new(
                "unlisted local header first",
                hidden(|_| 0, "site/files/evil.txt", b"evil\n"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "unlisted local header in the middle",
                hidden(middle, "site/files/evil.txt", b"evil\n"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "unlisted local header before the central directory",
                hidden(last, "site/files/evil.txt", b"evil\n"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "unlisted second local header of the readme",
                hidden(last, README, b"#!/bin/sh\nrm -rf ~\n"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "unlisted traversal local header",
                hidden(middle, "../../../../pwned", b"evil\n"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "junk between two entries",
                junk_between(2, b"junk"),
                Code::HiddenLocalHeader,
            ),
            Case::new(
                "zeros before the central directory",
                junk_between(entries, &[0; 100]),
                Code::HiddenLocalHeader,
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
                Code::PrependedData,
            )
            .whole_archive(),
            Case::new(
                "cat evil.zip good.zip",
                [evil_first, second.to_bytes()].concat(),
                Code::PrependedData,
            )
            .whole_archive(),
            // No entry starts at offset 0, and the first archive's local headers are
            // listed by no central record: both checks apply.
            Case::new(
                "a.zip followed by b.zip with adjusted offsets",
                absolute.to_bytes(),
                Code::PrependedData,
            )
            .whole_archive(),
            Case::new(
                "a.zip followed by b.zip with adjusted offsets",
                absolute.to_bytes(),
                Code::HiddenLocalHeader,
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
                Code::MultipleEocd,
            ),
            Case::new(
                "a second EOCD with its own comment",
                with_comment(fake_with_comment),
                Code::MultipleEocd,
            ),
            Case::new(
                "the signature and 30 more bytes",
                with_comment([&signature[..], &[b'x'; 30]].concat()),
                Code::MultipleEocd,
            ),
            Case::new(
                "the signature alone",
                with_comment([b"see ", &signature[..], b" here"].concat()),
                Code::MultipleEocd,
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
        vec![Case::new("archive comment", zip.to_bytes(), Code::ArchiveComment).whole_archive()],
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
                Code::PrependedData,
            ),
            Case::new(
                "one zero byte, offsets unadjusted",
                prepended(&[0], Offsets::FromArchive),
                Code::PrependedData,
            ),
            Case::new(
                "self-extractor stub, offsets adjusted",
                prepended(&stub, Offsets::FromFile),
                Code::PrependedData,
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
            Case::new("one byte", trailing(b"x"), Code::TrailingData),
            Case::new("100 zeros", trailing(&[0; 100]), Code::TrailingData),
            Case::new(
                "a lone EOCD signature",
                trailing(&signature),
                Code::TrailingData,
            ),
            Case::new(
                "another archive's local header",
                trailing(&Entry::file("site/files/x", "x").local_record()),
                Code::TrailingData,
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
                Code::OverlappingEntries,
            ),
            Case::new(
                "two central records of one name at one local header",
                same_name.to_bytes(),
                Code::OverlappingEntries,
            ),
            Case::new(
                "an entry inside another's data",
                nested.to_bytes(),
                Code::OverlappingEntries,
            ),
            Case::new(
                "an entry reaching into the central directory",
                into_central.to_bytes(),
                Code::OverlappingEntries,
            ),
        ],
        refused,
    );
}
