//! `PlainZip` reads what `VerbatimZip` writes (the restore snapshot's two halves), verifies
//! every byte against the expected digest, and refuses a damaged file.

use std::fs;
use std::io::BufWriter;

use sitepack_format::{Sha256, Timestamp};
use sitepack_reader::{PlainZip, ReaderError};
use sitepack_writer::VerbatimZip;

fn write_zip(
    dir: &std::path::Path,
    files: &[(&str, Vec<u8>)],
) -> (std::path::PathBuf, Vec<Sha256>) {
    let out = dir.join("snapshot.zip");
    let mut zip = VerbatimZip::new(
        BufWriter::new(fs::File::create(&out).unwrap()),
        &out,
        Timestamp::from_unix_seconds(0).unwrap(),
        1,
        dir,
    );
    let mut digests = Vec::new();
    for (name, data) in files {
        let source = dir.join(format!("source-{}", digests.len()));
        fs::write(&source, data).unwrap();
        let stored = zip
            .add_file(name, std::fs::File::open(&source).unwrap(), &source)
            .unwrap();
        assert_eq!(stored.size, data.len() as u64);
        assert_eq!(stored.sha256, Sha256::of(data));
        digests.push(stored.sha256);
    }
    drop(zip.finish().unwrap());
    (out, digests)
}

#[test]
fn what_verbatim_zip_writes_reads_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    // Text that compresses, bytes that do not, an empty file and a file over 1 MiB.
    let noise: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
        .collect();
    let files = [
        (
            "site/settings/general.json",
            br#"{"token": "kept as it is"}"#.repeat(100),
        ),
        ("site/files/photo.jpg", noise[..5000].to_vec()),
        ("site/empty.txt", Vec::new()),
        ("site/files/big.bin", noise),
    ];
    let (path, digests) = write_zip(dir.path(), &files);
    let zip = PlainZip::open(&path).unwrap();
    for ((name, data), digest) in files.iter().zip(&digests) {
        assert!(zip.contains(name));
        let mut out = Vec::new();
        assert_eq!(
            zip.copy_entry(name, digest, &mut out).unwrap(),
            data.len() as u64
        );
        assert_eq!(&out, data, "{name}");
    }
    assert!(matches!(
        zip.copy_entry("site/missing", &digests[0], &mut Vec::new()),
        Err(ReaderError::NoSuchEntry { .. })
    ));
    // The wrong digest is caught.
    let err = zip
        .copy_entry(files[0].0, &digests[1], &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, ReaderError::Changed { .. }), "{err}");
}

#[test]
fn a_damaged_zip_is_refused_or_its_bad_entry_caught() {
    let dir = tempfile::tempdir().unwrap();
    let data = b"stored bytes that will be changed on disk".repeat(3);
    let (path, digests) = write_zip(dir.path(), &[("site/a.txt", data.clone())]);
    let mut bytes = fs::read(&path).unwrap();

    // A flipped byte of the entry's data (after its 30-byte local header and name): the
    // directory still reads, the entry no longer matches.
    let mut flipped = bytes.clone();
    flipped[30 + "site/a.txt".len() + 2] ^= 0xff;
    fs::write(&path, &flipped).unwrap();
    let zip = PlainZip::open(&path).unwrap();
    let err = zip
        .copy_entry("site/a.txt", &digests[0], &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, ReaderError::Changed { .. }), "{err}");

    // Cut short: no central directory.
    bytes.truncate(bytes.len() - 10);
    fs::write(&path, &bytes).unwrap();
    let err = PlainZip::open(&path).unwrap_err();
    assert!(matches!(err, ReaderError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("snapshot.zip"), "{err}");
}
