//! Limits (§13.4).

use serde_json::json;
use sitepack_format::Sha256;
use sitepack_reader::Code;
use sitepack_test_support::zipcraft::deflate;

use super::{
    Case, Opt, README, Sandbox, assert_invalid, baseline, each, edited, listed, manifest_entry,
    refused, validate, with_manifest,
};

#[test]
fn misstated_sizes_are_size_mismatches() {
    let declared = |size: fn(u64) -> u64| {
        edited(README, |e| {
            let declared = Some(size(e.data.len() as u64));
            e.local.uncompressed_size = declared;
            e.central.uncompressed_size = declared;
        })
    };
    let manifest_size = with_manifest(|m| {
        let entry = manifest_entry(m, README);
        entry["size"] = json!(entry["size"].as_u64().unwrap() + 1);
        m["stats"]["bytes"] = json!(m["stats"]["bytes"].as_u64().unwrap() + 1);
    });
    each(
        vec![
            Case::new(
                "declared one byte short",
                declared(|n| n - 1),
                Code::SizeMismatch,
            ),
            Case::new("declared half", declared(|n| n / 2), Code::SizeMismatch),
            Case::new("declared empty", declared(|_| 0), Code::SizeMismatch),
            Case::new(
                "declared one byte long",
                declared(|n| n + 1),
                Code::SizeMismatch,
            ),
            Case::new(
                "manifest size one byte long",
                manifest_size,
                Code::SizeMismatch,
            ),
        ]
        .into_iter()
        .map(|case| case.at(README))
        .collect(),
        refused,
    );
}

/// `data` deflated, and the ratio limits on either side of its ratio: the largest that
/// it exceeds and the smallest that it does not.
fn ratio_limits(data: &[u8]) -> (u64, u64) {
    let compressed = deflate(data).len() as u64;
    let size = data.len() as u64;
    ((size - 1) / compressed, size.div_ceil(compressed))
}

#[test]
fn ratio_bombs_are_refused() {
    let zeros = |size: usize| listed("files/zeros.bin", vec![0; size]);
    for size in [1 << 20 | 1, 2 << 20, 16 << 20] {
        let (exceeded, _) = ratio_limits(&vec![0; size]);
        assert!(
            exceeded >= 1000,
            "{size} zeros deflate to a ratio over 1000"
        );
    }
    each(
        vec![
            Case::new("1 MiB + 1 zeros", zeros(1 << 20 | 1), Code::RatioExceeded),
            Case::new("2 MiB zeros", zeros(2 << 20), Code::RatioExceeded),
            Case::new("16 MiB zeros", zeros(16 << 20), Code::RatioExceeded),
        ]
        .into_iter()
        .map(|case| case.at("site/files/zeros.bin"))
        .collect(),
        refused,
    );
}

#[test]
fn ratio_applies_only_above_one_mib() {
    let bytes = listed("files/zeros.bin", vec![0; 1 << 20]);
    let sandbox = Sandbox::holding(&bytes);
    let report = validate(&sandbox.archive(), &[]);
    assert!(report.report.valid, "exactly 1 MiB of zeros; {report}");
    assert!(report.findings().is_empty(), "{report}");
}

#[test]
fn max_ratio_sets_the_limit() {
    // Zeros: a bomb by default, accepted under a higher limit.
    let zeros = vec![0; 2 << 20];
    let (exceeded, kept) = ratio_limits(&zeros);
    let sandbox = Sandbox::holding(&listed("files/zeros.bin", zeros));
    let at_limit = validate(&sandbox.archive(), &[Opt::MaxRatio(kept)]);
    assert!(at_limit.report.valid, "max ratio {kept}; {at_limit}");
    assert!(at_limit.findings().is_empty(), "{at_limit}");
    let raised = validate(&sandbox.archive(), &[Opt::MaxRatio(2000)]);
    assert!(raised.report.valid, "max ratio 2000; {raised}");
    let case = Case::new("zeros", Vec::new(), Code::RatioExceeded).at("site/files/zeros.bin");
    assert_invalid(
        &case,
        &validate(&sandbox.archive(), &[Opt::MaxRatio(exceeded)]),
    );

    // Low-entropy text: accepted by default, a bomb under a lower limit.
    let mut state: u32 = 1;
    let text: Vec<u8> = (0..2 << 20)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if state & 0x1_0000 == 0 { b'a' } else { b'b' }
        })
        .collect();
    let (exceeded, kept) = ratio_limits(&text);
    assert!((2..1000).contains(&exceeded), "ratio {exceeded}");
    let sandbox = Sandbox::holding(&listed("files/text.txt", text));
    let default = validate(&sandbox.archive(), &[]);
    assert!(default.report.valid, "{default}");
    let at_limit = validate(&sandbox.archive(), &[Opt::MaxRatio(kept)]);
    assert!(at_limit.report.valid, "max ratio {kept}; {at_limit}");
    let case = Case::new("text", Vec::new(), Code::RatioExceeded).at("site/files/text.txt");
    assert_invalid(
        &case,
        &validate(&sandbox.archive(), &[Opt::MaxRatio(exceeded)]),
    );
}

#[test]
fn max_entries_and_max_bytes_set_the_limits() {
    let zip = baseline();
    let entries = zip.entries.len() as u64;
    let bytes: u64 = zip.entries.iter().map(|e| e.data.len() as u64).sum();
    let sandbox = Sandbox::holding(&zip.to_bytes());
    let archive = sandbox.archive();

    let at = |limit: Opt| validate(&archive, &[limit]);
    for limit in [Opt::MaxEntries(entries), Opt::MaxBytes(bytes)] {
        let report = at(limit.clone());
        assert!(
            report.report.valid,
            "{limit:?} (exactly what it holds); {report}"
        );
    }
    let too_many = Case::new("max entries", Vec::new(), Code::TooManyEntries).whole_archive();
    assert_invalid(&too_many, &at(Opt::MaxEntries(2)));
    assert_invalid(&too_many, &at(Opt::MaxEntries(entries - 1)));
    let too_large = Case::new("max bytes", Vec::new(), Code::TooLarge);
    assert_invalid(&too_large, &at(Opt::MaxBytes(10)));
    assert_invalid(&too_large, &at(Opt::MaxBytes(bytes - 1)));
}

#[test]
fn expected_digest_is_checked() {
    let bytes = baseline().to_bytes();
    let digest = Sha256::of(&bytes);
    let sandbox = Sandbox::holding(&bytes);
    let archive = sandbox.archive();

    let right = validate(&archive, &[Opt::ExpectSha256(digest)]);
    assert!(right.report.valid, "{right}");
    assert!(right.findings().is_empty(), "{right}");
    assert_eq!(right.report.digest, digest);

    let other = Sha256::of(b"another archive");
    let case = Case::new("another digest", Vec::new(), Code::ArchiveDigestMismatch).whole_archive();
    let wrong = validate(&archive, &[Opt::ExpectSha256(other)]);
    assert_invalid(&case, &wrong);
    assert_eq!(wrong.report.digest, digest);
}
