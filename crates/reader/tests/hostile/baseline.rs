//! The crafted baseline is valid, and so is what other tools write (§3.2).

use sitepack_format::Sha256;
use sitepack_test_support::zipcraft::{
    Descriptor, Entry, Payload, STORED, extra_field, unicode_path_extra,
};

use super::{Case, Sandbox, accepted, baseline, each, listing, validate};

/// (That the crafted baseline is byte for byte what `sitepack create` writes is checked by
/// the end-to-end suite, `tests/validate_hostile.rs`.)
#[test]
fn crafted_baseline_validates_and_extracts() {
    let bytes = baseline().to_bytes();
    let sandbox = Sandbox::holding(&bytes);
    let archive = sandbox.archive();
    let report = validate(&archive, &[]);
    assert!(report.report.valid, "{report}");
    assert!(report.findings().is_empty(), "{report}");
    assert_eq!(report.report.archive, archive.to_str().unwrap());
    assert_eq!(report.report.digest, Sha256::of(&bytes));
    assert_eq!(report.report.summary.errors, 0);
    assert_eq!(report.report.summary.warnings, 0);
    assert!(!report.report.summary.truncated);

    // What the refusals compare against: a valid archive is extracted.
    let out = sandbox.out();
    sandbox.extract().unwrap();
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
