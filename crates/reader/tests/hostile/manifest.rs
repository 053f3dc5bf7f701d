//! The manifest (§13.5).

use serde_json::{Value, json};
use sitepack_reader::Code;
use sitepack_test_support::zipcraft::{Payload, manifest_bytes};

use super::{
    Case, README, baseline, each, manifest_entry, refused, refused_alone, warned, with_manifest,
};

type ManifestEdit = fn(&mut Value);

/// Manifest edits that break the schema or the type rules of §10, with the JSON pointer
/// of the violation.
fn schema_violations() -> Vec<(&'static str, &'static str, ManifestEdit)> {
    vec![
        ("format is not sitepack", "/format", |m| {
            m["format"] = json!("zipfile");
        }),
        ("format_version a number", "/format_version", |m| {
            m["format_version"] = json!(1.0);
        }),
        (
            "format_version with a leading zero",
            "/format_version",
            |m| {
                m["format_version"] = json!("1.00");
            },
        ),
        ("created_at without T", "/created_at", |m| {
            m["created_at"] = json!("2026-11-22 08:30:00Z");
        }),
        ("created_at with an offset", "/created_at", |m| {
            m["created_at"] = json!("2026-11-22T08:30:00+01:00");
        }),
        ("empty generator name", "/generator/name", |m| {
            m["generator"]["name"] = json!("");
        }),
        ("site url not a URI", "/site/url", |m| {
            m["site"]["url"] = json!("not a uri");
        }),
        ("bad site id", "/site/id", |m| {
            m["site"]["id"] = json!("Hostile Site");
        }),
        ("full scope with a name", "/scope", |m| {
            m["scope"] = json!({"kind": "full", "name": "x"});
        }),
        ("unknown scope kind", "/scope", |m| {
            m["scope"] = json!({"kind": "galaxy", "name": "x"});
        }),
        ("options.files a string", "/options/files", |m| {
            m["options"]["files"] = json!("yes");
        }),
        ("size a string", "/entries/0/size", |m| {
            m["entries"][0]["size"] = json!("21");
        }),
        ("size negative", "/entries/0/size", |m| {
            m["entries"][0]["size"] = json!(-1);
        }),
        ("size over 64 bits", "/entries/0/size", |m| {
            m["entries"][0]["size"] = serde_json::from_str("18446744073709551616").unwrap();
        }),
        ("uppercase sha256", "/entries/0/sha256", |m| {
            let upper = m["entries"][0]["sha256"].as_str().unwrap().to_uppercase();
            m["entries"][0]["sha256"] = json!(upper);
        }),
        ("unknown area", "/entries/0/area", |m| {
            m["entries"][0]["area"] = json!("bogus");
        }),
        ("records negative", "/entries/1/records", |m| {
            m["entries"][1]["records"] = json!(-2);
        }),
        (
            "redaction pointer without a slash",
            "/redactions/0/pointer",
            |m| {
                m["redactions"] =
                    json!([{"path": "site/settings/general.json", "pointer": "password"}]);
                m["stats"]["redactions"] = json!(1);
            },
        ),
        ("stats missing", "", |m| {
            m.as_object_mut().unwrap().remove("stats");
        }),
        ("entries not an array", "/entries", |m| {
            m["entries"] = json!({});
        }),
    ]
}

#[test]
fn manifest_schema_violations_are_refused() {
    let mut cases: Vec<Case> = schema_violations()
        .into_iter()
        .map(|(name, _, edit)| {
            Case::new(name, with_manifest(edit), Code::ManifestSchema).at("manifest.json")
        })
        .collect();
    // A listed path that is not under site/ (its entry is then also unlisted and missing).
    cases.push(
        Case::new(
            "listed path outside site/",
            with_manifest(|m| m["entries"][0]["path"] = json!("files/readme.txt")),
            Code::ManifestSchema,
        )
        .at("manifest.json"),
    );
    each(cases, refused);
}

#[test]
fn manifest_schema_findings_carry_the_json_pointer() {
    let cases = schema_violations()
        .into_iter()
        .filter(|(_, pointer, _)| !pointer.is_empty())
        .map(|(name, pointer, edit)| {
            Case::new(name, with_manifest(edit), Code::ManifestSchema).saying(pointer)
        })
        .collect();
    each(cases, refused);
}

#[test]
fn other_major_versions_are_refused() {
    let version = |v: &'static str| with_manifest(move |m| m["format_version"] = json!(v));
    let cases = [
        ("2.0", "newer"),
        ("10.3", "newer"),
        ("0.9", "older"),
        ("0.0", "older"),
    ];
    each(
        cases
            .into_iter()
            .map(|(v, relation)| {
                Case::new(
                    format!("format_version {v}"),
                    version(v),
                    Code::UnsupportedVersion,
                )
                .at("manifest.json")
                .saying(relation)
            })
            .collect(),
        refused,
    );
}

#[test]
fn another_major_version_skips_the_version_1_checks() {
    // A 2.0 manifest of a shape version 1 does not know, and no checksums.sha256: only
    // the version is reported (§13.5 check 31).
    let payload = Payload::baseline();
    let manifest = json!({
        "format": "sitepack",
        "format_version": "2.0",
        "created": 1_795_336_200,
        "contents": {"site/files/readme.txt": {"bytes": 21}},
    });
    let mut zip = payload.zip_with(&manifest);
    zip.remove("checksums.sha256");
    each(
        vec![
            Case::new("2.0 manifest", zip.to_bytes(), Code::UnsupportedVersion).at("manifest.json"),
        ],
        refused_alone,
    );
}

#[test]
fn unreadable_manifests_are_refused() {
    let payload = Payload::baseline();
    let manifest = manifest_bytes(&payload.manifest());
    let with_manifest_bytes = |bytes: Vec<u8>| {
        payload
            .zip_with_metadata(payload.checksums(), bytes)
            .to_bytes()
    };
    let text = String::from_utf8(manifest.clone()).unwrap();
    let mut not_utf8 = manifest.clone();
    not_utf8[text.find("Test site").unwrap()] = 0xff;
    let mut without = baseline();
    without.remove("manifest.json");
    let mut renamed = baseline();
    renamed.entry_mut("manifest.json").name = b"Manifest.json".to_vec();
    each(
        vec![
            Case::new(
                "no manifest.json",
                without.to_bytes(),
                Code::ManifestMissing,
            ),
            Case::new("Manifest.json", renamed.to_bytes(), Code::ManifestMissing),
            Case::new(
                "byte order mark",
                with_manifest_bytes([b"\xef\xbb\xbf".as_slice(), &manifest].concat()),
                Code::ManifestInvalidJson,
            ),
            Case::new(
                "a repeated key",
                with_manifest_bytes(
                    text.replacen(
                        "\"format\": \"sitepack\",",
                        "\"format\": \"sitepack\",\n  \"format\": \"sitepack\",",
                        1,
                    )
                    .into_bytes(),
                ),
                Code::ManifestInvalidJson,
            ),
            Case::new(
                "two JSON values",
                with_manifest_bytes([manifest.as_slice(), b"{}\n"].concat()),
                Code::ManifestInvalidJson,
            ),
            Case::new(
                "cut short",
                with_manifest_bytes(manifest[..manifest.len() / 2].to_vec()),
                Code::ManifestInvalidJson,
            ),
            Case::new(
                "not UTF-8",
                with_manifest_bytes(not_utf8),
                Code::ManifestInvalidJson,
            ),
        ],
        refused,
    );
}

#[test]
fn manifest_over_64_mib_is_refused() {
    let payload = Payload::baseline();
    let mut manifest = manifest_bytes(&payload.manifest());
    manifest.resize(64 << 20 | 1, b' ');
    each(
        vec![
            Case::new(
                "64 MiB + 1 manifest",
                payload
                    .zip_with_metadata(payload.checksums(), manifest)
                    .to_bytes(),
                Code::ManifestTooLarge,
            )
            .at("manifest.json"),
        ],
        refused,
    );
}

#[test]
fn entry_listed_twice_is_refused() {
    let bytes = with_manifest(|m| {
        let readme = manifest_entry(m, README).clone();
        m["entries"].as_array_mut().unwrap().push(readme);
    });
    each(
        vec![
            Case::new("readme listed twice", bytes, Code::ListedTwice)
                .at_one_of(&[README, "manifest.json"]),
        ],
        refused,
    );
}

#[test]
fn unknown_fields_and_wrong_stats_are_warnings() {
    each(
        vec![
            Case::new(
                "unknown top-level field",
                with_manifest(|m| m["compression_hint"] = json!("zstd")),
                Code::UnknownField,
            ),
            Case::new(
                "unknown entry field",
                with_manifest(|m| m["entries"][0]["mode"] = json!(420)),
                Code::UnknownField,
            ),
            Case::new(
                "tabs miscounted",
                with_manifest(|m| m["stats"]["tabs"] = json!(7)),
                Code::StatsMismatch,
            ),
        ],
        warned,
    );
}
