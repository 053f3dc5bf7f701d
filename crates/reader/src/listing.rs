//! The manifest against the archive (docs/FORMAT.md §13.5–13.8): the manifest is read,
//! every entry is listed and present, `checksums.sha256` agrees, `site.json` names the
//! manifest's site, and every entry lies in the declared scope.

use std::collections::HashMap;
use std::io::{self, Read};

use sitepack_format::{
    CHECKSUMS_NAME, ContentKind, Entry, MANIFEST_NAME, Manifest, PAYLOAD_DIR, SecretPolicy,
    Selection, SiteConfig, classify, find_credentials, validate_site_config,
};

use crate::container::Record;
use crate::content::SHAPE_ADVICE;
use crate::database;
use crate::entry_stream::EntryStream;
use crate::finding::{Code, Findings};
use crate::manifest::{self, MAX_MANIFEST_BYTES, ManifestOutcome};
use crate::source::ReadAt;

/// Reads the whole of a small entry (at most `max` bytes; `None` past that).
pub(crate) fn read_small(
    file: &dyn ReadAt,
    record: &Record,
    max: u64,
) -> io::Result<Option<Vec<u8>>> {
    let mut stream = EntryStream::new(file, record)?;
    let mut bytes = Vec::new();
    match (&mut stream).take(max + 1).read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e)
            if e.kind() == io::ErrorKind::InvalidData
                || e.kind() == io::ErrorKind::UnexpectedEof =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

pub(crate) fn read_manifest(
    file: &dyn ReadAt,
    record: Option<&Record>,
    findings: &mut Findings,
) -> io::Result<ManifestOutcome> {
    let Some(record) = record else {
        findings.archive(
            Code::ManifestMissing,
            "there is no manifest.json: this is not a sitepack archive, or it is damaged",
        );
        return Ok(ManifestOutcome::Invalid);
    };
    if !record.readable() {
        return Ok(ManifestOutcome::Invalid);
    }
    let too_large = |findings: &mut Findings| {
        findings.entry(
            Code::ManifestTooLarge,
            MANIFEST_NAME,
            "manifest.json is larger than 64 MiB; sitepack does not read it",
        );
        Ok(ManifestOutcome::Invalid)
    };
    if record.uncompressed > MAX_MANIFEST_BYTES {
        return too_large(findings);
    }
    match read_small(file, record, MAX_MANIFEST_BYTES)? {
        Some(bytes) => Ok(manifest::check(&bytes, findings)),
        // Corrupt data is reported by the data pass.
        None if record.uncompressed == MAX_MANIFEST_BYTES => too_large(findings),
        None => Ok(ManifestOutcome::Invalid),
    }
}

/// Completeness, checksums, site identity and scope: the manifest against the entries.
/// Returns the archive's `site.json` when it is valid.
pub(crate) fn check_against_manifest(
    file: &dyn ReadAt,
    manifest: &Manifest,
    records: &[Record],
    files: &HashMap<&[u8], &Record>,
    findings: &mut Findings,
) -> io::Result<Option<SiteConfig>> {
    manifest::check_listing(manifest, findings);
    let listed = manifest::listed(manifest);
    let database = database::is_database(manifest);
    for record in records {
        let name = record.name();
        let accepted = if record.is_directory() {
            name.is_some_and(|n| n == "site/" || n.starts_with("site/"))
        } else {
            name.is_some_and(|n| {
                n == MANIFEST_NAME || n == CHECKSUMS_NAME || listed.contains_key(n)
            })
        };
        if !accepted {
            findings.entry(
                Code::UnlistedEntry,
                record.display(),
                "the manifest does not list this entry, so nothing vouches for it; do not trust this archive",
            );
        }
    }
    for entry in &manifest.entries {
        match files.get(entry.path.as_str().as_bytes()) {
            None => findings.entry(
                Code::MissingEntry,
                entry.path.as_str(),
                "the manifest lists this entry but the archive does not hold it: the archive is incomplete",
            ),
            Some(record) if record.uncompressed != entry.size => findings.entry(
                Code::SizeMismatch,
                entry.path.as_str(),
                format!(
                    "the manifest says {} bytes but the archive declares {}",
                    entry.size, record.uncompressed
                ),
            ),
            Some(_) => {}
        }
        check_entry_place(manifest, database, entry, findings);
    }
    check_checksums(
        file,
        manifest,
        files.get(CHECKSUMS_NAME.as_bytes()).copied(),
        findings,
    )?;
    manifest::check_stats(manifest, findings);
    let site = check_site(file, manifest, files, findings)?;
    check_credentials_outside_contents(manifest, site.as_ref(), findings);
    Ok(site)
}

/// Credential shapes in what travels besides the payload's contents: entry names, the
/// manifest's redaction pointers and the label (docs/FORMAT.md §13.9, check 51).
fn check_credentials_outside_contents(
    manifest: &Manifest,
    site: Option<&SiteConfig>,
    findings: &mut Findings,
) {
    let policy = site
        .and_then(|s| SecretPolicy::new(s.secrets.as_ref()).ok())
        .unwrap_or_default();
    // A name travels as it is: one that holds a credential is a credential in the archive.
    for entry in &manifest.entries {
        let Some(site_path) = entry.path.strip_prefix(PAYLOAD_DIR) else {
            continue;
        };
        let mut reported: Vec<&str> = Vec::new();
        for found in find_credentials(site_path.as_str().as_bytes()) {
            if reported.contains(&found.shape) || policy.allows_credential(&site_path, &found.value)
            {
                continue;
            }
            reported.push(found.shape);
            findings.entry(
                Code::CredentialShape,
                entry.path.as_str(),
                format!(
                    "the entry's name contains something shaped like {}; {SHAPE_ADVICE}",
                    found.shape
                ),
            );
        }
    }
    // The manifest's redaction pointers name removed members, whose names can be
    // credentials.
    let mut reported: Vec<&str> = Vec::new();
    for redaction in &manifest.redactions {
        let site_path = redaction
            .path
            .strip_prefix(PAYLOAD_DIR)
            .unwrap_or_else(|| redaction.path.clone());
        for found in find_credentials(redaction.pointer.as_bytes()) {
            if reported.contains(&found.shape) || policy.allows_credential(&site_path, &found.value)
            {
                continue;
            }
            reported.push(found.shape);
            findings.entry(
                Code::CredentialShape,
                MANIFEST_NAME,
                format!(
                    "the redaction pointer {} contains something shaped like {}; {SHAPE_ADVICE}",
                    redaction.pointer, found.shape
                ),
            );
        }
    }
    if let Some(label) = &manifest.label {
        let mut reported: Vec<&str> = Vec::new();
        for found in find_credentials(label.as_bytes()) {
            if reported.contains(&found.shape) || policy.allows_credential_value(&found.value) {
                continue;
            }
            reported.push(found.shape);
            findings.entry(
                Code::CredentialShape,
                MANIFEST_NAME,
                format!(
                    "the label contains something shaped like {}; if it is a real credential, rotate it",
                    found.shape
                ),
            );
        }
    }
}

/// An entry's area, scope and `records` (docs/FORMAT.md §13.8). In a database archive
/// (`database`), what is under `site/db/` belongs to every scope and its `records` are the
/// database checks' (§15.7).
fn check_entry_place(manifest: &Manifest, database: bool, entry: &Entry, findings: &mut Findings) {
    let name = entry.path.as_str();
    let site_path = entry.path.strip_prefix(PAYLOAD_DIR);
    let Some((site_path, area)) =
        site_path.and_then(|site_path| classify(&site_path).map(|area| (site_path, area)))
    else {
        findings.entry(
            Code::OutOfScope,
            name,
            "sitepack's own state (site/.sitepack/) is never archived; do not restore this archive",
        );
        return;
    };
    if area.kind() != entry.area {
        findings.entry(
            Code::AreaMismatch,
            name,
            format!(
                "the manifest says area {:?} but the path is in area {:?}",
                entry.area,
                area.kind()
            ),
        );
    }
    if database && database::in_db_dir(site_path.as_str()) {
        return;
    }
    if manifest.scope.selects(&area, manifest.options) == Selection::Excluded {
        findings.entry(
            Code::OutOfScope,
            name,
            format!(
                "the archive's scope is {} (files: {}), which does not include this entry; restoring it would change more than the scope says",
                manifest.scope, manifest.options.files
            ),
        );
    }
    let collection = ContentKind::of(&site_path, &area).has_records();
    if collection != entry.records.is_some() {
        let what = if collection {
            "a collection must state its number of records"
        } else {
            "only collections state a number of records"
        };
        findings.entry(
            Code::RecordCountMismatch,
            name,
            format!("{what} in the manifest"),
        );
    }
}

fn check_checksums(
    file: &dyn ReadAt,
    manifest: &Manifest,
    record: Option<&Record>,
    findings: &mut Findings,
) -> io::Result<()> {
    let Some(record) = record else {
        findings.archive(
            Code::ChecksumsMissing,
            "there is no checksums.sha256: the archive is incomplete or was not made by sitepack",
        );
        return Ok(());
    };
    if !record.readable() {
        return Ok(());
    }
    let expected = manifest::checksums_text(manifest);
    if read_small(file, record, expected.len() as u64)?.as_deref() != Some(expected.as_slice()) {
        findings.entry(
            Code::ChecksumsMismatch,
            CHECKSUMS_NAME,
            "checksums.sha256 does not match the manifest's entries, so `sha256sum -c` would check something else; the archive was altered",
        );
    }
    Ok(())
}

fn check_site(
    file: &dyn ReadAt,
    manifest: &Manifest,
    files: &HashMap<&[u8], &Record>,
    findings: &mut Findings,
) -> io::Result<Option<SiteConfig>> {
    let name = "site/site.json";
    let mismatch = |findings: &mut Findings, what: String| {
        findings.entry(
            Code::SiteMismatch,
            name,
            format!("{what}; the archive does not describe one site consistently"),
        );
    };
    let listed = manifest.entries.iter().any(|e| e.path.as_str() == name);
    let Some(record) = files.get(name.as_bytes()).filter(|_| listed) else {
        mismatch(findings, "site/site.json is not in the archive".to_owned());
        return Ok(None);
    };
    if !record.readable() {
        return Ok(None);
    }
    let Some(bytes) = read_small(file, record, MAX_MANIFEST_BYTES)? else {
        return Ok(None);
    };
    let Ok(value) = sitepack_format::parse_site_json(&bytes) else {
        // Reported as INVALID_JSON by the content checks.
        return Ok(None);
    };
    match validate_site_config(&value) {
        Ok(site) => {
            if site.identity() != manifest.site {
                mismatch(
                    findings,
                    format!(
                        "site.json says site `{}` ({}, {}) but the manifest says `{}` ({}, {})",
                        site.id,
                        site.name,
                        site.url,
                        manifest.site.id,
                        manifest.site.name,
                        manifest.site.url
                    ),
                );
            }
            Ok(Some(site))
        }
        Err(e) => {
            mismatch(findings, format!("site.json is not valid: {e}"));
            Ok(None)
        }
    }
}
