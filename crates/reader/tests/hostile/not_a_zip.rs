//! Not a ZIP (§13.1).

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{Entry, Payload, Zip, manifest_bytes};

use super::{Case, baseline, each, refused};

#[test]
fn truncated_archives_are_not_zips() {
    // Every cut below loses the whole EOCD record: "no candidate" (§13.1 check 1).
    let bytes = baseline().to_bytes();
    let cut = |len: usize| {
        Case::new(
            format!("first {len} bytes"),
            bytes[..len].to_vec(),
            Code::NotAZip,
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
            Case::new("text", b"hello, world\n".to_vec(), Code::NotAZip),
            Case::new("4 KiB of zeros", vec![0; 4096], Code::NotAZip),
            Case::new("a manifest alone", manifest, Code::NotAZip),
            Case::new(
                "gzip header",
                b"\x1f\x8b\x08\0\0\0\0\0\0\x03junk".to_vec(),
                Code::NotAZip,
            ),
            Case::new(
                "a lone local record",
                Entry::file("site/site.json", "{}").local_record(),
                Code::NotAZip,
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
                Code::MultiDisk,
            ),
            Case::new(
                "central directory on disk 1",
                eocd(|z| z.eocd.central_directory_disk = Some(1)),
                Code::MultiDisk,
            ),
            Case::new(
                "fewer entries on this disk than in total",
                eocd(|z| {
                    let count = u16::try_from(z.entries.len()).unwrap();
                    z.eocd.entries_on_disk = Some(count - 1);
                }),
                Code::MultiDisk,
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
                Code::BadCentralDirectory,
            ),
            Case::new(
                "EOCD counts one record fewer",
                eocd(|z, n| {
                    z.eocd.entries_on_disk = Some(n - 1);
                    z.eocd.entries_total = Some(n - 1);
                }),
                Code::BadCentralDirectory,
            ),
            Case::new(
                "central directory size 8 bytes too large",
                size_too_large.to_bytes(),
                Code::BadCentralDirectory,
            ),
            Case::new(
                "central directory offset 8 bytes too large",
                offset_too_large.to_bytes(),
                Code::BadCentralDirectory,
            ),
        ]
        .into_iter()
        .map(Case::whole_archive)
        .collect(),
        refused,
    );
}
