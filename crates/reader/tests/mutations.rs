//! Damaged archives: random mutations of one small valid archive (flipped and overwritten
//! bytes, truncation, inserted and deleted ranges, copies of the ZIP signatures and of
//! whole records spliced in anywhere). Whatever the bytes, `validate` and `extract_to`
//! never panic, and they agree: a valid verdict means extraction succeeds and writes only
//! inside its target, with files that match `checksums.sha256`; an invalid one means
//! extraction fails and creates nothing (FORMAT.md §13, §14).

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use sitepack_format::{Sha256, zip_records};
use sitepack_reader::{Archive, Limits};
use sitepack_test_support::listing;
use sitepack_writer::{CreateOptions, NoProgress, Site, write_archive};

/// The signatures of every ZIP record a reader looks for.
const SIGNATURES: [&[u8; 4]; 6] = [
    zip_records::CENTRAL_HEADER,
    zip_records::LOCAL_HEADER,
    zip_records::END_OF_CENTRAL_DIRECTORY,
    zip_records::ZIP64_END_OF_CENTRAL_DIRECTORY,
    zip_records::ZIP64_LOCATOR,
    zip_records::DATA_DESCRIPTOR,
];

/// A small valid archive written by `sitepack-writer`: documents (one redacted), a
/// collection, a deflated and a stored file, an empty file, a non-ASCII name.
fn base_archive() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        let files: [(&str, &[u8]); 9] = [
            (
                "site.json",
                br#"{"id": "mutant", "name": "Mutant", "url": "https://mutant.example"}"#,
            ),
            (
                "settings/general.json",
                br#"{"title": "Mutant", "smtp": {"password": "pw-FAKE-1"}}"#,
            ),
            ("users/u-1.json", r#"{"id": "u-1", "name": "Åse"}"#.as_bytes()),
            (
                "modules/crm/contacts.jsonl",
                b"{\"id\": 1, \"user_id\": \"u-1\"}\n{\"id\": \"c-2\"}\n\n{\"id\": 3}\n",
            ),
            ("modules/crm/config.json", br#"{"stages": ["lead", "won"]}"#),
            (
                "files/notes.txt",
                b"a line that deflates well, repeated\na line that deflates well, repeated\na line that deflates well, repeated\n",
            ),
            ("files/logo.png", b"\x89PNG not really, but stored by extension"),
            ("files/Ärger – leer.txt", b""),
            ("README.txt", b"other area\n"),
        ];
        for (path, bytes) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let site = Site::open(&root).unwrap();
        let mut options = CreateOptions::new("full".parse().unwrap());
        options.created_at = "2026-11-22T08:30:00Z".parse().unwrap();
        options.threads = 1;
        let mut out = Vec::new();
        write_archive(
            &site,
            &options,
            &mut out,
            Path::new("mutant.zip"),
            &NoProgress,
        )
        .unwrap();
        out
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero value.
    Flip { at: Index, xor: u8 },
    /// XOR one byte among the last 256: the central directory and the EOCD record.
    FlipNearEnd { back: usize, xor: u8 },
    /// Keep only a prefix.
    Truncate { keep: Index },
    /// Insert bytes.
    Insert { at: Index, bytes: Vec<u8> },
    /// Delete up to `len` bytes.
    Delete { at: Index, len: usize },
    /// Insert or overwrite one of the ZIP signatures.
    Signature {
        at: Index,
        which: usize,
        overwrite: bool,
    },
    /// Copy the bytes that start at an occurrence of a signature (a whole record, or the
    /// start of one) to somewhere else, inserted or overwriting.
    CopyRecord {
        from: Index,
        to: Index,
        len: usize,
        overwrite: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (0..256usize, 1..=255u8).prop_map(|(back, xor)| Mutation::FlipNearEnd { back, xor }),
        any::<Index>().prop_map(|keep| Mutation::Truncate { keep }),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<Index>(), 1..64usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<Index>(), 0..SIGNATURES.len(), any::<bool>()).prop_map(|(at, which, overwrite)| {
            Mutation::Signature {
                at,
                which,
                overwrite,
            }
        }),
        (any::<Index>(), any::<Index>(), 4..96usize, any::<bool>()).prop_map(
            |(from, to, len, overwrite)| Mutation::CopyRecord {
                from,
                to,
                len,
                overwrite
            }
        ),
    ]
}

/// Writes `piece` at `at`, inserted or overwriting (growing the buffer if needed).
fn put(bytes: &mut Vec<u8>, at: usize, piece: &[u8], overwrite: bool) {
    if overwrite {
        let end = at + piece.len();
        if end > bytes.len() {
            bytes.resize(end, 0);
        }
        bytes[at..end].copy_from_slice(piece);
    } else {
        bytes.splice(at..at, piece.iter().copied());
    }
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    // An index into the buffer, or its end; `Index::index` needs a non-empty range.
    let at = |index: &Index, len: usize| index.index(len + 1);
    let len = bytes.len();
    match mutation {
        Mutation::Flip { at: index, xor } => {
            if len > 0 {
                bytes[index.index(len)] ^= xor;
            }
        }
        Mutation::FlipNearEnd { back, xor } => {
            if *back < len {
                bytes[len - 1 - back] ^= xor;
            }
        }
        Mutation::Truncate { keep } => bytes.truncate(keep.index(len.max(1))),
        Mutation::Insert {
            at: index,
            bytes: piece,
        } => put(bytes, at(index, len), piece, false),
        Mutation::Delete {
            at: index,
            len: count,
        } => {
            let start = at(index, len);
            bytes.drain(start..(start + count).min(len));
        }
        Mutation::Signature {
            at: index,
            which,
            overwrite,
        } => put(bytes, at(index, len), SIGNATURES[*which], *overwrite),
        Mutation::CopyRecord {
            from,
            to,
            len: count,
            overwrite,
        } => {
            let starts: Vec<usize> = bytes
                .windows(4)
                .enumerate()
                .filter(|(_, w)| SIGNATURES.iter().any(|s| w == s))
                .map(|(i, _)| i)
                .collect();
            if starts.is_empty() {
                return;
            }
            let start = starts[from.index(starts.len())];
            let piece = bytes[start..(start + count).min(len)].to_vec();
            put(bytes, at(to, len), &piece, *overwrite);
        }
    }
}

/// Fails unless everything below `dir` is a plain file or directory, and the files that
/// `checksums.sha256` lists have those digests.
fn check_extracted(dir: &Path) -> Result<(), TestCaseError> {
    fn walk(dir: &Path) -> Result<(), TestCaseError> {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(&path)?;
            } else {
                prop_assert!(meta.is_file(), "{}: not a regular file", path.display());
            }
        }
        Ok(())
    }
    walk(dir)?;
    prop_assert!(dir.join("manifest.json").is_file());
    let sums = std::fs::read_to_string(dir.join("checksums.sha256")).unwrap();
    for line in sums.lines() {
        let (digest, name) = line.split_once("  ").unwrap();
        prop_assert!(name.starts_with("site/"), "{line}");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        prop_assert_eq!(Sha256::of(&bytes).to_string(), digest, "{}", name);
    }
    Ok(())
}

/// Validates and extracts `bytes`, checking that the two agree and that nothing is
/// written outside the target (nor anything at all when the archive is invalid).
fn validate_and_extract(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutated.zip");
    std::fs::write(&path, bytes).unwrap();
    let archive = Archive::open(&path);
    prop_assert!(
        archive.is_ok(),
        "open fails only on I/O errors: {:?}",
        archive.err()
    );
    let archive = archive.unwrap();
    let report = archive.validate(&Limits::default());
    prop_assert!(
        report.is_ok(),
        "validate fails only on I/O errors: {:?}",
        report.err()
    );
    let report = report.unwrap();
    let target = dir.path().join("out");
    let extracted = archive.extract_to(&target);
    let codes: Vec<String> = report.findings.iter().map(|f| f.code.to_string()).collect();
    if report.is_valid() {
        prop_assert!(
            extracted.is_ok(),
            "valid ({codes:?}) but extraction failed: {:?}",
            extracted.err()
        );
        prop_assert_eq!(listing(dir.path()), ["mutated.zip", "out"]);
        check_extracted(&target)?;
    } else {
        prop_assert!(
            extracted.is_err(),
            "invalid ({codes:?}) but extraction succeeded"
        );
        prop_assert!(!target.exists(), "invalid ({codes:?}) but DIR was created");
        prop_assert_eq!(listing(dir.path()), ["mutated.zip"], "{:?}", codes);
    }
    Ok(())
}

#[test]
fn the_base_archive_is_valid_and_extracts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("base.zip");
    std::fs::write(&path, base_archive()).unwrap();
    let archive = Archive::open(&path).unwrap();
    let report = archive.validate(&Limits::default()).unwrap();
    assert!(report.is_valid(), "{:#?}", report.findings);
    validate_and_extract(base_archive()).unwrap();
}

#[test]
fn signatures_spliced_at_every_record_boundary() {
    // Deterministic companions of the random cases: each signature written over, and
    // inserted before, the start of each record of the base archive.
    let base = base_archive();
    let starts: Vec<usize> = base
        .windows(4)
        .enumerate()
        .filter(|(_, w)| SIGNATURES.iter().any(|s| w == s))
        .map(|(i, _)| i)
        .collect();
    // 11 entries: a local and a central record each, and the EOCD record.
    assert!(starts.len() >= 23, "{} signatures", starts.len());
    for &start in &starts {
        for signature in SIGNATURES {
            for overwrite in [true, false] {
                let mut bytes = base.to_vec();
                put(&mut bytes, start, signature, overwrite);
                if bytes != base {
                    let result = validate_and_extract(&bytes);
                    assert!(
                        result.is_ok(),
                        "{signature:?} at {start} (overwrite {overwrite}): {result:?}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // Failures print the minimal mutation list; no regression file in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_archives_never_panic_and_never_escape(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let mut bytes = base_archive().to_vec();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        validate_and_extract(&bytes)?;
    }
}
