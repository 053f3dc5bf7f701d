//! `manifest.json` and `checksums.sha256` (docs/FORMAT.md §13.5–13.6): parsed strictly,
//! checked against the schema and the type rules, and compared with the entries.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sitepack_format::database::DATABASE_FORMAT_VERSION;
use sitepack_format::{
    Area, AreaKind, FORMAT_VERSION, FormatError, FormatVersion, Manifest, ModuleItem, PAYLOAD_DIR,
    Scope, Stats, classify, validate_manifest_bytes,
};

use crate::finding::{Code, Findings};

/// The largest manifest a reader accepts (64 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// What reading the manifest gave.
pub(crate) enum ManifestOutcome {
    /// A v1 manifest, with its findings (schema violations make it `Invalid`).
    Read(Box<Manifest>),
    /// Another major version: version-1 checks do not apply.
    OtherVersion,
    /// Unusable (findings say why).
    Invalid,
}

/// The one field read before deciding how to read the rest.
#[derive(serde::Deserialize)]
struct Header {
    format_version: Option<Value>,
}

/// Parses and checks the manifest bytes.
pub(crate) fn check(bytes: &[u8], findings: &mut Findings) -> ManifestOutcome {
    let name = sitepack_format::MANIFEST_NAME;
    let invalid_json = |findings: &mut Findings, what: String| {
        findings.entry(
            Code::ManifestInvalidJson,
            name,
            format!("{what}; the manifest must be one UTF-8 JSON object, so this archive is damaged or was not made by sitepack"),
        );
        ManifestOutcome::Invalid
    };
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return invalid_json(findings, "it starts with a byte-order mark".to_owned());
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return invalid_json(findings, format!("it is not UTF-8 ({e})"));
    }
    if let Err(e) = sitepack_format::check_json(bytes) {
        return invalid_json(findings, e.to_string());
    }
    // Only the version first; the rest is checked without a JSON tree of the whole
    // manifest, whose size grows with the number of entries.
    let header: Header = match serde_json::from_slice(bytes) {
        Ok(header) => header,
        Err(e) if e.is_data() => Header {
            format_version: None,
        },
        Err(e) => return invalid_json(findings, format!("it is not valid JSON ({e})")),
    };
    if let Some(version) = header.format_version.as_ref().and_then(Value::as_str)
        && let Ok(version) = version.parse::<FormatVersion>()
        && version.major != FORMAT_VERSION.major
    {
        let relation = if version.major > FORMAT_VERSION.major {
            "newer"
        } else {
            "older"
        };
        findings.entry(
            Code::UnsupportedVersion,
            name,
            format!(
                "made by a {relation} sitepack (format {version}); this sitepack reads format {}.x: use a sitepack release that reads format {version}",
                FORMAT_VERSION.major
            ),
        );
        return ManifestOutcome::OtherVersion;
    }
    let violations = match validate_manifest_bytes(bytes) {
        Ok(violations) => violations,
        Err(e) => return invalid_json(findings, format!("it is not valid JSON ({e})")),
    };
    if !violations.is_empty() {
        for violation in violations {
            findings.entry(
                Code::ManifestSchema,
                name,
                format!("{violation} (schema/manifest.schema.json)"),
            );
        }
        return ManifestOutcome::Invalid;
    }
    match Manifest::from_json(bytes) {
        Ok(parsed)
            if matches!(parsed.manifest.scope, Scope::Table(_))
                && parsed.manifest.format_version < DATABASE_FORMAT_VERSION =>
        {
            findings.entry(
                Code::ManifestSchema,
                name,
                format!(
                    "at /scope: the scope kind `table` is format {DATABASE_FORMAT_VERSION}, but the manifest says format {}; the archive was altered or made by a faulty writer",
                    parsed.manifest.format_version
                ),
            );
            ManifestOutcome::Invalid
        }
        Ok(parsed) => {
            for field in parsed.unknown_fields {
                findings.entry(
                    Code::UnknownField,
                    name,
                    format!("`{field}` is not known to this sitepack (made by a newer minor version?); it was ignored"),
                );
            }
            ManifestOutcome::Read(Box::new(parsed.manifest))
        }
        Err(FormatError::ManifestType { pointer, message }) => {
            findings.entry(
                Code::ManifestSchema,
                name,
                format!("at {pointer}: {message} (the type rules of docs/FORMAT.md §10)"),
            );
            ManifestOutcome::Invalid
        }
        Err(e) => {
            findings.entry(Code::ManifestSchema, name, e.to_string());
            ManifestOutcome::Invalid
        }
    }
}

/// Checks the entries against each other: each path listed once.
pub(crate) fn check_listing(manifest: &Manifest, findings: &mut Findings) {
    let mut seen = HashSet::new();
    for entry in &manifest.entries {
        if !seen.insert(entry.path.as_str()) {
            findings.entry(
                Code::ListedTwice,
                entry.path.as_str(),
                "the manifest lists this path twice; the archive is damaged or was not made by sitepack",
            );
        }
    }
}

/// The exact `checksums.sha256` text the manifest implies (docs/FORMAT.md §9).
pub(crate) fn checksums_text(manifest: &Manifest) -> Vec<u8> {
    let mut text = Vec::new();
    for entry in &manifest.entries {
        text.extend_from_slice(format!("{}  {}\n", entry.sha256, entry.path).as_bytes());
    }
    text
}

/// Recomputes `stats` from `entries` and `redactions`; a warning lists what differs.
pub(crate) fn check_stats(manifest: &Manifest, findings: &mut Findings) {
    let mut stats = Stats {
        entries: manifest.entries.len() as u64,
        redactions: manifest.redactions.len() as u64,
        ..Stats::default()
    };
    let mut modules = HashSet::new();
    for entry in &manifest.entries {
        stats.bytes = stats.bytes.saturating_add(entry.size);
        match entry.area {
            AreaKind::Tab => stats.tabs += 1,
            AreaKind::User => stats.users += 1,
            AreaKind::Files | AreaKind::UserFiles => stats.files += 1,
            AreaKind::Other => stats.other += 1,
            AreaKind::Module => {
                let area = entry
                    .path
                    .strip_prefix(PAYLOAD_DIR)
                    .as_ref()
                    .and_then(classify);
                if let Some(Area::Module { module, item }) = area {
                    match item {
                        ModuleItem::Collection => {
                            stats.collections += 1;
                            stats.records =
                                stats.records.saturating_add(entry.records.unwrap_or(0));
                        }
                        ModuleItem::Document => stats.documents += 1,
                        ModuleItem::File => stats.module_files += 1,
                    }
                    modules.insert(module);
                }
            }
            AreaKind::Site => {}
        }
    }
    stats.modules = modules.len() as u64;
    let declared = serde_json::to_value(&manifest.stats).unwrap_or_default();
    let computed = serde_json::to_value(&stats).unwrap_or_default();
    let differing: Vec<String> = computed
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, value)| declared.get(key.as_str()) != Some(value))
        .map(|(key, value)| {
            format!(
                "{key} is {value}, not {}",
                declared.get(key.as_str()).unwrap_or(&Value::Null)
            )
        })
        .collect();
    if !differing.is_empty() {
        findings.entry(
            Code::StatsMismatch,
            sitepack_format::MANIFEST_NAME,
            format!(
                "the manifest's stats are off: {}; the recomputed counts are shown",
                differing.join(", ")
            ),
        );
    }
}

/// Paths listed in the manifest, by name.
pub(crate) fn listed(manifest: &Manifest) -> HashMap<&str, usize> {
    manifest
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_str(), i))
        .collect()
}
