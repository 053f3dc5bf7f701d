//! Modes (§13.3).

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{Entry, Payload};

use super::{Case, baseline, each, refused};

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
                Code::LinkEntry,
            )
            .at("site/files/passwd"),
            Case::new(
                "link to ../../../../etc/passwd",
                with_mode("files/rel", b"../../../../etc/passwd", link),
                Code::LinkEntry,
            )
            .at("site/files/rel"),
            Case::new(
                "link to a sibling",
                with_mode("files/sibling", b"readme.txt", |e| e.unix_mode(0o120_644)),
                Code::LinkEntry,
            )
            .at("site/files/sibling"),
            Case::new(
                "link site/files/l, then site/files/l/x",
                link_then_entry_below.to_bytes(),
                Code::LinkEntry,
            )
            .at("site/files/l"),
            Case::new(
                "DOS reparse point",
                with_mode("files/junction", b"C:\\Windows", |e| {
                    e.dos_attributes(0x420)
                }),
                Code::LinkEntry,
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
                Code::SpecialMode,
            )
            .at("site/files/tool")
        })
        .collect();
    cases.push(
        Case::new(
            "regular-file type on a directory entry",
            regular_directory.to_bytes(),
            Code::SpecialMode,
        )
        .at_one_of(&["site/files/", "site/files"]),
    );
    each(cases, refused);
}
